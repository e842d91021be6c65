/**
 * audit times from the server
 *
 * audit_logs is the compliance trail, append-only for the application role (SELECT and INSERT only,
 * no UPDATE or DELETE policy), but `created_at` was the writer's to choose: any tenant's session,
 * and the platform's with no tenant set, could append an event dated years back or ahead (an alibi
 * before an incident, a login after an account was closed), and what reads the trail by time (the
 * report's AU.L2-3.3.1 evidence, an investigation) took it for the trail's own. A BEFORE INSERT
 * trigger now gives the row the server's time (`now()`, the transaction's start, as the column's
 * default) whenever row-level security binds the writer (`row_security_active`): the application
 * role and the owner. A role that reads every tenant (the bypass role of seeds and data migrations,
 * a superuser, whose pg_restore loads the trail as it was) still writes the time it gives. As
 * set_updated_at() does for updated_at (e3a8d1c6b468), a time given is overridden, not refused, so
 * nothing an application writes fails; the function pins its search_path (fd8c5001a663). Rows already
 * there keep their times: which of them were forged, nothing in the table says.
 *
 * Revision ID: f14f1d09b343
 * Revises: fd8c5001a663
 * Create Date: 2026-12-01T17:04:10.903Z
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'f14f1d09b343';
export const downRevision: string | string[] | null = 'fd8c5001a663';
export const message = 'audit times from the server';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE FUNCTION set_audit_logs_created_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
      IF row_security_active(TG_RELID) THEN
        NEW.created_at := now();
      END IF;
      RETURN NEW;
    END
    $$`.execute(db);
  await sql`COMMENT ON FUNCTION set_audit_logs_created_at() IS 'Gives an audit event the server''s time when row-level security binds its writer (docs/schema.md, audit_logs).'`.execute(db);
  await sql`CREATE TRIGGER trg_audit_logs_created_at
    BEFORE INSERT ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION set_audit_logs_created_at()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER trg_audit_logs_created_at ON audit_logs`.execute(db);
  await sql`DROP FUNCTION set_audit_logs_created_at()`.execute(db);
}
