/**
 * Extensions and tenancy: uuid-ossp (uuid_generate_v4 for every tenant key), vector (pgvector, for
 * the embeddings of evidence, documents and chunks), the tenants (organizations) and their users.
 */
import { sql, type Kysely } from 'kysely';

export const revision = '3f1c0a9e5b01';
export const downRevision: string | string[] | null = null;
export const message = 'extensions and tenancy';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS "uuid-ossp"`.execute(db);
  await sql`CREATE EXTENSION IF NOT EXISTS vector`.execute(db);

  await db.schema
    .createTable('organizations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('organization_type', 'varchar(20)', (c) =>
      c.notNull().check(sql`organization_type IN ('Enterprise', 'SMB', 'Consultant', 'C3PAO')`),
    )
    .addColumn('cage_code', 'varchar(5)')
    .addColumn('duns_number', 'varchar(13)')
    .addColumn('uei', 'varchar(12)')
    .addColumn('address', 'text')
    .addColumn('city', 'varchar(100)')
    .addColumn('state', 'varchar(50)')
    .addColumn('zip_code', 'varchar(20)')
    .addColumn('country', 'varchar(100)', (c) => c.notNull().defaultTo('USA'))
    .addColumn('phone', 'varchar(50)')
    .addColumn('website', 'varchar(255)')
    .addColumn('target_cmmc_level', 'integer', (c) => c.notNull().defaultTo(2).check(sql`target_cmmc_level IN (1, 2, 3)`))
    .addColumn('status', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Trial').check(sql`status IN ('Active', 'Trial', 'Suspended', 'Inactive')`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('idx_organizations_status').on('organizations').column('status').execute();
  await db.schema.createIndex('idx_organizations_type').on('organizations').column('organization_type').execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    // A user belongs to one tenant; removing the tenant removes its accounts.
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    // Stored lower-case so that the unique index is case-insensitive in effect.
    .addColumn('email', 'varchar(255)', (c) =>
      c.notNull().check(sql`email = lower(email) AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'`),
    )
    .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('full_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('role', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Viewer').check(sql`role IN ('Admin', 'Assessor', 'Auditor', 'Viewer')`),
    )
    .addColumn('status', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Pending').check(sql`status IN ('Active', 'Pending', 'Suspended', 'Inactive')`),
    )
    .addColumn('phone', 'varchar(50)')
    .addColumn('job_title', 'varchar(255)')
    .addColumn('email_verified', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('last_login', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('idx_users_organization_id').on('users').column('organization_id').execute();
  await db.schema.createIndex('idx_users_email').on('users').column('email').unique().execute();
  await db.schema.createIndex('idx_users_status').on('users').column('status').execute();
  await db.schema.createIndex('idx_users_role').on('users').column('role').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('users').execute();
  await db.schema.dropTable('organizations').execute();
  await sql`DROP EXTENSION IF EXISTS vector`.execute(db);
  await sql`DROP EXTENSION IF EXISTS "uuid-ossp"`.execute(db);
}
