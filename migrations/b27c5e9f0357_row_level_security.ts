/**
 * Row-level security: every tenant-owned table shows and accepts only the rows of the organization
 * named by the session setting `app.current_organization_id`. With the setting missing or empty no
 * row is visible. Superusers and the tables' owner (the migration role) bypass the policies; the
 * application's role does not. audit_logs gets read and append policies only: for the
 * application role the trail is append-only (no UPDATE or DELETE policy, so those touch no row).
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'b27c5e9f0357';
export const downRevision: string | string[] | null = '91f6a4d2e846';
export const message = 'row-level security';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** Tenant-owned tables whose tenant column is organization_id. */
export const TENANT_TABLES = [
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
] as const;

const CURRENT_ORG = sql`NULLIF(current_setting('app.current_organization_id', true), '')::uuid`;

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of TENANT_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} ENABLE ROW LEVEL SECURITY`.execute(db);
    await sql`CREATE POLICY tenant_isolation ON ${sql.table(table)}
      USING (organization_id = ${CURRENT_ORG})
      WITH CHECK (organization_id = ${CURRENT_ORG})`.execute(db);
  }
  // The tenant itself: a session sees and edits its own organization row only.
  await sql`ALTER TABLE organizations ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`CREATE POLICY tenant_isolation ON organizations
    USING (id = ${CURRENT_ORG})
    WITH CHECK (id = ${CURRENT_ORG})`.execute(db);
  await sql`ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`CREATE POLICY tenant_read ON audit_logs FOR SELECT
    USING (organization_id = ${CURRENT_ORG})`.execute(db);
  await sql`CREATE POLICY tenant_append ON audit_logs FOR INSERT
    WITH CHECK (organization_id = ${CURRENT_ORG})`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP POLICY tenant_append ON audit_logs`.execute(db);
  await sql`DROP POLICY tenant_read ON audit_logs`.execute(db);
  await sql`ALTER TABLE audit_logs DISABLE ROW LEVEL SECURITY`.execute(db);
  await sql`DROP POLICY tenant_isolation ON organizations`.execute(db);
  await sql`ALTER TABLE organizations DISABLE ROW LEVEL SECURITY`.execute(db);
  for (const table of [...TENANT_TABLES].reverse()) {
    await sql`DROP POLICY tenant_isolation ON ${sql.table(table)}`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} DISABLE ROW LEVEL SECURITY`.execute(db);
  }
}
