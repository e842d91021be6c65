/**
 * Scheduled backups through cron. The lines are built and merged purely; reading and writing go
 * to the user's crontab (`crontab -l` / `crontab -`) or to a file. cmmc-db's lines sit between two
 * marker comments, and only that block is ever replaced or removed. No line carries a password:
 * the job runs in the project folder and reads DATABASE_URL from its .env (or PGPASSFILE).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { CmmcError, usageError } from '../errors.js';
import { inheritedEnv } from '../child-env.js';
import { shellQuoted } from '../shell-word.js';
import { readRegularFile, writeFileAtomically } from '../fs-private.js';
import { checkRetentionDays, DEFAULT_RETENTION_DAYS } from '../doctor/days.js';

export const BEGIN_MARKER = '# >>> cmmc-db backup schedule (managed by `cmmc-db backup schedule`; do not edit inside) >>>';
export const END_MARKER = '# <<< cmmc-db backup schedule <<<';

export const DEFAULT_BACKUP_AT = '0 2 * * *';
export const DEFAULT_PRUNE_AT = '30 2 * * *';
export const DEFAULT_KEEP_DAYS = 30;

const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** Checks a crontab schedule (five fields, or @daily and the like); throws a usage error otherwise. */
export function validateCron(expr: string, what = 'schedule'): string {
  const value = expr.trim().replace(/\s+/g, ' ');
  if (MACROS.has(value)) return value;
  const fields = value.split(' ');
  if (fields.length !== 5) {
    throw usageError(`the ${what} "${expr}" has ${fields.length} fields; crontab needs 5 (minute hour day-of-month month day-of-week)`, 'for example "0 2 * * *" for 02:00 every night');
  }
  try {
    CronExpressionParser.parse(value, { strict: false });
  } catch (err) {
    throw usageError(`the ${what} "${expr}" is not a valid cron expression: ${(err as Error).message}`, 'for example "0 2 * * *" for 02:00 every night');
  }
  return value;
}

/** The next times a schedule fires (UTC), to show the user. */
export function nextRuns(expr: string, count = 3, from = new Date()): string[] {
  const e = CronExpressionParser.parse(expr === '@midnight' ? '0 0 * * *' : expr, { currentDate: from, tz: 'UTC' });
  return Array.from({ length: count }, () => e.next().toISOString() ?? '');
}

export interface ScheduleSpec {
  backupAt: string;
  pruneAt: string;
  keepDays: number;
  /** The folder the job runs in (its .env is read). */
  cwd: string;
  node: string;
  bin: string;
  dir: string;
  format?: string;
  keyFile?: string;
  /** When set, a third line runs `doctor --record` on this schedule (for `cmmc-db report`). */
  doctorAt?: string;
  /** Days of recorded doctor runs to keep (default 90). */
  doctorRetentionDays?: number;
  /** The settings that gave `dir` and `keyFile`, for messages (default `--dir`, `--key-file`): `CMMC_BACKUP_DIR`, `CMMC_BACKUP_KEY_FILE`. */
  from?: { dir?: string; keyFile?: string };
}

/** Single-quotes for sh, and escapes % which cron turns into a newline. */
export function shellQuote(value: string): string {
  return shellQuoted(value).replace(/%/g, '\\%');
}

/**
 * Refuses a value with a control character (a newline, a carriage return, a tab, …): crontab reads a
 * newline as the end of the line, so a folder named `x\n* * * * * cmd` would install a job of its
 * own; sh reads others as it pleases. `option` names where the value came from.
 * @throws a usage error (exit 2) naming the option.
 */
export function refuseControlCharacters(option: string, value: string | undefined): void {
  if (value === undefined) return;
  // eslint-disable-next-line no-control-regex
  const m = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u.exec(value);
  if (!m) return;
  const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  throw usageError(`${option} holds a control character (U+${code}), which the crontab line cannot carry: nothing was installed`, `use a value without newlines or other control characters${option === 'the current folder' ? ' (run it from another folder)' : ''}`);
}

/** The block of crontab lines (markers included). */
export function scheduleBlock(spec: ScheduleSpec): string[] {
  // Every value that goes into the line, checked before anything else.
  const values: [string, string | undefined][] = [
    ['--at', spec.backupAt],
    ['--prune-at', spec.pruneAt],
    ['--doctor-at', spec.doctorAt],
    [spec.from?.dir ?? '--dir', spec.dir],
    ['--format', spec.format],
    [spec.from?.keyFile ?? '--key-file', spec.keyFile],
    ['the current folder', spec.cwd],
    ["node's path", spec.node],
    ["cmmc-db's path", spec.bin],
  ];
  for (const [option, value] of values) refuseControlCharacters(option, value);
  const backupAt = validateCron(spec.backupAt, 'backup schedule');
  const pruneAt = validateCron(spec.pruneAt, 'prune schedule');
  if (!Number.isInteger(spec.keepDays) || spec.keepDays < 1) throw usageError('--keep-days must be a whole number of at least 1');
  const q = shellQuote;
  const prefix = `umask 077; cd ${q(spec.cwd)} && ${q(spec.node)} ${q(spec.bin)}`;
  const log = `>> ${q(spec.dir + '/cron.log')} 2>&1`;
  const create = [`backup create --verify --dir ${q(spec.dir)}`];
  if (spec.format && spec.format !== 'custom') create.push(`--format ${q(spec.format)}`);
  if (spec.keyFile) create.push(`--encrypt --key-file ${q(spec.keyFile)}`);
  const doctor: string[] = [];
  if (spec.doctorAt) {
    const doctorAt = validateCron(spec.doctorAt, 'doctor schedule');
    // The doctor's own rule: a figure it would refuse at 02:45 every night is refused now.
    const days = checkRetentionDays(spec.doctorRetentionDays ?? DEFAULT_RETENTION_DAYS, '--doctor-retention-days');
    // The doctor's exit code is its verdict (1 warn, 2 fail): cron mails on output, not on the code.
    doctor.push(`${doctorAt} ${prefix} doctor --record --retention-days ${days} ${log}`);
  }
  return [
    BEGIN_MARKER,
    `${backupAt} ${prefix} ${create.join(' ')} ${log}`,
    `${pruneAt} ${prefix} backup prune --dir ${q(spec.dir)} --keep-days ${spec.keepDays} --yes ${log}`,
    ...doctor,
    END_MARKER,
  ];
}

/**
 * Where cmmc-db's blocks are in the crontab's lines: `[begin, end]` line indexes, markers included
 * (a marker line is recognised with trailing blanks or a carriage return, as an editor may leave it).
 * Only a block closed by its end marker is cmmc-db's: the lines after a begin marker with no end
 * marker may be any other job (the end marker was deleted by hand, or the lines were pasted), and
 * an end marker with no begin leaves cmmc-db's lines above it unmarked. Either way nothing tells
 * cmmc-db's lines from the others', so the crontab is left as it is (replacing or removing up to
 * the end of the text deleted the user's other jobs).
 * @param where the crontab, for the message (`the crontab`, or the file).
 * @throws CmmcError `backup.crontab-block` naming the line and the fix.
 */
function markedBlocks(lines: string[], where: string): [number, number][] {
  const blocks: [number, number][] = [];
  let open: number | undefined;
  const refuse = (line: number, what: string) =>
    new CmmcError('backup.crontab-block', `line ${line + 1} of ${where} ${what}: cmmc-db cannot tell its own lines from the other jobs, and left ${where} as it was`, {
      hint: `edit it (crontab -e, or the file) so that cmmc-db's lines sit between "${BEGIN_MARKER}" and "${END_MARKER}", or delete cmmc-db's lines and both markers; then run the command again`,
    });
  lines.forEach((line, i) => {
    const text = line.trimEnd();
    if (text === BEGIN_MARKER) {
      if (open !== undefined) throw refuse(open, `opens cmmc-db's schedule block, and another begins at line ${i + 1} before it is closed`);
      open = i;
    } else if (text === END_MARKER) {
      if (open === undefined) throw refuse(i, "closes a cmmc-db schedule block that no line opens");
      blocks.push([open, i]);
      open = undefined;
    }
  });
  if (open !== undefined) throw refuse(open, `opens cmmc-db's schedule block, and no line closes it ("${END_MARKER}")`);
  return blocks;
}

/** The lines of cmmc-db's block(s) in a crontab text (markers excluded), or undefined when there is none. @throws as `markedBlocks`. */
export function extractBlock(text: string, where = 'the crontab'): string[] | undefined {
  const lines = text.split('\n');
  const blocks = markedBlocks(lines, where);
  if (!blocks.length) return undefined;
  return blocks.flatMap(([begin, end]) => lines.slice(begin + 1, end));
}

/**
 * The crontab text with cmmc-db's block replaced by `block` (or removed when undefined); other lines
 * untouched. Every cmmc-db block goes (two, when one was copied by hand: the job would run twice); the
 * new one takes the first's place. @throws as `markedBlocks`, changing nothing.
 */
export function mergeBlock(text: string, block: string[] | undefined, where = 'the crontab'): string {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const blocks = markedBlocks(lines, where);
  const at = blocks.length ? blocks[0][0] : lines.length;
  const inBlock = new Set(blocks.flatMap(([begin, end]) => Array.from({ length: end - begin + 1 }, (_, k) => begin + k)));
  const before = lines.slice(0, at).filter((_, i) => !inBlock.has(i));
  const after = lines.slice(at).filter((_, i) => !inBlock.has(at + i));
  const merged = [...before, ...(block ?? []), ...after];
  return merged.length ? merged.join('\n') + '\n' : '';
}

/** Reads the crontab: the file when given (missing = empty), else `crontab -l`. */
export async function readCrontab(file?: string): Promise<string> {
  // readRegularFile: a FIFO would block for ever; a folder is one line naming it.
  if (file) return existsSync(file) ? readRegularFile(file).toString('utf8') : '';
  const { execa } = await import('execa');
  const r = await execa('crontab', ['-l'], { reject: false, env: inheritedEnv(), extendEnv: false }).catch((err) => {
    throw crontabMissing(err);
  });
  if (r.exitCode === 0) return r.stdout.endsWith('\n') || !r.stdout ? r.stdout : r.stdout + '\n';
  if (/no crontab/i.test(r.stderr)) return '';
  throw new CmmcError('backup.crontab', `crontab -l failed: ${r.stderr.trim().split('\n').pop()}`, { hint: 'check that cron is installed, or use --crontab-file FILE' });
}

/** Writes the crontab: the file when given (replaced whole; a new file is 0600, an existing one keeps its mode), else `crontab -`. */
export async function writeCrontab(text: string, file?: string): Promise<void> {
  if (file) {
    const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
    writeFileAtomically(file, text, mode);
    return;
  }
  const { execa } = await import('execa');
  const r = await execa('crontab', ['-'], { input: text, reject: false, env: inheritedEnv(), extendEnv: false }).catch((err) => {
    throw crontabMissing(err);
  });
  if (r.exitCode !== 0) {
    throw new CmmcError('backup.crontab', `crontab refused the lines: ${r.stderr.trim().split('\n').pop()}`, { hint: 'check the schedule expressions' });
  }
}

function crontabMissing(err: unknown): CmmcError {
  return new CmmcError('backup.crontab', `the crontab command is not available (${(err as Error).message.split('\n')[0]})`, {
    hint: 'install cron (apt-get install cron) or write to a file with --crontab-file FILE',
  });
}
