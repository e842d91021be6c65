/**
 * What every bench script shares: paired, interleaved whole-process runs (so that a busy machine
 * slows both sides of a pair alike), medians and the range of the per-pair ratios, peak RSS, scratch
 * databases and folders, the quick mode CI runs, and a generated Alembic project for the peer rows.
 *
 * Figures only: nothing here asserts a time. Quick mode (`--quick` or CMMC_BENCH_QUICK=1) runs each
 * pair once on small data, so that CI runs every script and they cannot rot.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'cmmc-db.js');
/** The command npm installs and users run (a shell script that starts BIN: bin/cmmc-db). */
export const COMMAND = path.join(ROOT, 'bin', 'cmmc-db');
export const ADMIN_URL = process.env.CMMC_BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** `--name value` or `--name=value` from argv. */
export function flag(name, fallback) {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return fallback;
  const a = argv[i];
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1] ?? fallback;
}

export const QUICK = process.argv.includes('--quick') || process.env.CMMC_BENCH_QUICK === '1';
/** Pairs per row: `--runs N`; quick mode 1. */
export const RUNS = QUICK ? 1 : Number(flag('runs', 7));

/** The environment of a CLI run: nothing of the caller's database settings, no colours. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (key === 'DATABASE_URL' || key.startsWith('DB_') || key.startsWith('CMMC_') || key.startsWith('PG') || key === 'NODE_ENV') delete env[key];
  }
  return { ...env, ...extra };
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/**
 * Runs one process to the end and returns its wall time (ms) and peak RSS (KiB, when /usr/bin/time
 * exists; it wraps both sides of every pair alike). Throws with the command's stderr when it fails.
 */
export function run(cmd, args, { env = cleanEnv(), cwd = ROOT, input } = {}) {
  const rssFile = TIME ? path.join(os.tmpdir(), `cmmc-bench-rss-${process.pid}`) : undefined;
  const [file, argv] = TIME ? [TIME, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env, cwd, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).trim().slice(-2000)}`);
  let rssKb;
  let cpuMs;
  if (rssFile) {
    const [kb, user, sys] = readFileSync(rssFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    rssKb = kb;
    cpuMs = (user + sys) * 1000;
    rmSync(rssFile, { force: true });
  }
  return { ms, rssKb, cpuMs, stdout: String(r.stdout) };
}

/** One run of the built CLI. */
export function cli(args, envExtra = {}, options = {}) {
  return run(COMMAND, args, { env: cleanEnv(envExtra), ...options });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/**
 * `runs` pairs of (subject, floor), alternating which goes first. Each side is a function returning
 * `{ ms, rssKb }` (setup that must not count happens inside it, outside its own timing). Returns the
 * medians of each side, the median of the per-pair ratios and their range, and peak RSS (max).
 */
export async function paired(subject, floor, runs = RUNS) {
  const a = [];
  const b = [];
  const ratios = [];
  const cpuRatios = [];
  for (let i = 0; i < runs; i++) {
    let x;
    let y;
    if (i % 2 === 0) {
      x = await subject();
      y = await floor();
    } else {
      y = await floor();
      x = await subject();
    }
    a.push(x);
    b.push(y);
    ratios.push(x.ms / y.ms);
    if (x.cpuMs !== undefined && y.cpuMs) cpuRatios.push(x.cpuMs / y.cpuMs);
  }
  const maxRss = (xs) => (xs.some((r) => r.rssKb) ? Math.max(...xs.map((r) => r.rssKb ?? 0)) : undefined);
  return {
    subjectMs: median(a.map((r) => r.ms)),
    floorMs: median(b.map((r) => r.ms)),
    ratio: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    // CPU time (user + system) of the process itself: steadier than wall time on a busy machine,
    // but it leaves out the server's work and the waits (psql's and pg_dump's CPU is mostly not theirs).
    cpuRatio: cpuRatios.length ? median(cpuRatios) : undefined,
    subjectCpuMs: a.some((r) => r.cpuMs !== undefined) ? median(a.map((r) => r.cpuMs ?? 0)) : undefined,
    subjectRssKb: maxRss(a),
    floorRssKb: maxRss(b),
    runs,
  };
}

export const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
export const fmtMiB = (kb) => (kb === undefined ? '—' : `${(kb / 1024).toFixed(0)} MiB`);

/** Collects rows and prints them as one aligned table (and as JSON with --json). */
export class Report {
  constructor(title) {
    this.title = title;
    this.rows = [];
  }
  /** A paired row: `what`, the subject's and the floor's names, the result of `paired`, an optional target ratio. */
  pair(what, floorName, r, target) {
    this.rows.push({
      what,
      floor: floorName,
      subject: fmtMs(r.subjectMs),
      floorTime: fmtMs(r.floorMs),
      ratio: `${r.ratio.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`,
      target: target === undefined ? '' : `≤ ${target}× ${r.ratio <= target ? 'met' : 'NOT met'}`,
      cpu: r.cpuRatio === undefined ? '' : `${r.cpuRatio.toFixed(2)}×`,
      rss: r.subjectRssKb === undefined ? '' : `${fmtMiB(r.subjectRssKb)} / ${fmtMiB(r.floorRssKb)}`,
      raw: r,
    });
  }
  /** A row with one figure (no floor). */
  note(what, value) {
    this.rows.push({ what, floor: '', subject: value, floorTime: '', ratio: '', target: '', cpu: '', rss: '' });
  }
  print() {
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify({ title: this.title, machine: machine(), quick: QUICK, rows: this.rows }, null, 2));
      return;
    }
    const header = { what: '', floor: 'floor / peer', subject: 'cmmc-db', floorTime: 'floor', ratio: 'ratio (range)', target: 'target', cpu: 'CPU ratio', rss: 'peak RSS (cmmc-db / floor)' };
    const keys = Object.keys(header);
    const all = [header, ...this.rows];
    const widths = keys.map((k) => Math.max(...all.map((r) => String(r[k]).length)));
    const line = (r) => keys.map((k, i) => String(r[k]).padEnd(widths[i])).join('  ').trimEnd();
    console.log(`${this.title}${QUICK ? ' [quick mode: 1 run, small data; figures are not meaningful]' : ''}`);
    console.log(machine());
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of this.rows) console.log(line(r));
  }
}

export function machine() {
  const cpus = os.cpus();
  // Node parses NODE_EXTRA_CA_CERTS at every start (`node -e 0` here); cmmc-db defers it (bin/cmmc-db).
  const extraCa = process.env.NODE_EXTRA_CA_CERTS ? `, NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}` : ', no NODE_EXTRA_CA_CERTS';
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}, ${os.platform()} ${os.release()}${extraCa}`;
}

export const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

/** A URL to database `name` on the admin server. */
export function dbUrl(name) {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

let dbCounter = 0;
/** Creates an empty database (untimed) and returns its name and URL; `dropDb` removes it. */
export async function createDb(template) {
  const name = `cmmc_bench_${process.pid}_${++dbCounter}`;
  await admin.unsafe(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
  return { name, url: dbUrl(name) };
}
export async function dropDb(name) {
  await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

const folders = [];
export function tempDir(prefix = 'cmmc-bench-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  folders.push(dir);
  return dir;
}

// Interrupted (Ctrl-C, kill): drop the scratch databases and folders all the same.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

/** Drops what the script made; call at the end (and on SIGINT/SIGTERM). */
export async function cleanup() {
  for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
  const left = await admin`SELECT datname FROM pg_database WHERE datname LIKE ${`cmmc_bench_${process.pid}_%`}`;
  for (const { datname } of left) await dropDb(datname);
  await admin.end();
}

/** A Python that imports alembic (Debian's python3-alembic lives under /usr/bin/python3), or undefined. */
export function alembicPython() {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import alembic, psycopg2'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * Writes an Alembic project whose revisions run `revisions[i].up` (SQL statements) through
 * op.execute: the same DDL as cmmc-db's, so that the two engines are compared on equal work.
 * `revisions`: [{ id, down (id or null), message, up: string[] }]. Returns the alembic.ini path.
 */
export function alembicProject(dir, url, revisions) {
  mkdirSync(path.join(dir, 'versions'), { recursive: true });
  const sqlaUrl = url.replace(/^postgres(ql)?:/, 'postgresql+psycopg2:');
  writeFileSync(path.join(dir, 'alembic.ini'), `[alembic]\nscript_location = ${dir}\nsqlalchemy.url = ${sqlaUrl.replace(/%/g, '%%')}\n`);
  writeFileSync(
    path.join(dir, 'env.py'),
    `from alembic import context
from sqlalchemy import engine_from_config, pool
config = context.config
connectable = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
`,
  );
  writeFileSync(path.join(dir, 'script.py.mako'), '');
  for (const r of revisions) {
    const body = r.up.length ? r.up.map((s) => `    op.execute(${JSON.stringify(s)})`).join('\n') : '    pass';
    writeFileSync(
      path.join(dir, 'versions', `${r.id}.py`),
      `"""${r.message.replace(/"/g, "'")}"""\nfrom alembic import op\nrevision = ${JSON.stringify(r.id)}\ndown_revision = ${r.down ? JSON.stringify(r.down) : 'None'}\nbranch_labels = None\ndepends_on = None\n\ndef upgrade():\n${body}\n\ndef downgrade():\n    pass\n`,
    );
  }
  return path.join(dir, 'alembic.ini');
}

/** Runs alembic with the given ini (sqlalchemy.url pointing at `url`). */
export function alembic(py, ini, args) {
  return run(py, ['-m', 'alembic', '-c', ini, ...args], { env: cleanEnv() });
}

/**
 * The platform's revisions as SQL, one entry per revision in upgrade order (what `upgrade --sql`
 * records, without the engine's own bookkeeping): the "same DDL" the floors and peers run.
 */
export async function platformRevisionsSql(migrationsDir = path.join(ROOT, 'migrations')) {
  const { loadScript } = await import(path.join(ROOT, 'dist', 'migrate', 'script.js'));
  const { recordingKysely } = await import(path.join(ROOT, 'dist', 'migrate', 'offline.js'));
  const script = await loadScript({ migrationsDir });
  const order = script.graph.upgradePlan([], 'heads');
  const out = [];
  for (const node of order) {
    const rev = script.graph.get(typeof node === 'string' ? node : node.revision);
    const loaded = await rev.load();
    let up;
    if ('upSql' in loaded) up = loaded.upSql.map((s) => s.text);
    else {
      const { db, driver } = await recordingKysely();
      await loaded.up(db);
      up = driver.take();
    }
    // Statements as text (the recorder and the SQL loader give { text, ... } objects).
    out.push({ id: rev.revision, down: rev.downRevisions[0] ?? null, message: rev.message, up: up.map((s) => (typeof s === 'string' ? s : s.text)) });
  }
  return out;
}

/** Writes a plain-SQL cmmc-db revision file. */
export function sqlRevision(dir, { id, down, message, up }) {
  writeFileSync(
    path.join(dir, `${id}.sql`),
    `-- revision: ${id}\n-- down_revision: ${down ?? 'none'}\n-- message: ${message}\n-- migrate:up\n${up.map((s) => (s.trim().endsWith(';') ? s : `${s};`)).join('\n')}\n-- migrate:down\n`,
  );
}
