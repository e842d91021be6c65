/**
 * What an application prints of the objects the library hands it. A configuration and a database
 * handle hold the passwords they connect with (`url`, `ownerUrl`, `conn.password`); logged as they
 * are (`console.log(pool)`, a logger's JSON.stringify, `util.inspect` in an error report) they
 * printed them. Marked here, they print as themselves with every password masked, while the values
 * stay as they are for connecting.
 */
import { inspect } from 'node:util';
import type { ConnParams } from './conninfo.js';
import { redactConnString } from './conninfo.js';

/** The mask a printed password shows (as redactUrl's). */
const MASK = '****';

/**
 * Makes `value` print as `printable(value)`: JSON.stringify (toJSON) and util.inspect, so
 * console.log and util.format too. Both are own enumerable properties, so a copy made with
 * `{ ...value, url }` prints its own values masked as well. Returns `value`.
 */
export function printMasked<T extends object>(value: T, printable: (self: T) => object): T {
  return Object.assign(value, {
    toJSON(this: T) {
      return printable(this);
    },
    [inspect.custom](this: T) {
      return printable(this);
    },
  });
}

/** `value`'s own properties without the two printMasked adds (a plain object: it prints as itself). */
export function plainCopy(value: object): Record<string, unknown> {
  const { toJSON: _json, [inspect.custom]: _inspect, ...rest } = value as Record<string | symbol, unknown>;
  return rest as Record<string, unknown>;
}

/** A connection string (URL or keyword/value) with its password masked; undefined stays undefined. */
export function maskedUrl(url: string | undefined): string | undefined {
  return url === undefined ? undefined : redactConnString(url);
}

/** A resolved target with its password (and TLS key password) masked. */
export function maskedConn(conn: ConnParams | undefined): ConnParams | undefined {
  if (!conn) return undefined;
  const extra = conn.extra.sslpassword === undefined ? conn.extra : { ...conn.extra, sslpassword: MASK };
  return { ...conn, ...(conn.password !== undefined ? { password: MASK } : {}), extra };
}

/** A SQL string literal ('…' with '' inside, E'…' with backslash escapes, $tag$…$tag$), or its start where the text was cut. */
const SQL_LITERAL = String.raw`[Ee]'(?:[^'\\]|\\[\s\S]|'')*'?|'(?:[^']|'')*'?|\$(?<tag>[A-Za-z_][A-Za-z_0-9]*)?\$[\s\S]*?(?:\$\k<tag>\$|$)`;
/** `PASSWORD '…'` (CREATE/ALTER ROLE, a user mapping's OPTIONS (password '…')): the literal after the keyword. */
const SQL_PASSWORD = new RegExp(String.raw`(\bpassword\s*)(?:${SQL_LITERAL})`, 'gi');
/**
 * `password=…` anywhere (a connection string inside a literal, PGPASSWORD=… in a shell command, a
 * column compared with a literal): a quoted value whole, else up to a space, quote, "&" or ")".
 */
const KEYWORD_PASSWORD = /(\b[a-z_]*password\s*=\s*)(?:'(?:[^']|'')*'?|"[^"]*"?|[^\s'"&)]*)/gi;
/** A URL's credentials (`scheme://user:secret@`). */
const URL_PASSWORD = /(\/\/[^:/@\s'"]*:)[^@\s'"]*@/g;

/**
 * Text that another session or the server's configuration wrote (pg_stat_activity.query,
 * pg_stat_statements, archive_command) with its passwords masked: `ALTER ROLE … PASSWORD '…'`
 * (PostgreSQL keeps the statement as sent, and a monitoring role reads it), connection strings
 * inside literals (`dblink_connect('… password=…')`, `CREATE SUBSCRIPTION … CONNECTION '…'`), URL
 * credentials, `PGPASSWORD=…`. Masked before the text is cut, so that a cut never leaves half a
 * password; a literal the server had already cut is masked to the end. Never throws.
 *
 * @example maskedSqlText("ALTER ROLE app PASSWORD 'pw'") // "ALTER ROLE app PASSWORD '****'"
 */
export function maskedSqlText(text: string): string {
  return text
    .replace(SQL_PASSWORD, `$1'${MASK}'`)
    .replace(KEYWORD_PASSWORD, `$1${MASK}`)
    .replace(URL_PASSWORD, `$1${MASK}@`);
}
