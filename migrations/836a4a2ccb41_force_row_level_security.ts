/**
 * Force row-level security on every tenant table, so that the tables' owner is bound by the
 * tenant policies too (PostgreSQL exempts a table's owner unless the table has FORCE ROW LEVEL
 * SECURITY; only superusers and roles with BYPASSRLS are then exempt). With no tenant set
 * (`app.current_organization_id` missing or empty) every role that is not exempt sees no tenant row
 * and every tenant write fails its WITH CHECK: the policies of b27c5e9f0357 fail closed.
 *
 * Work that must cross tenants (the seed loader, pg_dump) switches to the BYPASSRLS role that
 * `cmmc-db init` creates (docs/schema.md, "Roles").
 *
 * Revision ID: 836a4a2ccb41
 * Revises: e3a8d1c6b468
 */
import { sql, type Kysely } from 'kysely';

export const revision = '836a4a2ccb41';
export const downRevision: string | string[] | null = 'e3a8d1c6b468';
export const message = 'force row level security';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** Every table with a tenant policy at this revision (organizations by its id, the rest by organization_id). */
const TENANT_TABLES = [
  'organizations',
  'users',
  'assessments',
  'control_findings',
  'evidence',
  'poam_items',
  'documents',
  'document_chunks',
  'ai_analysis_results',
  'comments',
  'notifications',
  'audit_logs',
] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of TENANT_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} FORCE ROW LEVEL SECURITY`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [...TENANT_TABLES].reverse()) {
    await sql`ALTER TABLE ${sql.table(table)} NO FORCE ROW LEVEL SECURITY`.execute(db);
  }
}
