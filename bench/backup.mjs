#!/usr/bin/env node
/**
 * Backups, restores and seeds, as ratios of paired runs against PostgreSQL's own tools:
 *  - `backup` of the seeded database against bare `pg_dump -Fc` (and its fixed overhead in ms),
 *  - `backup restore` into an empty database against `pg_restore` with the same flags,
 *  - `seed` when every file is unchanged (it skips) against `psql` reloading the same files,
 *  - the same `seed` against `node -e 0`: its time net of Node's own start,
 *  - `backup` of a large database (generated with generate_series: text chunks and 384-dimension
 *    embeddings; `--size-mb`, default 1024, quick mode 5, 0 leaves it out) against `pg_dump -Fc`, with peak RSS,
 *  - `backup restore` of that database against `pg_restore` (the restore's fixed overhead at size),
 *  - the `--compress` trade-off on that database: size and time of levels 0, 1 and the default.
 *
 *   npm run build && node bench/backup.mjs [--runs 5] [--size-mb 1024] [--big-runs 1] [--quick] [--json]
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { QUICK, Report, RUNS, ROOT, admin, cleanup, cli, createDb, dropDb, flag, fmtMs, fmtMiB, paired, run, tempDir } from './lib.mjs';

const SIZE_MB = QUICK ? 5 : Number(flag('size-mb', 1024));
const report = new Report(`backup, restore and seeds against pg_dump / pg_restore / psql, median of ${RUNS} paired runs`);
const env = (url) => ({ DATABASE_URL: url, CMMC_MIGRATIONS_DIR: path.join(ROOT, 'migrations'), CMMC_SEEDS_DIR: path.join(ROOT, 'seeds') });
const seedFiles = readdirSync(path.join(ROOT, 'seeds')).filter((f) => f.endsWith('.sql') && !f.includes('sample')).sort();

let lastArchiveBytes = 0;
/** cmmc-db backup into a fresh folder; returns the timing and the archive's path. */
function cmmcBackup(url, extra = []) {
  const dir = tempDir();
  const r = cli(['backup', '--dir', dir, ...extra], env(url));
  const file = path.join(dir, readdirSync(dir).find((f) => !f.endsWith('.json')));
  lastArchiveBytes = statSync(file).size;
  return { ...r, dir, file };
}
function pgDump(url, extra = []) {
  const file = path.join(tempDir(), 'floor.dump');
  return { ...run('pg_dump', ['-Fc', ...extra, '-f', file, url]), file };
}

/**
 * `backup restore` of `archive` (a cmmcBackup of `url`'s database) into an empty database against
 * bare pg_restore with the flags cmmc-db gives it, each into a database made outside the timing.
 */
async function restorePair(archive, url, runs) {
  const name = path.basename(archive.file).replace(/\.dump$/, '');
  const restoreCmmc = async () => {
    const target = await createDb();
    try {
      return cli(['backup', 'restore', name, '--dir', archive.dir, '--target-db', target.name, '--yes'], env(url));
    } finally {
      await dropDb(target.name);
    }
  };
  const restoreFloor = async () => {
    const target = await createDb();
    try {
      return run('pg_restore', ['--no-password', '--exit-on-error', '--single-transaction', '--clean', '--if-exists', `--dbname=${target.url}`, archive.file]);
    } finally {
      await dropDb(target.name);
    }
  };
  return paired(restoreCmmc, restoreFloor, runs);
}

try {
  // The seeded database: platform schema at head and the reference seeds.
  const seeded = await createDb();
  cli(['upgrade', 'head'], env(seeded.url));
  cli(['seed'], env(seeded.url));

  const small = await paired(() => cmmcBackup(seeded.url), () => pgDump(seeded.url));
  report.pair('backup (seeded database)', 'pg_dump -Fc', small, 1.05);
  report.note('backup fixed overhead (cmmc-db − pg_dump, medians)', `${fmtMs(small.subjectMs - small.floorMs)} (target ≤ 150 ms: ${small.subjectMs - small.floorMs <= 150 ? 'met' : 'NOT met'}); CPU ${fmtMs(small.subjectCpuMs ?? 0)} with pg_dump's`);

  // Restore: into an empty database made outside the timing, the same pg_restore flags.
  const restore = await restorePair(cmmcBackup(seeded.url), seeded.url);
  report.pair('backup restore (seeded, into an empty database)', 'pg_restore (same flags)', restore, 1.1);
  // What the restore adds: Node's start, verifying the archive, CREATE DATABASE (the floor restores
  // into a database made outside its timing), the swap and the result's facts.
  report.note('restore overhead (cmmc-db − pg_restore, medians)', fmtMs(restore.subjectMs - restore.floorMs));

  // Seeds: every file unchanged, so cmmc-db skips them; psql reloads them.
  const seedSkip = await paired(
    () => cli(['seed'], env(seeded.url)),
    () => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', ...seedFiles.flatMap((f) => ['-f', path.join(ROOT, 'seeds', f)]), seeded.url]),
  );
  report.pair('seed, every file unchanged (skips)', 'psql -1 -f (reloads them)', seedSkip);
  // The target is time beyond Node's own start: paired with `node -e 0`, medians of each side.
  const seedNet = await paired(() => cli(['seed'], env(seeded.url)), () => run(process.execPath, ['-e', '0']));
  report.pair('seed, every file unchanged (skips)', 'node -e 0', seedNet);
  const net = seedNet.subjectMs - seedNet.floorMs;
  report.note('seed, every file unchanged: time', `${fmtMs(seedNet.subjectMs)} whole process, ${fmtMs(net)} beyond node -e 0 (target ≤ 100 ms: ${net <= 100 ? 'met' : 'NOT met'}); CPU ${fmtMs(seedNet.subjectCpuMs ?? 0)}`);
  if (SIZE_MB > 0) await largeDatabase(seeded, small);
} finally {
  await cleanup();
}
report.print();

/** The large generated database: backup against pg_dump, peak RSS, and the --compress trade-off. */
async function largeDatabase(seeded, small) {
  // A large database: chunks of text with embeddings, generated.
  const large = await createDb(seeded.name);
  const rows = Math.max(100, Math.round((SIZE_MB * 1024 * 1024) / 2600));
  const l = postgres(large.url, { max: 1, onnotice: () => {} });
  await l.unsafe(`CREATE TABLE bench_chunks (id bigint PRIMARY KEY, body text NOT NULL, embedding vector(384) NOT NULL)`);
  for (let from = 1; from <= rows; from += 50_000) {
    const to = Math.min(rows, from + 49_999);
    await l.unsafe(
      `INSERT INTO bench_chunks SELECT g, repeat(md5(g::text) || ' ', 28), (SELECT array_agg(random())::real[] FROM generate_series(1, 384) WHERE g > 0)::vector FROM generate_series(${from}, ${to}) g`,
    );
  }
  await l.end();
  const [{ bytes }] = await admin`SELECT pg_database_size(${large.name})::bigint AS bytes`;
  const sizeLabel = `${(Number(bytes) / 2 ** 20).toFixed(0)} MiB`;
  // One pair by default: at 1 GB a pg_dump with default compression takes minutes (--big-runs N for more).
  const big = await paired(() => cmmcBackup(large.url), () => pgDump(large.url), QUICK ? 1 : Number(flag('big-runs', 1)));
  report.pair(`backup (${sizeLabel} database)`, 'pg_dump -Fc', big, 1.05);
  report.note('backup peak RSS: seeded → large', `${fmtMiB(small.subjectRssKb)} → ${fmtMiB(big.subjectRssKb)} (flat: ${big.subjectRssKb <= small.subjectRssKb * 1.25 ? 'yes' : 'NO'})`);

  // --compress: the size/time trade-off on the large database.
  // (The default is the pair above: its archive size is read from the last backup of that pair.)
  // The restore's overhead is fixed: on a database of this size it is a small part of pg_restore's time.
  const bigRestore = await restorePair(cmmcBackup(large.url), large.url, QUICK ? 1 : Number(flag('big-runs', 1)));
  report.pair(`backup restore (${sizeLabel} database)`, 'pg_restore (same flags)', bigRestore, 1.1);
  report.note(`restore overhead (${sizeLabel}, medians)`, fmtMs(bigRestore.subjectMs - bigRestore.floorMs));
  report.note(`backup, default compression (${sizeLabel})`, `${fmtMs(big.subjectMs)}, archive ${(lastArchiveBytes / 2 ** 20).toFixed(1)} MiB`);
  for (const level of ['0', '1', '3']) {
    const r = cmmcBackup(large.url, ['--compress', level]);
    report.note(`backup --compress ${level} (${sizeLabel})`, `${fmtMs(r.ms)}, archive ${(statSync(r.file).size / 2 ** 20).toFixed(1)} MiB`);
  }
}
