/**
 * Foreign keys between tenant tables (user trial): `notifications.user_id` referenced `users (id)`
 * alone, so tenant A's session could file a notification under A for a user of B; B deleting that
 * user then deleted A's row through the cascade, and A's foreign-key error on an unknown id told it
 * whether an id was a user of another tenant. Revision 00c448613939 makes it `(user_id,
 * organization_id) → users (id, organization_id)` and refuses, in one line, a database that already
 * holds such rows. The catalogue test keeps every foreign key between tenant tables either composite
 * with organization_id or one of the cross-references docs/schema.md allows, present and future.
 */
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { createTestDatabase, query } from './helpers/server.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf, TWO_TENANTS } from './helpers/tenant-setup.js';

const { A, B, USER_A, USER_B } = TWO_TENANTS;
const NOBODY = 'c0000000-0000-4000-8000-000000000101';
const BEFORE = 'c0290a8b76a4'; // the platform's head before notifications were keyed by tenant

/**
 * The single-column references between tenant tables that docs/schema.md ("Foreign keys") allows on
 * purpose, each onto users and ON DELETE SET NULL: the work stays when a person leaves, and a
 * Consultant's or C3PAO's people work on their clients' assessments, evidence, POA&M items,
 * documents, analyses and comments. Listed here by hand: an expectation independent of the schema.
 */
const ALLOWED_CROSS_TENANT = [
  'ai_analysis_results.requested_by',
  'assessments.lead_assessor_id',
  'comments.author_id',
  'documents.approved_by',
  'documents.owner_id',
  'evidence.uploaded_by',
  'poam_items.owner_id',
];

interface TenantFk {
  table: string;
  name: string;
  target: string;
  columns: string[];
  target_columns: string[];
  on_delete: string;
}

/**
 * Every foreign key of a tenant table (organizations, and every table of `public` with an
 * organization_id) onto another tenant table.
 */
async function tenantForeignKeys(url: string): Promise<TenantFk[]> {
  return query<TenantFk>(url, `
    WITH tenant AS (
      SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         AND (c.relname = 'organizations'
              OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped)))
    SELECT f.relname AS "table", k.conname AS name, t.relname AS target,
           (SELECT array_agg(a.attname::text ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
           (SELECT array_agg(a.attname::text ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum) AS target_columns,
           k.confdeltype::text AS on_delete
      FROM pg_constraint k JOIN tenant f ON f.oid = k.conrelid JOIN tenant t ON t.oid = k.confrelid
     WHERE k.contype = 'f'
     ORDER BY 1, 2`);
}

/** The foreign keys that let a row of one tenant hang off another tenant's row, one line each. */
function crossTenantKeys(fks: TenantFk[], allowed: string[]): string[] {
  return fks
    .filter((fk) => {
      // organization_id → organizations (id): the tenant itself.
      if (fk.target === 'organizations') return !(fk.columns.length === 1 && fk.columns[0] === 'organization_id' && fk.target_columns[0] === 'id');
      const at = fk.columns.indexOf('organization_id');
      if (at >= 0 && fk.target_columns[at] === 'organization_id') return false;
      return !(fk.columns.length === 1 && allowed.includes(`${fk.table}.${fk.columns[0]}`));
    })
    .map((fk) => `${fk.name}: ${fk.table} (${fk.columns.join(', ')}) → ${fk.target} (${fk.target_columns.join(', ')})`);
}

/** Runs `text`; the SQLSTATE and message when it is refused, else the rows it touched. */
async function attempt(sql: postgres.Sql, text: string): Promise<{ code?: string; message?: string; count: number }> {
  try {
    const r = await sql.unsafe(text);
    return { count: r.count };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { code: e.code, message: e.message, count: 0 };
  }
}

const notification = (org: string, user: string, title = 'n') =>
  `INSERT INTO notifications (organization_id, user_id, notification_type, title, message) VALUES ('${org}', '${user}', 'system', '${title}', 'm')`;

describe('foreign keys between tenant tables, in the catalogue', () => {
  it('each is composite with organization_id or one of the documented cross-references; a new single-column one is caught', async () => {
    const db = await createTestDatabase();
    try {
      const up = await runCli(['upgrade', 'head'], { url: db.url });
      expect(up.exitCode, up.stderr).toBe(0);
      const fks = await tenantForeignKeys(db.url);
      expect(fks.length).toBeGreaterThan(20);
      expect(crossTenantKeys(fks, ALLOWED_CROSS_TENANT)).toEqual([]);
      expect(fks.find((fk) => fk.table === 'notifications' && fk.target === 'users')).toMatchObject({
        name: 'notifications_user_fkey', columns: ['user_id', 'organization_id'], target_columns: ['id', 'organization_id'], on_delete: 'c',
      });

      // Each allowed one exists as documented: single-column onto users, ON DELETE SET NULL (the work
      // stays), and docs/schema.md names its column among the cross-references.
      const docs = fs.readFileSync(path.join(ROOT, 'docs', 'schema.md'), 'utf8');
      const row = docs.split('\n').find((l) => l.includes('may point at users of another organization on purpose'))!;
      expect(row).toBeDefined();
      for (const allowed of ALLOWED_CROSS_TENANT) {
        const [table, column] = allowed.split('.');
        expect(fks.find((fk) => fk.table === table && fk.columns.join() === column), allowed).toMatchObject({ target: 'users', target_columns: ['id'], on_delete: 'n' });
        expect(row, allowed).toContain(`\`${allowed}\``);
      }
      expect(row).not.toContain('notifications.user_id');

      // A future single-column reference between tenant tables fails the check.
      await query(db.url, `ALTER TABLE evidence ADD COLUMN reviewed_by uuid REFERENCES users (id)`);
      await query(db.url, `ALTER TABLE comments ADD COLUMN document_id uuid, ADD FOREIGN KEY (document_id, organization_id) REFERENCES documents (id, organization_id)`);
      expect(crossTenantKeys(await tenantForeignKeys(db.url), ALLOWED_CROSS_TENANT)).toEqual(['evidence_reviewed_by_fkey: evidence (reviewed_by) → users (id)']);
    } finally {
      await db.drop();
    }
  });
});

describe('notifications.user_id stays within the tenant', () => {
  const s = newSetup('tcr');
  let app: postgres.Sql;
  beforeAll(async () => {
    await initWithTwoTenants(s);
    app = postgres(s.appUrl, { max: 1, onnotice: () => {} });
  }, 300_000);
  afterAll(async () => {
    await app?.end({ timeout: 5 });
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  it('as the application role with tenant A set: a notification for a user of B is refused, exactly as one for no user at all', async () => {
    await app.unsafe(`SELECT set_config('app.current_organization_id', '${A}', false)`);
    expect(await attempt(app, notification(A, USER_A))).toEqual({ count: 1 });
    const other = await attempt(app, notification(A, USER_B, 'for B'));
    const none = await attempt(app, notification(A, NOBODY, 'for nobody'));
    expect(other.code).toBe('23503');
    // The same refusal whether the id is a user of another tenant or of none: nothing to tell them apart.
    expect(none).toEqual(other);

    // B deleting its user touches none of A's rows.
    await app.unsafe(`SELECT set_config('app.current_organization_id', '${B}', false)`);
    expect(await attempt(app, `DELETE FROM users WHERE id = '${USER_B}'`)).toEqual({ count: 1 });
    const [{ n }] = await query<{ n: number }>(s.adminUrl, `SELECT count(*)::int AS n FROM notifications WHERE organization_id = '${A}'`);
    expect(n).toBe(1);
    await query(s.adminUrl, `INSERT INTO users (id, organization_id, email, password_hash, full_name) VALUES ('${USER_B}', '${B}', 'bob@b.example', 'x', 'Bob')`);
  });

  it('upgrade as the owner refuses a database that already holds such rows, in one line with their count, and keeps them; downgrade gives the old key back', async () => {
    const down = await runCli(['downgrade', BEFORE, '--yes'], { env: s.env });
    expect(down.exitCode, down.stderr).toBe(0);
    const fk = `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'notifications'::regclass AND confrelid = 'users'::regclass`;
    expect(await query(s.adminUrl, fk)).toEqual([{ def: 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE' }]);
    // What the single-column key let in: two of A's notifications for B's user.
    await query(s.adminUrl, `${notification(A, USER_B, 'crossing 1')}; ${notification(A, USER_B, 'crossing 2')}`);

    const up = await runCli(['upgrade', 'head'], { env: s.env });
    expect(up.exitCode).toBe(1);
    const error = up.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(error).toHaveLength(1);
    expect(error[0]).toContain('refused: 2 notification(s) belong to one organization and name a user of another (notifications.user_id): delete them or set user_id to a user of their own organization, then upgrade again');
    expect(error[0]).not.toContain('in statement');
    expect((await query(s.adminUrl, `SELECT version_num FROM cmmc_schema_version`)).map((r) => r.version_num)).toEqual([BEFORE]);
    const [{ n }] = await query<{ n: number }>(s.adminUrl, `SELECT count(*)::int AS n FROM notifications WHERE title LIKE 'crossing%'`);
    expect(n).toBe(2);

    await query(s.adminUrl, `DELETE FROM notifications WHERE title LIKE 'crossing%'`);
    const again = await runCli(['upgrade', 'head'], { env: s.env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await query(s.adminUrl, fk)).toEqual([{ def: 'FOREIGN KEY (user_id, organization_id) REFERENCES users(id, organization_id) ON DELETE CASCADE' }]);
    // FORCE was lifted only inside the revision's transaction.
    const forced = await query(s.adminUrl, `SELECT relname, relforcerowsecurity AS forced FROM pg_class WHERE relname IN ('notifications', 'users') ORDER BY 1`);
    expect(forced).toEqual([{ relname: 'notifications', forced: true }, { relname: 'users', forced: true }]);
  }, 120_000);
});
