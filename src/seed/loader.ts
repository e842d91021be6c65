/**
 * The seed loader. Seed files are `*.sql` in the seeds folder (config.seedsDir, CMMC_SEEDS_DIR),
 * run in name order, each in its own transaction, statement by statement so that an error names
 * the statement. Every applied file is recorded with its sha256 in `<metaSchema>.seed_log` (never in
 * `public`); a file whose checksum equals its last record is skipped unless `force`.
 *
 * Files whose name contains `sample` hold demo data with known passwords: they run only with
 * `sample`, and never when config.production unless `allowProductionSample`.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import type { CmmcConfig } from '../config/config.js';
import type { DbHandle } from '../db/connection.js';
import { advisoryLockHolder } from '../db/advisory-lock.js';
import { CmmcError, errorText, usageError } from '../errors.js';
import { fileChecksum } from '../sql/checksum.js';
import { executeStatement } from '../sql/execute.js';
import { statementCount } from './statement-count.js';
import { splitSql, SqlLexError, stripComments, summarize, type SqlStatement } from '../sql/lexer.js';
import { ident, rlsBypassRole } from '../tenant/roles.js';
import { readRegularFile } from '../fs-private.js';
import { metaNames } from '../migrate/version-store.js';

export interface SeedFile {
  name: string;
  path: string;
  checksum: string;
  /** Checksums that count as this file (line endings, BOM, raw bytes as recorded by earlier versions). */
  accepted: Set<string>;
  /** Demo data (the name contains `sample`): needs --sample. */
  sample: boolean;
  text: string;
}

export type SeedFileStatus = 'applied' | 'changed' | 'pending';

export interface SeedStatusRow {
  file: string;
  status: SeedFileStatus;
  sample: boolean;
  checksum: string;
  appliedChecksum: string | null;
  appliedAt: string | null;
}

export type SeedOutcome = 'applied' | 'skipped' | 'would-apply' | 'failed';

export interface SeedResult {
  file: string;
  outcome: SeedOutcome;
  /** Why a file was skipped or would be applied: `unchanged`, `sample`, `pending`, `changed`, `forced`. */
  reason: string;
  checksum: string;
  statements: number;
  durationMs?: number;
}

export interface SeedFailure {
  file: string;
  statement: number;
  line: number;
  text: string;
  message: string;
  code?: string;
}

export interface SeedRunResult {
  results: SeedResult[];
  failure?: SeedFailure;
}

export interface SeedOptions {
  /** File names to run (`01_cmmc_controls.sql`, `01_cmmc_controls`, or a prefix such as `01`); default all. */
  names?: string[];
  force?: boolean;
  sample?: boolean;
  allowProductionSample?: boolean;
  dryRun?: boolean;
  /** Called before each file runs (for spinners). */
  onFile?: (file: SeedFile, index: number, total: number) => void;
  /** Called when another loader holds the seed lock, before waiting for it: its server pid, when this database shows it. */
  onLockWait?: (heldBy: number | null) => void;
  /** The seed folder's files, already read (listSeedFiles): `cmmc-db seed` reads them while its session opens. */
  files?: SeedFile[];
}

/** Advisory lock key shared by every seed loader, so that two loaders never interleave. */
const SEED_LOCK = 0x636d6d63_5eed; // "cmmc" + "seed"

/** The seed files of a folder, sorted by name. */
export function listSeedFiles(dir: string): SeedFile[] {
  if (!existsSync(dir)) {
    throw new CmmcError('seed.dir', `seed folder ${dir} does not exist`, { hint: 'set CMMC_SEEDS_DIR or run from the project folder' });
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => seedFile(name, path.join(dir, name)));
}

/**
 * One seed file. Its checksum is the sha256 of its normalised text (what is recorded); the other
 * forms that count as the same file (raw bytes, CRLF, BOM) are worked out by fileChecksum
 * (src/sql/checksum.ts) only when a recorded checksum is not the normalised one.
 */
function seedFile(name: string, file: string): SeedFile {
  const sums = fileChecksum(readRegularFile(file));
  return {
    name,
    path: file,
    checksum: sums.checksum,
    get accepted() {
      return sums.accepted;
    },
    sample: name.toLowerCase().includes('sample'),
    text: sums.text,
  };
}

/** Whether `recorded` (a seed log checksum) is this file's, in any accepted form. */
function isSameFile(file: SeedFile, recorded: string): boolean {
  return recorded === file.checksum || file.accepted.has(recorded);
}

/** Picks the files named (exact name, name without .sql, or a unique prefix); all when none are named. */
export function selectFiles(files: SeedFile[], names: string[] | undefined): SeedFile[] {
  if (!names || names.length === 0) return files;
  const picked = new Set<SeedFile>();
  for (const raw of names) {
    const name = raw.trim();
    const exact = files.find((f) => f.name === name || f.name === `${name}.sql`);
    const matches = exact ? [exact] : files.filter((f) => f.name.startsWith(name));
    if (matches.length !== 1) {
      const available = files.map((f) => f.name).join(', ') || 'none';
      throw usageError(
        matches.length === 0 ? `no seed file matches "${name}"` : `"${name}" matches several seed files: ${matches.map((f) => f.name).join(', ')}`,
        `seed files: ${available}`,
      );
    }
    picked.add(matches[0]);
  }
  return files.filter((f) => picked.has(f));
}

function seedLogName(config: CmmcConfig): string {
  return `"${config.metaSchema}".seed_log`;
}

/**
 * Creates `<metaSchema>.seed_log` when missing. The schema and table are looked up first so that a
 * role without CREATE on the database can use a schema that `init` made for it.
 */
export async function ensureSeedLog(sql: postgres.Sql | postgres.TransactionSql, config: CmmcConfig): Promise<void> {
  const [found] = await sql<{ schema: boolean; table: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${config.metaSchema}) AS schema,
           to_regclass(${`${config.metaSchema}.seed_log`}) IS NOT NULL AS table`;
  if (found.table) return;
  if (!found.schema) await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${config.metaSchema}"`);
  await sql.unsafe(`
    CREATE TABLE IF NOT EXISTS ${seedLogName(config)} (
      id          bigserial PRIMARY KEY,
      file_name   text NOT NULL,
      checksum    char(64) NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now(),
      duration_ms integer NOT NULL,
      statements  integer NOT NULL,
      forced      boolean NOT NULL DEFAULT false,
      applied_by  text NOT NULL DEFAULT current_user
    );
    CREATE INDEX IF NOT EXISTS seed_log_file_applied_idx ON ${seedLogName(config)} (file_name, applied_at DESC, id DESC);
    COMMENT ON TABLE ${seedLogName(config)} IS 'cmmc-db seed loader: one row per applied seed file (sha256 of its bytes)';`);
}

/** The table a statement writes rows into (INSERT INTO, COPY … FROM, UPDATE, MERGE INTO), as written. */
const WRITES_INTO = /^(?:INSERT\s+INTO|COPY|UPDATE(?:\s+ONLY)?|MERGE\s+INTO)\s+((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))?)/i;

/** The tables a seed file writes into, as written in it (empty when it writes only through DO blocks or functions). */
export function tablesWrittenBy(text: string): string[] {
  const tables = new Set<string>();
  for (const statement of splitSql(text)) {
    const found = WRITES_INTO.exec(stripComments(statement.text).trim());
    if (found) tables.add(found[1].replace(/\s*\.\s*/, '.'));
  }
  return [...tables];
}

/**
 * Whether what a seed file loaded may be gone: one of the tables it writes into is missing or holds no
 * row (a downgrade dropped it, the upgrade made it again empty). A file whose tables cannot be told
 * or read counts as gone: loading it again is what the seeds are written for (upserts).
 */
async function loadedRowsGone(sql: postgres.Sql | postgres.TransactionSql, file: SeedFile): Promise<boolean> {
  let tables: string[];
  try {
    tables = tablesWrittenBy(file.text);
  } catch {
    return true;
  }
  if (!tables.length) return true;
  const look = async (q: postgres.TransactionSql): Promise<boolean> => {
    const [missing] = await q<{ any: boolean }[]>`SELECT bool_or(to_regclass(name) IS NULL) AS any FROM unnest(${tables}::text[]) AS name`;
    if (missing.any) return true;
    // Rows are looked for as the seeds write them, as the BYPASSRLS role: under forced row-level security
    // the owner sees no tenant's rows and a full table would read as empty (and the seed run again).
    const bypass = await rlsBypassRole(q);
    if (bypass) await q.unsafe(`SET LOCAL ROLE ${ident(bypass)}`);
    // Each name as the file wrote it: an identifier, or two, by WRITES_INTO, so it is SQL text as it stands.
    const [row] = await q.unsafe<{ empty: boolean }[]>(`SELECT ${tables.map((t) => `NOT EXISTS (SELECT 1 FROM ${t})`).join(' OR ')} AS empty`);
    if (bypass) await q.unsafe('RESET ROLE');
    return row.empty;
  };
  // Inside the seed's transaction a refused read (no SELECT on the table) must not abort it: a savepoint.
  const inTransaction = 'savepoint' in sql;
  return (inTransaction ? (sql as postgres.TransactionSql).savepoint((sp) => look(sp)) : (sql as postgres.Sql).begin((tx) => look(tx))).catch(() => true);
}

/**
 * The last applied checksum and time of each of `files`, from the seed log (empty when there is none).
 * A file last applied before the latest downgrade whose rows may be gone (loadedRowsGone: `downgrade
 * base` drops cmmc_controls, and the upgrade makes it again, empty) counts as never applied, since the
 * seed log, in the engine's own schema, stays. One whose tables still hold rows (a downgrade that did
 * not touch them) stays applied: a project's own seed that is not an upsert is not run twice.
 */
async function lastApplied(sql: postgres.Sql | postgres.TransactionSql, config: CmmcConfig, files: readonly SeedFile[]): Promise<Map<string, { checksum: string; appliedAt: string }>> {
  const map = new Map<string, { checksum: string; appliedAt: string }>();
  if (!files.length) return map;
  const log = `${config.metaSchema}.revision_log`;
  const [exists] = await sql<{ ok: boolean; log: boolean }[]>`
    SELECT to_regclass(${`${config.metaSchema}.seed_log`}) IS NOT NULL AS ok,
           coalesce(has_table_privilege(to_regclass(${log}), 'SELECT'), false) AS log`;
  if (!exists.ok) return map;
  const downgraded = exists.log ? `(SELECT max(applied_at) FROM ${metaNames(config).log} WHERE operation = 'downgrade')` : 'NULL';
  const rows = await sql.unsafe<{ file_name: string; checksum: string; applied_at: Date; stale: boolean | null }[]>(
    `SELECT DISTINCT ON (file_name) file_name, checksum, applied_at, applied_at < ${downgraded} AS stale
       FROM ${seedLogName(config)} WHERE file_name = ANY($1::text[])
      ORDER BY file_name, applied_at DESC, id DESC`,
    [files.map((f) => f.name)],
  );
  for (const r of rows) {
    if (r.stale && (await loadedRowsGone(sql, files.find((f) => f.name === r.file_name)!))) continue;
    map.set(r.file_name, { checksum: r.checksum.trim(), appliedAt: new Date(r.applied_at).toISOString() });
  }
  return map;
}

/** Each seed file with applied / changed / pending. */
export async function seedStatus(handle: DbHandle): Promise<SeedStatusRow[]> {
  const files = listSeedFiles(handle.config.seedsDir);
  const applied = await lastApplied(handle.sql, handle.config, files);
  return files.map((f) => {
    const last = applied.get(f.name);
    return {
      file: f.name,
      status: !last ? 'pending' : isSameFile(f, last.checksum) ? 'applied' : 'changed',
      sample: f.sample,
      checksum: f.checksum,
      appliedChecksum: last?.checksum ?? null,
      appliedAt: last?.appliedAt ?? null,
    };
  });
}

/** Refuses demo data in production unless explicitly allowed (it holds known passwords). */
export function checkSampleGuard(config: CmmcConfig, options: Pick<SeedOptions, 'sample' | 'allowProductionSample'>): void {
  if (options.sample && config.production && !options.allowProductionSample) {
    throw new CmmcError('seed.production', 'refusing to load sample data in production (NODE_ENV/CMMC_ENV=production): it holds demo users with known passwords', {
      hint: 'leave out --sample, or add --allow-production-sample if this really is a throwaway database',
    });
  }
}

/**
 * Runs the selected seed files. Stops at the first failing file (rolled back alone; files before
 * it stay applied) and returns the failure instead of throwing, so the caller can show what ran.
 */
export async function runSeeds(handle: DbHandle, options: SeedOptions = {}): Promise<SeedRunResult> {
  const { config, sql } = handle;
  checkSampleGuard(config, options);
  const all = options.files ?? listSeedFiles(config.seedsDir);
  const chosen = selectFiles(all, options.names);
  const named = Boolean(options.names && options.names.length);
  const namedSample = named ? chosen.filter((f) => f.sample) : [];
  if (namedSample.length && !options.sample) {
    throw usageError(`${namedSample.map((f) => f.name).join(', ')} holds demo data with known passwords`, 'add --sample to load it');
  }

  const results: SeedResult[] = [];
  const toRun: { file: SeedFile; statements: SqlStatement[] }[] = [];
  const applied = await lastApplied(sql, config, chosen);
  for (const file of chosen) {
    const last = applied.get(file.name);
    const same = last !== undefined && isSameFile(file, last.checksum);
    // A skipped file is not split again: its count comes from the content-keyed cache (./statement-count.ts).
    const skip = (file.sample && !options.sample) || (same && !options.force);
    const statements = skip ? undefined : splitSeed(file);
    const count = statements?.length ?? statementCount(file.text, () => splitSeed(file).length, undefined, file.checksum);
    const base = { file: file.name, checksum: file.checksum, statements: count };
    if (file.sample && !options.sample) {
      results.push({ ...base, outcome: 'skipped', reason: 'sample' });
    } else if (same && !options.force) {
      results.push({ ...base, outcome: 'skipped', reason: 'unchanged' });
    } else if (statements) {
      const reason = same ? 'forced' : last ? 'changed' : 'pending';
      results.push({ ...base, outcome: options.dryRun ? 'would-apply' : 'applied', reason });
      if (!options.dryRun) toRun.push({ file, statements });
    }
  }
  if (options.dryRun || toRun.length === 0) return { results };

  for (const [n, { file, statements }] of toRun.entries()) {
    options.onFile?.(file, n, toRun.length);
    const result = results.find((r) => r.file === file.name)!;
    const started = performance.now();
    let current: SqlStatement | undefined;
    try {
      let skipped = false;
      await sql.begin(async (tx) => {
        // Said, not waited for silently: any role may hold an advisory lock (a stuck session, another seed run).
        const [got] = await tx.unsafe<{ ok: boolean }[]>(`SELECT pg_try_advisory_xact_lock(${SEED_LOCK}) AS ok`);
        if (!got.ok) {
          options.onLockWait?.(await advisoryLockHolder(tx, BigInt(SEED_LOCK)));
          await tx.unsafe(`SELECT pg_advisory_xact_lock(${SEED_LOCK})`);
        }
        // Inside the file's transaction: a seed that fails leaves no bookkeeping table behind.
        await ensureSeedLog(tx, config);
        // Another loader may have applied it while we waited for the lock.
        const last = (await lastApplied(tx, config, [file])).get(file.name);
        if (last && isSameFile(file, last.checksum) && !options.force) {
          skipped = true;
          return;
        }
        // Seeds cross tenants (platform-wide rows, demo organizations): they run as the BYPASSRLS role
        // that init grants the owner, when there is one (docs/seeds.md). The log is written as the owner.
        const bypass = await rlsBypassRole(tx);
        if (bypass) await tx.unsafe(`SET LOCAL ROLE ${ident(bypass)}`);
        for (const statement of statements) {
          current = statement;
          if (/^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END|SAVEPOINT|RELEASE)\b/i.test(stripComments(statement.text))) {
            throw new CmmcError('seed.transaction', 'seed files must not contain transaction control (each file already runs in its own transaction)');
          }
          await executeStatement(tx, statement, config.kind === 'embedded' ? { kind: 'embedded', dir: config.embeddedDir } : { kind: 'server' });
        }
        current = undefined;
        if (bypass) await tx.unsafe('RESET ROLE');
        const durationMs = Math.round(performance.now() - started);
        await tx.unsafe(
          `INSERT INTO ${seedLogName(config)} (file_name, checksum, duration_ms, statements, forced) VALUES ($1, $2, $3, $4, $5)`,
          [file.name, file.checksum, durationMs, statements.length, Boolean(options.force && last && isSameFile(file, last.checksum.trim()))],
        );
        result.durationMs = durationMs;
      });
      if (skipped) {
        result.outcome = 'skipped';
        result.reason = 'unchanged';
      }
    } catch (err) {
      result.outcome = 'failed';
      const e = err as { message?: string; code?: string };
      const failure: SeedFailure = {
        file: file.name,
        statement: current?.index ?? 0,
        line: current?.line ?? 0,
        text: current ? summarize(current.text) : '',
        message: errorText(err).split('\n')[0],
        code: typeof e.code === 'string' ? e.code : undefined,
      };
      // Files after the failing one were not run.
      for (const later of toRun.slice(n + 1)) {
        const r = results.find((x) => x.file === later.file.name)!;
        r.outcome = 'skipped';
        r.reason = 'not run: an earlier file failed';
      }
      return { results, failure };
    }
  }
  return { results };
}

/** A seed file's statements; a file the lexer cannot split is a one-line error naming it. */
function splitSeed(file: SeedFile): SqlStatement[] {
  try {
    return splitSql(file.text);
  } catch (err) {
    if (err instanceof SqlLexError) throw new CmmcError('seed.bad-file', `${file.name} line ${err.line}: ${err.message}`, { hint: 'fix the seed file' });
    throw err;
  }
}

/** The one-line error for a failed seed file. */
export function failureError(failure: SeedFailure): CmmcError {
  const where = failure.statement ? ` at statement ${failure.statement} (line ${failure.line}: ${failure.text})` : '';
  const hint =
    failure.code === '42P01'
      ? 'a table is missing: run "cmmc-db upgrade head" first'
      : failure.code === '42501'
        ? // The file is fine; the role is not the one that loads seeds (the application role, since init's two roles).
          'the connected role may not load seeds: set DB_OWNER_USER (and DB_OWNER_PASSWORD), and seed connects as the schema owner (docs/schema.md, Roles)'
        : 'fix the file and run "cmmc-db seed" again; files before it stay applied';
  return new CmmcError('seed.failed', `seed ${failure.file} failed${where}: ${failure.message}; ${failure.file} was rolled back`, { hint });
}
