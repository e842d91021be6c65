#!/usr/bin/env node
// Starts the CLI. Kept tiny: everything else is loaded by the command that needs it.
import { run } from '../dist/cli/main.js';

// `cmmc-db history | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await run(process.argv);
