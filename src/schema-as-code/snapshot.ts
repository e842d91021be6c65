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
  | 'policy'
  | 'comment';

export interface SchemaObject {
  kind: ObjectKind;
  name: string;
  definition: string;
  /** How SQL names it, quoted (`TABLE "public"."widgets"`, `COLUMN "public"."widgets"."name"`): tables, views, comments. */
  sql?: string;
  /** A table's or view's storage parameters (`fillfactor=70`, `security_invoker=true`). */
  options?: string[];
  /** A table's FORCE ROW LEVEL SECURITY. */
  forced?: boolean;
  /** A comment: the key of the object it is on (`column public.widgets.name`). */
  on?: string;
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
  const add = (kind: ObjectKind, name: string, definition: unknown, extra: Partial<SchemaObject> = {}) => {
    snap.set(`${kind} ${name}`, { kind, name, definition: definition == null ? '' : String(definition), ...extra });
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
                || coalesce((SELECT string_agg(' constraint ' || quote_ident(dc.conname) || ' ' || pg_get_constraintdef(dc.oid), '' ORDER BY dc.conname) FROM pg_constraint dc WHERE dc.contypid = t.oid), '')
              WHEN 'c' THEN 'composite (' || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                                    FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
              WHEN 'r' THEN 'range (subtype ' || (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) || ')'
              ELSE 'type ' || t.typtype::text END AS def
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname <> ALL($1) AND ${notExtensionMember('pg_type', 't.oid')}
        AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))`,
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
  const tables = await sql.unsafe<{ oid: number; name: string; def: string; sql: string; options: string[] | null; forced: boolean }[]>(
    `SELECT c.oid::int AS oid, n.nspname || '.' || c.relname AS name,
            CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END
              || CASE WHEN c.relrowsecurity THEN ', row level security' ELSE '' END
              || CASE WHEN c.relforcerowsecurity THEN ' (forced)' ELSE '' END
              || CASE WHEN c.relpersistence = 'u' THEN ', unlogged' ELSE '' END
              || coalesce(', with (' || array_to_string(c.reloptions, ', ') || ')', '') AS def,
            format('TABLE %I.%I', n.nspname, c.relname) AS sql, c.reloptions::text[] AS options, c.relforcerowsecurity AS forced
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname <> ALL($1) AND n.nspname || '.' || c.relname <> $2
        AND ${notExtensionMember('pg_class', 'c.oid')}`,
    [skip, versionTable],
  );
  for (const r of tables) add('table', r.name, r.def, { sql: r.sql, options: r.options ?? [], forced: r.forced });
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
  for (const r of await sql.unsafe<{ name: string; def: string; kind: string; sql: string; options: string[] | null }[]>(
    `SELECT n.nspname || '.' || c.relname AS name, c.relkind AS kind, pg_get_viewdef(c.oid) AS def,
            format(CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW %I.%I' ELSE 'VIEW %I.%I' END, n.nspname, c.relname) AS sql, c.reloptions::text[] AS options
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND n.nspname <> ALL($1) AND ${notExtensionMember('pg_class', 'c.oid')}`,
    [skip],
  )) {
    const options = r.options ?? [];
    add('view', r.name, (r.kind === 'm' ? 'materialized ' : '') + (options.length ? `with (${options.join(', ')}) ` : '') + r.def.trim(), { sql: r.sql, options });
  }
  for (const r of await sql.unsafe<{ name: string; def: string }[]>(
    `SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, pg_get_functiondef(p.oid) AS def
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname <> ALL($1) AND p.prokind IN ('f', 'p', 'w') AND ${notExtensionMember('pg_proc', 'p.oid')}`,
    [skip],
  )) {
    add('function', r.name, r.def.trim());
  }
  for (const r of await sql.unsafe<{ name: string; on: string | null; sql: string; comment: string }[]>(commentsQuery(skip, versionTable))) {
    add('comment', r.name, r.comment, { sql: r.sql, on: r.on ?? r.name });
  }
  return snap;
}

/**
 * Every comment (COMMENT ON) on an object the snapshot holds: `name` says what it is on
 * (`column public.widgets.name`, also the key of that object in the snapshot), `on` the view's key for
 * a comment on a view's column (which the snapshot does not hold), `sql` how COMMENT ON names it. Comments on extensions and on an extension's objects are
 * the extension's, left out.
 */
function commentsQuery(skip: string[], versionTable: string): string {
  const list = (values: string[]) => values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
  const member = (classid: string, oid: string) => `EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '${classid}'::regclass AND x.objid = ${oid} AND x.deptype = 'e')`;
  return `SELECT * FROM (
    SELECT CASE WHEN d.objsubid = 0 THEN rel.kind || ' ' || n.nspname || '.' || c.relname ELSE 'column ' || n.nspname || '.' || c.relname || '.' || a.attname END AS name,
           CASE WHEN d.objsubid <> 0 AND rel.kind = 'view' THEN 'view ' || n.nspname || '.' || c.relname END AS on,
           CASE WHEN d.objsubid = 0 THEN
                  format(CASE c.relkind WHEN 'v' THEN 'VIEW %I.%I' WHEN 'm' THEN 'MATERIALIZED VIEW %I.%I' WHEN 'i' THEN 'INDEX %I.%I' WHEN 'I' THEN 'INDEX %I.%I' WHEN 'S' THEN 'SEQUENCE %I.%I' ELSE 'TABLE %I.%I' END, n.nspname, c.relname)
                ELSE format('COLUMN %I.%I.%I', n.nspname, c.relname, a.attname) END AS sql,
           d.description AS comment
      FROM pg_description d JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
      CROSS JOIN LATERAL (SELECT CASE WHEN c.relkind IN ('v', 'm') THEN 'view' WHEN c.relkind IN ('i', 'I') THEN 'index' WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind) rel
     WHERE d.classoid = 'pg_class'::regclass AND c.relkind IN ('r', 'p', 'v', 'm', 'i', 'I', 'S')
       AND n.nspname NOT IN (${list(skip)}) AND n.nspname || '.' || c.relname <> '${versionTable.replace(/'/g, "''")}'
       AND NOT ${member('pg_class', 'c.oid')}
       AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_depend x ON x.classid = 'pg_class'::regclass AND x.objid = i.indrelid AND x.deptype = 'e' WHERE i.indexrelid = c.oid)
    UNION ALL
    SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL,
           format(CASE p.prokind WHEN 'p' THEN 'PROCEDURE %I.%I(%s)' ELSE 'FUNCTION %I.%I(%s)' END, n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
           d.description
      FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE d.classoid = 'pg_proc'::regclass AND p.prokind IN ('f', 'p', 'w') AND n.nspname NOT IN (${list(skip)}) AND NOT ${member('pg_proc', 'p.oid')}
    UNION ALL
    SELECT 'type ' || n.nspname || '.' || t.typname, NULL,
           format(CASE t.typtype WHEN 'd' THEN 'DOMAIN %I.%I' ELSE 'TYPE %I.%I' END, n.nspname, t.typname),
           d.description
      FROM pg_description d JOIN pg_type t ON t.oid = d.objoid JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE d.classoid = 'pg_type'::regclass AND n.nspname NOT IN (${list(skip)}) AND NOT ${member('pg_type', 't.oid')}
       AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
    UNION ALL
    SELECT 'schema ' || n.nspname, NULL, format('SCHEMA %I', n.nspname), d.description
      FROM pg_description d JOIN pg_namespace n ON n.oid = d.objoid
     WHERE d.classoid = 'pg_namespace'::regclass AND n.nspname NOT IN (${list(skip)}) AND n.nspname NOT LIKE 'pg\\_%' AND NOT ${member('pg_namespace', 'n.oid')}
    UNION ALL
    SELECT 'constraint ' || n.nspname || '.' || c.relname || '.' || con.conname, NULL, format('CONSTRAINT %I ON %I.%I', con.conname, n.nspname, c.relname), d.description
      FROM pg_description d JOIN pg_constraint con ON con.oid = d.objoid JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE d.classoid = 'pg_constraint'::regclass AND n.nspname NOT IN (${list(skip)}) AND n.nspname || '.' || c.relname <> '${versionTable.replace(/'/g, "''")}' AND NOT ${member('pg_class', 'c.oid')}
    UNION ALL
    SELECT 'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname, NULL, format('TRIGGER %I ON %I.%I', tg.tgname, n.nspname, c.relname), d.description
      FROM pg_description d JOIN pg_trigger tg ON tg.oid = d.objoid JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE d.classoid = 'pg_trigger'::regclass AND NOT tg.tgisinternal AND n.nspname NOT IN (${list(skip)}) AND NOT ${member('pg_class', 'c.oid')}
    UNION ALL
    SELECT 'policy ' || n.nspname || '.' || c.relname || '.' || pol.polname, NULL, format('POLICY %I ON %I.%I', pol.polname, n.nspname, c.relname), d.description
      FROM pg_description d JOIN pg_policy pol ON pol.oid = d.objoid JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE d.classoid = 'pg_policy'::regclass AND n.nspname NOT IN (${list(skip)}) AND NOT ${member('pg_class', 'c.oid')}
  ) comments`;
}

/**
 * Object-by-object differences from `before` to `after`, sorted by kind and name. Pure.
 * `beforeReloaded`, when given, is `before` as it reads after a pg_dump → restore round trip
 * (reload.ts): an object whose definition in `after` equals either form is unchanged, so that a
 * restored database is not reported as changed by the deparse differences a reload introduces.
 * `afterReloaded`, when given too, is `after` through the same round trip: an object that reads the
 * same in both reloaded forms is unchanged (a hand-made CHECK adopted into a revision by
 * `revision --autogenerate --from`, whose text is the reloaded form).
 */
export function compareSnapshots(before: Snapshot, after: Snapshot, beforeReloaded?: Snapshot, afterReloaded?: Snapshot): ObjectChange[] {
  const changes: ObjectChange[] = [];
  const sameOnceReloaded = (key: string) => {
    const a = beforeReloaded?.get(key)?.definition;
    return a !== undefined && a === afterReloaded?.get(key)?.definition;
  };
  for (const [key, obj] of before) {
    const other = after.get(key);
    if (!other) changes.push({ kind: obj.kind, name: obj.name, change: 'removed', before: obj.definition });
    else if (other.definition !== obj.definition && other.definition !== beforeReloaded?.get(key)?.definition && !sameOnceReloaded(key)) {
      changes.push({ kind: obj.kind, name: obj.name, change: 'changed', before: obj.definition, after: other.definition });
    }
  }
  for (const [key, obj] of after) {
    if (!before.has(key)) changes.push({ kind: obj.kind, name: obj.name, change: 'added', after: obj.definition });
  }
  return changes.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name));
}

const KIND_ORDER: ObjectKind[] = ['schema', 'extension', 'type', 'sequence', 'table', 'column', 'constraint', 'index', 'view', 'function', 'trigger', 'policy', 'comment'];

/** "column public.users.nickname added" */
export function describeChange(c: ObjectChange): string {
  return `${c.kind} ${c.name} ${c.change}`;
}
