/**
 * doctor on the real server: sessions idle in transaction, blocked queries, the view of a role
 * without pg_monitor, and kill-idle (which ends only the test's own idle session, and nothing
 * without --yes). The sessions are opened by the test; each test uses its own database.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, urlFor, type TestDatabase } from './helpers/server.js';
import { holdTransaction, openSession, sleep, waitFor, type Session } from './helpers/doctor-sessions.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';
import { startCliInPty } from './helpers/pty-session.js';

function check(data: any, id: string): any {
  return data.checks.find((c: any) => c.id === id);
}

async function alive(pid: number): Promise<boolean> {
  const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${Number(pid)}`);
  return rows[0].n === 1;
}

describe('doctor: connections', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!().catch(() => {});
  });
  async function database(prefix: string): Promise<TestDatabase> {
    const tdb = await createTestDatabase(prefix);
    cleanup.push(() => tdb.drop());
    return tdb;
  }

  it('a session idle in transaction past the threshold warns, with its pid; under the default 1 minute it does not', async () => {
    const tdb = await database('doctor_iit');
    const held = await holdTransaction(tdb.url, ['SELECT 1']);
    cleanup.push(() => held.release());
    await sleep(1200);
    const r = await runCliJson(['doctor', 'connections.idle-in-transaction', '--threshold', 'idle-in-transaction=1s'], { url: tdb.url });
    const c = check(r.data, 'connections.idle-in-transaction');
    expect(c.status).toBe('warn');
    expect(c.rows.map((x: any) => x.pid)).toEqual([held.pid]);
    expect(c.remedy).toContain('idle_in_transaction_session_timeout');
    expect(r.exitCode).toBe(1);

    const dflt = await runCliJson(['doctor', 'connections.idle-in-transaction'], { url: tdb.url });
    expect(check(dflt.data, 'connections.idle-in-transaction').status).toBe('ok');
    expect(dflt.exitCode).toBe(0);
  });

  it('a check that gives up waiting for a lock names the session holding it (connections.blocked cannot: the doctor no longer waits)', async () => {
    const tdb = await database('doctor_lck');
    const setup = postgres(tdb.url, { max: 1, onnotice: () => {} });
    await setup`CREATE TABLE ledger (id int PRIMARY KEY)`;
    await setup.end();
    const holder = await holdTransaction(tdb.url, ['LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE'], 'nightly-migration');
    cleanup.push(() => holder.release());
    const r = await runCliJson(['doctor', 'sizes.tables', 'connections.blocked'], { url: tdb.url });
    const sizes = check(r.data, 'sizes.tables');
    expect(sizes.status).toBe('unknown');
    expect(sizes.remedy).toContain(`pid ${holder.pid} (postgres, nightly-migration, idle in transaction, its transaction open `);
    expect(sizes.remedy).toMatch(new RegExp(`holds ACCESS EXCLUSIVE on ledger: let it finish, or end it \\(SELECT pg_terminate_backend\\(${holder.pid}\\)\\), and run the doctor again$`));
    expect(check(r.data, 'connections.blocked').figure).toBe('no query blocked');
  });

  it('a check that had read some rows before it gave up on a lock names the holder too (no blank entries, no pg_terminate_backend(undefined))', async () => {
    const tdb = await database('doctor_lck_rows');
    const setup = postgres(tdb.url, { max: 1, onnotice: () => {} });
    // indexes.duplicate reads every index with its size: those of "accounts" come first, then the
    // size of ledger's index waits for the lock until the doctor's lock_timeout.
    await setup`CREATE TABLE accounts (id int PRIMARY KEY, code text UNIQUE, owner int)`;
    await setup`CREATE INDEX accounts_owner ON accounts (owner)`;
    await setup`CREATE TABLE ledger (id int PRIMARY KEY)`;
    await setup.end();
    const holder = await holdTransaction(tdb.url, ['LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE'], 'nightly-migration');
    cleanup.push(() => holder.release());
    const r = await runCliJson(['doctor', 'indexes.duplicate'], { url: tdb.url });
    const dup = check(r.data, 'indexes.duplicate');
    expect(dup.status).toBe('unknown');
    expect(dup.remedy).toMatch(
      new RegExp(`lock_timeout\\): pid ${holder.pid} \\(postgres, nightly-migration, idle in transaction, its transaction open [^)]*\\) holds ACCESS EXCLUSIVE on ledger: let it finish, or end it \\(SELECT pg_terminate_backend\\(${holder.pid}\\)\\), and run the doctor again$`),
    );
  });

  it('a blocked query is reported with the session that blocks it', async () => {
    const tdb = await database('doctor_blk');
    const setup = postgres(tdb.url, { max: 1, onnotice: () => {} });
    await setup`CREATE TABLE accounts (id int PRIMARY KEY, balance int)`;
    await setup`INSERT INTO accounts VALUES (1, 100)`;
    await setup.end();

    const blocker = await holdTransaction(tdb.url, ['UPDATE accounts SET balance = balance + 1 WHERE id = 1']);
    cleanup.push(() => blocker.release());
    const waiter: Session = await openSession(tdb.url);
    cleanup.push(() => waiter.end());
    const pending = waiter.sql`UPDATE accounts SET balance = balance - 1 WHERE id = 1`.catch(() => {});
    await waitFor(async () => {
      const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${waiter.pid} AND wait_event_type = 'Lock'`);
      return rows[0].n === 1;
    }, 10_000, 'the UPDATE to wait on the lock');

    const r = await runCliJson(['doctor', 'connections'], { url: tdb.url });
    const b = check(r.data, 'connections.blocked');
    expect(b.status).toBe('warn');
    expect(b.rows).toHaveLength(1);
    expect(b.rows[0].blocked_pid).toBe(waiter.pid);
    expect(b.rows[0].blocked_by).toEqual([blocker.pid]);
    expect(b.rows[0].blocker_queries).toContain('UPDATE accounts SET balance = balance + 1');
    expect(b.figure).toContain(`pid ${waiter.pid} by ${blocker.pid}`);
    expect(check(r.data, 'connections.usage').status).toBe('ok');
    expect(r.exitCode).toBe(1);

    await blocker.release();
    await pending;
    const after = await runCliJson(['doctor', 'connections.blocked'], { url: tdb.url });
    expect(check(after.data, 'connections.blocked').status).toBe('ok');
  });

  it('a transaction kept open by a stream of short statements is reported (it holds the xmin horizon), although it is never idle or running long', async () => {
    const tdb = await database('doctor_longtx');
    await query(tdb.url, 'CREATE TABLE ticks (n int)');
    const busy = await openSession(tdb.url, 'doctor-chatty');
    cleanup.push(() => busy.end());
    let stop = false;
    const chatter = busy.sql
      .begin(async (tx) => {
        await tx`SELECT txid_current()`;
        while (!stop) {
          await tx`INSERT INTO ticks VALUES (1)`;
          await sleep(200);
        }
      })
      .catch(() => {});
    try {
      await sleep(2500);
      const thresholds = ['--threshold', 'idle-in-transaction=1s', '--threshold', 'long-query=1s', '--threshold', 'long-transaction=2s'];
      const r = await runCliJson(['doctor', 'connections', ...thresholds], { url: tdb.url });
      expect(check(r.data, 'connections.idle-in-transaction').status).toBe('ok');
      expect(check(r.data, 'connections.long-running').status).toBe('ok');
      const t = check(r.data, 'connections.long-transactions');
      expect(t.status).toBe('warn');
      expect(t.rows.map((x: any) => x.pid)).toEqual([busy.pid]);
      expect(t.rows[0].xmin_age).toBeGreaterThanOrEqual(1);
      expect(t.figure).toContain(`pid ${busy.pid} (postgres, doctor-chatty, open `);
      expect(t.remedy).toContain('idle_in_transaction_session_timeout does not end it');
      expect(r.exitCode).toBe(1);
      // Under the default (5 minutes) it is not.
      expect(check((await runCliJson(['doctor', 'connections.long-transactions'], { url: tdb.url })).data, 'connections.long-transactions').status).toBe('ok');
    } finally {
      stop = true;
      await chatter;
    }
  });

  it('a lock queue three deep names the session at its head, the one to end to release the whole queue', async () => {
    const tdb = await database('doctor_queue');
    await query(tdb.url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)');
    // The head: a transaction left open after an UPDATE (ROW EXCLUSIVE on accounts).
    const head = await holdTransaction(tdb.url, ['UPDATE accounts SET balance = balance + 1 WHERE id = 1'], 'doctor-head');
    cleanup.push(() => head.release());
    // A migration queues for ACCESS EXCLUSIVE behind it, and a plain read queues behind the migration.
    const migration = await openSession(tdb.url, 'doctor-migration');
    const reader = await openSession(tdb.url, 'doctor-reader');
    cleanup.push(() => migration.end(), () => reader.end());
    const altering = migration.sql.unsafe('ALTER TABLE accounts ADD COLUMN note text').catch(() => {});
    await waitFor(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = ${migration.pid} AND wait_event_type = 'Lock'`)).length === 1, 10_000, 'the ALTER to wait');
    const reading = reader.sql`SELECT count(*) FROM accounts`.catch(() => {});
    await waitFor(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = ${reader.pid} AND wait_event_type = 'Lock'`)).length === 1, 10_000, 'the read to wait');

    const r = await runCliJson(['doctor', 'connections.blocked'], { url: tdb.url });
    const b = check(r.data, 'connections.blocked');
    expect(b.figure).toContain(`pid ${migration.pid} by ${head.pid}`);
    expect(b.figure).toContain(`pid ${reader.pid} by ${migration.pid}`);
    expect(b.figure).toContain(`head of the queue: pid ${head.pid} (idle in transaction`);
    expect(b.remedy).toContain(`SELECT pg_terminate_backend(${head.pid})`);
    expect(b.rows.find((x: any) => x.blocked_pid === reader.pid).head_of_queue).toEqual([head.pid]);
    await head.release();
    await Promise.all([altering, reading]);
  });

  it("a blocked query's wait is counted from when it began to wait for the lock, not from when its statement started", async () => {
    const tdb = await database('doctor_wait');
    await query(tdb.url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)');
    const blocker = await holdTransaction(tdb.url, ['UPDATE accounts SET balance = balance + 1 WHERE id = 1']);
    cleanup.push(() => blocker.release());
    const waiter: Session = await openSession(tdb.url, 'doctor-slow-then-blocked');
    cleanup.push(() => waiter.end());
    // Works 4 seconds, then waits for the row lock.
    const pending = waiter.sql.unsafe('DO $$ BEGIN PERFORM pg_sleep(4); UPDATE accounts SET balance = balance - 1 WHERE id = 1; END $$').catch(() => {});
    await waitFor(async () => (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE pid = ${waiter.pid} AND wait_event_type = 'Lock'`)).length === 1, 15_000, 'the UPDATE to wait on the lock');
    const r = await runCliJson(['doctor', 'connections.blocked'], { url: tdb.url });
    const b = check(r.data, 'connections.blocked');
    expect(b.rows.map((x: any) => x.blocked_pid)).toEqual([waiter.pid]);
    const [{ ms }] = await adminQuery<{ ms: number }>(`SELECT (extract(epoch FROM now() - min(waitstart)) * 1000)::float8 AS ms FROM pg_locks WHERE pid = ${waiter.pid} AND NOT granted`);
    expect(b.rows[0].waiting_ms).toBeLessThanOrEqual(ms);
    expect(b.rows[0].waiting_ms).toBeLessThan(4000);
    expect(b.rows[0].waiting).toMatch(/^(\d+ms|[0-3]s)$/);
    await blocker.release();
    await pending;
  });

  it('a role without pg_monitor: connections.usage counts the sessions it cannot see into, and the per-session checks are unknown (exit 3), not ok, while other roles\' sessions are hidden', async () => {
    const tdb = await database('doctor_blind');
    const role = `doctor_blind_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    cleanup.push(() => adminQuery(`DROP ROLE IF EXISTS ${role}`));
    const u = new URL(tdb.url);
    u.username = role;
    const held = await holdTransaction(tdb.url, ['SELECT 1'], 'doctor-hidden-iit');
    cleanup.push(() => held.release());
    const runner = await openSession(tdb.url, 'doctor-hidden-runner');
    cleanup.push(() => runner.end());
    const running = runner.sql`SELECT pg_sleep(30)`.catch(() => {});
    await sleep(1200);

    const r = await runCliJson(['doctor', 'connections', '--threshold', 'idle-in-transaction=1s', '--threshold', 'long-query=1s'], { url: u.toString() });
    const usage = check(r.data, 'connections.usage');
    const hidden = usage.rows.find((x: any) => x.state.startsWith('hidden'));
    // Its own session, and at least the two it cannot see into.
    expect(hidden?.connections).toBeGreaterThanOrEqual(2);
    const [{ n }] = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`);
    expect(usage.figure).toMatch(/^\d+ of \d+/);
    expect(Number(usage.figure.split(' ')[0])).toBeGreaterThanOrEqual(3);
    expect(Math.abs(Number(usage.figure.split(' ')[0]) - n)).toBeLessThanOrEqual(10);
    for (const id of ['connections.idle-in-transaction', 'connections.long-running']) {
      const c = check(r.data, id);
      expect(c.status, id).toBe('unknown');
      expect(c.figure, id).toMatch(/\d+ sessions? of other roles in this database hidden/);
      expect(c.remedy, id).toBe(`GRANT pg_monitor TO ${role}`);
    }
    expect(r.exitCode).toBe(3);

    // pg_monitor sees them: the same run warns, naming them.
    await adminQuery(`GRANT pg_monitor TO ${role}`);
    const seen = await runCliJson(['doctor', 'connections', '--threshold', 'idle-in-transaction=1s', '--threshold', 'long-query=1s'], { url: u.toString() });
    expect(check(seen.data, 'connections.idle-in-transaction').rows.map((x: any) => x.pid)).toEqual([held.pid]);
    expect(check(seen.data, 'connections.long-running').rows.map((x: any) => x.pid)).toEqual([runner.pid]);
    expect(seen.data.limited).toBeNull();
    expect(seen.exitCode).toBe(1);
    await adminQuery(`SELECT pg_cancel_backend(${runner.pid})`);
    await running;
  });

  it('a long-running query warns; connections over the share of max_connections warn and fail', async () => {
    const tdb = await database('doctor_long');
    const runner = await openSession(tdb.url, 'doctor-long-runner');
    cleanup.push(() => runner.end());
    const running = runner.sql`SELECT pg_sleep(30)`.catch(() => {});
    await waitFor(async () => {
      const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${runner.pid} AND state = 'active' AND now() - query_start > interval '1 second'`);
      return rows[0].n === 1;
    }, 10_000, 'the query to run for a second');
    const r = await runCliJson(['doctor', 'connections', '--threshold', 'long-query=1s', '--threshold', 'connections-warn=0'], { url: tdb.url });
    const l = check(r.data, 'connections.long-running');
    expect(l.status).toBe('warn');
    expect(l.rows.map((x: any) => x.pid)).toEqual([runner.pid]);
    expect(l.rows[0].query).toContain('pg_sleep(30)');
    expect(check(r.data, 'connections.usage').status).toBe('warn');
    const f = await runCliJson(['doctor', 'connections.usage', '--threshold', 'connections-fail=0'], { url: tdb.url });
    expect(check(f.data, 'connections.usage').status).toBe('fail');
    expect(f.exitCode).toBe(2);
    await adminQuery(`SELECT pg_cancel_backend(${runner.pid})`);
    await running;
  });

  it('a lock held on a table cannot hang the doctor: the check gives up after its lock_timeout', async () => {
    const tdb = await database('doctor_lock');
    const setup = postgres(tdb.url, { max: 1, onnotice: () => {} });
    await setup`CREATE TABLE busy (id int)`;
    await setup.end();
    const locker = await holdTransaction(tdb.url, ['LOCK TABLE busy IN ACCESS EXCLUSIVE MODE']);
    cleanup.push(() => locker.release());
    const r = await runCliJson(['doctor', 'sizes', 'connections.blocked'], { url: tdb.url });
    const s = check(r.data, 'sizes.tables');
    expect(s.status).toBe('unknown');
    expect(s.figure).toContain('could not run: canceling statement due to lock timeout');
    expect(s.remedy).toContain('lock_timeout');
    // The other checks still ran; nothing warned, so the run is "unknown" (exit 3).
    expect(check(r.data, 'connections.blocked').status).toBe('ok');
    expect(r.exitCode).toBe(3);
  });

  it('kill-idle lists the idle session of a normal role, ends it only with --yes, and spares superusers, listeners and other databases', async () => {
    const tdb = await database('doctor_kill');
    const other = await database('doctor_kill_other');
    const role = `doctor_idle_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    cleanup.push(() => adminQuery(`DROP ROLE IF EXISTS ${role}`));
    const roleUrl = (db: string) => {
      const u = new URL(urlFor(db));
      u.username = role;
      return u.toString();
    };

    const victim = await openSession(roleUrl(tdb.name), 'doctor-victim');
    const superuser = await openSession(tdb.url, 'doctor-superuser');
    const elsewhere = await openSession(roleUrl(other.name), 'doctor-elsewhere');
    const listener = await openSession(roleUrl(tdb.name), 'doctor-listener');
    await listener.sql.unsafe('LISTEN doctor_channel');
    const busy = await holdTransaction(roleUrl(tdb.name), ['SELECT 1'], 'doctor-in-transaction');
    for (const s of [victim, superuser, elsewhere, listener]) cleanup.push(() => s.end());
    cleanup.push(() => busy.release());
    await sleep(1200);

    // Without a terminal and without --yes: refused, nothing ended; --dry-run lists.
    const refused = await runCli(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle'], { url: tdb.url });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('refusing without confirmation');
    expect(await alive(victim.pid)).toBe(true);
    const dry = await runCliJson(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle', '--dry-run'], { url: tdb.url });
    expect(dry.exitCode).toBe(0);
    expect(dry.data.dryRun).toBe(true);
    expect(dry.data.matched.map((m: any) => m.pid)).toEqual([victim.pid]);
    expect(dry.data.matched[0]).toMatchObject({ user: role, application: 'doctor-victim', state: 'idle' });
    expect(dry.data.terminated).toEqual([]);
    expect(await alive(victim.pid)).toBe(true);

    const text = await runCli(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle', '--dry-run'], { url: tdb.url });
    expect(text.stdout).toContain(String(victim.pid));
    expect(text.stderr).toContain('nothing terminated (run again with --yes');
    expect(text.stderr).toContain('idle_session_timeout');

    // A role that may see every session but not signal them: the failure is reported, nothing ends.
    const watcher = `${role}_watch`;
    await adminQuery(`CREATE ROLE ${watcher} LOGIN IN ROLE pg_read_all_stats`);
    cleanup.push(() => adminQuery(`DROP ROLE IF EXISTS ${watcher}`));
    const watcherUrl = new URL(urlFor(tdb.name));
    watcherUrl.username = watcher;
    const denied = await runCliJson(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle', '--yes'], { url: watcherUrl.toString() });
    expect(denied.exitCode).toBe(1);
    expect(denied.data.terminated).toEqual([]);
    expect(denied.data.failed.map((f: any) => f.pid)).toEqual([victim.pid]);
    expect(denied.stderr).toContain('pg_signal_backend');
    expect(await alive(victim.pid)).toBe(true);

    // With --yes: exactly the victim.
    const kill = await runCliJson(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle', '--yes'], { url: tdb.url });
    expect(kill.exitCode).toBe(0);
    expect(kill.data.terminated).toEqual([victim.pid]);
    await waitFor(async () => !(await alive(victim.pid)), 10_000, 'the idle session to end');
    for (const s of [superuser, elsewhere, listener, busy]) expect(await alive(s.pid)).toBe(true);

    // The states and the scope widen only when asked.
    const iit = await runCliJson(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle-in-transaction', '--dry-run'], { url: tdb.url });
    expect(iit.data.matched.map((m: any) => m.pid)).toEqual([busy.pid]);
    const wide = await runCliJson(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle', '--all-databases', '--include-superusers', '--dry-run'], { url: tdb.url });
    const widePids = wide.data.matched.map((m: any) => m.pid);
    expect(widePids).toContain(superuser.pid);
    expect(widePids).toContain(elsewhere.pid);
    expect(widePids).not.toContain(listener.pid);

    // A role without pg_monitor is told what it could not see.
    const limited = await runCliJson(['doctor', 'connections'], { url: roleUrl(tdb.name) });
    expect(limited.data.limited).toContain(`GRANT pg_monitor TO ${role}`);
    expect(limited.stderr).toContain('is not a member of pg_monitor');
  });

  it('kill-idle on a terminal ends exactly the sessions of the plan it asked about: one that went idle while the question waited is left alone', async () => {
    const tdb = await database('doctor_kill_plan');
    const role = `doctor_plan_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    cleanup.push(() => adminQuery(`DROP ROLE IF EXISTS ${role}`));
    const u = new URL(tdb.url);
    u.username = role;
    const planned = await openSession(u.toString(), 'doctor-planned');
    cleanup.push(() => planned.end());
    await sleep(1200);
    const s = startCliInPty(['doctor', 'kill-idle', '--older-than', '1s', '--state', 'idle'], { url: tdb.url });
    await s.waitFor(/Go ahead\? \[y\/N\]/);
    expect(s.output()).toContain(`pid ${planned.pid} `);
    // While the user reads the plan, another session goes idle past the threshold.
    const late = await openSession(u.toString(), 'doctor-late');
    cleanup.push(() => late.end());
    await sleep(1500);
    s.type('y\r');
    const r = await s.done;
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toContain(`terminated 1 of 1: pid ${planned.pid}`);
    await waitFor(async () => !(await alive(planned.pid)), 10_000, 'the planned session to end');
    expect(await alive(late.pid)).toBe(true);
  });

  it('doctor --health prints the pool report of cmmc-db health', async () => {
    const tdb = await database('doctor_health');
    const r = await runCliJson(['doctor', '--health'], { url: tdb.url });
    expect(r.exitCode).toBe(0);
    expect(r.data).toMatchObject({ status: 'ok', database: tdb.name, pool: { min: 5, max: 20 } });
    const h = await runCliJson(['health'], { url: tdb.url });
    expect(Object.keys(r.data).sort()).toEqual(Object.keys(h.data).sort());
  });
});

describe('doctor: a prepared transaction left open (no session shows it)', () => {
  // PREPARE TRANSACTION needs max_prepared_transactions > 0: a cluster of the test's own.
  let cluster: TempCluster;
  beforeAll(async () => {
    cluster = await startTempCluster({ max_prepared_transactions: '4' });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('connections.prepared names it; a check stopped by its lock and connections.blocked name it as a prepared transaction, with COMMIT/ROLLBACK PREPARED (they said "the lock was released meanwhile" and "by 0")', async () => {
    await query(cluster.url(), 'CREATE DATABASE xa');
    const url = cluster.url('xa');
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE ledger (id int)`;
    await sql.unsafe(`BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE; PREPARE TRANSACTION 'xa-orphan'`);
    await sql.end();
    // A reader queued behind it.
    const reader = await openSession(url, 'report-reader');
    const reading = reader.sql`SELECT count(*) FROM ledger`.catch(() => {});
    try {
      await waitFor(async () => (await query(url, `SELECT 1 FROM pg_stat_activity WHERE pid = ${reader.pid} AND wait_event_type = 'Lock'`)).length === 1, 10_000, 'the reader to wait');
      await sleep(1200);
      const r = await runCliJson(['doctor', 'sizes.tables', 'connections.blocked', 'connections.prepared', '--threshold', 'idle-in-transaction=1s'], { url });
      const sizes = check(r.data, 'sizes.tables');
      expect(sizes.status).toBe('unknown');
      expect(sizes.remedy).toMatch(/prepared transaction 'xa-orphan' \(postgres, prepared \S+ ago, no session\) holds ACCESS EXCLUSIVE on ledger/);
      expect(sizes.remedy).toContain("end it (COMMIT PREPARED 'xa-orphan' or ROLLBACK PREPARED 'xa-orphan'), and run the doctor again");
      const blocked = check(r.data, 'connections.blocked');
      expect(blocked.figure).toBe(`1 query blocked: pid ${reader.pid} by a prepared transaction`);
      expect(blocked.remedy).toContain('COMMIT PREPARED or ROLLBACK PREPARED it (connections.prepared names it)');
      const prepared = check(r.data, 'connections.prepared');
      expect(prepared.status).toBe('warn');
      expect(prepared.figure).toMatch(/^1 prepared transaction older than 1s, holding locks and the xmin horizon \(vacuum cannot clean after them\): 'xa-orphan' \(postgres, \S+, locks ledger\)$/);
      expect(prepared.remedy).toContain("COMMIT PREPARED 'xa-orphan' or ROLLBACK PREPARED 'xa-orphan'");
      expect(r.exitCode).toBe(1);

      // Under the threshold it is listed, not warned about; once ended, none.
      const young = await runCliJson(['doctor', 'connections.prepared'], { url });
      expect(check(young.data, 'connections.prepared')).toMatchObject({ status: 'ok', figure: '1 prepared transaction, none older than 60s' });
      await query(url, "ROLLBACK PREPARED 'xa-orphan'");
      await reading;
      const none = await runCliJson(['doctor', 'connections.prepared'], { url });
      expect(check(none.data, 'connections.prepared')).toMatchObject({ status: 'ok', figure: 'no prepared transaction' });
    } finally {
      await reader.end();
    }
  });
});

describe('doctor: connections.usage on a server whose ordinary slots are full (superuser_reserved_connections)', () => {
  // max_connections is a server setting: a cluster of the test's own.
  let cluster: TempCluster;
  beforeAll(async () => {
    cluster = await startTempCluster({ max_connections: '20', superuser_reserved_connections: '6' });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('fails when a non-superuser can no longer connect, although max_connections is not reached (it said 75%: ok)', async () => {
    await query(cluster.url(), 'CREATE ROLE app LOGIN');
    const appUrl = cluster.url().replace('postgres@', 'app@');
    const sessions: Session[] = [];
    try {
      // 20 - 6 = 14 slots for roles that are not superusers: all taken.
      for (let i = 0; i < 14; i++) sessions.push(await openSession(appUrl, `app-${i}`));
      await expect(openSession(appUrl, 'app-refused')).rejects.toThrow(/reserved/);
      const r = await runCliJson(['doctor', 'connections.usage'], { url: cluster.url() });
      const u = check(r.data, 'connections.usage');
      expect(u.status).toBe('fail');
      expect(u.figure).toMatch(/^15 of 20 \(75%\); 14 of the 14 slots open to roles that are not superusers \(6 reserved\)/);
      expect(r.exitCode).toBe(2);
    } finally {
      for (const s of sessions) await s.end();
    }
  });
});
