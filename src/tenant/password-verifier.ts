/**
 * Role passwords are hashed on the client and only the verifier reaches the server, as libpq's
 * PQencryptPasswordConn does for psql's \password and createuser: a `CREATE ROLE ... PASSWORD '...'`
 * in cleartext lands in the server's log whenever the statement fails (log_min_error_statement) or
 * every statement is logged (log_statement=all), and in pg_stat_activity while it runs.
 *
 * The server's password_encryption decides the kind: scram-sha-256 (RFC 5802/7677, PostgreSQL's
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`) or md5 (`md5` + md5(password || user)).
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type postgres from 'postgres';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's default SCRAM iteration count (scram_iterations, a setting from PostgreSQL 16 on). */
const SCRAM_ITERATIONS = 4096;
const SCRAM_SALT_BYTES = 16;

/**
 * The password as PostgreSQL's pg_saslprep prepares it before hashing: SASLprep (RFC 4013) for a
 * string with non-ASCII characters; the string itself when it is ASCII, or when SASLprep refuses it
 * (prohibited or unassigned characters, bad bidirectional text), which is what the server and libpq
 * then use as well. @mongodb-js/saslprep carries the Unicode tables (MongoDB's drivers use it).
 */
export async function saslprepLikePostgres(password: string): Promise<string> {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const { default: saslprep } = await import('@mongodb-js/saslprep');
  try {
    return saslprep(password);
  } catch {
    return password;
  }
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (pg_authid.rolpassword), with a fresh
 * random salt.
 *
 * @example
 * await scramSha256Verifier('s3cret') // 'SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>'
 */
export async function scramSha256Verifier(password: string, iterations = SCRAM_ITERATIONS, salt: Buffer = randomBytes(SCRAM_SALT_BYTES)): Promise<string> {
  const prepared = Buffer.from(await saslprepLikePostgres(password), 'utf8');
  const salted = await pbkdf2Async(prepared, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The md5 hash PostgreSQL stores for `password` of role `user` (password_encryption = md5). */
export function md5Verifier(password: string, user: string): string {
  return 'md5' + createHash('md5').update(password + user, 'utf8').digest('hex');
}

/**
 * The verifier to send for `user`'s password, of the kind the server's password_encryption asks for
 * (read on the session that will send it, as libpq reads it), never the password itself. The
 * iteration count is the server's scram_iterations where it has one (PostgreSQL 16+).
 */
export async function passwordVerifier(sql: postgres.Sql | postgres.TransactionSql, user: string, password: string): Promise<string> {
  const [{ encryption, iterations }] = await sql<{ encryption: string; iterations: string | null }[]>`
    SELECT current_setting('password_encryption') AS encryption, current_setting('scram_iterations', true) AS iterations`;
  if (encryption === 'md5') return md5Verifier(password, user);
  return scramSha256Verifier(password, Number(iterations) > 0 ? Number(iterations) : SCRAM_ITERATIONS);
}

/**
 * Whether `password` is the one `stored` (pg_authid.rolpassword of `user`) was made from: the
 * SCRAM-SHA-256 verifier recomputed with its own salt and iteration count, or the md5 hash. Nothing is
 * sent anywhere. A stored value of another form (the cleartext an old server kept) is compared as is.
 */
export async function passwordMatches(stored: string, user: string, password: string): Promise<boolean> {
  const scram = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.exec(stored);
  if (scram) return (await scramSha256Verifier(password, Number(scram[1]), Buffer.from(scram[2], 'base64'))) === stored;
  if (/^md5[0-9a-f]{32}$/.test(stored)) return md5Verifier(password, user) === stored;
  return stored === password;
}
