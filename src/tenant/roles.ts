/**
 * The platform's roles (docs/schema.md, "Roles"), as PostgreSQL multi-tenant platforms separate them:
 *
 * - the **owner** (DB_OWNER_USER): owns every object of the platform; runs upgrade, downgrade, seed
 *   and backup. Not a superuser and without BYPASSRLS, so the forced tenant policies bind it too.
 * - the **application role** (DB_USER): what the platform connects with. SELECT, INSERT, UPDATE and
 *   DELETE on the platform's tables and views, USAGE on their schemas, read-only access to the
 *   engine's bookkeeping; no ownership, no CREATE anywhere, no BYPASSRLS.
 * - the **RLS bypass role** (`<owner>_rls_bypass`): NOLOGIN, BYPASSRLS, granted to the owner only.
 *   The one path across tenants: the seed loader runs each file under `SET LOCAL ROLE` to it, and
 *   pg_dump runs with `--role` to it (pg_dump refuses to dump a table whose policies would hide rows).
 *
 * `escalationPaths` is the one rule of what "bound by the policies" means for a role (superuser,
 * BYPASSRLS, CREATEROLE, REPLICATION, the server-access predefined roles and pg_write_all_data, owning
 * the database, a schema or a trigger's function, server-file functions and SECURITY DEFINER functions
 * of a role with a path, usable user mappings, TRUNCATE/TRIGGER/REFERENCES, CREATE where privileged
 * roles resolve unqualified names and what it put there): `init` refuses on it and
 * `doctor tenant.isolation` fails on it.
 *
 * Everything here takes a postgres.js session of an admin (a superuser: only one can grant BYPASSRLS)
 * connected to the platform's database, and is idempotent: each statement is issued only when the
 * catalog says it is missing, and the report says what changed.
 */
import type postgres from 'postgres';
import { ident } from '../sql/lexer.js';
import { passwordVerifier } from './password-verifier.js';

export interface PlatformRoles {
  owner: string;
  app: string;
  bypass: string;
}

/** The bypass role's name for an owner (at most 63 bytes, PostgreSQL's identifier limit). */
export function bypassRoleName(owner: string): string {
  return `${owner.slice(0, 63 - '_rls_bypass'.length)}_rls_bypass`;
}

/** The owner's default name when DB_OWNER_USER is not set. */
export function defaultOwnerName(app: string): string {
  return `${app.slice(0, 63 - '_owner'.length)}_owner`;
}

// The one identifier quoting (src/sql/lexer.ts), re-exported for the modules that import it from here.
export { ident };

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * The role a session should switch to for work across tenants: a BYPASSRLS role that the current user
 * may SET ROLE to (`<user>_rls_bypass` first). Null when the current user is a superuser or has
 * BYPASSRLS itself (nothing to switch to), or when there is no such role (a database set up by hand:
 * then the policies bind the work, as they should).
 */
export async function rlsBypassRole(sql: Sql): Promise<string | null> {
  const [row] = await sql<{ rolname: string }[]>`
    SELECT r.rolname
      FROM pg_roles r, pg_roles me
     WHERE me.rolname = current_user
       AND NOT me.rolsuper AND NOT me.rolbypassrls
       AND r.rolbypassrls AND NOT r.rolsuper AND r.oid <> me.oid
       AND pg_has_role(me.oid, r.oid, 'MEMBER')
     ORDER BY r.rolname = current_user || '_rls_bypass' DESC, r.rolname
     LIMIT 1`;
  return row?.rolname ?? null;
}

/** A role that `role` can SET ROLE to (PostgreSQL 15: any membership, direct or through other roles). */
export interface ReachableRole {
  name: string;
  /** The role granted to `role` itself through which this one is reached (itself when direct). */
  via: string;
  superuser: boolean;
  bypassrls: boolean;
  createrole: boolean;
  replication: boolean;
}

/**
 * Every role that `role` is a member of, directly or through other roles, so can SET ROLE to and act
 * as: a member of a superuser becomes one, a member of a BYPASSRLS role reads past every policy, a
 * member of a table's owner may disable its policies. `skipDirect` names direct grants to leave out
 * (the ones about to be revoked). Follows pg_auth_members, so it needs no privilege.
 */
export async function reachableRoles(sql: Sql, role: string, skipDirect: string[] = []): Promise<ReachableRole[]> {
  return sql<ReachableRole[]>`
    WITH RECURSIVE reach(oid, via) AS (
      SELECT m.roleid, m.roleid FROM pg_auth_members m
       WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = ${role})
         AND m.roleid NOT IN (SELECT oid FROM pg_roles WHERE rolname = ANY(${skipDirect}))
      UNION
      SELECT m.roleid, r.via FROM pg_auth_members m JOIN reach r ON m.member = r.oid
    )
    SELECT DISTINCT ON (t.rolname) t.rolname AS name, v.rolname AS via, t.rolsuper AS superuser, t.rolbypassrls AS bypassrls,
           t.rolcreaterole AS createrole, t.rolreplication AS replication
      FROM reach x JOIN pg_roles t ON t.oid = x.oid JOIN pg_roles v ON v.oid = x.via
     ORDER BY t.rolname, (x.oid = x.via) DESC, v.rolname`;
}

/**
 * PostgreSQL's predefined roles that its documentation (Predefined Roles) says "can be used to gain
 * superuser-level access": reading or writing any file the server can (its data files hold every
 * tenant's rows) or running programs as its operating-system user (`COPY ... TO PROGRAM 'psql -U postgres'`).
 */
export const SERVER_ACCESS_ROLES: Record<string, string> = {
  pg_execute_server_program: 'which runs programs on the server as its operating-system user (COPY ... TO PROGRAM): superuser-level access',
  pg_read_server_files: 'which reads any file the server can (COPY ... FROM a file, the data files of every tenant): superuser-level access',
  pg_write_server_files: 'which writes any file the server can (COPY ... TO a file, its configuration): superuser-level access',
};

/**
 * Functions that PostgreSQL keeps to superusers unless EXECUTE is granted, because they read or write
 * the server's files (pg_read_binary_file reads the tables' data files, lo_export writes as the
 * server) or connect as anyone without a password (dblink_connect_u).
 */
const SERVER_FUNCTIONS = ['pg_read_file', 'pg_read_binary_file', 'lo_import', 'lo_export', 'pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'dblink_connect_u'];

/** Which kind of path past the tenant policies an {@link EscalationPath} is. */
export type EscalationKind =
  | 'superuser'
  | 'bypassrls'
  | 'createrole'
  | 'replication'
  | 'server-access'
  | 'write-all-data'
  | 'signal-backend'
  | 'owner'
  | 'server-function'
  | 'definer-function'
  | 'database-owner'
  | 'schema-owner'
  | 'trigger-function'
  | 'user-mapping'
  | 'table-privilege'
  | 'default-privilege'
  | 'database-create'
  | 'search-path-create'
  | 'shadowing-object'
  | 'read-all-stats'
  | 'read-all-settings';

/**
 * Predefined roles that do not read past the policies but are still not the application role's:
 * pg_write_all_data writes every table (the version table, the engine's bookkeeping, the reference data)
 * and is a path. Warnings ({@link EscalationPath.warnOnly}), no read path of their own:
 * pg_signal_backend cancels or ends other sessions (a migration's among them); pg_read_all_stats
 * (also through pg_monitor) shows other roles' statement texts, which hold whatever literals they ran;
 * pg_read_all_settings (also through pg_monitor) shows superuser-only settings, a standby's
 * primary_conninfo password among them, a path only where that replication login is accepted from the
 * application's host. pg_read_all_data is no path: it grants SELECT, and row-level security still binds
 * it (PostgreSQL, Predefined Roles); pg_checkpoint only forces a checkpoint.
 */
const OTHER_PREDEFINED: Record<string, [EscalationKind, string, boolean]> = {
  pg_write_all_data: ['write-all-data', 'which writes every table past its grants: the version table, the engine\'s bookkeeping and the reference data every tenant is assessed against', false],
  pg_signal_backend: ['signal-backend', "which cancels or ends other roles' sessions (a running migration's among them): not a read path", true],
  pg_read_all_stats: ['read-all-stats', "which reads the text of every role's current statement (pg_stat_activity): the literals of the owner's seeds and data migrations and of an admin's ad-hoc queries, which may hold other tenants' values", true],
  pg_read_all_settings: ['read-all-settings', 'which reads the superuser-only settings: on a standby, primary_conninfo with the replication password (a REPLICATION login reads every row)', true],
};

/** Table privileges the platform never grants the application role: TRUNCATE is not subject to row-level security (it empties every tenant), TRIGGER runs its code in other roles' writes, REFERENCES probes other tenants' keys. */
const FORBIDDEN_TABLE_PRIVILEGES = ['TRUNCATE', 'TRIGGER', 'REFERENCES'];

/** One way a role can read or write past the tenant policies, with the statement that closes it. */
export interface EscalationPath {
  kind: EscalationKind;
  /** The role holding the power: the checked role itself, a role it can SET ROLE to, or a function's owner. */
  holder: string;
  /** What is wrong, one line, completing "the role ...": "can SET ROLE to x, a superuser", "has CREATEROLE: ...". */
  problem: string;
  /** The statement(s) an admin runs to close it (REVOKE ... / ALTER ROLE ...). */
  fix: string;
  /** Not a way to read or write every tenant, but still not the application role's: doctor warns, init goes on. */
  warnOnly?: boolean;
}

export interface EscalationOptions {
  /** Direct grants to leave out (init's own, which applyGrants revokes). */
  skipDirect?: string[];
  /** Roles whose reach is a path though they have no attribute: the tenant tables' owners, with what to say ("which owns 12 tenant tables"). */
  owners?: Record<string, string>;
  /** The documented sign-in lookup (docs/schema.md, "Sign-in"): `<schema>.sign_in_lookup(text)` is allowed. */
  metaSchema?: string;
  /** How names appear in `problem` (init quotes them, doctor does not). */
  quote?: (name: string) => string;
  /** The platform's database, whose owner is checked (default: the connected database). */
  database?: string;
  /** Only the role-wide paths and the database's owner, not what lives in the connected database (init, before that database is its own). */
  rolesOnly?: boolean;
  /** The role that fixes name as the new owner of a database, schema or function (default: the bootstrap superuser). */
  admin?: string;
}

/** " (through PUBLIC)" when PUBLIC is among the grantees that give a privilege. */
const throughPublic = (grantees: string[]) => (grantees.includes('PUBLIC') ? ' (through PUBLIC)' : '');

/**
 * SQL: whether the pg_proc row `p` shares its name with another function (a built-in of pg_catalog, an
 * extension's in public, an overload of its own): where two candidates match, PostgreSQL picks the
 * one whose argument types fit exactly, whatever schema it is in, so `public.lower(character varying)`
 * wins over `pg_catalog.lower(text)` for a varchar argument (CVE-2018-1058). A function of a name of
 * its own runs only where it is called by name. Used by escalationPaths and moveOwnership.
 */
const OVERLOADS = (p: string) => `EXISTS (SELECT 1 FROM pg_proc b WHERE b.proname = ${p}.proname AND b.oid <> ${p}.oid)`;

/**
 * The schemas in which the connected database's privileged roles (superusers, BYPASSRLS roles and
 * `owners`: the owner's migrations, the seeds under the RLS bypass role, an admin) resolve unqualified
 * names, each with why: `public` (the default search_path `"$user", public` names it, and the
 * platform's functions pin `pg_catalog, public, pg_temp`: revision fd8c5001a663), every schema a
 * search_path setting names that applies in this database to every role or to a privileged one
 * (ALTER DATABASE / ALTER ROLE [IN DATABASE] ... SET search_path), and a schema named after a
 * privileged role (`"$user"`). Only schemas that exist are named. pg_db_role_setting needs no privilege.
 */
export async function privilegedSearchPath(sql: Sql, owners: string[] = []): Promise<Map<string, string>> {
  const settings = await sql<{ value: string; scope: string }[]>`
    SELECT substr(c, length('search_path=') + 1) AS value,
           CASE WHEN s.setrole = 0 THEN 'ALTER DATABASE ' || quote_ident(d.datname)
                WHEN s.setdatabase = 0 THEN 'ALTER ROLE ' || quote_ident(r.rolname)
                ELSE 'ALTER ROLE ' || quote_ident(r.rolname) || ' IN DATABASE ' || quote_ident(d.datname) END || ' SET search_path' AS scope
      FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase,
           unnest(s.setconfig) c
     WHERE c LIKE 'search\\_path=%' AND (s.setdatabase = 0 OR d.datname = current_database())
       AND (s.setrole = 0 OR r.rolsuper OR r.rolbypassrls OR r.rolname = ANY(${owners}))
     ORDER BY s.setrole <> 0, s.setdatabase <> 0`;
  const privileged = await sql<{ name: string }[]>`SELECT rolname AS name FROM pg_roles WHERE rolsuper OR rolbypassrls OR rolname = ANY(${owners}) ORDER BY 1`;
  const why = new Map<string, string>([['public', "which the platform's functions and the default search_path name"]]);
  for (const s of settings) {
    for (const name of searchPathSchemas(s.value)) {
      if (name !== '$user' && name !== 'pg_catalog' && name !== 'pg_temp' && !why.has(name)) why.set(name, `which ${s.scope} names`);
    }
  }
  for (const r of privileged) {
    if (!why.has(r.name)) why.set(r.name, `named after ${r.name}, which the search_path "$user", public of that privileged role searches first`);
  }
  const existing = await sql<{ name: string }[]>`SELECT nspname AS name FROM pg_namespace WHERE nspname = ANY(${[...why.keys()]})`;
  const found = new Set(existing.map((e) => e.name));
  return new Map([...why].filter(([name]) => found.has(name)));
}

/** The schema names of a search_path value as the server splits it: commas outside double quotes, unquoted names folded to lower case. */
export function searchPathSchemas(value: string): string[] {
  const items: string[] = [];
  let item = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      items.push(item);
      item = '';
    } else item += ch;
  }
  items.push(item);
  return items.map((i) => i.trim()).filter(Boolean).map((i) => (i.startsWith('"') ? unquoteIdent(i) : i.toLowerCase()));
}

/** `"a""b"` as `a"b`. */
function unquoteIdent(name: string): string {
  return name.slice(1, -1).replace(/""/g, '"');
}

/**
 * Every path by which `role` can make itself able to read or write every tenant, in PostgreSQL 15:
 * being, or reaching by SET ROLE, a superuser, a BYPASSRLS role, a CREATEROLE role (PostgreSQL 15 lets
 * it grant itself any non-superuser role, the bypass role and pg_execute_server_program among them:
 * "almost-superuser", says CREATE ROLE), a REPLICATION role (a base backup or logical decoding reads
 * every row), or `options.owners`; membership in a predefined role of {@link SERVER_ACCESS_ROLES} or
 * in pg_write_all_data (pg_signal_backend: a warning, {@link EscalationPath.warnOnly}); owning the
 * platform's database; and, in the connected database (not with `rolesOnly`): owning a schema, or a
 * function that an event trigger or another role's table trigger runs; EXECUTE on a server-file
 * function ({@link SERVER_FUNCTIONS}); EXECUTE on a SECURITY DEFINER function owned by a superuser, a
 * BYPASSRLS role, one of `options.owners` or a role that itself has such a path, other than the
 * documented sign-in lookup; a user mapping it can use whose remote user is not itself; TRUNCATE,
 * TRIGGER or REFERENCES on another role's table, granted or by default privileges; CREATE on the
 * database, on a schema of {@link privilegedSearchPath}, or by default privileges on another role's new
 * schemas, and owning an operator or an overloading function in such a schema (CVE-2018-1058: the
 * owner's migrations and the seeds under the bypass role resolve them). Owning a tenant
 * table itself is the caller's to check (it knows the tables). Needs no privilege; an absent role has
 * no path.
 *
 * @example
 * for (const p of await escalationPaths(sql, 'cmmc_app')) console.log(`cmmc_app ${p.problem}; fix: ${p.fix}`);
 */
export async function escalationPaths(sql: Sql, role: string, options: EscalationOptions = {}): Promise<EscalationPath[]> {
  const q = options.quote ?? ((n: string) => n);
  const self = await roleFacts(sql, role);
  if (!self.exists) return [];
  const paths: EscalationPath[] = [];
  const r = ident(role);
  if (self.superuser) paths.push({ kind: 'superuser', holder: role, problem: 'is a superuser', fix: `ALTER ROLE ${r} NOSUPERUSER` });
  if (self.bypassrls) paths.push({ kind: 'bypassrls', holder: role, problem: 'has BYPASSRLS: it sees every tenant', fix: `ALTER ROLE ${r} NOBYPASSRLS` });
  if (self.createrole) paths.push({ kind: 'createrole', holder: role, problem: 'has CREATEROLE: it can grant itself any role but a superuser (the RLS bypass role, pg_execute_server_program)', fix: `ALTER ROLE ${r} NOCREATEROLE` });
  if (self.replication) paths.push({ kind: 'replication', holder: role, problem: "has REPLICATION: a base backup or logical decoding reads every tenant's rows", fix: `ALTER ROLE ${r} NOREPLICATION` });
  for (const t of await reachableRoles(sql, role, options.skipDirect ?? [])) {
    const server = SERVER_ACCESS_ROLES[t.name];
    const other = OTHER_PREDEFINED[t.name];
    const found: [EscalationKind, string, boolean][] = [];
    if (t.superuser) found.push(['superuser', 'a superuser', false]);
    else if (server) found.push(['server-access', server, false]);
    else if (other) found.push(other);
    else {
      if (t.bypassrls) found.push(['bypassrls', 'which has BYPASSRLS', false]);
      if (t.createrole) found.push(['createrole', 'which has CREATEROLE: it can grant itself any role but a superuser', false]);
      if (t.replication) found.push(['replication', "which has REPLICATION: a base backup or logical decoding reads every tenant's rows", false]);
      const owner = options.owners?.[t.name];
      if (owner && !found.length) found.push(['owner', owner, false]);
    }
    const member = Boolean(server || other);
    const verb = member ? 'is a member of' : 'can SET ROLE to';
    const through = t.via !== t.name ? ` (through ${q(t.via)})` : '';
    for (const [kind, power, warnOnly] of found) {
      paths.push({ kind, holder: t.name, problem: `${verb} ${q(t.name)}${member ? through : ''}, ${power}`, fix: `REVOKE ${ident(t.via)} FROM ${r}`, ...(warnOnly ? { warnOnly } : {}) });
    }
  }
  if (self.superuser) return paths;
  const [{ admin }] = options.admin ? [{ admin: options.admin }] : await sql<{ admin: string }[]>`SELECT rolname AS admin FROM pg_roles WHERE oid = 10`;
  const owners = Object.keys(options.owners ?? {});
  /** "owns x" for the role itself, "can SET ROLE to y, which owns x" for a role it reaches. */
  const owning = (owner: string, what: string) => (owner === role ? `owns ${what}` : `can SET ROLE to ${q(owner)}, which owns ${what}`);

  // The platform's database: its owner grants itself CREATE there, makes schemas and functions, and
  // sets the database's search_path, so the functions privileged roles call resolve to its own.
  const [db] = await sql<{ name: string; owner: string }[]>`
    SELECT d.datname AS name, o.rolname AS owner FROM pg_database d JOIN pg_roles o ON o.oid = d.datdba
     WHERE d.datname = coalesce(${options.database ?? null}::name, current_database())
       AND NOT o.rolsuper AND pg_has_role(${role}::name, d.datdba, 'MEMBER')`;
  if (db) {
    paths.push({
      kind: 'database-owner',
      holder: db.owner,
      problem: `${owning(db.owner, `the database ${q(db.name)}`)}: it can grant itself CREATE, make schemas and functions and ALTER DATABASE ... SET search_path, taking over what privileged roles run`,
      fix: `ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(admin)}`,
    });
  }
  if (options.rolesOnly) return paths;

  const schemas = await sql<{ name: string; owner: string }[]>`
    SELECT n.nspname AS name, o.rolname AS owner FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner
     WHERE NOT o.rolsuper AND o.rolname <> 'pg_database_owner' AND o.rolname <> ALL(${owners})
       AND pg_has_role(${role}::name, n.nspowner, 'MEMBER')
     ORDER BY 1`;
  for (const s of schemas) {
    paths.push({
      kind: 'schema-owner',
      holder: s.owner,
      problem: `${owning(s.owner, `schema ${q(s.name)}`)}: it makes functions and operators there that privileged roles resolve through a search_path naming it`,
      fix: `ALTER SCHEMA ${ident(s.name)} OWNER TO ${ident(admin)}`,
    });
  }

  // What privileged roles resolve unqualified names in (CVE-2018-1058): creating there, or owning an
  // operator or an overloading function there, is running code as the owner's migrations and seeds
  // (under the bypass role) and as an admin.
  const searched = await privilegedSearchPath(sql, owners);
  const searchedNames = [...searched.keys()];
  const [dbCreate] = await sql<{ grantees: string[] }[]>`
    SELECT ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE '"' || replace(pg_get_userbyid(a.grantee), '"', '""') || '"' END
                   FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                  WHERE a.privilege_type = 'CREATE' AND (a.grantee = 0 OR pg_has_role(${role}::name, a.grantee, 'MEMBER'))
                  ORDER BY 1) AS grantees
      FROM pg_database d
     WHERE d.datname = coalesce(${options.database ?? null}::name, current_database()) AND NOT pg_has_role(${role}::name, d.datdba, 'MEMBER')`;
  if (dbCreate?.grantees.length) {
    const name = options.database ?? (await sql<{ db: string }[]>`SELECT current_database() AS db`)[0].db;
    paths.push({
      kind: 'database-create',
      holder: dbCreate.grantees[0],
      problem: `has CREATE on the database ${q(name)}${throughPublic(dbCreate.grantees)}: it can make a schema named after the schema owner or an admin, which their search_path ("$user", public) searches first, and put its own functions and operators there`,
      fix: dbCreate.grantees.map((g) => `REVOKE CREATE ON DATABASE ${ident(name)} FROM ${g}`).join('; '),
    });
  }
  const creatable = await sql<{ schema: string; grantees: string[] }[]>`
    SELECT n.nspname AS schema,
           array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE '"' || replace(pg_get_userbyid(a.grantee), '"', '""') || '"' END ORDER BY 1) AS grantees
      FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
     WHERE n.nspname = ANY(${searchedNames}) AND a.privilege_type = 'CREATE'
       AND (a.grantee = 0 OR pg_has_role(${role}::name, a.grantee, 'MEMBER'))
       AND NOT pg_has_role(${role}::name, n.nspowner, 'MEMBER')
     GROUP BY n.nspname ORDER BY 1`;
  for (const c of creatable) {
    paths.push({
      kind: 'search-path-create',
      holder: c.grantees[0],
      problem: `has CREATE on schema ${q(c.schema)}${throughPublic(c.grantees)}, ${searched.get(c.schema)}: an operator or function of its own there (= on character varying, say) runs in the owner's migrations and seeds, as the owner and the RLS bypass role`,
      fix: c.grantees.map((g) => `REVOKE CREATE ON SCHEMA ${ident(c.schema)} FROM ${g}`).join('; '),
    });
  }
  const planted = await sql<{ what: string; schema: string; owner: string; drop: string }[]>`
    SELECT format('operator %I.%s (%s, %s)', n.nspname, o.oprname, coalesce(format_type(o.oprleft, NULL), 'NONE'), coalesce(format_type(o.oprright, NULL), 'NONE')) AS what,
           n.nspname AS schema, r.rolname AS owner,
           format('DROP OPERATOR %I.%s (%s, %s)', n.nspname, o.oprname, coalesce(format_type(o.oprleft, NULL), 'NONE'), coalesce(format_type(o.oprright, NULL), 'NONE')) AS drop
      FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace JOIN pg_roles r ON r.oid = o.oprowner
     WHERE n.nspname = ANY(${searchedNames}) AND NOT r.rolsuper AND pg_has_role(${role}::name, o.oprowner, 'MEMBER')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_operator'::regclass AND d.objid = o.oid AND d.deptype = 'e')
    UNION ALL
    SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), n.nspname, r.rolname,
           format('DROP ROUTINE %I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
     WHERE n.nspname = ANY(${searchedNames}) AND NOT r.rolsuper AND pg_has_role(${role}::name, p.proowner, 'MEMBER')
       AND ${sql.unsafe(OVERLOADS('p'))}
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     ORDER BY 1`;
  for (const o of planted) {
    paths.push({
      kind: 'shadowing-object',
      holder: o.owner,
      problem: `${owning(o.owner, `${o.what} in schema ${q(o.schema)}`)}, ${searched.get(o.schema)}: unqualified calls of privileged roles (the owner's migrations, the seeds under the RLS bypass role) resolve to it`,
      fix: `${o.drop} (read it first: it may already have run as those roles)`,
    });
  }

  // A trigger's function runs as whoever fires it (an event trigger: every DDL, a migration's and an
  // admin's; a table trigger: every write): its owner changes what they run.
  const triggered = await sql<{ fn: string; owner: string; runs: string }[]>`
    SELECT p.oid::regprocedure::text AS fn, o.rolname AS owner, string_agg(t.what, ', ' ORDER BY t.what) AS runs
      FROM (SELECT e.evtfoid AS foid, 'event trigger ' || e.evtname AS what FROM pg_event_trigger e
            UNION ALL
            SELECT g.tgfoid, 'trigger ' || g.tgname || ' of ' || c.oid::regclass::text FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
             WHERE NOT g.tgisinternal AND NOT pg_has_role(${role}::name, c.relowner, 'MEMBER')) t
      JOIN pg_proc p ON p.oid = t.foid JOIN pg_roles o ON o.oid = p.proowner
     WHERE NOT o.rolsuper AND o.rolname <> ALL(${owners}) AND pg_has_role(${role}::name, p.proowner, 'MEMBER')
     GROUP BY p.oid, o.rolname ORDER BY 1`;
  for (const f of triggered) {
    paths.push({
      kind: 'trigger-function',
      holder: f.owner,
      problem: `${owning(f.owner, f.fn)}, which ${f.runs} runs as the role that fires it: it can change what a migration or an admin executes`,
      fix: `ALTER FUNCTION ${f.fn} OWNER TO ${ident(admin)}`,
    });
  }

  const signIn = options.metaSchema ? `${ident(options.metaSchema)}.sign_in_lookup(text)` : '';
  // A role "with a path" of its own: the attributes above, or a role it reaches holding one.
  const pathRoles = [...Object.keys(SERVER_ACCESS_ROLES), 'pg_write_all_data', ...owners];
  const functions = await sql<{ fn: string; owner: string; owner_power: string; definer: boolean; grantees: string[] }[]>`
    SELECT p.oid::regprocedure::text AS fn, o.rolname AS owner, p.prosecdef AND p.proname <> ALL(${SERVER_FUNCTIONS}) AS definer,
           CASE WHEN o.rolsuper THEN 'super' WHEN o.rolbypassrls THEN 'bypassrls' WHEN o.rolname = ANY(${owners}) THEN 'owner' ELSE 'path' END AS owner_power,
           ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE '"' || replace(pg_get_userbyid(a.grantee), '"', '""') || '"' END
                   FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                  WHERE a.privilege_type = 'EXECUTE' AND (a.grantee = 0 OR pg_has_role(${role}::name, a.grantee, 'USAGE'))
                  ORDER BY 1) AS grantees
      FROM pg_proc p JOIN pg_roles o ON o.oid = p.proowner
     WHERE (p.proname = ANY(${SERVER_FUNCTIONS})
            OR (p.prosecdef AND o.rolname <> ${role}
                AND (o.rolsuper OR o.rolbypassrls OR o.rolcreaterole OR o.rolreplication OR o.rolname = ANY(${owners})
                     OR EXISTS (SELECT 1 FROM pg_roles x WHERE x.oid <> o.oid AND pg_has_role(o.oid, x.oid, 'MEMBER')
                                   AND (x.rolsuper OR x.rolbypassrls OR x.rolcreaterole OR x.rolreplication OR x.rolname = ANY(${pathRoles}))))))
       AND p.oid IS DISTINCT FROM to_regprocedure(nullif(${signIn}::text, ''))
       AND has_function_privilege(${role}::name, p.oid, 'EXECUTE')
     ORDER BY 1`;
  for (const f of functions) {
    const fix = f.grantees.map((g) => `REVOKE EXECUTE ON FUNCTION ${f.fn} FROM ${g}`).join('; ') || `ALTER FUNCTION ${f.fn} OWNER TO ${ident(role)}`;
    const power = {
      super: 'a superuser): it runs past every tenant policy',
      bypassrls: 'BYPASSRLS): it runs past every tenant policy',
      owner: `${options.owners?.[f.owner]}): it runs as that role, which can rewrite the tenant tables' policies`,
      path: 'which can make itself able to read every tenant): it runs as that role',
    }[f.owner_power as 'super' | 'bypassrls' | 'owner' | 'path'];
    paths.push(
      f.definer
        ? { kind: 'definer-function', holder: f.owner, problem: `can run ${f.fn}, a SECURITY DEFINER function of ${q(f.owner)} (${power}`, fix }
        : { kind: 'server-function', holder: f.owner, problem: `can run ${f.fn}, which reads or writes the server's files (every tenant's data files among them): superuser-level access`, fix },
    );
  }

  // postgres_fdw and dblink log in as the mapping's remote user (on this server too, as any role):
  // a mapping of its own, of PUBLIC or of a role it reaches, on a server it may use, is that role's
  // reach unless the remote user is itself. Its options are hidden from it for PUBLIC's mapping.
  const mappings = await sql<{ server: string; mapped: string; remote: string | null; hidden: boolean }[]>`
    SELECT m.srvname AS server, CASE WHEN m.umuser = 0 THEN 'PUBLIC' ELSE m.usename END AS mapped,
           coalesce((SELECT substr(o, 6) FROM unnest(m.umoptions) o WHERE o LIKE 'user=%' LIMIT 1), CASE WHEN m.umuser = 0 THEN ${role} ELSE m.usename END) AS remote,
           m.umoptions IS NULL AS hidden
      FROM pg_user_mappings m
     WHERE has_server_privilege(${role}::name, m.srvid, 'USAGE')
       AND (m.umuser = 0 OR pg_has_role(${role}::name, m.umuser, 'MEMBER'))
     ORDER BY 1, 2`;
  for (const m of mappings) {
    if (!m.hidden && m.remote === role) continue;
    paths.push({
      kind: 'user-mapping',
      holder: m.hidden ? m.mapped : m.remote!,
      problem: `can use foreign server ${q(m.server)} through the user mapping for ${m.mapped === 'PUBLIC' ? 'PUBLIC' : q(m.mapped)}, which logs in as ${m.hidden ? 'a remote user hidden from it' : q(m.remote!)}: postgres_fdw or dblink connect as that role, maybe to this server`,
      fix: `DROP USER MAPPING FOR ${m.mapped === 'PUBLIC' ? 'PUBLIC' : ident(m.mapped)} SERVER ${ident(m.server)}`,
    });
  }

  const tables = await sql<{ tbl: string; owner: string; grantee: string; privileges: string[] }[]>`
    SELECT c.oid::regclass::text AS tbl, pg_get_userbyid(c.relowner) AS owner,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE '"' || replace(pg_get_userbyid(a.grantee), '"', '""') || '"' END AS grantee,
           array_agg(a.privilege_type ORDER BY a.privilege_type DESC) AS privileges
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND NOT pg_has_role(${role}::name, c.relowner, 'MEMBER')
       AND a.privilege_type = ANY(${FORBIDDEN_TABLE_PRIVILEGES})
       AND (a.grantee = 0 OR pg_has_role(${role}::name, a.grantee, 'MEMBER'))
     GROUP BY 1, 2, 3 ORDER BY 1, 3`;
  for (const t of tables) {
    paths.push({
      kind: 'table-privilege',
      holder: t.owner,
      problem: `has ${t.privileges.join(', ')} on ${t.tbl}${t.grantee === 'PUBLIC' ? ' (through PUBLIC)' : ''}: ${tablePrivilegeHarm(t.privileges)}`,
      fix: `REVOKE ${t.privileges.join(', ')} ON ${t.tbl} FROM ${t.grantee}`,
    });
  }
  // Default privileges: what another role's next tables get (TRUNCATE, TRIGGER, REFERENCES), and
  // CREATE on its next schemas (a later revision's schema, searched by its functions or a search_path).
  const defaults = await sql<{ creator: string; schema: string | null; objtype: string; grantee: string; privileges: string[] }[]>`
    SELECT pg_get_userbyid(d.defaclrole) AS creator, n.nspname AS schema, d.defaclobjtype AS objtype,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE '"' || replace(pg_get_userbyid(a.grantee), '"', '""') || '"' END AS grantee,
           array_agg(a.privilege_type ORDER BY a.privilege_type DESC) AS privileges
      FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
     WHERE ((d.defaclobjtype = 'r' AND a.privilege_type = ANY(${FORBIDDEN_TABLE_PRIVILEGES})) OR (d.defaclobjtype = 'n' AND a.privilege_type = 'CREATE'))
       AND NOT pg_has_role(${role}::name, d.defaclrole, 'MEMBER')
       AND (a.grantee = 0 OR pg_has_role(${role}::name, a.grantee, 'MEMBER'))
     GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`;
  for (const d of defaults) {
    const forPublic = d.grantee === 'PUBLIC' ? ' for PUBLIC' : '';
    const inSchema = d.schema ? ` IN SCHEMA ${ident(d.schema)}` : '';
    paths.push(
      d.objtype === 'n'
        ? {
            kind: 'default-privilege',
            holder: d.creator,
            problem: `gets CREATE on every new schema of ${q(d.creator)} (default privileges${forPublic}): a later revision's schema is one it can put operators and functions in, which privileged roles resolve once a function or a search_path names that schema`,
            fix: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(d.creator)} REVOKE CREATE ON SCHEMAS FROM ${d.grantee}`,
          }
        : {
            kind: 'default-privilege',
            holder: d.creator,
            problem: `gets ${d.privileges.join(', ')} on every new table of ${q(d.creator)}${d.schema ? ` in schema ${q(d.schema)}` : ''} (default privileges${forPublic}): ${tablePrivilegeHarm(d.privileges)}`,
            fix: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(d.creator)}${inSchema} REVOKE ${d.privileges.join(', ')} ON TABLES FROM ${d.grantee}`,
          },
    );
  }
  return paths;
}

/** What TRUNCATE, TRIGGER or REFERENCES on a table lets its holder do to other tenants. */
function tablePrivilegeHarm(privileges: string[]): string {
  const harm: Record<string, string> = {
    TRUNCATE: 'TRUNCATE ignores row-level security and empties every tenant',
    TRIGGER: "a trigger of its own runs in every other role's writes",
    REFERENCES: "a foreign key of its own probes other tenants' keys",
  };
  return privileges.map((p) => harm[p]).join('; ');
}

export interface RoleFacts {
  exists: boolean;
  login: boolean;
  superuser: boolean;
  bypassrls: boolean;
  createdb: boolean;
  createrole: boolean;
  replication: boolean;
}

/** A role's attributes from pg_roles (every field false when it does not exist). */
export async function roleFacts(sql: Sql, name: string): Promise<RoleFacts> {
  const [r] = await sql<{ rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolreplication: boolean }[]>`
    SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication FROM pg_roles WHERE rolname = ${name}`;
  if (!r) return { exists: false, login: false, superuser: false, bypassrls: false, createdb: false, createrole: false, replication: false };
  return { exists: true, login: r.rolcanlogin, superuser: r.rolsuper, bypassrls: r.rolbypassrls, createdb: r.rolcreatedb, createrole: r.rolcreaterole, replication: r.rolreplication };
}

/**
 * Creates a role where missing. `attributes` are role options (LOGIN, NOLOGIN, BYPASSRLS, …).
 * `password` never reaches the server: its SCRAM-SHA-256 (or md5) verifier is computed here, as
 * psql's \password does (src/tenant/password-verifier.ts), so a failing or logged statement shows
 * only the verifier. Concurrent runs: a duplicate-object error after our own check means another run
 * created it, which is success.
 */
export async function ensureRole(sql: Sql, name: string, attributes: string, password?: string): Promise<'created' | 'present'> {
  if ((await roleFacts(sql, name)).exists) return 'present';
  const verifier = password ? await passwordVerifier(sql, name, password) : undefined;
  // The verifier holds only [A-Za-z0-9+/=$:], so quoting it as a literal is plain.
  const statement = `CREATE ROLE ${ident(name)} ${attributes}` + (verifier ? ` PASSWORD '${verifier}'` : '');
  try {
    await sql.unsafe(statement);
  } catch (err) {
    if ((err as { code?: string }).code === '42710' || (err as { code?: string }).code === '23505') return 'present';
    throw err;
  }
  return 'created';
}

export interface ModelOptions {
  roles: PlatformRoles;
  database: string;
  /** The engine's bookkeeping schema (cmmc_db) and the version table's schema (public by default). */
  metaSchema: string;
  versionSchema: string;
  versionTable: string;
}

/** Schemas the platform keeps objects in: public, the engine's schema, the version table's schema. */
function schemasOf(o: ModelOptions): string[] {
  return [...new Set(['public', o.metaSchema, o.versionSchema])];
}

/**
 * The roles that own the platform's tables, views and sequences and its own schemas (not `public`,
 * not what an extension owns), most objects first. Empty on a database without the platform.
 */
export async function platformOwners(sql: Sql, o: ModelOptions): Promise<string[]> {
  const schemas = schemasOf(o);
  const rows = await sql<{ owner: string }[]>`
    SELECT pg_get_userbyid(owner) AS owner, count(*) AS n FROM (
      SELECT c.relowner AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY(${schemas}) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      UNION ALL
      SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = ANY(${schemas}) AND n.nspname <> 'public'
    ) o GROUP BY owner ORDER BY n DESC, 1`;
  return rows.map((r) => r.owner);
}

/**
 * Ownership: every object of the platform's schemas that the application role owns (what the old
 * `init` left: it migrated as the application role) moves to the owner, the engine's schema
 * included; not a function that overloads another's name (escalationPaths: a shadowing object, for an
 * admin to read and drop). Returns the statements run. Run before `upgrade`, so that the owner can change them.
 */
export async function moveOwnership(sql: Sql, o: ModelOptions, from: string, to: string): Promise<string[]> {
  const schemas = schemasOf(o);
  const rows = await sql<{ statement: string }[]>`
    SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, ${to}::text) AS statement, 0 AS ord, n.nspname AS name
      FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
     WHERE r.rolname = ${from} AND n.nspname = ANY(${schemas}) AND n.nspname <> 'public'
    UNION ALL
    SELECT format('ALTER %s %I.%I OWNER TO %I',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                 WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END,
                  n.nspname, c.relname, ${to}::text), 1, c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner
     WHERE r.rolname = ${from} AND n.nspname = ANY(${schemas})
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S')
       -- a sequence owned by a column moves with its table
       AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, ${to}::text), 2, p.proname
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
     WHERE r.rolname = ${from} AND n.nspname = ANY(${schemas})
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
       -- the platform's functions have names of their own; one that overloads another's is the shadowing
       -- that escalationPaths reports (moved, it would run as the owner's own, unnoticed)
       AND NOT ${sql.unsafe(OVERLOADS('p'))}
    UNION ALL
    SELECT format('ALTER %s %I.%I OWNER TO %I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname, ${to}::text), 3, t.typname
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_roles r ON r.oid = t.typowner
     WHERE r.rolname = ${from} AND n.nspname = ANY(${schemas}) AND t.typtype IN ('e', 'd', 'r')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
     ORDER BY 2, 3`;
  for (const r of rows) await sql.unsafe(r.statement);
  return rows.map((r) => r.statement);
}

/** A privilege check and the statement that grants (or revokes) it when the check says so. */
interface Step {
  needed: string;
  statement: string;
  label: string;
}

async function runSteps(sql: Sql, steps: Step[]): Promise<string[]> {
  const done: string[] = [];
  for (const s of steps) {
    const [{ ok }] = await sql.unsafe<{ ok: boolean }[]>(`SELECT (${s.needed}) AS ok`);
    if (ok) {
      await sql.unsafe(s.statement);
      done.push(s.label);
    }
  }
  return done;
}

/** The compliance trail: the application role appends and reads, never rewrites (docs/schema.md, audit_logs). */
export const APPEND_ONLY = ['audit_logs'];

/**
 * Platform-wide reference data that every tenant reads and none owns: the 110 requirements and the
 * cloud providers' inheritance, loaded by `seed` through the bypass role. The application role only
 * reads them: with write access one tenant's session could change the requirements every other
 * tenant is assessed against (docs/schema.md, Roles).
 */
export const READ_ONLY_REFERENCE = ['cmmc_controls', 'provider_inheritance'];

/**
 * Tables of the engine's schema that hold what a role reading every tenant saw: `doctor --record`'s runs
 * (the statements of other roles' sessions, with their literals, and every tenant's row counts). Only
 * roles that read every tenant anyway read them: init grants them to no one else, and takes back (as each
 * record does) what the owner's default privileges in that schema, or an older version, gave others.
 */
export const RECORDED_TABLES = ['doctor_runs'];

/**
 * The REVOKEs that keep `table` (qualified) from PUBLIC and from every role that cannot read every
 * tenant (no superuser or BYPASSRLS role among the roles it can SET ROLE to: the application role), its
 * owner aside; only those the current role may make (it owns the table, or is a superuser). [] when the
 * table does not exist.
 */
export async function recordedTableRevokes(sql: Sql, table: string): Promise<string[]> {
  const rows = await sql<{ statement: string }[]>`
    SELECT DISTINCT format('REVOKE ALL ON %s FROM %s', c.oid::regclass, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END) AS statement
      FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
     WHERE c.oid = to_regclass(${table}) AND a.grantee <> c.relowner AND pg_has_role(current_user, c.relowner, 'USAGE')
       AND (a.grantee = 0 OR NOT EXISTS (SELECT 1 FROM pg_roles p WHERE (p.rolsuper OR p.rolbypassrls) AND pg_has_role(a.grantee, p.oid, 'MEMBER')))
     ORDER BY 1`;
  return rows.map((r) => r.statement);
}

const lit = (s: string) => "'" + s.replace(/'/g, "''") + "'";
/**
 * A role by name as a regrole value. regrole reads its text as an identifier, folding it to lower case
 * unless quoted: 'my_Mixed'::regrole looks for my_mixed. So the name goes in as a quoted identifier.
 */
const regrole = (name: string) => `${lit(ident(name))}::regrole`;

/**
 * Grants of the two-role model, each only where missing (so a second run reports nothing):
 * the database and schema privileges of the owner, the application role and the bypass role, the
 * table privileges on what exists (audit_logs: SELECT and INSERT only for the application role), and default privileges for what the owner creates later (each
 * new revision's tables get the same grants). Revokes what the application role must not hold:
 * CREATE on the database and on every platform schema (also from PUBLIC on `public`), BYPASSRLS,
 * membership in the owner or the bypass role, write access to the version table, TRUNCATE, TRIGGER
 * and REFERENCES on the platform's tables (also from PUBLIC) and in the owner's default privileges.
 * CONNECT and TEMPORARY on the database are granted to the application role itself, not left to PUBLIC.
 * `appDefaults: false` leaves out the application role's default privileges (init, before it upgrades:
 * the tables the upgrade makes get no grant of it until the call after, which also revokes what it must
 * not hold on them). Returns a line per change.
 */
export async function applyGrants(sql: Sql, o: ModelOptions, options: { appDefaults?: boolean } = {}): Promise<string[]> {
  const { owner, app, bypass } = o.roles;
  const db = o.database;
  const platformSchemas = schemasOf(o);
  const version = `${ident(o.versionSchema)}.${ident(o.versionTable)}`;
  const steps: Step[] = [
    { needed: `(SELECT rolbypassrls FROM pg_roles WHERE rolname = ${lit(app)})`, statement: `ALTER ROLE ${ident(app)} NOBYPASSRLS`, label: `NOBYPASSRLS for ${app}` },
    // A membership granted by hand would let the application role SET ROLE past the policies.
    ...[owner, bypass].map((role) => ({
      needed: `EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = ${regrole(role)} AND m.member = ${regrole(app)})`,
      statement: `REVOKE ${ident(role)} FROM ${ident(app)}`,
      label: `revoked membership in ${role} from ${app}`,
    })),
    { needed: `(SELECT rolbypassrls FROM pg_roles WHERE rolname = ${lit(owner)}) AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = ${lit(owner)})`, statement: `ALTER ROLE ${ident(owner)} NOBYPASSRLS`, label: `NOBYPASSRLS for ${owner}` },
    { needed: `NOT has_database_privilege(${lit(owner)}, ${lit(db)}, 'CONNECT') OR NOT has_database_privilege(${lit(owner)}, ${lit(db)}, 'CREATE') OR NOT has_database_privilege(${lit(owner)}, ${lit(db)}, 'TEMPORARY')`, statement: `GRANT CONNECT, CREATE, TEMPORARY ON DATABASE ${ident(db)} TO ${ident(owner)}`, label: `CONNECT, CREATE, TEMPORARY on database ${db} to ${owner}` },
    // Its own grant, not PUBLIC's (which has_database_privilege counts): REVOKE ... FROM PUBLIC must not lock it out.
    {
      needed: `(SELECT count(DISTINCT a.privilege_type) < 2 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                 WHERE d.datname = ${lit(db)} AND a.grantee = ${regrole(app)} AND a.privilege_type IN ('CONNECT', 'TEMPORARY'))`,
      statement: `GRANT CONNECT, TEMPORARY ON DATABASE ${ident(db)} TO ${ident(app)}`,
      label: `CONNECT, TEMPORARY on database ${db} to ${app}`,
    },
    { needed: `EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = ${lit(db)} AND a.grantee = ${regrole(app)} AND a.privilege_type = 'CREATE')`, statement: `REVOKE CREATE ON DATABASE ${ident(db)} FROM ${ident(app)}`, label: `revoked CREATE on database ${db} from ${app}` },
    // Nor through PUBLIC: a schema named after the owner or the admin is searched first by their search_path (escalationPaths).
    { needed: `EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = ${lit(db)} AND a.grantee = 0 AND a.privilege_type = 'CREATE')`, statement: `REVOKE CREATE ON DATABASE ${ident(db)} FROM PUBLIC`, label: `revoked CREATE on database ${db} from PUBLIC` },
    { needed: `NOT has_schema_privilege(${lit(owner)}, 'public', 'CREATE') OR NOT has_schema_privilege(${lit(owner)}, 'public', 'USAGE')`, statement: `GRANT USAGE, CREATE ON SCHEMA public TO ${ident(owner)}`, label: `USAGE, CREATE on schema public to ${owner}` },
    // PUBLIC has CREATE on public before PostgreSQL 15; nobody but the owner should.
    { needed: `EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')`, statement: `REVOKE CREATE ON SCHEMA public FROM PUBLIC`, label: 'revoked CREATE on schema public from PUBLIC' },
  ];
  for (const schema of platformSchemas) {
    const s = ident(schema);
    steps.push(
      { needed: `EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = ${lit(schema)} AND a.grantee = ${regrole(app)} AND a.privilege_type = 'CREATE')`, statement: `REVOKE CREATE ON SCHEMA ${s} FROM ${ident(app)}`, label: `revoked CREATE on schema ${schema} from ${app}` },
      { needed: `NOT has_schema_privilege(${lit(app)}, ${lit(schema)}, 'USAGE')`, statement: `GRANT USAGE ON SCHEMA ${s} TO ${ident(app)}`, label: `USAGE on schema ${schema} to ${app}` },
      { needed: `NOT has_schema_privilege(${lit(bypass)}, ${lit(schema)}, 'USAGE')`, statement: `GRANT USAGE ON SCHEMA ${s} TO ${ident(bypass)}`, label: `USAGE on schema ${schema} to ${bypass}` },
    );
  }
  // Tables and views that exist now. The platform's own (in public, except the version table) get
  // DML for the application role; the engine's bookkeeping and the version table are read-only to it.
  // A sequence's table (serial and identity columns): its privileges follow that table's.
  const tables = await sql<{ schema: string; name: string; kind: string; table: string | null }[]>`
    SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind,
           (SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
             WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
               AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND t.relnamespace = c.relnamespace LIMIT 1) AS table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY(${platformSchemas}) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
     ORDER BY 1, 2`;
  for (const t of tables) {
    const q = `${ident(t.schema)}.${ident(t.name)}`;
    const qualified = lit(q);
    const platform = t.schema === 'public' && q !== version && t.kind !== 'S';
    if (t.kind === 'S') {
      // nextval() (USAGE) only where the application role inserts: the platform's own tables of public
      // but the reference data. The engine's bookkeeping (cmmc_db.revision_log_id_seq, seed_log_id_seq)
      // is read-only to it: SELECT, and USAGE or UPDATE that an older init granted are revoked, or it
      // could burn ids and leave gaps in the revision log.
      const tableQ = t.table === null ? null : `${ident(t.schema)}.${ident(t.table)}`;
      const inserts = t.schema === 'public' && tableQ !== version && !(t.table !== null && READ_ONLY_REFERENCE.includes(t.table));
      steps.push({ needed: `NOT has_sequence_privilege(${lit(bypass)}, ${qualified}, 'USAGE') OR NOT has_sequence_privilege(${lit(bypass)}, ${qualified}, 'SELECT')`, statement: `GRANT USAGE, SELECT ON SEQUENCE ${q} TO ${ident(bypass)}`, label: `USAGE, SELECT on ${t.schema}.${t.name} to ${bypass}` });
      if (inserts) {
        steps.push({ needed: `NOT has_sequence_privilege(${lit(app)}, ${qualified}, 'USAGE') OR NOT has_sequence_privilege(${lit(app)}, ${qualified}, 'SELECT')`, statement: `GRANT USAGE, SELECT ON SEQUENCE ${q} TO ${ident(app)}`, label: `USAGE, SELECT on ${t.schema}.${t.name} to ${app}` });
      } else {
        steps.push(
          { needed: `NOT has_sequence_privilege(${lit(app)}, ${qualified}, 'SELECT')`, statement: `GRANT SELECT ON SEQUENCE ${q} TO ${ident(app)}`, label: `SELECT on ${t.schema}.${t.name} to ${app}` },
          {
            needed: `EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = ${qualified}::regclass AND a.grantee = ${regrole(app)} AND a.privilege_type IN ('USAGE', 'UPDATE'))`,
            statement: `REVOKE USAGE, UPDATE ON SEQUENCE ${q} FROM ${ident(app)}`,
            label: `revoked USAGE, UPDATE on ${t.schema}.${t.name} from ${app}`,
          },
        );
      }
      continue;
    }
    if (t.schema === o.metaSchema && RECORDED_TABLES.includes(t.name)) {
      for (const statement of await recordedTableRevokes(sql, q)) {
        steps.push({ needed: 'true', statement, label: `${statement.replace(/^REVOKE ALL ON /, 'revoked every privilege on ').replace(' FROM ', ' from ')} (it holds what the doctor saw of every tenant)` });
      }
      continue;
    }
    const appendOnly = platform && APPEND_ONLY.includes(t.name);
    const readOnly = !platform || READ_ONLY_REFERENCE.includes(t.name);
    const appPrivileges = appendOnly ? ['SELECT', 'INSERT'] : readOnly ? ['SELECT'] : ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
    for (const [role, privileges] of [[app, appPrivileges], [bypass, ['SELECT', 'INSERT', 'UPDATE', 'DELETE']]] as const) {
      steps.push({
        needed: privileges.map((p) => `NOT has_table_privilege(${lit(role)}, ${qualified}, '${p}')`).join(' OR '),
        statement: `GRANT ${privileges.join(', ')} ON ${q} TO ${ident(role)}`,
        label: `${privileges.join(', ')} on ${t.schema}.${t.name} to ${role}`,
      });
    }
    // Nothing else for the application role: not TRUNCATE, REFERENCES or TRIGGER, nor writes to bookkeeping.
    const forbidden = appendOnly
      ? ['UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']
      : readOnly
        ? ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']
        : ['TRUNCATE', 'REFERENCES', 'TRIGGER'];
    steps.push({
      needed: `EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = ${qualified}::regclass AND a.grantee = ${regrole(app)} AND a.privilege_type = ANY(ARRAY[${forbidden.map(lit).join(', ')}]))`,
      statement: `REVOKE ${forbidden.join(', ')} ON ${q} FROM ${ident(app)}`,
      label: `revoked ${forbidden.join(', ')} on ${t.schema}.${t.name} from ${app}`,
    });
    // Nor through PUBLIC: TRUNCATE ignores row-level security (escalationPaths).
    steps.push({
      needed: `EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = ${qualified}::regclass AND a.grantee = 0 AND a.privilege_type = ANY(ARRAY[${FORBIDDEN_TABLE_PRIVILEGES.map(lit).join(', ')}]))`,
      statement: `REVOKE ${FORBIDDEN_TABLE_PRIVILEGES.join(', ')} ON ${q} FROM PUBLIC`,
      label: `revoked ${FORBIDDEN_TABLE_PRIVILEGES.join(', ')} on ${t.schema}.${t.name} from PUBLIC`,
    });
  }
  // Default privileges of the owner that give the application role (or PUBLIC) more than DML on new
  // tables, or CREATE on new schemas.
  const extraDefaults = await sql<{ schema: string | null; objtype: string; grantee: string; privileges: string[] }[]>`
    SELECT n.nspname AS schema, d.defaclobjtype AS objtype, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
           array_agg(a.privilege_type ORDER BY a.privilege_type DESC) AS privileges
      FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
     WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = ${owner})
       AND (a.grantee = 0 OR a.grantee = (SELECT oid FROM pg_roles WHERE rolname = ${app}))
       AND ((d.defaclobjtype = 'r' AND a.privilege_type = ANY(${FORBIDDEN_TABLE_PRIVILEGES})) OR (d.defaclobjtype = 'n' AND a.privilege_type = 'CREATE'))
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;
  for (const d of extraDefaults) {
    const grantee = d.grantee === 'PUBLIC' ? 'PUBLIC' : ident(d.grantee);
    const objects = d.objtype === 'n' ? 'SCHEMAS' : 'TABLES';
    steps.push({
      needed: 'true',
      statement: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(owner)}${d.schema ? ` IN SCHEMA ${ident(d.schema)}` : ''} REVOKE ${d.privileges.join(', ')} ON ${objects} FROM ${grantee}`,
      label: `revoked default privileges ${d.privileges.join(', ')} on new ${objects.toLowerCase()}${d.schema ? ` in ${d.schema}` : ''} from ${d.grantee}`,
    });
  }
  // Default privileges for what the owner creates later (the next revisions' tables and sequences).
  const defaults: [string, string, string, string][] = [
    ['public', 'r', app, 'SELECT, INSERT, UPDATE, DELETE ON TABLES'],
    ['public', 'S', app, 'USAGE, SELECT ON SEQUENCES'],
    ['public', 'r', bypass, 'SELECT, INSERT, UPDATE, DELETE ON TABLES'],
    ['public', 'S', bypass, 'USAGE, SELECT ON SEQUENCES'],
  ];
  for (const schema of platformSchemas.filter((s) => s !== 'public')) {
    defaults.push([schema, 'r', app, 'SELECT ON TABLES'], [schema, 'r', bypass, 'SELECT, INSERT, UPDATE, DELETE ON TABLES'], [schema, 'S', bypass, 'USAGE, SELECT ON SEQUENCES']);
  }
  for (const [schema, objtype, role, what] of defaults) {
    if (role === app && options.appDefaults === false) continue;
    steps.push({
      needed: `NOT EXISTS (SELECT 1 FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
                            WHERE d.defaclrole = ${regrole(owner)} AND n.nspname = ${lit(schema)} AND d.defaclobjtype = '${objtype}'
                              AND a.grantee = ${regrole(role)} AND a.privilege_type = '${what.split(/[ ,]/)[0]}')`,
      statement: `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(owner)} IN SCHEMA ${ident(schema)} GRANT ${what} TO ${ident(role)}`,
      label: `default privileges in ${schema}: ${what.split(' ON ')[0]} on new ${what.split(' ON ')[1].toLowerCase()} to ${role}`,
    });
  }
  steps.push({
    needed: `NOT pg_has_role(${lit(owner)}, ${lit(bypass)}, 'MEMBER')`,
    statement: `GRANT ${ident(bypass)} TO ${ident(owner)}`,
    label: `${bypass} granted to ${owner} (for SET ROLE)`,
  });
  // What the application role can make that no grant reaches (large objects: any role may create one)
  // must stay readable by pg_dump --role=<bypass>, or one lo_create() breaks every backup.
  steps.push({
    needed: `NOT pg_has_role(${lit(bypass)}, ${lit(app)}, 'USAGE')`,
    statement: `GRANT ${ident(app)} TO ${ident(bypass)}`,
    label: `${app} granted to ${bypass} (pg_dump reads what ${app} owns, e.g. large objects)`,
  });
  return runSteps(sql, steps);
}

/**
 * The way back to the single-role model of the old `init` (the reverse of moveOwnership plus
 * applyGrants): every platform object moves to the application role, which gets CREATE on the
 * database and on schema public again. The owner and bypass roles stay (drop them by hand when no
 * longer wanted). Idempotent; returns a line per change.
 */
export async function revertToSingleRole(sql: Sql, o: ModelOptions): Promise<string[]> {
  const { owner, app } = o.roles;
  const moved = await moveOwnership(sql, o, owner, app);
  const granted = await runSteps(sql, [
    { needed: `NOT has_database_privilege(${lit(app)}, ${lit(o.database)}, 'CREATE')`, statement: `GRANT CREATE ON DATABASE ${ident(o.database)} TO ${ident(app)}`, label: `CREATE on database ${o.database} to ${app}` },
    { needed: `NOT has_schema_privilege(${lit(app)}, 'public', 'CREATE')`, statement: `GRANT USAGE, CREATE ON SCHEMA public TO ${ident(app)}`, label: `USAGE, CREATE on schema public to ${app}` },
  ]);
  return [...moved, ...granted];
}
