/**
 * Backups end to end: the built CLI, the real server, the real pg_dump / pg_restore / psql.
 * Each test works on its own small schema in its own database; restored databases are dropped.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, uniqueName, urlFor, schemaOf, type TestDatabase } from './helpers/server.js';

const PASSWORD = 'n0t-printed-S3cret';
const REVISION = '0123456789ab';

/** A URL with a password: the server trusts local connections and ignores it. */
function secretUrl(database: string): string {
  const u = new URL(urlFor(database));
  u.password = PASSWORD;
  return u.toString();
}

async function makeSchema(url: string): Promise<void> {
  await query(
    url,
    `CREATE TYPE status AS ENUM ('open', 'closed');
     CREATE TABLE customer (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
     CREATE TABLE ticket (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
                          status status NOT NULL DEFAULT 'open', body text, CHECK (length(body) < 10000));
     CREATE INDEX ticket_customer_idx ON ticket (customer_id);
     CREATE SCHEMA audit;
     CREATE TABLE audit.event (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what jsonb NOT NULL);
     CREATE VIEW open_tickets AS SELECT t.id, c.name FROM ticket t JOIN customer c ON c.id = t.customer_id WHERE t.status = 'open';
     CREATE TABLE public.cmmc_schema_version (version_num varchar(64) PRIMARY KEY);
     INSERT INTO public.cmmc_schema_version VALUES ('${REVISION}');
     INSERT INTO customer (name) SELECT 'customer ' || g FROM generate_series(1, 40) g;
     INSERT INTO ticket (customer_id, status, body) SELECT 1 + g % 40, CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'open' END::status, repeat('x', g) FROM generate_series(1, 500) g;
     INSERT INTO audit.event (what) SELECT jsonb_build_object('n', g) FROM generate_series(1, 25) g;`,
  );
}

const TABLES = ['customer', 'ticket', 'audit.event', 'cmmc_schema_version'];

async function rowCounts(database: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of TABLES) counts[t] = Number((await query<{ n: string }>(urlFor(database), `SELECT count(*) AS n FROM ${t}`))[0].n);
  return counts;
}


function assertNoPassword(...texts: string[]): void {
  for (const t of texts) expect(t).not.toContain(PASSWORD);
}

describe('backup, verify and restore against the real server', () => {
  let tdb: TestDatabase;
  let url: string;
  let work: string;
  let dir: string;
  let tmp: string;
  const extraDbs: string[] = [];
  const env = () => ({ TMPDIR: tmp });

  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_bk');
    url = secretUrl(tdb.name);
    await makeSchema(tdb.url);
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bk-'));
    dir = path.join(work, 'backups');
    tmp = path.join(work, 'tmp');
    mkdirSync(tmp);
  });
  afterAll(async () => {
    for (const name of extraDbs) await dropDatabase(name);
    await tdb.drop();
    rmSync(work, { recursive: true, force: true });
  });

  function newDbName(): string {
    const name = uniqueName('cmmc_bk_restored');
    extraDbs.push(name);
    return name;
  }

  it('backs up (custom format), writes a 0600 manifest with the revision, verifies and restores into a new database with the same schema and rows', async () => {
    const made = await runCliJson(['backup', '--dir', dir], { url, env: env() });
    expect(made.exitCode, made.stderr).toBe(0);
    const m = made.data;
    expect(m.name).toMatch(new RegExp(`^${tdb.name}-\\d{8}T\\d{6}Z$`));
    expect(m).toMatchObject({ database: tdb.name, format: 'custom', contents: 'full', revision: [REVISION], tables: 4, encrypted: false, verified: { status: 'unverified' } });
    expect(m.pgDump.version).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(m.server.versionNum).toBeGreaterThan(100000);
    expect(m.sha256).toBe(createHash('sha256').update(readFileSync(m.path)).digest('hex'));
    expect(m.sizeBytes).toBe(statSync(m.path).size);
    expect(readFileSync(m.path).subarray(0, 5).toString()).toBe('PGDMP');
    expect(statSync(m.path).mode & 0o777).toBe(0o600);
    expect(statSync(m.manifestPath).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(m.manifestPath, 'utf8')).sha256).toBe(m.sha256);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
    assertNoPassword(made.stderr, JSON.stringify(m), readFileSync(m.manifestPath, 'utf8'));

    const verified = await runCliJson(['backup', 'verify', m.name, '--dir', dir], { url, env: env() });
    expect(verified.exitCode, verified.stderr).toBe(0);
    expect(verified.data.ok).toBe(true);
    expect(verified.data.checks.map((c: any) => `${c.id}:${c.status}`)).toEqual(['present:ok', 'checksum:ok', 'archive:ok']);

    const listed = await runCliJson(['backup', 'list', '--dir', dir, '--all'], { env: env() });
    expect(listed.data.backups.find((b: any) => b.name === m.name).verified.status).toBe('verified');

    const target = newDbName();
    const restored = await runCliJson(['backup', 'restore', m.name, '--dir', dir, '--target-db', target, '--yes'], { url, env: env() });
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.data).toMatchObject({ database: target, created: true, replaced: false, revision: [REVISION], tables: 4, restored: true });
    assertNoPassword(restored.stderr, JSON.stringify(restored.data));
    const schema = await schemaOf(tdb.name);
    expect(schema).toContain('CREATE TABLE audit.event');
    expect(schema).toContain('CREATE VIEW public.open_tickets');
    expect(await schemaOf(target)).toBe(schema);
    expect(await rowCounts(target)).toEqual(await rowCounts(tdb.name));
    expect(await rowCounts(target)).toEqual({ customer: 40, ticket: 500, 'audit.event': 25, cmmc_schema_version: 1 });

    // Again over the now existing database: restored aside and swapped in; the replaced one is kept.
    await query(urlFor(target), `DELETE FROM ticket WHERE id > 10; DROP VIEW open_tickets`);
    const again = await runCliJson(['backup', 'restore', m.name, '--dir', dir, '--target-db', target, '--yes'], { url, env: env() });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.data).toMatchObject({ created: false, replaced: true });
    expect(again.data.keptAs).toMatch(new RegExp(`^${target.slice(0, 20)}.*_pre_restore_\\d{8}t\\d{6}z$`));
    await dropDatabase(again.data.keptAs);
    expect(await rowCounts(target)).toEqual(await rowCounts(tdb.name));
    expect(await schemaOf(target)).toBe(await schemaOf(tdb.name));
  });

  it('restore asks for confirmation: without --yes and without a TTY it refuses and changes nothing', async () => {
    const made = await runCliJson(['backup', '--dir', dir], { url, env: env() });
    const target = newDbName();
    const r = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target], { url, env: env() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('refusing without confirmation');
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${target}'`)).toHaveLength(0);
  });

  it('--restore-test restores into a scratch database, checks tables and revision, drops it, and writes a dated drill record', async () => {
    const made = await runCliJson(['backup', '--dir', dir], { url, env: env() });
    const r = await runCliJson(['backup', 'verify', made.data.name, '--dir', dir, '--restore-test'], { url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.checks.map((c: any) => `${c.id}:${c.status}`)).toEqual(['present:ok', 'checksum:ok', 'archive:ok', 'restore-test:ok', 'tables:ok', 'revision:ok']);
    expect(r.data.drillRecord).toMatch(new RegExp(`${made.data.name}\\.restore-drill-\\d{8}T\\d{6}Z\\.json$`));
    const drill = JSON.parse(readFileSync(r.data.drillRecord, 'utf8'));
    expect(drill).toMatchObject({ result: 'pass', backup: { name: made.data.name, sha256: made.data.sha256, revision: [REVISION] }, restored: { tables: 4, revision: [REVISION] } });
    expect(statSync(r.data.drillRecord).mode & 0o777).toBe(0o600);
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${drill.scratchDatabase}'`)).toHaveLength(0);
    const listed = await runCliJson(['backup', 'list', '--dir', dir, '--all'], { env: env() });
    expect(listed.data.backups.find((b: any) => b.name === made.data.name).verified).toMatchObject({ status: 'verified', restoreTested: true });
    assertNoPassword(r.stderr, readFileSync(r.data.drillRecord, 'utf8'));
  });

  it('a corrupted archive (bytes flipped in the middle, or cut short) fails verify, and restore refuses it', async () => {
    const made = await runCliJson(['backup', '--dir', dir], { url, env: env() });
    const file = made.data.path as string;
    const original = readFileSync(file);

    const flipped = Buffer.from(original);
    for (let i = 0; i < 4; i++) flipped[Math.floor(flipped.length / 2) + i] ^= 0xff;
    writeFileSync(file, flipped);
    const v1 = await runCli(['backup', 'verify', made.data.name, '--dir', dir], { env: env() });
    expect(v1.exitCode).toBe(1);
    expect(v1.stderr).toMatch(/does not verify: checksum: sha256/);
    const target = newDbName();
    const refused = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target, '--yes'], { url, env: env() });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('refusing to restore it');
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${target}'`)).toHaveLength(0);
    const listed = await runCliJson(['backup', 'list', '--dir', dir, '--all'], { env: env() });
    expect(listed.data.backups.find((b: any) => b.name === made.data.name).verified.status).toBe('failed');

    writeFileSync(file, original.subarray(0, Math.floor(original.length * 0.6)));
    const v2 = await runCli(['backup', 'verify', made.data.name, '--dir', dir], { env: env() });
    expect(v2.exitCode).toBe(1);
    expect(v2.stderr).toContain('cut short');
    const refused2 = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target, '--yes'], { url, env: env() });
    expect(refused2.exitCode).toBe(1);
    expect(refused2.stderr).toContain('refusing to restore it');

    // Cut short and the manifest rewritten to match: pg_restore itself no longer reads it.
    const cut = original.subarray(0, 200);
    writeFileSync(file, cut);
    const manifest = JSON.parse(readFileSync(made.data.manifestPath, 'utf8'));
    writeFileSync(made.data.manifestPath, JSON.stringify({ ...manifest, sizeBytes: cut.length, sha256: createHash('sha256').update(cut).digest('hex') }));
    const v3 = await runCliJson(['backup', 'verify', made.data.name, '--dir', dir], { env: env() });
    expect(v3.exitCode).toBe(1);
    expect(v3.data.checks.find((c: any) => c.id === 'archive')).toMatchObject({ status: 'fail' });
  });

  it('--encrypt: AES-256-GCM at rest; verify and restore decrypt with the key file; a wrong key or a tampered file is refused in one line', async () => {
    const keyFile = path.join(work, 'backup.key');
    writeFileSync(keyFile, 'a-long-random-looking-key-for-the-test-0123456789\n', { mode: 0o600 });
    const made = await runCliJson(['backup', '--dir', dir, '--encrypt', '--key-file', keyFile], { url, env: env() });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.data).toMatchObject({ encrypted: true, encryption: { cipher: 'aes-256-gcm' } });
    expect(made.data.file).toMatch(/\.dump\.enc$/);
    const bytes = readFileSync(made.data.path);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('CMMCENC\0');
    expect(bytes.includes(Buffer.from('customer 17'))).toBe(false);
    expect(bytes.includes(Buffer.from('PGDMP'))).toBe(false);

    const noKey = await runCli(['backup', 'verify', made.data.name, '--dir', dir], { env: env() });
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain('--key-file');

    const v = await runCliJson(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', keyFile, '--restore-test'], { url, env: env() });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.data.checks.map((c: any) => c.id)).toContain('decrypt');

    const target = newDbName();
    const restored = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--key-file', keyFile, '--target-db', target, '--yes'], { url, env: env() });
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(await rowCounts(target)).toEqual(await rowCounts(tdb.name));
    // The decrypted copy lived in a 0600 temp file that is gone.
    expect(readdirSync(tmp).filter((f) => f.startsWith('cmmc-restore-'))).toEqual([]);

    const wrongKey = path.join(work, 'wrong.key');
    writeFileSync(wrongKey, 'another-key-that-is-long-enough-0123456789', { mode: 0o600 });
    const wrong = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--key-file', wrongKey, '--target-db', newDbName(), '--yes'], { url, env: env() });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringContaining('wrong key file')]);

    // Tampered by someone who also rewrote the manifest's checksum: GCM authentication catches it.
    const tampered = Buffer.from(bytes);
    tampered[Math.floor(tampered.length / 2)] ^= 0x20;
    writeFileSync(made.data.path, tampered);
    const manifest = JSON.parse(readFileSync(made.data.manifestPath, 'utf8'));
    writeFileSync(made.data.manifestPath, JSON.stringify({ ...manifest, sha256: createHash('sha256').update(tampered).digest('hex') }));
    const t = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', keyFile], { env: env() });
    expect(t.exitCode).toBe(1);
    expect(t.stderr).toContain('changed or damaged');
    const tr = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--key-file', keyFile, '--target-db', newDbName(), '--yes'], { url, env: env() });
    expect(tr.exitCode).toBe(1);
    expect(tr.stderr).toContain('refusing to restore it');
    expect(readdirSync(tmp).filter((f) => f.startsWith('cmmc-restore-'))).toEqual([]);

    // The key is never taken on the command line.
    const onCli = await runCli(['backup', '--dir', dir, '--encrypt', '--key', 'secret'], { url, env: env() });
    expect(onCli.exitCode).toBe(2);
  });

  it('a key file that is a pipe (--key-file <(…), as from a secrets manager) serves create --verify, verify and restore: each reads it once', async () => {
    // create --verify read the key file twice: the second read of the pipe was empty, and the new
    // backup ended with "the key file /dev/fd/63 holds fewer than 16 bytes", exit 1, unverified.
    const keyFile = path.join(work, 'piped.key');
    writeFileSync(keyFile, 'a-long-random-looking-key-from-a-vault-0123456789\n', { mode: 0o600 });
    const piped = (args: string) =>
      execa('bash', ['-c', `node ${JSON.stringify(BIN)} ${args} --dir ${JSON.stringify(dir)} --key-file <(cat ${JSON.stringify(keyFile)}) --json`], {
        env: cleanEnv({ DATABASE_URL: url, ...env() }),
        extendEnv: false,
        reject: false,
      });
    const made = await piped('backup create --encrypt --verify');
    expect(made.exitCode, made.stderr).toBe(0);
    const manifest = JSON.parse(made.stdout);
    expect(manifest).toMatchObject({ encrypted: true, verified: { status: 'verified' } });
    expect(JSON.parse(readFileSync(manifest.manifestPath, 'utf8')).verified.status).toBe('verified');
    const verified = await piped(`backup verify ${manifest.name} --restore-test`);
    expect(verified.exitCode, verified.stderr).toBe(0);
    const target = newDbName();
    const restored = await piped(`backup restore ${manifest.name} --target-db ${target} --yes`);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(await rowCounts(target)).toEqual(await rowCounts(tdb.name));
  });

  it('--format directory --jobs 2 dumps in parallel into a 0700 folder and restores with --jobs', async () => {
    const made = await runCliJson(['backup', 'create', '--dir', dir, '--format', 'directory', '--jobs', '2'], { url, env: env() });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.data).toMatchObject({ format: 'directory', jobs: 2 });
    expect(statSync(made.data.path).isDirectory()).toBe(true);
    expect(statSync(made.data.path).mode & 0o777).toBe(0o700);
    const files = readdirSync(made.data.path);
    expect(files).toContain('toc.dat');
    for (const f of files) expect(statSync(path.join(made.data.path, f)).mode & 0o777).toBe(0o600);
    const v = await runCliJson(['backup', 'verify', made.data.name, '--dir', dir], { env: env() });
    expect(v.exitCode, v.stderr).toBe(0);
    const target = newDbName();
    const r = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target, '--jobs', '2', '--yes'], { url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await rowCounts(target)).toEqual(await rowCounts(tdb.name));
    expect(await schemaOf(target)).toBe(await schemaOf(tdb.name));

    const bad = await runCli(['backup', '--dir', dir, '--jobs', '2'], { url, env: env() });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--format directory');
  });

  it('a compressed plain-SQL backup restores through psql; a schema-only backup restores tables without rows', async () => {
    const plain = await runCliJson(['backup', '--dir', dir, '--format', 'plain', '--compress', '6'], { url, env: env() });
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect(plain.data.file).toMatch(/\.sql\.gz$/);
    const target = newDbName();
    const r = await runCliJson(['backup', 'restore', plain.data.name, '--dir', dir, '--target-db', target, '--yes'], { url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.revision).toEqual([REVISION]);
    expect(await rowCounts(target)).toEqual(await rowCounts(tdb.name));

    const schemaOnly = await runCliJson(['backup', '--dir', dir, '--schema-only'], { url, env: env() });
    expect(schemaOnly.data.contents).toBe('schema-only');
    const t2 = newDbName();
    const r2 = await runCliJson(['backup', 'restore', schemaOnly.data.name, '--dir', dir, '--target-db', t2, '--yes'], { url, env: env() });
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(r2.data.revision).toEqual([]);
    expect(await rowCounts(t2)).toEqual({ customer: 0, ticket: 0, 'audit.event': 0, cmmc_schema_version: 0 });
    expect(await schemaOf(t2)).toBe(await schemaOf(tdb.name));

    const both = await runCli(['backup', '--dir', dir, '--schema-only', '--data-only'], { url, env: env() });
    expect(both.exitCode).toBe(2);
  });

  it('a missing or too old pg_dump is a clear error that says what to install', async () => {
    const fake = path.join(work, 'old-bin');
    mkdirSync(fake);
    for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
      writeFileSync(path.join(fake, tool), '#!/bin/sh\necho "' + tool + ' (PostgreSQL) 9.6.24"\n');
      chmodSync(path.join(fake, tool), 0o755);
    }
    const old = await runCli(['backup', '--dir', dir], { url, env: { ...env(), CMMC_PG_BIN_DIR: fake } });
    expect(old.exitCode).toBe(1);
    expect(old.stderr).toMatch(/pg_dump 9 .* is older than the server \(PostgreSQL \d+\)/);
    expect(old.stderr).toMatch(/install postgresql-client-\d+/);
    const empty = path.join(work, 'no-bin');
    mkdirSync(empty);
    const missing = await runCli(['backup', '--dir', dir], { url, env: { ...env(), CMMC_PG_BIN_DIR: empty } });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('pg_dump was not found');
    assertNoPassword(old.stderr, missing.stderr);
  });

  it('an interrupted backup leaves nothing that looks complete (and no partial file)', async () => {
    const big = await createTestDatabase('cmmc_bk_big');
    try {
      await query(big.url, `CREATE TABLE filler AS SELECT g, md5(g::text) AS m FROM generate_series(1, 1500000) g`);
      const bigDir = path.join(work, 'interrupted');
      const child = execa('node', [BIN, 'backup', '--dir', bigDir], { env: cleanEnv({ DATABASE_URL: secretUrl(big.name) }), extendEnv: false, reject: false });
      // Wait until pg_dump has started writing, then stop the backup as Ctrl-C or a kill would.
      for (let i = 0; i < 600; i++) {
        if (existsSync(bigDir) && readdirSync(bigDir).some((f) => f.endsWith('.partial'))) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      child.kill('SIGTERM');
      const r = await child;
      // 128 + 15: SIGTERM, as a shell reports it; one line saying what state things are in.
      expect(r.exitCode).toBe(143);
      expect(String(r.stderr)).toContain('stopped by SIGTERM: pg_dump was stopped and the partial backup file removed; nothing was kept');
      expect(String(r.stderr).trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
      // Nothing kept, not even the folder the backup made for itself.
      expect(existsSync(bigDir)).toBe(false);
    } finally {
      await big.drop();
    }
  });

  it('the embedded database: pitr says in one line that it needs a PostgreSQL server', async () => {
    // Backups of the embedded database itself are tested with the embedded engine (test/embedded-*.test.ts).
    const cwd = mkdtempSync(path.join(work, 'embedded-'));
    const p = await runCli(['backup', 'pitr'], { cwd, env: env() });
    expect(p.exitCode).toBe(1);
    expect(p.stderr.trim().split('\n')).toEqual([expect.stringContaining('point-in-time recovery needs a PostgreSQL server')]);
    const check = await runCli(['backup', 'pitr', '--check'], { cwd, env: env() });
    expect(check.exitCode).toBe(1);
    expect(check.stderr).toContain('needs a PostgreSQL server');
    expect(existsSync(path.join(cwd, '.cmmc-db'))).toBe(false);
  });
});
