#!/usr/bin/env node
// Starts the CLI. Kept tiny: everything else is loaded by the command that needs it.
// CommonJS (bin/package.json): a read command run from the bundle never starts Node's ES module
// loader (about 10 ms of a 100 ms start); every other command imports dist/cli/main.js.
'use strict';
const path = require('node:path');

// bin/cmmc-db (the command npm installs) hands NODE_EXTRA_CA_CERTS over as CMMC_NODE_EXTRA_CA_CERTS,
// so that Node does not parse the file at start (see there). The programs this one starts get it
// back as it was; this process adds its certificates to a TLS session that is checked against
// Node's default certificates (src/db/driver.ts, which reads this mark).
const deferredCa = process.env.CMMC_NODE_EXTRA_CA_CERTS;
if (deferredCa !== undefined) {
  delete process.env.CMMC_NODE_EXTRA_CA_CERTS;
  if (deferredCa) {
    process.env.NODE_EXTRA_CA_CERTS = deferredCa;
    globalThis[Symbol.for('cmmc-db.deferredExtraCaCerts')] = deferredCa;
  }
}


const DIST = path.join(__dirname, '..', 'dist');

/**
 * Settles once every write made so far to each stream is done. A pipe whose reader is slower than
 * us (`| jq`, `| psql`) holds at most 64 KiB; Node queues the rest, and process.exit() would drop
 * it. A write's callback comes after those of the writes before it, so an empty write is the mark.
 */
function flushed(...streams) {
  return Promise.all(streams.map((stream) => (stream.writableLength === 0 ? undefined : new Promise((resolve) => stream.write('', resolve)))));
}

/**
 * A write to stdout that failed for another reason than a closed pipe: a redirection to a full disk
 * (`cmmc-db schema dump --stdout > schema.sql`), a failing device. It printed Node's stack trace.
 * Said in one line on stderr; the command itself goes on to its end (its work is not cut short
 * midway, an upgrade still commits or rolls back as a whole) and exits 1, since its output is lost.
 */
let stdoutFailed = false;
function stdoutFailure(err) {
  if (!stdoutFailed) {
    stdoutFailed = true;
    // Also when the failure is told after the command returned, or it exits on its own (--help).
    process.on('exit', (code) => {
      if (code === 0) process.exitCode = 1;
    });
    const what = String(err.message ?? err).replace(/, write$/, '');
    try {
      require('node:fs').writeSync(2, `error: the output cannot be written (${what}) — free space where standard output goes, or send it elsewhere\n`);
    } catch {
      // stderr is gone too: the exit code says it
    }
  }
}

/** Set once the streams' error handlers are attached (process.stdout then exists; --version never makes it). */
let streamsWatched = false;

/**
 * The exit code, 1 when the command's output could not be written (see stdoutFailure); the
 * command's own failure code stands. A write that failed just now is told by the stream's `errored`
 * before its 'error' event comes (that event waits for the microtasks this exit runs in).
 */
function exitCodeOf(code) {
  if (streamsWatched && !stdoutFailed && process.stdout.errored && process.stdout.errored.code !== 'EPIPE') stdoutFailure(process.stdout.errored);
  return code === 0 && stdoutFailed ? 1 : code;
}

/**
 * What commander prints for --version, without loading the program (a third of a cold start), nor
 * Node's stream for stdout (setting up process.stdout costs as much again as the rest of this
 * file): one write(2). Returns the exit code.
 */
function printVersion() {
  const fs = require('node:fs');
  const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  try {
    fs.writeSync(1, `${version}\n`);
  } catch (err) {
    if (err.code === 'EPIPE') return 0; // `cmmc-db --version | true`: not an error
    if (err.code === 'EAGAIN') return undefined; // a full non-blocking pipe: the stream waits for it
    stdoutFailure(err);
    return 1;
  }
  return 0;
}

async function main(args) {
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    const code = printVersion();
    if (code !== undefined) return code;
  }
  // `cmmc-db history | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    stdoutFailure(err);
  });
  streamsWatched = true;
  process.stderr.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // Nowhere left to say it; the command's own exit code stands.
  });
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${require('../package.json').version}\n`);
    return 0;
  }
  // The commands run from a bundle with V8's code cache (src/cli/bundle-loader.ts; BUNDLES in
  // src/cli/main.ts, which this list must equal): their time is mostly the cold start. A cheap
  // look at argv first, so that other commands load nothing more; the bundle itself checks that
  // the command really is one of its own (else the modules in dist/ run it).
  const BUNDLE_OF = { current: 'read', history: 'read', backup: 'backup', seed: 'seed', upgrade: 'migrate', downgrade: 'migrate', stamp: 'migrate' };
  const bundle = BUNDLE_OF[args.find((arg) => Object.hasOwn(BUNDLE_OF, arg))];
  if (bundle) {
    let loader;
    try {
      loader = require(path.join(DIST, 'cli-bundle-loader.cjs'));
    } catch {
      loader = undefined; // not bundled (tsc alone): the modules in dist/ are the CLI
    }
    const code = loader && (await loader.runBundled(process.argv, path.join(DIST, `cli-bundle-${bundle}.cjs`), bundle));
    // Done, its sessions sent their Terminate: exit once stdout and stderr have handed everything
    // to the system, rather than wait for the server to close its side of each socket.
    if (code !== undefined) await flushed(process.stdout, process.stderr).then(() => process.exit(exitCodeOf(code)));
  }
  const { run } = await import(require('node:url').pathToFileURL(path.join(DIST, 'cli', 'main.js')).href);
  return run(process.argv);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = exitCodeOf(code);
});
