/**
 * The CLI ends its sessions at once when its command has returned (it does not wait for the server
 * to close its side), and still ends them properly: the server sees a Terminate message, never a
 * client that vanished (logged at DEBUG1 as "unexpected EOF on client connection"; a reset socket
 * as "could not receive data from client").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { startTempCluster } from './helpers/temp-cluster.js';

describe('ending the sessions of a command', () => {
  it('current and upgrade end every session with a Terminate, as the server logs it', async () => {
    const cluster = await startTempCluster({ log_min_messages: 'debug1', log_disconnections: 'on' });
    try {
      const env = { CMMC_MIGRATIONS_DIR: path.join(ROOT, 'test', 'fixtures', 'engine', 'linear') };
      const up = await runCli(['upgrade', 'head'], { url: cluster.url(), env });
      expect(up.exitCode, up.stderr).toBe(0);
      const current = await runCli(['current'], { url: cluster.url(), env });
      expect(current.exitCode, current.stderr).toBe(0);
      expect(current.stdout).toContain('1a0000000005');
      // The server writes a session's disconnection line as that backend exits, which may be a moment
      // after our process has (a loaded machine): wait for the lines, then look at what was logged.
      const readLog = () => readFileSync(path.join(cluster.socketDir, 'log'), 'utf8');
      const disconnections = () => readLog().split('\n').filter((l) => l.includes('disconnection:')).length;
      for (let waited = 0; disconnections() < 2 && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      expect(disconnections()).toBeGreaterThanOrEqual(2);
      const log = readLog();
      expect(log).not.toMatch(/unexpected EOF on client connection|could not receive data from client/);
    } finally {
      await cluster.stop();
    }
  });
});
