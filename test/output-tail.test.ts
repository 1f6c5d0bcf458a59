import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { outputTail } from '../engine/runtime/output-tail.js';

const dir = mkdtempSync(path.join(tmpdir(), 'stack-output-tail-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T = '2026-01-01T00:00:00.000000000+00:00';
const log = Buffer.concat([
  Buffer.from(`${T} stdout F first\n${T} stderr P err-part \n${T} stdout P no newline \n`),
  Buffer.from(`${T} stderr F `),
  Buffer.from([0xff, 0x00, 0x20]),
  Buffer.from(`\n${T} stdout F last\n`),
]);
const file = path.join(dir, 'ctr.log');
writeFileSync(file, log);

const text = (parts: ReturnType<typeof outputTail>) => parts.map((p) => `${p.stream}:${p.data.toString('latin1')}`);

test('nothing delivered: the whole log, in order, lines rebuilt byte for byte', () => {
  assert.deepEqual(text(outputTail(file, { stdout: 0, stderr: 0 })), [
    'stdout:first\n',
    'stderr:err-part ',
    'stdout:no newline ',
    'stderr:\xff\x00 \n',
    'stdout:last\n',
  ]);
});

test('what attach delivered is skipped per stream, within a record too', () => {
  // stdout got "first\nno " (9 bytes), stderr everything
  assert.deepEqual(text(outputTail(file, { stdout: 9, stderr: 13 })), ['stdout:newline ', 'stdout:last\n']);
  assert.deepEqual(outputTail(file, { stdout: 30, stderr: 13 }), []);
});

test('no log: no tail', () => {
  assert.deepEqual(outputTail(path.join(dir, 'missing.log'), { stdout: 0, stderr: 0 }), []);
});
