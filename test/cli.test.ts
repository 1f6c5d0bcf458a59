/** The built `stack` binary, run as a user runs it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { tmpProject } from './support/tmp-project.js';
import { BIN } from './support/cli-bin.js';


function stack(cwd: string, ...args: string[]) {
  return stackWithInput(cwd, undefined, ...args);
}

function stackWithInput(cwd: string, input: string | undefined, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: '/root' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const COMPOSE = `
services:
  web:
    image: nginx:\${TAG:-1.27}
    ports: ["8080:80"]
    depends_on:
      api: {condition: service_healthy}
  api:
    build: ./api
    volumes: [apidata:/data]
    healthcheck: {test: [CMD, "true"], interval: 1m30s}
  debug:
    image: busybox
    profiles: [debug]
volumes:
  apidata:
`;

describe('stack CLI', () => {
  const dir = tmpProject({ 'compose.yaml': COMPOSE });

  test('--help lists every command; a command has its own help', () => {
    const main = stack(dir, '--help');
    assert.equal(main.code, 0);
    assert.match(main.out, /Commands:\n\s+config\s+Validate/);
    assert.match(main.out, /--file FILE/);
    const sub = stack(dir, 'config', '--help');
    assert.equal(sub.code, 0);
    assert.match(sub.out, /Usage: stack config/);
    assert.match(sub.out, /--format FORMAT/);
    assert.equal(stack(dir, 'help', 'config').out, sub.out);
    const none = stack(dir);
    assert.equal(none.code, 2);
    assert.match(none.out, /Usage: stack/);
  });

  test('config prints the normalized model as YAML and JSON', () => {
    const y = stack(dir, 'config');
    assert.equal(y.code, 0, y.err);
    const doc = parse(y.out);
    assert.equal(doc.name, 'proj');
    assert.deepEqual(Object.keys(doc.services), ['api', 'web']);
    assert.equal(doc.services.web.image, 'nginx:1.27');
    assert.deepEqual(doc.services.web.ports, [{ mode: 'ingress', target: 80, published: '8080', protocol: 'tcp' }]);
    assert.equal(doc.services.api.healthcheck.interval, '1m30s');
    assert.equal(doc.services.api.build.context, path.join(dir, 'api'));
    assert.deepEqual(doc.volumes, { apidata: { name: 'proj_apidata' } });
    const j = stack(dir, 'config', '--format', 'json');
    assert.deepEqual(JSON.parse(j.out), doc);
  });

  test('listing flags and -q', () => {
    assert.equal(stack(dir, 'config', '--services').out, 'api\nweb\n');
    assert.equal(stack(dir, '--profile', 'debug', 'config', '--services').out, 'api\ndebug\nweb\n');
    assert.equal(stack(dir, 'config', '--volumes').out, 'apidata\n');
    assert.equal(stack(dir, 'config', '--networks').out, 'default\n');
    assert.equal(stack(dir, 'config', '--profiles').out, 'debug\n');
    assert.equal(stack(dir, 'config', '--images').out, 'proj-api\nnginx:1.27\n');
    const q = stack(dir, 'config', '-q');
    assert.deepEqual([q.code, q.out, q.err], [0, '', '']);
  });

  test('naming services selects them and their dependencies', () => {
    assert.equal(stack(dir, 'config', '--services', 'web').out, 'api\nweb\n');
    assert.equal(stack(dir, 'config', '--services', 'api').out, 'api\n');
    const bad = stack(dir, 'config', 'wbe');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /no such service: wbe\n\s+hint: did you mean "web"\?/);
  });

  test('global options work before and after the command; -o writes a file', () => {
    const other = tmpProject({ 'x.yaml': 'services:\n  only:\n    image: a\n' });
    assert.equal(stack(dir, '-f', path.join(other, 'x.yaml'), 'config', '--services').out, 'only\n');
    assert.equal(stack(dir, 'config', '--services', '-f', path.join(other, 'x.yaml'), '-p', 'named').out, 'only\n');
    const out = stack(other, '-f', 'x.yaml', 'config', '-o', 'out.yaml');
    assert.equal(out.code, 0);
    assert.equal(parse(readFileSync(path.join(other, 'out.yaml'), 'utf8')).services.only.image, 'a');
  });

  test('invalid input: every error with file:line:col, exit 1, no stack trace', () => {
    const bad = tmpProject({ 'compose.yaml': 'services:\n  web:\n    image: a\n    enviroment: [A=1]\n    ports: {80: 80}\n' });
    const r = stack(bad, 'config');
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /^error: compose\.yaml:4:5: services\.web: unknown key "enviroment"\n\s+hint: did you mean "environment"\?\n/);
    assert.match(r.err, /error: compose\.yaml:5:12: services\.web\.ports: must be a list\n/);
    assert.doesNotMatch(r.err, /\n\s+at /);
    assert.match(stack(bad, 'config', '--debug').err, /\n\s+at /);
  });

  test('usage errors name the problem and point at --help', () => {
    const opt = stack(dir, 'config', '--bogus');
    assert.equal(opt.code, 1);
    assert.match(opt.err, /error: Unknown option '--bogus'\n\s+hint: run `stack config --help`/);
    const cmd = stack(dir, 'lanch');
    assert.equal(cmd.code, 1);
    assert.match(cmd.err, /unknown command "lanch"/);
    const fmt = stack(dir, 'config', '--format', 'toml');
    assert.match(fmt.err, /unknown format "toml"/);
  });

  test('warnings go to stderr and leave stdout clean', () => {
    const w = tmpProject({ 'compose.yaml': 'version: "3.8"\nservices:\n  s:\n    image: "a${UNSET_VAR}"\n' });
    const r = stack(w, 'config', '--services');
    assert.equal(r.out, 's\n');
    assert.match(r.err, /warning: the "UNSET_VAR" variable is not set/);
    assert.match(r.err, /warning: the top-level `version` is obsolete/);
  });

  test('-f - reads standard input; --project-directory sets the base for relative paths', () => {
    const other = tmpProject({ 'ctx/Dockerfile': 'FROM scratch\n' });
    const r = stackWithInput(dir, 'services:\n  s:\n    build: ./ctx\n', '-f', '-', '--project-directory', other, 'config', '--format', 'json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.services.s.build.context, path.join(other, 'ctx'));
    assert.equal(doc.name, path.basename(other));
    const bad = stackWithInput(dir, 'services:\n  s:\n    imag: x\n', '-f', '-', 'config');
    assert.match(bad.err, /^error: \(stdin\):3:5: services\.s: unknown key "imag"/);
  });

  test('--version', () => {
    assert.match(stack(dir, '--version').out, /^stack \d+\.\d+\.\d+\n$/);
  });
});
