import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseBytes, parseDuration } from '../engine/model/units.js';

test('Go durations parse to milliseconds', () => {
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1h2m3.5s'), 3_723_500);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('250us'), 0.25);
  for (const bad of ['', '10', 'ten', '1x', 's', '1m30']) assert.equal(parseDuration(bad), undefined, bad);
});

test('durations print in Go notation', () => {
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(10_000), '10s');
  assert.equal(formatDuration(500), '500ms');
  assert.equal(formatDuration(3_723_500), '1h2m3.5s');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(3_600_000), '1h0m0s');
});

test('byte sizes use powers of 1024', () => {
  assert.equal(parseBytes('512m'), 512 * 1024 * 1024);
  assert.equal(parseBytes('512M'), 536870912);
  assert.equal(parseBytes('1g'), 1024 ** 3);
  assert.equal(parseBytes('1.5GB'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('2k'), 2048);
  assert.equal(parseBytes('64kb'), 65536);
  assert.equal(parseBytes('100'), 100);
  assert.equal(parseBytes(4096), 4096);
  for (const bad of ['', 'm', '12q', '-1', 'lots']) assert.equal(parseBytes(bad), undefined, bad);
});
