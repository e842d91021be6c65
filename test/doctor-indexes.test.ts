/**
 * doctor on the real server: index checks, sequences, materialized views and refresh, choosing
 * checks, thresholds and exit codes. Each test makes its own database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import postgres from 'postgres';
import { runCli, runCliJson } from './helpers/cli.js';
import { holdTransaction } from './helpers/doctor-sessions.js';
import { adminQuery, createTestDatabase, query, type TestDatabase } from './helpers/server.js';

/** Runs statements on the database and flushes this session's statistics before returning. */
async function setup(url: string, statements: string[]): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    for (const s of statements) {
      try {
        await sql.unsafe(s);
      } catch (err) {
        if (!s.includes('CONCURRENTLY')) throw err;
      }
    }
    await sql`SELECT pg_stat_force_next_flush()`;
  } finally {
    await sql.end();
  }
}

function check(data: any, id: string): any {
  const found = data.checks.find((c: any) => c.id === id);
  if (!found) throw new Error(`no ${id} in ${JSON.stringify(data.checks.map((c: any) => c.id))}`);
  return found;
}

describe('doctor: indexes, sequences, materialized views', () => {
  let tdb: TestDatabase | undefined;
  afterEach(async () => {
    await tdb?.drop();
    tdb = undefined;
  });

  it('an index never scanned is reported once the statistics are old enough, and not before', async () => {
    tdb = await createTestDatabase('doctor_idx');
    await setup(tdb.url, [
      'CREATE TABLE orders (id int PRIMARY KEY, customer int, note text)',
      'CREATE INDEX orders_customer ON orders (customer)',
      'CREATE UNIQUE INDEX orders_note_u ON orders (note)',
      'INSERT INTO orders SELECT g, g % 7, g::text FROM generate_series(1, 50) g',
    ]);
    // A fresh database: its statistics are seconds old, so no verdict under the 7-day default.
    const young = await runCliJson(['doctor', 'indexes.unused'], { url: tdb.url });
    expect(young.exitCode).toBe(0);
    const y = check(young.data, 'indexes.unused');
    expect(y.status).toBe('ok');
    expect(y.figure).toContain('no verdict');
    expect(y.figure).toContain('database created (never reset)');

    const r = await runCliJson(['doctor', 'indexes.unused', '--threshold', 'stats-age=0s'], { url: tdb.url });
    expect(r.exitCode).toBe(1);
    const u = check(r.data, 'indexes.unused');
    expect(u.status).toBe('warn');
    const names = u.rows.map((x: any) => x.index);
    expect(names).toContain('public.orders_customer');
    // Unique and primary-key indexes are never called unused: they enforce constraints.
    expect(names).not.toContain('public.orders_note_u');
    expect(names).not.toContain('public.orders_pkey');
    expect(u.remedy).toContain('DROP INDEX CONCURRENTLY');

    // Once the index is used, it is no longer reported.
    await setup(tdb.url, ['SET enable_seqscan = off', 'SELECT * FROM orders WHERE customer = 3']);
    const after = await runCliJson(['doctor', 'indexes.unused', '--threshold', 'stats-age=0s'], { url: tdb.url });
    expect(check(after.data, 'indexes.unused').status).toBe('ok');
    expect(after.exitCode).toBe(0);
  });

  it('duplicate and overlapping indexes name the index that covers them; invalid indexes from a failed concurrent build', async () => {
    tdb = await createTestDatabase('doctor_dup');
    await setup(tdb.url, [
      'CREATE TABLE t (id int PRIMARY KEY, a int, b int, email text)',
      'CREATE INDEX t_a ON t (a)',
      'CREATE INDEX t_a_again ON t (a)',
      'CREATE INDEX t_a_b ON t (a, b)',
      'CREATE INDEX t_b_partial ON t (b) WHERE b > 10',
      'CREATE INDEX t_b ON t (b)',
      "INSERT INTO t VALUES (1, 1, 1, 'x@example.com'), (2, 2, 2, 'x@example.com')",
      // Fails on the duplicate emails and leaves an invalid index behind.
      'CREATE UNIQUE INDEX CONCURRENTLY t_email_u ON t (email)',
    ]);
    const r = await runCliJson(['doctor', 'indexes.duplicate', 'indexes.invalid', '--verbose'], { url: tdb.url });
    expect(r.exitCode).toBe(1);
    const dup = check(r.data, 'indexes.duplicate');
    expect(dup.status).toBe('warn');
    const byName = Object.fromEntries(dup.rows.map((x: any) => [x.index, x]));
    expect(byName['public.t_a_again']).toMatchObject({ covered_by: 'public.t_a', kind: 'duplicate' });
    expect(byName['public.t_a'].covered_by).toBe('public.t_a_b');
    // A partial index is not covered by a full one, and the covering index itself is kept.
    expect(byName['public.t_b_partial']).toBeUndefined();
    expect(byName['public.t_a_b']).toBeUndefined();
    expect(byName['public.t_b']).toBeUndefined();

    const inv = check(r.data, 'indexes.invalid');
    expect(inv.status).toBe('warn');
    expect(inv.rows.map((x: any) => x.index)).toEqual(['public.t_email_u']);
    expect(inv.figure).toContain('failed CREATE INDEX CONCURRENTLY');
    expect(r.data.checks).toHaveLength(2);
  });

  it('an unscanned index that is the only one serving a foreign key is kept, not called unused: dropping it makes every delete of a parent row scan the child table', async () => {
    tdb = await createTestDatabase('doctor_fkidx');
    await setup(tdb.url, [
      'CREATE TABLE parent (id int PRIMARY KEY)',
      'INSERT INTO parent SELECT generate_series(1, 10)',
      // The only index for child.parent_id's foreign key.
      'CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, note text)',
      'CREATE INDEX child_parent ON child (parent_id)',
      'CREATE INDEX child_note ON child (note)',
      // Two unscanned indexes serve child2's foreign key: one is enough, the smaller (or first) is kept.
      'CREATE TABLE child2 (id int PRIMARY KEY, parent_id int REFERENCES parent, x int)',
      'CREATE INDEX child2_parent ON child2 (parent_id)',
      'CREATE INDEX child2_parent_x ON child2 (parent_id, x)',
      // A scanned index serves child3's foreign key: the unscanned one made after it can go.
      'CREATE TABLE child3 (id int PRIMARY KEY, parent_id int REFERENCES parent, y int)',
      'CREATE INDEX child3_parent_y ON child3 (parent_id, y)',
      'SET enable_seqscan = off',
      'SELECT * FROM child3 WHERE parent_id = 1 AND y = 1',
      'CREATE INDEX child3_parent ON child3 (parent_id)',
    ]);
    const r = await runCliJson(['doctor', 'indexes.unused', '--threshold', 'stats-age=0s'], { url: tdb.url });
    const u = check(r.data, 'indexes.unused');
    expect(u.status).toBe('warn');
    const reported = u.rows.filter((x: any) => !x.kept).map((x: any) => x.index).sort();
    expect(reported).toEqual(['public.child2_parent_x', 'public.child3_parent', 'public.child_note']);
    const kept = Object.fromEntries(u.rows.filter((x: any) => x.kept).map((x: any) => [x.index, x.kept]));
    expect(Object.keys(kept).sort()).toEqual(['public.child2_parent', 'public.child_parent']);
    expect(kept['public.child_parent']).toContain('child_parent_id_fkey');
    expect(u.figure).not.toContain('public.child_parent ');
    expect(u.figure).not.toMatch(/public\.child_parent(,|$| )/);
    // cmmc-db report lists the unused indexes from the same rows: not the kept ones.
    const report = await runCliJson(['report'], { url: tdb.url });
    const listed = report.data.growth.unusedIndexes.map((x: any) => x.index);
    expect(listed).toContain('public.child_note');
    expect(listed).not.toContain('public.child_parent');
  });

  it('with track_counts off for the database or for a role, the checks that judge by the counters are unknown: an index scanned all day is not called unused', async () => {
    tdb = await createTestDatabase('doctor_nocount');
    const role = `doctor_nocount_${Date.now().toString(36)}`;
    await adminQuery(`ALTER DATABASE "${tdb.name}" SET track_counts = off`);
    try {
      await setup(tdb.url, [
        'CREATE TABLE orders (id int PRIMARY KEY, customer int)',
        'CREATE INDEX orders_customer ON orders (customer)',
        'INSERT INTO orders SELECT g, g % 7 FROM generate_series(1, 50) g',
        'SET enable_seqscan = off',
        'SELECT * FROM orders WHERE customer = 3',
      ]);
      const r = await runCliJson(['doctor', 'indexes', 'maintenance.vacuum', 'maintenance.cache-hit', '--threshold', 'stats-age=0s'], { url: tdb.url });
      for (const id of ['indexes.unused', 'indexes.seq-scans', 'maintenance.vacuum', 'maintenance.cache-hit']) {
        const c = check(r.data, id);
        expect(c.status, id).toBe('unknown');
        expect(c.figure, id).toContain('track_counts = off for this database');
        expect(c.remedy, id).toContain(`ALTER DATABASE "${tdb.name}" RESET track_counts`);
      }
      // The catalogue checks do not depend on the counters.
      expect(check(r.data, 'indexes.duplicate').status).toBe('ok');
      expect(r.exitCode).toBe(3);

      // Off for one role only: its sessions go uncounted, the doctor's own are counted.
      await adminQuery(`ALTER DATABASE "${tdb.name}" RESET track_counts`);
      await adminQuery(`CREATE ROLE ${role} LOGIN`);
      await adminQuery(`ALTER ROLE ${role} IN DATABASE "${tdb.name}" SET track_counts = off`);
      const byRole = await runCliJson(['doctor', 'indexes.unused', '--threshold', 'stats-age=0s'], { url: tdb.url });
      const u = check(byRole.data, 'indexes.unused');
      expect(u.status).toBe('unknown');
      expect(u.figure).toContain(`track_counts = off for role ${role} in this database`);
      expect(u.remedy).toContain(`ALTER ROLE "${role}" IN DATABASE "${tdb.name}" RESET track_counts`);
    } finally {
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('indexes that differ in collation, sort order or INCLUDE columns are not duplicates; a covered index that backs a constraint is dropped with the statement PostgreSQL accepts', async () => {
    tdb = await createTestDatabase('doctor_dup2');
    await setup(tdb.url, [
      'CREATE TABLE p (id int PRIMARY KEY, code text, name text, n int, m int, z int)',
      // Collation: the "C" one serves LIKE 'abc%' and byte order, the default one the locale's order.
      'CREATE INDEX p_name ON p (name)',
      'CREATE INDEX p_name_c ON p (name COLLATE "C")',
      // Sort order: (n, m DESC) serves ORDER BY n, m DESC, which (n, m) cannot in either direction.
      'CREATE INDEX p_n_m ON p (n, m)',
      'CREATE INDEX p_n_m_desc ON p (n, m DESC)',
      // INCLUDE: (n) INCLUDE (z) answers n -> z from the index alone; (n, m) cannot.
      'CREATE INDEX p_n_incl_z ON p (n) INCLUDE (z)',
      // (m) INCLUDE (z, n) and (m) INCLUDE (n, z) are the same index.
      'CREATE INDEX p_m_incl_zn ON p (m) INCLUDE (z, n)',
      'CREATE INDEX p_m_incl_nz ON p (m) INCLUDE (n, z)',
      // Two UNIQUE constraints on one column: the later one goes with ALTER TABLE ... DROP CONSTRAINT
      // (DROP INDEX fails: the constraint requires it).
      'ALTER TABLE p ADD CONSTRAINT p_code_key UNIQUE (code)',
      'ALTER TABLE p ADD CONSTRAINT p_code_key2 UNIQUE (code)',
      // A unique index that a foreign key references, and a later plain copy of it: the copy goes.
      'CREATE UNIQUE INDEX p_z_a ON p (z)',
      'CREATE UNIQUE INDEX p_z_b ON p (z)',
      'CREATE TABLE child (z int REFERENCES p (z))',
    ]);
    const [fk] = await query(tdb.url, "SELECT conindid::regclass::text AS idx FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'f'");
    const r = await runCliJson(['doctor', 'indexes.duplicate'], { url: tdb.url });
    const dup = check(r.data, 'indexes.duplicate');
    const byName = Object.fromEntries(dup.rows.map((x: any) => [x.index, x]));
    expect(Object.keys(byName).sort()).toEqual(['public.p_code_key2', 'public.p_m_incl_zn', `public.${fk.idx === 'p_z_a' ? 'p_z_b' : 'p_z_a'}`].sort());
    expect(byName['public.p_m_incl_zn']).toMatchObject({ covered_by: 'public.p_m_incl_nz', kind: 'duplicate', drop: 'DROP INDEX CONCURRENTLY public.p_m_incl_zn' });
    expect(byName['public.p_code_key2']).toMatchObject({ covered_by: 'public.p_code_key', drop: 'ALTER TABLE public.p DROP CONSTRAINT p_code_key2' });
    // The index the foreign key uses is the one kept, whichever PostgreSQL chose.
    expect(Object.values(byName).find((x: any) => x.index.startsWith('public.p_z_'))).toMatchObject({ covered_by: `public.${fk.idx}` });
    expect(dup.remedy).toContain('ALTER TABLE public.p DROP CONSTRAINT p_code_key2');
    // Every statement works as given.
    for (const row of dup.rows) await query(tdb.url, row.drop);
    const again = await runCliJson(['doctor', 'indexes.duplicate'], { url: tdb.url });
    expect(check(again.data, 'indexes.duplicate').status).toBe('ok');
  });

  it('a table of 10,000+ rows read by sequential scans is reported; the table output shows it', async () => {
    tdb = await createTestDatabase('doctor_seq');
    await setup(tdb.url, [
      'CREATE TABLE events (id int, kind int)',
      'INSERT INTO events SELECT g, g % 5 FROM generate_series(1, 12000) g',
      'SELECT count(*) FROM events WHERE kind = 1',
      'SELECT count(*) FROM events WHERE kind = 2',
      'CREATE TABLE small (id int)',
      'INSERT INTO small SELECT generate_series(1, 10)',
      'SELECT * FROM small',
    ]);
    const r = await runCliJson(['doctor', 'indexes.seq-scans'], { url: tdb.url });
    const s = check(r.data, 'indexes.seq-scans');
    expect(s.status).toBe('warn');
    expect(s.rows.map((x: any) => x.table)).toEqual(['public.events']);
    expect(s.rows[0].seq_scans).toBeGreaterThanOrEqual(2);
    expect(r.exitCode).toBe(1);

    const text = await runCli(['doctor', 'indexes.seq-scans'], { url: tdb.url });
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/^indexes\.seq-scans\twarn\t/m);
    expect(text.stdout).toContain('public.events');
    expect(text.stderr).toContain('0 ok, 1 warn, 0 fail, 0 unknown (exit 1)');
  });

  it('sequences: above 85% of the column type warns, above 95% fails (exit 2)', async () => {
    tdb = await createTestDatabase('doctor_seqs');
    await setup(tdb.url, ['CREATE TABLE s (id serial PRIMARY KEY)', "SELECT setval('s_id_seq', 2000000000)"]);
    const warn = await runCliJson(['doctor', 'maintenance.sequences'], { url: tdb.url });
    const w = check(warn.data, 'maintenance.sequences');
    expect(w.status).toBe('warn');
    expect(w.figure).toContain('public.s_id_seq');
    expect(w.figure).toContain('int4');
    expect(warn.exitCode).toBe(1);

    await setup(tdb.url, ["SELECT setval('s_id_seq', 2100000000)"]);
    const fail = await runCliJson(['doctor', 'maintenance.sequences'], { url: tdb.url });
    expect(check(fail.data, 'maintenance.sequences').status).toBe('fail');
    expect(fail.exitCode).toBe(2);
  });

  it('sequences a role may not read are unknown, not "none used yet": one at 98% of int4 was ok (exit 0)', async () => {
    tdb = await createTestDatabase('doctor_seqpriv');
    const role = `doctor_seqpriv_${Date.now().toString(36)}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    try {
      await setup(tdb.url, ['CREATE TABLE s (id serial PRIMARY KEY)', "SELECT setval('s_id_seq', 2100000000)", `GRANT USAGE ON SCHEMA public TO ${role}`]);
      const u = new URL(tdb.url);
      u.username = role;
      const r = await runCliJson(['doctor', 'maintenance.sequences'], { url: u.toString() });
      const c = check(r.data, 'maintenance.sequences');
      expect(c.status).toBe('unknown');
      expect(c.figure).toContain(`1 sequence ${role} may not read: public.s_id_seq`);
      expect(c.remedy).toContain(`GRANT SELECT ON SEQUENCE public.s_id_seq TO ${role}`);
      expect(r.exitCode).toBe(3);
      await setup(tdb.url, [`GRANT SELECT ON SEQUENCE s_id_seq TO ${role}`]);
      const granted = await runCliJson(['doctor', 'maintenance.sequences'], { url: u.toString() });
      expect(check(granted.data, 'maintenance.sequences').status).toBe('fail');
    } finally {
      await tdb.drop();
      tdb = undefined;
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('maintenance: dead tuples beyond autovacuum\'s trigger warn; wraparound age fails above its threshold', async () => {
    tdb = await createTestDatabase('doctor_vac');
    await setup(tdb.url, [
      'CREATE TABLE churn (id int) WITH (autovacuum_enabled = false)',
      'INSERT INTO churn SELECT generate_series(1, 20000)',
      'DELETE FROM churn WHERE id > 100',
    ]);
    const r = await runCliJson(['doctor', 'maintenance'], { url: tdb.url });
    const v = check(r.data, 'maintenance.vacuum');
    expect(v.status).toBe('warn');
    expect(v.figure).toContain('public.churn 19900 dead');
    expect(v.rows[0]).toMatchObject({ table: 'public.churn', dead: 19900, last_vacuum: null });
    expect(check(r.data, 'maintenance.wraparound').status).toBe('ok');

    const x = await runCliJson(['doctor', 'maintenance.wraparound', '--threshold', 'xid-age-fail=1'], { url: tdb.url });
    expect(check(x.data, 'maintenance.wraparound').status).toBe('fail');
    expect(x.exitCode).toBe(2);

    // A ratio above 1 can never be met: the check must warn and give the ratios it computed.
    const c = await runCliJson(['doctor', 'maintenance.cache-hit', '--threshold', 'cache-hit-min-blocks=1', '--threshold', 'cache-hit-ratio=1.01'], { url: tdb.url });
    expect(check(c.data, 'maintenance.cache-hit').status).toBe('warn');
    expect(check(c.data, 'maintenance.cache-hit').figure).toMatch(/tables \d\.\d{4} \(\d+ blocks\)/);

    await setup(tdb.url, ['VACUUM (ANALYZE) churn']);
    const after = await runCliJson(['doctor', 'maintenance.vacuum'], { url: tdb.url });
    expect(check(after.data, 'maintenance.vacuum').status).toBe('ok');
    expect(check(after.data, 'maintenance.vacuum').rows[0].last_vacuum).not.toBeNull();
  });

  it("maintenance.vacuum: autovacuum's trigger is the table's own (its settings, reloptions and reltuples); a table autovacuum may not touch, and one never analyzed, are said", async () => {
    tdb = await createTestDatabase('doctor_vac2');
    // autovacuum_enabled = false on each: the server's autovacuum (on in CI) must not clean up before the doctor looks.
    await setup(tdb.url, [
      // Its triggers are 50 + 0.5 × 100,000 = 50,050: 30,000 dead (and changed) rows are not beyond them.
      'CREATE TABLE lenient (id int) WITH (autovacuum_enabled = false, autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_scale_factor = 0.5)',
      'INSERT INTO lenient SELECT generate_series(1, 100000)',
      'SELECT pg_stat_force_next_flush()',
      'VACUUM ANALYZE lenient',
      'DELETE FROM lenient WHERE id <= 30000',
      // Its trigger is 50 + 0.01 × 100,000 = 1,050: 12,000 dead rows are far beyond it.
      'CREATE TABLE strict (id int) WITH (autovacuum_enabled = false, autovacuum_vacuum_scale_factor = 0.01)',
      'INSERT INTO strict SELECT generate_series(1, 100000)',
      'SELECT pg_stat_force_next_flush()',
      'VACUUM ANALYZE strict',
      'DELETE FROM strict WHERE id <= 12000',
      // 20,000 rows loaded and never analyzed: the planner knows nothing of them.
      'CREATE TABLE loaded (id int) WITH (autovacuum_enabled = false)',
      'INSERT INTO loaded SELECT generate_series(1, 20000)',
    ]);
    const r = await runCliJson(['doctor', 'maintenance.vacuum'], { url: tdb.url });
    const v = check(r.data, 'maintenance.vacuum');
    const byTable = Object.fromEntries(v.rows.map((x: any) => [x.table, x]));
    expect(byTable['public.lenient']).toMatchObject({ dead: 30000, vacuum_trigger: 50050 });
    expect(byTable['public.lenient'].autovacuum).toContain('off for this table');
    expect(byTable['public.strict']).toMatchObject({ dead: 12000, vacuum_trigger: 1050 });
    expect(byTable['public.loaded']).toMatchObject({ changed_since_analyze: 20000, analyze_trigger: 50, last_analyze: null });
    expect(v.status).toBe('warn');
    expect(v.figure).toContain('public.strict 12000 dead');
    expect(v.figure).toContain('public.loaded 20000 changed and never analyzed');
    expect(v.figure).not.toContain('lenient');
    expect(v.remedy).toContain('VACUUM (ANALYZE) public.strict');
    expect(v.remedy).toContain('ANALYZE public.loaded');
    expect(v.remedy).toContain('ALTER TABLE public.strict RESET (autovacuum_enabled)');
    expect(r.exitCode).toBe(1);

    await setup(tdb.url, ['VACUUM (ANALYZE) strict', 'ANALYZE loaded']);
    const after = await runCliJson(['doctor', 'maintenance.vacuum'], { url: tdb.url });
    expect(check(after.data, 'maintenance.vacuum').status).toBe('ok');
  });

  it('maintenance.wraparound also watches multixact ids (row locks shared by several transactions); its remedy is a vacuumdb that freezes what is past the threshold', async () => {
    tdb = await createTestDatabase('doctor_mxid');
    await setup(tdb.url, ['CREATE TABLE shared_rows (id int PRIMARY KEY)', 'INSERT INTO shared_rows VALUES (1)']);
    // Two transactions share a lock on one row: PostgreSQL records them as a multixact.
    const a = await holdTransaction(tdb.url, ['SELECT * FROM shared_rows WHERE id = 1 FOR SHARE']);
    const b = await holdTransaction(tdb.url, ['SELECT * FROM shared_rows WHERE id = 1 FOR SHARE']);
    await a.release();
    await b.release();
    const [{ age }] = await query(tdb.url, 'SELECT mxid_age(datminmxid)::int AS age FROM pg_database WHERE datname = current_database()');
    expect(age).toBeGreaterThan(0);

    const r = await runCliJson(['doctor', 'maintenance.wraparound', '--threshold', 'mxid-age-fail=0'], { url: tdb.url });
    const w = check(r.data, 'maintenance.wraparound');
    expect(w.status).toBe('fail');
    expect(w.figure).toContain('multixact');
    expect(w.rows.find((x: any) => x.database === tdb.name)).toMatchObject({ mxid_age: age });
    const command = `vacuumdb --freeze --min-mxid-age=1 --dbname=${tdb.name}`;
    expect(w.remedy).toContain(command);
    expect(w.remedy).not.toContain('--min-xid-age');
    expect(r.exitCode).toBe(2);
    // The command works as given: this database's multixact age is back to 0.
    await execa('vacuumdb', [...command.split(' ').slice(1), '--host=127.0.0.1', '--username=postgres']);
    const after = await runCliJson(['doctor', 'maintenance.wraparound', '--threshold', 'mxid-age-fail=0'], { url: tdb.url });
    expect(check(after.data, 'maintenance.wraparound').rows.find((x: any) => x.database === tdb.name).mxid_age).toBe(0);
    // The transaction ids alone are far from their thresholds.
    const plain = await runCliJson(['doctor', 'maintenance.wraparound'], { url: tdb.url });
    expect(check(plain.data, 'maintenance.wraparound').status).toBe('ok');
  });

  it('a materialized view never refreshed warns; refresh populates it, concurrently where a unique index allows', async () => {
    tdb = await createTestDatabase('doctor_mv');
    await setup(tdb.url, [
      'CREATE TABLE t (id int PRIMARY KEY, k int)',
      'INSERT INTO t SELECT g, g % 3 FROM generate_series(1, 30) g',
      'CREATE MATERIALIZED VIEW by_k AS SELECT k, count(*) AS n FROM t GROUP BY k WITH NO DATA',
      'CREATE UNIQUE INDEX by_k_k ON by_k (k)',
      'CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM t',
    ]);
    const before = await runCliJson(['doctor', 'matviews'], { url: tdb.url });
    const m = check(before.data, 'matviews.populated');
    expect(m.status).toBe('warn');
    expect(m.figure).toContain('public.by_k');
    expect(m.figure).not.toContain('public.totals');
    expect(m.remedy).toBe('cmmc-db refresh public.by_k');

    const first = await runCliJson(['refresh'], { url: tdb.url });
    expect(first.exitCode).toBe(0);
    expect(first.data.refreshed).toEqual([
      expect.objectContaining({ view: 'public.by_k', mode: 'blocking', why: 'never populated' }),
      expect.objectContaining({ view: 'public.totals', mode: 'blocking', why: 'no unique index on plain columns' }),
    ]);
    const second = await runCliJson(['refresh', 'by_k'], { url: tdb.url });
    expect(second.data.refreshed).toEqual([expect.objectContaining({ view: 'public.by_k', mode: 'concurrently' })]);

    const after = await runCliJson(['doctor', 'matviews'], { url: tdb.url });
    expect(check(after.data, 'matviews.populated').status).toBe('ok');
    expect(after.exitCode).toBe(0);

    const missing = await runCli(['refresh', 'no_such_view'], { url: tdb.url });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('no materialized view named "no_such_view"');
    expect(missing.stderr).toContain('public.by_k');
  });

  it('an unknown check or threshold is a usage error (exit 2) before connecting', async () => {
    const r = await runCli(['doctor', 'nonsense'], { url: 'postgres://postgres@127.0.0.1:1/x' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no check named "nonsense"');
    const t = await runCli(['doctor', '--threshold', 'bogus=1'], { url: 'postgres://postgres@127.0.0.1:1/x' });
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain('unknown threshold "bogus=1"');
    const d = await runCli(['doctor', '--threshold', 'idle-in-transaction=soon'], { url: 'postgres://postgres@127.0.0.1:1/x' });
    expect(d.exitCode).toBe(2);
    expect(d.stderr).toContain('is not a duration');
  });
});
