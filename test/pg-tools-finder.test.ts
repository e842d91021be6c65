/**
 * One finder for pg_dump/psql/pg_restore, used by schema-as-code as well as by backups: an older
 * client first on PATH (as on a machine with a distribution's old client installed) is passed over
 * for one at least as new as the server; CMMC_PG_BIN_DIR forcing the old one gets one line naming
 * the package to install.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { ADMIN_URL } from './helpers/server.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-old-pgdump-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A stand-in for PostgreSQL 13's client programs: reports 13.16, and refuses to dump a newer server as pg_dump 13 does. */
function oldClient(): string {
  const dir = path.join(work, 'pg13', 'bin');
  mkdirSync(dir, { recursive: true });
  for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
    writeFileSync(
      path.join(dir, tool),
      `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "${tool} (PostgreSQL) 13.16"; exit 0; fi\n` +
        `echo "${tool}: error: aborting because of server version mismatch" >&2\nexit 1\n`,
    );
    chmodSync(path.join(dir, tool), 0o755);
  }
  return dir;
}

describe('schema dump picks a client at least as new as the server', () => {
  const old = oldClient();

  it('an older pg_dump first on PATH is passed over: schema dump --stdout succeeds', async () => {
    const r = await runCli(['schema', 'dump', '--stdout'], { url: ADMIN_URL, env: { PATH: `${old}${path.delimiter}${process.env.PATH}` } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('CREATE TABLE');
    expect(r.stderr).not.toContain('version mismatch');
  });

  it('CMMC_PG_BIN_DIR forcing the old client: one line naming the package, exit 1', async () => {
    const r = await runCli(['schema', 'dump', '--stdout'], { url: ADMIN_URL, env: { CMMC_PG_BIN_DIR: old } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/pg_dump 13 \(.*\) is older than the server \(PostgreSQL \d+\) and cannot dump it — install postgresql-client-\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
