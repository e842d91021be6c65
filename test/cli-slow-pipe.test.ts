/**
 * A command's output into a pipe whose reader is slower than cmmc-db (`| psql`, `| jq`) arrives
 * whole. A pipe holds 64 KiB; Node queues the rest, and a bundled command that exited at once cut
 * its output there and still exited 0 (a new-user trial: `upgrade base:head --sql | psql` applied
 * 38 of 300 revisions). Real processes and a real pipe through bash.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv } from './helpers/cli.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-slow-pipe-'));
  let down = '';
  for (let i = 0; i < 250; i++) {
    const id = (0xb00000000000 + i).toString(16);
    const columns = Array.from({ length: 30 }, (_, j) => `col_${j} text`).join(', ');
    writeFileSync(
      path.join(dir, `${id}_t${i}.sql`),
      `-- revision: ${id}\n-- down_revision: ${down}\n-- message: table ${i}\n\n-- migrate:up\nCREATE TABLE t${i} (id int, ${columns});\n\n-- migrate:down\nDROP TABLE t${i};\n`,
    );
    down = id;
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('output into a slow pipe', () => {
  it.each([
    ['upgrade', 'base:head', '--sql'],
    ['--json', 'upgrade', 'base:head', '--sql'],
  ])('%s %s %s arrives whole (well over 64 KiB)', async (...args) => {
    const env = cleanEnv({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', CMMC_MIGRATIONS_DIR: dir });
    const whole = await execa('node', [BIN, ...args], { env, extendEnv: false });
    expect(whole.stdout.length).toBeGreaterThan(3 * 65_536);
    // The reader starts a second late: cmmc-db is done long before it reads.
    const quoted = args.map((a) => `'${a}'`).join(' ');
    const piped = await execa('bash', ['-c', `set -o pipefail; node '${BIN}' ${quoted} | (sleep 1; cat)`], { env, extendEnv: false });
    expect(piped.exitCode).toBe(0);
    expect(piped.stdout).toBe(whole.stdout);
  });
});
