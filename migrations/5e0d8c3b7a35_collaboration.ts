/**
 * Collaboration: threaded comments on findings, evidence, POA&M items and assessments (with
 * @mentions), and per-user notifications with read and delivery state.
 */
import { sql, type Kysely } from 'kysely';

export const revision = '5e0d8c3b7a35';
export const downRevision: string | string[] | null = 'c4b9e2a61f24';
export const message = 'collaboration';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('comments')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    // Exactly one subject; each is a foreign key with organization_id (see below).
    .addColumn('assessment_id', 'uuid')
    .addColumn('finding_id', 'uuid')
    .addColumn('evidence_id', 'uuid')
    .addColumn('poam_item_id', 'uuid')
    .addColumn('parent_id', 'uuid')
    // A comment stays when its author's account is removed (shown as a former user).
    .addColumn('author_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('body', 'text', (c) => c.notNull().check(sql`length(btrim(body)) > 0`))
    .addColumn('mentions', sql`uuid[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('is_resolved', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('edited_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'comments_one_subject_check',
      sql`num_nonnulls(assessment_id, finding_id, evidence_id, poam_item_id) = 1`,
    )
    .addCheckConstraint('comments_parent_check', sql`parent_id IS NULL OR parent_id <> id`)
    .addUniqueConstraint('comments_id_organization_id_key', ['id', 'organization_id'])
    .execute();
  // A discussion goes with what it discusses, and replies with the comment they answer. Each
  // reference includes organization_id, so a comment can only point at its own tenant's rows.
  const subjects: [string, string][] = [
    ['assessment_id', 'assessments'],
    ['finding_id', 'control_findings'],
    ['evidence_id', 'evidence'],
    ['poam_item_id', 'poam_items'],
    ['parent_id', 'comments'],
  ];
  for (const [column, table] of subjects) {
    await db.schema
      .alterTable('comments')
      .addForeignKeyConstraint(`comments_${column.replace(/_id$/, '')}_fkey`, [column, 'organization_id'], table, ['id', 'organization_id'], (fk) =>
        fk.onDelete('cascade'),
      )
      .execute();
  }
  await db.schema.createIndex('idx_comments_organization_id').on('comments').column('organization_id').execute();
  for (const col of ['assessment_id', 'finding_id', 'evidence_id', 'poam_item_id', 'parent_id', 'author_id']) {
    await db.schema
      .createIndex(`idx_comments_${col}`)
      .on('comments')
      .column(col)
      .where(sql.ref(col), 'is not', null)
      .execute();
  }
  // "Where was I mentioned?"
  await db.schema.createIndex('idx_comments_mentions').on('comments').using('gin').column('mentions').execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`uuid_generate_v4()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    // A notification is for one user and goes with the account.
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('notification_type', 'varchar(30)', (c) =>
      c
        .notNull()
        .check(
          sql`notification_type IN ('mention', 'comment_reply', 'assignment', 'status_change', 'due_date', 'poam_overdue', 'assessment_complete', 'ai_analysis_complete', 'system')`,
        ),
    )
    .addColumn('title', 'varchar(255)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('entity_type', 'varchar(30)')
    .addColumn('entity_id', 'uuid')
    .addColumn('action_url', 'text')
    .addColumn('channel', 'varchar(10)', (c) =>
      c.notNull().defaultTo('in_app').check(sql`channel IN ('in_app', 'email', 'both')`),
    )
    .addColumn('is_read', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('read_at', 'timestamptz')
    .addColumn('delivery_status', 'varchar(20)', (c) =>
      c.notNull().defaultTo('Pending').check(sql`delivery_status IN ('Pending', 'Sent', 'Delivered', 'Failed', 'Skipped')`),
    )
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('delivery_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('notifications_read_check', sql`is_read = (read_at IS NOT NULL)`)
    .execute();
  await db.schema.createIndex('idx_notifications_organization_id').on('notifications').column('organization_id').execute();
  await db.schema
    .createIndex('idx_notifications_user_id')
    .on('notifications')
    .expression(sql`user_id, created_at DESC`)
    .execute();
  // The bell: a user's unread notifications, newest first.
  await db.schema
    .createIndex('idx_notifications_user_unread')
    .on('notifications')
    .expression(sql`user_id, created_at DESC`)
    .where(sql.ref('is_read'), '=', false)
    .execute();
  // The mailer's queue.
  await db.schema
    .createIndex('idx_notifications_delivery_pending')
    .on('notifications')
    .column('created_at')
    .where(sql.ref('delivery_status'), '=', 'Pending')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notifications').execute();
  await db.schema.dropTable('comments').execute();
}
