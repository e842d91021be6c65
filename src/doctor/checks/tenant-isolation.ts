/**
 * Tenant isolation: every tenant table (a table of `public` with an `organization_id` column, and
 * `organizations` itself) has row-level security enabled and forced and at least one policy; the views
 * over them are security_invoker; and the connected role (the platform's DB_USER) is bound by the
 * policies: owner of no tenant table, and no path of escalationPaths (src/tenant/roles.ts): not a
 * superuser, no BYPASSRLS, CREATEROLE or REPLICATION, of its own or of a role it can SET ROLE to (a
 * membership granted by hand, directly or through other roles), no reach of a tenant table's owner,
 * no membership in pg_execute_server_program / pg_read_server_files / pg_write_server_files, no
 * EXECUTE on server-file functions or on SECURITY DEFINER functions of a bypassing role (the
 * documented sign-in lookup apart); no CREATE on the database or the platform's schemas, no writes to
 * the reference data (READ_ONLY_REFERENCE). Connected as a superuser, it fails when no other role may
 * read the tenant tables (the platform connects as the superuser), and otherwise checks the tables only.
 * system_config, platform-wide and not a tenant table, has row-level security enabled (read-only,
 * secrets hidden, for a session with a tenant set). The model is docs/schema.md, "Roles" and
 * "Row-level security".
 */
import type { CheckFamily, CheckStatus, DoctorContext, Finding } from '../types.js';
import { names, plural } from '../format.js';
import { READ_ONLY_REFERENCE, escalationPaths } from '../../tenant/roles.js';

interface Problem extends Record<string, unknown> {
  object: string;
  problem: string;
  fix: string;
  severity: 'fail' | 'warn';
}

/**
 * Where a new session's app.current_organization_id comes from, each with its own fix: the
 * connection's startup options (options= in the URL, or PGOPTIONS), which ALTER ROLE ... RESET would
 * not touch; ALTER ROLE ... IN DATABASE / ALTER ROLE / ALTER DATABASE ... SET (pg_db_role_setting,
 * for the session's login role); else the server's configuration. pg_settings cannot say: it does not
 * list a custom setting that no loaded module defines.
 */
async function startTenantSources(ctx: DoctorContext): Promise<{ sources: string; fix: string }> {
  const found: { source: string; fix: string }[] = [];
  const conn = ctx.config.conn;
  if (conn?.options && /app\.current_organization_id/.test(conn.options)) {
    const where = conn.fromPgEnv?.options ?? `the options= of ${ctx.config.source}`;
    found.push({ source: where, fix: `remove -c app.current_organization_id=... from ${where}` });
  }
  const rows = await ctx.sql<{ role: string | null; database: string | null }[]>`
    SELECT r.rolname AS role, d.datname AS database
      FROM pg_db_role_setting s
      LEFT JOIN pg_roles r ON r.oid = s.setrole
      LEFT JOIN pg_database d ON d.oid = s.setdatabase
     WHERE (s.setrole = 0 OR r.rolname = session_user) AND (s.setdatabase = 0 OR d.datname = current_database())
       AND EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE 'app.current\\_organization\\_id=%')
     ORDER BY (s.setrole <> 0 AND s.setdatabase <> 0) DESC, s.setrole <> 0 DESC`;
  for (const r of rows) {
    const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
    const scope = r.role && r.database ? `ALTER ROLE ${ident(r.role)} IN DATABASE ${ident(r.database)}` : r.role ? `ALTER ROLE ${ident(r.role)}` : `ALTER DATABASE ${ident(r.database!)}`;
    found.push({ source: `${scope} SET`, fix: `as an admin: ${scope} RESET app.current_organization_id` });
  }
  if (!found.length) {
    found.push({ source: 'the server\'s configuration', fix: 'as an admin: ALTER SYSTEM RESET app.current_organization_id (or remove it from postgresql.conf), then SELECT pg_reload_conf()' });
  }
  return { sources: found.map((f) => f.source).join(', '), fix: found.map((f) => f.fix).join('; ') };
}

/** The platform-wide settings table: not a tenant table, read-only and without its secrets for a tenant's session. */
const PLATFORM_SETTINGS = 'system_config';

/** Tenant tables of `public` with their row-level security state and policy count. */
export const TENANT_TABLES_SQL = `
  SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
         (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
         pg_get_userbyid(c.relowner) AS owner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
     AND (c.relname = 'organizations'
          OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
   ORDER BY 1`;

async function isolation(ctx: DoctorContext): Promise<Finding> {
  const problems: Problem[] = [];
  const tables = await ctx.sql.unsafe<{ name: string; enabled: boolean; forced: boolean; policies: number; owner: string }[]>(TENANT_TABLES_SQL);
  for (const t of tables) {
    if (!t.enabled) problems.push({ object: t.name, problem: 'row-level security is not enabled', fix: `a revision with ALTER TABLE ${t.name} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY and a tenant policy`, severity: 'fail' });
    else if (!t.forced) problems.push({ object: t.name, problem: 'row-level security is not forced: its owner sees every tenant', fix: `a revision with ALTER TABLE ${t.name} FORCE ROW LEVEL SECURITY`, severity: 'fail' });
    if (t.enabled && t.policies === 0) problems.push({ object: t.name, problem: 'no policy: nobody but superusers sees a row', fix: `a revision with CREATE POLICY tenant_isolation ON ${t.name} (docs/schema.md)`, severity: 'warn' });
  }
  // Platform settings are not a tenant table, but a tenant's session must not read their secrets or
  // change them (revision ea4d41f1e1b0): row-level security enabled (not forced: the owner is not bound)
  // and policies.
  const [settings] = await ctx.sql<{ enabled: boolean; policies: number }[]>`
    SELECT c.relrowsecurity AS enabled, (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relname = ${PLATFORM_SETTINGS} AND c.relkind IN ('r', 'p')`;
  if (settings && !settings.enabled) {
    problems.push({ object: PLATFORM_SETTINGS, problem: 'row-level security is not enabled: a tenant\'s session reads the platform\'s secret settings and can change them', fix: 'cmmc-db upgrade head (revision ea4d41f1e1b0 enables it, with the policies of docs/schema.md)', severity: 'fail' });
  } else if (settings && settings.policies === 0) {
    problems.push({ object: PLATFORM_SETTINGS, problem: 'no policy: the application role sees no setting', fix: 'cmmc-db downgrade 00c448613939 and upgrade head again (revision ea4d41f1e1b0 creates them)', severity: 'warn' });
  }
  const views = await ctx.sql<{ name: string }[]>`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'v'
       AND NOT coalesce('security_invoker=true' = ANY(c.reloptions) OR 'security_invoker=on' = ANY(c.reloptions), false)
     ORDER BY 1`;
  for (const v of views) problems.push({ object: v.name, problem: 'view is not security_invoker: it reads as its owner', fix: `a revision with ALTER VIEW ${v.name} SET (security_invoker = true)`, severity: 'warn' });

  const [me] = await ctx.sql<{ role: string; superuser: boolean; bypassrls: boolean; create_db: boolean; create_schemas: string[]; start_tenant: string }[]>`
    SELECT current_user AS role, coalesce(current_setting('app.current_organization_id', true), '') AS start_tenant, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls,
           has_database_privilege(current_database(), 'CREATE') AS create_db,
           ARRAY(SELECT nspname::text FROM pg_namespace
                  WHERE (nspname = 'public' OR nspname = ${ctx.config.metaSchema} OR nspname = ${ctx.config.versionSchema})
                    AND has_schema_privilege(oid, 'CREATE') ORDER BY 1) AS create_schemas
      FROM pg_roles r WHERE r.rolname = current_user`;
  let note = '';
  if (ctx.embedded) {
    note = 'the embedded database has one superuser session: the role checks apply to a server';
  } else if (me.superuser) {
    // A DBA's run checks the tables; the role checks are about the platform's role. But when no role
    // but a superuser or the tables' owner may read the tenant tables, the platform itself connects as
    // one (init with DB_USER = the admin): nothing is isolated.
    const [{ others }] = await ctx.sql<{ others: boolean }[]>`
      SELECT EXISTS (
        SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
         WHERE n.nspname = 'public' AND c.relname = ANY(${tables.map((t) => t.name)}) AND a.privilege_type = 'SELECT'
           AND a.grantee <> c.relowner
           AND (a.grantee = 0 OR NOT EXISTS (SELECT 1 FROM pg_roles g WHERE g.oid = a.grantee AND (g.rolsuper OR g.rolbypassrls)))) AS others`;
    if (tables.length && !others) {
      problems.push({
        object: me.role,
        problem: `is a superuser, whom row-level security does not bind, and no other role may read the tenant tables: the platform connects as ${me.role}, so no tenant is isolated`,
        fix: `set DB_USER (and DB_PASSWORD) to a new role, e.g. DB_USER=cmmc_app, run cmmc-db init as the admin to create it, and connect the platform as it`,
        severity: 'fail',
      });
    } else {
      note = `connected as the superuser ${me.role}, whom row-level security does not bind: run doctor as DB_USER to check the platform's role`;
    }
  } else {
    const owned = tables.filter((t) => t.owner === me.role).map((t) => t.name);
    if (owned.length) problems.push({ object: me.role, problem: `owns ${plural(owned.length, 'tenant table')} (${names(owned)}): it can disable or drop their policies`, fix: 'connect the platform as the application role (DB_USER), never the owner; on a database of the old single-role init, cmmc-db init moves ownership to DB_OWNER_USER', severity: 'fail' });
    // Every way it can make itself able to read every tenant (one rule, src/tenant/roles.ts): its own
    // attributes, the roles it can SET ROLE to (the tenant tables' owners among them), functions.
    const owners: Record<string, string> = {};
    for (const t of tables) if (t.owner !== me.role) owners[t.owner] = `which owns ${plural(tables.filter((x) => x.owner === t.owner).length, 'tenant table')}`;
    const paths = await escalationPaths(ctx.sql, me.role, { owners, metaSchema: ctx.config.metaSchema });
    for (const p of paths) {
      const byInit = p.fix.startsWith('REVOKE "') && !p.fix.includes(' ON ') ? '; cmmc-db init does it for the owner and bypass roles' : '';
      problems.push({ object: me.role, problem: p.problem, fix: `${p.fix} (as an admin${byInit})`, severity: p.warnOnly ? 'warn' : 'fail' });
    }
    // A fresh session must start with no tenant: a default (ALTER ROLE/DATABASE ... SET, PGOPTIONS) turns
    // "the application forgot to set one" into that tenant's rows instead of none.
    if (me.start_tenant) {
      const { sources, fix } = await startTenantSources(ctx);
      problems.push({
        object: me.role,
        problem: `a new session starts with app.current_organization_id = ${me.start_tenant} (set by ${sources}): without withTenant it reads that tenant's rows`,
        fix,
        severity: 'fail',
      });
    }
    // The reference data every tenant is assessed against: a tenant's session that can write it can
    // change a requirement for all of them.
    const writable = await ctx.sql<{ name: string }[]>`
      SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relname = ANY(${READ_ONLY_REFERENCE})
         AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE'))
       ORDER BY 1`;
    // pg_write_all_data is a path of its own above, with its fix.
    if (writable.length && !paths.some((p) => p.kind === 'write-all-data')) {
      const list = writable.map((w) => w.name);
      problems.push({
        object: me.role,
        problem: `can write ${names(list)}, the reference data every tenant is assessed against`,
        fix: `cmmc-db init (or REVOKE INSERT, UPDATE, DELETE ON ${list.join(', ')} FROM "${me.role}")`,
        severity: 'warn',
      });
    }
    if (me.create_db) problems.push({ object: me.role, problem: 'has CREATE on the database', fix: `cmmc-db init (or REVOKE CREATE ON DATABASE ... FROM "${me.role}")`, severity: 'warn' });
    if (me.create_schemas.length) problems.push({ object: me.role, problem: `has CREATE on schema ${me.create_schemas.join(', ')}`, fix: `cmmc-db init (or REVOKE CREATE ON SCHEMA ... FROM "${me.role}")`, severity: 'warn' });
  }

  const status: CheckStatus = problems.some((p) => p.severity === 'fail') ? 'fail' : problems.length ? 'warn' : 'ok';
  if (status === 'ok') {
    return {
      status,
      figure: `${plural(tables.length, 'tenant table')} with row-level security forced and a policy${settings ? `, ${PLATFORM_SETTINGS} read-only for tenants` : ''}; ` + (note || `${me.role} is bound by it`),
      remedy: '',
      rows: tables.map((t) => ({ object: t.name, problem: '', fix: '' })),
    };
  }
  const worst = problems.filter((p) => p.severity === status);
  return {
    status,
    figure: `${plural(problems.length, 'problem')}: ${worst[0].object} ${worst[0].problem}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
    remedy: worst[0].fix,
    rows: note ? [...problems, { object: me.role, problem: note, fix: '', severity: 'warn' }] : problems,
  };
}

export const tenantFamily: CheckFamily = {
  name: 'tenant',
  checks: [{ id: 'tenant.isolation', title: 'tenant isolation', needsServer: false, run: isolation }],
};
