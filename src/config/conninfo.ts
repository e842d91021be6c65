/**
 * Connection strings exactly as libpq reads them: `postgresql://` URIs and `keyword=value` strings,
 * then the `PG*` environment variables, then libpq's defaults.
 *
 * Written after libpq's own parser (fe-connect.c: conninfo_uri_parse_options, conninfo_parse,
 * conninfo_add_defaults) and checked against psql in test/conninfo-libpq.test.ts. pg-connection-string
 * (node-postgres' parser) was tried first and not used: it rejects several hosts, reads certificate
 * files while parsing, and keeps a malformed `%`-escape instead of refusing it, so it would connect to
 * something other than what psql connects to.
 *
 * Pure but for the connection service file that `service=` (PGSERVICE) names (./pg-service.ts): the
 * environment is an argument.
 */
import os from 'node:os';
import { existsSync } from 'node:fs';
import { CmmcError } from '../errors.js';
import { findService } from './pg-service.js';

/** The libpq keywords this tool understands (libpq's names). */
export const CONN_KEYWORDS = [
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'passfile',
  'connect_timeout',
  'application_name',
  'fallback_application_name',
  'options',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslpassword',
  'target_session_attrs',
  'service',
  'client_encoding',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'sslcompression',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'gssencmode',
  'krbsrvname',
  'gsslib',
  'channel_binding',
  'replication',
  'load_balance_hosts',
  'require_auth',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
] as const;
export type ConnKeyword = (typeof CONN_KEYWORDS)[number];

/** Keyword values as given (strings, percent-decoded), before defaults. */
export type ConnOptions = Partial<Record<ConnKeyword, string>>;

/** libpq's environment variable for each keyword it reads from the environment (conninfo_options). */
export const ENV_OF: Partial<Record<ConnKeyword, string>> = {
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  dbname: 'PGDATABASE',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  passfile: 'PGPASSFILE',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  application_name: 'PGAPPNAME',
  options: 'PGOPTIONS',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  service: 'PGSERVICE',
  client_encoding: 'PGCLIENTENCODING',
  channel_binding: 'PGCHANNELBINDING',
  gssencmode: 'PGGSSENCMODE',
  sslcrl: 'PGSSLCRL',
  sslcrldir: 'PGSSLCRLDIR',
  sslsni: 'PGSSLSNI',
  sslcompression: 'PGSSLCOMPRESSION',
  ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
  krbsrvname: 'PGKRBSRVNAME',
  gsslib: 'PGGSSLIB',
  require_auth: 'PGREQUIREAUTH',
  load_balance_hosts: 'PGLOADBALANCEHOSTS',
};

/**
 * libpq's TLS protocol version names (ssl_min_protocol_version, compared in any case) as Node's
 * (tls minVersion / maxVersion), in order.
 */
export const TLS_VERSION_NAMES: Readonly<Record<string, string>> = { tlsv1: 'TLSv1', 'tlsv1.1': 'TLSv1.1', 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';
const TSA: TargetSessionAttrs[] = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'];

/** One host of a (possibly multi-host) target. */
export interface ConnHost {
  /** A host name, an IP address (IPv6 without brackets), or an absolute unix-socket folder. */
  host: string;
  port: number;
  /** True when `host` is a unix-socket folder (starts with `/`, as in libpq). */
  socket: boolean;
}

/** A fully resolved connection target: what libpq would connect to. */
export interface ConnParams {
  /** Tried in order (libpq's multi-host list). */
  hosts: ConnHost[];
  user: string;
  /** Only when given (URL, keyword, DB_PASSWORD or PGPASSWORD); ~/.pgpass is read at connect time. */
  password?: string;
  dbname: string;
  /** PGPASSFILE or `passfile=`; otherwise ~/.pgpass. */
  passfile?: string;
  sslmode: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  /** Seconds; libpq's connect_timeout (per host). */
  connectTimeout: number;
  applicationName?: string;
  /** Command-line options sent to the server at startup (`-c search_path=x`). */
  options?: string;
  targetSessionAttrs: TargetSessionAttrs;
  /** Other keywords that were given, kept to pass on to libpq's own tools. */
  extra: Partial<Record<ConnKeyword, string>>;
  /**
   * The `PG*` variable that supplied each of these settings, where one did (the URL, the keywords or
   * DB_* left it out): so that a hint names the variable to fix, not the URL that never held it.
   * Absent when no such variable filled anything in.
   */
  fromPgEnv?: Partial<Record<PgEnvField, string>>;
}

/** The settings whose provenance a hint can name. */
export type PgEnvField = 'host' | 'port' | 'dbname' | 'user' | 'password' | 'sslmode' | 'target_session_attrs' | 'options';

/** The default connect_timeout in seconds when none is given (libpq waits for ever; we do not). */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;

function bad(message: string, hint: string): CmmcError {
  return new CmmcError('config.url', message, { hint, exitCode: 2 });
}

const URL_HINT = 'use the form postgresql://user:password@host:5432/dbname (percent-encode reserved characters: @ as %40, / as %2F)';

/**
 * libpq's percent-decoding (conninfo_uri_decode): `%XX` with two hex digits, `%00` refused, and
 * `+` left as it is (libpq does not treat it as a space).
 */
export function percentDecode(text: string, from: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw bad(`${from} has a malformed %-escape "${text.slice(i, i + 3)}"`, 'write a literal % as %25; other reserved characters as %XX (two hex digits)');
      }
      const value = parseInt(hex, 16);
      if (value === 0) throw bad(`${from} contains %00, which libpq refuses`, 'remove the %00');
      bytes.push(value);
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Stores one keyword's value as libpq's conninfo_storeval does, for the URI and the keyword/value
 * forms alike: the deprecated `requiressl` is `sslmode` (`require` when its value starts with 1,
 * else `prefer`), so that the later of the two wins; a later value replaces an earlier one.
 * @throws CmmcError (exit 2) for a keyword libpq does not know, with `unknown` as the message.
 */
function storeValue(out: ConnOptions, key: string, value: string, unknown: () => CmmcError): void {
  if (key === 'requiressl') {
    out.sslmode = value.startsWith('1') ? 'require' : 'prefer';
    return;
  }
  if (!(CONN_KEYWORDS as readonly string[]).includes(key)) throw unknown();
  out[key as ConnKeyword] = value;
}

/** The keywords whose value is a secret: a parse error never echoes what follows them. */
const SECRET_KEYWORDS = new Set(['password', 'sslpassword']);

/** A keyword libpq knows (in a URI's query too, with JDBC's `ssl`). */
function isKnownKeyword(key: string): boolean {
  return key === 'requiressl' || key === 'ssl' || (CONN_KEYWORDS as readonly string[]).includes(key);
}

/** True when `text` is a URI that libpq would parse as one. */
export function isConnUri(text: string): boolean {
  return /^postgres(ql)?:\/\//.test(text);
}

/**
 * Parses a `postgresql://` URI into keyword values, as libpq's conninfo_uri_parse_options does:
 * `user:password@` is optional; the host list is `host[:port]` items separated by commas, an IPv6
 * address in brackets, a unix-socket folder percent-encoded (`%2Frun%2Fpostgresql`); query
 * parameters are libpq keywords (`?host=/run/postgresql&sslmode=require`), `ssl=true` meaning
 * `sslmode=require`. Every part is percent-decoded.
 * @throws CmmcError (exit 2) for anything libpq would refuse, naming `from`.
 */
export function parseConnUri(uri: string, from = 'the URL'): ConnOptions {
  const m = /^(postgres(?:ql)?):\/\//.exec(uri);
  if (!m) throw bad(`${from} must start with postgresql:// or postgres://`, URL_HINT);
  const out: ConnOptions = {};
  let rest = uri.slice(m[0].length);
  // User info first, as libpq: up to the first '@' before any '/', so that a password holding "?"
  // or "#" is a password (read as a query string, its end was refused and echoed as a parameter).
  const credentialsEnd = rest.search(/[@/]/);
  let userinfo: string | undefined;
  if (credentialsEnd >= 0 && rest[credentialsEnd] === '@') {
    userinfo = rest.slice(0, credentialsEnd);
    rest = rest.slice(credentialsEnd + 1);
  }
  const q = rest.indexOf('?');
  const query = q >= 0 ? rest.slice(q + 1) : undefined;
  if (q >= 0) rest = rest.slice(0, q);

  const slash = rest.indexOf('/');
  const hostPart = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (user) out.user = percentDecode(user, `the user name in ${from}`);
    if (colon >= 0) {
      const pw = userinfo.slice(colon + 1);
      if (pw) out.password = percentDecode(pw, `the password in ${from}`);
    }
  }

  // postgresql://user:pa/ss@host/db: an unencoded "/" ends the authority before the "@", and libpq
  // reads the user name and the start of the password as a host and a port. Refused as libpq refuses
  // that port, without echoing it: it is part of a password (base64 passwords hold "/").
  if (path?.includes('@') && hostPart.split(',').some((h) => !h.startsWith('[') && h.includes(':') && !/^\d*$/.test(h.slice(h.indexOf(':') + 1)))) {
    throw bad(`${from} has a "/" before its "@": read as libpq reads it, what comes before that "/" is a host and an invalid port`, 'percent-encode "/" in the user name or password as %2F (and "@" as %40)');
  }

  const hosts: string[] = [];
  const ports: string[] = [];
  let i = 0;
  while (true) {
    let host: string;
    if (hostPart[i] === '[') {
      const close = hostPart.indexOf(']', i);
      if (close < 0) throw bad(`${from} has an IPv6 host without its closing "]"`, 'write IPv6 hosts in brackets: postgresql://[::1]:5432/db');
      // libpq decodes the bracketed address too: a zone is written %25 (fe80::1%25eth0).
      host = percentDecode(hostPart.slice(i + 1, close), `the host in ${from}`);
      if (!host) throw bad(`${from} has an empty IPv6 host "[]"`, URL_HINT);
      i = close + 1;
    } else {
      let j = i;
      while (j < hostPart.length && hostPart[j] !== ':' && hostPart[j] !== ',') j++;
      host = percentDecode(hostPart.slice(i, j), `the host in ${from}`);
      i = j;
    }
    let port = '';
    if (hostPart[i] === ':') {
      let j = i + 1;
      while (j < hostPart.length && hostPart[j] !== ',') j++;
      port = percentDecode(hostPart.slice(i + 1, j), `the port in ${from}`);
      i = j;
    } else if (i < hostPart.length && hostPart[i] !== ',') {
      throw bad(`${from} has an unexpected "${hostPart[i]}" after the host "${host}"`, URL_HINT);
    }
    hosts.push(host);
    ports.push(port);
    if (hostPart[i] === ',') {
      i++;
      continue;
    }
    break;
  }
  // As libpq: a list of several hosts always sets host and port (postgresql://h1,h2/db has the ports
  // ",": each the default 5432, not PGPORT); one host sets only what it gives.
  if (hosts.length > 1 || hosts[0] !== '') out.host = hosts.join(',');
  if (ports.length > 1 || ports[0] !== '') out.port = ports.join(',');
  if (path) out.dbname = percentDecode(path, `the database name in ${from}`);

  if (query !== undefined && query !== '') {
    // libpq ends the list at a trailing "&"; an empty parameter anywhere else ("?&", "&&") is refused.
    const pairs = query.split('&');
    if (pairs.at(-1) === '') pairs.pop();
    let previous = '';
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      // What follows a password's value may be the rest of that password (an "&" in it not encoded): not echoed.
      if (SECRET_KEYWORDS.has(previous) && (eq < 0 || !isKnownKeyword(pair.slice(0, eq)))) {
        throw bad(`${from} has a query parameter after ${previous}= that is not name=value, or names no libpq keyword`, `percent-encode "&" in the ${previous} as %26 (and "=" as %3D)`);
      }
      if (eq < 0) throw bad(`${from} has a malformed query parameter "${pair}"`, 'write query parameters as name=value joined by &');
      // Named without its value, as libpq does: the value may be a password.
      if (pair.indexOf('=', eq + 1) >= 0) throw bad(`${from} has a second "=" in the query parameter "${pair.slice(0, eq)}"`, 'percent-encode "=" in a value as %3D');
      let key = percentDecode(pair.slice(0, eq), from);
      let value = percentDecode(pair.slice(eq + 1), from);
      // JDBC's ssl=true, as libpq accepts it.
      if (key === 'ssl' && value === 'true') {
        key = 'sslmode';
        value = 'require';
      }
      storeValue(out, key, value, () => bad(`${from} has an unknown query parameter "${key}"`, 'use libpq keywords such as sslmode, host, port, connect_timeout, application_name, options'));
      previous = key;
    }
  }
  return out;
}

/**
 * Parses a libpq keyword/value string (`host=db port=5432 dbname='my db'`): values single-quoted
 * when they hold spaces, `\'` and `\\` escapes inside, as libpq's conninfo_parse.
 * @throws CmmcError (exit 2) on a syntax error or an unknown keyword.
 */
export function parseConnKeywords(text: string, from = 'the connection string'): ConnOptions {
  const out: ConnOptions = {};
  let i = 0;
  // C's isspace, as libpq: a no-break space or another Unicode space is part of a value.
  const space = (ch: string | undefined) => ch !== undefined && ' \t\n\v\f\r'.includes(ch);
  const ws = () => {
    while (space(text[i])) i++;
  };
  let previous = '';
  while (true) {
    ws();
    if (i >= text.length) break;
    let key = '';
    while (i < text.length && text[i] !== '=' && !space(text[i])) key += text[i++];
    ws();
    // The word after a password's value may be the rest of that password (a space in it, unquoted): not echoed.
    if (SECRET_KEYWORDS.has(previous) && (text[i] !== '=' || !isKnownKeyword(key))) {
      throw bad(`${from}: what follows the value of ${previous} is not a libpq keyword=value pair`, `quote a value that holds spaces: ${previous}='…'`);
    }
    if (text[i] !== '=') throw bad(`${from}: missing "=" after "${key}"`, 'write keyword=value pairs separated by spaces, for example host=db dbname=app');
    i++;
    ws();
    let value = '';
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const ch = text[i];
        // A backslash escapes the next character; at the very end it escapes nothing and is dropped.
        if (ch === '\\') {
          value += text[i + 1] ?? '';
          i += 2;
        } else if (ch === "'") {
          i++;
          closed = true;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      if (!closed) throw bad(`${from}: unterminated quoted string`, "close the value's single quote");
    } else {
      while (i < text.length && !space(text[i])) {
        if (text[i] === '\\') {
          value += text[i + 1] ?? '';
          i += 2;
        } else value += text[i++];
      }
    }
    storeValue(out, key, value, () => bad(`${from}: unknown keyword "${key}"`, 'use libpq keywords such as host, port, dbname, user, password, sslmode'));
    previous = key;
  }
  return out;
}

/** A URI or a keyword/value string, whichever `text` is (as PQconnectdb decides). */
export function parseConnString(text: string, from: string): ConnOptions {
  if (isConnUri(text)) return parseConnUri(text, from);
  if (/^[a-z_]+\s*=/.test(text.trim())) return parseConnKeywords(text, from);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) throw bad(`${from} must start with postgresql:// or postgres://, not ${scheme[1]}://`, URL_HINT);
  // Not echoed: a string that is neither form cannot be told apart from a password (one pasted alone, a
  // URL mistyped as postgresql:/user:pw@host), so no masking can be trusted with it.
  throw bad(`${from} is neither a postgresql:// URL nor keyword=value settings`, URL_HINT);
}

/**
 * The options read from `PG*` variables, for the keywords not in `given` (libpq's
 * conninfo_add_defaults). A variable set to '' is a value, as libpq's getenv() reads it: `PGSSLMODE=`
 * is an invalid sslmode there, not an absent one.
 */
export function optionsFromPgEnv(env: NodeJS.ProcessEnv): ConnOptions {
  const out: ConnOptions = {};
  for (const [key, name] of Object.entries(ENV_OF)) {
    const value = env[name!];
    if (value !== undefined) out[key as ConnKeyword] = value;
  }
  return out;
}

/**
 * The keywords whose empty value libpq refuses (an invalid mode, "invalid integer value", "definition
 * of service "" not found") where an empty host, port, user or database means the default. Read as
 * absent, `sslmode=` from a template whose variable was unset connected with `prefer` where psql refuses.
 */
const EMPTY_REFUSED: readonly ConnKeyword[] = [
  'sslmode',
  'target_session_attrs',
  'channel_binding',
  'gssencmode',
  'load_balance_hosts',
  'connect_timeout',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
];

/** True when the environment names a server through libpq's variables. */
export function pgEnvNamesServer(env: NodeJS.ProcessEnv): boolean {
  return ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGSERVICE'].some((k) => env[k]);
}

/**
 * libpq's default host: the unix-socket folder it was built with (Debian's /var/run/postgresql
 * where it exists, else /tmp as upstream builds); `localhost` on Windows.
 */
export function defaultHost(): string {
  if (process.platform === 'win32') return 'localhost';
  return existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'postgres';
  }
}

export interface ResolveDefaults {
  host?: string;
  port?: number;
  user?: string;
  dbname?: string;
  connectTimeout?: number;
}

/**
 * Merges keyword values into a resolved target: `given` first, then the `PG*` variables of `env`,
 * then `defaults`, then libpq's (host: the socket folder, port 5432, user: the OS user, dbname: the
 * user, sslmode prefer). The host list and the port list are matched as libpq does: one port for
 * all hosts, or one per host. A host that was given is never replaced.
 * @throws CmmcError (exit 2) for values libpq would refuse, and for what postgres.js cannot do
 *   (`service`, `hostaddr`).
 */
export function resolveConnOptions(given: ConnOptions, env: NodeJS.ProcessEnv = process.env, defaults: ResolveDefaults = {}, from = 'the connection'): ConnParams {
  const pgEnv = optionsFromPgEnv(env);
  // libpq's order: what the string states, then the service's section, then the PG* variables. An
  // empty value is a value there (dbname='' keeps PGDATABASE and the section's dbname out, and then
  // means libpq's default): the layers are merged with their empty values, which are dropped after.
  const stated = definedOnly(given);
  const serviceName = stated.service ?? pgEnv.service;
  const service = serviceName !== undefined ? serviceOptions(serviceName, env) : undefined;
  const fromService = service?.options ?? {};
  const merged: ConnOptions = { ...pgEnv, ...fromService, ...stated };
  const o: ConnOptions = stripEmpty(merged);
  const fromPgEnv: Partial<Record<PgEnvField, string>> = {};
  for (const field of ['host', 'port', 'dbname', 'user', 'password', 'sslmode', 'target_session_attrs', 'options'] as const) {
    if (stated[field] === undefined && fromService[field] === undefined && pgEnv[field]) fromPgEnv[field] = ENV_OF[field]!;
  }
  // A refused value is named by the setting that held it: the PG* variable when one supplied it (the
  // source left it out: a URL without a port takes PGPORT's), the service file, else the source. One
  // name each, so that "X has ..." reads right whatever the source ("the PG* variables" would not).
  const holder = (key: ConnKeyword): string => {
    if (stated[key] !== undefined) return from;
    if (fromService[key] !== undefined) return service!.where;
    return pgEnv[key] !== undefined ? ENV_OF[key]! : from;
  };
  for (const key of EMPTY_REFUSED) {
    if (merged[key] === '') throw bad(`${holder(key)} has an empty ${key}, which libpq refuses`, `give ${key} a value, or remove it${holder(key) === ENV_OF[key] ? ` (unset ${ENV_OF[key]})` : ''} for the default`);
  }
  // libpq's deprecated PGREQUIRESSL=1 is sslmode=require when nothing else names an sslmode.
  if (o.sslmode === undefined && env.PGREQUIRESSL?.startsWith('1')) o.sslmode = 'require';
  if (o.hostaddr) {
    throw bad(`${holder('hostaddr')} gives a hostaddr; it is not supported here (postgres.js connects by host only)`, 'put the address in host= instead');
  }
  const hostList = (o.host ?? defaults.host ?? defaultHost()).split(',').map((h) => (h === '' ? (defaults.host ?? defaultHost()) : h));
  const portList = (o.port ?? '').split(',');
  if (portList.length !== 1 && portList.length !== hostList.length) {
    const hosts = `${hostList.length} host${hostList.length === 1 ? '' : 's'}`;
    const of = o.host !== undefined && holder('host') !== holder('port') ? ` of ${holder('host')}` : '';
    throw bad(`${holder('port')} has ${portList.length} ports for ${of ? `the ${hosts}${of}` : hosts}`, 'give one port for all hosts, or one port per host, in the same order');
  }
  const hosts: ConnHost[] = hostList.map((host, idx) => {
    const raw = (portList.length === 1 ? portList[0] : portList[idx]) || String(defaults.port ?? 5432);
    if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
      throw bad(`${holder('port')} has an invalid port "${raw}"`, 'use a port number such as 5432');
    }
    return { host, port: Number(raw), socket: host.startsWith('/') || host.startsWith('@') };
  });
  const user = o.user || defaults.user || osUser();
  // libpq 16: sslrootcert=system (the operating system's certificate authorities) makes verify-full
  // the default, and refuses a weaker sslmode given beside it.
  const system = o.sslrootcert === 'system';
  const sslmode = (o.sslmode ?? (system ? 'verify-full' : 'prefer')) as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw bad(`${holder('sslmode')} has an invalid sslmode "${o.sslmode}"`, `use one of ${SSL_MODES.join(', ')}`);
  if (system && sslmode !== 'verify-full') throw bad(`${holder('sslmode')} has the weak sslmode "${sslmode}", which may not be used with sslrootcert=system`, 'use sslmode=verify-full, or give sslrootcert the file of the certificate authority');
  const tsa = (o.target_session_attrs ?? 'any') as TargetSessionAttrs;
  if (!TSA.includes(tsa)) throw bad(`${holder('target_session_attrs')} has an invalid target_session_attrs "${o.target_session_attrs}"`, `use one of ${TSA.join(', ')}`);
  let connectTimeout = defaults.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S;
  // libpq reads these as C ints (parse_int_param) and refuses anything else, a number too large for
  // an int included; the keepalive ones only for a TCP connection, where they are used.
  const intOf = (key: ConnKeyword): number | undefined => {
    const raw = o[key];
    if (raw === undefined) return undefined;
    const n = /^[ \t\n\v\f\r]*[+-]?\d+[ \t\n\v\f\r]*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw bad(`${holder(key)} has an invalid ${key} "${raw}"`, `use a whole number${key === 'connect_timeout' || key === 'keepalives_idle' || key === 'keepalives_interval' ? ' of seconds, such as 10' : key === 'tcp_user_timeout' ? ' of milliseconds' : ''}`);
    return n;
  };
  const timeout = intOf('connect_timeout');
  // libpq: 0 or less waits for ever; 1 is raised to 2.
  if (timeout !== undefined) connectTimeout = timeout <= 0 ? 0 : Math.max(2, timeout);
  if (hosts.some((h) => !h.socket)) for (const key of ['keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout'] as const) intOf(key);
  const oneOf = (key: ConnKeyword, values: string[]) => {
    if (o[key] !== undefined && !values.includes(o[key]!)) throw bad(`${holder(key)} has an invalid ${key} "${o[key]}"`, `use one of ${values.join(', ')}`);
  };
  // libpq checks the TLS versions (any case; empty: no bound) and their order before connecting.
  const versions = Object.keys(TLS_VERSION_NAMES);
  for (const key of ['ssl_min_protocol_version', 'ssl_max_protocol_version'] as const) {
    if (o[key] !== undefined && !versions.includes(o[key]!.toLowerCase())) throw bad(`${holder(key)} has an invalid ${key} "${o[key]}"`, `use one of ${Object.values(TLS_VERSION_NAMES).join(', ')}`);
  }
  if (o.ssl_min_protocol_version && o.ssl_max_protocol_version && versions.indexOf(o.ssl_min_protocol_version.toLowerCase()) > versions.indexOf(o.ssl_max_protocol_version.toLowerCase())) {
    throw bad(`${holder('ssl_min_protocol_version')} has an invalid SSL protocol version range: ssl_min_protocol_version ${o.ssl_min_protocol_version} is above ssl_max_protocol_version ${o.ssl_max_protocol_version}`, 'make ssl_min_protocol_version at most ssl_max_protocol_version');
  }
  oneOf('channel_binding', ['disable', 'prefer', 'require']);
  oneOf('gssencmode', ['disable', 'prefer', 'require']);
  oneOf('load_balance_hosts', ['disable', 'random']);
  // What libpq would insist on and postgres.js cannot do: refused, rather than connecting without it.
  if (o.channel_binding === 'require') throw cannot(holder('channel_binding'), 'channel_binding=require', 'it has no SCRAM channel binding', 'drop channel_binding=require (TLS with sslmode=verify-full still authenticates the server)');
  if (o.gssencmode === 'require') throw cannot(holder('gssencmode'), 'gssencmode=require', 'it has no GSSAPI encryption', 'use TLS instead (sslmode=verify-full), or drop gssencmode=require');
  if (o.require_auth !== undefined) throw cannot(holder('require_auth'), `require_auth=${o.require_auth}`, 'it cannot limit the authentication methods it accepts', 'drop require_auth');
  const extra: ConnParams['extra'] = {};
  // `service` is resolved here: passed on, it would make pg_dump's libpq read the file again, its
  // section winning over the PG* variables that carry what the string said instead.
  const known = new Set(['service', 'host', 'port', 'user', 'password', 'dbname', 'passfile', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'application_name', 'options', 'target_session_attrs', 'fallback_application_name']);
  for (const [k, v] of Object.entries(o)) if (!known.has(k) && v !== undefined) extra[k as ConnKeyword] = v;
  return {
    hosts,
    user,
    ...(o.password !== undefined ? { password: o.password } : {}),
    dbname: o.dbname || defaults.dbname || user,
    ...(o.passfile ? { passfile: o.passfile } : {}),
    sslmode,
    ...(o.sslrootcert ? { sslrootcert: o.sslrootcert } : {}),
    ...(o.sslcert ? { sslcert: o.sslcert } : {}),
    ...(o.sslkey ? { sslkey: o.sslkey } : {}),
    connectTimeout,
    ...(o.application_name || o.fallback_application_name ? { applicationName: o.application_name || o.fallback_application_name } : {}),
    ...(o.options ? { options: o.options } : {}),
    targetSessionAttrs: tsa,
    extra,
    ...(Object.keys(fromPgEnv).length ? { fromPgEnv } : {}),
  };
}

/** A setting that libpq honours and postgres.js cannot: refused in one line (exit 2). */
function cannot(holder: string, setting: string, why: string, hint: string): CmmcError {
  return new CmmcError('connect.unsupported', `${holder} asks for ${setting}, which postgres.js, the driver used here, cannot honour (${why})`, { hint, exitCode: 2 });
}

/**
 * The service's settings as keyword values (libpq's parseServiceInfo), and how to name it in a message.
 * @throws CmmcError (exit 2) as libpq refuses: a missing service or file, a malformed line, an unknown keyword.
 */
function serviceOptions(name: string, env: NodeJS.ProcessEnv): { options: ConnOptions; where: string } {
  const found = findService(name, env);
  const options: ConnOptions = {};
  for (const { keyword, value, line } of found.settings) {
    if (!(CONN_KEYWORDS as readonly string[]).includes(keyword)) {
      throw bad(`syntax error in service file "${found.file}", line ${line}: unknown keyword "${keyword}"`, 'use libpq keywords such as host, port, dbname, user, sslmode');
    }
    // The first line for a keyword wins (libpq does not replace a value it has), an empty one too.
    if (options[keyword as ConnKeyword] === undefined) options[keyword as ConnKeyword] = value;
  }
  return { options, where: `service "${name}" (${found.file})` };
}

function definedOnly(o: ConnOptions): ConnOptions {
  const out: ConnOptions = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k as ConnKeyword] = v;
  return out;
}

function stripEmpty(o: ConnOptions): ConnOptions {
  const out: ConnOptions = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') out[k as ConnKeyword] = v;
  return out;
}

function encodeHost(h: ConnHost): string {
  if (h.socket) return encodeURIComponent(h.host);
  if (h.host.includes(':')) return `[${h.host}]`;
  return encodeURIComponent(h.host);
}

/**
 * The target as one `postgresql://` URI that libpq (psql) and `parseConnUri` both read back to the
 * same target: hosts in order with their ports, IPv6 in brackets, socket folders percent-encoded,
 * every other setting as a query parameter. Contains the password when one was given.
 */
export function formatConnUri(p: ConnParams): string {
  const userinfo = encodeURIComponent(p.user) + (p.password !== undefined ? ':' + encodeURIComponent(p.password) : '') + '@';
  const hosts = p.hosts.map((h) => `${encodeHost(h)}:${h.port}`).join(',');
  const q: [string, string][] = [];
  if (p.sslmode !== 'prefer') q.push(['sslmode', p.sslmode]);
  if (p.sslrootcert) q.push(['sslrootcert', p.sslrootcert]);
  if (p.sslcert) q.push(['sslcert', p.sslcert]);
  if (p.sslkey) q.push(['sslkey', p.sslkey]);
  if (p.passfile) q.push(['passfile', p.passfile]);
  q.push(['connect_timeout', String(p.connectTimeout)]);
  if (p.applicationName) q.push(['application_name', p.applicationName]);
  if (p.options) q.push(['options', p.options]);
  if (p.targetSessionAttrs !== 'any') q.push(['target_session_attrs', p.targetSessionAttrs]);
  for (const [k, v] of Object.entries(p.extra)) if (v !== undefined) q.push([k, v]);
  const query = q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return `postgresql://${userinfo}${hosts}/${encodeURIComponent(p.dbname)}${query ? '?' + query : ''}`;
}

/**
 * Parses a URI this module wrote (or any libpq URI) into a target without reading the environment:
 * what was resolved once is not re-resolved later against a different environment.
 */
export function connParamsOf(uri: string): ConnParams {
  return resolveConnOptions(parseConnString(uri, 'the database URL'), {});
}

/** The same target pointed at another database. */
export function withDbname(p: ConnParams, dbname: string): ConnParams {
  return { ...p, dbname };
}

/** `host:port` for messages (`[::1]:5432`, `/run/postgresql:5432`); several joined by commas. */
export function describeHosts(p: Pick<ConnParams, 'hosts'>): string {
  return p.hosts.map((h) => (h.host.includes(':') && !h.socket ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`)).join(',');
}

/** A connection string with any password masked; never throws. */
export function redactConnString(text: string): string {
  if (isConnUri(text)) {
    // libpq's reading: the credentials end at the first "@" before any "/", so a password may hold
    // "?", "#" or ":" (a "?" in it was left showing).
    let out = text.replace(/^(postgres(?:ql)?:\/\/[^@/:]*:)[^@/]*@/, '$1****@');
    out = out.replace(/([?&](?:password|sslpassword)=)[^&]*/g, '$1****');
    return out;
  }
  if (/^[a-z_]+\s*=/.test(text.trim())) {
    return text
      .replace(/((?:^|\s)(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)/g, '$1****')
      .replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, '$1****@');
  }
  // Neither form (a JDBC URL, `postgresql:/` with one slash, `user:pw@host`): where its password is
  // cannot be read, so every `…:secret@` of a word and every parameter named for a password, in any
  // case and after any separator (`?`, `&`, `;`), is masked.
  return text
    .replace(/((?:^|[\s?&;])[a-z_]*password\s*=\s*)[^\s&;]*/gi, '$1****')
    .replace(/(^|\s)([^\s:@]*:)[^\s]*@/g, '$1$2****@');
}

/**
 * Options whose value is a connection string or a secret: --url, --admin-url, --from (a live
 * database), and any option named for a password, secret or token.
 */
const SECRET_OPTION = /^--(?:url|admin-url|from|[a-z-]*(?:password|secret|token)[a-z-]*)$/;

/**
 * A secret option's value: a connection string keeps all but its password; anything else is masked
 * whole. A URL is masked up to its last "@" too: one libpq would refuse (a "/" in the password) is
 * still a password typed.
 */
function redactSecretValue(value: string): string {
  if (isConnUri(value)) return redactConnString(value).replace(/^(postgres(?:ql)?:\/\/[^@/:]*:)[^@]*@/, '$1****@');
  if (/^\s*[a-z_]+\s*=/.test(value)) return redactConnString(value);
  return '****';
}

/**
 * Command-line arguments with every password masked, for what outlives or leaves the process (the
 * embedded database's lock file, a message naming the command): each argument that is a
 * connection string (a URL, or keyword=value settings), and the value of each option that carries
 * one or a secret (`--admin-url URL`, `--admin-url=URL`). Never throws.
 *
 * @example redactArgs(['init', '--admin-url', 'postgres://postgres:pw@h/postgres']) // [..., 'postgres://postgres:****@h/postgres']
 */
export function redactArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0 && SECRET_OPTION.test(arg.slice(0, eq))) out.push(`${arg.slice(0, eq + 1)}${redactSecretValue(arg.slice(eq + 1))}`);
    else if (SECRET_OPTION.test(arg) && i + 1 < args.length) out.push(arg, redactSecretValue(args[++i]));
    else out.push(redactConnString(arg));
  }
  return out;
}
