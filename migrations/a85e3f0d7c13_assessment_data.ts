/**
 * Assessment data: an organization's assessments, one finding per control in scope, the evidence
 * behind the findings (with a 3072-dimension embedding), and POA&M remediation items.
 *
 * Tenant consistency: findings and POA&M items reference the assessment by (id, organization_id),
 * so a row can never name one organization and belong to another's assessment.
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'a85e3f0d7c13';
export const downRevision: string | string[] | null = '7d24b6e1c902';
export const message = 'assessment data';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

const DOMAINS = sql`ARRAY['AC','AT','AU','CA','CM','IA','IR','MA','MP','PE','PS','RA','SC','SI']::text[]`;
const PROVIDERS = sql`ARRAY['M365_GCC_HIGH','AZURE_GOVERNMENT','AWS_GOVCLOUD']::text[]`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('assessments')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('assessment_type', 'varchar(20)', (c) =>
      c.notNull().check(sql`assessment_type IN ('CMMC_L1', 'CMMC_L2', 'CMMC_L3')`),
    )
    .addColumn('target_level', 'integer', (c) => c.notNull().defaultTo(2).check(sql`target_level IN (1, 2, 3)`))
    .addColumn('status', 'varchar(20)', (c) =>
      c
        .notNull()
        .defaultTo('Draft')
        .check(sql`status IN ('Draft', 'In Progress', 'Under Review', 'Remediation', 'Completed', 'Archived')`),
    )
    .addColumn('scope_domains', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`).check(sql`scope_domains <@ ${DOMAINS}`))
    .addColumn('scope_cloud_providers', sql`text[]`, (c) =>
      c.notNull().defaultTo(sql`'{}'`).check(sql`scope_cloud_providers <@ ${PROVIDERS}`),
    )
    .addColumn('start_date', 'date')
    .addColumn('end_date', 'date')
    // An assessment outlives the departure of its lead assessor.
    .addColumn('lead_assessor_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('total_controls', 'integer', (c) => c.notNull().defaultTo(0).check(sql`total_controls >= 0`))
    .addColumn('controls_met', 'integer', (c) => c.notNull().defaultTo(0).check(sql`controls_met >= 0`))
    .addColumn('completion_percentage', 'numeric(5, 2)', (c) =>
      c.notNull().defaultTo(0).check(sql`completion_percentage BETWEEN 0 AND 100`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('assessments_dates_check', sql`end_date IS NULL OR start_date IS NULL OR end_date >= start_date`)
    .addCheckConstraint('assessments_controls_met_total_check', sql`controls_met <= total_controls`)
    .addUniqueConstraint('assessments_id_organization_id_key', ['id', 'organization_id'])
    .execute();
  await db.schema.createIndex('idx_assessments_organization_id').on('assessments').column('organization_id').execute();
  await db.schema.createIndex('idx_assessments_status').on('assessments').column('status').execute();
  await db.schema.createIndex('idx_assessments_created_at').on('assessments').expression(sql`created_at DESC`).execute();
  await db.schema.createIndex('idx_assessments_lead_assessor_id').on('assessments').column('lead_assessor_id').execute();

  await db.schema
    .createTable('control_findings')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('assessment_id', 'uuid', (c) => c.notNull())
    .addColumn('organization_id', 'uuid', (c) => c.notNull())
    // Master data in use is not deleted: a finding keeps its control.
    .addColumn('control_id', 'varchar(20)', (c) => c.notNull().references('cmmc_controls.id').onDelete('restrict'))
    .addColumn('status', 'varchar(20)', (c) =>
      c
        .notNull()
        .defaultTo('Not Started')
        .check(sql`status IN ('Not Started', 'In Progress', 'Met', 'Not Met', 'Not Applicable')`),
    )
    .addColumn('implementation_narrative', 'text')
    .addColumn('evidence_ids', sql`uuid[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('ai_generated_narrative', 'text')
    .addColumn('ai_confidence_score', 'numeric(3, 2)', (c) => c.check(sql`ai_confidence_score BETWEEN 0 AND 1`))
    .addColumn('uses_provider_inheritance', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('risk_level', 'varchar(20)', (c) => c.check(sql`risk_level IN ('Low', 'Medium', 'High', 'Critical')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // A finding is part of its assessment: deleting the assessment deletes its findings.
    .addForeignKeyConstraint(
      'control_findings_assessment_fkey',
      ['assessment_id', 'organization_id'],
      'assessments',
      ['id', 'organization_id'],
      (fk) => fk.onDelete('cascade'),
    )
    .addUniqueConstraint('control_findings_assessment_id_control_id_key', ['assessment_id', 'control_id'])
    // The target of tenant-consistent references (POA&M items, comments).
    .addUniqueConstraint('control_findings_id_organization_id_key', ['id', 'organization_id'])
    .execute();
  await db.schema.createIndex('idx_findings_assessment_id').on('control_findings').column('assessment_id').execute();
  await db.schema.createIndex('idx_findings_control_id').on('control_findings').column('control_id').execute();
  await db.schema.createIndex('idx_findings_organization_id').on('control_findings').column('organization_id').execute();
  await db.schema.createIndex('idx_findings_status').on('control_findings').column('status').execute();

  await db.schema
    .createTable('evidence')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('assessment_id', 'uuid')
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('file_name', 'varchar(500)', (c) => c.notNull())
    .addColumn('file_path', 'text', (c) => c.notNull())
    .addColumn('file_size_bytes', 'bigint', (c) => c.check(sql`file_size_bytes >= 0`))
    .addColumn('mime_type', 'varchar(255)')
    .addColumn('evidence_type', 'varchar(30)', (c) =>
      c
        .notNull()
        .check(
          sql`evidence_type IN ('Policy', 'Procedure', 'Screenshot', 'Configuration', 'Log', 'Report', 'Diagram', 'Interview', 'Other')`,
        ),
    )
    .addColumn('description', 'text')
    .addColumn('control_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('extracted_text', 'text')
    .addColumn('embedding', sql`vector(3072)`)
    .addColumn('uploaded_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('evidence_id_organization_id_key', ['id', 'organization_id'])
    .execute();
  // Evidence belongs to the organization's library: deleting an assessment unlinks it (only
  // assessment_id becomes NULL, organization_id stays) so it can serve the next assessment.
  await sql`ALTER TABLE evidence ADD CONSTRAINT evidence_assessment_fkey
    FOREIGN KEY (assessment_id, organization_id) REFERENCES assessments (id, organization_id)
    ON DELETE SET NULL (assessment_id)`.execute(db);
  await db.schema.createIndex('idx_evidence_assessment_id').on('evidence').column('assessment_id').execute();
  await db.schema.createIndex('idx_evidence_organization_id').on('evidence').column('organization_id').execute();
  await db.schema.createIndex('idx_evidence_control_ids').on('evidence').using('gin').column('control_ids').execute();
  await db.schema.createIndex('idx_evidence_uploaded_by').on('evidence').column('uploaded_by').execute();
  // pgvector indexes at most 2000 dimensions of `vector`, 4000 of `halfvec`: index the halfvec cast.
  await sql`CREATE INDEX idx_evidence_embedding ON evidence
    USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)`.execute(db);

  await db.schema
    .createTable('poam_items')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull())
    .addColumn('assessment_id', 'uuid', (c) => c.notNull())
    .addColumn('control_id', 'varchar(20)', (c) => c.notNull().references('cmmc_controls.id').onDelete('restrict'))
    .addColumn('finding_id', 'uuid')
    .addColumn('title', 'varchar(500)', (c) => c.notNull())
    .addColumn('weakness_description', 'text', (c) => c.notNull())
    .addColumn('remediation_plan', 'text')
    .addColumn('milestones', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`).check(sql`jsonb_typeof(milestones) = 'array'`))
    .addColumn('risk_level', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Medium').check(sql`risk_level IN ('Low', 'Medium', 'High', 'Critical')`),
    )
    .addColumn('status', 'varchar(20)', (c) =>
      c
        .notNull()
        .defaultTo('Open')
        .check(sql`status IN ('Open', 'In Progress', 'Delayed', 'Completed', 'Risk Accepted')`),
    )
    .addColumn('owner_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('resources_required', 'text')
    .addColumn('estimated_cost', 'numeric(12, 2)', (c) => c.check(sql`estimated_cost >= 0`))
    .addColumn('due_date', 'date')
    .addColumn('completion_date', 'date')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('poam_items_completion_check', sql`(status = 'Completed') = (completion_date IS NOT NULL)`)
    // POA&M items are the assessment's remediation plan: they go with it.
    .addForeignKeyConstraint(
      'poam_items_assessment_fkey',
      ['assessment_id', 'organization_id'],
      'assessments',
      ['id', 'organization_id'],
      (fk) => fk.onDelete('cascade'),
    )
    .addUniqueConstraint('poam_items_id_organization_id_key', ['id', 'organization_id'])
    .execute();
  // The item survives its finding's deletion (it keeps control and assessment): only finding_id is cleared.
  await sql`ALTER TABLE poam_items ADD CONSTRAINT poam_items_finding_fkey
    FOREIGN KEY (finding_id, organization_id) REFERENCES control_findings (id, organization_id)
    ON DELETE SET NULL (finding_id)`.execute(db);
  await db.schema.createIndex('idx_poam_items_organization_id').on('poam_items').column('organization_id').execute();
  await db.schema.createIndex('idx_poam_items_assessment_id').on('poam_items').column('assessment_id').execute();
  await db.schema.createIndex('idx_poam_items_control_id').on('poam_items').column('control_id').execute();
  await db.schema.createIndex('idx_poam_items_finding_id').on('poam_items').column('finding_id').execute();
  await db.schema.createIndex('idx_poam_items_status').on('poam_items').column('status').execute();
  await db.schema.createIndex('idx_poam_items_owner_id').on('poam_items').column('owner_id').execute();
  // The overdue report: open items by due date.
  await db.schema
    .createIndex('idx_poam_items_due_date')
    .on('poam_items')
    .column('due_date')
    .where(sql.ref('status'), 'not in', ['Completed', 'Risk Accepted'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('poam_items').execute();
  await db.schema.dropTable('evidence').execute();
  await db.schema.dropTable('control_findings').execute();
  await db.schema.dropTable('assessments').execute();
}
