/**
 * A primary and a hot standby streaming from it (pg_basebackup -R, test/helpers/temp-cluster.ts),
 * with no failover manager: what cmmc-db writes where, what it says about a standby it reads or
 * backs up, and what doctor says about the standby's lag, when the URL lists both or one of them.
 * The failover manager's own behaviour is test/high-availability.test.ts (pg_auto_failover).
 *
 * One pair for the file (about 3 s to make), the cases in order: the last ones promote the standby
 * (split brain with the old primary still up) and take the primary away from a second standby.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BIN, cleanEnv, ROOT, runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { pgBin, startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const asRoot = process.getuid?.() === 0;
const pgCtl = (args: string[]) => (asRoot ? execa('runuser', ['-u', 'postgres', '--', pgBin('pg_ctl'), ...args]) : execa(pgBin('pg_ctl'), args));

describe('a primary and a hot standby, no failover manager', () => {
  let primary: TempCluster;
  let standby: TempCluster;
  const extra: TempCluster[] = [];
  const dirs: string[] = [];
  const DB = 'cmmc_pair';

  beforeAll(async () => {
    primary = await startTempCluster();
    await query(primary.url(), `CREATE DATABASE ${DB}`);
    standby = await startTempCluster({}, { standbyOf: primary });
  }, 120_000);

  afterAll(async () => {
    for (const c of [...extra, standby, primary]) await c?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  function tmpDir(): string {
    const d = mkdtempSync(path.join(os.tmpdir(), 'cmmc-pair-'));
    dirs.push(d);
    return d;
  }

  /** Both hosts, `first` listed first, with `attrs` as target_session_attrs (none when undefined). */
  const listing = (first: TempCluster, second: TempCluster, attrs?: string, db = DB) =>
    `postgres://postgres@127.0.0.1:${first.port},127.0.0.1:${second.port}/${db}${attrs ? `?target_session_attrs=${attrs}` : ''}`;

  /** Waits until `s` has replayed everything `p` wrote so far. */
  async function caughtUp(p: TempCluster = primary, s: TempCluster = standby): Promise<void> {
    const [{ lsn }] = await query<{ lsn: string }>(p.url(), 'SELECT pg_current_wal_lsn()::text AS lsn');
    for (let i = 0; i < 300; i++) {
      const [{ done }] = await query<{ done: boolean }>(s.url(), `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`);
      if (done) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the standby did not catch up');
  }

  /** The version table's rows on `c`, or null when there is no version table. */
  async function heads(c: TempCluster, db = DB): Promise<string | null> {
    const [{ there }] = await query<{ there: boolean }>(c.url(db), "SELECT to_regclass('cmmc_schema_version') IS NOT NULL AS there");
    return there ? (await query<{ heads: string }>(c.url(db), "SELECT string_agg(version_num, ',') AS heads FROM cmmc_schema_version"))[0].heads : null;
  }

  it('without target_session_attrs and the standby listed first, upgrade, seed and restore write to the primary', async () => {
    const url = listing(standby, primary);
    // libpq's default (any) takes the standby; a run that writes asks for read-write. It waited 60 s
    // for the standby to become writable and failed, with the primary in the list.
    const up = await runCli(['upgrade', 'head'], { url, timeoutMs: 90_000 });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).not.toContain('waiting');
    const seeded = await runCli(['seed'], { url });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
    const [{ controls }] = await query<{ controls: number }>(primary.url(DB), 'SELECT count(*)::int AS controls FROM cmmc_controls');
    expect(controls).toBe(110);

    const dir = tmpDir();
    const made = await runCliJson(['backup', '--dir', dir], { url: primary.url(DB) });
    expect(made.exitCode, made.stderr).toBe(0);
    await query(primary.url(DB), "INSERT INTO organizations (name, organization_type) VALUES ('after the backup', 'SMB')");
    // The restore builds a new database on the primary and runs pg_restore in it: with the whole list,
    // libpq stopped at the standby, which had not replayed that database yet ("does not exist").
    const restored = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url });
    expect(restored.exitCode, restored.stderr).toBe(0);
    const [{ n }] = await query<{ n: number }>(primary.url(DB), "SELECT count(*)::int AS n FROM organizations WHERE name = 'after the backup'");
    expect(n).toBe(0);
    for (const kept of await query<{ datname: string }>(primary.url(), "SELECT datname FROM pg_database WHERE datname LIKE 'cmmc_pair_pre_restore%'")) {
      await query(primary.url(), `DROP DATABASE "${kept.datname}"`);
    }
    await caughtUp();
  }, 180_000);

  it('at a standby alone, seed and restore refuse in one line before writing', async () => {
    const url = standby.url(DB);
    const seeded = await runCli(['seed'], { url });
    expect(seeded.exitCode).toBe(1);
    expect(seeded.stderr).toMatch(new RegExp(`^error: 127\\.0\\.0\\.1:${standby.port} is a standby \\(in recovery\\): this command writes and needs the primary; nothing was written — point the URL at the primary`, 'm'));
    expect(seeded.stderr).not.toContain('fix the file');

    const dir = tmpDir();
    const made = await runCliJson(['backup', '--dir', dir], { url: primary.url(DB) });
    const restored = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', 'cmmc_pair_copy', '--yes'], { url });
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/^error: 127\.0\.0\.1:\d+ is a standby \(in recovery\): this command writes and needs the primary; nothing was written — /)]);
    expect(restored.stderr).not.toContain('[25006]');
  }, 120_000);

  it('current and status at a standby say they read a standby, and how far behind it is', async () => {
    const url = standby.url(DB);
    const dir = tmpDir();
    const current = await runCli(['current'], { url });
    expect(current.exitCode, current.stderr).toBe(0);
    expect(current.stderr).toContain(`read on standby 127.0.0.1:${standby.port}: its version table is the primary's as of the WAL it has replayed`);
    const status = await runCli(['status', '--backup-dir', dir], { url });
    expect(status.stderr).toContain(`read on standby 127.0.0.1:${standby.port}`);
    // Caught up, on a primary gone idle whose WAL may end inside a record (flushed up to a page
    // boundary): the standby has that record's start and nothing to replay. It read "6.5 kB of WAL
    // behind its primary" here, and doctor "6.5 kB received and not yet replayed, 9s behind".
    expect(status.stderr).not.toContain('warning');
    const doctor = await runCliJson(['doctor', 'replication.lag'], { url: standby.url() });
    expect(doctor.data.checks[0]).toMatchObject({ status: 'ok', figure: 'this standby has 0 B received and not yet replayed' });
    const onPrimary = await runCli(['current'], { url: primary.url(DB) });
    expect(onPrimary.stderr).not.toContain('standby');
    await query(standby.url(), 'SELECT pg_wal_replay_pause()');
    try {
      await query(primary.url(DB), "INSERT INTO organizations (name, organization_type) VALUES ('not replayed', 'SMB')");
      await new Promise((r) => setTimeout(r, 500));
      const behind = await runCli(['current'], { url });
      expect(behind.stderr).toMatch(new RegExp(`warning: read on standby 127\\.0\\.0\\.1:${standby.port}: .*\\(up to [0-9A-F]+/[0-9A-F]+, [\\d.]+ k?B of WAL behind its primary, replay paused\\); the primary may be ahead`));
    } finally {
      await query(standby.url(), 'SELECT pg_wal_replay_resume()');
    }
    await caughtUp();
  }, 120_000);

  it('a backup the URL led to a standby says so and records it; --from-standby with replay held back says what the backup lacks', async () => {
    const dir = tmpDir();
    const plain = await runCliJson(['backup', '--dir', dir], { url: listing(standby, primary) });
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect(plain.data.source).toMatchObject({ role: 'standby', host: `127.0.0.1:${standby.port}`, streaming: true, replayPaused: false });
    expect(plain.stderr).toContain(`warning: 127.0.0.1:${standby.port} is a standby, not the primary: this backup was taken there`);

    await query(standby.url(), 'SELECT pg_wal_replay_pause()');
    try {
      await query(primary.url(DB), "INSERT INTO organizations (name, organization_type) SELECT 'late ' || g, 'SMB' FROM generate_series(1, 50) g");
      // The standby receives the insert (and cannot replay it).
      const [{ lsn }] = await query<{ lsn: string }>(primary.url(), 'SELECT pg_current_wal_lsn()::text AS lsn');
      for (let i = 0; i < 100; i++) {
        const [{ got }] = await query<{ got: boolean }>(standby.url(), `SELECT pg_last_wal_receive_lsn() >= '${lsn}'::pg_lsn AS got`);
        if (got) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const made = await runCliJson(['backup', '--from-standby', '--dir', dir], { url: listing(primary, standby, 'read-write') });
      expect(made.exitCode, made.stderr).toBe(0);
      const manifest = JSON.parse(readFileSync(made.data.manifestPath, 'utf8'));
      expect(manifest.source).toMatchObject({ role: 'standby', streaming: true, replayPaused: true });
      expect(manifest.source.behindBytes).toBeGreaterThan(0);
      expect(made.stderr).toMatch(new RegExp(`warning: standby 127\\.0\\.0\\.1:${standby.port} was [\\d.]+ k?B of WAL behind its primary \\([0-9A-F]+/[0-9A-F]+\\): the commits in that WAL are not in this backup`));
      expect(made.stderr).toContain('WAL replay is paused on standby');
      expect(made.stderr).not.toContain('is a standby, not the primary');
    } finally {
      await query(standby.url(), 'SELECT pg_wal_replay_resume()');
    }
    await caughtUp();
  }, 120_000);

  it('doctor on a standby whose replay a query holds back after an idle spell: the lag it can vouch for, not the idle time', async () => {
    await query(primary.url(DB), 'CREATE TABLE held (id int)');
    await caughtUp();
    // A query on the standby holds a lock that replaying the DROP below needs (replay waits up to
    // max_standby_streaming_delay, 30 s). The primary commits nothing for 5 s before the DROP.
    const sessionOnStandby = execa('psql', ['-X', '-q', standby.url(DB), '-c', 'BEGIN; SELECT count(*) FROM held; SELECT pg_sleep(25); COMMIT;'], { reject: false, env: cleanEnv({ PGAPPNAME: 'cmmc-pair-held' }) });
    try {
      for (let i = 0; (await query(standby.url(), "SELECT 1 FROM pg_stat_activity WHERE application_name = 'cmmc-pair-held' AND state = 'active'")).length === 0; i++) {
        if (i > 100) throw new Error('the query on the standby did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 5000));
      await query(primary.url(DB), 'DROP TABLE held');
      await new Promise((r) => setTimeout(r, 1000));
      const r = await runCliJson(['doctor', 'replication.lag', '--threshold', 'replication-lag-warn=3s'], { url: standby.url() });
      const lag = r.data.checks[0];
      // Measured from the last replayed commit (5 s idle + 1 s), it read 6 s behind and warned.
      expect(lag.rows[0].replay_lag_bytes).toBeGreaterThan(0);
      expect(lag.rows[0].replay_lag_seconds).toBeLessThan(3);
      expect(lag.rows[0].replay_lag_seconds_at_most).toBeGreaterThanOrEqual(5);
      expect(lag.status, lag.figure).toBe('ok');
      expect(lag.figure).toMatch(/^this standby has [\d.]+ k?B received and not yet replayed, between \d+(ms|s) and \ds behind \(the primary's pg_stat_replication has the exact figure\)$/);
    } finally {
      await query(standby.url(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cmmc-pair-held'");
      await sessionOnStandby;
    }
    await caughtUp();
  }, 120_000);

  it('doctor on a restarted standby of an idle primary: nothing waits for replay (it read a negative amount)', async () => {
    // Until new WAL arrives, the received position is the start of its segment, behind the replayed
    // one. WAL the primary writes on its own (a running-transactions record) ends that: tried again.
    const behindReplay = async () =>
      (await query<{ before: boolean | null }>(standby.url(), "SELECT pg_last_wal_receive_lsn() < pg_last_wal_replay_lsn() AS before FROM pg_stat_wal_receiver WHERE status = 'streaming'"))[0]?.before;
    let lag: any;
    for (let attempt = 0; attempt < 3 && !lag; attempt++) {
      await standby.crashAndRestart();
      let before: boolean | null | undefined;
      for (let i = 0; i < 100 && before === undefined; i++) {
        before = await behindReplay().catch(() => undefined);
        if (before === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      if (!before) continue;
      const r = await runCliJson(['doctor', 'replication.lag'], { url: standby.url() });
      if (await behindReplay()) lag = r.data.checks[0];
    }
    expect(lag, 'the received position never stayed behind the replayed one').toBeDefined();
    expect(lag.rows[0]).toMatchObject({ replay_lag_bytes: 0, pending_bytes: 0, replay_lag_seconds: 0 });
    expect(lag.figure).toMatch(/^this standby has 0 B received and not yet replayed/);
    expect(lag.figure).not.toMatch(/-\d/);
  }, 60_000);

  it('upgrade with target_session_attrs=read-write at a standby alone waits for its promotion instead of failing at once', async () => {
    const db = 'cmmc_pair_promote';
    await query(primary.url(), `CREATE DATABASE ${db}`);
    await caughtUp();
    // As the formation URL is during a failover: every host listed is a standby for a moment.
    const child = execa('node', [BIN, 'upgrade', 'head'], {
      cwd: ROOT,
      env: cleanEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${standby.port}/${db}?target_session_attrs=read-write` }),
      extendEnv: false,
      reject: false,
      timeout: 90_000,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let i = 0; !stderr.includes('for a writable primary') && child.exitCode === null; i++) {
      if (i > 400) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stderr).toContain(`waiting up to 60 s for a writable primary: the server at 127.0.0.1:${standby.port} does not suit target_session_attrs=read-write`);
    await pgCtl(['-D', standby.dataDir, '-w', 'promote']);
    const r = await child;
    expect(r.exitCode, stderr).toBe(0);
    expect(await heads(standby, db)).toBeTruthy();
    expect(await heads(primary, db)).toBeNull();
  }, 120_000);

  it('two primaries listed (the promoted standby and the old primary): upgrade and seed write to neither; doctor fails', async () => {
    // The standby was promoted above (promoted here when that case failed first), with the old primary still up: a split brain.
    if ((await query<{ r: boolean }>(standby.url(), 'SELECT pg_is_in_recovery() AS r'))[0].r) await pgCtl(['-D', standby.dataDir, '-w', 'promote']);
    const db = 'cmmc_pair_split';
    for (const c of [primary, standby]) await query(c.url(), `CREATE DATABASE ${db}`);
    const url = listing(primary, standby, 'read-write', db);
    const split = new RegExp(`^error: 127\\.0\\.0\\.1:${primary.port} and 127\\.0\\.0\\.1:${standby.port} both take writes \\(more than one primary: split brain\\); nothing was written — stop the one the failover manager does not consider primary`, 'm');
    const up = await runCli(['upgrade', 'head'], { url });
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toMatch(split);
    const seeded = await runCli(['seed'], { url: listing(primary, standby, undefined, db) });
    expect(seeded.exitCode).toBe(1);
    expect(seeded.stderr).toMatch(split);
    for (const c of [primary, standby]) expect(await heads(c, db)).toBeNull();
    const doctor = await runCliJson(['doctor', 'replication.role'], { url });
    expect(doctor.data.checks[0]).toMatchObject({ status: 'fail', figure: `127.0.0.1:${primary.port} primary, 127.0.0.1:${standby.port} primary` });
  }, 120_000);

  it('doctor on a standby whose primary is gone warns that it does not stream and falls behind', async () => {
    const orphan = await startTempCluster({}, { standbyOf: primary });
    extra.push(orphan);
    await pgCtl(['-D', primary.dataDir, '-m', 'fast', '-w', 'stop']);
    for (let i = 0; i < 100; i++) {
      if ((await query(orphan.url(), "SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'")).length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await runCliJson(['doctor', 'replication.lag'], { url: orphan.url() });
    const lag = r.data.checks[0];
    // It said "ok: 0 B received and not yet replayed".
    expect(lag.status).toBe('warn');
    expect(lag.figure).toMatch(/^this standby is not streaming from a primary: it has replayed WAL up to [0-9A-F]+\/[0-9A-F]+ and .*; it falls behind by whatever the primary writes$/);
    expect(lag.remedy).toMatch(/^check that its primary runs and lets it connect/);
    expect(lag.rows[0]).toMatchObject({ streaming: false });
    expect(r.exitCode).toBe(1);
  }, 120_000);
});
