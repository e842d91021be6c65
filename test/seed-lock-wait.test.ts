/**
 * A seed run that finds the seed lock taken says so, naming the session, and goes on once it is free
 * (it used to wait in silence: any role may hold an advisory lock).
 */
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, cleanEnv, runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const SEED_LOCK = '109321637813997'; // 0x636d6d635eed, src/seed/loader.ts

describe('seed waiting for the seed lock', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cmmc_seedlock');
    const up = await runCli(['upgrade', 'head'], { url: db.url });
    expect(up.exitCode, up.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await db.drop();
  });

  it('names the holder, then applies when the lock is released', async () => {
    const holder = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const [{ pid }] = await holder<{ pid: number }[]>`SELECT pg_backend_pid() AS pid, pg_advisory_lock(${SEED_LOCK}::bigint)`;
      const run = execa('node', [BIN, 'seed'], { cwd: ROOT, env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
      let stderr = '';
      const said = new Promise<void>((resolve) => {
        run.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('waiting for another seed run')) resolve();
        });
      });
      await Promise.race([said, run.then(() => undefined), new Promise((r) => setTimeout(r, 60_000))]);
      expect(stderr).toContain(`waiting for another seed run to finish (server pid ${pid})...`);
      expect(run.exitCode).toBeNull(); // still waiting
      await holder`SELECT pg_advisory_unlock(${SEED_LOCK}::bigint)`;
      const done = await run;
      expect(done.exitCode, done.stderr).toBe(0);
      expect(done.stderr).toMatch(/seed files? applied/);
    } finally {
      await holder.end();
    }
  }, 120_000);
});
