/**
 * What a downgrade would drop, and whether it may: read before anything is reverted, so that a step
 * that would fail on an object (one the role may not drop, one that something outside the plan
 * depends on) is refused before the steps before it have dropped their tables.
 *
 * Pure where it can be: `droppedObjects` reads the steps' statements, `downgradeRefusal` decides
 * from the catalogue's answers; `readDropCatalog` and `tableRowCounts` are the only queries, and
 * `checkDowngrade` puts them together for the command.
 */
import type { DbHandle } from '../db/connection.js';
import type { Revision } from './script.js';
import { stepStatements } from './offline.js';

/** An object a downgrade step drops: its kind, its name as written (quoted or not), and the revision whose step drops it. */
export interface DroppedObject {
  kind: 'extension' | 'schema' | 'table' | 'view' | 'materialized view';
  name: string;
  revision: string;
}

/** The catalogue's answers about the dropped objects (readDropCatalog). */
export interface DropCatalog {
  /** Each dropped extension or schema that exists: its owner, and whether the session's role `role` may drop it. */
  owners: { kind: string; name: string; owner: string; may: boolean; role: string }[];
  /** Each dropped table that a view or another table's foreign key outside the plan depends on. */
  dependents: { dropped: string; dependent: string; what: string }[];
}

/** A refusal: the error code, the one line, and what to do (the CLI turns it into a CmmcError). */
export interface DowngradeRefusal {
  code: 'downgrade.dependents' | 'downgrade.cannot-drop';
  message: string;
  hint: string;
}

/** What `checkDowngrade` found: the tables dropped, each with its row count text (`, 110 rows`), and the refusal if any. */
export interface DowngradeCheck {
  tables: { name: string; rows: string }[];
  refusal?: DowngradeRefusal;
}

const NAME = String.raw`(?:"(?:[^"]|"")+"|[\w$-]+)(?:\.(?:"(?:[^"]|"")+"|[\w$]+))?`;
const DROP = new RegExp(String.raw`^\s*drop\s+(extension|schema|table|view|materialized\s+view)\s+(?:if\s+exists\s+)?(${NAME}(?:\s*,\s*${NAME})*)`, 'i');

/**
 * The objects the steps drop, in the order the steps reach them: each line of a step's statements
 * that reads `DROP EXTENSION | SCHEMA | TABLE | VIEW | MATERIALIZED VIEW [IF EXISTS] name[, name...]`,
 * attributed to that step's revision.
 *
 * @example
 * ```ts
 * droppedObjects([{ revision: 'b2', statements: ['DROP TABLE a, "B";'] }]);
 * // [{ kind: 'table', name: 'a', revision: 'b2' }, { kind: 'table', name: '"B"', revision: 'b2' }]
 * ```
 */
export function droppedObjects(steps: { revision: string; statements: string[] }[]): DroppedObject[] {
  const out: DroppedObject[] = [];
  for (const { revision, statements } of steps) {
    for (const line of statements.join('\n').split('\n')) {
      const drop = DROP.exec(line);
      if (!drop) continue;
      const kind = drop[1].toLowerCase().replace(/\s+/g, ' ') as DroppedObject['kind'];
      for (const n of drop[2].match(new RegExp(NAME, 'g')) ?? []) out.push({ kind, name: n, revision });
    }
  }
  return out;
}

/** An identifier as PostgreSQL stores it: a quoted one as written, an unquoted one folded to lower case. */
const ident = (w: string) => (w.startsWith('"') ? w.slice(1, -1).replace(/""/g, '"') : w.toLowerCase());

/**
 * Whether a downgrade to `target` that drops `objects` must be refused, from the catalogue's answers:
 * first a table that something outside the plan depends on (`downgrade.dependents`: PostgreSQL
 * refuses its DROP TABLE with 2BP01 only when the step reaches it), then an extension or a schema the
 * role may not drop (`downgrade.cannot-drop`: only its owner, a member of the owning role, or a
 * superuser may; `init` creates the extensions as the admin). Each names the first such object in
 * the order the steps reach it, and its revision. Undefined when nothing is refused.
 */
export function downgradeRefusal(objects: DroppedObject[], catalog: DropCatalog, target: string): DowngradeRefusal | undefined {
  const tables = objects.filter((o) => o.kind === 'table');
  const blocked = tables.find((t) => catalog.dependents.some((r) => r.dropped === t.name));
  if (blocked) {
    const row = catalog.dependents.find((r) => r.dropped === blocked.name)!;
    return {
      code: 'downgrade.dependents',
      message: `downgrade to ${target} would drop table ${blocked.name.replace(/"/g, '')} (revision ${blocked.revision}), which ${row.what} ${row.dependent} depends on and the downgrade does not drop: nothing was downgraded`,
      hint: `drop or change ${row.dependent} first (the revisions did not create it), or downgrade only to ${blocked.revision}`,
    };
  }
  const first = objects.find((o) => (o.kind === 'extension' || o.kind === 'schema') && catalog.owners.some((w) => !w.may && w.kind === o.kind && w.name === ident(o.name)));
  if (!first) return undefined;
  const refused = catalog.owners.find((w) => w.kind === first.kind && w.name === ident(first.name))!;
  return {
    code: 'downgrade.cannot-drop',
    message: `downgrade to ${target} would drop ${refused.kind} ${refused.name} (revision ${first.revision}), which belongs to ${refused.owner} and may not be dropped by ${refused.role}: nothing was downgraded`,
    hint: `run it as ${refused.owner} or a superuser (--url), or downgrade only to ${first.revision} and keep the ${refused.kind}`,
  };
}

/**
 * The catalogue's answers about `objects` (two queries): the owner of each dropped extension and
 * schema and whether this session's role may drop it; and, for each dropped table, a view or another
 * table's foreign key depending on it that is not itself among the dropped relations.
 */
export async function readDropCatalog(handle: DbHandle, objects: DroppedObject[]): Promise<DropCatalog> {
  const names = (kinds: DroppedObject['kind'][], fold = false) => JSON.stringify(objects.filter((o) => kinds.includes(o.kind)).map((o) => (fold ? ident(o.name) : o.name)));
  const owned = objects.some((o) => o.kind === 'extension' || o.kind === 'schema');
  const owners = owned
    ? await handle.sql<DropCatalog['owners']>`
    WITH me AS (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    SELECT 'extension' AS kind, extname AS name, pg_get_userbyid(extowner) AS owner,
           (SELECT rolsuper FROM me) OR pg_has_role(current_user, extowner, 'USAGE') AS may, current_user AS role
      FROM pg_extension WHERE extname IN (SELECT jsonb_array_elements_text(${names(['extension'], true)}::text::jsonb))
    UNION ALL
    SELECT 'schema', nspname, pg_get_userbyid(nspowner), (SELECT rolsuper FROM me) OR pg_has_role(current_user, nspowner, 'USAGE'), current_user
      FROM pg_namespace WHERE nspname IN (SELECT jsonb_array_elements_text(${names(['schema'], true)}::text::jsonb))`
    : [];
  const dependents = objects.some((o) => o.kind === 'table')
    ? await handle.sql<DropCatalog['dependents']>`
    WITH planned AS (SELECT to_regclass(x) AS oid, x AS name FROM jsonb_array_elements_text(${names(['table', 'view', 'materialized view'])}::text::jsonb) AS x),
         tables AS (SELECT oid, name FROM planned WHERE oid IS NOT NULL AND name IN (SELECT jsonb_array_elements_text(${names(['table'])}::text::jsonb)))
    SELECT DISTINCT t.name AS dropped, dep.rel::regclass::text AS dependent, dep.what
      FROM tables t
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.deptype = 'n'
      JOIN LATERAL (
        SELECT r.ev_class AS rel, CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS what
          FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
         WHERE d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
        UNION ALL
        SELECT con.conrelid, 'the foreign key ' || quote_ident(con.conname) || ' of'
          FROM pg_constraint con WHERE d.classid = 'pg_constraint'::regclass AND con.oid = d.objid AND con.contype = 'f'
      ) dep ON true
     WHERE dep.rel <> t.oid AND dep.rel NOT IN (SELECT oid FROM planned WHERE oid IS NOT NULL)`
    : [];
  return { owners: [...owners], dependents: [...dependents] };
}

/**
 * ", 110 rows" (exact when the table is small, "~N rows" from the planner's estimate otherwise), or "".
 * Under row-level security that hides rows from this role (the schema owner is bound by the forced
 * tenant policies) the count is taken as a member role with BYPASSRLS (the owner's `_rls_bypass`),
 * else given as the planner's estimate and said to be one: a plain count(*) said "0 rows" of tables
 * holding every tenant's data.
 */
export async function tableRowCount(handle: DbHandle, name: string): Promise<string> {
  try {
    const [row] = await handle.sql<{ size: string; estimate: string; analysed: boolean; hidden: boolean; bypass: string | null }[]>`
      SELECT pg_relation_size(c.oid)::text AS size, greatest(c.reltuples, 0)::bigint::text AS estimate, c.reltuples >= 0 AS analysed,
             c.relrowsecurity AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))
               AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) AS hidden,
             (SELECT quote_ident(r.rolname) FROM pg_roles r WHERE r.rolbypassrls AND NOT r.rolsuper AND pg_has_role(current_user, r.oid, 'MEMBER')
               ORDER BY r.rolname LIMIT 1) AS bypass
        FROM pg_class c WHERE c.oid = to_regclass(${name})`;
    if (!row) return '';
    const estimated = row.analysed ? `~${row.estimate} rows` : 'rows not counted';
    if (Number(row.size) > 64 * 1024 * 1024) return `, ${estimated}`;
    if (row.hidden && !row.bypass) return `, ${estimated} (row-level security hides them from this role)`;
    const count = row.hidden
      ? await handle.sql.begin(async (tx) => {
          await tx.unsafe(`SET LOCAL ROLE ${row.bypass}`);
          return tx.unsafe<{ n: string }[]>(`SELECT count(*)::text AS n FROM ${name}`);
        })
      : await handle.sql.unsafe<{ n: string }[]>(`SELECT count(*)::text AS n FROM ${name}`);
    return `, ${count[0].n} ${count[0].n === '1' ? 'row' : 'rows'}`;
  } catch {
    return '';
  }
}

/**
 * The check of a downgrade whose steps revert `revisions` (in the order they run) to `target`: the
 * tables they drop with their row counts, and the refusal if one step would fail on an object. A
 * revision that cannot be recorded offline (it reads a query's answer) leaves the tables out and
 * refuses nothing: the revisions themselves are the plan.
 */
export async function checkDowngrade(handle: DbHandle, revisions: Revision[], target: string): Promise<DowngradeCheck> {
  let objects: DroppedObject[];
  try {
    objects = droppedObjects(await stepStatements(revisions, 'downgrade'));
  } catch {
    return { tables: [] };
  }
  const refusal = downgradeRefusal(objects, await readDropCatalog(handle, objects), target);
  if (refusal) return { tables: [], refusal };
  const tables: DowngradeCheck['tables'] = [];
  for (const t of objects.filter((o) => o.kind === 'table')) tables.push({ name: t.name.replace(/"/g, ''), rows: await tableRowCount(handle, t.name) });
  return { tables };
}
