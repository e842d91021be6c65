#!/usr/bin/env node
// Cold start of the CLI beside plain Node: median wall time of several fresh processes each.
// Usage: node bench/cold-start.mjs [runs]   (DATABASE_URL for `current`; default the local server's
// "postgres" database, which `current` only reads). Aim: `cmmc-db --version` < 2x `node -e 0`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'cmmc-db.js');
const runs = Number(process.argv[2] ?? 9);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const projectMigrations = path.join(root, 'migrations');
const migrationsDir =
  process.env.CMMC_MIGRATIONS_DIR ??
  (existsSync(projectMigrations) && readdirSync(projectMigrations).some((f) => /\.(ts|sql)$/.test(f)) ? projectMigrations : path.join(root, 'test', 'fixtures', 'engine', 'linear'));
const env = { ...process.env, DATABASE_URL: url, CMMC_MIGRATIONS_DIR: migrationsDir, NO_COLOR: '1' };

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function time(args) {
  const samples = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) samples.push(ms); // the first run warms the file cache
  }
  return median(samples);
}

const node = time(['-e', '0']);
const version = time([bin, '--version']);
const current = time([bin, 'current']);
const row = (name, ms) => `${name.padEnd(22)} ${ms.toFixed(1).padStart(8)} ms   ${(ms / node).toFixed(2)}x node`;
console.log(`cold start, median of ${runs} runs (migrations: ${path.relative(root, migrationsDir)})`);
console.log(row('node -e 0', node));
console.log(row('cmmc-db --version', version));
console.log(row('cmmc-db current', current));
