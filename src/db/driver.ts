/**
 * The one place that creates postgres.js pools. A resolved target (src/config/conninfo.ts) becomes
 * postgres.js options explicitly, key by key, so that postgres.js never reads a URL or a `PG*`
 * variable on its own (it would send unknown URL parameters as server settings, and fall back to
 * `localhost` where libpq uses the socket folder). What postgres.js cannot do is refused in one line.
 *
 * Every connect is bounded: `connectPool` waits at most connect_timeout per host, and a peer that is
 * not PostgreSQL (postgres.js would reconnect to it for ever) is named as such.
 */
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { connParamsOf, describeHosts, formatConnUri, TLS_VERSION_NAMES, type ConnHost, type ConnParams, type PgEnvField } from '../config/conninfo.js';
import { passfileThatAnswered, passwordFromPassfile } from '../config/pgpass.js';
import { CmmcError } from '../errors.js';
import { CERT_CODE, connectionError } from './errors.js';
import { readBounded } from '../fs-private.js';

export interface PoolOptions {
  max?: number;
  idleTimeoutSeconds?: number;
  maxLifetimeSeconds?: number;
  /** Used when the target does not name one (libpq: application_name wins over fallback_application_name). */
  applicationName?: string;
  /** Extra startup parameters (statement_timeout, lock_timeout, ...). */
  connection?: Record<string, string | number>;
  /**
   * postgres.js's fetch_types (default true): on connect it reads pg_type to parse arrays of
   * extension types. False saves that query for readers of plain columns (`current`, `history`).
   */
  fetchTypes?: boolean;
}

function unsupported(what: string): CmmcError {
  return new CmmcError('connect.unsupported', `${what} (libpq can; postgres.js, the driver used here, cannot)`, {
    hint: 'give one host, or TCP hosts only',
    exitCode: 2,
  });
}

/** A certificate bundle is well under this; more is not one (a device such as /dev/zero never ends). */
const SSL_FILE_MAX = 16 << 20;

function readFile(file: string, what: 'sslrootcert' | 'sslcert' | 'sslkey' | 'sslcrl'): Buffer {
  const hint = `fix the path in ${{ sslrootcert: 'sslrootcert / PGSSLROOTCERT', sslcert: 'sslcert / PGSSLCERT', sslkey: 'sslkey / PGSSLKEY', sslcrl: 'sslcrl / PGSSLCRL (or sslcrldir / PGSSLCRLDIR)' }[what]}`;
  try {
    const read = readBounded(file, SSL_FILE_MAX);
    if (read.more) throw new CmmcError('connect.ssl-file', `${what} ${file} holds more than 16 MiB: not a certificate or key`, { hint, exitCode: 2 });
    return read.data;
  } catch (err) {
    if (err instanceof CmmcError) throw err;
    throw new CmmcError('connect.ssl-file', `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint, exitCode: 2 });
  }
}

/**
 * libpq's sslmode as postgres.js's `ssl`: disable → off; allow → off (libpq tries without TLS first);
 * prefer → TLS when offered; require → TLS, certificate unchecked unless sslrootcert is given (then
 * verify-ca, as libpq does); verify-ca → chain checked; verify-full → chain and host name checked.
 * A unix socket never uses TLS (as in libpq). ssl_min_protocol_version and ssl_max_protocol_version
 * bound the TLS version under require and the verify modes as libpq does (before, a server offering
 * only TLS 1.2 was accepted under ssl_min_protocol_version=TLSv1.3, which psql refuses). Under prefer, TLS settings (a client
 * certificate, a version) are an object marked `prefer` that the patched postgres.js (patches/) still
 * lets fall back to plain text at a server without TLS, as libpq does (before: the connect failed).
 */
export function sslOption(conn: ConnParams): postgres.Options<{}>['ssl'] {
  if (conn.hosts.every((h) => h.socket)) return false;
  const mode = conn.sslmode;
  if (mode === 'disable' || mode === 'allow') return false;
  const files: Record<string, Buffer | string> = {};
  const system = conn.sslrootcert === 'system';
  // prefer checks no certificate (libpq: a root certificate makes only require act as verify-ca).
  if (conn.sslrootcert && !system && mode !== 'prefer') files.ca = readFile(conn.sslrootcert, 'sslrootcert');
  if (conn.sslcert) files.cert = readFile(conn.sslcert, 'sslcert');
  if (conn.sslkey) files.key = readFile(conn.sslkey, 'sslkey');
  // Not under prefer: libpq retries in plain text when the handshake fails, so a bound never refuses there.
  if (mode !== 'prefer') Object.assign(files, tlsVersions(conn));
  const verify = mode === 'verify-full' || mode === 'verify-ca' || system || (mode === 'require' && !!conn.sslrootcert);
  if (!verify && Object.keys(files).length === 0) return mode === 'prefer' ? 'prefer' : 'require';
  if (!verify) return { rejectUnauthorized: false, ...files, ...(mode === 'prefer' ? { prefer: true } : {}) } as never;
  // Checked against Node's default certificates: with those NODE_EXTRA_CA_CERTS names, as always.
  if (!files.ca) {
    const extra = deferredExtraCaCerts();
    if (extra) files.ca = Buffer.concat([Buffer.from(rootCertificatesPem()), extra]);
  }
  const crl = revocationLists(conn);
  if (crl.length) files.crl = crl as never;
  const full = mode === 'verify-full' || system;
  return { rejectUnauthorized: true, ...files, checkServerIdentity: full ? hostIdentityCheck(conn.hosts.map((h) => h.host)) : () => undefined } as never;
}

/** How OpenSSL names a CRL in a hashed folder (`openssl rehash`): the issuer's hash, `.r`, a number. */
const HASHED_CRL = /^[0-9a-f]{8}\.r\d+$/i;

/**
 * The certificate revocation lists a verified session checks the server's chain against, as libpq
 * reads them (fe-secure-openssl.c): the file `sslcrl` (PGSSLCRL; else ~/.postgresql/root.crl) and
 * the CRLs of the folder `sslcrldir` (PGSSLCRLDIR), each only if it is there — libpq ignores a CRL it
 * cannot find. Given to Node as `crl`, which, as libpq, then checks every certificate of the chain
 * (X509_V_FLAG_CRL_CHECK_ALL). Before, the tool's own sessions ignored both and accepted a revoked
 * certificate that psql refuses.
 */
function revocationLists(conn: ConnParams): Buffer[] {
  const lists: Buffer[] = [];
  const home = process.env.HOME;
  const file = conn.extra.sslcrl || (conn.extra.sslcrldir || !home ? undefined : path.join(home, '.postgresql', 'root.crl'));
  if (file && existsSync(file)) lists.push(...crlsIn(file));
  const dir = conn.extra.sslcrldir;
  if (dir) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => HASHED_CRL.test(n)).sort();
    } catch {
      // Not there or not a folder: libpq goes on without it.
    }
    for (const name of names) lists.push(...crlsIn(path.join(dir, name)));
  }
  return lists;
}

const CRL_PEM = /-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g;

/**
 * Every CRL of the PEM file `file`, one Buffer each: libpq (X509_load_crl_file) reads them all, one per
 * authority of the chain, while Node's `crl` reads only the first of each Buffer — a file of the root's
 * and the intermediate's lists failed as 'unable to get certificate CRL' where psql connected. A file
 * without a readable CRL is named here in one line: Node threw 'Failed to parse CRL' out of the connect,
 * uncaught, with a stack trace (libpq then silently checks nothing; refusing is the safer reading).
 */
function crlsIn(file: string): Buffer[] {
  const blocks = readFile(file, 'sslcrl').toString('latin1').match(CRL_PEM) ?? [];
  const hint = 'give sslcrl / PGSSLCRL (or sslcrldir / PGSSLCRLDIR) a PEM file of certificate revocation lists (openssl ca -gencrl writes one)';
  if (!blocks.length) throw new CmmcError('connect.ssl-file', `sslcrl ${file} holds no PEM certificate revocation list (-----BEGIN X509 CRL-----)`, { hint, exitCode: 2 });
  // Loaded here, not imported: the CLI's bundles load node:tls only for a TLS session (scripts/bundle-cli.mjs).
  const tls = process.getBuiltinModule('node:tls') as typeof import('node:tls');
  return blocks.map((block, i) => {
    try {
      tls.createSecureContext({ crl: block });
    } catch {
      throw new CmmcError('connect.ssl-file', `sslcrl ${file}: certificate revocation list ${i + 1} of ${blocks.length} cannot be read (damaged PEM)`, { hint, exitCode: 2 });
    }
    return Buffer.from(block, 'latin1');
  });
}

/**
 * ssl_min_protocol_version / ssl_max_protocol_version as Node's minVersion / maxVersion (libpq's
 * names, any case, checked by src/config/conninfo.ts; empty means no bound, as in libpq).
 */
function tlsVersions(conn: ConnParams): { minVersion?: string; maxVersion?: string } {
  const node = (v: string | undefined) => (v ? TLS_VERSION_NAMES[v.toLowerCase()] : undefined);
  const min = node(conn.extra.ssl_min_protocol_version);
  const max = node(conn.extra.ssl_max_protocol_version);
  return { ...(min ? { minVersion: min } : {}), ...(max ? { maxVersion: max } : {}) };
}

/**
 * The certificates of NODE_EXTRA_CA_CERTS when this process started without loading them: the
 * `cmmc-db` command (bin/cmmc-db) defers the file, which Node would parse at start whether or not a
 * TLS session ever uses it, and marks the process (bin/cmmc-db.js). undefined when nothing was
 * deferred (a library user's process loaded the file itself at start) or the file cannot be read
 * (Node, too, goes on without it, with its warning: given here, when a session first needs the file).
 */
function deferredExtraCaCerts(): Buffer | undefined {
  const file = (globalThis as Record<symbol, unknown>)[Symbol.for('cmmc-db.deferredExtraCaCerts')];
  if (typeof file !== 'string' || !file) return undefined;
  try {
    const read = readBounded(file, SSL_FILE_MAX);
    if (!read.more) return read.data;
    warnExtraCaCerts(file, 'larger than 16 MiB');
  } catch (err) {
    warnExtraCaCerts(file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  return undefined;
}

let warnedExtraCaCerts = false;
/** Node's own warning for a NODE_EXTRA_CA_CERTS it cannot load (which it prints at start), once. */
function warnExtraCaCerts(file: string, why: string): void {
  if (warnedExtraCaCerts) return;
  warnedExtraCaCerts = true;
  process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${why}`);
}

/** Node's own root certificates (its default store without NODE_EXTRA_CA_CERTS), as one PEM text. */
function rootCertificatesPem(): string {
  // Loaded here, not imported: the CLI's bundles load node:tls only for a TLS session (scripts/bundle-cli.mjs).
  const tls = process.getBuiltinModule('node:tls') as typeof import('node:tls');
  return `${tls.rootCertificates.join('\n')}\n`;
}

/**
 * verify-full's host-name check, against the host connected to, as libpq checks it (an IP address
 * against the certificate's IP addresses). The patched postgres.js (patches/) gives Node that host;
 * unpatched, Node names an IP host "localhost" (a socket connected to an IP keeps no name), so a
 * certificate for localhost would pass at 127.0.0.1. A name that is not one of the listed hosts is
 * such a stand-in: the certificate must then hold every listed host, whichever was connected to.
 */
function hostIdentityCheck(hosts: string[]): (name: string, cert: import('node:tls').PeerCertificate) => Error | undefined {
  return (name, cert) => {
    // Loaded here, not imported: the CLI's bundles load node:tls only for a TLS session (scripts/bundle-cli.mjs).
    const tls = process.getBuiltinModule('node:tls') as typeof import('node:tls');
    if (hosts.includes(name)) return tls.checkServerIdentity(name, cert);
    for (const host of hosts) {
      const mismatch = tls.checkServerIdentity(host, cert);
      if (mismatch) return mismatch;
    }
    return undefined;
  };
}

/**
 * postgres.js options for a resolved target: hosts and ports as lists, a unix socket as `path`,
 * the password as given or read from the password file at connect time.
 * @throws CmmcError (exit 2) for a socket among several hosts, which postgres.js cannot do.
 */
export function postgresOptions(conn: ConnParams, options: PoolOptions = {}): postgres.Options<{}> {
  const sockets = conn.hosts.filter((h) => h.socket);
  if (sockets.length && conn.hosts.length > 1) unsupportedThrow('a unix-socket host among several hosts');
  const socket: ConnHost | undefined = sockets[0];
  if (socket?.host.startsWith('@')) unsupportedThrow(`the abstract socket "${socket.host}"`);
  // A function either way: postgres.js keeps its options on the pool (sql.options), which an
  // application may print; the password itself is asked for at connect time.
  const given = conn.password;
  const pass = given !== undefined ? () => given : async () => (await passwordFromPassfile(conn)) ?? '';
  const hosts = conn.extra.load_balance_hosts === 'random' ? shuffled(conn.hosts) : conn.hosts;
  return {
    // postgres.js takes lists of hosts and ports (multi-host) though its types say one.
    host: (socket ? ['localhost'] : hosts.map((h) => h.host)) as never,
    port: (socket ? [socket.port] : hosts.map((h) => h.port)) as never,
    ...(socket ? { path: `${socket.host.replace(/\/$/, '')}/.s.PGSQL.${socket.port}` } : {}),
    database: conn.dbname,
    user: conn.user,
    pass,
    ssl: sslOption(conn),
    // null: no limit (connect_timeout=0, as libpq).
    connect_timeout: (conn.connectTimeout > 0 ? Math.min(conn.connectTimeout, MAX_TIMER_S) : null) as number,
    ...keepAlive(conn),
    // postgres.js reads PGTARGETSESSIONATTRS when given none: the patched driver (patches/) takes "any"
    // as libpq's default, so that this target's own setting wins. Not sent when nothing could override it.
    target_session_attrs: (conn.targetSessionAttrs === 'any' && process.env.PGTARGETSESSIONATTRS === undefined ? undefined : conn.targetSessionAttrs) as never,
    // postgres.js waits up to 20 s between reconnects after a few failures (3^n/100 s): after a
    // restart the pool then serves queries 9-18 s late. Capped at 0.5 s, it is back within about
    // a second of the server accepting connections (bench/reconnect.mjs measures it).
    backoff: reconnectBackoff,
    max: options.max ?? 1,
    idle_timeout: options.idleTimeoutSeconds ?? 0,
    ...(options.maxLifetimeSeconds !== undefined ? { max_lifetime: options.maxLifetimeSeconds } : {}),
    onnotice: () => {},
    ...(options.fetchTypes === false ? { fetch_types: false } : {}),
    connection: {
      application_name: conn.applicationName ?? options.applicationName ?? 'cmmc-db',
      ...(conn.options ? { options: conn.options } : {}),
      ...options.connection,
    },
  };
}

/**
 * The longest wait a Node timer holds (2^31 - 1 ms, about 24.8 days): a longer one fires at once (with
 * a warning), so a connect_timeout beyond it, which libpq would wait out, waits this long.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_TIMER_S = Math.floor(MAX_TIMER_MS / 1000);

/**
 * libpq's keepalive settings as postgres.js's `keep_alive` (the idle seconds before the first probe;
 * 0 turns them off): keepalives=0 turns them off, keepalives_idle sets the idle time. Given neither,
 * postgres.js's own 60 s. keepalives_interval and keepalives_count have no postgres.js equivalent.
 */
function keepAlive(conn: ConnParams): { keep_alive?: number | null } {
  if (conn.extra.keepalives !== undefined && Number(conn.extra.keepalives) === 0) return { keep_alive: null };
  const idle = conn.extra.keepalives_idle;
  return idle !== undefined && Number(idle) > 0 ? { keep_alive: Number(idle) } : {};
}

/** The hosts in a random order: libpq's load_balance_hosts=random. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Seconds before the pool's next reconnect after `retries` failed ones: 0.1, 0.2, 0.4, then 0.5. */
export function reconnectBackoff(retries: number): number {
  return Math.min(0.1 * 2 ** Math.max(0, retries - 1), 0.5);
}

function unsupportedThrow(what: string): never {
  throw unsupported(what);
}

/** A target from a URL or an already resolved target. */
export function targetOf(target: string | ConnParams): ConnParams {
  return typeof target === 'string' ? connParamsOf(target) : target;
}

/**
 * Creates a postgres.js pool for `target` (no connection is made yet). Prefer `connectPool`, which
 * also checks that the server answers, within connect_timeout.
 */
export function createPool(target: string | ConnParams, options: PoolOptions = {}): postgres.Sql {
  const conn = targetOf(target);
  try {
    return postgres(postgresOptions(conn, options));
  } catch (err) {
    // Only an unpatched postgres.js refuses "any" (sent when PGTARGETSESSIONATTRS would override it).
    if (!/target_session_attrs any is not supported/.test((err as Error).message)) throw err;
    throw new CmmcError('connect.unsupported', `PGTARGETSESSIONATTRS=${process.env.PGTARGETSESSIONATTRS} would override this target's target_session_attrs=any: the postgres.js patch that tells them apart is not applied`, {
      hint: 'unset PGTARGETSESSIONATTRS, or reinstall cmmc-db so that its postinstall applies patches/postgres+3.4.9.patch',
      exitCode: 2,
    });
  }
}

/**
 * Where a target came from, for the hint of a failed connect: `source` as `CmmcConfig.source` (or a
 * flag: `--admin-url`, `--from`), `settings` the setting that supplied each part instead
 * (`{ user: 'POSTGRES_USER' }`), `maintenance` for a database that is connected to, never created
 * (init's admin), `oneHost` for one host of the target's list asked on its own (its fix is that host's).
 */
export interface TargetOrigin {
  source?: string;
  settings?: Partial<Record<PgEnvField, string>>;
  maintenance?: boolean;
  oneHost?: boolean;
}

/**
 * A pool that has answered `SELECT 1`, or a one-line CmmcError: refused, timed out, not
 * PostgreSQL, authentication, missing database (see ./errors.ts), whose hint names the setting
 * to fix as `origin` says.
 */
export async function connectPool(target: string | ConnParams, options: PoolOptions = {}, origin: TargetOrigin = {}): Promise<postgres.Sql> {
  const conn = targetOf(target);
  const sql = createPool(conn, options);
  try {
    await boundedFirstQuery(sql, conn);
    return sql;
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    const settings = { ...conn.fromPgEnv, ...origin.settings };
    throw connectError(err, Object.keys(settings).length ? { ...conn, fromPgEnv: settings } : conn, origin);
  }
}

/**
 * The user-facing error for a failed connect to `conn`, or the error itself when it is not about
 * connecting. `origin.source`: where the target came from (`CmmcConfig.source`), named in the hint
 * (`conn.fromPgEnv`, not `origin.settings`, names the settings that filled parts in).
 */
export function connectError(err: unknown, conn: ConnParams, origin: Omit<TargetOrigin, 'settings'> = {}): unknown {
  const { source, maintenance, oneHost } = origin;
  if (err instanceof CmmcError) return err;
  const target = {
    host: describeHosts(conn),
    user: conn.user,
    database: conn.dbname,
    passwordGiven: conn.password !== undefined,
    ...(conn.password === undefined ? { passfile: passfileThatAnswered(conn) } : {}),
    source,
    fromPgEnv: conn.fromPgEnv,
    maintenance,
    oneHost,
  };
  return connectionError(err, target) ?? err;
}

/** Marker errors of the bounded connect. */
class NotPostgres extends Error {
  code = 'NOT_POSTGRES';
  constructor(readonly where: string) {
    super(`${where} did not answer as PostgreSQL`);
  }
}

/** Every host answered the SSLRequest with N while sslmode requires TLS (libpq's wording). */
class SslNotSupported extends Error {
  code = 'SSL_NOT_SUPPORTED';
  constructor(readonly where: string, readonly sslmode: string) {
    super('server does not support SSL, but SSL was required');
  }
}

/** Every host answered, and none suits target_session_attrs; `reasons`: libpq's words for each host. */
class SessionAttrsRefused extends Error {
  code = 'TARGET_SESSION_ATTRS';
  constructor(readonly where: string, readonly attrs: string, readonly reasons: { host: string; reason: string }[]) {
    super(reasons.map((r) => r.reason).join('; '));
  }
}

/**
 * Every host of a list failed; `hosts`: each host (as shown to users) with its error in libpq's words,
 * in the list's order; `code` of each for the error's own code (./errors.ts).
 */
class AllHostsFailed extends Error {
  code = 'ALL_HOSTS_FAILED';
  constructor(readonly where: string, readonly hosts: { host: string; reason: string; code?: string }[], override readonly cause: unknown) {
    super(hosts.map((h) => `${h.host}: ${h.reason}`).join('; '));
  }
}

/** Errors that say a host could not be reached (rather than that it answered and refused us). */
const HOST_LEVEL = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'CONNECT_TIMEOUT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * libpq's words for one host's failure (fe-connect.c and the system's strerror, as psql prints them
 * after "connection to server at ... failed:"), never the error's own message for a network error;
 * a server's error message (which never holds the password) as the server gave it.
 */
export function hostFailureReason(err: unknown): string {
  const e = (err ?? {}) as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'could not translate host name';
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout expired';
    case 'EHOSTUNREACH':
      return 'no route to host';
    case 'ENETUNREACH':
      return 'network is unreachable';
    case 'EADDRNOTAVAIL':
      return 'cannot assign requested address';
    case 'ECONNRESET':
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_DESTROYED':
      return 'server closed the connection unexpectedly';
    default:
      return /^[0-9A-Z]{5}$/.test(e.code ?? '') && e.message ? e.message : e.code ?? 'failed';
  }
}

/**
 * The failed connect to a list of hosts as what each host gave, from what the patched postgres.js
 * recorded (`sql.options.shared.hostErrors`, "host:port" -> error): upstream retries the list until
 * our deadline and reports nothing but a timeout. A host with no error recorded was still being
 * tried when the deadline passed (timeout expired). `err` itself when a server answered and refused
 * the session (a SQLSTATE: its database missing, a wrong password), or the hosts all refused us the
 * same way: its own message says more.
 */
function allHostsFailed(sql: postgres.Sql, conn: ConnParams, err: unknown): unknown {
  const recorded = ((sql.options as { shared?: { hostErrors?: Record<string, unknown> } }).shared?.hostErrors ?? {}) as Record<string, unknown>;
  const code = (err as { code?: string }).code;
  // A server that answered and refused the session (its database missing, the password wrong) ends
  // the connect there, as in libpq, and is not among the hosts recorded: its own error says what to
  // fix (it read "not tried" for that host, with the hint to start PostgreSQL).
  if (/^[0-9A-Z]{5}$/.test(code ?? '')) return err;
  const hosts = conn.hosts.map((h) => {
    const failure = recorded[`${h.host}:${h.port}`] ?? (code === 'CONNECT_TIMEOUT' ? err : undefined);
    return { host: describeHosts({ hosts: [h] }), reason: failure ? hostFailureReason(failure) : 'not tried', code: (failure as { code?: string } | undefined)?.code };
  });
  const codes = new Set(hosts.map((h) => h.code));
  if (codes.size === 1 && !HOST_LEVEL.has(hosts[0].code ?? '') && hosts[0].code !== undefined && !/^(CONNECTION_|ECONNRESET)/.test(hosts[0].code)) return err;
  return new AllHostsFailed(describeHosts(conn), hosts, err);
}

const TLS_REQUIRED = new Set(['require', 'verify-ca', 'verify-full']);

/**
 * Why no host would do, when postgres.js cannot say: it ignores a server's refusal of TLS (the
 * SSLRequest's N) and then fails the handshake as a closed socket, and it drops a session that does not
 * suit target_session_attrs as destroyed (with one host) or retries the list until the deadline (with
 * several). Each host is asked again: the SSLRequest's answer, then, in a session of its own, what
 * libpq checks (pg_is_in_recovery, transaction_read_only). Undefined unless every host is turned away
 * for such a reason.
 */
async function whyNoHostQualifies(conn: ConnParams): Promise<Error | undefined> {
  const tcp = conn.hosts.filter((h) => !h.socket);
  if (TLS_REQUIRED.has(conn.sslmode) && tcp.length === conn.hosts.length) {
    const answers = await Promise.all(tcp.map((h) => sslAnswer(h.host, h.port, 2000)));
    if (answers.every((a) => a === 'N')) return new SslNotSupported(describeHosts(conn), conn.sslmode);
  }
  const attrs = conn.targetSessionAttrs;
  if (attrs === 'any') return undefined;
  const reasons = await Promise.all(
    conn.hosts.map(async (h) => {
      const one = createPool({ ...conn, hosts: [h], targetSessionAttrs: 'any' }, { fetchTypes: false, applicationName: 'cmmc-db:session-attrs' });
      try {
        const [row] = await Promise.race([
          one<{ ro: string; recovery: boolean }[]>`SELECT current_setting('transaction_read_only') AS ro, pg_catalog.pg_is_in_recovery() AS recovery`,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), 2000).unref()),
        ]);
        return { host: describeHosts({ hosts: [h] }), reason: sessionAttrsReason(attrs, row.ro === 'on', row.recovery) };
      } catch {
        return { host: describeHosts({ hosts: [h] }), reason: undefined };
      } finally {
        await one.end({ timeout: 0 }).catch(() => {});
      }
    }),
  );
  if (reasons.every((r) => r.reason)) return new SessionAttrsRefused(describeHosts(conn), attrs, reasons as { host: string; reason: string }[]);
  return undefined;
}

/** libpq's reason (fe-connect.c) for turning a session away under `attrs`; undefined when it suits. */
function sessionAttrsReason(attrs: ConnParams['targetSessionAttrs'], readOnly: boolean, recovery: boolean): string | undefined {
  switch (attrs) {
    case 'read-write':
      return readOnly || recovery ? 'session is read-only' : undefined;
    case 'read-only':
      return readOnly || recovery ? undefined : 'session is not read-only';
    case 'primary':
      return recovery ? 'server is in hot standby mode' : undefined;
    case 'standby':
      return recovery ? undefined : 'server is not in hot standby mode';
    default:
      return undefined;
  }
}

/**
 * Runs the first query with a deadline of connect_timeout per host (libpq's connect_timeout is per
 * host). postgres.js retries a peer that closes before the handshake completes for ever, so after a
 * second without an answer each TCP host is probed with an SSLRequest: a PostgreSQL server answers
 * it with one byte, S or N (or an error message, E); anything else is not PostgreSQL.
 */
export async function boundedFirstQuery(sql: postgres.Sql, conn: ConnParams, query: () => Promise<unknown> = () => sql`SELECT 1`): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  const limitMs = conn.connectTimeout > 0 ? Math.min(conn.connectTimeout * 1000 * conn.hosts.length, MAX_TIMER_MS) : 0;
  const watchdog = new Promise<never>((_, reject) => {
    if (limitMs > 0) {
      timer = setTimeout(() => reject(Object.assign(new Error('connect timeout'), { code: 'CONNECT_TIMEOUT' })), limitMs);
    }
    probeTimer = setTimeout(async () => {
      const tcp = conn.hosts.filter((h) => !h.socket);
      if (tcp.length === 0) return;
      const verdicts = await Promise.all(tcp.map((h) => probePostgres(h.host, h.port, 2000)));
      // Only when no host speaks PostgreSQL: otherwise postgres.js is still choosing among them.
      if (verdicts.every((v) => v === 'other')) return reject(new NotPostgres(describeHosts({ hosts: tcp })));
      // With several hosts postgres.js retries the list until the deadline instead of failing.
      const why = conn.hosts.length > 1 && verdicts.every((v) => v === 'postgres') ? await whyNoHostQualifies(conn) : undefined;
      if (why) reject(why);
    }, Math.min(1000, limitMs || 1000));
  });
  try {
    await Promise.race([query(), watchdog]);
  } catch (err) {
    // Closed before the handshake finished: PostgreSQL refusing us, or something else on that port?
    const code = (err as { code?: string }).code;
    const tcp = conn.hosts.filter((h) => !h.socket);
    if (tcp.length && (code === 'CONNECTION_CLOSED' || code === 'ECONNRESET' || code === 'CONNECTION_DESTROYED')) {
      const verdicts = await Promise.all(tcp.map((h) => probePostgres(h.host, h.port, 2000)));
      if (verdicts.every((v) => v === 'other')) throw new NotPostgres(describeHosts({ hosts: tcp }));
    }
    if (code === 'CONNECTION_CLOSED' || code === 'ECONNRESET' || code === 'CONNECTION_DESTROYED') {
      const why = await whyNoHostQualifies(conn);
      if (why) throw why;
    }
    // Several hosts: say what each gave, as libpq does (psql prints a line per host). A refused
    // certificate ends the connect at its host (the patched driver): that host's error, as it is.
    const ours = err instanceof CmmcError || err instanceof NotPostgres || err instanceof SslNotSupported || err instanceof SessionAttrsRefused;
    if (conn.hosts.length > 1 && !ours && typeof code === 'string' && !CERT_CODE.test(code)) throw allHostsFailed(sql, conn, err);
    throw err;
  } finally {
    clearTimeout(timer);
    clearTimeout(probeTimer);
  }
}

/**
 * Asks `host:port` whether it speaks PostgreSQL: sends the 8-byte SSLRequest and reads the first
 * byte of the answer. 'postgres' for S, N or E; 'other' for any other answer or a close without
 * one; 'silent' when nothing came within `timeoutMs` (or the connect failed).
 */
export async function probePostgres(host: string, port: number, timeoutMs: number): Promise<'postgres' | 'other' | 'silent'> {
  const answer = await sslAnswer(host, port, timeoutMs);
  return answer === 'S' || answer === 'N' || answer === 'E' ? 'postgres' : answer;
}

/**
 * The first byte of the answer of `host:port` to an SSLRequest: S (TLS offered), N (no TLS), E (an
 * error message); 'other' for any other answer or a close without one; 'silent' as `probePostgres`.
 */
function sslAnswer(host: string, port: number, timeoutMs: number): Promise<'S' | 'N' | 'E' | 'other' | 'silent'> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let settled = false;
    const done = (v: 'S' | 'N' | 'E' | 'other' | 'silent') => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      socket.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done('silent'), timeoutMs);
    socket.on('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.on('data', (d) => done(({ 0x53: 'S', 0x4e: 'N', 0x45: 'E' } as const)[d[0] as 0x53] ?? 'other'));
    socket.on('end', () => done('other'));
    socket.on('error', () => done('silent'));
  });
}

/**
 * The host of `conn`'s list that the session of `sql` is on: by the port the server reports, and
 * where several hosts share it (node1:5432,node2:5432) by the address the session reached, which
 * each name is resolved to (a unix socket reaches no address). Undefined when none matches.
 */
export async function sessionHost(conn: ConnParams, sql: postgres.Sql): Promise<ConnHost | undefined> {
  if (conn.hosts.length === 1) return conn.hosts[0];
  const [row] = await sql<{ addr: string | null; port: number }[]>`SELECT host(inet_server_addr()) AS addr, current_setting('port')::int AS port`;
  const byPort = conn.hosts.filter((h) => h.port === row.port);
  if (byPort.length <= 1) return byPort[0];
  const { lookup } = await import('node:dns/promises');
  const plain = (a: string) => a.replace(/^::ffff:/, '');
  for (const h of byPort) {
    if (row.addr === null || h.socket) {
      if (row.addr === null && h.socket) return h;
      continue;
    }
    const addresses = await lookup(h.host, { all: true }).catch(() => []);
    if (addresses.some((a) => plain(a.address) === plain(row.addr!))) return h;
  }
  return undefined;
}

/**
 * For clients that take one host only (node-postgres, under @pgkit/migra): the URL narrowed to the
 * host that postgres.js picks (target_session_attrs respected, sessionHost); a single-host URL is
 * returned as it is.
 */
export async function singleHostUrl(url: string): Promise<string> {
  const conn = connParamsOf(url);
  if (conn.hosts.length === 1) return url;
  const sql = await connectPool(conn, { applicationName: 'cmmc-db:pick-host' });
  try {
    const host = (await sessionHost(conn, sql)) ?? conn.hosts[0];
    return formatConnUri({ ...conn, hosts: [host], targetSessionAttrs: 'any' });
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
