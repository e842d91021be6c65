/**
 * On the embedded database the command's process is the database server: a kill -9 (the OOM killer,
 * a closed CI job) ends both at once, and there is no WAL writer to have written commits made without
 * waiting for the disk. Every revision `upgrade` reported applied must survive it. The built CLI,
 * killed for real; the real PGlite folder.
 */
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { COMMAND, cleanEnv, runCli } from './helpers/cli.js';
import { embeddedBackend } from './helpers/backends.js';

const FIXTURE = path.resolve('test/fixtures/interrupt/killed-embedded');

describe('kill -9 during an embedded upgrade', () => {
  it('keeps every revision the run reported applied', async () => {
    const target = await embeddedBackend.create();
    try {
      const child = execa(COMMAND, ['upgrade', 'head', '--migrations-dir', FIXTURE], { env: cleanEnv(target.env), extendEnv: false, reject: false, all: true });
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        child.all!.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          // The second revision is reported done: the run is in the third, which never finishes.
          if (/upgrade 4f0000000001 -> 4f0000000002/.test(seen)) resolve();
        });
        void child.then((r) => reject(new Error(`the upgrade ended first (exit ${r.exitCode}):\n${seen}`)));
      });
      child.kill('SIGKILL');
      await child;
      const current = await runCli(['current', '--migrations-dir', FIXTURE], { env: target.env });
      expect(current.exitCode, current.stderr).toBe(0);
      expect(current.stdout).toContain('4f0000000002');
      const rows = await target.query<{ first: string | null; second: string | null; stuck: string | null }>(
        "SELECT to_regclass('first_thing')::text AS first, to_regclass('second_thing')::text AS second, to_regclass('stuck_thing')::text AS stuck",
      );
      expect(rows).toEqual([{ first: 'first_thing', second: 'second_thing', stuck: null }]);
    } finally {
      await target.drop();
    }
  });
});
