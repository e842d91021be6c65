/**
 * `revision --autogenerate`: builds the migrations' head in scratch database A, the desired state in
 * scratch database B (schema.sql, or the schema of a live database copied with pg_dump: --from),
 * diffs both ways, tries the revision on A (verify.ts), and writes a plain-SQL revision whose up
 * turns head into the desired state and whose down turns it back. Applies nothing to any database
 * the user owns (a --from database is only read); scratch databases are always dropped.
 */
import { redactUrl, resolveDatabaseUrl, type CmmcConfig } from '../config/config.js';
import { connectPool, type TargetOrigin } from '../db/driver.js';
import { CmmcError } from '../errors.js';
import { applySqlFile } from './apply-sql.js';
import { diffSchemas, isDestructive } from './diff.js';
import { schemaFilePath } from './dump.js';
import { loadEngine } from './engine.js';
import { buildHead } from './head.js';
import { writeSqlRevision } from './revision-file.js';
import { reloadThroughDump } from './reload.js';
import { serverUrl, withScratchDatabase } from './scratch.js';
import { takeSnapshot } from './snapshot.js';
import { verifyRevision, type RevisionCheck } from './verify.js';
import { likelyRenames, type LikelyRename } from './renames.js';

export interface AutogenerateOptions {
  message: string;
  /** The desired state as a live database (read only). */
  fromUrl?: string;
  /** The desired state as a SQL file (default: schema.sql in the project folder). */
  schemaFile?: string;
  /** Compute, but do not write the file. */
  dryRun?: boolean;
  /** The new revision's id (default: 12 random hex characters). */
  revId?: string;
}

export interface AutogenerateResult {
  /** 'written', or 'no-change' when head already is the desired state. */
  status: 'written' | 'no-change' | 'dry-run';
  revision?: string;
  file?: string;
  downRevisions: string[];
  up: string[];
  down: string[];
  /** Destructive statements, with their direction. */
  destructive: { direction: 'up' | 'down'; statement: string }[];
  /** Where the desired state came from (password masked). */
  desired: string;
  /**
   * The revision tried on a copy of the head (verify.ts): its up must reach the desired state and
   * its down the head again. Absent when nothing was written.
   */
  check?: RevisionCheck;
  /**
   * Columns dropped and added in one table with one definition: most likely renamed, which migra
   * writes as a drop (the data lost) and an add. Each with the RENAME COLUMN that keeps the data.
   */
  renames: LikelyRename[];
}

interface Generated {
  up: string[];
  down: string[];
  transactional: boolean;
  check?: RevisionCheck;
  renames: LikelyRename[];
}

/** The single current head of the migrations folder ([] for an empty folder). */
export async function currentHeads(config: CmmcConfig): Promise<string[]> {
  const engine = await loadEngine();
  const script = await engine.loadScript(config);
  return script.graph.heads as string[];
}

/**
 * Checks that a --from URL answers; the error names the target with its password masked, and its
 * hint the setting to fix (`origin`: `--from`, and the PG* variables that completed it).
 */
export async function checkReachable(url: string, shown = redactUrl(url), origin: TargetOrigin = { source: '--from' }): Promise<void> {
  try {
    const sql = await connectPool(url, { applicationName: 'cmmc-db:autogenerate' }, origin);
    await sql.end({ timeout: 1 }).catch(() => {});
  } catch (err) {
    if (err instanceof CmmcError) throw new CmmcError(err.code, `--from ${shown}: ${err.message}`, { hint: err.hint, exitCode: err.exitCode });
    throw new CmmcError('autogenerate.from', `--from ${shown} cannot be reached: ${(err as Error).message}`, { hint: 'check the URL' });
  }
}

export async function autogenerate(config: CmmcConfig, options: AutogenerateOptions): Promise<AutogenerateResult> {
  if (options.revId !== undefined && !/^[a-z0-9_]{1,64}$/.test(options.revId)) {
    throw new CmmcError('usage', `--rev-id "${options.revId}" must be lower-case letters, digits or underscores (up to 64)`, { exitCode: 2 });
  }
  serverUrl(config, 'revision --autogenerate');
  const engine = await loadEngine();
  const script = await engine.loadScript(config);
  const heads = script.graph.heads;
  if (options.revId && script.graph.has(options.revId)) {
    throw new CmmcError('usage', `revision ${options.revId} already exists`, { hint: 'pick another --rev-id', exitCode: 2 });
  }
  if (heads.length > 1) {
    throw new CmmcError('autogenerate.heads', `the migrations have ${heads.length} heads (${heads.join(', ')})`, {
      hint: 'run "cmmc-db merge heads -m ..." first, so that the new revision has one parent',
    });
  }
  const schemaFile = schemaFilePath(config, options.schemaFile);
  let desired: string;
  // Read as libpq reads it (PG* completing what it leaves out), once.
  const given = options.fromUrl ? resolveDatabaseUrl(options.fromUrl, '--from') : undefined;
  const from = given?.url;
  if (given) {
    desired = redactUrl(options.fromUrl!);
    await checkReachable(given.url, desired, { source: '--from', ...(given.fromPgEnv ? { settings: given.fromPgEnv } : {}) });
  } else {
    desired = schemaFile;
  }
  const snapOptions = { versionSchema: config.versionSchema, versionTable: config.versionTable, metaSchema: config.metaSchema };
  // Diffs the head (a scratch database) against the desired state both ways, then tries the
  // revision on the head (verify.ts): the head's scratch database is changed by that, and used no more.
  const generate = async (headUrl: string, desiredUrl: string): Promise<Generated> => {
    const [head, want] = await Promise.all([takeSnapshot(headUrl, snapOptions), takeSnapshot(desiredUrl, snapOptions)]);
    const rawUp = await diffSchemas(headUrl, desiredUrl, snapOptions, { from: head, to: want });
    const rawDown = await diffSchemas(desiredUrl, headUrl, snapOptions, { from: want, to: head });
    const transactional = ![...rawUp, ...rawDown].some((s) => /\bconcurrently\b/i.test(s));
    // migra turns function body checks off with a session-wide SET; in a revision's transaction it
    // must not outlive the revision (the engine runs every revision on one session).
    const local = (s: string) => (transactional ? s.replace(/^set check_function_bodies = off;$/i, 'SET LOCAL check_function_bodies = off;') : s);
    const up = rawUp.map(local);
    const down = rawDown.map(local);
    const check = up.length && !options.dryRun ? await verifyRevision(headUrl, { up, down, transactional }, { head, desired: want }, snapOptions) : undefined;
    return { up, down, transactional, check, renames: likelyRenames(head, want) };
  };

  // Both sides go through the same pg_dump → psql round trip (reload.ts), so that expressions
  // PostgreSQL deparses differently after a reload (varchar IN lists, casts) are not reported as
  // changes: a --from database restored from a backup has the reloaded form throughout, and was
  // otherwise given every such CHECK constraint, index and view dropped and made again.
  const generated = await withScratchDatabase(config, 'head', async (head) => {
    await buildHead(head);
    await reloadThroughDump(head.url, head, config, { reset: true });
    return withScratchDatabase(config, 'desired', async (target) => {
      if (from) await reloadThroughDump(from, target, config);
      else await applySqlFile(target.url, schemaFile);
      return generate(head.url, target.url);
    });
  });
  const { up, down, transactional, check, renames } = generated;

  const destructive = [
    ...up.filter(isDestructive).map((statement) => ({ direction: 'up' as const, statement })),
    ...down.filter(isDestructive).map((statement) => ({ direction: 'down' as const, statement })),
  ];
  const base = { downRevisions: heads, up, down, destructive, desired, renames, ...(check ? { check } : {}) };
  if (up.length === 0) return { status: 'no-change', ...base };
  if (options.dryRun) return { status: 'dry-run', ...base };
  const { file, revision } = writeSqlRevision(config.migrationsDir, { message: options.message, downRevisions: heads, up, down, transactional, revision: options.revId });
  return { status: 'written', revision, file, ...base };
}
