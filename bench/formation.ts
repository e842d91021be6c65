/**
 * Figures for docs/high-availability.md, measured on a real pg_auto_failover formation on this
 * machine (test/helpers/formation.ts): time until a monitor and two nodes are healthy, their memory,
 * a planned failover's time until writes are accepted again through the formation URL, and the time
 * until `cmmc-db upgrade head` runs again. Prints figures; asserts nothing.
 *
 *   npx tsx bench/formation.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { BIN, cleanEnv, ROOT } from '../test/helpers/cli.js';
import { formationSkipReason, startFormation } from '../test/helpers/formation.js';

const rounds = Number(process.argv[2] ?? 3);
// A session that a failover terminates can also report it as an 'error' event: expected here.
process.on('unhandledRejection', (err) => {
  if ((err as { code?: string })?.code !== '57P01') throw err;
});
const skip = formationSkipReason();
if (skip) {
  console.log(`skipped: ${skip}`);
  process.exit(0);
}

/** PSS in MiB of the PostgreSQL servers (postmaster and children) and pg_autoctl processes of the formation. */
function memoryMiB(pgdatas: string[]): number {
  const ps = execFileSync('ps', ['-eo', 'pid=,ppid=,rss=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(l)!;
      return { pid: Number(m[1]), ppid: Number(m[2]), rss: Number(m[3]), args: m[4] };
    });
  const postmasters = pgdatas.map((d) => Number(readFileSync(path.join(d, 'postmaster.pid'), 'utf8').split('\n')[0]));
  const keepers = ps.filter((p) => p.args.includes('pg_autoctl') && pgdatas.some((d) => p.args.includes(d))).map((p) => p.pid);
  const mine = new Set([...postmasters, ...keepers]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of ps) if (!mine.has(p.pid) && mine.has(p.ppid)) (mine.add(p.pid), (grew = true));
  }
  // PSS (proportional set size): shared memory is divided among the processes that map it, so the
  // sum is what the formation really holds (RSS would count shared buffers once per process).
  const pss = (pid: number) => {
    try {
      return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  return Math.round(ps.filter((p) => mine.has(p.pid)).reduce((a, p) => a + pss(p.pid), 0) / 1024);
}

const t0 = performance.now();
const f = await startFormation();
const upMs = performance.now() - t0;
try {
  console.log(`formation healthy (monitor, primary, secondary) in ${(upMs / 1000).toFixed(1)} s`);
  console.log(`memory (PSS of the 3 PostgreSQL servers and the pg_autoctl keepers): ${memoryMiB([f.monitor.pgdata, ...f.nodes.map((n) => n.pgdata)])} MiB`);
  const db = 'bench_ha';
  await f.query(await f.primary(), `CREATE DATABASE ${db}`);
  const url = await f.uri(db);
  const up = await execa('node', [BIN, 'upgrade', 'head'], { cwd: ROOT, env: cleanEnv({ DATABASE_URL: url }), extendEnv: false, reject: false });
  if (up.exitCode !== 0) throw new Error(up.stderr);

  const primaryNow = await f.primary();
  await f.query(primaryNow.url(db), 'CREATE TABLE IF NOT EXISTS bench_writes (at timestamptz DEFAULT now())');
  for (let round = 1; round <= rounds; round++) {
    const next = await f.secondary();
    const start = performance.now();
    await f.query(f.monitor.url, "SELECT pgautofailover.perform_failover('default', 0)");
    // A write through the formation URL (target_session_attrs=read-write), a fresh connection each
    // try, counted once it lands on the node being promoted.
    let writableMs = 0;
    for (;;) {
      const s = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
      const port = await s`INSERT INTO bench_writes DEFAULT VALUES RETURNING inet_server_port() AS port`.then(
        (rows) => Number(rows[0].port),
        () => 0,
      );
      await s.end({ timeout: 1 }).catch(() => {});
      if (port === next.port) {
        writableMs = performance.now() - start;
        break;
      }
      if (performance.now() - start > 60_000) throw new Error('no write accepted on the new primary within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const upgradeStart = performance.now();
    const again = await execa('node', [BIN, 'upgrade', 'head'], { cwd: ROOT, env: cleanEnv({ DATABASE_URL: url }), extendEnv: false, reject: false });
    const upgradeMs = performance.now() - upgradeStart;
    await f.waitStable();
    const stableMs = performance.now() - start;
    console.log(
      `failover ${round}: writes accepted through the formation URL after ${(writableMs / 1000).toFixed(2)} s; ` +
        `upgrade head (no-op) exit ${again.exitCode} in ${(upgradeMs / 1000).toFixed(2)} s; formation stable again after ${(stableMs / 1000).toFixed(1)} s`,
    );
  }
} finally {
  const t = performance.now();
  await f.stop();
  console.log(`stopped and removed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
