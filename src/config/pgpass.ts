/**
 * Passwords from the password file (~/.pgpass, or PGPASSFILE / `passfile=`), read as libpq 15 reads
 * it (fe-connect.c: passwordFromFile, pwdfMatchesString): the first line, not starting with `#`,
 * whose host, port, database and user fields match (a field of `*` alone matches anything; a
 * backslash escapes the next character, an unescaped `:` in a field matches a `:` of the value, so
 * `::1:5432:...` matches the host ::1); the password runs to the next unescaped `:`; the default
 * socket folder is looked up as `localhost`, any other socket folder as its path; a file that is not
 * a plain file, or that group or others can use, is ignored with a warning.
 *
 * Our own code, not the `pgpass` package (node-postgres'): that one ignores lines shorter than 11
 * characters, takes everything after the fourth `:` as the password, compares ports as numbers,
 * needs every `:` of a field escaped, and reads no file at all when PGPASSWORD is set but empty,
 * where libpq reads it; each would send a password other than psql's.
 */
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultHost, type ConnHost, type ConnParams } from './conninfo.js';

/** The password file libpq would read: `passfile=`, else PGPASSFILE, else ~/.pgpass. */
export function passfilePath(conn: Pick<ConnParams, 'passfile'>, env: NodeJS.ProcessEnv = process.env): string {
  if (conn.passfile) return conn.passfile;
  if (env.PGPASSFILE) return env.PGPASSFILE;
  return path.join(env.HOME || os.homedir(), '.pgpass');
}

/** The password file that answered for each target this process asked about (key: `targetKey`). */
const answeredBy = new Map<string, string>();
const targetKey = (conn: Pick<ConnParams, 'hosts' | 'dbname' | 'user'>) => JSON.stringify([conn.hosts.map((h) => [h.host, h.port]), conn.dbname, conn.user]);

/**
 * The password file that supplied the password for this target in this process, if one did: so that
 * a refused password is blamed on that file's line, not on a password nobody gave.
 */
export function passfileThatAnswered(conn: Pick<ConnParams, 'hosts' | 'dbname' | 'user'>): string | undefined {
  return answeredBy.get(targetKey(conn));
}

/**
 * The password for `conn` from the password file, trying its hosts in order; undefined when the
 * file is absent, unsafe (libpq ignores it too, and so says on stderr) or has no matching line.
 */
export async function passwordFromPassfile(conn: ConnParams, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const file = passfilePath(conn, env);
  const lines = readPassfile(file);
  if (!lines) return undefined;
  for (const h of conn.hosts) {
    const found = passwordFromLines(lines, passfileHost(h), String(h.port), conn.dbname, conn.user);
    if (found !== undefined) {
      answeredBy.set(targetKey(conn), file);
      return found;
    }
  }
  return undefined;
}

/** The host a password file line is matched against: libpq's default socket folder is "localhost". */
function passfileHost(h: ConnHost): string {
  return h.socket && h.host === defaultHost() ? 'localhost' : h.host;
}

/** The file's lines, or undefined (with libpq's warning) when libpq would not read it. */
function readPassfile(file: string): string[] | undefined {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return undefined;
  }
  if (process.platform !== 'win32') {
    if (!stat.isFile()) return warn(`password file "${file}" is not a plain file`);
    if (stat.mode & 0o077) return warn(`password file "${file}" has group or world access; permissions should be u=rw (0600) or less`);
  }
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return undefined;
  }
}

function warn(text: string): undefined {
  process.stderr.write(`warning: ${text}\n`);
  return undefined;
}

/**
 * The password of the first line matching host, port, database and user (libpq's passwordFromFile
 * over lines already read), de-escaped and ending at the next unescaped `:`.
 */
export function passwordFromLines(lines: readonly string[], host: string, port: string, dbname: string, user: string): string | undefined {
  if (!dbname || !user) return undefined;
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    const line = raw.replace(/[\r\n]+$/, '');
    if (line === '') continue;
    let at: number | undefined = 0;
    for (const value of [host, port, dbname, user]) {
      at = fieldMatches(line, at, value);
      if (at === undefined) break;
    }
    if (at === undefined) continue;
    let password = '';
    for (let i = at; i < line.length && line[i] !== ':'; i++) {
      if (line[i] === '\\' && i + 1 < line.length) i++;
      password += line[i];
    }
    return password;
  }
  return undefined;
}

/** libpq's pwdfMatchesString: where the next field starts when the field at `from` matches `value`. */
function fieldMatches(line: string, from: number, value: string): number | undefined {
  if (line[from] === '*' && line[from + 1] === ':') return from + 2;
  let i = from;
  let j = 0;
  while (i < line.length) {
    let escaped = false;
    if (line[i] === '\\') {
      i++;
      escaped = true;
    }
    if (line[i] === ':' && j === value.length && !escaped) return i + 1;
    if (j === value.length) return undefined;
    if (line[i] !== value[j]) return undefined;
    i++;
    j++;
  }
  return undefined;
}
