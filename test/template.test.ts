import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { substitute, TemplateError } from '../engine/load/template.js';

const env: Record<string, string> = { SET: 'value', EMPTY: '', NUM: '42', B: 'bee' };
const lookup = (n: string) => env[n];
const sub = (s: string) => substitute(s, lookup).value;

describe('interpolation', () => {
  test('$VAR and ${VAR}', () => {
    assert.equal(sub('$SET'), 'value');
    assert.equal(sub('${SET}'), 'value');
    assert.equal(sub('a-${NUM}-b $SET.x'), 'a-42-b value.x');
  });

  test('unset variable without default is empty and reported', () => {
    const r = substitute('x${NOPE}y$NOPE2', lookup);
    assert.equal(r.value, 'xy');
    assert.deepEqual(r.missing, ['NOPE', 'NOPE2']);
  });

  test(':- uses the default when unset or empty, - only when unset', () => {
    assert.equal(sub('${NOPE:-d}'), 'd');
    assert.equal(sub('${EMPTY:-d}'), 'd');
    assert.equal(sub('${SET:-d}'), 'value');
    assert.equal(sub('${NOPE-d}'), 'd');
    assert.equal(sub('${EMPTY-d}'), '');
    assert.equal(sub('${SET-d}'), 'value');
  });

  test(':+ uses the alternative when set and non-empty, + when set', () => {
    assert.equal(sub('${SET:+alt}'), 'alt');
    assert.equal(sub('${EMPTY:+alt}'), '');
    assert.equal(sub('${NOPE:+alt}'), '');
    assert.equal(sub('${EMPTY+alt}'), 'alt');
    assert.equal(sub('${NOPE+alt}'), '');
  });

  test(':? and ? fail with the message', () => {
    assert.throws(() => sub('${NOPE:?must be set}'), (e: unknown) => e instanceof TemplateError && /NOPE.*must be set/.test(e.message));
    assert.throws(() => sub('${EMPTY:?no empty}'), /EMPTY is missing a value: no empty/);
    assert.equal(sub('${EMPTY?x}'), '');
    assert.throws(() => sub('${NOPE?gone}'), /gone/);
    assert.equal(sub('${SET:?x}'), 'value');
  });

  test('defaults nest and are themselves interpolated', () => {
    assert.equal(sub('${NOPE:-${B}}'), 'bee');
    assert.equal(sub('${NOPE:-${NOPE2:-deep}}'), 'deep');
    assert.equal(sub('${NOPE:-pre-${NUM}-post}'), 'pre-42-post');
    assert.equal(sub('${SET:+[${B}]}'), '[bee]');
  });

  test('$$ escapes a dollar; a lone $ stays', () => {
    assert.equal(sub('$$SET'), '$SET');
    assert.equal(sub('cost: $$5 and $1 and $ sign'), 'cost: $5 and $1 and $ sign');
    assert.equal(sub('echo $${HOME}'), 'echo ${HOME}');
  });

  test('malformed braces are errors', () => {
    assert.throws(() => sub('${SET'), /invalid interpolation format/);
    assert.throws(() => sub('${}'), /invalid interpolation format/);
    assert.throws(() => sub('${1ABC}'), /invalid interpolation format/);
    assert.throws(() => sub('${SET:x}'), /invalid interpolation format/);
  });
});
