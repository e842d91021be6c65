/**
 * Numbers of days on the command line (`report --days`, `doctor --retention-days`,
 * `backup schedule install --doctor-retention-days`), checked by one rule. Pure: the backup bundle
 * imports it without the doctor's checks.
 */
import { CmmcError } from '../errors.js';

/** How long recorded runs are kept unless `--retention-days` says otherwise. */
export const DEFAULT_RETENTION_DAYS = 90;

/**
 * The most days `--days` and `--retention-days` may say: 100 years. A bigger figure is a typo, and it
 * failed as PostgreSQL's raw error: "out of range for type integer" past 2^31, "timestamp out of
 * range" once `now() - N days` leaves the calendar.
 */
export const MAX_DAYS = 36_500;

/**
 * Checks a number of days given as `option`: a whole number from 1 to MAX_DAYS. Throws a CmmcError
 * (`code`, exit 2) naming the option otherwise, its hint ending with `example`.
 */
export function checkDays(value: unknown, option: string, example: string, code = 'usage'): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < 1) {
    throw new CmmcError(code, `${option} "${String(value)}" is not a whole number of days`, { hint: `use a whole number of at least 1, for example ${example}`, exitCode: 2 });
  }
  if (n > MAX_DAYS) {
    throw new CmmcError(code, `${option} "${String(value)}" is more than ${MAX_DAYS} days (100 years)`, { hint: `use a whole number from 1 to ${MAX_DAYS}, for example ${example}`, exitCode: 2 });
  }
  return n;
}

/** Checks a retention in days (`--retention-days`, or `option`): checkDays, with the code doctor.retention. */
export function checkRetentionDays(value: unknown, option = '--retention-days'): number {
  return checkDays(value, option, `${option} 90`, 'doctor.retention');
}

