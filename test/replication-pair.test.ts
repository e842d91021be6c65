/**
 * A primary and a hot standby streaming from it (pg_basebackup -R, test/helpers/temp-cluster.ts),
 * with no failover manager: what cmmc-db writes where, when the URL lists both or one of them.
 * The failover manager's own behaviour is test/high-availability.test.ts (pg_auto_failover).
 *
 * One pair for the file (about 3 s to make), the cases in order: the last ones promote the standby
 * (split brain with the old primary still up).
 */
import { mkdtempSync, rmSync } from 'node:fs';
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

});
