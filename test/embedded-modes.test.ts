/**
 * The embedded database's folder is owner-only, like PostgreSQL's own data directory (folders 0700,
 * files 0600), and a folder made loose is tightened the next time it is opened. Ctrl-C while a
 * revision runs on it stops the run with exit 130; the revision is not committed and the folder is
 * free for the next command. The built CLI under a real pseudo-terminal; the real PGlite folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { embeddedBackend } from './helpers/backends.js';
import { startCliInPty } from './helpers/pty-session.js';

const FIXTURE = path.resolve('test/fixtures/restore');
const SLOW = path.resolve('test/fixtures/interrupt/slow-embedded');

/** Every entry under `dir` whose mode is not 0700 (folders) or 0600 (files), with its mode. */
function looseEntries(dir: string): string[] {
  const loose: string[] = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) loose.push(`${path.relative(dir, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f));
  };
  walk(dir);
  return loose;
}

function loosen(dir: string): void {
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) {
      fs.chmodSync(p, 0o755);
      for (const f of fs.readdirSync(p)) walk(path.join(p, f));
    } else if (st.isFile()) fs.chmodSync(p, 0o666);
  };
  walk(dir);
}

describe('the embedded folder', () => {
  it('is owner-only (folders 0700, files 0600) when made, and a loosened folder is tightened on open', async () => {
    const target = await embeddedBackend.create();
    try {
      const up = await runCli(['upgrade', 'head', '--migrations-dir', FIXTURE], { env: target.env });
      expect(up.exitCode, up.stderr).toBe(0);
      const dir = target.env.CMMC_DB_DIR;
      expect(fs.existsSync(path.join(dir, 'pgdata', 'PG_VERSION'))).toBe(true);
      expect(looseEntries(dir)).toEqual([]);

      loosen(dir);
      expect(looseEntries(dir).length).toBeGreaterThan(10);
      const current = await runCli(['current', '--migrations-dir', FIXTURE], { env: target.env });
      expect(current.exitCode, current.stderr).toBe(0);
      expect(current.stdout).toContain('5e0000000002');
      expect(looseEntries(dir)).toEqual([]);
    } finally {
      await target.drop();
    }
  });

  it('Ctrl-C during a revision on the embedded database exits 130 with one line; nothing of it is committed and the folder is free', async () => {
    const target = await embeddedBackend.create();
    try {
      const s = startCliInPty(['upgrade', 'head', '--migrations-dir', SLOW], { env: { ...target.env, NO_COLOR: undefined } });
      await s.waitFor(/thirty seconds of work/);
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = Date.now();
      s.type('\u0003');
      const r = await s.done;
      console.log(`embedded upgrade: exited ${Date.now() - t0} ms after Ctrl-C`);
      expect(r.exitCode).toBe(130);
      expect(r.output.split('\n').filter((l) => l.includes('error: '))).toHaveLength(1);
      expect(r.output).toMatch(/interrupted \(Ctrl-C\): .*was not committed/);
      expect(fs.existsSync(path.join(target.env.CMMC_DB_DIR, 'lock'))).toBe(false);
      const [row] = await target.query<{ t: string | null }>("SELECT to_regclass('slow_thing')::text AS t");
      expect(row.t).toBeNull();
    } finally {
      await target.drop();
    }
  });
});
