/**
 * Passwords that reached places a security reviewer looks: a connection string that does not parse
 * (its error quoted part of the password), other sessions' statements and the server's
 * archive_command shown by doctor, report and `backup pitr --check` (and kept by `doctor --record`),
 * and the environment of every program the tool starts (pg_dump, pg_restore, psql, crontab, the
 * browser). Each against a server that really runs what is shown.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { holdTransaction, waitFor } from './helpers/doctor-sessions.js';
import { createTestDatabase } from './helpers/server.js';
import { pgBin, startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-secret-leaks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a connection string that does not parse', () => {
  it('is refused without quoting any part of its password, in the message or the JSON', async () => {
    const cases: [string, string][] = [
      ['host=127.0.0.1 password=first SecretTail1', 'SecretTail1'], // an unquoted space in the password
      ['host=127.0.0.1 password=first SecretTail2=x', 'SecretTail2'],
      ['postgresql:/postgres:SecretWhole3@127.0.0.1/x', 'SecretWhole3'], // one "/" short of a URL
      ['postgres:SecretWhole4@127.0.0.1/x', 'SecretWhole4'],
      ['SecretWhole5', 'SecretWhole5'], // the password pasted alone
      ['postgresql://postgres@127.0.0.1/x?password=first&SecretTail6', 'SecretTail6'], // an unencoded "&"
      ['postgresql://postgres@127.0.0.1/x?password=first&SecretTail7=1', 'SecretTail7'],
    ];
    for (const [url, secret] of cases) {
      for (const json of [false, true]) {
        const r = await runCli(['current', ...(json ? ['--json'] : [])], { env: { DATABASE_URL: url } });
        expect(r.exitCode, url).toBe(2);
        expect(r.stderr + r.stdout, url).toMatch(/DATABASE_URL/);
        expect(r.stderr + r.stdout, url).not.toContain(secret);
      }
    }
  });
});

describe('a password holding "?" in a URL', () => {
  let cluster: TempCluster;
  const password = 'before?Tail8';
  beforeAll(async () => {
    cluster = await startTempCluster({}, { password });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('is read as psql reads it (the credentials end at the "@"), and authenticates', async () => {
    const url = `postgresql://postgres:${password}@127.0.0.1:${cluster.port}/postgres`;
    const psql = await execa(pgBin('psql'), ['-X', '-At', '-c', 'SELECT 1', url], { reject: false, env: { PGPASSWORD: '' } });
    expect(psql.stdout).toBe('1');
    const r = await runCli(['health', '--json'], { env: { DATABASE_URL: url } });
    expect(r.stderr).not.toContain('Tail8');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('ok');
  });
});

describe('statements and settings of the server, shown by doctor, report and pitr --check', () => {
  let cluster: TempCluster;
  const archiveSecret = 'ArchSecret9';
  beforeAll(async () => {
    cluster = await startTempCluster({
      shared_preload_libraries: 'pg_stat_statements',
      archive_mode: 'on',
      // The shell of pg_ctl reads the quotes: the setting is the command with its space.
      archive_command: `'PGPASSWORD=${archiveSecret} /bin/true'`,
    });
    const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE app`;
    await admin`CREATE ROLE leak_probe LOGIN`;
    await admin.end();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("mask the passwords in other sessions' statements (ALTER ROLE … PASSWORD, connection strings) in every output and in --record", async () => {
    const url = cluster.url('app');
    const app = postgres(url, { max: 1, onnotice: () => {} });
    await app`CREATE EXTENSION pg_stat_statements`;
    await app`CREATE TABLE lockme (id int)`;
    // In pg_stat_statements as sent (a utility statement keeps its literals).
    await app.unsafe(`ALTER ROLE leak_probe PASSWORD 'StatSecret10'`);
    // Idle in a transaction that holds a lock another session waits for: idle-in-transaction,
    // long-transaction and blocked (its blocker's statement) all show its last statement.
    const holder = await holdTransaction(url, ['LOCK TABLE lockme IN ACCESS EXCLUSIVE MODE', `ALTER ROLE leak_probe PASSWORD 'AlterSecret11'`]);
    const other = await holdTransaction(url, [`SELECT 'host=h password=KvSecret12 dbname=d' AS conn, 'postgresql://u:UrlSecret13@h/d' AS url`]);
    const third = await holdTransaction(url, [`SELECT 1 FROM (SELECT 'x' AS password) p WHERE password = 'ColSecret21'`]);
    const waiter = postgres(url, { max: 1, onnotice: () => {} });
    const waiting = waiter`SELECT * FROM lockme`.catch(() => {});
    const secrets = ['StatSecret10', 'AlterSecret11', 'KvSecret12', 'UrlSecret13', 'ColSecret21', archiveSecret];
    try {
      await waitFor(async () => (await app`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'app'`).length > 0, 10_000, 'the blocked session');
      const thresholds = ['--threshold', 'idle-in-transaction=0s', '--threshold', 'long-transaction=0s'];
      const doctor = await runCli(['doctor', 'connections', 'slow-queries', '--verbose', '--json', ...thresholds], { url });
      const shown = await runCli(['doctor', 'connections', 'slow-queries', '--verbose', ...thresholds], { url });
      const recorded = await runCli(['doctor', '--record', ...thresholds], { url });
      const report = await runCli(['report', '--json'], { url });
      const html = path.join(work, 'report.html');
      const page = await runCli(['report', '--html', html], { url });
      const pitr = await runCli(['backup', 'pitr', '--check', '--json'], { url });
      const [stored] = await app<{ runs: string }[]>`SELECT string_agg(r::text, ' ') AS runs FROM cmmc_db.doctor_runs r`;
      const outputs = { doctor, shown, recorded, report, page, pitr };
      // What was shown is there, masked: the test sees the statements it looks for.
      expect(doctor.stdout).toContain(`ALTER ROLE leak_probe PASSWORD '****'`);
      expect(doctor.stdout).toContain('password=****');
      expect(doctor.stdout).toContain(`ALTER ROLE leak_probe PASSWORD '****'`);
      expect(JSON.parse(pitr.stdout).checks.find((c: { id: string }) => c.id === 'archive_command').figure).toBe('PGPASSWORD=**** /bin/true');
      for (const secret of secrets) {
        for (const [name, r] of Object.entries(outputs)) expect(r.stdout + r.stderr, `${name}: ${secret}`).not.toContain(secret);
        expect(readFileSync(html, 'utf8'), secret).not.toContain(secret);
        expect(stored.runs, secret).not.toContain(secret);
      }
    } finally {
      await holder.release();
      await other.release();
      await third.release();
      await waiting;
      await waiter.end({ timeout: 1 });
      await app.end({ timeout: 1 });
    }
  });
});

describe('the environment of the programs the tool starts', () => {
  /**
   * A folder of programs named `names` that write their environment into `out/<name>-<pid>` and exec
   * the real one; without one, they succeed (reading stdin when given `-`, as `crontab -` does).
   */
  function recorders(names: Record<string, string | undefined>, out: string): string {
    const dir = mkdtempSync(path.join(work, 'bin-'));
    for (const [name, real] of Object.entries(names)) {
      const file = path.join(dir, name);
      writeFileSync(file, `#!/bin/sh\nenv > '${out}/${name}-'$$\n${real ? `exec '${real}' "$@"` : 'if [ "$1" = - ]; then cat > /dev/null; fi; exit 0'}\n`);
      chmodSync(file, 0o755);
    }
    return dir;
  }
  /** Every recorded environment, by the program's name. */
  function recorded(out: string): { name: string; env: string }[] {
    return readdirSync(out).map((f) => ({ name: f.replace(/-\d+$/, ''), env: readFileSync(path.join(out, f), 'utf8') }));
  }
  const credentials = { DB_PASSWORD: 'AppSecret14', DB_OWNER_PASSWORD: 'OwnerSecret15', POSTGRES_PASSWORD: 'AdminSecret16' };
  const urlSecret = 'UrlSecret17';

  it('pg_dump, pg_restore and psql get the password of their own connection alone, never the run’s other credentials', async () => {
    const tdb = await createTestDatabase('secret_env');
    const out = mkdtempSync(path.join(work, 'env-'));
    try {
      const bin = recorders({ pg_dump: pgBin('pg_dump'), pg_restore: pgBin('pg_restore'), psql: pgBin('psql') }, out);
      // The shared server trusts local connections: the URL's password is carried, not checked.
      const url = tdb.url.replace('postgres@', `postgres:${urlSecret}@`);
      const env = { DATABASE_URL: url, ...credentials, CMMC_PG_BIN_DIR: bin, XDG_CACHE_HOME: path.join(work, 'cache') };
      const dir = path.join(work, 'backups');
      const made = await runCli(['backup', 'create', '--dir', dir, '--format', 'plain'], { env });
      expect(made.exitCode, made.stderr).toBe(0);
      const verified = await runCli(['backup', 'verify', '--restore-test', '--dir', dir], { env });
      expect(verified.exitCode, verified.stderr).toBe(0);
      const seen = recorded(out);
      expect(seen.map((s) => s.name)).toEqual(expect.arrayContaining(['pg_dump', 'psql']));
      for (const { name, env: text } of seen) {
        if (!/^PGHOST=/m.test(text)) continue; // a --version probe: no connection at all
        expect(text, name).toContain(`PGPASSWORD=${urlSecret}`);
      }
      for (const { name, env: text } of seen) {
        expect(text, name).not.toMatch(/^DATABASE_URL=/m);
        for (const secret of Object.values(credentials)) expect(text, `${name}: ${secret}`).not.toContain(secret);
      }
    } finally {
      await tdb.drop();
    }
  });

  it('crontab and the browser of report --open get none of them', async () => {
    const tdb = await createTestDatabase('secret_env_open');
    const out = mkdtempSync(path.join(work, 'env-'));
    try {
      const bin = recorders({ crontab: undefined, browser: undefined }, out);
      const url = tdb.url.replace('postgres@', `postgres:${urlSecret}@`);
      const env = { DATABASE_URL: url, ...credentials, PGPASSWORD: 'PgSecret18', PATH: `${bin}:${process.env.PATH}`, BROWSER: path.join(bin, 'browser') };
      const project = mkdtempSync(path.join(work, 'project-'));
      writeFileSync(path.join(project, 'package.json'), '{"name":"p"}');
      const installed = await runCli(['backup', 'schedule', 'install', '--dir', path.join(project, 'backups')], { env, cwd: project });
      expect(installed.exitCode, installed.stderr).toBe(0);
      const opened = await runCli(['report', '--html', path.join(project, 'report.html'), '--open'], { env, cwd: project });
      expect(opened.exitCode, opened.stderr).toBe(0);
      // The browser is started detached: its record may come after the command has ended.
      await waitFor(async () => recorded(out).some((s) => s.name === 'browser'), 10_000, 'the browser');
      const seen = recorded(out);
      expect(new Set(seen.map((s) => s.name))).toEqual(new Set(['crontab', 'browser']));
      for (const { name, env: text } of seen) {
        expect(text, name).toContain('PATH=');
        for (const secret of [...Object.values(credentials), urlSecret, 'PgSecret18']) expect(text, `${name}: ${secret}`).not.toContain(secret);
      }
    } finally {
      await tdb.drop();
    }
  });
});

describe('a .env that holds a password', () => {
  it('is named with a warning when others may read it (as ~/.pgpass and the key file are), and not when only its owner may or it holds none', async () => {
    const tdb = await createTestDatabase('secret_dotenv');
    try {
      const project = mkdtempSync(path.join(work, 'dotenv-'));
      writeFileSync(path.join(project, 'package.json'), '{"name":"p"}');
      const dotenv = path.join(project, '.env');
      const withPassword = `DATABASE_URL=${tdb.url.replace('postgres@', 'postgres:EnvSecret19@')}\n`;
      const run = async (text: string, mode: number) => {
        writeFileSync(dotenv, text);
        chmodSync(dotenv, mode);
        const r = await runCli(['current'], { cwd: project });
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stderr).not.toContain('EnvSecret19');
        return r.stderr;
      };
      expect(await run(withPassword, 0o644)).toContain(`warning: ${dotenv} holds DATABASE_URL and is readable by other users (mode 644)`);
      expect(await run(`${withPassword}DB_OWNER_PASSWORD=OwnerSecret20\n`, 0o640)).toMatch(/holds DATABASE_URL, DB_OWNER_PASSWORD and is readable by other users \(mode 640\).*chmod 600 it/);
      expect(await run(withPassword, 0o600)).not.toContain('warning');
      expect(await run(`DATABASE_URL=${tdb.url}\n`, 0o644)).not.toContain('warning');
    } finally {
      await tdb.drop();
    }
  });
});
