/**
 * High availability against a real pg_auto_failover formation (test/helpers/formation.ts): a
 * monitor, a primary and a secondary on this machine. One formation for the file (it takes 7-20 s
 * to come up); each test makes its own database on it. The disruptive test (stopping the
 * secondary) runs last and brings the secondary back.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BIN, cleanEnv, ROOT, runCli, runCliJson } from './helpers/cli.js';
import { formationSkipReason, startFormation, type Formation, type FormationNode } from './helpers/formation.js';
import { adminQuery, query, uniqueName, urlFor } from './helpers/server.js';

const skip = formationSkipReason();
if (skip) console.warn(`high-availability tests skipped: ${skip}`);

describe.skipIf(Boolean(skip))('a pg_auto_failover formation', () => {
  let f: Formation;
  const dirs: string[] = [];
  const serverDbs: string[] = [];

  beforeAll(async () => {
    f = await startFormation();
  }, 150_000);

  afterAll(async () => {
    await f?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const db of serverDbs) await adminQuery(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  }, 60_000);

  /** A new database on the formation (made on the primary, replicated to the secondary). */
  async function formationDb(): Promise<string> {
    const name = uniqueName('cmmc_ha');
    const primary = await f.primary();
    await f.query(primary, `CREATE DATABASE "${name}"`);
    // Until the standby has replayed it, a session there fails "database does not exist", and libpq
    // does not try the next host after a server's error (nor does cmmc-db): a test must not race it.
    await caughtUp(primary, await f.secondary());
    return name;
  }

  /** Waits until the secondary has replayed everything the primary wrote so far. */
  async function caughtUp(primary: FormationNode, secondary: FormationNode): Promise<void> {
    const [{ lsn }] = await f.query<{ lsn: string }>(primary, 'SELECT pg_current_wal_lsn()::text AS lsn');
    for (let i = 0; i < 300; i++) {
      const [{ done }] = await f.query<{ done: boolean }>(secondary, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`);
      if (done) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the secondary did not catch up');
  }

  /** One quick revision. */
  function slowMigrationsQuick(): string {
    const dir = path.join(tmpDir(), 'migrations');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'bbbb00000001_one.sql'), `-- revision: bbbb00000001\n-- down_revision: none\n-- message: one\n-- migrate:up\nCREATE TABLE ha_quick (id int);\n-- migrate:down\nDROP TABLE ha_quick;\n`);
    return dir;
  }

  function tmpDir(): string {
    const d = mkdtempSync(path.join(os.tmpdir(), 'cmmc-ha-'));
    dirs.push(d);
    return d;
  }

  /** The formation's URL with the hosts in the order given (the formation hands them out primary first). */
  async function urlListing(db: string, first: FormationNode, second: FormationNode, attrs = 'read-write'): Promise<string> {
    return `postgres://postgres@127.0.0.1:${first.port},127.0.0.1:${second.port}/${db}?target_session_attrs=${attrs}&sslmode=disable`;
  }

  /**
   * Three SQL revisions. The second sleeps 90 s on the server listening on `slowOnPort` (the primary the
   * failover will demote: the failover ends that session, however long pg_autoctl takes under load) and not at
   * all elsewhere, so the run after the failover does not wait. A fixed 20 s sleep was once outlasted by a slow
   * failover in CI, and the run then applied everything before the failover landed.
   */
  function slowMigrations(slowOnPort: number): string {
    const dir = path.join(tmpDir(), 'migrations');
    mkdirSync(dir);
    const rev = (id: string, down: string, up: string, downSql: string) =>
      writeFileSync(
        path.join(dir, `${id}_${id.slice(0, 4)}.sql`),
        `-- revision: ${id}\n-- down_revision: ${down}\n-- message: ${id}\n-- migrate:up\n${up}\n-- migrate:down\n${downSql}\n`,
      );
    rev('aaaa00000001', 'none', 'CREATE TABLE ha_one (id int PRIMARY KEY);', 'DROP TABLE ha_one;');
    rev(
      'aaaa00000002',
      'aaaa00000001',
      `CREATE TABLE ha_two (id int PRIMARY KEY);\nINSERT INTO ha_two VALUES (1);\nSELECT pg_sleep(CASE WHEN inet_server_port() = ${slowOnPort} THEN 90 ELSE 0 END);`,
      'DROP TABLE ha_two;',
    );
    rev('aaaa00000003', 'aaaa00000002', 'CREATE TABLE ha_three (id int PRIMARY KEY);', 'DROP TABLE ha_three;');
    return dir;
  }

  it('the formation URL migrates, seeds and stamps on the primary, whichever host is listed first', async () => {
    const db = await formationDb();
    const primary = await f.primary();
    const secondary = await f.secondary();
    // As pg_autoctl hands it out, then with the standby first, then with target_session_attrs=primary.
    expect(await f.uri(db)).toBe(await urlListing(db, primary, secondary));
    const standbyFirst = await urlListing(db, secondary, primary);
    const up = await runCli(['upgrade', 'head'], { url: standbyFirst });
    expect(up.exitCode, up.stderr).toBe(0);
    const seeded = await runCli(['seed'], { url: await urlListing(db, secondary, primary, 'primary') });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
    const stamped = await runCli(['stamp', 'head', '--yes'], { url: standbyFirst });
    expect(stamped.exitCode, stamped.stderr).toBe(0);
    const [onPrimary] = await f.query<{ heads: string; controls: number }>(
      primary.url(db),
      'SELECT (SELECT string_agg(version_num, \',\') FROM cmmc_schema_version) AS heads, (SELECT count(*)::int FROM cmmc_controls) AS controls',
    );
    expect(onPrimary.controls).toBe(110);
    const current = await runCli(['current'], { url: standbyFirst });
    expect(current.stdout).toContain(onPrimary.heads);
    // Reads may go anywhere; the standby has the same, replayed.
    await caughtUp(primary, secondary);
    const [onStandby] = await f.query<{ controls: number }>(secondary.url(db), 'SELECT count(*)::int AS controls FROM cmmc_controls');
    expect(onStandby.controls).toBe(110);
  });

  it('a failover during upgrade head: the revision in flight is rolled back, one line names what was applied; the next run applies the rest, none twice, none lost', async () => {
    const db = await formationDb();
    const oldPrimary = await f.primary();
    const migrations = slowMigrations(oldPrimary.port);
    const oldSecondary = await f.secondary();
    const url = await urlListing(db, oldSecondary, oldPrimary);
    const env = { CMMC_MIGRATIONS_DIR: migrations };
    const running = runCli(['upgrade', 'head'], { url, env, timeoutMs: 120_000 });
    // Wait until the slow revision is in flight on the primary, then fail over.
    for (let i = 0; ; i++) {
      const rows = await f.query(oldPrimary.url(), `SELECT 1 FROM pg_stat_activity WHERE datname = '${db}' AND query LIKE '%pg_sleep(CASE%' AND state = 'active'`);
      if (rows.length) break;
      if (i > 600) throw new Error(`the slow revision never started: ${JSON.stringify(await Promise.race([running, new Promise((r) => setTimeout(() => r('still running'), 100))]))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await f.failover();
    const first = await running;
    expect(first.exitCode, first.stderr).toBe(1);
    const errors = first.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^error: the connection to PostgreSQL was lost during upgrade of revision aaaa00000002 \(aaaa00000002_aaaa\.sql\): .*; aaaa00000002 was rolled back and the database is consistent; applied before it in this run: aaaa00000001 — /,
    );
    expect(first.stderr).not.toMatch(/\n\s+at /);

    const newPrimary = await f.primary();
    expect(newPrimary.name).toBe(oldSecondary.name);
    const second = await runCli(['upgrade', 'head'], { url, env, timeoutMs: 120_000 });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toContain('applied 2 revisions');

    // On the new primary, and on the old one once it has rejoined as a standby: each revision applied once.
    const facts = `SELECT (SELECT string_agg(version_num, ',') FROM cmmc_schema_version) AS heads,
                          (SELECT string_agg(revision || ' ' || operation, ', ' ORDER BY id) FROM cmmc_db.revision_log) AS log,
                          (SELECT count(*)::int FROM ha_two) AS two, to_regclass('ha_three') IS NOT NULL AS three`;
    const expected = { heads: 'aaaa00000003', log: 'aaaa00000001 upgrade, aaaa00000002 upgrade, aaaa00000003 upgrade', two: 1, three: true };
    expect((await f.query(newPrimary.url(db), facts))[0]).toEqual(expected);
    await caughtUp(newPrimary, oldPrimary);
    expect((await f.query(oldPrimary.url(db), facts))[0]).toEqual(expected);
  });

  it('right after a failover, upgrade waits for a writable primary instead of failing', async () => {
    const db = await formationDb();
    const standby = await f.secondary();
    // Only the standby is listed: the run has to wait until it is promoted.
    const child = execa('node', [BIN, 'upgrade', 'head'], {
      cwd: ROOT,
      env: cleanEnv({ DATABASE_URL: standby.url(db), CMMC_MIGRATIONS_DIR: slowMigrationsQuick() }),
      extendEnv: false,
      reject: false,
      timeout: 120_000,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let i = 0; !stderr.includes('for a writable primary'); i++) {
      if (i > 600) throw new Error(`the run did not wait: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stderr).toContain(`waiting up to 60 s for a writable primary: 127.0.0.1:${standby.port} is a standby (in recovery)`);
    await f.failover();
    const r = await child;
    expect(r.exitCode, stderr).toBe(0);
    expect(stderr).toContain('applied 1 revision');
  });

  it('health and doctor replication.role report each host of the formation URL and its role', async () => {
    const primary = await f.primary();
    const secondary = await f.secondary();
    const r = await runCliJson(['health'], { url: await urlListing('postgres', secondary, primary) });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.hosts).toEqual([
      { host: `127.0.0.1:${secondary.port}`, role: 'standby' },
      { host: `127.0.0.1:${primary.port}`, role: 'primary' },
    ]);
    const doctor = await runCliJson(['doctor', 'replication.role'], { url: await urlListing('postgres', secondary, primary) });
    expect(doctor.data.checks[0]).toMatchObject({ status: 'ok', figure: `127.0.0.1:${secondary.port} standby, 127.0.0.1:${primary.port} primary` });
    const text = await runCli(['health'], { url: await f.uri() });
    expect(text.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${primary.port}\\s+primary`));
    expect(text.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${secondary.port}\\s+standby`));
  });

  it('doctor on the primary: its role, each standby with its replay lag in bytes and seconds, the slots, asynchronous replication', async () => {
    const primary = await f.primary();
    const secondary = await f.secondary();
    const r = await runCliJson(['doctor', 'replication'], { url: primary.url() });
    const byId = Object.fromEntries(r.data.checks.map((c: any) => [c.id, c]));
    expect(byId['replication.role'].figure).toContain(`127.0.0.1:${primary.port} is a primary with 1 standby`);
    expect(byId['replication.role'].rows).toEqual(expect.arrayContaining([expect.objectContaining({ role: 'standby', state: 'streaming', sync_state: 'async' })]));
    const lag = byId['replication.lag'];
    expect(lag.status).toBe('ok');
    expect(lag.rows).toHaveLength(1);
    expect(typeof lag.rows[0].replay_lag_bytes).toBe('number');
    expect(typeof lag.rows[0].replay_lag_seconds).toBe('number');
    expect(lag.figure).toMatch(/behind/);
    // pg_auto_failover keeps one slot per standby on the primary; it is active while the standby streams.
    expect(byId['replication.slots'].status).toBe('ok');
    expect(byId['replication.slots'].rows).toEqual([expect.objectContaining({ slot: `pgautofailover_standby_${secondary.name === 'n2' ? 2 : 1}`, active: true })]);
    expect(byId['replication.synchronous']).toMatchObject({ status: 'ok' });
    expect(byId['replication.synchronous'].figure).toContain('asynchronous replication');
    expect(byId['replication.archiving'].figure).toBe('WAL archiving is off');
    expect(r.exitCode).toBe(0);

    const s = await runCliJson(['doctor', 'replication.role', 'replication.lag', 'replication.slots'], { url: secondary.url() });
    const sById = Object.fromEntries(s.data.checks.map((c: any) => [c.id, c]));
    expect(sById['replication.role'].figure).toContain(`127.0.0.1:${secondary.port} is a standby (in recovery), streaming from 127.0.0.1:${primary.port}`);
    expect(sById['replication.lag'].rows[0]).toMatchObject({ replay_lag_bytes: expect.any(Number), replay_lag_seconds: expect.any(Number), pending_bytes: expect.any(Number), streaming: true, replay_paused: false });
    // The standby's own slot (kept for after a failover) is inactive and that is not a warning.
    expect(sById['replication.slots'].status).toBe('ok');
  });

  it('backup --from-standby dumps the standby, records it and its WAL position, and restores', async () => {
    const db = await formationDb();
    const primary = await f.primary();
    const secondary = await f.secondary();
    const up = await runCli(['upgrade', 'head'], { url: primary.url(db) });
    expect(up.exitCode, up.stderr).toBe(0);
    await f.query(primary.url(db), `INSERT INTO organizations (name, organization_type) SELECT 'org ' || g, 'SMB' FROM generate_series(1, 25) g`);
    await caughtUp(primary, secondary);
    const [{ lsn: before }] = await f.query<{ lsn: string }>(secondary, 'SELECT pg_last_wal_replay_lsn()::text AS lsn');

    const dir = tmpDir();
    const made = await runCliJson(['backup', '--from-standby', '--dir', dir], { url: secondary.url(db) });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.data.source).toEqual({
      role: 'standby',
      host: `127.0.0.1:${secondary.port}`,
      walReplayLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
      walReceiveLsn: expect.any(String),
      lastReplayAt: expect.any(String),
      streaming: true,
      primaryWalLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
      behindBytes: expect.any(Number),
      replayPaused: false,
    });
    const manifest = JSON.parse(readFileSync(made.data.manifestPath, 'utf8'));
    expect(manifest.source.role).toBe('standby');
    expect(manifest.server.host).toBe(`127.0.0.1:${secondary.port}`);
    const [{ ok }] = await f.query<{ ok: boolean }>(secondary, `SELECT '${manifest.source.walReplayLsn}'::pg_lsn >= '${before}'::pg_lsn AS ok`);
    expect(ok).toBe(true);
    expect(made.stderr).toContain(`from standby 127.0.0.1:${secondary.port} at WAL ${manifest.source.walReplayLsn}`);

    // The backup restores on another server (the shared test server) with every row.
    const target = uniqueName('cmmc_ha_restored');
    serverDbs.push(target);
    const restored = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target, '--yes'], { url: urlFor('postgres') });
    expect(restored.exitCode, restored.stderr).toBe(0);
    const [{ n }] = await query<{ n: number }>(urlFor(target), 'SELECT count(*)::int AS n FROM organizations');
    expect(n).toBe(25);
    const [{ heads }] = await query<{ heads: string }>(urlFor(target), 'SELECT string_agg(version_num, \',\') AS heads FROM cmmc_schema_version');
    expect(heads).toBe(made.data.revision.join(','));
  });

  it('backup --from-standby against a primary says so in one line and keeps nothing', async () => {
    const primary = await f.primary();
    const dir = tmpDir();
    const r = await runCli(['backup', '--from-standby', '--dir', dir], { url: primary.url() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: no standby answered at .*: each host is a primary or did not answer/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('doctor fires when the synchronous standby is gone: synchronous fails (exit 2), the slot turns inactive', async () => {
    const secondary = await f.secondary();
    const primary = await f.primary();
    await f.setReplicationQuorum(secondary, true);
    try {
      const on = await runCliJson(['doctor', 'replication.synchronous'], { url: primary.url() });
      expect(on.data.checks[0]).toMatchObject({ status: 'ok' });
      expect(on.data.checks[0].figure).toMatch(/pgautofailover_standby_\d \((quorum|sync)\) connected for synchronous_standby_names = 'ANY 1/);

      await f.stopNode(secondary);
      // The monitor drops the lost standby from synchronous_standby_names after about 20 s: the
      // doctor runs well within that.
      const off = await runCliJson(['doctor', 'replication'], { url: primary.url() });
      const byId = Object.fromEntries(off.data.checks.map((c: any) => [c.id, c]));
      expect(byId['replication.synchronous'].status).toBe('fail');
      expect(byId['replication.synchronous'].figure).toMatch(/^synchronous_standby_names = 'ANY 1 \(pgautofailover_standby_\d\)' but no synchronous standby is connected: commits wait$/);
      expect(byId['replication.slots'].status).toBe('warn');
      expect(byId['replication.slots'].figure).toMatch(/^1 inactive slot: pgautofailover_standby_\d retains/);
      expect(byId['replication.lag'].figure).toBe('no standby connected');
      expect(off.exitCode).toBe(2);
    } finally {
      await f.startNode(secondary);
      await f.setReplicationQuorum(secondary, false);
    }
  });
});
