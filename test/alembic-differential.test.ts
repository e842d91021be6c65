/**
 * The differential test: the same revision graphs and the same operations on cmmc-db's engine and
 * on the real Alembic 1.8 (Debian's python3-alembic), each on its own database, compared after every
 * step: success or refusal, the version-table rows, and which revisions' tables exist.
 * Deliberate divergences are listed in src/revision/divergences.ts (and docs/migrations.md); a
 * sequence that reaches one stops there. Anything else that differs fails the test, with the seed.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { openDatabase, type DbHandle } from '../src/db/connection.js';
import { CmmcError } from '../src/errors.js';
import { loadScript, migrate, offlineScript, offlineStamp } from '../src/migrate/index.js';
import { currentViaDependsOn, historyRange, summarize, type RevisionSummary } from '../src/migrate/report.js';
import { deliberateDivergence, deliberateOutcome } from '../src/revision/divergences.js';
import { prng, randomSequences, READING_SCENARIOS, SCENARIOS, teamSequences, type GraphRev, type Op, type Sequence } from './alembic/graphs.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const RANDOM = Number(process.env.CMMC_DIFF_SEQUENCES ?? 300);
const SEED = Number(process.env.CMMC_DIFF_SEED ?? 20261130);
const TEAM = Number(process.env.CMMC_DIFF_TEAM ?? 200);

/** Milliseconds spent in each tool's steps (they run side by side), printed as a figure. */
const SPENT = { alembic: 0, ours: 0 };

interface Side {
  ok: boolean;
  error: string;
  rows: string[];
  tables: string[];
}

class Alembic {
  private readonly proc: ResultPromise;
  private readonly lines: AsyncIterator<string>;
  constructor(url: string) {
    const pyUrl = url.replace(/^postgres(ql)?:/, 'postgresql+psycopg2:');
    this.proc = execa('/usr/bin/python3', [path.join(import.meta.dirname, 'alembic', 'driver.py'), pyUrl], {
      env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: '' },
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
      buffer: false,
    });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async send(req: object): Promise<Side> {
    return this.ask<Side>(req);
  }
  /** A command that reads (current, heads, history, show, branches): what it printed, or its error. */
  async show(dir: string, schema: string, command: string, args: object = {}): Promise<{ ok: boolean; error: string; out: string }> {
    return this.ask({ cmd: 'show', dir, schema, command, args });
  }
  /** The offline script of `upgrade`/`downgrade RANGE --sql`, or its error. */
  async sql(dir: string, schema: string, op: 'upgrade' | 'downgrade' | 'stamp', range: string): Promise<{ ok: boolean; error: string; out: string }> {
    return this.ask({ cmd: 'sql', dir, schema, op, range });
  }
  private async ask<T>(req: object): Promise<T> {
    this.proc.stdin!.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the Alembic driver stopped');
    return JSON.parse(value) as T;
  }
  async close(): Promise<void> {
    this.proc.stdin!.end();
    await this.proc.catch(() => {});
  }
}

function sqlRevision(rev: GraphRev, schema: string): string {
  return [
    `-- revision: ${rev.id}`,
    `-- down_revision: ${rev.down.join(', ') || 'none'}`,
    `-- branch_labels: ${rev.labels.join(', ')}`,
    `-- depends_on: ${rev.deps.join(', ')}`,
    `-- message: ${rev.id}`,
    '-- migrate:up',
    `CREATE TABLE "${schema}"."t_${rev.id}" (id int);`,
    '-- migrate:down',
    `DROP TABLE "${schema}"."t_${rev.id}";`,
    '',
  ].join('\n');
}

/**
 * One graph on both sides, in schema `schema`: Alembic's script folder through the driver, and ours,
 * its files named `NNN_id.sql` in the graph's order as the driver names Alembic's (both tools then
 * read them in the same order, which decides the order of independent branches in a walk); with the
 * configuration and the loaded script of ours.
 */
async function setUpGraph(seq: Sequence, schema: string) {
  const dir = path.join(work, schema);
  const ourDir = path.join(dir, 'ours');
  const alembicDir = path.join(dir, 'alembic');
  mkdirSync(ourDir, { recursive: true });
  for (const [i, rev] of seq.revisions.entries()) writeFileSync(path.join(ourDir, `${String(i).padStart(3, '0')}_${rev.id}.sql`), sqlRevision(rev, schema));
  const setup = await alembic.send({ cmd: 'graph', dir: alembicDir, schema, revisions: seq.revisions });
  expect(setup.ok, setup.error).toBe(true);
  await ours.sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`);
  const config = { ...resolveConfig({ url: ourDb.url, env: {}, migrationsDir: ourDir }), versionSchema: schema, versionTable: 'alembic_version', metaSchema: `${schema}_meta` };
  return { ourDir, alembicDir, handle: { ...ours, config } as DbHandle, script: await loadScript(config) };
}

let alembicDb: TestDatabase;
let ourDb: TestDatabase;
let alembic: Alembic;
let ours: DbHandle;
let work: string;

beforeAll(async () => {
  [alembicDb, ourDb] = await Promise.all([createTestDatabase('cmmc_alembic'), createTestDatabase('cmmc_diff')]);
  alembic = new Alembic(alembicDb.url);
  ours = await openDatabase(resolveConfig({ url: ourDb.url, env: {} }), { pool: { max: 2, min: 0 } });
  work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-diff-'));
}, 60_000);

afterAll(async () => {
  await alembic?.close();
  await ours?.close();
  await Promise.all([alembicDb?.drop(), ourDb?.drop()]);
  rmSync(work, { recursive: true, force: true });
});

async function ourState(schema: string): Promise<{ rows: string[]; tables: string[] }> {
  const [t] = await ours.sql<{ ok: boolean }[]>`SELECT to_regclass(${`"${schema}".alembic_version`}) IS NOT NULL AS ok`;
  const rows = t.ok ? (await ours.sql.unsafe<{ v: string }[]>(`SELECT version_num AS v FROM "${schema}".alembic_version`)).map((r) => r.v).sort() : [];
  const tables = (await ours.sql<{ t: string }[]>`SELECT tablename AS t FROM pg_tables WHERE schemaname = ${schema} AND tablename LIKE 't\\_%'`).map((r) => r.t.slice(2)).sort();
  return { rows, tables };
}

interface Outcome {
  compared: number;
  deliberate: string[];
  mismatches: string[];
}

async function runSequence(seq: Sequence, index: number): Promise<Outcome> {
  const schema = `s${index}`;
  const { alembicDir, handle, script } = await setUpGraph(seq, schema);
  const out: Outcome = { compared: 0, deliberate: [], mismatches: [] };
  const history: string[] = [];
  let before: string[] = [];
  for (const op of seq.ops) {
    const label = `${op.op} ${op.target}${op.purge ? ' --purge' : ''}`;
    history.push(label);
    const timed = async <T>(side: 'alembic' | 'ours', p: Promise<T>) => {
      const t0 = performance.now();
      const v = await p;
      SPENT[side] += performance.now() - t0;
      return v;
    };
    const [theirs, mine] = await Promise.all([timed('alembic', alembic.send({ cmd: 'op', dir: alembicDir, schema, ...op })), timed('ours', runOurs(handle, script, op))]);
    const state = await ourState(schema);
    out.compared++;
    const where = `${seq.name} [${graphText(seq.revisions)}] after ${history.join('; ')}`;
    if (process.env.CMMC_DIFF_VERBOSE) console.log(`${seq.name} | ${label} | alembic ${theirs.ok ? 'ok' : theirs.error} [${theirs.rows}] [${theirs.tables}] | ours ${mine.ok ? 'ok' : mine.error} [${state.rows}] [${state.tables}]`);
    const same = theirs.ok === mine.ok && sameList(theirs.rows, state.rows) && sameList(theirs.tables, state.tables);
    const prior = before;
    before = state.rows;
    if (same) continue;
    const why = mine.error
      ? deliberateDivergence(mine.error, !theirs.ok)
      : sameList(theirs.tables, state.tables)
        ? deliberateOutcome({
            op: op.op,
            targets: op.target.split(' '),
            before: prior,
            alembic: theirs.rows,
            cmmcDb: state.rows,
            alembicOverlapping: script.graph.overlappingRows(theirs.rows),
            ...(theirs.ok ? {} : { alembicError: theirs.error }),
          })
        : undefined;
    if (why) {
      out.deliberate.push(`${why}: ${where}`);
      break;
    }
    out.mismatches.push(
      `${where}: alembic ${theirs.ok ? 'ok' : `refused (${theirs.error})`} rows [${theirs.rows}] tables [${theirs.tables}]; cmmc-db ${mine.ok ? 'ok' : `refused (${mine.error})`} rows [${state.rows}] tables [${state.tables}]`,
    );
    break;
  }
  await Promise.all([alembic.send({ cmd: 'drop', schema }), ours.sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_meta" CASCADE`)]);
  return out;
}

async function runOurs(handle: DbHandle, script: Awaited<ReturnType<typeof loadScript>>, op: Op): Promise<{ ok: boolean; error: string }> {
  try {
    const result = await migrate(handle, op.op, op.op === 'stamp' ? op.target.split(' ') : op.target, { script, purge: op.purge });
    return result.failed ? { ok: false, error: `${result.failed.error.code}: ${result.failed.error.message}` } : { ok: true, error: '' };
  } catch (err) {
    if (err instanceof CmmcError) return { ok: false, error: `${err.code}: ${err.message}` };
    throw err;
  }
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** `ID: DOWN [LABEL] (DEPENDS_ON)`, as the issue writes graphs. */
function graphText(revs: GraphRev[]): string {
  return revs.map((r) => `${r.id}: ${r.down.join(' ')}${r.labels.length ? ` [${r.labels.join(' ')}]` : ''}${r.deps.length ? ` (${r.deps.join(' ')})` : ''}`).join('; ');
}

async function runAll(sequences: Sequence[], offset: number): Promise<Outcome> {
  const total: Outcome = { compared: 0, deliberate: [], mismatches: [] };
  for (const [i, seq] of sequences.entries()) {
    const o = await runSequence(seq, offset + i);
    total.compared += o.compared;
    total.deliberate.push(...o.deliberate);
    total.mismatches.push(...o.mismatches);
  }
  return total;
}

// ---- the reading commands --------------------------------------------------------------------------

const MARKERS = ['head', 'effective head', 'current', 'branchpoint', 'mergepoint'];

/** One revision as Alembic prints it (`id (labels) (head)`), as `id [labels] head|effective head`. */
function alembicEntry(text: string): string {
  const id = text.trim().split(/\s/)[0];
  const groups = [...text.matchAll(/\(([^)]*)\)/g)].map((m) => m[1]);
  const marker = groups.find((g) => g === 'head' || g === 'effective head') ?? '';
  const labels = groups.filter((g) => !MARKERS.includes(g)).flatMap((g) => g.split(', ')).sort();
  return `${id} [${labels.join(',')}] ${marker}`.trim();
}

/** The same for cmmc-db: its (head) is Alembic's real head, (effective head) the other heads. */
function ourEntry(s: RevisionSummary, labels = true): string {
  return `${s.revision} [${labels ? [...s.allBranchLabels].sort().join(',') : ''}] ${s.effectiveHead ? 'effective head' : s.head ? 'head' : ''}`.trim();
}

const lines = (out: string) => out.split('\n').filter((l) => l.trim() !== '');
/** A history line `DOWN (DEPS) -> ID (labels) (head), doc`, from the arrow on. */
const historyEntry = (line: string) => alembicEntry(line.slice(line.indexOf(' -> ') + 4).replace(/,\s*$/, ''));

/** Ranges worth listing on a graph: every id as either end, +1 from each, labels on the lower end, some unrelated pairs. */
function rangesFor(revs: GraphRev[], rnd: () => number): string[] {
  const ids = revs.map((r) => r.id);
  const out = ['base:', ':', ':heads', ':head', 'base:heads'];
  for (const id of ids) out.push(`${id}:`, `:${id}`, `${id}:+1`);
  for (const l of revs.flatMap((r) => r.labels)) out.push(`${l}@base:`, `:${l}@head`, `${l}@base:${l}@head`);
  for (let i = 0; i < Math.min(12, ids.length * ids.length); i++) out.push(`${ids[Math.floor(rnd() * ids.length)]}:${ids[Math.floor(rnd() * ids.length)]}`);
  return out;
}

async function readingDifferences(seq: Sequence, index: number): Promise<string[]> {
  const schema = `r${index}`;
  const { alembicDir, handle, script } = await setUpGraph(seq, schema);
  const { graph } = script;
  const sum = (id: string) => summarize(script, graph.get(id));
  const where = `${seq.name} [${graphText(seq.revisions)}]`;
  const found: string[] = [];
  // `ordered`: the order printed is compared too (history lists a walk, newest first).
  const same = (what: string, theirs: { ok: boolean; error: string; out: string }, parse: (out: string) => string[], mine: () => string[], { ordered = false } = {}) => {
    const order = (xs: string[]) => (ordered ? xs : xs.sort());
    let ourList: string[] | undefined;
    let ourError = '';
    try {
      ourList = order(mine());
    } catch (err) {
      ourError = (err as Error).message;
    }
    const theirList = theirs.ok ? order(parse(theirs.out)) : undefined;
    if (JSON.stringify(theirList) !== JSON.stringify(ourList)) {
      found.push(`${where}: ${what}: alembic ${theirs.ok ? JSON.stringify(theirList) : `refused (${theirs.error})`}; cmmc-db ${ourList ? JSON.stringify(ourList) : `refused (${ourError})`}`);
    }
  };

  // The files alone: heads, branches, history -r, show.
  same('heads', await alembic.show(alembicDir, schema, 'heads'), (o) => lines(o).map(alembicEntry), () => graph.heads.map((h) => ourEntry(sum(h))));
  same('heads --resolve-dependencies', await alembic.show(alembicDir, schema, 'heads', { resolve_dependencies: true }), (o) => lines(o).map(alembicEntry), () => graph.map.realHeads.map((h) => ourEntry(sum(h))));
  same(
    'branches',
    await alembic.show(alembicDir, schema, 'branches'),
    (o) => {
      let point = '';
      return lines(o).map((l) => (/^\s+-> /.test(l) ? `${point} -> ${alembicEntry(l.replace(/^\s+-> /, ''))}` : (point = l.trim().split(/\s/)[0], alembicEntry(l))));
    },
    () => graph.branchPoints.flatMap((p) => [ourEntry(sum(p)), ...graph.childrenOf(p).map((c) => `${p} -> ${ourEntry(sum(c))}`)]),
  );
  const rnd = prng(index);
  for (const range of rangesFor(seq.revisions, rnd)) {
    const [from, to] = range.split(':');
    same(`history -r ${range}`, await alembic.show(alembicDir, schema, 'history', { rev_range: range }), (o) => lines(o).map(historyEntry), () => historyRange(graph, from, to, []).map((id) => ourEntry(sum(id))), { ordered: true });
  }
  const labels = seq.revisions.flatMap((r) => r.labels);
  for (const ref of ['-1', '-2', 'heads', 'heads@-1', ...seq.revisions.map((r) => r.id), ...seq.revisions.map((r) => `${r.id}@-1`), ...labels.flatMap((l) => [`${l}@-1`, `${l}@-2`])]) {
    same(`show ${ref}`, await alembic.show(alembicDir, schema, 'show', { rev: ref }), (o) => [...o.matchAll(/^Rev: (\S+)/gm)].map((m) => m[1]), () => graph.map.revisionsToShow(ref).map((r) => r.revision));
  }

  // With the database: current and the ranges from and to current, after each step of the sequence.
  for (const op of [{ op: 'upgrade', target: 'base' } as Op, ...seq.ops]) {
    const [theirs, mine] = await Promise.all([alembic.send({ cmd: 'op', dir: alembicDir, schema, ...op }), runOurs(handle, script, op)]);
    const state = await ourState(schema);
    if (theirs.ok !== mine.ok || !sameList(theirs.rows, state.rows)) break; // the other test's business
    const rows = state.rows.filter((r) => graph.has(r));
    const at = `after ${op.op} ${op.target} (rows [${rows}])`;
    // Rows that overlap: Alembic shows the upper one, cmmc-db each with a warning (divergence current-shows-overlapping-rows).
    if (!graph.overlappingRows(rows).length) {
      same(`current ${at}`, await alembic.show(alembicDir, schema, 'current'), (o) => lines(o).map(alembicEntry), () =>
        [...rows, ...currentViaDependsOn(graph, rows).map((c) => c.revision)].map((id) => ourEntry(sum(id), false)),
      );
    }
    for (const range of ['current:', ':current']) {
      const [from, to] = range.split(':');
      // Alembic reads `:current` with no row as "to every head"; cmmc-db lists nothing (docs/migrations.md).
      if (range === ':current' && rows.length === 0) continue;
      same(`history -r ${range} ${at}`, await alembic.show(alembicDir, schema, 'history', { rev_range: range }), (o) => lines(o).map(historyEntry), () => historyRange(graph, from, to, rows).map((id) => ourEntry(sum(id))), { ordered: true });
    }
  }
  await Promise.all([alembic.send({ cmd: 'drop', schema }), ours.sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_meta" CASCADE`)]);
  return found;
}

describe('the reading commands against Alembic 1.8: current, heads, history -r, show, branches', () => {
  it('on the findings, on Alembic\'s scenarios and on seeded random graphs', async () => {
    const sequences = [
      ...READING_SCENARIOS,
      ...SCENARIOS,
      ...randomSequences(Number(process.env.CMMC_DIFF_READING ?? 60), SEED + 7),
      ...teamSequences(Number(process.env.CMMC_DIFF_READING_TEAM ?? 40), SEED + 11),
    ];
    const found: string[] = [];
    for (const [i, seq] of sequences.entries()) found.push(...(await readingDifferences(seq, 5000 + i)));
    console.log(`reading commands: ${sequences.length} graphs compared, ${found.length} differences`);
    for (const f of found.slice(0, Number(process.env.CMMC_DIFF_SHOW ?? 0))) console.log(`  ${f}`);
    expect(found.slice(0, 10)).toEqual([]);
  }, 600_000);
});

// ---- offline scripts -------------------------------------------------------------------------------

/** One revision of an offline script: its `-- Running` line and its version-table statements (`insert x`, `delete x`, `update from to`). */
interface ScriptStep {
  run: string;
  ops: string[][];
}

/**
 * An offline script reduced to what both tools must agree on: each revision run (`upgrade A, B -> C`)
 * and its version-table statements, in order. Alembic's `DROP TABLE alembic_version` at the end of a
 * script to base is left out (docs/migrations.md).
 */
function scriptSteps(text: string): ScriptStep[] {
  const out: ScriptStep[] = [];
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    const ops = () => (out.length ? out : (out.push({ run: '', ops: [] }), out))[out.length - 1].ops;
    if ((m = /^-- Running (upgrade|downgrade) (.*?) -> ([^:]*?)(?::.*)?$/.exec(line))) out.push({ run: `${m[1]} ${m[2].trim() || 'base'} -> ${m[3].trim() || 'base'}`, ops: [] });
    else if ((m = /^INSERT INTO \S*alembic_version"? \(version_num\) VALUES \('([^']+)'\)/.exec(line))) ops().push(['insert', m[1]]);
    else if ((m = /^UPDATE \S*alembic_version"? SET version_num ?= ?'([^']+)' WHERE \S*version_num ?= ?'([^']+)'/.exec(line))) ops().push(['update', m[2], m[1]]);
    else if ((m = /^DELETE FROM \S*alembic_version"? WHERE \S*version_num ?= ?'([^']+)'/.exec(line))) ops().push(['delete', m[1]]);
  }
  return out;
}

/** The rows after a step's statements; a statement that would touch no row (or add a second one) is kept as `!statement`, so that it differs. */
function applyStep(rows: Set<string>, step: ScriptStep): Set<string> {
  const next = new Set(rows);
  for (const op of step.ops) {
    const [kind, a, b] = op;
    if (kind === 'insert' ? next.has(a) : !next.has(a) || (kind === 'update' && next.has(b))) next.add(`!${op.join(' ')}`);
    if (kind === 'insert') next.add(a);
    else if (kind === 'delete') next.delete(a);
    else {
      next.delete(a);
      next.add(b);
    }
  }
  return next;
}

/**
 * Where two scripts part, or undefined when they agree. A step is compared by its `-- Running` line
 * and the rows its statements leave: a merge deletes all but one of its rows and updates the last,
 * an unmerge inserts all but one and updates the row, and which one is Alembic's set order (it
 * changes with PYTHONHASHSEED). A step that is a deliberate divergence ends the comparison.
 */
function scriptsPart(theirs: ScriptStep[], mine: ScriptStep[], start: string[], graph: Awaited<ReturnType<typeof loadScript>>['graph']): { at: number; deliberate?: string } | undefined {
  let rowsA = new Set(start);
  let rowsB = new Set(start);
  for (let i = 0; i < Math.max(theirs.length, mine.length); i++) {
    if (!theirs[i] || !mine[i] || theirs[i].run !== mine[i].run) return { at: i };
    const before = [...rowsA].sort();
    rowsA = applyStep(rowsA, theirs[i]);
    rowsB = applyStep(rowsB, mine[i]);
    const a = [...rowsA].sort();
    const b = [...rowsB].sort();
    if (!sameList(a, b)) {
      const op = theirs[i].run.startsWith('upgrade') ? 'upgrade' : 'downgrade';
      const deliberate = deliberateOutcome({ op, targets: [], before, alembic: a, cmmcDb: b, alembicOverlapping: graph.overlappingRows(a) });
      return { at: i, ...(deliberate ? { deliberate } : {}) };
    }
  }
  return undefined;
}

/** Ranges a team writes scripts for: base to each revision and to heads, each revision up to heads, each revision down to base, each head down to each revision, and some pairs. */
function offlineRanges(revs: GraphRev[], rnd: () => number): { op: 'upgrade' | 'downgrade' | 'stamp'; range: string }[] {
  const ids = revs.map((r) => r.id);
  const pick = (xs: string[]) => xs[Math.floor(rnd() * xs.length)];
  const heads = ids.filter((id) => !revs.some((r) => r.down.includes(id)));
  const out: { op: 'upgrade' | 'downgrade' | 'stamp'; range: string }[] = [{ op: 'upgrade', range: 'base:heads' }];
  for (const id of ids) out.push({ op: 'upgrade', range: `base:${id}` }, { op: 'upgrade', range: `${id}:heads` }, { op: 'downgrade', range: `${id}:base` });
  for (const h of heads) for (const id of ids) if (id !== h) out.push({ op: 'downgrade', range: `${h}:${id}` });
  // Relative ends, counted from FROM: up one or two, down one or two, and within a label.
  out.push({ op: 'upgrade', range: 'base:+2' });
  for (const id of ids) out.push({ op: 'upgrade', range: `${id}:+1` }, { op: 'downgrade', range: `${id}:-1` });
  for (const h of heads) out.push({ op: 'downgrade', range: `${h}:-2` });
  for (const l of revs.flatMap((r) => r.labels)) out.push({ op: 'upgrade', range: `base:${l}@head` }, { op: 'upgrade', range: `base:${l}@+1` }, { op: 'downgrade', range: `${pick(ids)}:${l}@base` }, { op: 'downgrade', range: `${pick(ids)}:${l}@-1` });
  for (let i = 0; i < 6 && ids.length > 1; i++) out.push({ op: 'upgrade', range: `${pick(ids)}:${pick(ids)}` });
  // Offline stamps from one revision (or base) to a revision, a label's head, heads or base.
  const stampTo = [...ids, 'heads', 'base', ...revs.flatMap((r) => r.labels.map((l) => `${l}@head`))];
  for (const from of ['base', ...ids]) out.push({ op: 'stamp', range: `${from}:${pick(stampTo)}` });
  return out;
}

const OFFLINE_SEEN = { steps: 0, empty: 0, refused: 0, deliberate: 0 };

async function offlineDifferences(seq: Sequence, index: number): Promise<string[]> {
  const schema = `o${index}`;
  const { alembicDir, script } = await setUpGraph(seq, schema);
  const config = { versionSchema: schema, versionTable: 'alembic_version', metaSchema: `${schema}_meta` };
  const found: string[] = [];
  const show = (steps: ScriptStep[]) => JSON.stringify(steps.map((st) => `${st.run}: ${st.ops.map((o) => o.join(' ')).join(', ')}`));
  for (const { op, range } of offlineRanges(seq.revisions, prng(index))) {
    const theirs = await alembic.sql(alembicDir, schema, op, range);
    let mine: ScriptStep[] | undefined;
    let ourError = '';
    try {
      mine = scriptSteps(op === 'stamp' ? offlineStamp(script, config, [range]) : await offlineScript(script, config, op, range));
    } catch (err) {
      ourError = (err as Error).message;
    }
    let their = theirs.ok ? scriptSteps(theirs.out) : undefined;
    // A stamp's statements are compared by the rows they leave (Alembic writes a `-- Running stamp_revision` line per move).
    const oneStep = (steps: ScriptStep[]) => [{ run: 'stamp', ops: steps.flatMap((st) => st.ops) }];
    if (op === 'stamp') [their, mine] = [their && oneStep(their), mine && oneStep(mine)];
    OFFLINE_SEEN[their === undefined ? 'refused' : their.length ? 'steps' : 'empty']++;
    if (!their && !mine) continue;
    const from = range.slice(0, range.indexOf(':'));
    const parted = their && mine ? scriptsPart(their, mine, from === 'base' ? [] : script.graph.resolveTarget(from), script.graph) : { at: 0 };
    if (!parted) continue;
    if (parted.deliberate) {
      OFFLINE_SEEN.deliberate++;
      if (process.env.CMMC_DIFF_VERBOSE) console.log(`${seq.name}: ${op} ${range} --sql: ${parted.deliberate} at step ${parted.at + 1}`);
      continue;
    }
    found.push(`${seq.name} [${graphText(seq.revisions)}]: ${op} ${range} --sql, step ${parted.at + 1}: alembic ${their ? show(their) : `refused (${theirs.error})`}; cmmc-db ${mine ? show(mine) : `refused (${ourError})`}`);
  }
  await alembic.send({ cmd: 'drop', schema });
  return found;
}

describe('offline scripts (--sql) against Alembic 1.8', () => {
  it('upgrade, downgrade and stamp FROM:TO --sql: the same revisions, in the same order, with the same version-table statements', async () => {
    const sequences = [...SCENARIOS, ...READING_SCENARIOS, ...teamSequences(Number(process.env.CMMC_DIFF_OFFLINE ?? 30), SEED + 13)];
    const found: string[] = [];
    for (const [i, seq] of sequences.entries()) found.push(...(await offlineDifferences(seq, 7000 + i)));
    console.log(
      `offline scripts: ${sequences.length} graphs compared (${OFFLINE_SEEN.steps} scripts with steps, ${OFFLINE_SEEN.empty} empty, ${OFFLINE_SEEN.refused} refused by Alembic; ${OFFLINE_SEEN.deliberate} parting at a deliberate divergence), ${found.length} differences`,
    );
    for (const f of found.slice(0, Number(process.env.CMMC_DIFF_SHOW ?? 0))) console.log(`  ${f}`);
    expect(found.slice(0, 10)).toEqual([]);
  }, 600_000);
});

describe('history -r as the CLI prints it, in the order Alembic 1.8 prints it', () => {
  it('--json and the drawn lines list the walk in Alembic\'s order (merge points, several bases)', async () => {
    const found: string[] = [];
    for (const [i, seq] of READING_SCENARIOS.entries()) {
      const schema = `h${i}`;
      const { ourDir, alembicDir } = await setUpGraph(seq, schema);
      const bases = seq.revisions.filter((r) => r.down.length === 0).map((r) => r.id);
      for (const range of [':', 'base:heads', ...bases.map((b) => `${b}:`)]) {
        const theirs = await alembic.show(alembicDir, schema, 'history', { rev_range: range });
        // A refusal on both sides is the same answer (the messages differ; the reading test compares those ranges).
        const expected = theirs.ok ? lines(theirs.out).map((l) => historyEntry(l).split(' ')[0]) : 'refused';
        const json = await runCli(['--migrations-dir', ourDir, '--json', 'history', '-r', range]);
        const text = await runCli(['--migrations-dir', ourDir, 'history', '-r', range]);
        const ours = json.exitCode === 0 ? (JSON.parse(json.stdout) as { revision: string }[]).map((r) => r.revision) : 'refused';
        const drawn = text.exitCode === 0 ? lines(text.stdout).filter((l) => l.includes(' -> ')).map((l) => / -> (\S+)/.exec(l)![1]) : 'refused';
        if (JSON.stringify(ours) !== JSON.stringify(expected)) found.push(`${seq.name}: history -r ${range} --json: alembic ${JSON.stringify(expected)}; cmmc-db ${JSON.stringify(ours)}`);
        if (JSON.stringify(drawn) !== JSON.stringify(expected)) found.push(`${seq.name}: history -r ${range}: alembic ${JSON.stringify(expected)}; cmmc-db drew ${JSON.stringify(drawn)}`);
      }
      await Promise.all([alembic.send({ cmd: 'drop', schema }), ours.sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)]);
    }
    expect(found).toEqual([]);
  }, 300_000);
});

describe('cmmc-db and Alembic 1.8 on the same graphs', () => {
  it("Alembic's own scenarios and the issue's findings", async () => {
    const o = await runAll(SCENARIOS, 0);
    console.log(`scenarios: ${o.compared} steps compared, ${o.deliberate.length} deliberate divergences`);
    for (const d of o.deliberate) console.log(`  deliberate: ${d}`);
    expect(o.mismatches).toEqual([]);
  }, 120_000);

  it(`${RANDOM} seeded random graphs (seed ${SEED})`, async () => {
    // CMMC_DIFF_SEEDS=1,2,3 replays given seeds (each as printed in a failure) instead.
    const only = process.env.CMMC_DIFF_SEEDS?.split(',').map(Number);
    const sequences = only ? only.flatMap((s) => randomSequences(1, s)) : randomSequences(RANDOM, SEED);
    const o = await runAll(sequences, 1000);
    console.log(`random: ${o.compared} steps compared over ${sequences.length} sequences, ${o.deliberate.length} stopped at a deliberate divergence`);
    console.log(`time in steps (both tools run each step side by side): alembic ${Math.round(SPENT.alembic)} ms, cmmc-db ${Math.round(SPENT.ours)} ms`);
    const byKind = new Map<string, number>();
    for (const d of o.deliberate) byKind.set(d.split(':')[0], (byKind.get(d.split(':')[0]) ?? 0) + 1);
    for (const [k, n] of byKind) console.log(`  ${n} x ${k}`);
    expect(o.mismatches.slice(0, 10)).toEqual([]);
  }, 600_000);

  it(`${TEAM} graphs grown as a team grows them (seed ${SEED})`, async () => {
    // Two developers from one head, merges of two and three heads at different depths, depends_on
    // across branches, labels on branch points, ids that are prefixes of others (partial ids).
    // CMMC_DIFF_TEAM_SEEDS=1,2,3 replays given seeds.
    const only = process.env.CMMC_DIFF_TEAM_SEEDS?.split(',').map(Number);
    const sequences = only ? only.flatMap((s) => teamSequences(1, s)) : teamSequences(TEAM, SEED);
    const o = await runAll(sequences, 3000);
    console.log(`team graphs: ${o.compared} steps compared over ${sequences.length} sequences, ${o.deliberate.length} stopped at a deliberate divergence`);
    const byKind = new Map<string, number>();
    for (const d of o.deliberate) byKind.set(d.split(':')[0], (byKind.get(d.split(':')[0]) ?? 0) + 1);
    for (const [k, n] of byKind) console.log(`  ${n} x ${k}`);
    for (const m of o.mismatches.slice(0, Number(process.env.CMMC_DIFF_SHOW ?? 0))) console.log(`  ${m}`);
    expect(o.mismatches.slice(0, 10)).toEqual([]);
  }, 600_000);
});
