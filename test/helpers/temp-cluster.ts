/**
 * A throwaway PostgreSQL cluster with settings of the test's choosing (for example
 * shared_preload_libraries=pg_stat_statements), for checks that the shared server on :5432 cannot
 * show without a restart, which would disturb everyone else's tests, or a password that is really
 * checked (scram-sha-256; the shared server trusts every local connection). Trust auth unless a
 * password is given; as root, initdb and pg_ctl run as the `postgres` system user. Always `stop()` it.
 */
import { mkdtempSync, rmSync, chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface TempCluster {
  port: number;
  /** The folder holding the cluster's unix socket (.s.PGSQL.<port>). */
  socketDir: string;
  /** The data folder. */
  dataDir: string;
  /** URL for the superuser postgres (with the cluster's password when it has one). */
  url(database?: string): string;
  /** Stops the server as a crash would (`-m immediate`: no checkpoint, no WAL flush) and starts it again. */
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

export interface TempClusterOptions {
  /** The superuser's password: the cluster then authenticates with scram-sha-256. */
  password?: string;
  /** listen_addresses (default 127.0.0.1); '' listens on the unix socket only, '::1' on IPv6 loopback. */
  listen?: string;
  /** Start as a streaming standby of this cluster (pg_basebackup -R) instead of initdb. */
  standbyOf?: TempCluster;
  /** The server's environment besides the test's own (LANGUAGE=de with lc_messages=C.UTF-8: messages in German). */
  env?: Record<string, string>;
}

export function pgBin(name: string): string {
  const majors = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return path.join('/usr/lib/postgresql', majors[0], 'bin', name);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts a cluster with `settings` as -c name=value server options. */
export async function startTempCluster(settings: Record<string, string> = {}, options: TempClusterOptions = {}): Promise<TempCluster> {
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-temp-cluster-'));
  const data = path.join(dir, 'data');
  chmodSync(dir, 0o755);
  const env = options.env ?? {};
  const run = (cmd: string, args: string[]) => (asRoot ? execa('runuser', ['-u', 'postgres', '--', cmd, ...args], { env }) : execa(cmd, args, { env }));
  const auth = ['--auth=trust'];
  if (options.password !== undefined) {
    const pwfile = path.join(dir, 'pw');
    // Owner-only (chowned to postgres below, which initdb runs as), and gone once initdb has read it.
    writeFileSync(pwfile, options.password + '\n', { mode: 0o600 });
    auth.splice(0, 1, '--auth=scram-sha-256', `--pwfile=${pwfile}`);
  }
  if (asRoot) await execa('chown', ['-R', 'postgres', dir]);
  if (options.standbyOf) {
    // A fast checkpoint: the default (spread) paces a primary's dirty pages over minutes.
    await run(pgBin('pg_basebackup'), ['-h', options.standbyOf.socketDir, '-p', String(options.standbyOf.port), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '--checkpoint=fast']);
    await run('chmod', ['700', data]);
  } else {
    await run(pgBin('initdb'), ['-D', data, '-U', 'postgres', ...auth, '-E', 'UTF8']);
    if (options.password !== undefined) rmSync(path.join(dir, 'pw'), { force: true });
  }
  const port = await freePort();
  const listen = options.listen ?? '127.0.0.1';
  const opts = [`-p ${port}`, `-k ${dir}`, `-c listen_addresses='${listen}'`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const start = () => run(pgBin('pg_ctl'), ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', opts, 'start']);
  await start();
  return {
    port,
    socketDir: dir,
    dataDir: data,
    url: (database = 'postgres') =>
      options.password === undefined
        ? `postgres://postgres@127.0.0.1:${port}/${database}`
        : `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/${database}`,
    async crashAndRestart() {
      await run(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      await start();
    },
    async stop() {
      await run(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A primary with `database` made on it, and a hot standby streaming from it (pg_basebackup -R). Stop both with `stop()`. */
export async function startReplicationPair(database: string): Promise<{ primary: TempCluster; standby: TempCluster; stop(): Promise<void> }> {
  const primary = await startTempCluster();
  try {
    await execa(pgBin('psql'), ['-X', '-q', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE "${database}"`]);
    const standby = await startTempCluster({}, { standbyOf: primary });
    return { primary, standby, stop: async () => void (await standby.stop(), await primary.stop()) };
  } catch (err) {
    await primary.stop();
    throw err;
  }
}
