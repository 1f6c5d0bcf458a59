// Build step: compiles schemas/compose.schema.json into a standalone ajv validator module,
// so `stack` does not compile the schema (tens of milliseconds) on every start.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const schema = JSON.parse(readFileSync(path.join(root, 'schemas/compose.schema.json'), 'utf8'));
const ajv = new Ajv({
  allErrors: true,
  allowUnionTypes: true,
  verbose: true,
  strict: true,
  validateFormats: false,
  code: { source: true },
  logger: { log: console.log, warn: (m) => { throw new Error(`schema: ${m}`); }, error: console.error },
});
const validate = ajv.compile(schema);
const out = path.join(root, 'dist/schemas/compose-validator.cjs');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, standaloneCode.default(ajv, validate));
