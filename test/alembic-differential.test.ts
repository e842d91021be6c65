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
import { loadScript, migrate } from '../src/migrate/index.js';
import { currentViaDependsOn, historyRange, summarize, type RevisionSummary } from '../src/migrate/report.js';
import { deliberateDivergence, deliberateOutcome } from '../src/revision/divergences.js';
import { prng, randomSequences, READING_SCENARIOS, SCENARIOS, type GraphRev, type Op, type Sequence } from './alembic/graphs.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const RANDOM = Number(process.env.CMMC_DIFF_SEQUENCES ?? 300);
const SEED = Number(process.env.CMMC_DIFF_SEED ?? 20261130);

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
      ? deliberateDivergence(mine.error)
      : sameList(theirs.tables, state.tables)
        ? deliberateOutcome({ op: op.op, before: prior, alembic: theirs.rows, cmmcDb: state.rows, ...(theirs.ok ? {} : { alembicError: theirs.error }) })
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
    same(`current ${at}`, await alembic.show(alembicDir, schema, 'current'), (o) => lines(o).map(alembicEntry), () =>
      [...rows, ...currentViaDependsOn(graph, rows).map((c) => c.revision)].map((id) => ourEntry(sum(id), false)),
    );
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
    const sequences = [...READING_SCENARIOS, ...SCENARIOS, ...randomSequences(Number(process.env.CMMC_DIFF_READING ?? 60), SEED + 7)];
    const found: string[] = [];
    for (const [i, seq] of sequences.entries()) found.push(...(await readingDifferences(seq, 5000 + i)));
    console.log(`reading commands: ${sequences.length} graphs compared, ${found.length} differences`);
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
});
