/**
 * Passwords from the password file (~/.pgpass, or PGPASSFILE / `passfile=`), with libpq's rules:
 * the first line whose host, port, database and user match (each `*` or equal; `\:` and `\\`
 * escaped) wins; a unix-socket host matches as `localhost`; a file readable by group or others is
 * ignored with a warning. The matching and the file checks are the `pgpass` package's (node-postgres'
 * own implementation of these rules).
 */
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { ConnParams } from './conninfo.js';

interface PgpassHelper {
  usePgPass(stat: import('node:fs').Stats, file: string): boolean;
  getPassword(connInfo: { host: string; port: string; database: string; user: string }, stream: NodeJS.ReadableStream, cb: (pass?: string) => void): void;
  warnTo(stream: NodeJS.WritableStream | null): NodeJS.WritableStream | null;
}
// Loaded when there is a password file to read (it loads readline and streams: about 6 ms of a
// start-up that most runs, with no ~/.pgpass, do not need).
let loaded: PgpassHelper | undefined;
const pgpass = (): PgpassHelper => {
  if (loaded) return loaded;
  loaded = createRequire(import.meta.url)('pgpass/lib/helper.js') as PgpassHelper;
  // Its warnings ("password file ... is not a plain file") come without a newline and in capitals:
  // each becomes one line, as our own warnings are.
  loaded.warnTo(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        process.stderr.write(`warning: ${chunk.toString().replace(/^WARNING: /, '').trimEnd()}\n`);
        done();
      },
    }),
  );
  return loaded;
};

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
 * file is absent, unsafe (group/world readable: libpq ignores it too) or has no matching line.
 */
export async function passwordFromPassfile(conn: ConnParams, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const file = passfilePath(conn, env);
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return undefined;
  }
  const helper = pgpass();
  if (!helper.usePgPass(stat, file)) return undefined;
  for (const h of conn.hosts) {
    const info = { host: h.socket ? 'localhost' : h.host, port: String(h.port), database: conn.dbname, user: conn.user };
    const found = await new Promise<string | undefined>((resolve) => helper.getPassword(info, createReadStream(file), resolve));
    if (found !== undefined) {
      answeredBy.set(targetKey(conn), file);
      return found;
    }
  }
  return undefined;
}
