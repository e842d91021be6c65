/**
 * Types from the schema: src/schema/database.ts (the Kysely `Database` interface and the column
 * map the tests compare with a migrated database) generated from the migrations' head by reading
 * pg_catalog of a scratch database. Arrays become `T[]`, CHECK (col IN (...)) string columns and
 * PostgreSQL enums become string-literal unions, JSONB `Json`, pgvector columns `Vector` (their
 * text form), numeric `Numeric` and bigint `Int8` (strings, as postgres.js returns them).
 * kysely-codegen is not a dependency; this introspection is small and gives these names.
 */
import path from 'node:path';
import { createPool } from '../db/driver.js';
import type { CmmcConfig } from '../config/config.js';
import { withHeadDatabase } from './head.js';
import { serverUrl } from './scratch.js';
import { DOCS, EXTRA_DECLARATIONS, NOT_NULL_VIEW_COLUMNS, NULLABLE_VIEW_COLUMNS, UNION_NAMES, VIEW_COLUMN_UNIONS } from './type-overrides.js';

export function typesFilePath(config: CmmcConfig, file?: string): string {
  return path.resolve(file ?? path.join(config.projectDir, 'src', 'schema', 'database.ts'));
}

export interface IntrospectedColumn {
  name: string;
  /** pg_type.typname (udt_name): `_text` for text[]. */
  udt: string;
  /** The element's typname for arrays. */
  elementUdt?: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Labels of a PostgreSQL enum, or of a CHECK (col = ANY (ARRAY[...])) on a string column. */
  literals?: string[];
  comment?: string;
}

export interface IntrospectedRelation {
  name: string;
  kind: 'table' | 'view';
  comment?: string;
  columns: IntrospectedColumn[];
}

/** Reads the tables and views of `schema` (without the version table). */
export async function introspect(url: string, options: { schema?: string; exclude?: string[] } = {}): Promise<IntrospectedRelation[]> {
  const schema = options.schema ?? 'public';
  const sql = createPool(url, { applicationName: 'cmmc-db:typegen' });
  try {
    const rels = await sql<{ oid: number; name: string; kind: string; comment: string | null }[]>`
      SELECT c.oid::int AS oid, c.relname AS name, c.relkind AS kind, obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT (c.relname = ANY(${options.exclude ?? []}))
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY c.relname`;
    const cols = await sql<
      { rel: number; name: string; udt: string; elem: string | null; notnull: boolean; hasdef: boolean; enumlabels: string[] | null; comment: string | null }[]
    >`
      SELECT a.attrelid::int AS rel, a.attname AS name, t.typname AS udt, et.typname AS elem, a.attnotnull AS notnull,
             (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS hasdef,
             (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = coalesce(et.oid, t.oid)) AS enumlabels,
             col_description(a.attrelid, a.attnum) AS comment
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
       WHERE a.attrelid = ANY(${rels.map((r) => r.oid)}) AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attrelid, a.attnum`;
    const checks = await sql<{ rel: number; col: string; def: string }[]>`
      SELECT con.conrelid::int AS rel, a.attname AS col, pg_get_constraintdef(con.oid) AS def
        FROM pg_constraint con JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
       WHERE con.contype = 'c' AND array_length(con.conkey, 1) = 1 AND con.conrelid = ANY(${rels.map((r) => r.oid)})`;
    const checkLiterals = new Map<string, string[]>();
    for (const c of checks) {
      const literals = literalsOfCheck(c.def, c.col);
      if (literals) checkLiterals.set(`${c.rel}.${c.col}`, literals);
    }
    return rels.map((r) => ({
      name: r.name,
      kind: r.kind === 'v' || r.kind === 'm' ? 'view' : 'table',
      ...(r.comment ? { comment: r.comment } : {}),
      columns: cols
        .filter((c) => c.rel === r.oid)
        .map((c) => {
          const literals = c.enumlabels ?? checkLiterals.get(`${r.oid}.${c.name}`);
          return {
            name: c.name,
            udt: c.udt,
            ...(c.elem ? { elementUdt: c.elem } : {}),
            notNull: c.notnull,
            hasDefault: c.hasdef,
            ...(literals ? { literals } : {}),
            ...(c.comment ? { comment: c.comment } : {}),
          };
        }),
    }));
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
}

/**
 * The string literals of `CHECK ((col)::text = ANY ((ARRAY['a'::character varying, ...])::text[]))`
 * or `CHECK ((col = ANY (ARRAY['a'::text, ...])))`; undefined for any other check.
 */
export function literalsOfCheck(def: string, column: string): string[] | undefined {
  const col = column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^CHECK \\(+\\(?"?${col}"?\\)?(?:::[a-z ]+)? = ANY \\(+ARRAY\\[(.*?)\\](?:\\)?::[a-z ]+\\[\\])?\\)+$`).exec(def);
  if (!m) return undefined;
  const items = m[1].split(/,\s*(?=')/);
  const literals: string[] = [];
  for (const item of items) {
    const lit = /^'((?:[^']|'')*)'::[a-z ]+$/.exec(item.trim());
    if (!lit) return undefined;
    literals.push(lit[1].replace(/''/g, "'"));
  }
  return literals;
}

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

/** "poam_items" → "poam_item", "evidence" → "evidence", "policies" → "policy". */
function singular(word: string): string {
  if (/ies$/.test(word)) return word.replace(/ies$/, 'y');
  if (/(ss|us)$/.test(word)) return word;
  if (/s$/.test(word)) return word.slice(0, -1);
  return word;
}

function relationTypeName(rel: IntrospectedRelation): string {
  return rel.kind === 'view' ? `${pascal(rel.name.replace(/^v_/, ''))}View` : `${pascal(rel.name)}Table`;
}

/** TypeScript for a PostgreSQL type name: in tables the insert-friendly helper types, in views the selected ones. */
function scalarType(udt: string, inView: boolean): string {
  switch (udt) {
    case 'bool':
      return 'boolean';
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
    case 'oid':
      return 'number';
    case 'int8':
      return inView ? 'string' : 'Int8';
    case 'numeric':
      return inView ? 'string' : 'Numeric';
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      return inView ? 'Date' : 'Timestamp';
    case 'json':
    case 'jsonb':
      return 'Json';
    case 'bytea':
      return 'Buffer';
    case 'vector':
    case 'halfvec':
    case 'sparsevec':
      return 'Vector';
    default:
      return 'string';
  }
}

/** The `PgTypeOf` branch a TypeScript type maps to in SCHEMA_COLUMNS' type check. */
function pgTypeGroup(udt: string): string {
  const ts = scalarType(udt, true);
  if (udt.startsWith('_')) return 'array';
  return ts === 'Date' ? 'date' : ts === 'number' ? 'number' : ts === 'boolean' ? 'boolean' : ts === 'Json' ? 'json' : ts === 'Buffer' ? 'buffer' : 'string';
}

function docComment(text: string | undefined, indent = ''): string {
  if (!text) return '';
  return `${indent}/** ${text.replace(/\*\//g, '*\\/').replace(/\s*\n\s*/g, ' ')} */\n`;
}

/** The text of src/schema/database.ts for the given relations. Pure. */
export function renderTypes(relations: IntrospectedRelation[]): string {
  // Union types: one per distinct literal set, named by UNION_NAMES or by the column.
  const unionColumns = new Map<string, IntrospectedColumn>();
  for (const rel of relations) for (const col of rel.columns) if (col.literals && rel.kind === 'table') unionColumns.set(`${rel.name}.${col.name}`, col);
  // Literal sets per column name: a name with one set across tables names its union on its own.
  const setsOfColumn = new Map<string, Set<string>>();
  for (const [key, col] of unionColumns) {
    const name = key.split('.')[1];
    if (!setsOfColumn.has(name)) setsOfColumn.set(name, new Set());
    setsOfColumn.get(name)!.add(JSON.stringify(col.literals));
  }
  const unionBySet = new Map<string, string>();
  const unionOfColumn = new Map<string, string>();
  const unions: { name: string; literals: string[] }[] = [];
  const usedNames = new Set<string>();
  for (const [key, col] of unionColumns) {
    const setKey = JSON.stringify(col.literals);
    let name = unionBySet.get(setKey);
    if (!name) {
      const [table, column] = key.split('.');
      name = UNION_NAMES[key] ?? (column.includes('_') && setsOfColumn.get(column)!.size === 1 ? pascal(column) : pascal(`${singular(table)}_${column}`));
      if (usedNames.has(name)) name = pascal(`${singular(table)}_${column}`);
      usedNames.add(name);
      unionBySet.set(setKey, name);
      unions.push({ name, literals: col.literals! });
    }
    unionOfColumn.set(key, name);
  }

  const out: string[] = [];
  out.push(`/**
 * The Kysely \`Database\` interface of the CMMC platform: every table and view that the revisions in
 * migrations/ create, typed as postgres.js returns them (timestamps and dates as Date, numeric and
 * bigint as string, arrays as T[], JSONB as Json, pgvector columns as their text form
 * '[0.1,0.2,...]'), with CHECK-constrained columns as string-literal unions.
 *
 * GENERATED from the migrations' head by \`cmmc-db schema types\` (src/schema-as-code/typegen.ts;
 * names the catalog cannot give are in src/schema-as-code/type-overrides.ts). Do not edit by hand:
 * change the schema, then run \`cmmc-db schema types\`; CI runs \`cmmc-db schema types --check\`.
 *
 * \`SCHEMA_COLUMNS\` below is the same schema as data (PostgreSQL type and nullability of every
 * column). TypeScript checks it against the interfaces (a missing or extra column, a nullability
 * or a type that does not match fails the build), and test/schema-migrations.test.ts checks it
 * against a migrated database, so the interfaces and the database cannot drift apart silently.
 *
 * @example
 * \`\`\`ts
 * import type { Database } from 'cmmc-db';
 * const handle = await createPool<Database>();
 * const open = await handle.db.selectFrom('poam_items').where('status', '=', 'Open').selectAll().execute();
 * \`\`\`
 */
import type { ColumnType, SelectType } from 'kysely';

/** A column with a default: optional on insert. Unwraps a ColumnType (as kysely-codegen's Generated does). */
export type Generated<T> =
  T extends ColumnType<infer S, infer I, infer U> ? ColumnType<S, I | undefined, U> : ColumnType<T, T | undefined, T>;

/** A JSON document as stored in a JSONB column (NULL is the column's own null, typed \`Json | null\`). */
export type Json = Exclude<JsonValue, null>;
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

/** timestamptz and date: postgres.js returns Date; strings are accepted on the way in. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** numeric: returned as a string to keep its precision. */
export type Numeric = ColumnType<string, string | number, string | number>;
/** bigint: postgres.js returns int8 as a string. */
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
/** A pgvector column (vector, halfvec) in its text form, '[0.1,0.2,...]'. */
export type Vector = string;
`);
  for (const u of unions) {
    if (DOCS[u.name]) out.push(docComment(DOCS[u.name]).trimEnd());
    const oneLine = `export type ${u.name} = ${u.literals.map((l) => `'${l.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(' | ')};`;
    out.push(oneLine.length <= 120 ? oneLine : `export type ${u.name} =\n${u.literals.map((l) => `  | '${l.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join('\n')};`);
  }
  out.push('');
  if (EXTRA_DECLARATIONS) out.push(EXTRA_DECLARATIONS, '');

  for (const rel of relations) {
    const inView = rel.kind === 'view';
    const relDoc = DOCS[rel.name] ?? rel.comment ?? (inView ? `${rel.name} (view, read-only).` : undefined);
    if (relDoc) out.push(docComment(relDoc).trimEnd());
    out.push(`export interface ${relationTypeName(rel)} {`);
    for (const col of rel.columns) {
      let base: string;
      const union = inView ? unionOfColumn.get(VIEW_COLUMN_UNIONS[`${rel.name}.${col.name}`] ?? '') : unionOfColumn.get(`${rel.name}.${col.name}`);
      if (union) base = union;
      else if (col.elementUdt) base = `${col.literals ? col.literals.map((l) => `'${l}'`).join(' | ') : scalarType(col.elementUdt, true)}[]`.replace(/^(.*\|.*)\[\]$/, '($1)[]');
      else if (col.literals) base = col.literals.map((l) => `'${l}'`).join(' | ');
      else base = scalarType(col.udt, inView);
      const nullable = inView ? viewColumnNullable(rel.name, col.name) : !col.notNull;
      let type = nullable ? `${base} | null` : base;
      if (!inView && col.hasDefault) type = `Generated<${type}>`;
      out.push(`${docComment(DOCS[`${rel.name}.${col.name}`] ?? col.comment, '  ')}  ${col.name}: ${type};`);
    }
    out.push('}', '');
  }
  const views = relations.filter((r) => r.kind === 'view');
  out.push('export interface Database {');
  for (const rel of [...relations.filter((r) => r.kind === 'table'), ...views]) out.push(`  ${rel.name}: ${relationTypeName(rel)};`);
  out.push('}', '');
  out.push('/** The names of the platform\'s views (the other keys of Database are tables). */');
  out.push(`export const VIEW_NAMES = [${views.map((v) => `'${v.name}'`).join(', ')}] as const;`, '');

  // The column map: its type check ties each column's PostgreSQL type to the interface's TypeScript type.
  const groups = new Map<string, Set<string>>();
  for (const rel of relations) for (const col of rel.columns) {
    const g = pgTypeGroup(col.udt);
    if (!groups.has(g)) groups.set(g, new Set());
    groups.get(g)!.add(col.udt);
  }
  const alt = (g: string) => [...(groups.get(g) ?? new Set(['never']))].sort().map((u) => (u === 'never' ? 'never' : `'${u}'`)).join(' | ');
  out.push(`/** PostgreSQL type names (pg_type.typname, as information_schema.columns.udt_name) allowed for a TypeScript type. */
type PgTypeOf<S> = [S] extends [Date]
  ? ${alt('date')}
  : [S] extends [number]
    ? ${alt('number')}
    : [S] extends [boolean]
      ? ${alt('boolean')}
      : [S] extends [unknown[]]
        ? ${alt('array')}
        : [S] extends [string]
          ? ${alt('string')}
          : ${alt('json')};

/** "<udt_name> null" or "<udt_name> not null", derived from the column's TypeScript type. */
type ColumnSpec<T> = \`\${PgTypeOf<NonNullable<SelectType<T>>>} \${null extends SelectType<T> ? 'null' : 'not null'}\`;

/** Every relation of Database mapped to every one of its columns. */
export type SchemaColumnMap = { [R in keyof Database]: { [C in keyof Database[R]]-?: ColumnSpec<Database[R][C]> } };

/**
 * The schema as data: for each table and view, each column's PostgreSQL type (udt_name) and
 * nullability. Type-checked against the interfaces above; compared with a migrated database by the
 * tests. View columns are all nullable in information_schema, so only their types are compared.
 */
export const SCHEMA_COLUMNS: SchemaColumnMap = {`);
  for (const rel of [...relations.filter((r) => r.kind === 'table'), ...views]) {
    out.push(`  ${rel.name}: {`);
    for (const col of rel.columns) {
      const nullable = rel.kind === 'view' ? viewColumnNullable(rel.name, col.name) : !col.notNull;
      out.push(`    ${col.name}: '${col.udt} ${nullable ? 'null' : 'not null'}',`);
    }
    out.push('  },');
  }
  out.push('};', '');
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

function viewColumnNullable(view: string, column: string): boolean {
  const notNull = NOT_NULL_VIEW_COLUMNS[view];
  if (notNull === '*') return (NULLABLE_VIEW_COLUMNS[view] ?? []).includes(column);
  return !(notNull ?? []).includes(column);
}

/** src/schema/database.ts as the migrations' head generates it (built in a scratch database, then dropped). */
export async function generateHeadTypes(config: CmmcConfig): Promise<string> {
  serverUrl(config, 'schema types');
  return withHeadDatabase(config, 'types', async (scratch) =>
    renderTypes(await introspect(scratch.url, { schema: 'public', exclude: config.versionSchema === 'public' ? [config.versionTable] : [] })),
  );
}
