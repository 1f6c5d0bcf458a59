import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import { locate, locationsOf } from '../engine/load/source-map.js';
import { parseStackYaml, Tagged } from '../engine/load/yaml-source.js';

const F = 'f.yaml';

function load(text: string): Record<string, any> {
  const docs = parseStackYaml(text, F);
  assert.equal(docs.length, 1);
  return docs[0]!.data as Record<string, any>;
}

/** `line:col` of a value (or with key: true, of its key) */
function at(root: unknown, path: (string | number)[], opts: { key?: boolean } = {}): string {
  const l = locate(root, path, opts);
  assert.ok(l, `no location for ${path.join('.')}`);
  assert.equal(l.file, F);
  return `${l.line}:${l.col}`;
}

function yamlError(text: string): StackError {
  try {
    parseStackYaml(text, F);
  } catch (e) {
    assert.ok(e instanceof StackError, `expected a StackError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

describe('parseStackYaml: positions', () => {
  test('keys and values in block style', () => {
    const d = load('# head\nservices:\n  web:\n    image: "nginx"\n    ports:\n      - 80:80\n      - 443\n    x: &a !reset v\n');
    assert.equal(at(d, ['services'], { key: true }), '2:1');
    assert.equal(at(d, ['services']), '3:3');
    assert.equal(at(d, ['services', 'web'], { key: true }), '3:3');
    assert.equal(at(d, ['services', 'web']), '4:5');
    assert.equal(at(d, ['services', 'web', 'image'], { key: true }), '4:5');
    assert.equal(at(d, ['services', 'web', 'image']), '4:12');
    assert.equal(at(d, ['services', 'web', 'ports']), '6:7');
    assert.equal(at(d, ['services', 'web', 'ports', 0]), '6:9');
    assert.equal(at(d, ['services', 'web', 'ports', 1]), '7:9');
    // properties (`&a`, `!reset`) are skipped: the position is the content's
    assert.equal(at(d, ['services', 'web', 'x']), '8:18');
    assert.equal(locationsOf(d)!.self.line, 2);
  });

  test('keys and values in flow style', () => {
    const d = load('a: {b: 1, "c": [x, {d: e}]}\nf: [ 1,\n  # note\n  two ]\n');
    assert.equal(at(d, ['a']), '1:4');
    assert.equal(at(d, ['a', 'b'], { key: true }), '1:5');
    assert.equal(at(d, ['a', 'b']), '1:8');
    assert.equal(at(d, ['a', 'c'], { key: true }), '1:11');
    assert.equal(at(d, ['a', 'c']), '1:16');
    assert.equal(at(d, ['a', 'c', 0]), '1:17');
    assert.equal(at(d, ['a', 'c', 1]), '1:20');
    assert.equal(at(d, ['a', 'c', 1, 'd']), '1:24');
    assert.equal(at(d, ['f', 0]), '2:6');
    assert.equal(at(d, ['f', 1]), '4:3');
  });

  test('nested lists of mappings', () => {
    const d = load('ports:\n- target: 80\n  published: "8080"\n- target: 443\n  protocol:\n    tcp\n');
    assert.deepEqual(d.ports, [
      { target: 80, published: '8080' },
      { target: 443, protocol: 'tcp' },
    ]);
    assert.equal(at(d, ['ports']), '2:1');
    assert.equal(at(d, ['ports', 0]), '2:3');
    assert.equal(at(d, ['ports', 1, 'target'], { key: true }), '4:3');
    assert.equal(at(d, ['ports', 1, 'target']), '4:11');
    assert.equal(at(d, ['ports', 1, 'protocol']), '6:5');
  });

  test('a value absent after `key:` is null, positioned at its key', () => {
    const d = load('volumes:\n  data:\n  logs: {}\n  cache:  # comment\nx: 1\n');
    assert.deepEqual(d.volumes, { data: null, logs: {}, cache: null });
    assert.equal(at(d, ['volumes', 'data']), '2:3');
    assert.equal(at(d, ['volumes', 'cache']), '4:3');
    assert.equal(at(d, ['volumes', 'logs']), '3:9');
  });
});

describe('parseStackYaml: anchors and merge keys', () => {
  test('every alias is an independent copy with its own positions', () => {
    const d = load('x-env: &env\n  A: "1"\n  list: [a]\nservices:\n  one:\n    environment: *env\n  two:\n    environment: *env\n');
    const one = d.services.one.environment;
    const two = d.services.two.environment;
    assert.deepEqual(one, { A: '1', list: ['a'] });
    assert.notEqual(one, two);
    assert.notEqual(one, d['x-env']);
    one.A = 'changed';
    one.list.push('b');
    assert.deepEqual(two, { A: '1', list: ['a'] });
    assert.deepEqual(d['x-env'], { A: '1', list: ['a'] });
    // the copies carry the anchored node's positions, in records of their own
    assert.deepEqual(locationsOf(d.services.one)!.values.get('environment'), { file: F, line: 6, col: 18 });
    assert.equal(at(d, ['services', 'one', 'environment']), '2:3');
    assert.equal(at(d, ['services', 'one', 'environment', 'A']), '2:6');
    assert.equal(at(d, ['services', 'two', 'environment', 'list', 0]), '3:10');
    assert.notEqual(locationsOf(one), locationsOf(two));
    locationsOf(one)!.values.delete('A');
    assert.equal(at(d, ['services', 'two', 'environment', 'A']), '2:6');
  });

  test('`<<` merges a list of aliases: explicit keys win, then earlier sources', () => {
    const d = load(
      'x-a: &a {image: a, restart: always, user: a}\nx-b: &b {image: b, user: b, init: true}\nservices:\n  w:\n    user: me\n    <<: [*a, *b]\n',
    );
    assert.deepEqual(d.services.w, { user: 'me', image: 'a', restart: 'always', init: true });
    assert.deepEqual(Object.keys(d.services.w), ['user', 'image', 'restart', 'init']);
    assert.equal(at(d, ['services', 'w', 'user']), '5:11');
    // merged keys are positioned at the alias they came from
    assert.equal(at(d, ['services', 'w', 'image']), '6:10');
    assert.equal(at(d, ['services', 'w', 'image'], { key: true }), '6:10');
    assert.equal(at(d, ['services', 'w', 'init']), '6:14');
    d.services.w.restart = 'no';
    assert.equal(d['x-a'].restart, 'always');
  });

  test('`<<` with a single alias, block list, and a bad source', () => {
    const d = load('b: &b {x: 1}\nc: &c {x: 2, y: 2}\nm:\n  <<:\n    - *b\n    - *c\n');
    assert.deepEqual(d.m, { x: 1, y: 2 });
    assert.equal(at(d, ['m', 'y']), '6:7');
    const e = yamlError('a: &a [1]\nm:\n  <<: *a\n');
    assert.match(e.message, /merge key needs a mapping/);
    assert.deepEqual(e.location, { file: F, line: 3, col: 7 });
  });
});

describe('parseStackYaml: tags and scalars', () => {
  test('!reset and !override on scalars, sequences and mappings', () => {
    const d = load('a: !reset value\nb: !override [1, 2]\nc: !reset\n  k: v\nd: !override\n  - x\ne: !reset\nf: !override {p: q}\n');
    for (const [k, tag, value] of [
      ['a', '!reset', 'value'],
      ['b', '!override', [1, 2]],
      ['c', '!reset', { k: 'v' }],
      ['d', '!override', ['x']],
      ['e', '!reset', ''],
      ['f', '!override', { p: 'q' }],
    ] as const) {
      assert.ok(d[k] instanceof Tagged, k);
      assert.equal(d[k].tag, tag, k);
      assert.deepEqual(d[k].value, value, k);
    }
    // the tagged containers keep their positions
    assert.equal(at(d, ['b']), '2:14');
    assert.equal(locationsOf(d.b.value)!.values.get(1)!.col, 18);
    assert.equal(locationsOf(d.c.value)!.keys.get('k')!.line, 4);
  });

  test('YAML 1.1 octals for plain integers with a leading 0', () => {
    const d = load('a: 0440\nb: "0440"\nc: \'0755\'\nd: 0o17\ne: 08\nf: 0\ng: 0x1F\n');
    assert.deepEqual(d, { a: 288, b: '0440', c: '0755', d: 15, e: 8, f: 0, g: 31 });
  });

  test('YAML 1.2 core scalars; timestamps stay text', () => {
    const d = load(
      'a: yes\nb: off\nc: true\nd: False\ne: ~\nf: null\ng: 1.5\nh: .inf\ni: 2001-12-14\nj: 2001-12-14T21:59:43.10-05:00\nk: 12:30\nl: 1_000\nm:\n',
    );
    assert.deepEqual(d, {
      a: 'yes',
      b: 'off',
      c: true,
      d: false,
      e: null,
      f: null,
      g: 1.5,
      h: Number.POSITIVE_INFINITY,
      i: '2001-12-14',
      j: '2001-12-14T21:59:43.10-05:00',
      k: '12:30',
      l: '1_000',
      m: null,
    });
  });

  test('keys become strings; a __proto__ key is an ordinary key', () => {
    const d = load('80: a\ntrue: b\n~: c\n1.50: e\n__proto__: {polluted: true}\n');
    assert.deepEqual(Object.keys(d), ['80', 'true', 'null', '1.5', '__proto__']);
    assert.equal(d.null, 'c');
    assert.match(yamlError('null: a\n~: b\n').message, /duplicate key/);
    assert.equal(Object.getPrototypeOf(d), Object.prototype);
    assert.ok(Object.hasOwn(d, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(d, '__proto__')!.value, { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('mapping and list keys are refused', () => {
    for (const text of ['a: 1\n[x]: 1\n', 'a: 1\n{x: 1}: 1\n', 'a: 1\n? - x\n: 1\n']) {
      const e = yamlError(text);
      assert.match(e.message, /mapping keys must be plain values/);
      assert.equal(e.location?.line, 2, text);
    }
  });
});

describe('parseStackYaml: documents and errors', () => {
  test('each --- document is one layer; empty documents are skipped', () => {
    const docs = parseStackYaml('a: 1\n---\n# nothing here\n---\nb: [2]\n...\n', F);
    assert.deepEqual(
      docs.map((d) => d.data),
      [{ a: 1 }, { b: [2] }],
    );
    assert.equal(docs.every((d) => d.file === F), true);
    assert.equal(at(docs[1]!.data, ['b', 0]), '5:5');
    assert.deepEqual(parseStackYaml('', F), []);
    assert.deepEqual(parseStackYaml('# only a comment\n', F), []);
  });

  test('the top level must be a mapping', () => {
    for (const text of ['- a\n', 'just text\n', 'a: 1\n---\n[1]\n', '!reset {a: 1}\n']) {
      const e = yamlError(text);
      assert.equal(e.message, 'the top level of a stack file must be a mapping');
      assert.equal(e.hint, 'start the file with `services:`');
    }
  });

  test('a tab in the indentation', () => {
    const e = yamlError('services:\n  web:\n    image: x\n\trestart: always\n');
    assert.match(e.message, /^invalid YAML: /);
    assert.doesNotMatch(e.message, /\(\d+:\d+\)|\n/);
    assert.deepEqual(e.location, { file: F, line: 4, col: 1 });
    assert.equal(e.hint, 'YAML indentation must use spaces, not tabs');
  });

  test('a duplicate key', () => {
    const e = yamlError('services:\n  db:\n    environment: {}\n    image: x\n    "environment":\n      A: 1\n');
    assert.equal(e.message, 'invalid YAML: duplicate key "environment"');
    assert.deepEqual(e.location, { file: F, line: 5, col: 5 });
    assert.match(e.hint ?? '', /each key may appear once/);
  });

  test('bad indentation', () => {
    const e = yamlError('services:\n  a:\n    image: x\n   b: 1\n');
    assert.match(e.message, /^invalid YAML: /);
    assert.equal(e.location?.line, 4);
    assert.match(e.hint ?? '', /indentation/);
  });

  test('an unknown alias', () => {
    const e = yamlError('a: 1\nb: *nope\n');
    assert.equal(e.message, 'unknown YAML alias *nope');
    assert.deepEqual(e.location, { file: F, line: 2, col: 4 });
  });

  test('alias expansion is bounded', () => {
    let text = 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i <= 8; i++) text += `l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]\n`;
    const started = Date.now();
    const e = yamlError(text);
    assert.match(e.message, /YAML aliases expand to more than 1,000,000 nodes/);
    assert.ok(e.location);
    assert.ok(Date.now() - started < 5000);
    // an alias inside the node it names
    assert.match(yamlError('a: &a {b: *a}\n').message, /aliases nest too deeply/);
    // aliases of aliases of ... nest at most 100 deep
    let chain = 'a0: &a0 [x]\n';
    for (let i = 1; i <= 101; i++) chain += `a${i}: &a${i} [*a${i - 1}]\n`;
    assert.match(yamlError(chain).message, /aliases nest too deeply/);
  });
});
