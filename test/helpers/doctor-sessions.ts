/**
 * Sessions the doctor tests leave open on purpose: idle, idle in a transaction, holding a row lock,
 * waiting on one, listening. Each is one postgres.js connection; `end()` closes it whatever state
 * it was left in (a terminated session's promises reject, and that is expected).
 */
import postgres from 'postgres';

export interface Session {
  pid: number;
  sql: postgres.Sql;
  end(): Promise<void>;
}

export async function openSession(url: string, applicationName = 'doctor-test'): Promise<Session> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: applicationName } });
  const [{ pid }] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  return { pid, sql, end: () => sql.end({ timeout: 1 }).catch(() => {}) };
}

export interface HeldTransaction extends Session {
  /** Commits (or gives up on a terminated session) and closes the connection. */
  release(): Promise<void>;
}

/** A session inside an open transaction that ran `statements` and now sits idle in transaction. */
export async function holdTransaction(url: string, statements: string[] = ['SELECT 1'], applicationName = 'doctor-test'): Promise<HeldTransaction> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: applicationName } });
  let letGo!: () => void;
  const hold = new Promise<void>((resolve) => (letGo = resolve));
  let ready!: (pid: number) => void;
  const started = new Promise<number>((resolve) => (ready = resolve));
  const done = sql
    .begin(async (tx) => {
      const [{ pid }] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      for (const s of statements) await tx.unsafe(s);
      ready(pid);
      await hold;
    })
    .catch(() => {});
  const pid = await started;
  return {
    pid,
    sql,
    end: () => sql.end({ timeout: 1 }).catch(() => {}),
    async release() {
      letGo();
      await done;
      await sql.end({ timeout: 1 }).catch(() => {});
    },
  };
}

/** Polls `probe` until it returns true (for a server-side state the test just caused), at most `ms`. */
export async function waitFor(probe: () => Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
