/**
 * AI and retrieval: the organization's policy and procedure library with a document-level
 * embedding, the ordered chunks that retrieval searches, and the audit trail of every AI operation.
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'c4b9e2a61f24';
export const downRevision: string | string[] | null = 'a85e3f0d7c13';
export const message = 'ai and retrieval';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('documents')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('title', 'varchar(500)', (c) => c.notNull())
    .addColumn('document_type', 'varchar(30)', (c) =>
      c
        .notNull()
        .check(sql`document_type IN ('Policy', 'Procedure', 'Standard', 'Plan', 'SSP', 'Guideline', 'Other')`),
    )
    .addColumn('version', 'varchar(50)', (c) => c.notNull().defaultTo('1.0'))
    .addColumn('status', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Draft').check(sql`status IN ('Draft', 'Under Review', 'Approved', 'Archived')`),
    )
    .addColumn('file_name', 'varchar(500)')
    .addColumn('file_path', 'text')
    .addColumn('mime_type', 'varchar(255)')
    .addColumn('file_size_bytes', 'bigint', (c) => c.check(sql`file_size_bytes >= 0`))
    .addColumn('content', 'text')
    .addColumn('content_hash', 'varchar(64)')
    .addColumn('control_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('owner_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('approved_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('approved_at', 'timestamptz')
    .addColumn('effective_date', 'date')
    .addColumn('next_review_date', 'date')
    .addColumn('embedding', sql`vector(3072)`)
    .addColumn('embedding_model', 'varchar(100)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('documents_approval_check', sql`status <> 'Approved' OR approved_at IS NOT NULL`)
    .addUniqueConstraint('documents_id_organization_id_key', ['id', 'organization_id'])
    .execute();
  await db.schema.createIndex('idx_documents_organization_id').on('documents').column('organization_id').execute();
  await db.schema.createIndex('idx_documents_type').on('documents').column('document_type').execute();
  await db.schema.createIndex('idx_documents_status').on('documents').column('status').execute();
  await db.schema.createIndex('idx_documents_control_ids').on('documents').using('gin').column('control_ids').execute();
  await db.schema.createIndex('idx_documents_owner_id').on('documents').column('owner_id').execute();
  await db.schema.createIndex('idx_documents_approved_by').on('documents').column('approved_by').execute();
  await db.schema.createIndex('idx_documents_next_review_date').on('documents').column('next_review_date').execute();
  await sql`CREATE INDEX idx_documents_embedding ON documents
    USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)`.execute(db);

  await db.schema
    .createTable('document_chunks')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('document_id', 'uuid', (c) => c.notNull())
    .addColumn('organization_id', 'uuid', (c) => c.notNull())
    .addColumn('chunk_index', 'integer', (c) => c.notNull().check(sql`chunk_index >= 0`))
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('heading', 'varchar(500)')
    .addColumn('token_count', 'integer', (c) => c.check(sql`token_count >= 0`))
    .addColumn('char_start', 'integer', (c) => c.check(sql`char_start >= 0`))
    .addColumn('char_end', 'integer')
    .addColumn('embedding', sql`vector(3072)`)
    .addColumn('embedding_model', 'varchar(100)')
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('document_chunks_offsets_check', sql`char_end IS NULL OR char_start IS NULL OR char_end >= char_start`)
    // Chunks are derived from their document: re-chunking or deleting the document removes them.
    .addForeignKeyConstraint(
      'document_chunks_document_fkey',
      ['document_id', 'organization_id'],
      'documents',
      ['id', 'organization_id'],
      (fk) => fk.onDelete('cascade'),
    )
    .addUniqueConstraint('document_chunks_document_id_chunk_index_key', ['document_id', 'chunk_index'])
    .execute();
  await db.schema.createIndex('idx_document_chunks_organization_id').on('document_chunks').column('organization_id').execute();
  await sql`CREATE INDEX idx_document_chunks_embedding ON document_chunks
    USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops)`.execute(db);

  await db.schema
    .createTable('ai_analysis_results')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('assessment_id', 'uuid')
    .addColumn('analysis_type', 'varchar(40)', (c) =>
      c
        .notNull()
        .check(
          sql`analysis_type IN ('narrative_generation', 'evidence_analysis', 'gap_analysis', 'control_mapping', 'document_summary', 'embedding', 'risk_assessment', 'chat')`,
        ),
    )
    // What it ran on: a polymorphic reference, kept without a foreign key so that the trail
    // outlives the finding, evidence or document it analysed.
    .addColumn('entity_type', 'varchar(30)', (c) =>
      c.check(
        sql`entity_type IN ('assessment', 'control_finding', 'evidence', 'document', 'document_chunk', 'poam_item')`,
      ),
    )
    .addColumn('entity_id', 'uuid')
    .addColumn('control_id', 'varchar(20)', (c) => c.references('cmmc_controls.id').onDelete('set null'))
    .addColumn('model_provider', 'varchar(50)', (c) => c.notNull())
    .addColumn('model_name', 'varchar(100)', (c) => c.notNull())
    .addColumn('prompt_version', 'varchar(50)')
    .addColumn('input', 'jsonb')
    .addColumn('output', 'jsonb')
    .addColumn('confidence_score', 'numeric(3, 2)', (c) => c.check(sql`confidence_score BETWEEN 0 AND 1`))
    .addColumn('input_tokens', 'integer', (c) => c.check(sql`input_tokens >= 0`))
    .addColumn('output_tokens', 'integer', (c) => c.check(sql`output_tokens >= 0`))
    .addColumn('cost_usd', 'numeric(12, 6)', (c) => c.check(sql`cost_usd >= 0`))
    .addColumn('duration_ms', 'integer', (c) => c.check(sql`duration_ms >= 0`))
    .addColumn('status', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Pending').check(sql`status IN ('Pending', 'Running', 'Completed', 'Failed', 'Cancelled')`),
    )
    .addColumn('error_message', 'text')
    .addColumn('requested_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .addCheckConstraint('ai_analysis_results_entity_check', sql`(entity_type IS NULL) = (entity_id IS NULL)`)
    .addCheckConstraint('ai_analysis_results_error_check', sql`status <> 'Failed' OR error_message IS NOT NULL`)
    .execute();
  // The trail outlives the assessment too: only assessment_id is cleared.
  await sql`ALTER TABLE ai_analysis_results ADD CONSTRAINT ai_analysis_results_assessment_fkey
    FOREIGN KEY (assessment_id, organization_id) REFERENCES assessments (id, organization_id)
    ON DELETE SET NULL (assessment_id)`.execute(db);
  await db.schema.createIndex('idx_ai_results_organization_id').on('ai_analysis_results').column('organization_id').execute();
  await db.schema.createIndex('idx_ai_results_assessment_id').on('ai_analysis_results').column('assessment_id').execute();
  await db.schema.createIndex('idx_ai_results_entity').on('ai_analysis_results').columns(['entity_type', 'entity_id']).execute();
  await db.schema.createIndex('idx_ai_results_analysis_type').on('ai_analysis_results').column('analysis_type').execute();
  await db.schema.createIndex('idx_ai_results_status').on('ai_analysis_results').column('status').execute();
  await db.schema.createIndex('idx_ai_results_control_id').on('ai_analysis_results').column('control_id').execute();
  await db.schema.createIndex('idx_ai_results_requested_by').on('ai_analysis_results').column('requested_by').execute();
  await db.schema
    .createIndex('idx_ai_results_created_at')
    .on('ai_analysis_results')
    .expression(sql`created_at DESC`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ai_analysis_results').execute();
  await db.schema.dropTable('document_chunks').execute();
  await db.schema.dropTable('documents').execute();
}
