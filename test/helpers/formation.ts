/**
 * A pg_auto_failover formation on this machine, for the high-availability tests: a monitor and two
 * data nodes (a primary and a secondary) started with `pg_autoctl` (Debian's
 * postgresql-15-auto-failover, installed by scripts/setup-postgres.sh) on free local ports, with
 * pgvector available (the nodes run this machine's PostgreSQL 15, where it is installed).
 *
 * What matters, measured while writing it (see docs/high-availability.md):
 * - the nodes run as the `postgres` system user (pg_autoctl refuses root);
 * - every `pg_autoctl run` starts in its own session (`setsid`, and a detached child): a test
 *   runner's timeout kills its process group, which must not take the formation down half-way;
 *   `stop()` ends it instead, and a formation left behind by a killed test process is swept away
 *   by the next `startFormation()`;
 * - the monitor listens on 127.0.0.1 only (pg_autoctl defaults to '*');
 * - pg_autoctl's tuning (shared_buffers a quarter of RAM, wal_keep_size 8 GB) is lowered for CI:
 *   32 MB and 64 MB;
 * - the secondary has `replication-quorum false`: losing a synchronous standby makes commits hang
 *   until the monitor notices (about 20 s). `setReplicationQuorum` turns it on for the tests of the
 *   synchronous-standby check.
 * - pg_autoctl keeps its configuration and state under XDG_CONFIG_HOME / XDG_DATA_HOME: both point
 *   into the formation's folder, so that removing the folder removes everything.
 */
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { freePort, pgBin } from './temp-cluster.js';

const PREFIX = 'cmmc-formation-';
const OWNER_FILE = 'owner.pid';
/** Settings appended to each node's postgresql.auto.conf before its first `pg_autoctl run`. */
const SMALL_NODE = { shared_buffers: "'32MB'", wal_keep_size: "'64MB'", max_wal_size: "'256MB'", max_connections: '50' };

export interface FormationNode {
  /** pg_autoctl's node name: n1 (created first, the first primary) or n2. */
  name: string;
  port: number;
  pgdata: string;
  /** A single-host URL to this node (user postgres, trust). */
  url(database?: string): string;
}

export interface NodeState {
  name: string;
  port: number;
  /** pg_autoctl's reported state: primary, secondary, wait_primary, catchingup, … */
  reported: string;
  assigned: string;
  /** The monitor's health check: 1 healthy, 0 failing, -1 unknown. */
  health: number;
}

export interface Formation {
  monitor: { port: number; pgdata: string; url: string };
  nodes: FormationNode[];
  /** The multi-host URL the formation hands out (`pg_autoctl show uri`), pointed at `database`. */
  uri(database?: string): Promise<string>;
  state(): Promise<NodeState[]>;
  /** The node currently primary (reported and assigned). */
  primary(): Promise<FormationNode>;
  secondary(): Promise<FormationNode>;
  /** Waits until there is one primary and one secondary, each in the state it was assigned. */
  waitStable(timeoutMs?: number): Promise<void>;
  /** `pg_autoctl perform failover` (waits until the monitor has a new primary), then waits until stable. */
  failover(): Promise<void>;
  /** `pg_autoctl set node replication-quorum` for a node, then waits for the primary to apply it. */
  setReplicationQuorum(node: FormationNode, on: boolean): Promise<void>;
  /** Stops a node's pg_autoctl (and its PostgreSQL) at once, as a crash would. */
  stopNode(node: FormationNode): Promise<void>;
  /** Starts a stopped node's `pg_autoctl run` again. */
  startNode(node: FormationNode): Promise<void>;
  /** Runs one statement on a node (single-host, as postgres). */
  query<T extends object = Record<string, any>>(node: FormationNode | string, text: string): Promise<T[]>;
  /** Stops every process and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why the formation tests cannot run here, or undefined when they can. */
export function formationSkipReason(): string | undefined {
  try {
    execFileSync('pg_autoctl', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'pg_autoctl is not installed: run scripts/setup-postgres.sh (it installs postgresql-15-auto-failover)';
  }
  return undefined;
}

const asRoot = process.getuid?.() === 0;

interface Dirs {
  root: string;
  env: Record<string, string>;
}

/** The command line to run `cmd` as the postgres system user with the formation's environment. */
function asPostgres(dirs: Dirs, cmd: string, args: string[]): [string, string[]] {
  const env = Object.entries(dirs.env).map(([k, v]) => `${k}=${v}`);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', 'env', ...env, cmd, ...args]] : ['env', [...env, cmd, ...args]];
}

async function autoctl(dirs: Dirs, args: string[], timeoutMs = 60_000): Promise<string> {
  const [cmd, argv] = asPostgres(dirs, 'pg_autoctl', args);
  const r = await execa(cmd, argv, { reject: false, timeout: timeoutMs, all: true });
  if (r.exitCode !== 0) throw new Error(`pg_autoctl ${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode}):\n${tail(r.all ?? '')}`);
  return r.stdout;
}

function tail(text: string, lines = 25): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Starts `pg_autoctl run` for one node, detached in its own session, logging into the folder. */
function runNode(dirs: Dirs, pgdata: string, name: string): void {
  const log = openSync(path.join(dirs.root, `${name}.log`), 'a');
  const [cmd, argv] = asPostgres(dirs, 'setsid', ['pg_autoctl', 'run', '--pgdata', pgdata]);
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  closeSync(log);
}

function appendSettings(pgdata: string, settings: Record<string, string>): void {
  appendFileSync(path.join(pgdata, 'postgresql.auto.conf'), Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join(''));
}

async function sqlOn<T extends object>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5, connection: { application_name: 'cmmc-test-formation' } });
  try {
    return (await sql.unsafe(text)) as unknown as T[];
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, logs: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`formation: ${what} not reached in ${timeoutMs / 1000}s${last ? ` (last error: ${(last as Error).message})` : ''}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops whatever runs from `root` (pg_autoctl, then any PostgreSQL left) and removes the folder. */
async function teardown(dirs: Dirs): Promise<void> {
  const pgdatas = ['n2', 'n1', 'monitor'].map((n) => path.join(dirs.root, n)).filter((p) => existsSync(path.join(p, 'PG_VERSION')));
  await Promise.all(pgdatas.map((p) => autoctl(dirs, ['stop', '--pgdata', p, '--immediate'], 20_000).catch(() => {})));
  // pg_autoctl stop signals and returns: wait for each PostgreSQL to go, and end it if it lingers.
  for (const p of pgdatas) {
    const deadline = Date.now() + 10_000;
    while (existsSync(path.join(p, 'postmaster.pid')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (existsSync(path.join(p, 'postmaster.pid'))) {
      const [cmd, argv] = asPostgres(dirs, pgBin('pg_ctl'), ['-D', p, '-m', 'immediate', 'stop']);
      await execa(cmd, argv, { reject: false, timeout: 20_000 });
    }
  }
  killKeepers(dirs.root);
  rmSync(dirs.root, { recursive: true, force: true });
}

/** Ends any pg_autoctl process still running on a data folder under `root` (the last resort). */
function killKeepers(root: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('pg_autoctl') || cmdline.includes('/pg_autoctl\0')) {
      if (cmdline.includes(root + '/')) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
}

/** Removes formations whose test process has gone (killed before its `stop()`). */
async function sweepOrphans(): Promise<void> {
  for (const entry of readdirSync(os.tmpdir()).filter((e) => e.startsWith(PREFIX))) {
    const root = path.join(os.tmpdir(), entry);
    let owner = 0;
    try {
      owner = Number(readFileSync(path.join(root, OWNER_FILE), 'utf8'));
    } catch {
      continue;
    }
    let alive = true;
    try {
      process.kill(owner, 0);
    } catch {
      alive = false;
    }
    if (!alive) await teardown({ root, env: envFor(root) });
  }
}

function envFor(root: string): Record<string, string> {
  return { XDG_CONFIG_HOME: path.join(root, 'config'), XDG_DATA_HOME: path.join(root, 'data'), XDG_RUNTIME_DIR: path.join(root, 'run') };
}

/**
 * Starts a monitor and two data nodes and waits until n1 is primary and n2 its secondary.
 * Stops and removes everything when any step fails. Always `stop()` it (in afterAll).
 */
export async function startFormation(options: { timeoutMs?: number } = {}): Promise<Formation> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  await sweepOrphans();
  const root = mkdtempSync(path.join(os.tmpdir(), PREFIX));
  chmodSync(root, 0o755);
  writeFileSync(path.join(root, OWNER_FILE), String(process.pid));
  const dirs: Dirs = { root, env: envFor(root) };
  for (const d of Object.values(dirs.env)) mkdirSync(d, { mode: 0o700 });
  if (asRoot) await execa('chown', ['-R', 'postgres', root]);
  const logs = () =>
    ['monitor', 'n1', 'n2']
      .filter((n) => existsSync(path.join(root, `${n}.log`)))
      .map((n) => `--- ${n}.log\n${tail(readFileSync(path.join(root, `${n}.log`), 'utf8'), 15)}`)
      .join('\n');

  const pgctl = pgBin('pg_ctl');
  const monitorPort = await freePort();
  const monitor = { port: monitorPort, pgdata: path.join(root, 'monitor'), url: `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable` };
  const nodes: FormationNode[] = [];
  const adminUrlOf = (port: number, database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const stopped = { done: false };

  const stop = async () => {
    if (stopped.done) return;
    stopped.done = true;
    await teardown(dirs);
  };

  try {
    await autoctl(dirs, ['create', 'monitor', '--pgctl', pgctl, '--pgdata', monitor.pgdata, '--pgport', String(monitorPort), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl']);
    await autoctl(dirs, ['config', 'set', '--pgdata', monitor.pgdata, 'postgresql.listen_addresses', '127.0.0.1']);
    appendSettings(monitor.pgdata, { shared_buffers: "'32MB'" });
    runNode(dirs, monitor.pgdata, 'monitor');
    await until('the monitor answering', async () => ((await sqlOn(monitor.url, 'SELECT 1 AS ok')).length ? true : undefined), timeoutMs, logs);

    for (const name of ['n1', 'n2']) {
      const port = await freePort();
      const pgdata = path.join(root, name);
      const node: FormationNode = { name, port, pgdata, url: (database = 'postgres') => adminUrlOf(port, database) };
      await autoctl(dirs, [
        'create', 'postgres', '--pgctl', pgctl, '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1', '--listen', '127.0.0.1',
        '--name', name, '--auth', 'trust', '--no-ssl', '--monitor', monitor.url, '--dbname', 'postgres',
        ...(name === 'n2' ? ['--replication-quorum', 'false'] : []),
      ]);
      // The secondary copies the primary's postgresql.auto.conf with pg_basebackup.
      if (name === 'n1') appendSettings(pgdata, SMALL_NODE);
      runNode(dirs, pgdata, name);
      nodes.push(node);
      if (name === 'n1') await until('n1 running as a single node', async () => ((await currentState()).find((s) => s.name === 'n1' && s.reported === 'single' && s.assigned === 'single') ? true : undefined), timeoutMs, logs);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  async function currentState(): Promise<NodeState[]> {
    const rows = await sqlOn<{ nodename: string; nodeport: number; current_group_state: string; assigned_group_state: string; health: number }>(
      monitor.url,
      "SELECT nodename, nodeport, current_group_state::text, assigned_group_state::text, health FROM pgautofailover.current_state('default') ORDER BY node_id",
    );
    return rows.map((r) => ({ name: r.nodename, port: r.nodeport, reported: r.current_group_state, assigned: r.assigned_group_state, health: r.health }));
  }
  const nodeNamed = (name: string) => nodes.find((n) => n.name === name)!;
  const stableRoles = async () => {
    const s = await currentState();
    const primary = s.find((n) => n.reported === 'primary' && n.assigned === 'primary');
    const secondary = s.find((n) => n.reported === 'secondary' && n.assigned === 'secondary');
    return s.length === 2 && primary && secondary ? { primary: nodeNamed(primary.name), secondary: nodeNamed(secondary.name) } : undefined;
  };
  const waitStable = async (ms = timeoutMs) => void (await until('one primary and one secondary', stableRoles, ms, logs));

  const formation: Formation = {
    monitor,
    nodes,
    async uri(database = 'postgres') {
      const [{ uri }] = await sqlOn<{ uri: string }>(monitor.url, "SELECT pgautofailover.formation_uri('default', 'default', 'disable') AS uri");
      // postgres://h1:p1,h2:p2/postgres?target_session_attrs=read-write&sslmode=disable (not a WHATWG URL).
      const m = /^postgres:\/\/(?:[^@/]*@)?([^/?]+)\/[^?]*(\?.*)?$/.exec(uri);
      if (!m) throw new Error(`unexpected formation URI: ${uri}`);
      return `postgres://postgres@${m[1]}/${database}${m[2] ?? ''}`;
    },
    state: currentState,
    async primary() {
      return (await until('a primary', async () => (await stableRoles())?.primary, timeoutMs, logs));
    },
    async secondary() {
      return (await until('a secondary', async () => (await stableRoles())?.secondary, timeoutMs, logs));
    },
    waitStable,
    async failover() {
      await autoctl(dirs, ['perform', 'failover', '--pgdata', monitor.pgdata, '--wait', '60'], 90_000);
      await waitStable();
    },
    async setReplicationQuorum(node, on) {
      await autoctl(dirs, ['set', 'node', 'replication-quorum', '--pgdata', node.pgdata, on ? 'true' : 'false']);
      await waitStable();
      const primary = await formation.primary();
      await until(
        `synchronous_standby_names ${on ? 'set' : 'cleared'} on the primary`,
        async () => {
          const [{ names }] = await sqlOn<{ names: string }>(primary.url(), 'SELECT current_setting(\'synchronous_standby_names\') AS names');
          return (names !== '') === on ? true : undefined;
        },
        timeoutMs,
        logs,
      );
    },
    async stopNode(node) {
      await autoctl(dirs, ['stop', '--pgdata', node.pgdata, '--immediate'], 20_000);
      await until(`${node.name} stopped`, async () => (existsSync(path.join(node.pgdata, 'postmaster.pid')) ? undefined : true), 20_000, logs);
    },
    async startNode(node) {
      runNode(dirs, node.pgdata, node.name);
      await until(`${node.name} answering`, async () => ((await sqlOn(node.url(), 'SELECT 1 AS ok')).length ? true : undefined), timeoutMs, logs);
    },
    query: (node, text) => sqlOn(typeof node === 'string' ? node : node.url(), text),
    stop,
  };

  try {
    await waitStable();
  } catch (err) {
    await stop();
    throw err;
  }
  return formation;
}
