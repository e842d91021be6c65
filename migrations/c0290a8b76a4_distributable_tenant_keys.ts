/**
 * Tenant keys a distributed PostgreSQL (Citus) accepts, on plain PostgreSQL (docs/scale-out.md).
 * The ten tenant tables that would be distributed by organization_id get:
 * - a primary key that includes organization_id, `PRIMARY KEY (id, organization_id)`; the
 *   `UNIQUE (id, organization_id)` that the tenant-consistent foreign keys used is then the
 *   primary key itself and goes;
 * - unique constraints that include it: control_findings `UNIQUE (organization_id, assessment_id,
 *   control_id)`, document_chunks `UNIQUE (organization_id, document_id, chunk_index)`, whose
 *   indexes cover the two indexes on organization_id alone of those tables (dropped);
 * - no `ON DELETE SET NULL (col)` on a foreign key that includes organization_id (Citus refuses
 *   it): evidence → assessments, ai_analysis_results → assessments and poam_items →
 *   control_findings become NO ACTION, and the delete path that cleared them is explicit, in one
 *   transaction: `delete_assessment(id, organization_id)` and `delete_control_finding(id,
 *   organization_id)` clear the references and delete (a plain DELETE of a row still referenced
 *   is refused, 23503, instead of quietly changing other rows);
 * - audit_logs.organization_id NOT NULL: events with no tenant (a failed login for an unknown
 *   e-mail, platform jobs) are written under the nil UUID 00000000-0000-0000-0000-000000000000,
 *   the documented "no tenant" organization (no row in organizations: audit_logs has no foreign
 *   key, so that the trail outlives organizations). Existing NULLs become the nil UUID.
 * - ids default to gen_random_uuid() (built in since PostgreSQL 13) instead of uuid-ossp's
 *   uuid_generate_v4(); the extension stays installed for applications that call it.
 *
 * Data is kept both ways. The downgrade restores `PRIMARY KEY (id)`: it fails (23505) only if an id
 * was reused in two organizations after the upgrade, which random UUIDs do not do.
 *
 * Revision ID: c0290a8b76a4
 * Revises: b3c2512605fa
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'c0290a8b76a4';
export const downRevision: string | string[] | null = 'b3c2512605fa';
export const message = 'distributable tenant keys';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** The tables distributed by organization_id (docs/scale-out.md). */
const DISTRIBUTED = [
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

/** Those with a `UNIQUE (id, organization_id)` for the composite foreign keys (b27c5e9f0357 and earlier). */
const WITH_TENANT_UNIQUE = ['assessments', 'comments', 'control_findings', 'documents', 'evidence', 'poam_items'] as const;

interface TenantFk {
  table: string;
  name: string;
  column: string;
  references: string;
  /** ON DELETE before (the SET NULL ones name their column) and after. */
  before: string;
  after: string;
}

/** Every foreign key onto (id, organization_id) of a distributed table. */
const TENANT_FKS: TenantFk[] = [
  { table: 'ai_analysis_results', name: 'ai_analysis_results_assessment_fkey', column: 'assessment_id', references: 'assessments', before: 'SET NULL (assessment_id)', after: 'NO ACTION' },
  { table: 'comments', name: 'comments_assessment_fkey', column: 'assessment_id', references: 'assessments', before: 'CASCADE', after: 'CASCADE' },
  { table: 'comments', name: 'comments_evidence_fkey', column: 'evidence_id', references: 'evidence', before: 'CASCADE', after: 'CASCADE' },
  { table: 'comments', name: 'comments_finding_fkey', column: 'finding_id', references: 'control_findings', before: 'CASCADE', after: 'CASCADE' },
  { table: 'comments', name: 'comments_parent_fkey', column: 'parent_id', references: 'comments', before: 'CASCADE', after: 'CASCADE' },
  { table: 'comments', name: 'comments_poam_item_fkey', column: 'poam_item_id', references: 'poam_items', before: 'CASCADE', after: 'CASCADE' },
  { table: 'control_findings', name: 'control_findings_assessment_fkey', column: 'assessment_id', references: 'assessments', before: 'CASCADE', after: 'CASCADE' },
  { table: 'document_chunks', name: 'document_chunks_document_fkey', column: 'document_id', references: 'documents', before: 'CASCADE', after: 'CASCADE' },
  { table: 'evidence', name: 'evidence_assessment_fkey', column: 'assessment_id', references: 'assessments', before: 'SET NULL (assessment_id)', after: 'NO ACTION' },
  { table: 'poam_items', name: 'poam_items_assessment_fkey', column: 'assessment_id', references: 'assessments', before: 'CASCADE', after: 'CASCADE' },
  { table: 'poam_items', name: 'poam_items_finding_fkey', column: 'finding_id', references: 'control_findings', before: 'SET NULL (finding_id)', after: 'NO ACTION' },
];

/** Unique constraints on a tenant's natural key: before, and after with organization_id first. */
const NATURAL_KEYS = [
  { table: 'control_findings', before: ['control_findings_assessment_id_control_id_key', 'assessment_id, control_id'], after: ['control_findings_organization_id_assessment_id_control_id_key', 'organization_id, assessment_id, control_id'] },
  { table: 'document_chunks', before: ['document_chunks_document_id_chunk_index_key', 'document_id, chunk_index'], after: ['document_chunks_organization_id_document_id_chunk_index_key', 'organization_id, document_id, chunk_index'] },
] as const;

/** Indexes on organization_id alone that the new unique keys, led by organization_id, cover. */
const COVERED_INDEXES = [
  { name: 'idx_findings_organization_id', table: 'control_findings' },
  { name: 'idx_document_chunks_organization_id', table: 'document_chunks' },
] as const;

/** Every table whose id defaults to a random UUID. */
const UUID_ID_TABLES = [
  'organizations',
  'users',
  'provider_inheritance',
  ...DISTRIBUTED,
] as const;

/** The documented "no tenant" organization of audit_logs: the nil UUID (RFC 9562 §5.9). */
const NO_TENANT = '00000000-0000-0000-0000-000000000000';

async function setTenantKeys(db: Kysely<any>, direction: 'up' | 'down'): Promise<void> {
  for (const fk of TENANT_FKS) await sql`ALTER TABLE ${sql.table(fk.table)} DROP CONSTRAINT ${sql.id(fk.name)}`.execute(db);
  for (const k of NATURAL_KEYS) {
    const [dropName] = direction === 'up' ? k.before : k.after;
    const [addName, columns] = direction === 'up' ? k.after : k.before;
    await sql`ALTER TABLE ${sql.table(k.table)} DROP CONSTRAINT ${sql.id(dropName)}`.execute(db);
    await sql`ALTER TABLE ${sql.table(k.table)} ADD CONSTRAINT ${sql.id(addName)} UNIQUE (${sql.raw(columns)})`.execute(db);
  }
  for (const i of COVERED_INDEXES) {
    if (direction === 'up') await sql`DROP INDEX ${sql.id(i.name)}`.execute(db);
    else await sql`CREATE INDEX ${sql.id(i.name)} ON ${sql.table(i.table)} (organization_id)`.execute(db);
  }
  if (direction === 'up') {
    for (const t of WITH_TENANT_UNIQUE) await sql`ALTER TABLE ${sql.table(t)} DROP CONSTRAINT ${sql.id(`${t}_id_organization_id_key`)}`.execute(db);
  }
  for (const t of DISTRIBUTED) {
    await sql`ALTER TABLE ${sql.table(t)} DROP CONSTRAINT ${sql.id(`${t}_pkey`)}`.execute(db);
    const columns = direction === 'up' ? 'id, organization_id' : 'id';
    await sql`ALTER TABLE ${sql.table(t)} ADD CONSTRAINT ${sql.id(`${t}_pkey`)} PRIMARY KEY (${sql.raw(columns)})`.execute(db);
  }
  if (direction === 'down') {
    for (const t of WITH_TENANT_UNIQUE) await sql`ALTER TABLE ${sql.table(t)} ADD CONSTRAINT ${sql.id(`${t}_id_organization_id_key`)} UNIQUE (id, organization_id)`.execute(db);
  }
  for (const fk of TENANT_FKS) {
    await sql`ALTER TABLE ${sql.table(fk.table)} ADD CONSTRAINT ${sql.id(fk.name)}
      FOREIGN KEY (${sql.id(fk.column)}, organization_id) REFERENCES ${sql.table(fk.references)} (id, organization_id)
      ON DELETE ${sql.raw(direction === 'up' ? fk.after : fk.before)}`.execute(db);
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  // audit_logs first: its organization_id joins the primary key below and must hold no NULL.
  // The owner is bound by FORCE ROW LEVEL SECURITY (836a4a2ccb41) and audit_logs has no UPDATE
  // policy: lift FORCE around the one UPDATE (inside this revision's transaction) so that the
  // NULLs really change.
  await sql`ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`UPDATE audit_logs SET organization_id = ${sql.lit(NO_TENANT)}::uuid WHERE organization_id IS NULL`.execute(db);
  await sql`ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE audit_logs ALTER COLUMN organization_id SET NOT NULL`.execute(db);
  await sql`COMMENT ON COLUMN audit_logs.organization_id IS ${sql.lit(`The tenant of the event; ${NO_TENANT} (the nil UUID) for events with no tenant (docs/scale-out.md).`)}`.execute(db);

  await setTenantKeys(db, 'up');

  for (const t of UUID_ID_TABLES) await sql`ALTER TABLE ${sql.table(t)} ALTER COLUMN id SET DEFAULT gen_random_uuid()`.execute(db);

  // The delete paths that ON DELETE SET NULL (col) took care of, each one transaction (a function
  // call is one statement). SECURITY INVOKER: row-level security applies to the caller.
  await sql`CREATE FUNCTION delete_control_finding(finding uuid, organization uuid) RETURNS boolean
    LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE poam_items SET finding_id = NULL WHERE organization_id = organization AND finding_id = finding;
      DELETE FROM control_findings WHERE organization_id = organization AND id = finding;
      RETURN FOUND;
    END
    $$`.execute(db);
  await sql`COMMENT ON FUNCTION delete_control_finding(uuid, uuid) IS 'Deletes a control finding: its POA&M items stay with finding_id cleared, its comments go (docs/schema.md).'`.execute(db);
  await sql`CREATE FUNCTION delete_assessment(assessment uuid, organization uuid) RETURNS boolean
    LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE evidence SET assessment_id = NULL WHERE organization_id = organization AND assessment_id = assessment;
      UPDATE ai_analysis_results SET assessment_id = NULL WHERE organization_id = organization AND assessment_id = assessment;
      UPDATE poam_items p SET finding_id = NULL
        FROM control_findings f
       WHERE p.organization_id = organization AND f.organization_id = organization
         AND f.assessment_id = assessment AND p.finding_id = f.id AND p.assessment_id <> assessment;
      DELETE FROM assessments WHERE organization_id = organization AND id = assessment;
      RETURN FOUND;
    END
    $$`.execute(db);
  await sql`COMMENT ON FUNCTION delete_assessment(uuid, uuid) IS 'Deletes an assessment: its findings, POA&M items and comments go, its evidence and AI results stay with assessment_id cleared (docs/schema.md).'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION delete_assessment(uuid, uuid)`.execute(db);
  await sql`DROP FUNCTION delete_control_finding(uuid, uuid)`.execute(db);
  for (const t of [...UUID_ID_TABLES].reverse()) await sql`ALTER TABLE ${sql.table(t)} ALTER COLUMN id SET DEFAULT uuid_generate_v4()`.execute(db);

  // The primary key (id) first: organization_id cannot lose NOT NULL while in the primary key.
  await setTenantKeys(db, 'down');

  await sql`COMMENT ON COLUMN audit_logs.organization_id IS NULL`.execute(db);
  await sql`ALTER TABLE audit_logs ALTER COLUMN organization_id DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`UPDATE audit_logs SET organization_id = NULL WHERE organization_id = ${sql.lit(NO_TENANT)}::uuid`.execute(db);
  await sql`ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY`.execute(db);
}
