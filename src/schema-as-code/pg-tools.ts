/**
 * pg_dump and psql through execa, with the password passed in PGPASSWORD rather than on the
 * command line (where `ps` would show it).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CmmcError } from '../errors.js';

/** The path of a PostgreSQL client program: PATH first, then the newest /usr/lib/postgresql/N/bin. */
export function pgBinary(name: 'pg_dump' | 'psql'): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  try {
    const majors = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const major of majors) {
      const candidate = path.join('/usr/lib/postgresql', major, 'bin', name);
      if (existsSync(candidate)) return candidate;
    }
  } catch {
    // no Debian layout
  }
  throw new CmmcError('pgtools.missing', `${name} was not found`, { hint: 'install the PostgreSQL client programs (apt-get install postgresql-client)' });
}

/** The URL without its password, and the password for PGPASSWORD. */
export function splitPassword(url: string): { url: string; env: Record<string, string> } {
  const u = new URL(url);
  const password = u.password ? decodeURIComponent(u.password) : u.searchParams.get('password');
  u.password = '';
  u.searchParams.delete('password');
  return { url: u.toString(), env: password ? { PGPASSWORD: password } : {} };
}

/** Runs a PostgreSQL client program against `url`; returns stdout; throws with stderr on failure. */
export async function runPgTool(
  name: 'pg_dump' | 'psql',
  url: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const { url: bare, env } = splitPassword(url);
  const result = await execa(pgBinary(name), [...args, `--dbname=${bare}`], {
    env: { ...env, ...extraEnv, PGCONNECT_TIMEOUT: '30' },
    reject: false,
    stripFinalNewline: false,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? 1 };
}
