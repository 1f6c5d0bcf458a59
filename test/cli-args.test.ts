import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOptions } from '../cli/args.js';
import { commandOptions, type OptionSpec } from '../cli/command.js';

const SPECS: OptionSpec[] = [
  { name: 'rm', type: 'boolean', description: '' },
  { name: 'detach', short: 'd', type: 'boolean', description: '' },
  { name: 'env', short: 'e', type: 'string', multiple: true, description: '' },
  { name: 'name', type: 'string', description: '' },
  { name: 'publish', short: 'p', type: 'string', multiple: true, description: '' },
];

test('not interspersed: options end at the first positional, the rest is passed on as written', () => {
  const r = parseOptions(['--rm', '-e', 'A=1', '-eB=2', '--name', 'x', '-de', 'C=3', 'svc', 'sh', '-c', 'echo --rm -e'], SPECS, 'run', { interspersed: false });
  assert.deepEqual({ ...r.values }, { rm: true, env: ['A=1', 'B=2', 'C=3'], name: 'x', detach: true });
  assert.deepEqual(r.positionals, ['svc', 'sh', '-c', 'echo --rm -e']);
  // an option's value that looks like a positional is still the value; `--` ends the options
  const dashes = parseOptions(['--name=svc', '-p', '80', '--', '--rm'], SPECS, 'run', { interspersed: false });
  assert.deepEqual({ ...dashes.values }, { name: 'svc', publish: ['80'] });
  assert.deepEqual(dashes.positionals, ['--rm']);
  // interspersed (the default), `-c` after the service is an unknown option of ours
  assert.throws(() => parseOptions(['svc', 'sh', '-c', 'x'], SPECS, 'run'), /Unknown option '-c'/);
});

test('a global short flag a command uses for itself is the command\'s', () => {
  const specs = commandOptions({ options: SPECS });
  assert.equal(specs.find((o) => o.short === 'p')!.name, 'publish');
  assert.equal(specs.filter((o) => o.short === 'p').length, 1);
  assert.equal(specs.find((o) => o.name === 'project-name')!.short, undefined);
  assert.equal(specs.find((o) => o.name === 'file')!.short, 'f');
});
