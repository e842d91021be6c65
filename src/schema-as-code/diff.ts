/**
 * The schema diff between two databases, through @pgkit/migra (a TypeScript port of migra). It
 * was chosen because it is kept, reads PostgreSQL's catalogs directly (pgvector types, expression
 * indexes, functions, views, RLS policies and triggers come out right), and needs no shadow ORM model.
 */
import { createRequire } from 'node:module';
import { CmmcError } from '../errors.js';
import { takeSnapshot, type Snapshot, type SnapshotOptions } from './snapshot.js';
import { enumValuesInPlace } from './enum-values.js';
import { supplementStatements } from './supplement.js';

/** The engine's names, left out of every diff: its bookkeeping schema and the version table. */
export type SchemaDiffOptions = SnapshotOptions;

const require = createRequire(import.meta.url);

interface MigraModule {
  run(from: unknown, to: unknown, options: Record<string, unknown>): Promise<{ statements: Iterable<string> }>;
}
interface ClientModule {
  createClient(url: string, options?: Record<string, unknown>): { end(): Promise<void> };
}

/**
 * The statements that turn the schema of `fromUrl` into the schema of `toUrl`, in order: migra's
 * (labels added to an enum in place: enum-values.ts), then what migra leaves out (comments, FORCE ROW LEVEL SECURITY, storage parameters: supplement.ts),
 * from the catalog snapshots of both (taken here unless the caller has them).
 * Reads both databases; changes neither.
 */
export async function diffSchemas(fromUrl: string, toUrl: string, options: SchemaDiffOptions, snapshots?: { from: Snapshot; to: Snapshot }): Promise<string[]> {
  const [from, to] = snapshots ? [snapshots.from, snapshots.to] : await Promise.all([takeSnapshot(fromUrl, options), takeSnapshot(toUrl, options)]);
  const statements = enumValuesInPlace(await migraStatements(fromUrl, toUrl, options), from, to);
  return [...statements, ...supplementStatements(from, to, statements)];
}

async function migraStatements(fromUrl: string, toUrl: string, options: SchemaDiffOptions): Promise<string[]> {
  const migra = loadMigra();
  // The client migra itself depends on (not a dependency of this project on its own).
  const client = createRequire(require.resolve('@pgkit/migra'))('@pgkit/client') as ClientModule;
  // A server message on a connection between two of migra's queries (a terminated session, for
  // example) is an 'error' event on the pg client; unheard, it would crash the process before the
  // scratch databases are dropped. Heard here, the pending query fails and the error propagates.
  const clientOptions = {
    pgpOptions: {
      initialize: {
        noWarnings: true,
        connect: (e: { client: { on(event: 'error', listener: (err: Error) => void): void }; useCount: number }) => {
          if (e.useCount === 0) e.client.on('error', () => {});
        },
      },
    },
  };
  // node-postgres reads one host: a failover URL is narrowed to the host that answers for it.
  const { singleHostUrl } = await import('../db/driver.js');
  const [fromOne, toOne] = await Promise.all([singleHostUrl(fromUrl), singleHostUrl(toUrl)]);
  const from = client.createClient(fromOne, clientOptions);
  const to = client.createClient(toOne, clientOptions);
  try {
    const m = await migra.run(from, to, { unsafe: true, excludeSchema: [options.metaSchema], ignoreExtensionVersions: true });
    const ignored = [tablePattern(`${options.versionSchema}.${options.versionTable}`)];
    return [...m.statements]
      .map(tidyStatement)
      .filter((s) => s !== '')
      .filter((s) => !ignored.some((re) => re.test(s)));
  } finally {
    await Promise.all([from.end().catch(() => {}), to.end().catch(() => {})]);
  }
}

/**
 * @pgkit/migra is an optional peer dependency: it (with the TypeScript compiler it pulls in) is
 * only needed by autogenerate and drift, so an application that installs cmmc-db does not carry
 * it. Loaded when used; missing, it is a one-line error saying how to install it.
 */
export function loadMigra(): MigraModule {
  try {
    return require('@pgkit/migra') as MigraModule;
  } catch (err) {
    if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    throw new CmmcError('schema.migra-missing', 'autogenerate and drift detection need @pgkit/migra, which is not installed', {
      hint: 'install @pgkit/migra to use autogenerate: npm install --save-dev @pgkit/migra',
    });
  }
}

/** Matches `public.t`, `"public"."t"` and the table's own `t_pkey`, quoted or not. */
function tablePattern(table: string): RegExp {
  const [schema, name] = table.split('.');
  const esc = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w"])"?${esc(schema)}"?\\."?${esc(name)}(_pkey)?"?($|[^\\w"])`, 'i');
}

/** Trims migra's layout: no leading blank lines or indentation, one trailing semicolon. */
export function tidyStatement(statement: string): string {
  const lines = statement.replace(/\r\n/g, '\n').split('\n');
  while (lines.length && lines[0].trim() === '') lines.shift();
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) return '';
  // migra indents some statements' first line only (create policy): start every statement at column 0.
  lines[0] = lines[0].trimStart();
  const rest = lines.slice(1).filter((l) => l.trim());
  const indent = rest.length ? Math.min(...rest.map((l) => /^ */.exec(l)![0].length)) : 0;
  let text = [lines[0], ...lines.slice(1).map((l) => l.slice(Math.min(indent, /^ */.exec(l)![0].length)))].map((l) => l.trimEnd()).join('\n');
  if (!text.endsWith(';')) text += ';';
  return text;
}

/**
 * Whether a statement can lose data or break readers: drops, type changes, dropped columns.
 * Such statements are marked `-- DESTRUCTIVE: review` in generated revisions.
 */
export function isDestructive(statement: string): boolean {
  const s = statement.replace(/\s+/g, ' ').trim().toLowerCase();
  // ALTER TYPE ... ADD VALUE only adds a label (enum-values.ts).
  if (/^alter type\s.*\sadd value\s/.test(s)) return false;
  return /^drop\s/.test(s) || /^truncate\s/.test(s) || (/^alter\s/.test(s) && (/\sdrop\s/.test(s) || /\stype\s/.test(s)));
}
