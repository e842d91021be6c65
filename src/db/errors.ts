/**
 * Turns driver errors into one-line user errors with a fix. The password never appears:
 * we describe the target with its password masked and do not echo query parameters.
 */
import { CmmcError } from '../errors.js';

interface PgLikeError {
  code?: string;
  message?: string;
  errno?: string;
  address?: string;
  port?: number;
}

export function connectionError(err: unknown, target: { host: string; port: string; user: string; database: string }): CmmcError | undefined {
  const e = (err ?? {}) as PgLikeError;
  const where = `${target.host}:${target.port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return new CmmcError('connect.refused', `cannot connect to PostgreSQL at ${where}: connection refused`, {
        hint: 'start the server (scripts/setup-postgres.sh) or fix DB_HOST/DB_PORT in DATABASE_URL',
        cause: err,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CmmcError('connect.host', `cannot resolve the database host "${target.host}"`, {
        hint: 'check the host name in DATABASE_URL or DB_HOST',
        cause: err,
      });
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return new CmmcError('connect.timeout', `connecting to PostgreSQL at ${where} timed out`, {
        hint: 'check that the server is reachable from here (firewall, host, port)',
        cause: err,
      });
    case '28P01':
      return new CmmcError('connect.password', `password authentication failed for user "${target.user}" at ${where}`, {
        hint: 'check DB_PASSWORD or the password in DATABASE_URL',
        cause: err,
      });
    case '28000':
      return new CmmcError('connect.rejected', `the server at ${where} rejected user "${target.user}" for database "${target.database}"`, {
        hint: 'check the user name, and that pg_hba.conf allows this connection',
        cause: err,
      });
    case '3D000':
      return new CmmcError('connect.database', `database "${target.database}" does not exist on ${where}`, {
        hint: `create it with "cmmc-db init" or "createdb ${target.database}", or fix DB_NAME in DATABASE_URL`,
        cause: err,
      });
    case '57P03':
      return new CmmcError('connect.starting', `the server at ${where} is starting up or shutting down`, {
        hint: 'wait a moment and try again',
        cause: err,
      });
    case '53300':
      return new CmmcError('connect.full', `the server at ${where} has no free connection slots`, {
        hint: 'close idle connections (cmmc-db doctor kill-idle) or raise max_connections',
        cause: err,
      });
    default:
      if (e.code === 'SASL_SIGNATURE_MISMATCH' || /password/i.test(e.message ?? '') && /auth/i.test(e.message ?? '')) {
        return new CmmcError('connect.password', `password authentication failed for user "${target.user}" at ${where}`, {
          hint: 'check DB_PASSWORD or the password in DATABASE_URL',
          cause: err,
        });
      }
      return undefined;
  }
}
