#!/usr/bin/env node
/**
 * The pool's recovery after a server restart: a throwaway cluster (initdb in a temporary folder,
 * never the shared server) serves a pool opened through the connection seam (openDatabase); the
 * cluster is restarted (`pg_ctl restart -m fast`, which waits until it accepts connections) and the
 * pool is asked a query every 50 ms. Printed: the time from the server accepting connections again
 * to the pool's first answer, and from the start of the restart (median of the restarts).
 *
 *   npm run build && node bench/reconnect.mjs [--runs 5] [--quick] [--json]
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Report, ROOT, RUNS, fmtMs, median } from './lib.mjs';

const asRoot = process.getuid?.() === 0;
const major = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))[0];
const bin = (name) => path.join('/usr/lib/postgresql', major, 'bin', name);
const pg = (cmd, args) => execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: 'ignore' });

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const report = new Report(`pool recovery after a server restart, median of ${RUNS} restarts`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bench-cluster-'));
chmodSync(dir, 0o755);
const data = path.join(dir, 'data');
if (asRoot) execFileSync('chown', ['postgres', dir]);
pg(bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
const port = await freePort();
const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
pg(bin('pg_ctl'), ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', opts, 'start']);
const { openDatabase } = await import(path.join(ROOT, 'dist', 'db', 'connection.js'));
const { resolveConfig } = await import(path.join(ROOT, 'dist', 'config', 'config.js'));
let handle;
try {
  handle = await openDatabase(resolveConfig({ url: `postgres://postgres@127.0.0.1:${port}/postgres` }), { pool: { max: 4, min: 0 }, kysely: false });
  const afterReady = [];
  const afterStart = [];
  for (let i = 0; i < RUNS; i++) {
    await handle.sql`SELECT 1`;
    const t0 = performance.now();
    pg(bin('pg_ctl'), ['-D', data, '-w', '-m', 'fast', '-l', path.join(dir, 'log'), '-o', opts, 'restart']);
    const ready = performance.now();
    for (;;) {
      try {
        await handle.sql`SELECT 1`;
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const answered = performance.now();
    afterReady.push(answered - ready);
    afterStart.push(answered - t0);
  }
  report.note('first answer after the server accepts connections', `${fmtMs(median(afterReady))} (max ${fmtMs(Math.max(...afterReady))})`);
  report.note('first answer after the restart began', `${fmtMs(median(afterStart))} (max ${fmtMs(Math.max(...afterStart))})`);
} finally {
  await handle?.close();
  try {
    pg(bin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
  } catch {
    // already stopped
  }
  rmSync(dir, { recursive: true, force: true });
}
report.print();
process.exit(0);
