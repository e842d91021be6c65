/**
 * `backup verify --restore-test` tells a verdict on the backup from this run's own failure by
 * structured facts (src/backup/verify.ts verdictOf: psql's exit code, the server's SQLSTATE, the
 * signal that stopped a program), never by the wording of a message. It matched the text of
 * psql's and pg_restore's stderr before, and so:
 * - a backup that cannot be restored (a check constraint that reads another table, restored after
 *   it: 23514) was not marked FAILED when the failing row's text read like a local cause
 *   ("server closed the connection unexpectedly", logged by an application);
 * - on a server whose messages are in German (lc_messages), a statement of the restore test
 *   cancelled by an operator (57014: "storniere Anfrage wegen Benutzeraufforderung") was recorded
 *   as a verdict on the backup (a terminated session, 57P01, is checked beside it: psql's exit 2).
 * Real servers (the shared one, and a throwaway cluster speaking German), real pg_dump, pg_restore, psql.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { query, trackedDatabases } from './helpers/server.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-verify-sqlstate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const errorLines = (output: string) => output.split('\n').filter((l) => /error: /.test(l));

/**
 * Incidents an application logged, checked against the kinds it knows: pg_dump restores the
 * incidents before the kinds, so the check fails on every restore (a backup that does not restore).
 */
const UNRESTORABLE = `
  CREATE TABLE kinds (pattern text PRIMARY KEY);
  CREATE FUNCTION known(m text) RETURNS boolean LANGUAGE sql AS $$ SELECT EXISTS (SELECT 1 FROM public.kinds WHERE m LIKE pattern) $$;
  CREATE TABLE incidents (id int PRIMARY KEY, message text CHECK (known(message)));
  INSERT INTO kinds VALUES ('server closed the connection%'), ('could not connect%');
  INSERT INTO incidents VALUES (1, 'server closed the connection unexpectedly'), (2, 'could not connect to server: Connection refused');`;

/** A table that loads slowly only in a scratch database (a restore test), so that it can be caught loading. */
const SLOW_IN_SCRATCH = `
  CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN IF current_database() LIKE 'cmmc\\_scratch\\_%' THEN PERFORM pg_sleep(0.5); END IF; RETURN true; END $$;
  CREATE TABLE s (id int PRIMARY KEY CHECK (slow_ok(id)));
  INSERT INTO s SELECT generate_series(1, 60);`;

async function backup(url: string, dirName: string, format: 'custom' | 'plain'): Promise<{ dir: string; name: string; manifest: string }> {
  const dir = path.join(work, dirName);
  const made = await runCliJson(['backup', '--dir', dir, '--format', format], { url });
  expect(made.exitCode, made.stderr).toBe(0);
  return { dir, name: made.data.name, manifest: path.join(dir, `${made.data.name}.manifest.json`) };
}

/** verify --restore-test of a backup that does not restore: FAILED recorded, with a drill record that says so. */
async function expectVerdict(url: string, dirName: string, format: 'custom' | 'plain'): Promise<string> {
  const { dir, name, manifest } = await backup(url, dirName, format);
  const verify = await runCli(['backup', 'verify', name, '--dir', dir, '--restore-test'], { url });
  expect(verify.exitCode, verify.stderr).toBe(1);
  expect(verify.stderr).not.toContain('could not be verified');
  const verified = JSON.parse(readFileSync(manifest, 'utf8')).verified;
  expect(verified.status).toBe('failed');
  expect(verified.detail).toMatch(/^restore-test: psql failed: /);
  const drills = readdirSync(dir).filter((f) => f.startsWith(`${name}.restore-drill-`));
  expect(drills).toHaveLength(1);
  expect(JSON.parse(readFileSync(path.join(dir, drills[0]), 'utf8')).result).toBe('fail');
  return verified.detail;
}

describe('backup verify decides by SQLSTATE, exit codes and signals, not by the words of a message', () => {
  const dbs = trackedDatabases();

  it('a backup that does not restore is FAILED although its failing row reads like a lost connection (custom and plain)', async () => {
    const db = await dbs.create('cmmc_vs_words');
    await query(db.url, UNRESTORABLE);
    for (const format of ['custom', 'plain'] as const) {
      const detail = await expectVerdict(db.url, `words-${format}`, format);
      expect(detail).toContain('violates check constraint');
    }
  });

  describe('on a server that speaks German (lc_messages)', () => {
    let cluster: TempCluster;
    beforeAll(async () => {
      cluster = await startTempCluster({ lc_messages: 'C.UTF-8' }, { env: { LANGUAGE: 'de' } });
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    async function database(name: string, script: string): Promise<string> {
      const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      await query(cluster.url(name), script);
      return cluster.url(name);
    }

    it('speaks German', async () => {
      await expect(query(cluster.url(), 'SELECT 1/0')).rejects.toThrow('Division durch Null');
    });

    it('a backup that does not restore is FAILED', async () => {
      const url = await database('unrestorable', UNRESTORABLE);
      const detail = await expectVerdict(url, 'german-verdict', 'custom');
      expect(detail).toContain('verletzt Check-Constraint');
    });

    it.each([
      ['cancelling its statement (57014, psql exit 3)', 'pg_cancel_backend', 'storniere Anfrage'],
      ['terminating its session (57P01, psql exit 2)', 'pg_terminate_backend', 'Verbindung wird abgebrochen'],
    ])('an operator %s during the restore test is this run’s failure: one line, the manifest and the drill records left as they were', async (_, stop, said) => {
      const url = await database(`slow_${stop}`, SLOW_IN_SCRATCH);
      const { dir, name, manifest } = await backup(url, `german-${stop}`, 'custom');
      const before = readFileSync(manifest, 'utf8');
      const tag = `vs${randomBytes(3).toString('hex')}`;
      const verifying = runCli(['backup', 'verify', name, '--dir', dir, '--restore-test'], { url, env: { CMMC_SCRATCH_TAG: tag } });
      const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
      try {
        // The restore test's session, loading the slow table in its scratch database.
        const loading = () => admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname LIKE ${`cmmc\\_scratch\\_${tag}\\_%`} AND query ILIKE '%COPY%'`;
        let pids: { pid: number }[] = [];
        for (let tries = 0; tries < 1200 && !pids.length; tries++) {
          pids = await loading();
          if (!pids.length) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(pids, 'the restore test loading its scratch database').not.toEqual([]);
        await admin.unsafe(`SELECT ${stop}($1)`, [pids[0].pid]);
        const r = await verifying;
        expect(r.exitCode, r.stderr).toBe(1);
        expect(errorLines(r.stderr), r.stderr).toEqual([expect.stringMatching(new RegExp(`${name} could not be verified \\(restore-test\\): .*${said}.*; ${name}'s manifest was left as it was`))]);
        expect(readFileSync(manifest, 'utf8')).toBe(before);
        expect(readdirSync(dir).filter((f) => f.includes('.restore-drill-'))).toEqual([]);
        expect(await admin`SELECT datname FROM pg_database WHERE datname LIKE ${`cmmc\\_scratch\\_${tag}\\_%`}`).toEqual([]);
      } finally {
        await admin.end();
      }
    });
  });
});
