#!/usr/bin/env node
import { main } from './main.js';

// a reader that goes away (`stack ps | head`) ends the output, not in a stack trace;
// a command that handles it itself (`run` stops its container) has its own listener
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (stream.listenerCount('error') > 1) return;
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

process.exitCode = await main(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});
