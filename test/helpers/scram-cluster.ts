/**
 * A throwaway PostgreSQL cluster that really checks passwords (scram-sha-256), for tests of
 * authentication: the shared server trusts every local connection. initdb refuses to run as
 * root, so as root the cluster is made and run as the `postgres` system user.
 */
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface ScramCluster {
  port: number;
  /** URL for user postgres with the right password. */
  url(password?: string, database?: string): string;
  stop(): Promise<void>;
}

function pgBin(name: string): string {
  const majors = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return path.join('/usr/lib/postgresql', majors[0], 'bin', name);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function startScramCluster(password = 'correct-horse'): Promise<ScramCluster> {
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-scram-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, password + '\n');
  chmodSync(dir, 0o755);
  chmodSync(pwfile, 0o644);
  const run = (cmd: string, args: string[]) =>
    asRoot ? execa('runuser', ['-u', 'postgres', '--', cmd, ...args]) : execa(cmd, args);
  if (asRoot) await execa('chown', ['-R', 'postgres', dir]);
  await run(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8']);
  const port = await freePort();
  await run(pgBin('pg_ctl'), ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  return {
    port,
    url: (pw = password, database = 'postgres') => `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}`,
    async stop() {
      await run(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
