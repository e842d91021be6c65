/**
 * platform settings and the nil tenant
 *
 * system_config holds the platform's settings (secrets among them, `is_secret`), and the application
 * role could read and write all of it from inside any tenant's transaction: one tenant's request (an
 * injection, a bug) could read the platform's secrets or change a setting for every tenant. It now
 * has row-level security keyed on the tenant setting: with a tenant set (`app.current_organization_id`
 * non-empty) it is read-only and its secret rows are invisible; with none set (the platform's own
 * context) it is read and written as before, so the platform still reads its secrets and
 * administrators still edit settings through the application. ENABLE, not FORCE: like the reference
 * data, the owner (upgrade, seed without a bypass role) and the bypass role are not bound; the seed
 * loader and `init` write it with no tenant set, where the policies allow everything anyway. The
 * policies are for every role that is bound (PUBLIC): the revisions do not know the application
 * role's name, and every other role that reaches the table is the owner or exempt.
 *
 * The nil UUID 00000000-0000-0000-0000-000000000000 is the documented "no tenant" (audit events with
 * no tenant, c0290a8b76a4), yet an organization could be created with it, and a session with it as
 * its tenant read every tenant-less audit event (failed logins: e-mail addresses, IP addresses).
 * - organizations gets `CHECK (id <> nil)`: no organization, hence (through their NOT NULL foreign
 *   keys onto organizations) no row of the other tenant tables, can have it. A database that already
 *   holds one is refused with one line naming how many: what to do with that tenant's data is its
 *   owner's decision, never the migration's. The count needs every row: the owner is bound by FORCE
 *   ROW LEVEL SECURITY (836a4a2ccb41), so FORCE is lifted around it inside this transaction.
 * - audit_logs: the read policy leaves out the nil tenant's rows (they are read through the bypass
 *   role, as cross-tenant reports are), and the append policy takes them from the platform's context
 *   (no tenant set): the platform writes tenant-less events without setting a tenant at all, which
 *   `withTenant` now refuses for the nil UUID. The other tenant tables keep their policies: the check
 *   and their foreign keys leave them no nil-tenant row to hide.
 *
 * Revision ID: ea4d41f1e1b0
 * Revises: 00c448613939
 * Create Date: 2026-12-01T11:10:22.310Z
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'ea4d41f1e1b0';
export const downRevision: string | string[] | null = '00c448613939';
export const message = 'platform settings and the nil tenant';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** The tenant of the session, NULL when none is set: the platform's own context. */
const TENANT_SETTING = sql`NULLIF(current_setting('app.current_organization_id', true), '')`;
/** The tenant as the tenant policies compare it (b27c5e9f0357). */
const CURRENT_ORG = sql`NULLIF(current_setting('app.current_organization_id', true), '')::uuid`;
/** The documented "no tenant" (RFC 9562 §5.9, the nil UUID). */
const NO_TENANT = sql`'00000000-0000-0000-0000-000000000000'::uuid`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE organizations NO FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`DO $$
    DECLARE nil_rows bigint;
    BEGIN
      SELECT count(*) INTO nil_rows FROM organizations WHERE id = '00000000-0000-0000-0000-000000000000';
      IF nil_rows > 0 THEN
        RAISE EXCEPTION '% organization(s) have the id 00000000-0000-0000-0000-000000000000, the nil UUID that means "no tenant": move their data to an organization with its own id or delete them (DELETE FROM organizations WHERE id = ''00000000-0000-0000-0000-000000000000'' deletes its users and data too), then upgrade again', nil_rows
          USING HINT = 'see what it holds with: SELECT * FROM organizations WHERE id = ''00000000-0000-0000-0000-000000000000'' (as a role that bypasses row-level security)';
      END IF;
    END
    $$`.execute(db);
  await sql`ALTER TABLE organizations FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE organizations ADD CONSTRAINT organizations_id_not_nil CHECK (id <> ${NO_TENANT})`.execute(db);

  await sql`ALTER POLICY tenant_read ON audit_logs
    USING (organization_id = ${CURRENT_ORG} AND organization_id <> ${NO_TENANT})`.execute(db);
  await sql`ALTER POLICY tenant_append ON audit_logs
    WITH CHECK (organization_id = COALESCE(${CURRENT_ORG}, ${NO_TENANT}))`.execute(db);

  await sql`ALTER TABLE system_config ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`CREATE POLICY platform_context ON system_config
    USING (${TENANT_SETTING} IS NULL)
    WITH CHECK (${TENANT_SETTING} IS NULL)`.execute(db);
  await sql`CREATE POLICY tenant_read ON system_config FOR SELECT
    USING (NOT is_secret)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP POLICY tenant_read ON system_config`.execute(db);
  await sql`DROP POLICY platform_context ON system_config`.execute(db);
  await sql`ALTER TABLE system_config DISABLE ROW LEVEL SECURITY`.execute(db);

  await sql`ALTER POLICY tenant_append ON audit_logs WITH CHECK (organization_id = ${CURRENT_ORG})`.execute(db);
  await sql`ALTER POLICY tenant_read ON audit_logs USING (organization_id = ${CURRENT_ORG})`.execute(db);

  await sql`ALTER TABLE organizations DROP CONSTRAINT organizations_id_not_nil`.execute(db);
}
