/**
 * Who holds an advisory lock: named when a command waits for one, so that a wait is never silent.
 */
import type postgres from 'postgres';

/**
 * The server pid of a session holding the advisory lock `key` (a bigint key, as taken by
 * `pg_advisory_lock(bigint)`: pg_locks shows its high 32 bits as classid and its low 32 bits as
 * objid, objsubid 1), or null when none shows. Advisory locks belong to one database: the same key
 * held in another database of the server is not named.
 */
export async function advisoryLockHolder(sql: postgres.Sql | postgres.TransactionSql | postgres.ReservedSql, key: bigint): Promise<number | null> {
  const rows = await sql.unsafe<{ pid: number }[]>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = ${key.toString()}::bigint LIMIT 1`,
  );
  return rows[0]?.pid ?? null;
}
