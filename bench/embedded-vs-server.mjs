#!/usr/bin/env node
/**
 * Figures for docs/embedded.md: the time of `cmmc-db init` and `cmmc-db upgrade head` on the
 * embedded database (a fresh folder) and on the server (a temporary database, created and dropped),
 * side by side; the cost of opening the embedded folder; and statement latency through the socket
 * (the chosen path: postgres.js over pglite-socket) against PGlite called in-process (what a Kysely
 * dialect for PGlite would do).
 *
 *   npm run build && node bench/embedded-vs-server.mjs [runs]      (default 3 runs, median shown)
 *
 * Needs the test server at 127.0.0.1:5432 (CMMC_BENCH_ADMIN_URL to change it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMAND = path.join(ROOT, 'bin', 'cmmc-db');
const ADMIN_URL = process.env.CMMC_BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUNS = Number(process.argv[2] ?? 3);

function cleanEnv(extra) {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (key === 'DATABASE_URL' || key.startsWith('DB_') || key.startsWith('CMMC_') || key.startsWith('PG') || key === 'NODE_ENV') delete env[key];
  }
  return { ...env, ...extra };
}

/** Wall time of one CLI run, in ms; throws when it fails. */
function cli(args, env) {
  const t0 = performance.now();
  try {
    execFileSync(COMMAND, args, { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`cmmc-db ${args.join(' ')} failed: ${err.stderr}`);
  }
  return performance.now() - t0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);

const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
async function withServerDb(fn) {
  const name = `cmmc_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}
function withFolder(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-bench-'));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
function record(what, embedded, server) {
  rows.push([what, fmt(median(embedded)), server ? fmt(median(server)) : '—', server ? `${(median(embedded) / median(server)).toFixed(1)}×` : '']);
}

// 1. upgrade head and init from nothing.
for (const command of [['upgrade', 'head'], ['init']]) {
  const embedded = [];
  const server = [];
  for (let i = 0; i < RUNS; i++) {
    withFolder((dir) => embedded.push(cli(command, { CMMC_DB_DIR: dir })));
    server.push(await withServerDb((url) => cli(command, { DATABASE_URL: url })));
  }
  record(`${command.join(' ')} (from an empty database)`, embedded, server);
}

// 2. Opening: a fresh folder (initdb) against an existing one; `current` on both backends.
{
  const fresh = [];
  const existing = [];
  const serverCurrent = [];
  withFolder((dir) => {
    cli(['upgrade', 'head'], { CMMC_DB_DIR: dir });
    for (let i = 0; i < RUNS; i++) existing.push(cli(['current'], { CMMC_DB_DIR: dir }));
  });
  for (let i = 0; i < RUNS; i++) withFolder((dir) => fresh.push(cli(['health'], { CMMC_DB_DIR: dir })));
  await withServerDb(async (url) => {
    cli(['upgrade', 'head'], { DATABASE_URL: url });
    for (let i = 0; i < RUNS; i++) serverCurrent.push(cli(['current'], { DATABASE_URL: url }));
  });
  record('current (an existing database at head)', existing, serverCurrent);
  record('health on a fresh folder (creates the database)', fresh);
}

// 3. Statement latency: over the socket (postgres.js, the chosen path) against PGlite in-process.
{
  const { startEmbeddedServer } = await import(path.join(ROOT, 'dist', 'embedded', 'provider.js'));
  const { acquireEmbedded, releaseEmbedded } = await import(path.join(ROOT, 'dist', 'embedded', 'instance.js'));
  const N = 2000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-bench-'));
  try {
    const started = await startEmbeddedServer({ embeddedDir: dir });
    const sql = postgres(started.url.split('?')[0], { path: started.socketPath, max: 1, onnotice: () => {} });
    await sql`SELECT 1`;
    let t0 = performance.now();
    for (let i = 0; i < N; i++) await sql`SELECT ${i}::int AS i`;
    const socket = (performance.now() - t0) / N;
    await sql.end();
    const instance = await acquireEmbedded(dir); // shares the instance the server holds
    t0 = performance.now();
    for (let i = 0; i < N; i++) await instance.pg.query('SELECT $1::int AS i', [i]);
    const direct = (performance.now() - t0) / N;
    await releaseEmbedded(instance);
    await started.stop();
    rows.push([`one statement, mean of ${N}: socket (postgres.js) | in-process (pg.query)`, fmt(socket), fmt(direct), `${(socket / direct).toFixed(1)}×`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
await admin.end();

const header = ['', 'embedded (PGlite)', 'server (PostgreSQL)', 'ratio'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
console.log(`cmmc-db: embedded vs server, median of ${RUNS} runs (${os.cpus().length} cores, node ${process.version})`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('(last row: the two columns are the socket and in-process figures, both on PGlite)');
