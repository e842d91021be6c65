/**
 * --json promises one JSON document on stdout. A command that fails before it writes its own (no
 * server there, no such backup, a bad option) prints one that says so: status "error" with the code,
 * message and hint of the line on stderr, and the same exit code as without --json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-json-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a failed command under --json', () => {
  it('prints one document with status "error" and the exit code it has without --json', async () => {
    const refused = 'postgres://postgres@127.0.0.1:1/x';
    const cases: [string[], number, string][] = [
      [['health', '--url', refused], 1, 'connect.refused'],
      [['current', '--url', refused], 1, 'connect.refused'],
      // The doctor speaks the monitoring convention: an unreachable database is CRITICAL (2), not a warning (1).
      [['doctor', 'indexes', '--url', refused], 2, 'connect.refused'],
      [['doctor', '--url', 'postgres://postgres@127.0.0.1:5432/cmmc_no_such_database'], 2, 'connect.database'],
      [['backup', 'verify', 'nosuch-20260101T000000Z', '--dir', work, '--url', refused], 1, 'backup.not-found'],
      [['current', '--bogus-option'], 2, 'usage'],
    ];
    for (const [args, exitCode, code] of cases) {
      const plain = await runCli(args);
      const r = await runCliJson(args);
      expect(r.exitCode, args.join(' ')).toBe(plain.exitCode);
      expect(r.exitCode, args.join(' ')).toBe(exitCode);
      expect(r.data, args.join(' ')).toMatchObject({ status: 'error', error: { code } });
      expect(r.stderr).toContain(r.data.error.message);
    }
  });
});
