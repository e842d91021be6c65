/**
 * notifications keyed by tenant
 *
 * `notifications.user_id` referenced `users (id)` alone, so a tenant's session could file a
 * notification under its own organization for a user of another one: tenant B deleting that user
 * then deleted tenant A's row (ON DELETE CASCADE), and the foreign-key error on an unknown id told A
 * whether an id was a user of some other tenant. It now references `users (id, organization_id)`,
 * as the other tenant child tables reference their parents (docs/schema.md, Conventions): a
 * notification is for a user of its own organization. users gets `UNIQUE (id, organization_id)`
 * for it (users stays keyed by id: lead_assessor_id, uploaded_by, ... may point across tenants on
 * purpose, and it is a reference table when distributed, docs/scale-out.md).
 *
 * A database that already holds notifications of one organization for a user of another is
 * refused with one line naming how many: which to keep is the data owner's decision, never the
 * migration's. The count needs every tenant's rows: the owner is bound by FORCE ROW LEVEL
 * SECURITY (836a4a2ccb41), so FORCE is lifted around it, inside this revision's transaction.
 *
 * Revision ID: 00c448613939
 * Revises: c0290a8b76a4
 * Create Date: 2026-12-01T08:34:29.810Z
 */
import { sql, type Kysely } from 'kysely';

export const revision = '00c448613939';
export const downRevision: string | string[] | null = 'c0290a8b76a4';
export const message = 'notifications keyed by tenant';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE notifications NO FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE users NO FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`DO $$
    DECLARE crossing bigint;
    BEGIN
      SELECT count(*) INTO crossing FROM notifications n JOIN users u ON u.id = n.user_id
       WHERE u.organization_id <> n.organization_id;
      IF crossing > 0 THEN
        RAISE EXCEPTION '% notification(s) belong to one organization and name a user of another (notifications.user_id): delete them or set user_id to a user of their own organization, then upgrade again', crossing
          USING HINT = 'find them with: SELECT n.id, n.organization_id, n.user_id, u.organization_id AS user_organization_id FROM notifications n JOIN users u ON u.id = n.user_id WHERE u.organization_id <> n.organization_id (as a role that bypasses row-level security)';
      END IF;
    END
    $$`.execute(db);
  await sql`ALTER TABLE users FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE notifications FORCE ROW LEVEL SECURITY`.execute(db);

  await sql`ALTER TABLE users ADD CONSTRAINT users_id_organization_id_key UNIQUE (id, organization_id)`.execute(db);
  await sql`ALTER TABLE notifications DROP CONSTRAINT notifications_user_id_fkey`.execute(db);
  await sql`ALTER TABLE notifications ADD CONSTRAINT notifications_user_fkey
    FOREIGN KEY (user_id, organization_id) REFERENCES users (id, organization_id) ON DELETE CASCADE`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE notifications DROP CONSTRAINT notifications_user_fkey`.execute(db);
  await sql`ALTER TABLE notifications ADD CONSTRAINT notifications_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE`.execute(db);
  await sql`ALTER TABLE users DROP CONSTRAINT users_id_organization_id_key`.execute(db);
}
