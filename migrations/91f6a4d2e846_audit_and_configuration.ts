/**
 * Audit and configuration: the append-only compliance trail (who changed what, the change as JSONB)
 * and the platform's settings as a JSONB key-value store.
 */
import { sql, type Kysely } from 'kysely';

export const revision = '91f6a4d2e846';
export const downRevision: string | string[] | null = '5e0d8c3b7a35';
export const message = 'audit and configuration';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_logs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    // No foreign keys on purpose: the trail records ids as historical facts and must outlive
    // (and never be rewritten by) the deletion of an organization, a user or a row.
    .addColumn('organization_id', 'uuid')
    .addColumn('user_id', 'uuid')
    .addColumn('user_email', 'varchar(255)')
    .addColumn('action', 'varchar(20)', (c) =>
      c
        .notNull()
        .check(
          sql`action IN ('INSERT', 'UPDATE', 'DELETE', 'LOGIN', 'LOGOUT', 'LOGIN_FAILED', 'EXPORT', 'VIEW', 'APPROVE', 'AI_ANALYSIS')`,
        ),
    )
    .addColumn('entity_type', 'varchar(50)', (c) => c.notNull())
    .addColumn('entity_id', 'varchar(100)')
    .addColumn('changes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`).check(sql`jsonb_typeof(changes) = 'object'`))
    .addColumn('ip_address', sql`inet`)
    .addColumn('user_agent', 'text')
    .addColumn('request_id', 'varchar(100)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('idx_audit_logs_organization_id')
    .on('audit_logs')
    .expression(sql`organization_id, created_at DESC`)
    .execute();
  await db.schema.createIndex('idx_audit_logs_user_id').on('audit_logs').expression(sql`user_id, created_at DESC`).execute();
  await db.schema.createIndex('idx_audit_logs_entity').on('audit_logs').columns(['entity_type', 'entity_id']).execute();
  await db.schema.createIndex('idx_audit_logs_action').on('audit_logs').column('action').execute();
  // Append-only and time-ordered: a BRIN index stays tiny however long the trail grows.
  await db.schema.createIndex('idx_audit_logs_created_at').on('audit_logs').using('brin').column('created_at').execute();

  await db.schema
    .createTable('system_config')
    .addColumn('key', 'varchar(100)', (c) => c.primaryKey().check(sql`key ~ '^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$'`))
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('is_secret', 'boolean', (c) => c.notNull().defaultTo(false))
    // The setting stays when the admin who last changed it leaves.
    .addColumn('updated_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('idx_system_config_updated_by').on('system_config').column('updated_by').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('system_config').execute();
  await db.schema.dropTable('audit_logs').execute();
}
