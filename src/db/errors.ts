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
  /** SSL_NOT_SUPPORTED (src/db/driver.ts): the sslmode that required TLS. */
  sslmode?: string;
  /** ALL_HOSTS_FAILED (src/db/driver.ts): what each host of a list gave, in libpq's words. */
  hosts?: { host: string; reason: string; code?: string }[];
  cause?: unknown;
  /** TARGET_SESSION_ATTRS (src/db/driver.ts): the setting, and libpq's reason for each host. */
  attrs?: string;
  reasons?: { host: string; reason: string }[];
}

/** The setting that holds a URL keyword (sslmode, target_session_attrs): its PG* variable, or the source's own. */
function keywordIn(source: string | undefined, key: 'sslmode' | 'target_session_attrs', fromPgEnv: Partial<Record<string, string>> = {}): string {
  const env = { sslmode: 'PGSSLMODE', target_session_attrs: 'PGTARGETSESSIONATTRS' }[key];
  if (fromPgEnv[key]) return fromPgEnv[key]!;
  return source && source !== 'DB_*' && source !== 'PG*' ? `${key}= in ${source}` : `${key}= in DATABASE_URL or ${env}`;
}

/** Node's certificate verification codes (X509_V_ERR_* as Node names them) and its TLS errors. */
export const CERT_CODE = /CERT|^UNABLE_TO_|^ERR_TLS_|^ERR_SSL_|^INVALID_CA$|^PATH_LENGTH_EXCEEDED$|^INVALID_PURPOSE$|^HOSTNAME_MISMATCH$/;

type Field = 'host' | 'port' | 'dbname' | 'user' | 'password';

/** How a hint names one setting of a target that came from `source` (`CmmcConfig.source`). */
function fieldIn(source: string | undefined, field: Field): string {
  if (source === 'DB_*') return { host: 'DB_HOST', port: 'DB_PORT', dbname: 'DB_NAME', user: 'DB_USER', password: 'DB_PASSWORD' }[field];
  if (source === 'PG*') return { host: 'PGHOST', port: 'PGPORT', dbname: 'PGDATABASE', user: 'PGUSER', password: 'PGPASSWORD' }[field];
  return `the ${{ host: 'host', port: 'port', dbname: 'database name', user: 'user name', password: 'password' }[field]} in ${source}`;
}

/**
 * Where the hint tells the user to fix a setting: by where the target came from (`CmmcConfig.source`:
 * `--url`, `DATABASE_URL`, `DB_*`, `PG*`, a flag such as `--from`, or a config file's environment), and
 * by the `PG*` variable that filled in what that source left out (`fromPgEnv`: a URL without a port
 * takes PGPORT's, as libpq does, so the fix is PGPORT, not the URL). Both usual names when the source
 * is unknown.
 *
 * @example
 * settingOf('DATABASE_URL', 'host', { port: 'PGPORT' }) // 'PGPORT or the host in DATABASE_URL'
 */
export function settingOf(source: string | undefined, what: 'host' | 'database' | 'user' | 'password', fromPgEnv: Partial<Record<string, string>> = {}): string {
  const fields: Field[] = { host: ['host', 'port'] as Field[], database: ['dbname'] as Field[], user: ['user'] as Field[], password: ['password'] as Field[] }[what];
  const envNames = fields.filter((f) => fromPgEnv[f]).map((f) => fromPgEnv[f]!);
  const own = fields.filter((f) => !fromPgEnv[f]);
  if (!source) {
    if (envNames.length) return envNames.join('/');
    return { host: 'DB_HOST/DB_PORT or DATABASE_URL', database: 'DB_NAME or DATABASE_URL', user: 'DB_USER or DATABASE_URL', password: 'DB_PASSWORD, PGPASSWORD or the password in DATABASE_URL' }[what];
  }
  if (!envNames.length) {
    if (source === 'DB_*' || source === 'PG*') return fields.map((f) => fieldIn(source, f)).join('/');
    return `${{ host: 'the host or port', database: 'the database name', user: 'the user name', password: 'the password' }[what]} in ${source}`;
  }
  if (source === 'PG*' || !own.length) return envNames.join('/');
  return `${envNames.join('/')} or ${own.map((f) => fieldIn(source, f)).join('/')}`;
}

/**
 * Where a password for this target can be put, in the order libpq reads them (a password file
 * last, named by the caller): the setting that stands for the source's own (init's POSTGRES_PASSWORD,
 * without PGPASSWORD: the admin URL is built from it alone), else the source's own place (DB_PASSWORD,
 * or a URL: --url, --admin-url, --from, a config file's url), then PGPASSWORD, which libpq reads
 * for a target that names none.
 */
function passwordPlaces(source: string | undefined, fromPgEnv: Partial<Record<string, string>> = {}): string[] {
  if (fromPgEnv.password && !/^PG/.test(fromPgEnv.password)) return [fromPgEnv.password];
  if (source === 'PG*') return ['PGPASSWORD'];
  return [source === 'DB_*' ? 'DB_PASSWORD' : source ?? 'DATABASE_URL', 'PGPASSWORD'];
}

/**
 * The other way out of a refused connect when the target came from the environment: with none of
 * DATABASE_URL, DB_* or the PG* variables naming a server, cmmc-db uses its embedded database.
 */
function embeddedInstead(source: string | undefined): string {
  const unset = { DATABASE_URL: 'DATABASE_URL', 'DB_*': 'the DB_* variables', 'PG*': 'the PG* variables' }[source ?? ''];
  return unset ? `, or unset ${unset} to use the embedded database` : '';
}

/**
 * The one-line error for a failed connect, or undefined when `err` is not about connecting.
 * `target.host` is the `host:port` list as shown to users (`describeHosts`); `target.source` is
 * where the target came from (`CmmcConfig.source`), so that the hint names what to fix.
 */
export function connectionError(
  err: unknown,
  target: {
    host: string;
    user: string;
    database: string;
    passwordGiven?: boolean;
    /** The password file whose line supplied the password (none was given). */
    passfile?: string;
    source?: string;
    /**
     * The setting that supplied each part the source left out (PGPORT for a URL without a port), or
     * that stands in for the source's own (POSTGRES_USER for init's admin): the hint names it.
     */
    fromPgEnv?: Partial<Record<string, string>>;
    /** The database is one to connect to (init's admin, a maintenance database), not one to create. */
    maintenance?: boolean;
    /** One host of the target's list asked on its own: the embedded database is no way out for it. */
    oneHost?: boolean;
  },
): CmmcError | undefined {
  const e = (err ?? {}) as PgLikeError;
  const where = target.host;
  const { source, fromPgEnv } = target;
  const orEmbedded = target.oneHost ? '' : embeddedInstead(source);
  const settingIn = (what: 'host' | 'database' | 'user' | 'password') => settingOf(source, what, fromPgEnv);
  const places = passwordPlaces(source, fromPgEnv);
  const passwordHint = target.passfile
    ? `the password for "${target.user}" came from the password file ${target.passfile}: fix its line for this host, port, database and user, or give the password in ${places.join(' or ')}`
    : target.passwordGiven === false
    ? `no password was given and none matched in the password file: put it in ${places.join(', ')} or ~/.pgpass (PGPASSFILE)`
    : // A password that was given came from the setting that supplied it, never from a later one.
      `check ${fromPgEnv?.password ?? settingIn('password')}`;
  switch (e.code) {
    case 'SSL_NOT_SUPPORTED':
      return new CmmcError('connect.ssl', `the server at ${where} does not support SSL, but SSL was required (sslmode=${e.sslmode})`, {
        hint: `enable ssl on the server (ssl = on in postgresql.conf, with a certificate and key), or set ${keywordIn(source, 'sslmode', fromPgEnv)} to prefer or disable`,
        cause: err,
      });
    case 'TARGET_SESSION_ATTRS': {
      const reasons = e.reasons ?? [];
      const wanted = { standby: 'a standby', 'read-only': 'a standby (or a server with default_transaction_read_only = on)', primary: 'the primary', 'read-write': 'the primary' }[e.attrs ?? ''] ?? 'a server that suits it';
      const what = reasons.length === 1 ? `the server at ${where} does not suit target_session_attrs=${e.attrs}: ${reasons[0].reason}` : `no server at ${where} suits target_session_attrs=${e.attrs}: ${reasons.map((r) => `${r.host}: ${r.reason}`).join('; ')}`;
      return new CmmcError('connect.session-attrs', what, {
        hint: `point the connection at ${wanted} (${settingIn('host')}), or drop ${keywordIn(source, 'target_session_attrs', fromPgEnv)}`,
        cause: err,
      });
    }
    case 'ALL_HOSTS_FAILED': {
      const hosts = e.hosts ?? [];
      const reasons = new Set(hosts.map((h) => h.reason));
      // One kind of failure everywhere keeps that kind's code (a failover wait retries refused and
      // timed-out connects: src/migrate/primary.ts); a mix is connect.hosts.
      const alike = reasons.size === 1 ? connectionError(e.cause, target) : undefined;
      const what = `cannot connect to PostgreSQL at any of the ${hosts.length} hosts tried: ${hosts.map((h) => `${h.host}: ${h.reason}`).join('; ')}`;
      const hint = reasons.size === 1 && reasons.has('could not translate host name')
        ? `check ${settingIn('host')}`
        : reasons.size === 1 && reasons.has('timeout expired')
          ? 'check that the servers are reachable from here (firewall, host, port); connect_timeout or CMMC_CONNECT_TIMEOUT sets the wait per host'
          : `start PostgreSQL at one of them, or fix ${settingIn('host')}${orEmbedded}`;
      return new CmmcError(alike?.code ?? 'connect.hosts', what, { hint, cause: err });
    }
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
      return new CmmcError('connect.ssl-name', `the server certificate at ${where} does not match the host name: ${e.message}`, {
        hint: `connect by a name the certificate holds (${settingIn('host')}), or use sslmode=verify-ca (${keywordIn(source, 'sslmode', fromPgEnv)}), which checks the chain only`,
        cause: err,
      });
    case 'NOT_POSTGRES':
      return new CmmcError('connect.not-postgres', `the server at ${where} did not answer as PostgreSQL`, {
        hint: `check ${settingIn('host')}: another service is listening there (PostgreSQL usually listens on 5432)`,
        cause: err,
      });
    case 'ECONNREFUSED':
      return new CmmcError('connect.refused', `cannot connect to PostgreSQL at ${where}: connection refused`, {
        hint: `start PostgreSQL at ${where}, or fix ${settingIn('host')}${orEmbedded}`,
        cause: err,
      });
    case 'ENOENT':
      return new CmmcError('connect.refused', `cannot connect to PostgreSQL at ${where}: no server socket there`, {
        hint: `start PostgreSQL at ${where}, or fix ${settingIn('host')}${orEmbedded}`,
        cause: err,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CmmcError('connect.host', `cannot resolve the database host of ${where}`, {
        hint: `check ${settingIn('host')}`,
        cause: err,
      });
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return new CmmcError('connect.timeout', `connecting to PostgreSQL at ${where} timed out`, {
        hint: 'check that the server is reachable from here (firewall, host, port); connect_timeout or CMMC_CONNECT_TIMEOUT sets the wait',
        cause: err,
      });
    case '28P01':
      return new CmmcError('connect.password', `password authentication failed for user "${target.user}" at ${where}`, {
        hint: passwordHint,
        cause: err,
      });
    case '28000':
      return new CmmcError('connect.rejected', `the server at ${where} rejected user "${target.user}" for database "${target.database}"`, {
        hint: `check ${settingIn('user')}, and that pg_hba.conf allows this connection`,
        cause: err,
      });
    case '3D000':
      return new CmmcError('connect.database', `database "${target.database}" does not exist on ${where}`, {
        hint: target.maintenance
          ? `fix ${settingIn('database')}: name a database that exists (usually postgres)`
          : `create it with "cmmc-db init" or "createdb ${target.database}", or fix ${settingIn('database')}`,
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
          hint: passwordHint,
          cause: err,
        });
      }
      if (e.code === 'CONNECTION_CLOSED' || e.code === 'ECONNRESET' || e.code === 'CONNECTION_DESTROYED') {
        return new CmmcError('connect.closed', `the server at ${where} closed the connection before it was ready`, {
          hint: 'check that this is a PostgreSQL server that accepts this client (pg_hba.conf, sslmode)',
          cause: err,
        });
      }
      // The CRL of sslcrl / sslcrldir said no (revoked), or cannot be used (expired, not yet valid, none for
      // a certificate of the chain): the fix is the certificate or the list, not sslrootcert.
      if (e.code === 'CERT_REVOKED' || /^CRL_|^UNABLE_TO_GET_CRL|^UNABLE_TO_DECRYPT_CRL/.test(e.code ?? '')) {
        return new CmmcError('connect.ssl-verify', `the server certificate at ${where} failed verification (certificate verify failed): ${e.message}`, {
          hint: e.code === 'CERT_REVOKED'
            ? 'the certificate revocation list (sslcrl / PGSSLCRL, sslcrldir / PGSSLCRLDIR) revokes the server\'s certificate: give the server a new certificate, or check that you reach the server you meant'
            : 'renew the certificate revocation list in sslcrl / PGSSLCRL (or sslcrldir / PGSSLCRLDIR), with a list for each authority of the chain',
          cause: err,
        });
      }
      if (e.code && CERT_CODE.test(e.code)) {
        return new CmmcError('connect.ssl-verify', `the server certificate at ${where} failed verification (certificate verify failed): ${e.message}`, {
          hint: 'set sslrootcert (PGSSLROOTCERT) to the certificate of the authority that signed the server\'s certificate, or use sslmode=require to skip the check',
          cause: err,
        });
      }
      if (e.code === 'CONNECTION_ENDED') {
        return new CmmcError('connect.ssl', `the TLS connection to ${where} failed: ${e.message}`, {
          hint: 'check sslmode and sslrootcert (verify-full checks the host name against the certificate)',
          cause: err,
        });
      }
      return undefined;
  }
}

/** SQLSTATEs and driver codes that mean the session is gone (terminated, failover, restart, reset). */
const LOST_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE']);
const LOST_TEXT = /terminating connection|Connection terminated|server closed the connection|connection (?:was )?reset|Client has encountered a connection error/i;

/** Why a lost session ended, for messages: `terminated by the server (57P01)`, `connection reset`. */
function lostReason(e: PgLikeError): string {
  switch (e.code) {
    case '57P01':
      return 'terminated by the server (administrator command, failover or shutdown) [57P01]';
    case '57P02':
    case '57P03':
      return `the server is restarting or shutting down [${e.code}]`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `connection reset [${e.code}]`;
    default:
      return e.code ? `connection closed [${e.code}]` : 'connection closed';
  }
}

/**
 * True when `err` (or its cause) says the session was lost mid-command, rather than a statement
 * failing: the server terminated it (pg_terminate_backend, failover, restart) or the network reset it.
 */
export function isConnectionLost(err: unknown): boolean {
  for (let e = err as (PgLikeError & { cause?: unknown }) | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e !== 'object') return false;
    if (e.code && LOST_CODES.has(e.code)) return true;
    if (!e.code && e.message && LOST_TEXT.test(e.message)) return true;
  }
  return false;
}

/**
 * One line for a session lost during `doing` (for example `upgrade of revision 1a2b (1a2b_x.ts)`),
 * saying what state was left; undefined when `err` is not a lost connection.
 */
export function connectionLostError(err: unknown, doing: string, state: string, next = 'run the command again once the server accepts connections'): CmmcError | undefined {
  if (!isConnectionLost(err)) return undefined;
  let e = err as PgLikeError & { cause?: unknown };
  while (e && !(e.code && LOST_CODES.has(e.code)) && e.cause) e = e.cause as typeof e;
  return new CmmcError('connect.lost', `the connection to PostgreSQL was lost during ${doing}: ${lostReason(e)}; ${state}`, { hint: next, cause: err });
}

/**
 * What to do about a server error that reaches the user as it is, by its SQLSTATE (PostgreSQL's
 * appendix A): a lock held by another session (55P03), a statement timeout (57014), a missing
 * privilege (42501). Not every failure is the caller's file or input. `run`: a migration run (its
 * operation, whose own flags set the waits); without it the hint suits any command. Undefined for
 * other codes.
 */
export function sqlStateFix(code: unknown, run?: { operation: string }): string | undefined {
  switch (code) {
    case '55P03':
      return run
        ? `another session holds a lock it needs ("cmmc-db doctor connections.blocked" shows which); run ${run.operation} again when it is done, or allow longer with --lock-timeout`
        : 'another session holds a lock this needs: run it again when that is done ("cmmc-db doctor connections.blocked" shows which)';
    case '57014':
      return run
        ? 'it ran longer than the statement timeout; allow longer with --statement-timeout (0 = none), or make the revision faster'
        : 'it ran longer than the statement timeout (CMMC_STATEMENT_TIMEOUT, or --statement-timeout where the command has it)';
    case '42501':
      // The same SQLSTATE says "permission denied" and "must be owner of": when this already is the
      // schema owner, the object belongs to someone else (an extension init created as the admin).
      return `the role this ${run ? 'run' : 'command'} connects as lacks a privilege it needs: ${run ? 'run migrations' : 'connect'} as the schema owner (DB_OWNER_USER for DATABASE_URL and DB_*; with --url, a URL naming the owner); if it is the owner, as the role that owns the object named (a superuser for what init created as the admin), or ${run ? 'grant it' : 'have it granted'}`;
    default:
      return undefined;
  }
}
