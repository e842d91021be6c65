/**
 * Control master data: the 110 CMMC practices (loaded by the seed files) and what each cloud
 * provider inherits, shares or leaves to the customer. Not tenant data: every organization reads it.
 */
import { sql, type Kysely } from 'kysely';

export const revision = '7d24b6e1c902';
export const downRevision: string | string[] | null = '3f1c0a9e5b01';
export const message = 'control master data';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('cmmc_controls')
    .addColumn('id', 'varchar(20)', (c) => c.primaryKey())
    .addColumn('level', 'integer', (c) => c.notNull().check(sql`level IN (1, 2, 3)`))
    .addColumn('domain', 'varchar(2)', (c) =>
      c.notNull().check(sql`domain IN ('AC','AT','AU','CA','CM','IA','IR','MA','MP','PE','PS','RA','SC','SI')`),
    )
    .addColumn('practice_id', 'varchar(20)', (c) => c.notNull())
    .addColumn('title', 'varchar(500)', (c) => c.notNull())
    .addColumn('objective', 'text', (c) => c.notNull())
    .addColumn('discussion', 'text')
    .addColumn('nist_control_id', 'varchar(20)', (c) => c.notNull())
    .addColumn('assessment_objectives', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('examine_items', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('interview_items', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('test_items', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The UNIQUE constraint's own index is idx_controls_nist: one index, not a unique one plus a copy.
    .addUniqueConstraint('idx_controls_nist', ['nist_control_id'])
    .execute();
  await db.schema.createIndex('idx_controls_level').on('cmmc_controls').column('level').execute();
  await db.schema.createIndex('idx_controls_domain').on('cmmc_controls').column('domain').execute();

  await db.schema
    .createTable('provider_inheritance')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('provider', 'varchar(30)', (c) =>
      c.notNull().check(sql`provider IN ('M365_GCC_HIGH', 'AZURE_GOVERNMENT', 'AWS_GOVCLOUD')`),
    )
    // Guidance about a control means nothing without the control.
    .addColumn('control_id', 'varchar(20)', (c) => c.notNull().references('cmmc_controls.id').onDelete('cascade'))
    .addColumn('inheritance_type', 'varchar(20)', (c) =>
      c.notNull().check(sql`inheritance_type IN ('Inherited', 'Shared', 'Customer')`),
    )
    .addColumn('provider_responsibility', 'text')
    .addColumn('customer_responsibility', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('cmmc-db guidance'))
    .addColumn('verified', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('notes', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('provider_inheritance_provider_control_id_key', ['provider', 'control_id'])
    .execute();
  await db.schema.createIndex('idx_provider_inheritance_provider').on('provider_inheritance').column('provider').execute();
  await db.schema.createIndex('idx_provider_inheritance_control_id').on('provider_inheritance').column('control_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('provider_inheritance').execute();
  await db.schema.dropTable('cmmc_controls').execute();
}
