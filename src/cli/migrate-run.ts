/**
 * The run of `upgrade` and `downgrade` (shared by both commands): the offline script, or an online
 * run with progress, a summary and, for upgrade, a verified backup first.
 */
import { Option } from 'commander';
import { whileOpening, type CliContext } from './context.js';
import { shellWord } from '../shell-word.js';
import { CmmcError, usageError } from '../errors.js';
import { wasInterrupted } from '../interrupt.js';
import { describeError } from './render-error.js';
import type { RunResult } from '../migrate/engine.js';

export interface MigrateRunFlags {
  sql?: boolean;
  /** upgrade only: a verified backup first (default: on when the configuration says production). */
  backup?: boolean;
  backupDir?: string;
  allowChanged?: boolean;
  lockTimeout?: string;
  statementTimeout?: string;
  /** downgrade only: show what would go and stop. */
  dryRun?: boolean;
}

/** Shared by upgrade and downgrade: offline script, or an online run with progress and a summary. */
export function migrateRun(ctx: CliContext, operation: 'upgrade' | 'downgrade', target: string, flags: MigrateRunFlags): Promise<number> {
  return documentedRun(ctx, operation, target, () => run(ctx, operation, target, flags));
}

async function run(ctx: CliContext, operation: 'upgrade' | 'downgrade', target: string, flags: MigrateRunFlags): Promise<number> {
  ctx.asOwner();
  const { timeoutMs } = await import('../config/config.js');
  const lockTimeoutMs = timeoutMs(flags.lockTimeout, '--lock-timeout');
  const statementTimeoutMs = timeoutMs(flags.statementTimeout, '--statement-timeout');
  // The engine's modules, not the library's index: the offline recorder loads Kysely (about 150 ms
  // of CPU), which a run of SQL and recorded platform revisions never needs.
  const [{ loadScript }, { migrate, planRun }, { getStatus }] = await Promise.all([
    import('../migrate/script.js'),
    import('../migrate/engine.js'),
    import('../migrate/status.js'),
  ]);
  const m = { loadScript, migrate, getStatus, planRun };
  const config = ctx.config();
  // The usual run (an upgrade with no backup first, not --sql) opens its session while the files
  // are read; the others read the files first (--sql needs no database; a downgrade asks first).
  const early = operation === 'upgrade' && !flags.sql && !(flags.backup ?? config.production) && !target.includes(':');
  // A wait for a writable primary is announced only once the files are read: a bad file is the one error.
  let filesRead = () => {};
  const read = new Promise<void>((resolve) => (filesRead = resolve));
  const [openedEarly, script] = early
    ? await whileOpening(() => openForWrites(ctx, read), async (turn) => m.loadScript(config, { turn }).then((loaded) => (filesRead(), loaded)), { server: config.kind === 'server' })
    : [undefined, await m.loadScript(config)];
  if (flags.sql) {
    const { offlineScript } = await import('../migrate/offline.js');
    const text = await offlineScript(script, config, operation, target);
    if (ctx.out.json) ctx.out.data({ operation, range: target, sql: text });
    else process.stdout.write(text);
    return 0;
  }
  if (target.includes(':')) throw usageError(`a range "${target}" is only for --sql`, `use a single target, for example: cmmc-db ${operation} ${operation === 'upgrade' ? 'head' : '-1'}`);
  if (operation === 'downgrade') {
    // The one confirmation rule (src/cli/output.ts): the plan, then a question on a terminal in
    // every environment, --yes in scripts, --dry-run for the plan alone.
    const plan = await downgradePlan(ctx, script, target);
    if (plan) {
      const go = await ctx.out.confirmPlan(plan, { yes: ctx.globals.yes, dryRun: flags.dryRun });
      if (!go) {
        if (!flags.dryRun) ctx.out.info('nothing was downgraded');
        return flags.dryRun ? 0 : 1;
      }
    } else if (flags.dryRun) {
      if (ctx.out.json) ctx.out.data({ status: 'dry-run', operation: 'downgrade', target, revisions: [] });
      ctx.out.info(`nothing to downgrade to ${target}`);
      return 0;
    }
  }
  const { arrow } = await import('../migrate/report.js');
  let backup: { name: string; path: string; status: 'verified' } | undefined;
  if (operation === 'upgrade' && (flags.backup ?? config.production)) {
    // Before the run's own connection is opened: the embedded database is backed up from its folder.
    const { openDatabase } = await import('../db/connection.js');
    ctx.announce(config);
    const probe = await openDatabase(config, { pool: { max: 1, min: 0 }, kysely: false });
    const status = await m.getStatus(probe, script).finally(() => probe.close());
    // What the run would refuse is refused before the backup, not after it.
    const { plan: planned } = m.planRun(script, 'upgrade', target, status.current, () => status.changed, flags.allowChanged);
    if (planned.length > 0) backup = await backupBeforeUpgrade(ctx, flags.backupDir);
    else if (!ctx.out.json) ctx.out.info('nothing to upgrade: no backup taken');
  }
  const handle = openedEarly ?? (await openForWrites(ctx));
  let spinner: Awaited<ReturnType<typeof ctx.out.spinner>> | undefined;
  const { onInterrupt } = await import('../interrupt.js');
  let releaseStep: (() => void) | undefined;
  const result = await m
    .migrate(handle, operation, target, {
      script,
      allowChanged: flags.allowChanged,
      lockTimeoutMs,
      statementTimeoutMs,
      onEvent: async (event) => {
        if (event.type === 'lock-wait') ctx.out.info(`waiting for another migration run to finish${event.heldBy ? ` (server pid ${event.heldBy})` : ''}...`);
        else if (event.type === 'step-start') {
          // Interrupted now: the connection closes and the server rolls the step's transaction back;
          // a non-transactional revision keeps what it had run.
          const { revision } = event;
          releaseStep = onInterrupt(
            () => {},
            revision.transactional
              ? `${operation} ${arrow(revision, operation)} was not committed (the server rolls it back)`
              : `${operation} ${arrow(revision, operation)} is non-transactional: what it had run stays (check before running ${operation} again)`,
          );
          spinner = await ctx.out.spinner(`${operation} ${arrow(revision, operation)}  ${revision.message}`);
        } else if (event.type === 'step-commit') {
          // Synchronous (the engine does not wait): the COMMIT is on its way; the server decides.
          releaseStep?.();
          releaseStep = onInterrupt(() => {}, `${operation} ${arrow(event.revision, operation)} was being committed: "cmmc-db current" shows whether it was`);
        } else {
          releaseStep?.();
          spinner?.succeed(`${operation} ${arrow(event.revision, operation)}  ${event.revision.message}  ${ctx.out.c.dim(`(${event.durationMs} ms, ${event.revision.fileName})`)}`);
        }
      },
    })
    .catch((err) => {
      spinner?.stop();
      throw err;
    });
  spinner?.stop();
  return renderRun(ctx, result, backup ? { backup } : {});
}

/** Errors whose --json document is already on stdout (a refusal, or a run's result with its failed step). */
const documented = new WeakSet<object>();

/** With --json, a refused run still prints one document (status "refused") before the error line. */
function refusal(ctx: CliContext, operation: string, target: string, err: unknown): unknown {
  // Synchronous: interrupted (Ctrl-C while waiting for the lock), the process exits soon after.
  if (ctx.out.json && err && typeof err === 'object' && !documented.has(err)) {
    const error = wasInterrupted() ? { code: 'interrupted', message: `${operation} was interrupted before any revision ran` } : describeError(err, operation);
    ctx.out.data({ operation, target, status: wasInterrupted() ? 'interrupted' : 'refused', steps: [], error });
    documented.add(err);
  }
  return err;
}

/**
 * Runs a command that writes the version table (upgrade, downgrade, stamp) so that under --json
 * every refusal prints its document, wherever it came from: the files (a duplicate id, an
 * unreadable file), the connection (no such database), the target, the plan. docs/migrations.md
 * promises one document for every run.
 */
export async function documentedRun(ctx: CliContext, operation: string, target: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    throw refusal(ctx, operation, target, err);
  }
}

/**
 * Renders an engine result (upgrade, downgrade, stamp): with --json the one document, also when a
 * step failed; otherwise a summary. A failed step then becomes the command's error (exit 1), after
 * what was applied is shown.
 */
export function renderRun(ctx: CliContext, result: RunResult, extra: Record<string, unknown> = {}): number {
  const { operation } = result;
  if (ctx.out.json) ctx.out.data({ ...result, ...extra });
  const now = result.to.length ? result.to.join(', ') : 'base';
  for (const c of result.changed ?? []) ctx.out.warn(`applied revision ${c.revision} changed since it was applied: ${c.file}${result.operation === 'downgrade' ? ' (its down section ran as the file is now)' : ''}`);
  if (result.failed) {
    if (!ctx.out.json && result.steps.length) ctx.out.info(`${result.steps.length} revision${result.steps.length === 1 ? '' : 's'} applied before the failure; the database is now at ${now}`);
    const e = result.failed.error;
    const failure = new CmmcError(e.code, e.message, { hint: e.hint });
    if (ctx.out.json) documented.add(failure);
    throw failure;
  }
  if (ctx.out.json) return 0;
  if (operation === 'stamp') {
    ctx.out.success(`stamped: the version table now reads ${result.to.join(', ') || 'base (empty)'} (was ${result.from.join(', ') || 'base'}); no revision was run`);
    ctx.out.info(ctx.out.c.dim('next: cmmc-db check'));
    return 0;
  }
  if (result.steps.length === 0) {
    ctx.out.info(`nothing to ${operation}: the database is at ${now}`);
  } else {
    ctx.out.success(`${operation === 'upgrade' ? 'applied' : 'reverted'} ${result.steps.length} revision${result.steps.length === 1 ? '' : 's'} in ${result.totalMs} ms; the database is now at ${now}`);
  }
  ctx.out.info(ctx.out.c.dim(operation === 'upgrade' ? 'next: cmmc-db check (or cmmc-db history --indicate-current)' : 'next: cmmc-db current, or cmmc-db upgrade head to go back up'));
  return 0;
}

/**
 * The connection of a run that writes the version table (upgrade, downgrade, stamp): on a writable
 * primary, waiting for one while a failover completes (src/migrate/primary.ts), said on stderr.
 */
export async function openForWrites(ctx: CliContext, announceAfter: Promise<unknown> = Promise.resolve(), { mustExist = false } = {}): Promise<import('../db/connection.js').DbHandle> {
  const [{ openWritablePrimary }, { connParamsOf }] = await Promise.all([import('../migrate/primary.js'), import('../config/conninfo.js')]);
  const config = ctx.config();
  // The engine runs on postgres.js; it loads Kysely itself when a TypeScript revision needs it.
  return openWritablePrimary(() => ctx.open({ kysely: false, mustExist }), {
    // Another host may become the primary only when the URL lists more than one.
    waitForUnreachable: config.kind === 'server' && connParamsOf(config.url!).hosts.length > 1,
    onWait: (reason, waitMs) => void announceAfter.then(() => ctx.out.info(`waiting up to ${Math.round(waitMs / 1000)} s for a writable primary: ${reason}`)),
  });
}

export function runFlags(cmd: import('commander').Command): import('commander').Command {
  return cmd
    .option('--sql', 'print the SQL script instead of running it (offline: TARGET may be a range FROM:TO)')
    .option('--lock-timeout <duration>', 'SET lock_timeout for the run (for example 5s; default: CMMC_LOCK_TIMEOUT)')
    .option('--statement-timeout <duration>', 'SET statement_timeout for the run (for example 10min; 0 = none)')
    .addOption(new Option('--allow-changed', 'upgrade even if an applied revision file changed since it was applied'));
}


/**
 * `upgrade --backup`: a verified backup (src/backup's createBackup + verifyBackup) before anything
 * is applied, named on the terminal so that the way back is one `backup restore`. A backup that
 * does not verify stops the upgrade.
 */
export async function backupBeforeUpgrade(ctx: CliContext, dir?: string): Promise<{ name: string; path: string; status: 'verified' }> {
  const { createBackup, verifyBackup, formatBytes } = await import('../backup/index.js');
  const { CmmcError } = await import('../errors.js');
  const config = ctx.config();
  ctx.announce(config);
  const spinner = await ctx.out.spinner('backing up before the upgrade');
  let record;
  try {
    record = await createBackup(config, { dir });
    spinner.text = `verifying backup ${record.name}`;
    const verification = await verifyBackup(config, record.name, { dir });
    if (!verification.ok) {
      const failed = verification.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`).join('; ');
      throw new CmmcError('upgrade.backup', `the backup taken before the upgrade (${record.name}) does not verify: ${failed}; nothing was applied`, {
        hint: 'check the backup folder and pg_dump, or run with --no-backup to upgrade without one',
      });
    }
  } catch (err) {
    spinner.fail('backup before the upgrade failed: nothing was applied');
    throw err;
  }
  spinner.succeed(`backup ${record.name} (${formatBytes(record.sizeBytes)}) verified: ${record.path}`);
  ctx.out.info(ctx.out.c.dim(`the way back: cmmc-db backup restore ${shellWord(record.name)}${dir ? ` --dir ${shellWord(dir)}` : ''}`));
  return { name: record.name, path: record.path, status: 'verified' };
}


/**
 * What `downgrade TARGET` would take away: the revisions in the order they are reverted, and the
 * tables their downgrade drops (read from the offline SQL of the same steps) with their row
 * counts (exact below 64 MB, the planner's estimate above). Undefined when nothing would change.
 */
async function downgradePlan(ctx: CliContext, script: import('../migrate/index.js').Script, target: string): Promise<import('./output.js').Plan | undefined> {
  const m = await import('../migrate/index.js');
  const config = ctx.config();
  // A downgrade of an embedded database that is not there has nothing to undo: none is created for it.
  const handle = await ctx.open({ kysely: false, mustExist: true });
  const status = await m.getStatus(handle, script);
  const current = status.current.filter((r) => script.graph.has(r));
  const steps = m.catchRevisionErrors(() => script.graph.downgradeSteps(current, target));
  if (!steps.length) return undefined;
  const revisions = steps.map((s) => s.revision);
  // The version rows after the whole walk, as the engine will write them.
  const heads = new Set(current);
  for (const step of steps) script.graph.versionOps(step, heads);
  const rowsAfter = [...heads];
  const lines = revisions.map((r) => `revert ${r.revision}  ${r.message}`);
  if (current.length === 1 && rowsAfter.length <= 1) {
    let text: string | undefined;
    try {
      text = await m.offlineScript(script, config, 'downgrade', `${current[0]}:${rowsAfter[0] ?? 'base'}`);
      const names = [...text.matchAll(/drop table (?:if exists )?((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)/gi)].map((x) => x[1]);
      for (const name of names) lines.push(`drop table ${name.replace(/"/g, '')}${await rowCount(handle, name)}`);
    } catch {
      // The tables are a courtesy: the revisions above are the plan.
    }
    // A step that would fail on an object the role may not drop fails after the steps before it
    // have dropped their tables: refused here, before anything is reverted.
    if (text) {
      const objects = droppedObjects(text);
      await refuseDependents(handle, objects, target);
      await refuseUndroppable(handle, objects, target);
    }
  }
  const { databaseName } = await import('../config/config.js');
  const where = config.kind === 'embedded' ? 'the embedded database' : `database "${databaseName(config.url!)}"`;
  return {
    title: `Downgrade ${where} from ${current.join(', ')} to ${rowsAfter.join(', ') || 'base'} (${revisions.length} revision${revisions.length === 1 ? '' : 's'})`,
    lines,
    warnings: config.production ? ['this is the PRODUCTION database: data in dropped objects is lost'] : [],
    data: { operation: 'downgrade', target, current, after: rowsAfter, revisions: revisions.map((r) => r.revision) },
  };
}

/**
 * ", 110 rows" (exact when the table is small, "~N rows" from the planner's estimate otherwise), or "".
 * Under row-level security that hides rows from this role (the schema owner is bound by the forced
 * tenant policies) the count is taken as a member role with BYPASSRLS (the owner's `_rls_bypass`),
 * else given as the planner's estimate and said to be one: a plain count(*) said "0 rows" of tables
 * holding every tenant's data.
 */
async function rowCount(handle: import('../db/connection.js').DbHandle, name: string): Promise<string> {
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
 * Refuses a downgrade whose offline script (its `objects`, droppedObjects, rendered from the same steps) drops an
 * extension or a schema this session's role may not drop: in PostgreSQL only its owner (or a member
 * of the owning role) or a superuser may. `init` creates the extensions as the admin, so
 * `downgrade base` as the schema owner used to revert eleven revisions, dropping every tenant table,
 * and then fail on DROP EXTENSION vector. Throws `downgrade.cannot-drop` naming the object, its
 * owner, the revision and what to do; resolves when every such object may be dropped or is absent.
 */
async function refuseUndroppable(handle: import('../db/connection.js').DbHandle, objects: DroppedObject[], target: string): Promise<void> {
  const ident = (w: string) => (w.startsWith('"') ? w.slice(1, -1).replace(/""/g, '"') : w.toLowerCase());
  const dropped = objects.filter((o) => o.kind === 'extension' || o.kind === 'schema').map((o) => ({ ...o, name: ident(o.name) }));
  if (!dropped.length) return;
  const namesOf = (kind: string) => JSON.stringify(dropped.filter((d) => d.kind === kind).map((d) => d.name));
  const owned = await handle.sql<{ kind: string; name: string; owner: string; may: boolean; role: string }[]>`
    WITH me AS (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    SELECT 'extension' AS kind, extname AS name, pg_get_userbyid(extowner) AS owner,
           (SELECT rolsuper FROM me) OR pg_has_role(current_user, extowner, 'USAGE') AS may, current_user AS role
      FROM pg_extension WHERE extname IN (SELECT jsonb_array_elements_text(${namesOf('extension')}::text::jsonb))
    UNION ALL
    SELECT 'schema', nspname, pg_get_userbyid(nspowner), (SELECT rolsuper FROM me) OR pg_has_role(current_user, nspowner, 'USAGE'), current_user
      FROM pg_namespace WHERE nspname IN (SELECT jsonb_array_elements_text(${namesOf('schema')}::text::jsonb))`;
  // The first in the order the steps would reach them.
  const first = dropped.find((d) => owned.some((o) => !o.may && o.kind === d.kind && o.name === d.name));
  if (!first) return;
  const refused = owned.find((o) => o.kind === first.kind && o.name === first.name)!;
  const at = first.revision;
  throw new CmmcError(
    'downgrade.cannot-drop',
    `downgrade to ${target} would drop ${refused.kind} ${refused.name} (revision ${at}), which belongs to ${refused.owner} and may not be dropped by ${refused.role}: nothing was downgraded`,
    { hint: `run it as ${refused.owner} or a superuser (--url), or downgrade only to ${at} and keep the ${refused.kind}` },
  );
}

/**
 * Refuses a downgrade whose offline script (its `objects`, droppedObjects) drops a table that an object outside the plan
 * depends on: a view, or another table's foreign key, that the steps do not drop themselves.
 * PostgreSQL refuses such a DROP TABLE (2BP01) only when the step reaches it, after the steps before
 * it have dropped their tables: `downgrade 7d24b6e1c902` with a view of the user's own over
 * assessments reverted ten revisions, then failed and told the user to fix a platform revision.
 * Throws `downgrade.dependents`, naming the table, the dependent object and the revision.
 */
async function refuseDependents(handle: import('../db/connection.js').DbHandle, objects: DroppedObject[], target: string): Promise<void> {
  const relations = objects.filter((o) => o.kind === 'table' || o.kind === 'view' || o.kind === 'materialized view');
  const tables = relations.filter((r) => r.kind === 'table');
  if (!tables.length) return;
  const rows = await handle.sql<{ dropped: string; dependent: string; what: string }[]>`
    WITH planned AS (SELECT to_regclass(x) AS oid, x AS name FROM jsonb_array_elements_text(${JSON.stringify(relations.map((r) => r.name))}::text::jsonb) AS x),
         tables AS (SELECT oid, name FROM planned WHERE oid IS NOT NULL AND name IN (SELECT jsonb_array_elements_text(${JSON.stringify(tables.map((r) => r.name))}::text::jsonb)))
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
     WHERE dep.rel <> t.oid AND dep.rel NOT IN (SELECT oid FROM planned WHERE oid IS NOT NULL)`;
  // The first in the order the steps would reach them.
  const first = tables.find((t) => rows.some((r) => r.dropped === t.name));
  if (!first) return;
  const row = rows.find((r) => r.dropped === first.name)!;
  const table = first.name.replace(/"/g, '');
  throw new CmmcError(
    'downgrade.dependents',
    `downgrade to ${target} would drop table ${table} (revision ${first.revision}), which ${row.what} ${row.dependent} depends on and the downgrade does not drop: nothing was downgraded`,
    { hint: `drop or change ${row.dependent} first (the revisions did not create it), or downgrade only to ${first.revision}` },
  );
}

/** An object a downgrade's offline script drops: its kind, its name as written (quoted or not), and the revision whose step drops it. */
interface DroppedObject {
  kind: 'extension' | 'schema' | 'table' | 'view' | 'materialized view';
  name: string;
  revision: string;
}

/**
 * The objects the offline script `text` drops, in the order its steps reach them: each `DROP
 * EXTENSION | SCHEMA | TABLE | VIEW | MATERIALIZED VIEW [IF EXISTS] name[, name...]` line, attributed
 * to the revision of the `-- Running downgrade REV ->` heading above it (src/migrate/offline.ts).
 */
function droppedObjects(text: string): DroppedObject[] {
  const name = String.raw`(?:"(?:[^"]|"")+"|[\w$-]+)(?:\.(?:"(?:[^"]|"")+"|[\w$]+))?`;
  const dropRe = new RegExp(String.raw`^\s*drop\s+(extension|schema|table|view|materialized\s+view)\s+(?:if\s+exists\s+)?(${name}(?:\s*,\s*${name})*)`, 'i');
  const out: DroppedObject[] = [];
  let revision = '';
  for (const line of text.split('\n')) {
    const running = /^-- Running downgrade (\S+) ->/.exec(line);
    if (running) revision = running[1];
    const drop = dropRe.exec(line);
    if (!drop) continue;
    const kind = drop[1].toLowerCase().replace(/\s+/g, ' ') as DroppedObject['kind'];
    for (const n of drop[2].match(new RegExp(name, 'g')) ?? []) out.push({ kind, name: n, revision });
  }
  return out;
}
