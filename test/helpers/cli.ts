/**
 * Runs the built CLI as a user would — the command npm installs, bin/cmmc-db, which starts
 * bin/cmmc-db.js over dist/ — with stdout and stderr apart.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'cmmc-db.js');
/** The command npm installs (a shell script that starts BIN with Node: bin/cmmc-db). */
export const COMMAND = path.join(ROOT, 'bin', 'cmmc-db');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Database URL, passed as DATABASE_URL. */
  url?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** Environment with every database setting of the developer's shell removed. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined };
  for (const key of Object.keys(env)) {
    if (key === 'DATABASE_URL' || key.startsWith('DB_') || key.startsWith('CMMC_') || key.startsWith('PG') || key === 'NODE_ENV' || key.startsWith('POSTGRES_')) {
      delete env[key];
    }
  }
  return { ...env, ...extra };
}

export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await execa(COMMAND, args, {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv({ ...(options.url ? { DATABASE_URL: options.url } : {}), ...options.env }),
    extendEnv: false,
    reject: false,
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 120_000,
  });
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI and parses its stdout as the one JSON document of --json. */
export async function runCliJson<T = any>(args: string[], options: CliOptions = {}): Promise<{ exitCode: number; data: T; stderr: string }> {
  const r = await runCli([...args, '--json'], options);
  let data: T;
  try {
    data = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  }
  return { exitCode: r.exitCode, data, stderr: r.stderr };
}
