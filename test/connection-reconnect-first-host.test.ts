/**
 * A pool's new connection starts from the first host of a multi-host target, as libpq does for
 * every connection (unless load_balance_hosts=random): after a session ends (idle_timeout, a
 * failover) the next one goes to the first host again. postgres.js went on from the host after the
 * one it had last reached, so a pool round-robined over the list as sessions were replaced, and
 * landed on the second host although the first still answered.
 * Real servers: the shared one on :5432 first, a throwaway cluster second. The session ends by the
 * pool's own idle_timeout, which leaves no query to race the closing socket
 * (test/connection-idle-terminated.test.ts is about that race).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool } from '../src/db/driver.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

let second: TempCluster;
beforeAll(async () => {
  second = await startTempCluster();
}, 120_000);
afterAll(async () => {
  await second?.stop();
});

it('after a session ends, the next one starts from the first host again', async () => {
  const name = `cmmc-db:first-host:${process.pid}`;
  const sql = createPool(`postgres://postgres@127.0.0.1:5432,127.0.0.1:${second.port}/postgres?target_session_attrs=any`, { max: 1, idleTimeoutSeconds: 1, applicationName: name });
  const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
  try {
    const port = async () => (await sql<{ port: number }[]>`SELECT inet_server_port() AS port`)[0].port;
    /** Until the pool's idle session has ended (its backend gone from the first host). */
    const sessionEnded = async () => {
      for (;;) {
        const [{ n }] = await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${name}`;
        if (n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    expect(await port()).toBe(5432);
    for (let ended = 0; ended < 2; ended++) {
      await sessionEnded();
      expect(await port()).toBe(5432);
    }
  } finally {
    await sql.end({ timeout: 1 });
    await admin.end();
  }
});
