/** Pure parts of backups: retention choices with made-up dates, crontab lines, the cipher. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLOCK_SKEW_MS, datedInFuture, newestInPast, planRetention, weekKey, type RetentionItem, type RetentionPolicy } from '../src/backup/retention.js';
import { BEGIN_MARKER, END_MARKER, extractBlock, mergeBlock, scheduleBlock, shellQuote, validateCron } from '../src/backup/schedule.js';
import { decryptFile, encryptFile, HEADER_LEN } from '../src/backup/crypto.js';
import { CmmcError } from '../src/errors.js';

const NOW = new Date('2026-11-25T12:00:00Z');

/** One backup a day at 02:00 UTC for `days` days up to NOW, newest first. */
function nightly(days: number, verifiedNames: string[] = []): RetentionItem[] {
  return Array.from({ length: days }, (_, i) => {
    const d = new Date(Date.UTC(2026, 10, 25 - i, 2));
    const name = `db-${d.toISOString().slice(0, 10)}`;
    return { name, createdAt: d, verified: verifiedNames.includes(name) };
  });
}

const kept = (items: RetentionItem[], policy: Parameters<typeof planRetention>[1]) =>
  planRetention(items, policy, NOW)
    .filter((d) => d.keep)
    .map((d) => d.name);

describe('retention (pure)', () => {
  it('--keep-last keeps the N newest', () => {
    expect(kept(nightly(10), { keepLast: 3 })).toEqual(['db-2026-11-25', 'db-2026-11-24', 'db-2026-11-23']);
  });

  it('--keep-days keeps what is younger than N days', () => {
    // 2026-11-25 12:00 minus 3 days = 2026-11-22 12:00: the 02:00 backup of the 22nd is older.
    expect(kept(nightly(10), { keepDays: 3 })).toEqual(['db-2026-11-25', 'db-2026-11-24', 'db-2026-11-23']);
  });

  it('--keep-daily keeps the newest backup of each of the last N days that have one', () => {
    const items: RetentionItem[] = [
      { name: 'a-25-late', createdAt: new Date('2026-11-25T10:00:00Z'), verified: false },
      { name: 'a-25-early', createdAt: new Date('2026-11-25T01:00:00Z'), verified: false },
      { name: 'a-23', createdAt: new Date('2026-11-23T02:00:00Z'), verified: false },
      { name: 'a-20', createdAt: new Date('2026-11-20T02:00:00Z'), verified: false },
    ];
    // Days without a backup do not count: the two kept days are the 25th and the 23rd.
    expect(kept(items, { keepDaily: 2 })).toEqual(['a-25-late', 'a-23']);
  });

  it('--keep-weekly keeps the newest of each ISO week', () => {
    expect(weekKey(new Date('2026-11-23T00:00:00Z'))).toBe('2026-W48'); // a Monday
    expect(weekKey(new Date('2026-11-22T23:59:00Z'))).toBe('2026-W47'); // the Sunday before
    expect(weekKey(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    // 25th (Wed, W48), 22nd (Sun, W47), 15th (Sun, W46)
    expect(kept(nightly(30), { keepWeekly: 3 })).toEqual(['db-2026-11-25', 'db-2026-11-22', 'db-2026-11-15']);
  });

  it('--keep-monthly keeps the newest of each month', () => {
    const items = nightly(100);
    expect(kept(items, { keepMonthly: 3 })).toEqual(['db-2026-11-25', 'db-2026-10-31', 'db-2026-09-30']);
  });

  it('grandfather-father-son: rules combine, a backup kept by any rule stays, with its reasons', () => {
    const plan = planRetention(nightly(100), { keepDaily: 7, keepWeekly: 4, keepMonthly: 3 }, NOW);
    const keep = plan.filter((d) => d.keep).map((d) => d.name);
    expect(keep).toEqual([
      'db-2026-11-25',
      'db-2026-11-24',
      'db-2026-11-23',
      'db-2026-11-22',
      'db-2026-11-21',
      'db-2026-11-20',
      'db-2026-11-19',
      'db-2026-11-15',
      'db-2026-11-08',
      'db-2026-10-31',
      'db-2026-09-30',
    ]);
    expect(plan.find((d) => d.name === 'db-2026-11-22')!.reasons).toEqual(['daily 2026-11-22', 'weekly 2026-W47']);
    expect(plan.filter((d) => !d.keep)).toHaveLength(100 - 11);
  });

  it('never deletes the newest verified backup, even when no rule keeps it', () => {
    const items = nightly(10, ['db-2026-11-18', 'db-2026-11-17']);
    const plan = planRetention(items, { keepLast: 2 }, NOW);
    expect(plan.filter((d) => d.keep).map((d) => d.name)).toEqual(['db-2026-11-25', 'db-2026-11-24', 'db-2026-11-18']);
    expect(plan.find((d) => d.name === 'db-2026-11-18')!.reasons).toEqual(['newest verified']);
    expect(plan.find((d) => d.name === 'db-2026-11-17')!.keep).toBe(false);
  });

  it('a backup dated in the future (a wrong clock) is kept, counted by no rule, and never the newest verified', () => {
    const now = new Date('2026-11-25T03:00:00Z');
    const items = [
      { name: 'future', createdAt: new Date('2027-06-01T02:00:00Z'), verified: true },
      { name: 'skewed', createdAt: new Date('2026-11-25T03:02:00Z'), verified: false },
      { name: 'newest', createdAt: new Date('2026-11-25T02:00:00Z'), verified: true },
      { name: 'older', createdAt: new Date('2026-11-24T02:00:00Z'), verified: true },
    ];
    const plan = (policy: RetentionPolicy) => Object.fromEntries(planRetention(items, policy, now).map((d) => [d.name, d.keep ? d.reasons.join(', ') : 'delete']));
    // Two minutes ahead is a clock of another machine writing the folder, within the skew: made now.
    expect(plan({ keepLast: 1 })).toEqual({ future: 'dated in the future', skewed: 'last', newest: 'newest verified', older: 'delete' });
    expect(plan({ keepLast: 2 })).toEqual({ future: 'dated in the future', skewed: 'last', newest: 'last, newest verified', older: 'delete' });
    expect(plan({ keepDaily: 1 })).toEqual({ future: 'dated in the future', skewed: 'daily 2026-11-25', newest: 'newest verified', older: 'delete' });
    expect(plan({ keepDays: 0 })).toEqual({ future: 'dated in the future', skewed: 'days', newest: 'newest verified', older: 'delete' });
    expect(newestInPast(items, now, (i) => i.createdAt)?.name).toBe('skewed');
    expect(datedInFuture(new Date(now.getTime() + CLOCK_SKEW_MS), now)).toBe(false);
    expect(datedInFuture(new Date(now.getTime() + CLOCK_SKEW_MS + 1), now)).toBe(true);
  });

  it('keeps nothing extra when there are no backups, and everything with a generous rule', () => {
    expect(planRetention([], { keepLast: 3 }, NOW)).toEqual([]);
    expect(kept(nightly(5), { keepDays: 365 })).toHaveLength(5);
  });
});

describe('crontab lines (pure)', () => {
  const spec = { backupAt: '0 2 * * *', pruneAt: '30 2 * * *', keepDays: 30, cwd: '/srv/cmmc', node: '/usr/bin/node', bin: '/opt/cmmc-db/bin/cmmc-db.js', dir: '/srv/cmmc/backups' };

  it('builds a marked block: backup at 02:00 and prune after 30 days, with no password', () => {
    const block = scheduleBlock(spec);
    expect(block[0]).toBe(BEGIN_MARKER);
    expect(block.at(-1)).toBe(END_MARKER);
    expect(block[1]).toMatch(/^0 2 \* \* \* umask 077; cd '\/srv\/cmmc' && .* backup create --verify --dir '\/srv\/cmmc\/backups'/);
    expect(block[2]).toMatch(/^30 2 \* \* \* .* backup prune --dir '\/srv\/cmmc\/backups' --keep-days 30 --yes/);
    expect(block.join('\n')).not.toMatch(/postgres:\/\/|password|--url/i);
  });

  it('rejects bad expressions and second-level schedules', () => {
    expect(() => validateCron('61 2 * * *')).toThrow(CmmcError);
    expect(() => validateCron('0 2 * *')).toThrow(/5/);
    expect(() => validateCron('0 0 2 * * *')).toThrow(/6 fields/);
    expect(() => validateCron('every night')).toThrow(CmmcError);
    expect(validateCron('@daily')).toBe('@daily');
    expect(validateCron(' 15  1 * * 1-5 ')).toBe('15 1 * * 1-5');
  });

  it('merging replaces only its own block and removing leaves other lines alone', () => {
    const other = 'MAILTO=ops@example.com\n# nightly report\n5 4 * * * /usr/local/bin/report\n';
    const block = scheduleBlock(spec);
    const once = mergeBlock(other, block);
    expect(once.startsWith(other)).toBe(true);
    expect(mergeBlock(once, block)).toBe(once);
    const changed = mergeBlock(once, scheduleBlock({ ...spec, backupAt: '0 3 * * *' }));
    expect(changed.match(/cmmc-db backup schedule \(/g)).toHaveLength(1);
    expect(extractBlock(changed)![0]).toMatch(/^0 3 /);
    expect(mergeBlock(changed, undefined)).toBe(other);
  });

  it('a block whose markers do not pair up is refused, naming the line, and nothing is changed; blocks that do pair up all go', () => {
    const block = scheduleBlock(spec);
    const [begin, ...rest] = block;
    const ours = rest.slice(0, -1);
    const later = '15 4 * * * /usr/local/bin/vacuum-other-db';
    const cases: [string, string, RegExp][] = [
      ['no end marker', ['MAILTO=ops@example.com', begin, ...ours, later, ''].join('\n'), /^line 2 of the crontab opens cmmc-db's schedule block, and no line closes it/],
      ['a second begin before the end', [begin, ours[0], begin, ...ours, END_MARKER, later, ''].join('\n'), /^line 1 of the crontab opens .* another begins at line 3 before it is closed/],
      ['an end with no begin', [...ours, END_MARKER, later, ''].join('\n'), /^line 3 of the crontab closes a cmmc-db schedule block that no line opens/],
    ];
    for (const [what, text, message] of cases) {
      expect(() => mergeBlock(text, undefined), what).toThrow(message);
      expect(() => mergeBlock(text, block), what).toThrow(CmmcError);
      expect(() => extractBlock(text), what).toThrow(CmmcError);
    }
    // A marker with trailing blanks or a carriage return is still the marker; two closed blocks both go.
    const other = 'MAILTO=ops@example.com\n' + later + '\n';
    const twice = ['MAILTO=ops@example.com', begin + '  ', ...ours, END_MARKER + '\r', later, begin, ...ours, END_MARKER, ''].join('\n');
    expect(extractBlock(twice)).toEqual([...ours, ...ours]);
    expect(mergeBlock(twice, undefined)).toBe(other);
    expect(mergeBlock(twice, block)).toBe(['MAILTO=ops@example.com', ...block, later, ''].join('\n'));
  });

  it('quotes for sh and escapes % for cron', () => {
    expect(shellQuote("/it's/100%")).toBe("'/it'\\''s/100\\%'");
  });
});

describe('encryption (AES-256-GCM)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-crypto-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const key = Buffer.from('a-test-key-of-at-least-sixteen-bytes');
  const plain = path.join(dir, 'plain.bin');
  const enc = path.join(dir, 'plain.bin.enc');
  writeFileSync(plain, Buffer.concat([Buffer.from('PGDMP'), Buffer.alloc(200_000, 7)]));

  it('round-trips, and the ciphertext does not contain the plaintext', async () => {
    await encryptFile(plain, enc, key);
    const bytes = readFileSync(enc);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('CMMCENC\0');
    expect(bytes.includes(Buffer.alloc(64, 7))).toBe(false);
    await decryptFile(enc, path.join(dir, 'out.bin'), key);
    expect(readFileSync(path.join(dir, 'out.bin')).equals(readFileSync(plain))).toBe(true);
  });

  it('refuses a wrong key and a changed byte, each with its own one-line error', async () => {
    await expect(decryptFile(enc, path.join(dir, 'x'), Buffer.from('another-key-of-sixteen-bytes'))).rejects.toMatchObject({ code: 'backup.wrong-key' });
    const bytes = readFileSync(enc);
    bytes[HEADER_LEN + 1000] ^= 0x01;
    writeFileSync(path.join(dir, 'tampered.enc'), bytes);
    await expect(decryptFile(path.join(dir, 'tampered.enc'), path.join(dir, 'y'), key)).rejects.toMatchObject({ code: 'backup.tampered' });
    const header = readFileSync(enc);
    header[10] ^= 0x01; // inside the salt: the key check fails first
    writeFileSync(path.join(dir, 'header.enc'), header);
    await expect(decryptFile(path.join(dir, 'header.enc'), path.join(dir, 'z'), key)).rejects.toBeInstanceOf(CmmcError);
  });
});
