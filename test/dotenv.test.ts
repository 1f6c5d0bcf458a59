import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDotenv } from '../engine/load/dotenv.js';
import { StackError } from '../engine/errors.js';

const parse = (text: string, env: Record<string, string> = {}) => Object.fromEntries(parseDotenv(text, '.env', (n) => env[n]));

test('plain, exported, commented and empty values', () => {
  assert.deepEqual(parse('A=1\nexport B=two\n# comment\n\nC=\nD=x # trailing\nE=a#b\n'), { A: '1', B: 'two', C: '', D: 'x', E: 'a#b' });
});

test('single quotes are literal, double quotes unescape and interpolate', () => {
  assert.deepEqual(parse(`A='$HOME\\n'\nB="x\\ny"\nC="\${A}-\${H}"`, { H: 'h' }), { A: '$HOME\\n', B: 'x\ny', C: '$HOME\\n-h' });
});

test('values may span lines inside quotes, and line numbers continue after them', () => {
  const text = 'KEY="line1\nline2"\nNEXT=ok\n1BAD=x\n';
  assert.throws(
    () => parse(text),
    (e: unknown) => e instanceof StackError && e.location?.line === 4 && /1BAD/.test(e.message),
  );
  assert.deepEqual(parse('KEY="line1\nline2"\nNEXT=ok'), { KEY: 'line1\nline2', NEXT: 'ok' });
});

test('unquoted values interpolate earlier keys and the environment; a bare key reads the environment', () => {
  assert.deepEqual(parse('A=1\nB=${A}-${OUTER:-d}\nOUTER\nMISSING\n', { OUTER: 'o' }), { A: '1', B: '1-o', OUTER: 'o', MISSING: undefined });
});
