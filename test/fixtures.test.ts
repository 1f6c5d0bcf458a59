/**
 * Every project under test/fixtures/valid loads and shows the facts in its expect.json;
 * every project under test/fixtures/invalid fails with the errors in its expect.json,
 * each at its file:line:col. See test/fixtures/README.md for the formats.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadProject, StackError, StackErrors, toComposeDocument } from '../engine/index.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

interface ValidExpect {
  files?: string[];
  env?: Record<string, string>;
  profiles?: string[];
  services: string[];
  facts: { path: string; equals: unknown }[];
}
interface InvalidExpect {
  files?: string[];
  env?: Record<string, string>;
  errors: { file: string; line: number; col: number; includes: string[] }[];
}

function dirs(kind: string): string[] {
  const root = path.join(FIXTURES, kind);
  return existsSync(root) ? readdirSync(root).filter((d) => existsSync(path.join(root, d, 'expect.json'))).sort() : [];
}

function read<T>(dir: string): T {
  return JSON.parse(readFileSync(path.join(dir, 'expect.json'), 'utf8')) as T;
}

function load(dir: string, e: { files?: string[]; env?: Record<string, string>; profiles?: string[] }) {
  return loadProject({ cwd: dir, env: { HOME: '/root', ...e.env }, ...(e.files && { files: e.files }), ...(e.profiles && { profiles: e.profiles }) });
}

function at(value: unknown, dotted: string): unknown {
  let v = value;
  for (const seg of dotted.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

function withDir(v: unknown, dir: string): unknown {
  if (typeof v === 'string') return v.replaceAll('<DIR>', dir);
  if (Array.isArray(v)) return v.map((x) => withDir(x, dir));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withDir(x, dir)]));
  return v;
}

describe('valid fixtures load and normalize', () => {
  for (const name of dirs('valid')) {
    test(name, () => {
      const dir = path.join(FIXTURES, 'valid', name);
      const expect = read<ValidExpect>(dir);
      const { project } = load(dir, expect);
      assert.deepEqual(Object.keys(project.services).sort(), [...expect.services].sort());
      // facts are what `stack config` shows: the model in compose's document form
      const doc = toComposeDocument(project);
      for (const fact of expect.facts) {
        assert.deepEqual(at(doc, fact.path), withDir(fact.equals, dir), fact.path);
      }
    });
  }
});

describe('invalid fixtures fail with positioned messages', () => {
  for (const name of dirs('invalid')) {
    test(name, () => {
      const dir = path.join(FIXTURES, 'invalid', name);
      const expect = read<InvalidExpect>(dir);
      let caught: unknown;
      try {
        load(dir, expect);
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof StackError || caught instanceof StackErrors, `expected a user error, got ${String(caught)}`);
      const errors = caught instanceof StackErrors ? caught.errors : [caught];
      const shown = errors.map((e) => e.format()).join('\n');
      assert.equal(errors.length, expect.errors.length, `errors reported:\n${shown}`);
      for (const want of expect.errors) {
        const match = errors.find(
          (e) =>
            e.location !== undefined &&
            path.basename(e.location.file) === path.basename(want.file) &&
            e.location.line === want.line &&
            Math.abs(e.location.col - want.col) <= (/yaml/.test(name) ? 2 : 0),
        );
        assert.ok(match, `no error at ${want.file}:${want.line}:${want.col}; reported:\n${shown}`);
        const text = match.format().toLowerCase();
        for (const s of want.includes) assert.ok(text.includes(s.toLowerCase()), `"${s}" missing from: ${match.format()}`);
      }
    });
  }
});
