/**
 * functions with a pinned search path
 *
 * The platform's functions (the trigger function set_updated_at(), e3a8d1c6b468; delete_assessment()
 * and delete_control_finding(), c0290a8b76a4) ran with the search_path of whoever called them or
 * fired their trigger. A role that can shape that path (ALTER ROLE / ALTER DATABASE ... SET
 * search_path, startup options, an object in a schema searched before pg_catalog or public) could make
 * a privileged role (the owner during an upgrade, the bypass role, a superuser's cross-tenant job) run
 * its own now() or its own poam_items: CVE-2018-1058, and PostgreSQL's "Writing SECURITY DEFINER
 * Functions Safely". Each is now pinned to `pg_catalog, public, pg_temp`: the built-ins first, then the
 * platform's own schema (the functions name its tables unqualified; only the owner and the admin may
 * create there), and pg_temp named last so that no temporary table or function is searched before them.
 * The bodies are unchanged. A later revision that creates a function gives it the same `SET
 * search_path` (test/schema-migrations.test.ts and `cmmc-db doctor schema` fail otherwise).
 *
 * Revision ID: fd8c5001a663
 * Revises: ea4d41f1e1b0
 * Create Date: 2026-12-01T12:01:38.959Z
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'fd8c5001a663';
export const downRevision: string | string[] | null = 'ea4d41f1e1b0';
export const message = 'functions with a pinned search path';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** Every function the platform's revisions create, by signature. */
const FUNCTIONS = [
  sql`set_updated_at()`,
  sql`delete_assessment(uuid, uuid)`,
  sql`delete_control_finding(uuid, uuid)`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const fn of FUNCTIONS) {
    await sql`ALTER FUNCTION ${fn} SET search_path = pg_catalog, public, pg_temp`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const fn of [...FUNCTIONS].reverse()) {
    await sql`ALTER FUNCTION ${fn} RESET search_path`.execute(db);
  }
}
