/**
 * The connection service file (`service=name` / PGSERVICE), found and read as libpq 15 reads it
 * (fe-connect.c: parseServiceInfo, parseServiceFile): PGSERVICEFILE (which must exist), else
 * ~/.pg_service.conf when it exists; the service's section there is the whole answer, else the
 * system-wide `pg_service.conf` in PGSYSCONFDIR (by default the folder libpq was built with:
 * /etc/postgresql-common on Debian, /usr/local/pgsql/etc upstream) is read. Lines are trimmed,
 * `#` starts a comment, `[name]` a section, and each setting is `keyword=value` with nothing
 * around the `=` (the value is taken as it is, no quoting). Which keywords exist is the
 * caller's business (src/config/conninfo.ts refuses the others in libpq's words).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CmmcError } from '../errors.js';

/** One `keyword=value` line of a service's section. */
export interface ServiceSetting {
  keyword: string;
  value: string;
  /** 1-based, for libpq's "syntax error in service file X, line N". */
  line: number;
}

/** The service's section: the file it was found in and its settings, in order. */
export interface ServiceDefinition {
  file: string;
  settings: ServiceSetting[];
}

function refused(message: string, hint: string): CmmcError {
  return new CmmcError('config.service', message, { hint, exitCode: 2 });
}

/** The folder of the system-wide pg_service.conf: PGSYSCONFDIR, else where libpq's builds keep it. */
function sysconfDir(env: NodeJS.ProcessEnv): string {
  if (env.PGSYSCONFDIR) return env.PGSYSCONFDIR;
  return existsSync('/etc/postgresql-common') ? '/etc/postgresql-common' : '/usr/local/pgsql/etc';
}

const exists = (file: string): boolean => {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
};

/**
 * The file's text; '' for a folder, which libpq opens and reads nothing from (fgets fails at once),
 * so that it defines no service and the next file is looked in.
 */
function serviceFileText(file: string): string {
  return statSync(file).isDirectory() ? '' : readFileSync(file, 'utf8');
}

/**
 * The section of service `name`, looked up as libpq does.
 * @throws CmmcError (exit 2) in libpq's words: PGSERVICEFILE names no file ("service file ... not
 *   found"), a line of the section is not `keyword=value` or names `service` again, or no file
 *   defines the service ("definition of service ... not found").
 */
export function findService(name: string, env: NodeJS.ProcessEnv): ServiceDefinition {
  const userFile = env.PGSERVICEFILE || path.join(env.HOME || os.homedir(), '.pg_service.conf');
  if (env.PGSERVICEFILE && !exists(userFile)) {
    throw refused(`service file "${userFile}" not found`, 'fix PGSERVICEFILE, or unset it to use ~/.pg_service.conf');
  }
  if (exists(userFile)) {
    const found = serviceSection(serviceFileText(userFile), name, userFile);
    if (found) return found;
  }
  const sysFile = path.join(sysconfDir(env), 'pg_service.conf');
  if (exists(sysFile)) {
    const found = serviceSection(serviceFileText(sysFile), name, sysFile);
    if (found) return found;
  }
  // An empty name (service= with nothing after it, PGSERVICE set to '') names no section to add.
  if (name === '') throw refused('definition of service "" not found', 'name the service (service=NAME or PGSERVICE=NAME), or remove service= and unset PGSERVICE');
  throw refused(`definition of service "${name}" not found`, `add a [${name}] section to ${userFile} (PGSERVICEFILE) or ${sysFile} (PGSYSCONFDIR), or fix the service name`);
}

/**
 * The settings of section `[name]` in the text of a service file; undefined when the file has no
 * such section. Pure.
 * @throws CmmcError for a line of that section that is not `keyword=value`, that is `service=`, or
 *   that is an LDAP lookup (`ldap://…`: not supported).
 */
export function serviceSection(text: string, name: string, file: string): ServiceDefinition | undefined {
  let inSection = false;
  let found = false;
  const settings: ServiceSetting[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // C's isspace, as libpq trims each line.
    const line = lines[i].replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (inSection) break;
      // libpq compares the name and wants "]" right after it (anything may follow).
      inSection = line.startsWith(`[${name}]`);
      found ||= inSection;
      continue;
    }
    if (!inSection) continue;
    const where = `service file "${file}", line ${i + 1}`;
    // libpq looks an `ldap…` line up in LDAP (its lines after it are the fallback when no LDAP
    // server answers). Refused rather than skipped: psql would connect where LDAP says.
    if (line.startsWith('ldap')) throw refused(`LDAP lookup of service "${name}" (${where}) is not supported`, `write the service's settings as keyword=value lines in its section instead of the ldap URL`);
    const eq = line.indexOf('=');
    if (eq < 0) throw refused(`syntax error in ${where}`, 'write each setting as keyword=value, with no spaces around the =');
    const keyword = line.slice(0, eq);
    if (keyword === 'service') throw refused(`nested service specifications not supported in ${where}`, 'remove the service= line from the section');
    settings.push({ keyword, value: line.slice(eq + 1), line: i + 1 });
  }
  return found ? { file, settings } : undefined;
}
