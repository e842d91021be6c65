#!/usr/bin/env node
// Starts the CLI. Kept tiny: everything else is loaded by the command that needs it.
import { readFileSync } from 'node:fs';

// `cmmc-db history | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // What commander prints for --version, without loading the program (a third of a cold start).
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  // current, history, backup and seed run from the bundle with V8's code cache
  // (src/cli/bundle-loader.ts; BUNDLED_COMMANDS in src/cli/main.ts): their time is mostly the cold start. A cheap look at argv first, so that other commands load nothing more.
  let code;
  if (['current', 'history', 'backup', 'seed'].some((name) => args.includes(name))) {
    const { runBundled } = await import('../dist/cli/bundle-loader.js');
    code = await runBundled(process.argv);
  }
  if (code === undefined) {
    const { run } = await import('../dist/cli/main.js');
    code = await run(process.argv);
  }
  process.exitCode = code;
}
