/**
 * Writes go to the one primary (src/db/writable.ts), for the commands that write outside the
 * connection seam too, and one server listed twice is not a split brain. A primary and a hot standby
 * of their own (pg_basebackup -R, test/helpers/temp-cluster.ts); test/replication-pair.test.ts has
 * upgrade, seed and restore on such a pair, and the real split brain.
 *
 * What was wrong:
 * - The same server listed twice (127.0.0.1 and localhost, or one host twice) was taken for two
 *   primaries: upgrade, seed and restore refused "split brain", and doctor replication.role failed.
 * - Through the pair's URL with the standby listed first, init made the database on the primary and
 *   then connected to it through the list: the standby had not replayed it yet, and init failed
 *   half-way ("cannot connect ... at any of the 2 hosts tried: ... not tried"). A scratch database
 *   did the same: backup verify --restore-test failed ("database cmmc_scratch_... does not exist").
 * - At a standby alone, init failed at its first CREATE ROLE ("read-only transaction"), not with the
 *   one line of every other command that writes.
 * - doctor --record through the pair's URL ran and recorded on the standby listed first, and failed
 *   "cannot record on a read-only server", the primary in the list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { startReplicationPair, type TempCluster } from './helpers/temp-cluster.js';

describe('writes on the one primary of a pair', () => {
  const DB = 'cmmc_pairw';
  let pairOf: Awaited<ReturnType<typeof startReplicationPair>>;
  let primary: TempCluster;
  let standby: TempCluster;
  const dirs: string[] = [];

  beforeAll(async () => {
    pairOf = await startReplicationPair(DB);
    ({ primary, standby } = pairOf);
  }, 120_000);
  afterAll(async () => {
    await pairOf?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  const tmpDir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'cmmc-pairw-'));
    dirs.push(d);
    return d;
  };
  /** Standby first, then the primary, no target_session_attrs. */
  const pair = (db: string, user = 'postgres') => `postgres://${user}@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/${db}`;

  it('one server listed twice (by address and by name, or the same host twice) is one primary: upgrade runs, doctor says so', async () => {
    for (const twice of [`127.0.0.1:${primary.port},localhost:${primary.port}`, `127.0.0.1:${primary.port},127.0.0.1:${primary.port}`]) {
      const url = `postgres://postgres@${twice}/${DB}`;
      const up = await runCli(['upgrade', 'head'], { url, timeoutMs: 90_000 });
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).not.toContain('split brain');
      const doctor = await runCliJson(['doctor', 'replication.role'], { url });
      expect(doctor.exitCode, doctor.stderr).toBe(0);
      expect(doctor.data.checks[0].status).toBe('ok');
      expect(doctor.data.checks[0].figure).toMatch(/ primary \(the same server as 127\.0\.0\.1:\d+\)$/);
    }
    // The pair itself is still told apart: a primary and a standby.
    const doctor = await runCliJson(['doctor', 'replication.role'], { url: pair(DB) });
    expect(doctor.data.checks[0].figure).toBe(`127.0.0.1:${standby.port} standby, 127.0.0.1:${primary.port} primary`);
  }, 180_000);

  it('init through the pair, standby first: the roles, database and schema on the primary, in one run', async () => {
    const url = pair('cmmc_pairw_init', 'pw_app:app-Pw-1');
    const init = await runCli(['init'], { url, env: { POSTGRES_USER: 'postgres' }, timeoutMs: 120_000 });
    expect(init.exitCode, init.stderr).toBe(0);
    const [{ n }] = await query<{ n: number }>(primary.url('cmmc_pairw_init'), 'SELECT count(*)::int AS n FROM cmmc_controls');
    expect(n).toBe(110);
  }, 180_000);

  it('upgrade through the pair just after the database was made on the primary, not yet on the standby listed first: waits for it', async () => {
    // The connect ends at the standby's "does not exist" (as libpq's); with several hosts that is a
    // moment of replay, waited for like a promotion, and said as what it is.
    await query(standby.url(), 'SELECT pg_wal_replay_pause()');
    try {
      await query(primary.url(), 'CREATE DATABASE cmmc_pairw_new');
      const running = runCli(['upgrade', 'head'], { url: pair('cmmc_pairw_new'), timeoutMs: 120_000 });
      await new Promise((r) => setTimeout(r, 3000));
      await query(standby.url(), 'SELECT pg_wal_replay_resume()');
      const up = await running;
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toContain('waiting up to 60 s for a writable primary: database "cmmc_pairw_new" does not exist on ');
    } finally {
      await query(standby.url(), 'SELECT pg_wal_replay_resume()').catch(() => {});
    }
  }, 180_000);

  it('init at a standby alone refuses in the one line of a command that writes, before writing', async () => {
    const init = await runCli(['init'], { url: `postgres://pw_other:x-Pw-1@127.0.0.1:${standby.port}/cmmc_pairw_other`, env: { POSTGRES_USER: 'postgres' } });
    expect(init.exitCode).toBe(1);
    expect(init.stderr).toMatch(new RegExp(`^error: 127\\.0\\.0\\.1:${standby.port} is a standby \\(in recovery\\): this command writes and needs the primary; nothing was written — `, 'm'));
    expect(init.stderr).not.toContain('read-only transaction');
  }, 60_000);

  it('backup verify --restore-test through the pair, standby first: the scratch database is made and used on the primary', async () => {
    const dir = tmpDir();
    const made = await runCliJson(['backup', '--dir', dir], { url: primary.url(DB) });
    expect(made.exitCode, made.stderr).toBe(0);
    const verified = await runCliJson(['backup', 'verify', made.data.name, '--dir', dir, '--restore-test'], { url: pair(DB) });
    expect(verified.exitCode, verified.stderr).toBe(0);
    expect(verified.data.checks.find((c: any) => c.id === 'restore-test').status).toBe('ok');
  }, 180_000);

  it('doctor --record through the pair, standby first: run and recorded on the primary', async () => {
    const rec = await runCliJson(['doctor', 'sizes', '--record'], { url: pair(DB) });
    expect(rec.data.recorded?.id, rec.stderr).toBeGreaterThan(0);
    const [{ n }] = await query<{ n: number }>(primary.url(DB), 'SELECT count(*)::int AS n FROM cmmc_db.doctor_runs');
    expect(n).toBe(1);
  }, 120_000);
});
