/**
 * The plan for distributing the platform by tenant (Citus; docs/scale-out.md) and the invariants
 * that keep the schema distributable on plain PostgreSQL.
 *
 * Reference tables (copied whole to every node): the tenants themselves, their users, and the
 * master data. Every other table of `public` that has an `organization_id` is distributed by it and
 * co-located with `organizations`' tenants: all of a tenant's rows live on one node, so its joins,
 * foreign keys and transactions stay on that node.
 *
 * The invariants, each measured on Citus 13.2 (coordinator and two workers):
 * - each distributed table's primary key and every unique constraint or index include
 *   organization_id (a unique index without it is refused);
 * - a foreign key between distributed tables includes organization_id on both sides, and a
 *   foreign key that includes organization_id has no ON DELETE / ON UPDATE SET NULL or SET DEFAULT
 *   (refused, with or without a column list);
 * - no reference table has a foreign key onto a distributed table (refused);
 * - organization_id is NOT NULL (the distribution column cannot be NULL);
 * - a view joins tenant tables on organization_id as well, and reads tenant tables through joins,
 *   not correlated subqueries in its select list ("complex joins are only supported when all
 *   distributed tables are co-located and joined on their distribution columns");
 * - every table of `public` is classified: a new table is either listed as a reference table here
 *   or carries organization_id.
 */
import type postgres from 'postgres';

/** The distribution column. */
export const DISTRIBUTION_COLUMN = 'organization_id';

/** Reference tables, in the order they are created as such (a referenced table before its referrers). */
export const REFERENCE_TABLES = ['organizations', 'users', 'cmmc_controls', 'provider_inheritance', 'system_config'] as const;

/** Tables of `public` outside the plan: the engine's version table stays on the coordinator. */
const OUTSIDE_THE_PLAN = new Set(['cmmc_schema_version']);

export interface DistributionViolation {
  /** table or view name */
  object: string;
  rule: 'classified' | 'not-null' | 'primary-key' | 'unique' | 'foreign-key' | 'set-null' | 'reference-to-distributed' | 'view-join' | 'view-subquery';
  detail: string;
}

/** The tenant tables (distributed by organization_id) of the connected database, by name. */
export async function distributedTables(sql: postgres.Sql, schema = 'public'): Promise<string[]> {
  const rows = await sql<{ table: string }[]>`
    SELECT c.relname AS "table"
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = ${DISTRIBUTION_COLUMN} AND NOT a.attisdropped)
       AND c.relname <> ALL(${[...REFERENCE_TABLES] as string[]})
     ORDER BY c.relname`;
  return rows.map((r) => r.table);
}

/**
 * The Citus calls that distribute the schema, in order: reference tables first (a distributed
 * table's foreign keys onto them need them), then the distributed tables, parents before the
 * children whose composite foreign keys point at them (`edges` are [child, parent] pairs), all
 * co-located with the first. Pure.
 */
export function distributionCalls(distributed: string[], edges: [string, string][] = []): string[] {
  const ordered: string[] = [];
  const visit = (t: string, seen: Set<string>) => {
    if (ordered.includes(t) || seen.has(t)) return;
    seen.add(t);
    for (const [child, parent] of edges) if (child === t && parent !== t && distributed.includes(parent)) visit(parent, seen);
    ordered.push(t);
  };
  for (const t of distributed) visit(t, new Set());
  const anchor = ordered[0];
  return [
    ...REFERENCE_TABLES.map((t) => `SELECT create_reference_table('${t}');`),
    ...ordered.map((t) =>
      t === anchor
        ? `SELECT create_distributed_table('${t}', '${DISTRIBUTION_COLUMN}');`
        : `SELECT create_distributed_table('${t}', '${DISTRIBUTION_COLUMN}', colocate_with => '${anchor}');`,
    ),
  ];
}

/** The calls for the connected database (its tenant tables and their foreign keys). */
export async function distributionPlan(sql: postgres.Sql, schema = 'public'): Promise<string[]> {
  const distributed = await distributedTables(sql, schema);
  const edges = await sql<{ child: string; parent: string }[]>`
    SELECT c.relname AS child, t.relname AS parent
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class t ON t.oid = k.confrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND k.contype = 'f' ORDER BY 1, 2`;
  return distributionCalls(distributed, edges.map((e) => [e.child, e.parent]));
}

/** Every way the connected schema breaks the invariants above; empty when it is distributable. */
export async function distributionViolations(sql: postgres.Sql, schema = 'public'): Promise<DistributionViolation[]> {
  const out: DistributionViolation[] = [];
  const distributed = await distributedTables(sql, schema);
  const isDistributed = (t: string) => distributed.includes(t);
  const reference = new Set<string>(REFERENCE_TABLES);

  const tables = await sql<{ table: string }[]>`
    SELECT c.relname AS "table" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`;
  for (const { table } of tables) {
    if (!isDistributed(table) && !reference.has(table) && !OUTSIDE_THE_PLAN.has(table)) {
      out.push({ object: table, rule: 'classified', detail: `${table} has no ${DISTRIBUTION_COLUMN} and is not a reference table (src/schema/distribution.ts)` });
    }
  }

  const nullable = await sql<{ table: string }[]>`
    SELECT c.relname AS "table" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND a.attname = ${DISTRIBUTION_COLUMN} AND NOT a.attnotnull AND c.relname = ANY(${distributed})`;
  for (const { table } of nullable) out.push({ object: table, rule: 'not-null', detail: `${table}.${DISTRIBUTION_COLUMN} allows NULL` });

  // Primary keys, unique constraints and unique indexes (constraint or not) of the distributed tables.
  const keys = await sql<{ table: string; name: string; primary: boolean; columns: string[] | null }[]>`
    SELECT c.relname AS "table", i.relname AS name, x.indisprimary AS primary,
           (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(x.indkey) WITH ORDINALITY k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS columns
      FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND x.indisunique AND c.relname = ANY(${distributed})
     ORDER BY 1, 2`;
  for (const t of distributed) {
    const pk = keys.find((k) => k.table === t && k.primary);
    if (!pk) out.push({ object: t, rule: 'primary-key', detail: `${t} has no primary key` });
    else if (!(pk.columns ?? []).includes(DISTRIBUTION_COLUMN)) out.push({ object: t, rule: 'primary-key', detail: `${t} primary key (${(pk.columns ?? []).join(', ')}) lacks ${DISTRIBUTION_COLUMN}` });
  }
  for (const k of keys.filter((k) => !k.primary && !(k.columns ?? []).includes(DISTRIBUTION_COLUMN))) {
    out.push({ object: k.table, rule: 'unique', detail: `${k.name} UNIQUE (${(k.columns ?? ['an expression']).join(', ')}) lacks ${DISTRIBUTION_COLUMN}` });
  }

  const fks = await sql<{ table: string; name: string; target: string; columns: string[]; target_columns: string[]; on_delete: string; on_update: string }[]>`
    SELECT c.relname AS "table", k.conname AS name, t.relname AS target,
           (SELECT array_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
           (SELECT array_agg(a.attname ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum) AS target_columns,
           k.confdeltype::text AS on_delete, k.confupdtype::text AS on_update
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class t ON t.oid = k.confrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND k.contype = 'f' ORDER BY 1, 2`;
  for (const fk of fks) {
    const from = isDistributed(fk.table);
    const to = isDistributed(fk.target);
    if (!from && to) out.push({ object: fk.table, rule: 'reference-to-distributed', detail: `${fk.name}: ${fk.table} → ${fk.target}, a reference table cannot point at a distributed one` });
    if (from && to) {
      const at = fk.columns.indexOf(DISTRIBUTION_COLUMN);
      if (at < 0 || fk.target_columns[at] !== DISTRIBUTION_COLUMN) {
        out.push({ object: fk.table, rule: 'foreign-key', detail: `${fk.name} (${fk.columns.join(', ')}) → ${fk.target} (${fk.target_columns.join(', ')}) does not match ${DISTRIBUTION_COLUMN} to ${DISTRIBUTION_COLUMN}` });
      }
    }
    if (from && fk.columns.includes(DISTRIBUTION_COLUMN) && (['n', 'd'].includes(fk.on_delete) || ['n', 'd'].includes(fk.on_update))) {
      out.push({ object: fk.table, rule: 'set-null', detail: `${fk.name} → ${fk.target} sets NULL or DEFAULT on a key that includes ${DISTRIBUTION_COLUMN}` });
    }
  }

  const views = await sql<{ view: string; definition: string; tenant: boolean }[]>`
    SELECT v.relname AS view, pg_get_viewdef(v.oid) AS definition,
           EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class t ON t.oid = d.refobjid
                    WHERE r.ev_class = v.oid AND t.relname = ANY(${distributed})) AS tenant
      FROM pg_class v JOIN pg_namespace n ON n.oid = v.relnamespace
     WHERE n.nspname = ${schema} AND v.relkind IN ('v', 'm') ORDER BY 1`;
  for (const v of views.filter((v) => v.tenant)) out.push(...viewViolations(v.view, v.definition, distributed));
  return out;
}

/** Index of the parenthesis closing the one at `open`. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return text.length;
}

/**
 * The view rules on pg_get_viewdef's text (it is normalized: `JOIN [public.]t alias ON (cond)`,
 * `JOIN ( SELECT ... ) alias ON (cond)`). Joins onto reference tables are exempt. Pure.
 */
export function viewViolations(view: string, definition: string, distributed: string[]): DistributionViolation[] {
  const out: DistributionViolation[] = [];
  const text = definition.replace(/\s+/g, ' ');
  // pg_get_viewdef writes `public.` only when public is not on the search_path.
  const names = distributed.join('|');
  const isTenantTarget = (target: string) =>
    target.startsWith('(') ? new RegExp(`\\bFROM\\s+(?:public\\.)?(${names})\\b`, 'i').exec(target)?.[1] : new RegExp(`^(?:public\\.)?(${names})$`).exec(target)?.[1];
  const joinRe = /\bJOIN\s+/gi;
  let m: RegExpExecArray | null;
  while ((m = joinRe.exec(text))) {
    let at = m.index + m[0].length;
    let target: string;
    if (text[at] === '(') {
      const end = closing(text, at);
      target = text.slice(at, end + 1);
      at = end + 1;
    } else {
      target = /^\S+/.exec(text.slice(at))![0];
      at += target.length;
    }
    const on = /^\s*(?:\w+\s+)?ON\s+/i.exec(text.slice(at));
    if (!on) continue;
    const condStart = at + on[0].length;
    const cond = text[condStart] === '(' ? text.slice(condStart, closing(text, condStart) + 1) : text.slice(condStart, condStart + 200);
    const table = isTenantTarget(target);
    if (!table) continue;
    if (!new RegExp(`\\b\\w+\\.${DISTRIBUTION_COLUMN}\\s*=\\s*\\w+\\.${DISTRIBUTION_COLUMN}\\b`).test(cond)) {
      out.push({ object: view, rule: 'view-join', detail: `${view} joins ${target.startsWith('(') ? `a subquery on ${table}` : table} ON ${cond} without ${DISTRIBUTION_COLUMN}` });
    }
  }
  // The top-level select list (CTE bodies are inside parentheses): a SELECT in it is a scalar subquery.
  const main = topLevelSelect(text);
  for (const s of main?.match(/\(\s*SELECT\b.*?\bFROM\s+(?:public\.)?\w+/gi) ?? []) {
    const t = /(\w+)$/.exec(s)![1];
    if (distributed.includes(t)) out.push({ object: view, rule: 'view-subquery', detail: `${view} reads ${t} in a subquery of its select list: pre-aggregate it in a join on ${DISTRIBUTION_COLUMN}` });
  }
  return out;
}

/** The select list of the statement's top-level SELECT (after any WITH), or undefined. */
function topLevelSelect(text: string): string | undefined {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0) {
      if (start < 0 && /^SELECT\b/i.test(text.slice(i, i + 7))) start = i + 6;
      else if (start >= 0 && /^FROM\b/i.test(text.slice(i, i + 5)) && /\s/.test(text[i - 1] ?? ' ')) return text.slice(start, i);
    }
  }
  return undefined;
}
