/**
 * Retention, pure: which backups a policy keeps. Rules combine (a backup kept by any rule stays),
 * and the newest verified backup is always kept. Days, weeks (ISO) and months are UTC.
 * A backup dated in the future (a wrong clock, here or where it was made) is kept and counted by
 * no rule: it is not the newest, whatever its date says (`datedInFuture`).
 */

/**
 * How far after this machine's clock a backup may be dated and still count as made now: machines
 * that write one folder (containers, hosts sharing it) keep their clocks within seconds of each
 * other under NTP. Anything later was dated by a wrong clock.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Whether `createdAt` is later than `now` by more than CLOCK_SKEW_MS: a wrong clock dated it. */
export function datedInFuture(createdAt: Date | string, now: Date): boolean {
  return new Date(createdAt).getTime() - now.getTime() > CLOCK_SKEW_MS;
}

/**
 * The newest of `items` that is not dated in the future, or undefined. The one rule for "the
 * newest backup" (a restore or verify without a name, doctor's backups.recent, status, the report,
 * retention's newest verified): a backup dated next year by a wrong clock would otherwise stand in
 * for the real newest (restored in its place, deleted in its place by prune, counted as fresh by
 * doctor for a year).
 */
export function newestInPast<T>(items: readonly T[], now: Date, createdAt: (item: T) => Date | string): T | undefined {
  let best: { item: T; at: number } | undefined;
  for (const item of items) {
    if (datedInFuture(createdAt(item), now)) continue;
    const at = new Date(createdAt(item)).getTime();
    if (!best || at > best.at) best = { item, at };
  }
  return best?.item;
}

export interface RetentionPolicy {
  /** Keep the N newest backups. */
  keepLast?: number;
  /** Keep every backup younger than N days. */
  keepDays?: number;
  /** Keep the newest backup of each of the N most recent days that have one. */
  keepDaily?: number;
  /** … of each of the N most recent ISO weeks that have one. */
  keepWeekly?: number;
  /** … of each of the N most recent months that have one. */
  keepMonthly?: number;
}

export interface RetentionItem {
  name: string;
  createdAt: Date;
  verified: boolean;
}

export interface PruneDecision {
  name: string;
  createdAt: Date;
  keep: boolean;
  /** Why it stays: `last`, `days`, `daily 2026-11-24`, `weekly 2026-W47`, `monthly 2026-11`, `newest verified`. */
  reasons: string[];
}

export function hasRule(policy: RetentionPolicy): boolean {
  return [policy.keepLast, policy.keepDays, policy.keepDaily, policy.keepWeekly, policy.keepMonthly].some((v) => v !== undefined);
}

/**
 * Whether every rule given is 0 (`--keep-last 0`, `--keep-days 0 --keep-daily 0`, …): a policy that
 * keeps nothing, which would delete every backup but the newest verified one. Refused as no policy
 * at all, as restic refuses `forget --keep-last 0` (and as `schedule install` refuses `--keep-days 0`).
 */
export function keepsNothing(policy: RetentionPolicy): boolean {
  const given = [policy.keepLast, policy.keepDays, policy.keepDaily, policy.keepWeekly, policy.keepMonthly].filter((v) => v !== undefined);
  return given.length > 0 && given.every((v) => v === 0);
}

export function dayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function monthKey(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** ISO 8601 week, `2026-W48`. */
export function weekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((t.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/**
 * Decides, for each backup, whether the policy keeps it. Returns the backups newest first.
 *
 * @example
 * ```ts
 * planRetention(items, { keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, new Date())
 *   .filter((d) => !d.keep)   // what would be deleted
 * ```
 */
export function planRetention(items: RetentionItem[], policy: RetentionPolicy, now: Date): PruneDecision[] {
  const sorted = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name));
  const decisions: PruneDecision[] = sorted.map((i) => ({ name: i.name, createdAt: i.createdAt, keep: false, reasons: [] }));
  const keep = (i: number, reason: string) => {
    decisions[i].keep = true;
    decisions[i].reasons.push(reason);
  };

  // The rules count only what is not dated in the future; what is, is kept (its real age is unknown).
  const counted = sorted.flatMap((item, i) => (datedInFuture(item.createdAt, now) ? [] : [{ item, i }]));
  sorted.forEach((item, i) => {
    if (datedInFuture(item.createdAt, now)) keep(i, 'dated in the future');
  });
  if (policy.keepLast !== undefined) for (const { i } of counted.slice(0, policy.keepLast)) keep(i, 'last');
  if (policy.keepDays !== undefined) {
    const cutoff = now.getTime() - policy.keepDays * 86_400_000;
    for (const { item, i } of counted) if (item.createdAt.getTime() >= cutoff) keep(i, 'days');
  }
  const buckets = (count: number | undefined, label: string, key: (d: Date) => string) => {
    if (!count) return;
    const seen = new Set<string>();
    for (const { item, i } of counted) {
      const k = key(item.createdAt);
      if (seen.has(k) || seen.size >= count) continue;
      seen.add(k);
      keep(i, `${label} ${k}`);
    }
  };
  buckets(policy.keepDaily, 'daily', dayKey);
  buckets(policy.keepWeekly, 'weekly', weekKey);
  buckets(policy.keepMonthly, 'monthly', monthKey);

  const newestVerified = newestInPast(counted.filter(({ item }) => item.verified), now, ({ item }) => item.createdAt);
  if (newestVerified) keep(newestVerified.i, 'newest verified');
  return decisions;
}
