/**
 * The `stack` command as users run it: package.json's bin, the bundle under dist/bundle/
 * (the compiled modules under dist/cli/ are what the unit tests import).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: { stack: string } };

export const BIN = path.join(root, pkg.bin.stack);
