/** The engine's safety promises, end to end through the built CLI on each backend. */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { execa } from 'execa';
import { BIN, ROOT, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import postgres from 'postgres';
import { bootstrapStatements, lockKey } from '../src/migrate/version-store.js';
import { FIXTURES, catalogSnapshot, copyFixture, envFor, versionRows } from './engine-fixtures.js';

describe.each(BACKENDS)('engine safety on $name', (backend) => {
  it('concurrent upgrade head from 4 processes applies each revision exactly once', async () => {
    const target = await backend.create();
    // The embedded database admits one process at a time: the others wait for it (CMMC_DB_LOCK_WAIT).
    const env = { ...envFor(target, path.join(FIXTURES, 'linear')), CMMC_DB_LOCK_WAIT: '120s' };
    try {
      const runs = await Promise.all(Array.from({ length: 4 }, () => runCli(['upgrade', 'head'], { env })));
      for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
      const log = await target.query<{ revision: string; n: number }>(
        `SELECT revision, count(*)::int AS n FROM cmmc_db.revision_log WHERE operation = 'upgrade' GROUP BY revision ORDER BY revision`,
      );
      expect(log).toEqual(['1a0000000001', '1a0000000002', '1a0000000003', '1a0000000004', '1a0000000005'].map((revision) => ({ revision, n: 1 })));
      expect(await versionRows(target)).toEqual(['1a0000000005']);
      // exactly one run did the work; the others found nothing left
      expect(runs.filter((r) => r.stderr.includes('applied 5 revisions'))).toHaveLength(1);
      expect(runs.filter((r) => r.stderr.includes('nothing to upgrade'))).toHaveLength(3);
    } finally {
      await target.drop();
    }
  });

  it('a revision failing midway leaves schema and version table as they were, and names the file and statement', async () => {
    const target = await backend.create();
    const env = envFor(target, path.join(FIXTURES, 'failing'));
    try {
      expect((await runCli(['upgrade', '2b0000000001'], { env })).exitCode).toBe(0);
      const before = await catalogSnapshot(target);
      const logBefore = await target.query('SELECT count(*)::int AS n FROM cmmc_db.revision_log');

      const ts = await runCli(['upgrade', '2b0000000002'], { env });
      expect(ts.exitCode).toBe(1);
      expect(ts.stderr).toContain('upgrade of revision 2b0000000002 (2b0000000002_breaks_midway.ts) failed: column "nope" referenced in foreign key constraint does not exist');
      expect(ts.stderr).toContain('in statement: ALTER TABLE account ADD CONSTRAINT account_missing_fk FOREIGN KEY (nope) REFERENCES audit_entry (id)');
      expect(ts.stderr).toContain('that revision was rolled back');
      expect(await catalogSnapshot(target)).toBe(before);
      expect(await versionRows(target)).toEqual(['2b0000000001']);

      const sqlRev = await runCli(['upgrade', '2b0000000003'], { env });
      expect(sqlRev.exitCode).toBe(1);
      expect(sqlRev.stderr).toContain('upgrade of revision 2b0000000003 (2b0000000003_sql_breaks.sql) failed: duplicate key value violates unique constraint "ledger_pkey"');
      expect(sqlRev.stderr).toContain('in statement: INSERT INTO ledger VALUES (1)');
      expect(await catalogSnapshot(target)).toBe(before);
      expect(await versionRows(target)).toEqual(['2b0000000001']);
      expect(await target.query('SELECT count(*)::int AS n FROM cmmc_db.revision_log')).toEqual(logBefore);
      // the table the failed revision created first is not there
      expect(await target.query(`SELECT to_regclass('public.audit_entry') AS a, to_regclass('public.ledger') AS l`)).toEqual([{ a: null, l: null }]);
    } finally {
      await target.drop();
    }
  });

  it('an applied file that was edited stops upgrade and check, by name; --allow-changed proceeds and accepts it as it is now', async () => {
    const target = await backend.create();
    const fx = copyFixture('linear');
    const env = envFor(target, fx.dir);
    try {
      expect((await runCli(['upgrade', '1a0000000003'], { env })).exitCode).toBe(0);
      appendFileSync(path.join(fx.dir, '1a0000000001_widgets.ts'), '\n// edited after it was applied\n');

      const up = await runCli(['upgrade', 'head'], { env });
      expect(up.exitCode).toBe(1);
      expect(up.stderr).toContain('applied revision file changed since it was applied: 1a0000000001 (1a0000000001_widgets.ts)');
      expect(up.stderr).toContain('--allow-changed');
      expect(await versionRows(target)).toEqual(['1a0000000003']);

      const check = await runCliJson(['check'], { env });
      expect(check.exitCode).toBe(1);
      expect(check.data.changed).toEqual([{ revision: '1a0000000001', file: '1a0000000001_widgets.ts' }]);
      const checkText = await runCli(['check'], { env });
      expect(checkText.stderr).toContain('applied revision 1a0000000001 changed since it was applied: 1a0000000001_widgets.ts');

      const allowed = await runCli(['upgrade', 'head', '--allow-changed'], { env });
      expect(allowed.exitCode).toBe(0);
      expect(allowed.stderr).toContain('warning: applied revision 1a0000000001 changed since it was applied: 1a0000000001_widgets.ts — accepted as it is now (--allow-changed); nothing of it ran again');
      expect(await versionRows(target)).toEqual(['1a0000000005']);
      // Accepted: check (whose hint sent the user here) passes; before, it named the file for ever.
      const accepted = await runCliJson(['check', '--no-drift'], { env });
      expect(accepted.data.changed).toEqual([]);
      expect(accepted.exitCode).toBe(0);
      // The rest is the engine's, alike on both backends: on the server only (the embedded runs are slow).
      if (backend.name === 'embedded') return;
      // At head, a deliberate edit is accepted the same way: check's hint is true whatever is pending.
      appendFileSync(path.join(fx.dir, '1a0000000002_orders.sql'), '\n-- a comment fixed after it was applied\n');
      const atHead = await runCli(['check', '--no-drift'], { env });
      expect(atHead.exitCode).toBe(1);
      expect(atHead.stderr).toContain('record them as they are now with cmmc-db upgrade --allow-changed');
      const acceptAtHead = await runCliJson(['upgrade', 'head', '--allow-changed'], { env });
      expect(acceptAtHead.exitCode).toBe(0);
      expect(acceptAtHead.data.steps).toEqual([]);
      expect(acceptAtHead.data.accepted).toEqual([{ revision: '1a0000000002', file: '1a0000000002_orders.sql' }]);
      expect((await runCli(['check', '--no-drift'], { env })).exitCode).toBe(0);
      appendFileSync(path.join(fx.dir, '1a0000000001_widgets.ts'), '\n// edited again\n');
      // Nothing to upgrade: it goes ahead (exit 0), and says so rather than nothing.
      const none = await runCliJson(['upgrade', 'head'], { env });
      expect(none.exitCode).toBe(0);
      expect(none.data.changed).toEqual([{ revision: '1a0000000001', file: '1a0000000001_widgets.ts' }]);
      expect(none.data.accepted).toBeUndefined();
      expect(none.stderr).toContain('warning: applied revision 1a0000000001 changed since it was applied');
      expect(none.stderr).toContain('if the change is deliberate, record it as it is now with cmmc-db upgrade --allow-changed');
      // A downgrade through it runs the down section as the file is now: said.
      const down = await runCli(['downgrade', 'base', '--yes'], { env });
      expect(down.exitCode, down.stderr).toBe(0);
      expect(down.stderr).toContain('applied revision 1a0000000001 changed since it was applied: 1a0000000001_widgets.ts (its down section ran as the file is now)');
    } finally {
      fx.cleanup();
      await target.drop();
    }
  });

  // The embedded database admits one process at a time, so the test cannot hold the lock beside the CLI.
  it.skipIf(backend.name === 'embedded')('waits for the advisory lock held by another session; --lock-timeout gives up', async () => {
    const target = await backend.create();
    const env = envFor(target, path.join(FIXTURES, 'linear'));
    const holder = postgres(target.url!, { max: 1, onnotice: () => {} });
    // The same key held in another database of the server (another project's run): not the holder to name.
    const elsewhere = await backend.create();
    const otherHolder = postgres(elsewhere.url!, { max: 1, onnotice: () => {} });
    try {
      const key = lockKey({ versionSchema: 'public', versionTable: 'cmmc_schema_version', metaSchema: 'cmmc_db' });
      await otherHolder`SELECT pg_advisory_lock(${key.toString()}::bigint)`;
      const [{ pid }] = await holder`SELECT pg_backend_pid() AS pid, pg_advisory_lock(${key.toString()}::bigint)`;
      const gaveUp = await runCli(['upgrade', 'head', '--lock-timeout', '1s'], { env });
      expect(gaveUp.exitCode).toBe(1);
      expect(gaveUp.stderr).toContain(`waiting for another migration run to finish (server pid ${pid})`);
      expect(gaveUp.stderr).toContain('another migration run holds the lock');
      expect(await target.query(`SELECT to_regclass('public.cmmc_schema_version') AS t`)).toEqual([{ t: null }]);

      // Release the lock only once the CLI says it is waiting for it.
      const child = execa('node', [BIN, 'upgrade', 'head'], { env: cleanEnv(env), extendEnv: false, reject: false, cwd: ROOT });
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        child.stderr!.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          if (seen.includes('waiting for another migration run')) resolve();
        });
        child.once('exit', () => reject(new Error(`exited before waiting: ${seen}`)));
      });
      // Meanwhile the holder does what another run would: the engine's tables and the first revision.
      // The waiting run must start from there, not from what it saw before it waited (it tried the
      // lock and read the tables in one flight): applying 1a0000000001 again would fail.
      const meta = { versionSchema: 'public', versionTable: 'cmmc_schema_version', metaSchema: 'cmmc_db' };
      await holder.begin(async (tx) => {
        for (const statement of bootstrapStatements(meta)) await tx.unsafe(statement);
        await tx.unsafe(`CREATE SCHEMA app; CREATE TABLE app.widget (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE,
          price numeric(10, 2) NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now()); CREATE INDEX widget_created_idx ON app.widget (created_at)`);
        await tx.unsafe(`INSERT INTO public.cmmc_schema_version (version_num) VALUES ('1a0000000001')`);
      });
      await holder`SELECT pg_advisory_unlock(${key.toString()}::bigint)`;
      const done = await child;
      expect(done.exitCode, String(done.stderr)).toBe(0);
      expect(String(done.stderr)).toContain('applied 4 revisions');
      expect(await versionRows(target)).toEqual(['1a0000000005']);
    } finally {
      await holder.end();
      await otherHolder.end();
      await target.drop();
      await elsewhere.drop();
    }
  });

  // PGlite runs statements in-process and does not enforce statement_timeout.
  it.skipIf(backend.name === 'embedded')('--statement-timeout and --lock-timeout are set on the migration session', async () => {
    const target = await backend.create();
    const env = envFor(target, path.join(FIXTURES, 'slow'));
    try {
      const r = await runCli(['upgrade', 'head', '--statement-timeout', '200ms'], { env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('canceling statement due to statement timeout');
      expect(r.stderr).toContain('in statement: SELECT pg_sleep(1.5)');
      // Not the file's fault: the hint says what to change, not "fix the file".
      expect(r.stderr).toContain('allow longer with --statement-timeout');
      expect(r.stderr).not.toMatch(/fix \S+\.sql/);
      expect(await versionRows(target)).toEqual([]);
      const bad = await runCli(['upgrade', 'head', '--lock-timeout', 'soon'], { env });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain('--lock-timeout "soon" is not a duration');
      // Beyond what the server takes (INT_MAX ms): refused before connecting, as a usage error, by flag
      // and by variable (it was the server's 22023 after the run had begun).
      const long = await runCli(['upgrade', 'head', '--statement-timeout', '30d'], { env });
      expect(long.exitCode).toBe(2);
      expect(long.stderr).toContain('--statement-timeout "30d" is longer than PostgreSQL allows (2147483647 ms, about 24 days)');
      const longEnv = await runCli(['upgrade', 'head'], { env: { ...env, CMMC_LOCK_TIMEOUT: '25d' } });
      expect(longEnv.exitCode).toBe(2);
      expect(longEnv.stderr).toContain('CMMC_LOCK_TIMEOUT "25d" is longer than PostgreSQL allows');
      const ok = await runCli(['upgrade', 'head', '--lock-timeout', '5s', '--statement-timeout', '0'], { env });
      expect(ok.exitCode).toBe(0);
      // A revision that waits for a lock another session holds: --lock-timeout gives up, and the hint says why.
      const holder = postgres(target.env.DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        const held = await holder.reserve();
        await held.unsafe('BEGIN; LOCK TABLE slow_thing IN ACCESS SHARE MODE');
        const locked = await runCli(['downgrade', '-1', '--yes', '--lock-timeout', '300ms'], { env });
        await held.unsafe('ROLLBACK');
        held.release();
        expect(locked.exitCode).toBe(1);
        expect(locked.stderr).toContain('[55P03]');
        // Who held it, when the run's watch saw the wait in time (from half the lock timeout on); else the general hint.
        expect(locked.stderr).toMatch(/the lock on public\.slow_thing was held by server pid \d+|another session holds a lock it needs/);
        expect(locked.stderr).not.toMatch(/fix \S+\.sql/);
      } finally {
        await holder.end();
      }
    } finally {
      await target.drop();
    }
  });
});
