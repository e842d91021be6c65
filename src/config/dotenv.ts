/**
 * The project's `.env`: which file is read, for the CLI (which loads it into process.env at start)
 * and for the library (`resolveConfig()` with no `env`, which reads it under process.env without
 * changing process.env). One rule for both, so that a program using the library connects where the
 * CLI in the same folder connects: `.env` at the project root (found by walking up from the working
 * folder), or the file dotenv's own DOTENV_PATH (or its older DOTENV_CONFIG_PATH) names, `~` for the
 * home folder as dotenv reads it. What the environment already says wins over the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CREDENTIAL_VARIABLES } from '../child-env.js';
import { isRegularFile } from '../fs-private.js';
import { redactConnString } from './conninfo.js';

export type DotenvChoice =
  /** Nothing to read: no .env and no DOTENV_* setting (most runs). */
  | { read: false }
  /** `file` is there but is not a regular file (a FIFO or a device would block the read for ever, deaf to Ctrl-C). */
  | { read: false; warning: string }
  /** Read `file`; `named`: DOTENV_PATH or DOTENV_CONFIG_PATH chose it (dotenv.config finds it itself). */
  | { read: true; file: string; named: boolean };

/** Which `.env` to read for the project at `root`, given the environment `env`. */
export function dotenvChoice(root: string, env: NodeJS.ProcessEnv): DotenvChoice {
  const file = path.join(root, '.env');
  if (!existsSync(file) && !Object.keys(env).some((k) => k.startsWith('DOTENV_'))) return { read: false };
  const named = env.DOTENV_PATH ?? env.DOTENV_CONFIG_PATH;
  const chosen = named ? named.replace(/^~/, os.homedir()) : file;
  if (existsSync(chosen) && !isRegularFile(chosen)) return { read: false, warning: `${chosen} is not a regular file (a FIFO, socket, device or folder): not read` };
  return { read: true, file: chosen, named: Boolean(named) };
}

/**
 * `env` with the project's `.env` beneath it (a value in `env` wins), for the library: process.env
 * itself is left alone. An unreadable file is skipped, as dotenv's quiet mode does.
 */
export function withProjectDotenv(root: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const choice = dotenvChoice(root, env);
  if (!choice.read || !existsSync(choice.file)) return env;
  let text: string;
  try {
    text = readFileSync(choice.file, 'utf8');
  } catch {
    return env;
  }
  // dotenv's own parser (quotes, escapes, multi-line values, comments): loaded only when there is a file.
  const { parse } = createRequire(import.meta.url)('dotenv') as typeof import('dotenv');
  return { ...parse(text), ...env };
}

/**
 * The warning for a `.env` that holds a password (DB_PASSWORD, DB_OWNER_PASSWORD, POSTGRES_PASSWORD,
 * PGPASSWORD, a DATABASE_URL with one) and that group or others may read: the same exposure libpq
 * refuses in ~/.pgpass and the backup key file warns of. Undefined when it holds none or only its
 * owner may read it. `values` are the file's parsed settings.
 */
export function dotenvSecretWarning(file: string, values: Record<string, string>): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  const held = CREDENTIAL_VARIABLES.filter((name) => {
    const value = values[name];
    if (!value) return false;
    // A URL without a password (taken from ~/.pgpass) is no secret.
    return name !== 'DATABASE_URL' || redactConnString(value) !== value;
  });
  if (held.length === 0) return undefined;
  return `${file} holds ${held.join(', ')} and is readable by other users (mode ${mode.toString(8).padStart(3, '0')}): anyone who can read it can connect with ${held.length === 1 ? 'it' : 'them'}; chmod 600 it`;
}
