/**
 * Tenant isolation: every tenant table (a table of `public` with an `organization_id` column, and
 * `organizations` itself) has row-level security enabled and forced and at least one policy, and no
 * permissive policy that binds the connected role lets other tenants' rows through (they are OR-ed);
 * no view or materialized view, in any schema, that the connected role can read hands it the tenant
 * tables' rows as an owner the policies do not bind; the views of public are security_invoker; and
 * the connected role (the platform's DB_USER) is bound by the
 * policies: owner of no tenant table, and no path of escalationPaths (src/tenant/roles.ts): not a
 * superuser, no BYPASSRLS, CREATEROLE or REPLICATION, of its own or of a role it can SET ROLE to (a
 * membership granted by hand, directly or through other roles), no reach of a tenant table's owner,
 * no membership in pg_execute_server_program / pg_read_server_files / pg_write_server_files, no
 * EXECUTE on server-file functions or on SECURITY DEFINER functions of a bypassing role (the
 * documented sign-in lookup apart); no CREATE on the database or on a schema privileged roles search,
 * and no operator or overloading function there (paths); no CREATE on the engine's schema, no writes to
 * the reference data (READ_ONLY_REFERENCE) (warnings). Connected as a superuser, it fails when no other role may
 * read the tenant tables (the platform connects as the superuser), and otherwise checks the tables only.
 * system_config, platform-wide and not a tenant table, has row-level security enabled (read-only,
 * secrets hidden, for a session with a tenant set). The model is docs/schema.md, "Roles" and
 * "Row-level security".
 */
import type { CheckFamily, CheckStatus, DoctorContext, Finding } from '../types.js';
import { names, plural } from '../format.js';
import { APPEND_ONLY, READ_ONLY_REFERENCE, escalationPaths, privilegedSearchPath } from '../../tenant/roles.js';

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

/** Whether the view `alias` (pg_class) is security_invoker (reloptions keep the value as written). */
const invoker = (alias: string) => `EXISTS (SELECT 1 FROM unnest(${alias}.reloptions) o
                   WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on', 'security_invoker=yes', 'security_invoker=1'))`;

/** The tenant setting as pg_get_expr deparses it, with or without missing_ok. */
const SETTING = String.raw`current_setting\('app\.current_organization_id'::text(?:, (?:true|false))?\)`;
/** The tenant as a policy compares it (docs/schema.md): the setting, NULLIF'd to '' or not, as uuid. */
const TENANT_EXPR = new RegExp(String.raw`^(?:\(NULLIF\(${SETTING}, ''::text\)\)|\(${SETTING}\)|${SETTING})::uuid$`);
/** audit_logs' append policy (ea4d41f1e1b0): the tenant, else a uuid constant (the nil tenant). */
const COALESCED = /^COALESCE\((.*), '[0-9a-f-]{36}'::uuid\)$/;

/** `expr` split at `sep` where it is outside parentheses and string literals. */
function splitTop(expr: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (quoted) {
      if (ch === "'") quoted = false;
      continue;
    }
    if (ch === "'") quoted = true;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && expr.startsWith(sep, i)) {
      parts.push(expr.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(expr.slice(start));
  return parts;
}

/** `expr` without the parentheses that enclose all of it ("(a) AND (b)" stays as it is). */
function unwrap(expr: string): string {
  let e = expr.trim();
  while (e.startsWith('(') && e.endsWith(')') && balanced(e.slice(1, -1))) e = e.slice(1, -1).trim();
  return e;
}

/** Whether no parenthesis of `expr` closes one that it did not open (string literals aside). */
function balanced(expr: string): boolean {
  let depth = 0;
  let quoted = false;
  for (const ch of expr) {
    if (quoted) quoted = ch !== "'";
    else if (ch === "'") quoted = true;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * Whether a policy expression (deparsed by pg_get_expr) keeps rows to the session's tenant: one of
 * its top-level AND terms is `<key> = <the tenant setting>` in one of the platform's shapes
 * (b27c5e9f0357, ea4d41f1e1b0). Any other term can only narrow it further; an OR at the top, a
 * column on the setting's side, or no such term at all lets rows of other tenants through.
 */
export function keepsToTenant(expr: string, key: string): boolean {
  return splitTop(unwrap(expr), ' AND ').some((term) => {
    const sides = splitTop(unwrap(term), ' = ').map(unwrap);
    if (sides.length !== 2) return false;
    const [col, tenant] = sides[0] === key ? [sides[0], sides[1]] : [sides[1], sides[0]];
    if (col !== key) return false;
    const inner = COALESCED.exec(tenant)?.[1] ?? tenant;
    return TENANT_EXPR.test(unwrap(inner)) || TENANT_EXPR.test(inner);
  });
}

const COMMANDS: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' };

/**
 * Permissive policies on the tenant tables that the connected role is subject to (TO PUBLIC, or a role
 * it is a member of, hence can SET ROLE to) and whose USING or WITH CHECK does not keep rows to the
 * current tenant. PostgreSQL ORs permissive policies: one such policy voids the tenant policy beside it.
 * Restrictive policies only narrow. Connected as a superuser: the policies of every role they bind.
 */
async function permissivePolicyLeaks(ctx: DoctorContext, tables: string[], superuser: boolean): Promise<Problem[]> {
  const rows = await ctx.sql.unsafe<{ table: string; policy: string; cmd: string; roles: string[]; qual: string | null; check: string | null }[]>(`
    SELECT c.relname AS table, p.polname AS policy, p.polcmd AS cmd,
           ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END FROM unnest(p.polroles) r) AS roles,
           pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS check
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relname = ANY($1::text[]) AND p.polpermissive
       AND EXISTS (SELECT 1 FROM unnest(p.polroles) r
                    WHERE r = 0
                       OR (NOT $2::bool AND pg_has_role(current_user, r, 'MEMBER'))
                       OR ($2::bool AND EXISTS (SELECT 1 FROM pg_roles g WHERE g.oid = r AND NOT g.rolsuper AND NOT g.rolbypassrls)))
     ORDER BY 1, 2`, [tables, superuser]);
  const problems: Problem[] = [];
  for (const p of rows) {
    const key = p.table === 'organizations' ? 'id' : 'organization_id';
    // USING filters what SELECT, UPDATE and DELETE reach; WITH CHECK (USING when absent) what INSERT and
    // UPDATE may write. An absent expression grants nothing.
    const reads = p.cmd !== 'a' && p.qual !== null && !keepsToTenant(p.qual, key);
    const write = p.cmd === 'a' || p.cmd === 'w' || p.cmd === '*' ? (p.check ?? p.qual) : null;
    const writes = write !== null && !keepsToTenant(write, key);
    if (!reads && !writes) continue;
    const what = [reads ? `USING (${p.qual})` : '', writes ? `WITH CHECK (${write})` : ''].filter(Boolean).join(' and ');
    problems.push({
      object: p.table,
      problem: `permissive policy ${p.policy} (FOR ${COMMANDS[p.cmd] ?? p.cmd} TO ${p.roles.join(', ')}) does not keep rows to the current tenant: ${what}; permissive policies are OR-ed, so ${reads ? 'every tenant\'s rows are visible' : 'rows of any tenant can be written'}`,
      fix: `as an admin: DROP POLICY ${quoteIdent(p.policy)} ON public.${quoteIdent(p.table)} (or key it on ${key} = NULLIF(current_setting('app.current_organization_id', true), '')::uuid, or make it AS RESTRICTIVE)`,
      severity: 'fail',
    });
  }
  return problems;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * Views and materialized views, in any schema, that hand the tenant tables' rows to the connected role
 * past the policies. A view that is not security_invoker reads the relations it names as its owner
 * (a security_invoker view inside it reads as the session's user again); a materialized view stores
 * what its owner read at the last refresh (security_invoker views inside it read as that owner too) and
 * has no row-level security of its own. The owner walks past the policies when it is a superuser, has
 * BYPASSRLS, or owns the table and FORCE is off. Reached when the role may SELECT the view or a view
 * built on it (recursively; as a superuser: when a role that the policies bind, or PUBLIC, may).
 * A materialized view whose owner is bound still shares one refresh's rows with every tenant: warn.
 */
async function viewLeaks(ctx: DoctorContext, tables: string[], superuser: boolean): Promise<{ problems: Problem[]; views: Set<string> }> {
  const rows = await ctx.sql.unsafe<{ view: string; kind: string; owner: string; why: string | null; reads: string[]; via: string[]; grantees: string[] }[]>(`
    WITH RECURSIVE refs AS (
      SELECT DISTINCT r.ev_class AS view, d.refobjid AS rel
        FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
       WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
    ), tenant AS (
      SELECT c.oid, c.relname, c.relowner, c.relforcerowsecurity AS forced
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
    ), reads AS (
      SELECT refs.view, refs.rel FROM refs JOIN pg_class v ON v.oid = refs.view
       WHERE v.relkind = 'm' OR (v.relkind = 'v' AND NOT (${invoker('v')}))
      UNION
      SELECT reads.view, refs.rel FROM reads
        JOIN pg_class m ON m.oid = reads.view AND m.relkind = 'm'
        JOIN pg_class c ON c.oid = reads.rel AND c.relkind = 'v' AND ${invoker('c')}
        JOIN refs ON refs.view = reads.rel
    ), leaking AS (
      SELECT v.oid, v.relkind AS kind, v.relowner,
             array_agg(DISTINCT t.relname ORDER BY t.relname) AS reads,
             bool_or(o.rolsuper OR o.rolbypassrls OR (v.relowner = t.relowner AND NOT t.forced)) AS unbound,
             CASE WHEN bool_or(o.rolsuper) THEN 'a superuser' WHEN bool_or(o.rolbypassrls) THEN 'which has BYPASSRLS'
                  WHEN bool_or(v.relowner = t.relowner AND NOT t.forced) THEN 'which owns the table, whose row-level security is not forced' END AS why
        FROM reads JOIN tenant t ON t.oid = reads.rel JOIN pg_class v ON v.oid = reads.view JOIN pg_roles o ON o.oid = v.relowner
       GROUP BY v.oid, v.relkind, v.relowner
    ), reach AS (
      SELECT oid AS target, oid AS entry FROM leaking
      UNION
      SELECT reach.target, refs.view FROM reach JOIN refs ON refs.rel = reach.entry
    ), readable AS (
      SELECT reach.target, e.oid AS entry,
             ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
                     FROM (SELECT (aclexplode(e.relacl)).* UNION ALL
                           SELECT (aclexplode(at.attacl)).* FROM pg_attribute at WHERE at.attrelid = e.oid AND at.attacl IS NOT NULL) a
                    WHERE a.privilege_type = 'SELECT' AND a.grantee <> e.relowner
                      AND (a.grantee = 0
                           OR (NOT $2::bool AND pg_has_role(current_user, a.grantee, 'USAGE'))
                           OR ($2::bool AND EXISTS (SELECT 1 FROM pg_roles g WHERE g.oid = a.grantee AND NOT g.rolsuper AND NOT g.rolbypassrls))) ORDER BY 1) AS grantees
        FROM reach JOIN pg_class e ON e.oid = reach.entry
       WHERE CASE WHEN $2::bool THEN true
                  ELSE has_schema_privilege(e.relnamespace, 'USAGE') AND has_any_column_privilege(e.oid, 'SELECT') END
    )
    SELECT format('%I.%I', n.nspname, v.relname) AS view, l.kind, pg_get_userbyid(l.relowner) AS owner,
           CASE WHEN l.unbound THEN l.why END AS why, l.reads,
           array_agg(DISTINCT format('%I.%I', en.nspname, e.relname) ORDER BY format('%I.%I', en.nspname, e.relname)) FILTER (WHERE r.entry <> l.oid) AS via,
           ARRAY(SELECT DISTINCT g FROM readable r2, unnest(r2.grantees) g WHERE r2.target = l.oid ORDER BY 1) AS grantees
      FROM leaking l JOIN pg_class v ON v.oid = l.oid JOIN pg_namespace n ON n.oid = v.relnamespace
      JOIN readable r ON r.target = l.oid JOIN pg_class e ON e.oid = r.entry JOIN pg_namespace en ON en.oid = e.relnamespace
     WHERE (l.unbound OR l.kind = 'm')
       AND ($2::bool IS FALSE OR cardinality(r.grantees) > 0)
     GROUP BY n.nspname, v.relname, l.oid, l.kind, l.relowner, l.unbound, l.why, l.reads
     ORDER BY 1`, [tables, superuser]);
  const problems: Problem[] = [];
  const views = new Set<string>();
  for (const r of rows) {
    const via = r.via?.length ? `, which ${names(r.via)} read${r.via.length === 1 ? 's' : ''}` : '';
    const revoke = `REVOKE SELECT ON ${r.view} FROM ${(r.grantees.length ? r.grantees : ['...']).join(', ')}`;
    views.add(r.view);
    if (r.kind === 'm') {
      problems.push({
        object: r.view,
        problem: r.why
          ? `materialized view over ${names(r.reads)}${via}, refreshed as its owner ${r.owner}, ${r.why}: it holds every tenant's rows, with no row-level security`
          : `materialized view over ${names(r.reads)}${via}, with no row-level security: it holds the rows of whichever tenant its last refresh had set, for every tenant to read`,
        fix: `as an admin: ${revoke} (or DROP MATERIALIZED VIEW ${r.view}); a per-tenant summary belongs in a security_invoker view`,
        severity: r.why ? 'fail' : 'warn',
      });
    } else {
      problems.push({
        object: r.view,
        problem: `view over ${names(r.reads)}${via ? `${via},` : ''} is not security_invoker and reads as its owner ${r.owner}, ${r.why}: it shows every tenant's rows`,
        fix: `as an admin: ALTER VIEW ${r.view} SET (security_invoker = on) (or ${revoke})`,
        severity: 'fail',
      });
    }
  }
  return { problems, views };
}

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
  const [me] = await ctx.sql<{ role: string; superuser: boolean; bypassrls: boolean; create_schemas: string[]; start_tenant: string }[]>`
    SELECT current_user AS role, coalesce(current_setting('app.current_organization_id', true), '') AS start_tenant, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls,
           ARRAY(SELECT nspname::text FROM pg_namespace
                  WHERE (nspname = 'public' OR nspname = ${ctx.config.metaSchema} OR nspname = ${ctx.config.versionSchema})
                    AND has_schema_privilege(oid, 'CREATE') ORDER BY 1) AS create_schemas
      FROM pg_roles r WHERE r.rolname = current_user`;
  // Policies are OR-ed: one permissive policy that does not key on the tenant opens the table. Views
  // and materialized views over the tenant tables that read as an unbound owner walk past them.
  problems.push(...(await permissivePolicyLeaks(ctx, tables.map((t) => t.name), me.superuser)));
  const leaks = await viewLeaks(ctx, tables.map((t) => t.name), me.superuser);
  problems.push(...leaks.problems);
  const views = await ctx.sql.unsafe<{ name: string }[]>(`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'v' AND NOT (${invoker('c')})
     ORDER BY 1`);
  for (const v of views) {
    if (leaks.views.has(`public.${v.name}`)) continue;
    problems.push({ object: v.name, problem: 'view is not security_invoker: it reads as its owner', fix: `a revision with ALTER VIEW ${v.name} SET (security_invoker = true)`, severity: 'warn' });
  }

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
    // What it may only append to or read (init grants no more, applyGrants): the compliance trail, whose
    // rows an UPDATE or DELETE would rewrite once a policy for it is added, and the engine's version
    // table, whose rows decide which revisions upgrade runs (a tenant's session could make it skip one).
    const versionTable = `${quoteIdent(ctx.config.versionSchema)}.${quoteIdent(ctx.config.versionTable)}`;
    const rewritable = await ctx.sql<{ name: string; trail: boolean; privileges: string[] }[]>`
      SELECT CASE WHEN n.nspname = 'public' THEN quote_ident(c.relname) ELSE format('%I.%I', n.nspname, c.relname) END AS name,
             (n.nspname = 'public' AND c.relname = ANY(${APPEND_ONLY})) AS trail,
             array_remove(ARRAY[
               CASE WHEN c.oid = to_regclass(${versionTable}) AND has_table_privilege(c.oid, 'INSERT') THEN 'INSERT' END,
               CASE WHEN has_table_privilege(c.oid, 'UPDATE') THEN 'UPDATE' END,
               CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'DELETE' END], NULL) AS privileges
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE (n.nspname = 'public' AND c.relname = ANY(${APPEND_ONLY})) OR c.oid = to_regclass(${versionTable})
       ORDER BY 1`;
    if (!paths.some((p) => p.kind === 'write-all-data')) {
      for (const r of rewritable.filter((x) => x.privileges.length)) {
        problems.push({
          object: me.role,
          problem: r.trail
            ? `can ${r.privileges.join(' and ')} ${r.name}, the audit trail it should only append to`
            : `can ${r.privileges.join(', ')} the version table ${r.name}: a tenant's session could make upgrade skip or repeat revisions`,
          fix: `cmmc-db init (or REVOKE ${r.privileges.join(', ')} ON ${r.name} FROM "${me.role}")`,
          severity: 'warn',
        });
      }
    }
    // CREATE on the database, and on the schemas privileged roles search, are paths above; on a
    // platform schema that none of them searches (the engine's own) it is only more than the role needs.
    const searched = await privilegedSearchPath(ctx.sql, Object.keys(owners));
    const createSchemas = me.create_schemas.filter((n) => !searched.has(n));
    if (createSchemas.length) problems.push({ object: me.role, problem: `has CREATE on schema ${createSchemas.join(', ')}`, fix: `cmmc-db init (or REVOKE CREATE ON SCHEMA ... FROM "${me.role}")`, severity: 'warn' });
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
