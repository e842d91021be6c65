/**
 * How the client programs are chosen and how they get the password: the newest pg_dump at least as
 * new as the server, and the password in the child's environment (never argv, never a file), checked
 * against a cluster that really asks for it (scram-sha-256).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgTools, libpqEnv, parsePgVersion } from '../src/db/pg-tools.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { startScramCluster, type ScramCluster } from './helpers/scram-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bkauth-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fakeBin(name: string, version: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
    writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${version}"\n`);
    chmodSync(path.join(dir, tool), 0o755);
  }
  return dir;
}

describe('choosing pg_dump', () => {
  it('reads versions, takes the newest at least as new as the server, and names the package when none is', async () => {
    expect(parsePgVersion('pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)')).toEqual({ major: 15, minor: 10 });
    expect(parsePgVersion('pg_dump (PostgreSQL) 17beta1')).toEqual({ major: 17, minor: 0 });
    const v14 = fakeBin('v14', '14.12');
    const v17 = fakeBin('v17', '17.2');
    const PATH = [v14, v17, '/usr/bin', '/bin'].join(':');
    expect((await findPgTools(160004, { PATH })).binDir).toBe(v17);
    expect((await findPgTools(140000, { PATH })).pgRestore).toBe(path.join(v17, 'pg_restore'));
    await expect(findPgTools(180000, { PATH })).rejects.toThrow(/pg_dump 17 .* is older than the server \(PostgreSQL 18\)/);
    await expect(findPgTools(180000, { PATH })).rejects.toMatchObject({ hint: expect.stringContaining('postgresql-client-18') });
    expect((await findPgTools(140000, { CMMC_PG_BIN_DIR: v14, PATH })).binDir).toBe(v14);
  });
});

describe('the connection of a child program', () => {
  it('puts the connection in PG* variables, the password (decoded) in PGPASSWORD, and writes no file', () => {
    const env = libpqEnv('postgresql://app%40corp:p%3Aa%5Css%40w0rd@db.example:6432,[::1]:6433/cmmc?sslmode=require&target_session_attrs=read-write', 'other_db');
    expect(env).toMatchObject({
      PGHOST: 'db.example,::1',
      PGPORT: '6432,6433',
      PGUSER: 'app@corp',
      PGDATABASE: 'other_db',
      PGSSLMODE: 'require',
      PGTARGETSESSIONATTRS: 'read-write',
      PGPASSWORD: 'p:a\\ss@w0rd',
    });
    expect(env.PGPASSFILE).toBeUndefined();
    expect(libpqEnv('postgres://postgres@127.0.0.1/x').PGPASSWORD).toBeUndefined();
  });
});

describe('against a cluster that checks passwords', () => {
  let cluster: ScramCluster;
  const PASSWORD = 'Scr@m:pass/word';
  beforeAll(async () => {
    cluster = await startScramCluster(PASSWORD);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('pg_dump, pg_restore and psql authenticate through the password file; the password is never printed', async () => {
    const url = cluster.url();
    const dir = path.join(work, 'scram-backups');
    const made = await runCliJson(['backup', '--dir', dir], { url });
    expect(made.exitCode, made.stderr).toBe(0);
    const restored = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', 'restored_copy', '--yes'], { url });
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.data.created).toBe(true);
    const plain = await runCliJson(['backup', '--dir', dir, '--format', 'plain'], { url });
    const viaPsql = await runCliJson(['backup', 'verify', plain.data.name, '--dir', dir, '--restore-test'], { url });
    expect(viaPsql.exitCode, viaPsql.stderr).toBe(0);
    for (const text of [made.stderr, JSON.stringify(made.data), restored.stderr, viaPsql.stderr, readFileSync(made.data.manifestPath, 'utf8')]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
    }
  });

  it('a wrong password fails in one line without printing it', async () => {
    const r = await runCli(['backup', '--dir', path.join(work, 'wrong')], { url: cluster.url('wrong-Pass-77') });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('password authentication failed');
    expect(r.stderr).not.toContain('wrong-Pass-77');
  });
});
