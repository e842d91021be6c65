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
import { deliberateDivergence, deliberateOutcome } from '../src/revision/divergences.js';
import { randomSequences, SCENARIOS, type GraphRev, type Op, type Sequence } from './alembic/graphs.js';
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
    this.proc.stdin!.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the Alembic driver stopped');
    return JSON.parse(value) as Side;
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
  const dir = path.join(work, schema);
  const ourDir = path.join(dir, 'ours');
  mkdirSync(ourDir, { recursive: true });
  for (const rev of seq.revisions) writeFileSync(path.join(ourDir, `${rev.id}.sql`), sqlRevision(rev, schema));
  const setup = await alembic.send({ cmd: 'graph', dir: path.join(dir, 'alembic'), schema, revisions: seq.revisions });
  expect(setup.ok, setup.error).toBe(true);
  await ours.sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`);
  const config = { ...resolveConfig({ url: ourDb.url, env: {}, migrationsDir: ourDir }), versionSchema: schema, versionTable: 'alembic_version', metaSchema: `${schema}_meta` };
  const handle = { ...ours, config } as DbHandle;
  const script = await loadScript(config);
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
    const [theirs, mine] = await Promise.all([timed('alembic', alembic.send({ cmd: 'op', dir: path.join(dir, 'alembic'), schema, ...op })), timed('ours', runOurs(handle, script, op))]);
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
      : theirs.ok && sameList(theirs.tables, state.tables)
        ? deliberateOutcome({ op: op.op, before: prior, alembic: theirs.rows, cmmcDb: state.rows })
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
