/**
 * `upgrade` and `current` read the revision files while their session opens (src/cli/context.ts,
 * whileOpening). A bad revision file must still be the error, at once, as when the files were
 * read before connecting: not after waiting for a server that does not answer (a writable primary
 * is waited for up to a minute), and without creating the embedded database's folder. Found by a
 * new-user trial: the file error came after 61 s, and an embedded project got a 39 MB .cmmc-db/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

let project: string;
let deadPort: number;

beforeAll(async () => {
  project = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bad-file-'));
  // A file with no "-- migrate:up" line.
  writeFileSync(path.join(project, 'c10000000001_broken.sql'), '-- revision: c10000000001\n-- down_revision:\n-- message: broken\n\nCREATE TABLE broken (id int);\n');
  // A port nothing listens on: taken, then freed.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  deadPort = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

const fileError = /c10000000001_broken\.sql/;

describe('a bad revision file is the error, at once', () => {
  it.each([['upgrade', 'head'], ['current']])('%s against a server that does not answer: the file error, no wait for a primary', async (...args) => {
    const r = await runCli([...args, '--migrations-dir', project], { url: `postgres://postgres@127.0.0.1:${deadPort}/nothing`, timeoutMs: 30_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(fileError);
    expect(r.stderr).not.toMatch(/waiting up to/);
    expect(r.stderr.split('\n').filter((l) => /error: /.test(l))).toHaveLength(1);
  });

  it('seed with a seed folder that does not exist, against a server that does not answer: that error, at once', async () => {
    const r = await runCli(['seed'], { url: `postgres://postgres@127.0.0.1:${deadPort}/nothing`, env: { CMMC_SEEDS_DIR: path.join(project, 'no-seeds') }, timeoutMs: 30_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/seed folder .*no-seeds does not exist/);
    expect(r.stderr.split('\n').filter((l) => /error: /.test(l))).toHaveLength(1);
  });

  it.each([['upgrade', 'head'], ['current']])('%s on the embedded default: the file error, and no database folder is created', async (...args) => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bad-file-embedded-'));
    try {
      const r = await runCli([...args, '--migrations-dir', project], { cwd, env: { HOME: cwd, XDG_CACHE_HOME: path.join(cwd, 'cache') }, timeoutMs: 60_000 });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(fileError);
      expect(existsSync(path.join(cwd, '.cmmc-db'))).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
