/**
 * Loading the revision files of a migrations folder (Alembic's ScriptDirectory): TypeScript revisions
 * and plain-SQL revisions, each with the sha256 of its file. A TypeScript file's header constants are
 * read from its text when they are plain literals (fast: `current`, `history` need no TypeScript
 * loader); its module is imported through tsx only when its `up`/`down` is run.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Kysely } from 'kysely';
import { PACKAGE_DIR, type CmmcConfig } from '../config/config.js';
import { CmmcError, errorText } from '../errors.js';
import { RevisionGraph, type RevisionNode } from '../revision/index.js';
import { graphErrorToUser } from './errors.js';
import { recordedBody } from './recorded.js';
import { fileChecksum } from '../sql/checksum.js';
import { splitSql, SqlLexError, type SqlStatement } from '../sql/lexer.js';
import { readRegularFile } from '../fs-private.js';

export interface RevisionModule {
  up(db: Kysely<any>): Promise<void>;
  down(db: Kysely<any>): Promise<void>;
}

export interface Revision extends RevisionNode {
  /** Absolute path of the file. */
  file: string;
  /** The file name, for messages. */
  fileName: string;
  kind: 'ts' | 'sql';
  transactional: boolean;
  /** sha256 of the file's text with line endings normalised and a leading BOM dropped, hex. */
  checksum: string;
  /** Checksums that count as this file (the raw bytes and LF/CRLF/BOM forms, as recorded by earlier versions). */
  acceptedChecksums: Set<string>;
  /** The up and down of the revision: for SQL, its statements; for TypeScript, its imported module. */
  load(): Promise<RevisionModule | SqlRevisionBody>;
}

/** A plain-SQL revision's statements (COPY ... FROM stdin with its data included). */
export interface SqlRevisionBody {
  upSql: SqlStatement[];
  downSql: SqlStatement[];
}

export interface Script {
  /** The folder new revisions are written into (the project's own). */
  dir: string;
  /** Every folder the revisions were read from, the platform's first (one graph across them). */
  dirs: string[];
  revisions: Revision[];
  graph: RevisionGraph<Revision>;
}

const REVISION_ID = /^[A-Za-z0-9_]{1,64}$/;

/** How loadScript reads. */
export interface LoadOptions {
  /** Awaited before each file: whileOpening's turn, which lets a session's handshake advance. */
  turn?: () => Promise<void>;
}

/**
 * Loads every revision file of the configured folders (`config.migrationDirs`: the platform's and
 * the project's, as Alembic's version_locations; or the one `migrationsDir`) and builds one graph.
 * A folder that does not exist is skipped, as long as one does (a project with no revisions of its
 * own yet has no ./migrations). Graph errors (duplicate ids, unknown parents, cycles) are thrown as
 * one-line CmmcErrors before anything runs.
 */
export async function loadScript(config: Pick<CmmcConfig, 'migrationsDir'> & { migrationDirs?: string[] }, options: LoadOptions = {}): Promise<Script> {
  const dirs = config.migrationDirs?.length ? config.migrationDirs : [config.migrationsDir];
  // A folder option pointing at a file is a mistake to name, not a folder to skip.
  const file = dirs.find((d) => existsSync(d) && !statSync(d).isDirectory());
  if (file) {
    throw new CmmcError('migrate.no-folder', `the migrations folder ${file} is a file, not a folder`, {
      hint: 'pass the folder that holds the revision files with --migrations-dir (or CMMC_MIGRATIONS_DIR), or move the file away',
    });
  }
  const present = dirs.filter((d) => existsSync(d));
  if (present.length === 0) {
    throw new CmmcError('migrate.no-folder', `the migrations folder ${dirs.join(' or ')} does not exist`, {
      hint: 'run from the project folder, or pass --migrations-dir (or set CMMC_MIGRATIONS_DIR)',
    });
  }
  const revisions: Revision[] = [];
  for (const dir of present) {
    const files = readdirSync(dir)
      .filter((f) => /\.(ts|mts|sql)$/.test(f) && !/\.d\.m?ts$/.test(f) && !f.startsWith('_') && !f.startsWith('.'))
      .sort();
    for (const f of files) {
      if (options.turn) await options.turn();
      try {
        revisions.push(await loadRevisionFile(path.join(dir, f)));
      } catch (err) {
        throw inFolder(err, dir, f === files[0]);
      }
    }
  }
  try {
    return { dir: config.migrationsDir, dirs: present, revisions, graph: new RevisionGraph(revisions) };
  } catch (err) {
    throw graphErrorToUser(err);
  }
}

/** Reads one revision file (TypeScript or SQL). */
export async function loadRevisionFile(file: string): Promise<Revision> {
  const sums = fileChecksum(readRegularFile(file));
  const fileName = path.basename(file);
  const rev = file.endsWith('.sql') ? parseSqlRevision(sums.text, file, fileName, sums.checksum) : await parseTsRevision(sums.text, file, fileName, sums.checksum);
  // Worked out only for a recorded checksum that is not `checksum` (fileChecksum).
  Object.defineProperty(rev, 'acceptedChecksums', { get: () => sums.accepted, enumerable: true, configurable: true });
  return rev;
}

/**
 * A bad revision file named with its folder. The folder's first file being unreadable is how
 * another tool's `migrations/` (knex, node-pg-migrate, Prisma) shows up when an application adds
 * cmmc-db: the hint then also says how to give cmmc-db a folder of its own.
 */
function inFolder(err: unknown, dir: string, first: boolean): unknown {
  if (!(err instanceof CmmcError) || err.code !== 'migrate.bad-file') return err;
  const shown = path.relative(process.cwd(), dir) || '.';
  const where = shown.startsWith('..') ? dir : shown;
  const hint = first
    ? `fix the revision file (see templates/ for the expected shape); if ${where} holds another tool's migrations, give cmmc-db a folder of its own: "migrations": ["db/revisions"] in cmmc-db.config.json (or CMMC_MIGRATIONS_DIR)`
    : (err.hint ?? '');
  return new CmmcError(err.code, `${where}${path.sep}${err.message}`, { hint, exitCode: err.exitCode });
}

function invalid(fileName: string, what: string): CmmcError {
  return new CmmcError('migrate.bad-file', `${fileName}: ${what}`, { hint: 'fix the revision file (see templates/ for the expected shape)' });
}

function list(value: string | undefined): string[] {
  if (!value) return [];
  const v = value.trim();
  if (v === '' || v.toLowerCase() === 'none' || v.toLowerCase() === 'null') return [];
  return v.split(/[\s,]+/).filter(Boolean);
}

/** Parses a plain-SQL revision: `-- key: value` header lines, then `-- migrate:up` and `-- migrate:down` sections. */
export function parseSqlRevision(text: string, file: string, fileName: string, checksum: string): Revision {
  const lines = text.split(/\r?\n/);
  const header: Record<string, string> = {};
  let section: 'header' | 'up' | 'down' = 'header';
  const up: string[] = [];
  const down: string[] = [];
  for (const line of lines) {
    const marker = /^\s*--\s*migrate:(up|down)\s*$/i.exec(line);
    if (marker) {
      section = marker[1].toLowerCase() as 'up' | 'down';
      continue;
    }
    if (section === 'header') {
      const m = /^\s*--\s*([a-z_]+)\s*:(.*)$/i.exec(line);
      if (m) header[m[1].toLowerCase()] = m[2].trim();
    } else (section === 'up' ? up : down).push(line);
  }
  if (section === 'header') throw invalid(fileName, 'has no "-- migrate:up" line');
  const revision = header.revision;
  if (!revision || !REVISION_ID.test(revision)) throw invalid(fileName, 'has no valid "-- revision:" header');
  if (!('down_revision' in header)) throw invalid(fileName, 'has no "-- down_revision:" header (write "none" for a base revision)');
  const transactional = (header.transactional ?? 'true').toLowerCase();
  if (!['true', 'false', 'yes', 'no'].includes(transactional)) throw invalid(fileName, `"-- transactional: ${header.transactional}" must be true or false`);
  const split = (lines: string[]) => {
    try {
      return splitSql(lines.join('\n'));
    } catch (err) {
      if (err instanceof SqlLexError) throw invalid(fileName, err.message);
      throw err;
    }
  };
  const upSql = split(up);
  const downSql = split(down);
  return {
    revision,
    downRevisions: list(header.down_revision),
    dependsOn: list(header.depends_on),
    branchLabels: list(header.branch_labels),
    message: header.message ?? '',
    file,
    fileName,
    kind: 'sql',
    transactional: transactional === 'true' || transactional === 'yes',
    checksum,
    acceptedChecksums: new Set([checksum]),
    load: async () => ({ upSql, downSql }),
  };
}

interface TsHeader {
  revision?: unknown;
  downRevision?: unknown;
  message?: unknown;
  branchLabels?: unknown;
  dependsOn?: unknown;
  transactional?: unknown;
}

const HEADER_KEYS = ['revision', 'downRevision', 'message', 'branchLabels', 'dependsOn', 'transactional'] as const;

/** Reads `export const name = <literal>` lines; a value that is not a plain literal is left out. */
function staticHeader(text: string): { header: TsHeader; complete: boolean } {
  const header: Record<string, unknown> = {};
  let complete = true;
  for (const key of HEADER_KEYS) {
    const re = new RegExp(`^export\\s+const\\s+${key}\\s*(?::[^=\\n]+)?=\\s*(.+?)\\s*;?\\s*$`, 'm');
    const m = re.exec(text);
    if (!m) {
      if (key === 'revision' || key === 'downRevision') complete = false;
      continue;
    }
    const value = parseLiteral(m[1]);
    if (value === undefined) complete = false;
    else header[key] = value;
  }
  return { header, complete };
}

/** A JSON-like literal: null, true, false, a quoted string, or an array of quoted strings. */
function parseLiteral(src: string): unknown {
  const s = src.replace(/\s+as\s+const$/, '').trim();
  if (s === 'null' || s === 'undefined') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  const str = /^(['"`])((?:\\.|(?!\1)[^\\$])*)\1$/.exec(s);
  if (str) return unescape(str[2]);
  const arr = /^\[(.*)\]$/.exec(s);
  if (arr) {
    const items: string[] = [];
    const body = arr[1].trim();
    if (body === '') return items;
    const re = /\s*(['"])((?:\\.|(?!\1)[^\\])*)\1\s*(,|$)/y;
    let m: RegExpExecArray | null;
    let pos = 0;
    while (pos < body.length && (m = re.exec(body))) {
      items.push(unescape(m[2]));
      pos = re.lastIndex;
      if (m[3] === '') break;
    }
    return pos >= body.trimEnd().length ? items : undefined;
  }
  return undefined;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

let tsxRegistered: Promise<unknown> | undefined;

/**
 * A revision file imports 'kysely'; in a folder with no node_modules nearby (say /srv/migrations)
 * that import would fail. Resolve such bare imports from cmmc-db's own dependencies as a fallback:
 * for CommonJS by asking again from cmmc-db's folder (as `require.resolve(request, { paths })`), for
 * ESM through a resolve hook. Not through NODE_PATH: process.env belongs to the library's user, and
 * every child process would inherit it.
 */
function useOwnDependenciesAsFallback(): void {
  const require = createRequire(import.meta.url);
  type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: { paths?: string[] }) => string;
  const Module = require('node:module') as { _resolveFilename: ResolveFilename };
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (this: unknown, request, parent, isMain, options) {
    try {
      return resolve.call(this, request, parent, isMain, options);
    } catch (err) {
      const bare = !/^(\.|\/|[a-z]+:)/i.test(request);
      if (!bare || options?.paths || (err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
      return resolve.call(this, request, parent, isMain, { paths: [PACKAGE_DIR] });
    }
  };
  register(new URL('./resolve-hook.js', import.meta.url), { data: { parentURL: pathToFileURL(path.join(PACKAGE_DIR, 'package.json')).href } });
}

/**
 * Imports a TypeScript revision. tsx's loader is registered once per process (each `tsImport` call
 * would start a loader of its own, which costs a few hundred ms per file).
 */
async function importTs(file: string): Promise<Record<string, unknown>> {
  try {
    return await importTsModule(file);
  } catch (err) {
    throw revisionLoadError(err, file);
  }
}

/**
 * A revision file that cannot be imported (syntax error, missing package, a throw at load) as one
 * line naming the file, the first line that says why, and the fix.
 */
function revisionLoadError(err: unknown, file: string): CmmcError {
  const shown = path.relative(process.cwd(), file) || file;
  const lines = errorText(err).split('\n').map((l) => l.trim()).filter(Boolean);
  // esbuild: "Transform failed with 1 error:" then "<file>:2:13: ERROR: Expected ...".
  const located = lines.find((l) => /:\d+:\d+: ERROR: /.test(l));
  const why = located ? `line ${/:(\d+):\d+: ERROR: /.exec(located)![1]}: ${located.replace(/^.*: ERROR: /, '')}` : (lines[0] ?? 'unknown error');
  const missing = /Cannot find (?:package|module) '([^']+)'/.exec(why);
  return new CmmcError('migrate.load', `revision file ${shown} cannot be loaded: ${why}`, {
    hint: missing ? `install ${missing[1]} (npm install ${missing[1]}) or fix the import in ${shown}` : `fix ${shown} (run "npx tsx ${shown}" to see the whole error)`,
    cause: err,
  });
}

async function importTsModule(file: string): Promise<Record<string, unknown>> {
  // Compiled once and kept by content (./compile-cache.ts): no tsx for a revision seen before.
  const compiled = await (await import('./compile-cache.js')).importCompiled(file);
  if (compiled) return compiled;
  // Both hooks, as the tsx command does: a .ts file outside a "type": "module" package is CommonJS to Node.
  tsxRegistered ??= (async () => {
    useOwnDependenciesAsFallback();
    await Promise.all([import('tsx/esm/api').then((m) => m.register()), import('tsx/cjs/api').then((m) => m.register())]);
  })();
  await tsxRegistered;
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

async function parseTsRevision(text: string, file: string, fileName: string, checksum: string): Promise<Revision> {
  const { header, complete } = staticHeader(text);
  let h: TsHeader = header;
  let imported: Record<string, unknown> | undefined;
  if (!complete) {
    imported = await importTs(file);
    h = Object.fromEntries(HEADER_KEYS.map((k) => [k, imported![k]]));
  }
  const revision = h.revision;
  if (typeof revision !== 'string' || !REVISION_ID.test(revision)) throw invalid(fileName, 'does not export a valid `revision` id');
  const down = h.downRevision;
  if (down === undefined) throw invalid(fileName, 'does not export `downRevision` (null for a base revision)');
  const strings = (v: unknown, name: string): string[] => {
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return list(v);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    throw invalid(fileName, `\`${name}\` must be a string, an array of strings or null`);
  };
  if (h.transactional !== undefined && typeof h.transactional !== 'boolean') throw invalid(fileName, '`transactional` must be true or false');
  const load = async (): Promise<RevisionModule | SqlRevisionBody> => {
    // The platform's revisions, unchanged since the build, run as the SQL they were recorded to execute.
    const recorded = imported ? undefined : recordedBody(revision, checksum);
    if (recorded) return recorded;
    const mod = imported ?? (imported = await importTs(file));
    const m = (mod.default && typeof mod.up !== 'function' ? mod.default : mod) as Record<string, unknown>;
    if (m.revision !== undefined && m.revision !== revision) throw invalid(fileName, `exports revision ${String(m.revision)} but its header reads ${revision}`);
    if (typeof m.up !== 'function' || typeof m.down !== 'function') throw invalid(fileName, 'must export async functions `up(db)` and `down(db)`');
    return m as unknown as RevisionModule;
  };
  return {
    revision,
    downRevisions: strings(down, 'downRevision'),
    dependsOn: strings(h.dependsOn, 'dependsOn'),
    branchLabels: strings(h.branchLabels, 'branchLabels'),
    message: typeof h.message === 'string' ? h.message : '',
    file,
    fileName,
    kind: 'ts',
    transactional: h.transactional !== false,
    checksum,
    acceptedChecksums: new Set([checksum]),
    load,
  };
}
