/**
 * A catalog snapshot: every schema object of a database as `kind name → definition`, read from
 * pg_catalog, so that two databases (or one database before and after a step) can be compared
 * object by object and a difference named ("column public.users.nickname added").
 * The version table and the engine's bookkeeping schema are left out.
 */
import type postgres from 'postgres';
import { createPool } from '../db/driver.js';

export type ObjectKind =
  | 'schema'
  | 'extension'
  | 'type'
  | 'sequence'
  | 'table'
  | 'column'
  | 'constraint'
  | 'index'
  | 'view'
  | 'function'
  | 'trigger'
  | 'policy';

export interface SchemaObject {
  kind: ObjectKind;
  name: string;
  definition: string;
}

/** key `kind name` → definition. */
export type Snapshot = Map<string, SchemaObject>;

export interface ObjectChange {
  kind: ObjectKind;
  name: string;
  /** added: in `after` only; removed: in `before` only; changed: definitions differ. */
  change: 'added' | 'removed' | 'changed';
  before?: string;
  after?: string;
}

export interface SnapshotOptions {
  versionSchema: string;
  versionTable: string;
  metaSchema: string;
}

const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

/** Reads the snapshot of the database at `url`. */
export async function takeSnapshot(url: string, options: SnapshotOptions): Promise<Snapshot> {
  const sql = createPool(url, { applicationName: 'cmmc-db:snapshot' });
  try {
    return await snapshotWith(sql, options);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
}

export async function snapshotWith(sql: postgres.Sql, options: SnapshotOptions): Promise<Snapshot> {
  const skip = [...SYSTEM_SCHEMAS, options.metaSchema];
  const versionTable = `${options.versionSchema}.${options.versionTable}`;
  const snap: Snapshot = new Map();
  const add = (kind: ObjectKind, name: string, definition: unknown) => {
    snap.set(`${kind} ${name}`, { kind, name, definition: definition == null ? '' : String(definition) });
  };
  // Objects that belong to an extension (pgvector's functions and types) are the extension's.
  const notExtensionMember = (classid: string, oidCol: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oidCol} AND d.deptype = 'e')`;

  for (const r of await sql.unsafe<{ nspname: string }[]>(
    `SELECT nspname FROM pg_namespace WHERE nspname <> ALL($1) AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
        AND ${notExtensionMember('pg_namespace', 'pg_namespace.oid')}`,
    [skip],
  )) {
    add('schema', r.nspname, '');
  }
  for (const r of await sql.unsafe<{ extname: string; nspname: string }[]>(
    `SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'`,
  )) {
    add('extension', r.extname, `schema ${r.nspname}`);
  }
  for (const r of await sql.unsafe<{ name: string; def: string }[]>(
    `SELECT n.nspname || '.' || t.typname AS name,
            CASE t.typtype
              WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
              WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod) || coalesce(' default ' || t.typdefault, '') || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
              ELSE 'type ' || t.typtype::text END AS def
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname <> ALL($1) AND t.typtype IN ('e', 'd') AND ${notExtensionMember('pg_type', 't.oid')}`,
    [skip],
  )) {
    add('type', r.name, r.def);
  }
  for (const r of await sql.unsafe<{ name: string; def: string }[]>(
    `SELECT n.nspname || '.' || c.relname AS name,
            format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END AS def
       FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname <> ALL($1) AND ${notExtensionMember('pg_class', 'c.oid')}`,
    [skip],
  )) {
    add('sequence', r.name, r.def);
  }
  const tables = await sql.unsafe<{ oid: number; name: string; def: string }[]>(
    `SELECT c.oid::int AS oid, n.nspname || '.' || c.relname AS name,
            CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END
              || CASE WHEN c.relrowsecurity THEN ', row level security' ELSE '' END
              || CASE WHEN c.relforcerowsecurity THEN ' (forced)' ELSE '' END
              || CASE WHEN c.relpersistence = 'u' THEN ', unlogged' ELSE '' END AS def
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname <> ALL($1) AND n.nspname || '.' || c.relname <> $2
        AND ${notExtensionMember('pg_class', 'c.oid')}`,
    [skip, versionTable],
  );
  for (const r of tables) add('table', r.name, r.def);
  const tableOids = tables.map((t) => t.oid);
  if (tableOids.length) {
    for (const r of await sql.unsafe<{ name: string; def: string }[]>(
      `SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name,
              format_type(a.atttypid, a.atttypmod)
                || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                || CASE WHEN a.attgenerated = 's' THEN ' generated always as (' || pg_get_expr(ad.adbin, ad.adrelid) || ') stored'
                        WHEN ad.adbin IS NOT NULL THEN ' default ' || pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END
                || CASE a.attidentity WHEN 'a' THEN ' generated always as identity' WHEN 'd' THEN ' generated by default as identity' ELSE '' END
                || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ' collate ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation) ELSE '' END AS def
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
      [tableOids],
    )) {
      add('column', r.name, r.def);
    }
    for (const r of await sql.unsafe<{ name: string; def: string }[]>(
      `SELECT n.nspname || '.' || c.relname || '.' || con.conname AS name, pg_get_constraintdef(con.oid) AS def
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE con.conrelid = ANY($1::oid[])`,
      [tableOids],
    )) {
      add('constraint', r.name, r.def);
    }
    for (const r of await sql.unsafe<{ name: string; def: string }[]>(
      `SELECT n.nspname || '.' || c.relname || '.' || t.tgname AS name, pg_get_triggerdef(t.oid) AS def
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.tgrelid = ANY($1::oid[]) AND NOT t.tgisinternal`,
      [tableOids],
    )) {
      add('trigger', r.name, r.def);
    }
    for (const r of await sql.unsafe<{ name: string; def: string }[]>(
      `SELECT n.nspname || '.' || c.relname || '.' || p.polname AS name,
              CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END
                || ' for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' ELSE 'all' END
                || ' to ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ', ' ORDER BY 1) FROM unnest(p.polroles) AS r)
                || coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')
                || coalesce(' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '') AS def
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE p.polrelid = ANY($1::oid[])`,
      [tableOids],
    )) {
      add('policy', r.name, r.def);
    }
  }
  for (const r of await sql.unsafe<{ name: string; def: string }[]>(
    `SELECT n.nspname || '.' || c.relname AS name, pg_get_indexdef(c.oid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname <> ALL($1) AND n.nspname || '.' || tc.relname <> $2 AND ${notExtensionMember('pg_class', 'tc.oid')}`,
    [skip, versionTable],
  )) {
    add('index', r.name, r.def);
  }
  for (const r of await sql.unsafe<{ name: string; def: string; kind: string }[]>(
    `SELECT n.nspname || '.' || c.relname AS name, c.relkind AS kind, pg_get_viewdef(c.oid) AS def
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND n.nspname <> ALL($1) AND ${notExtensionMember('pg_class', 'c.oid')}`,
    [skip],
  )) {
    add('view', r.name, (r.kind === 'm' ? 'materialized ' : '') + r.def.trim());
  }
  for (const r of await sql.unsafe<{ name: string; def: string }[]>(
    `SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, pg_get_functiondef(p.oid) AS def
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname <> ALL($1) AND p.prokind IN ('f', 'p', 'w') AND ${notExtensionMember('pg_proc', 'p.oid')}`,
    [skip],
  )) {
    add('function', r.name, r.def.trim());
  }
  return snap;
}

/**
 * Object-by-object differences from `before` to `after`, sorted by kind and name. Pure.
 * `beforeReloaded`, when given, is `before` as it reads after a pg_dump → restore round trip
 * (reload.ts): an object whose definition in `after` equals either form is unchanged, so that a
 * restored database is not reported as changed by the deparse differences a reload introduces.
 */
export function compareSnapshots(before: Snapshot, after: Snapshot, beforeReloaded?: Snapshot): ObjectChange[] {
  const changes: ObjectChange[] = [];
  for (const [key, obj] of before) {
    const other = after.get(key);
    if (!other) changes.push({ kind: obj.kind, name: obj.name, change: 'removed', before: obj.definition });
    else if (other.definition !== obj.definition && other.definition !== beforeReloaded?.get(key)?.definition) changes.push({ kind: obj.kind, name: obj.name, change: 'changed', before: obj.definition, after: other.definition });
  }
  for (const [key, obj] of after) {
    if (!before.has(key)) changes.push({ kind: obj.kind, name: obj.name, change: 'added', after: obj.definition });
  }
  return changes.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name));
}

const KIND_ORDER: ObjectKind[] = ['schema', 'extension', 'type', 'sequence', 'table', 'column', 'constraint', 'index', 'view', 'function', 'trigger', 'policy'];

/** "column public.users.nickname added" */
export function describeChange(c: ObjectChange): string {
  return `${c.kind} ${c.name} ${c.change}`;
}
