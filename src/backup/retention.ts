/**
 * Retention, pure: which backups a policy keeps. Rules combine (a backup kept by any rule stays),
 * and the newest verified backup is always kept. Days, weeks (ISO) and months are UTC.
 */

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

  if (policy.keepLast !== undefined) for (let i = 0; i < Math.min(policy.keepLast, sorted.length); i++) keep(i, 'last');
  if (policy.keepDays !== undefined) {
    const cutoff = now.getTime() - policy.keepDays * 86_400_000;
    sorted.forEach((item, i) => {
      if (item.createdAt.getTime() >= cutoff) keep(i, 'days');
    });
  }
  const buckets = (count: number | undefined, label: string, key: (d: Date) => string) => {
    if (!count) return;
    const seen = new Set<string>();
    sorted.forEach((item, i) => {
      const k = key(item.createdAt);
      if (seen.has(k) || seen.size >= count) return;
      seen.add(k);
      keep(i, `${label} ${k}`);
    });
  };
  buckets(policy.keepDaily, 'daily', dayKey);
  buckets(policy.keepWeekly, 'weekly', weekKey);
  buckets(policy.keepMonthly, 'monthly', monthKey);

  const newestVerified = sorted.findIndex((i) => i.verified);
  if (newestVerified >= 0) keep(newestVerified, 'newest verified');
  return decisions;
}
