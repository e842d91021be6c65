/**
 * Operating backups end to end: prune on real files (dry run, then --yes), schedule against a
 * crontab file, and pitr against the test server (where WAL archiving is off).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BIN, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, urlFor, type TestDatabase } from './helpers/server.js';

const PASSWORD = 'pw-never-shown-42';

describe('backup prune, schedule and pitr', () => {
  let tdb: TestDatabase;
  let url: string;
  let work: string;

  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_bkops');
    await query(tdb.url, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)`);
    const u = new URL(urlFor(tdb.name));
    u.password = PASSWORD;
    url = u.toString();
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bkops-'));
  });
  afterAll(async () => {
    await tdb.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a backup that fails leaves no folder it made for itself, and the folders that were there', async () => {
    const base = path.join(work, 'failing');
    const cases: [string, string][] = [
      ['refused', 'postgres://postgres@127.0.0.1:1/x'],
      ['rejected role', urlFor(tdb.name).replace('postgres@', 'cmmc_no_such_role@')],
    ];
    for (const [what, target] of cases) {
      const r = await runCli(['backup', '--dir', path.join(base, 'new', 'sub')], { url: target });
      expect(r.exitCode, what).toBe(1);
      expect(existsSync(path.join(base, 'new')), what).toBe(false);
    }
    // A folder that was there stays, empty as it was.
    const there = path.join(work, 'there');
    rmSync(there, { recursive: true, force: true });
    mkdirSync(there);
    expect((await runCli(['backup', '--dir', path.join(there, 'sub')], { url: cases[0][1] })).exitCode).toBe(1);
    expect(readdirSync(there)).toEqual([]);
  });

  it('prune: a dry run lists what would go, --yes deletes it, the newest verified backup always stays', async () => {
    const dir = path.join(work, 'prune');
    const made = await runCliJson(['backup', '--dir', dir], { url });
    expect(made.exitCode, made.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(made.data.manifestPath, 'utf8'));
    rmSync(made.data.path);
    rmSync(made.data.manifestPath);
    // Ten nightly backups with made-up dates, one of them (the 4th newest) verified.
    const names: string[] = [];
    for (let i = 0; i < 10; i++) {
      const date = new Date(Date.now() - i * 86_400_000 - 3_600_000);
      const name = `${tdb.name}-made-up-${i}`;
      names.push(name);
      const file = `${name}.dump`;
      writeFileSync(path.join(dir, file), `fake archive ${i}`, { mode: 0o600 });
      writeFileSync(
        path.join(dir, `${name}.manifest.json`),
        JSON.stringify({ ...manifest, name, file, createdAt: date.toISOString(), verified: { status: i === 3 ? 'verified' : 'unverified' } }),
      );
    }
    writeFileSync(path.join(dir, `${names[9]}.restore-drill-20260101T000000Z.json`), '{}');
    // Unfinished files: one from a crash two days ago, one being written right now.
    writeFileSync(path.join(dir, '.crashed-20260101T000000Z.dump.partial'), 'half');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(path.join(dir, '.crashed-20260101T000000Z.dump.partial'), twoDaysAgo, twoDaysAgo);
    writeFileSync(path.join(dir, '.running-now.dump.partial'), 'writing');

    const none = await runCli(['backup', 'prune', '--dir', dir]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('at least one keep rule');

    // Rules that are all 0 keep nothing: refused as no rule at all (they deleted every backup but the newest verified).
    for (const zero of [['--keep-last', '0'], ['--keep-days', '0'], ['--keep-daily', '0', '--keep-weekly', '0', '--keep-monthly', '0']]) {
      const r = await runCli(['backup', 'prune', '--dir', dir, ...zero, '--yes'], { url });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${zero.join(' ').replace(/ 0 /g, ' 0, ')} keep`);
      expect(r.stderr).toContain('no backup: prune would delete every backup of this database but the newest verified one; nothing was deleted — keep at least the newest (--keep-last 1)');
      expect(readdirSync(dir).filter((f) => f.endsWith('.dump'))).toHaveLength(10);
    }

    // Without a terminal and without --yes (or --dry-run): the plan, then a refusal; nothing goes.
    const refused = await runCli(['backup', 'prune', '--dir', dir, '--keep-last', '2', '--keep-days', '1'], { url });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('refusing without confirmation');
    expect(readdirSync(dir).filter((f) => f.endsWith('.dump'))).toHaveLength(10);

    const dry = await runCliJson(['backup', 'prune', '--dir', dir, '--keep-last', '2', '--keep-days', '1', '--dry-run'], { url });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.data.dryRun).toBe(true);
    const plan = Object.fromEntries(dry.data.entries.map((e: any) => [e.name, e.action]));
    expect(names.filter((n) => plan[n] === 'keep')).toEqual([names[0], names[1], names[3]]);
    expect(dry.data.entries.find((e: any) => e.name === names[3]).reasons).toEqual(['newest verified']);
    expect(readdirSync(dir).filter((f) => f.endsWith('.dump'))).toHaveLength(10);
    expect(dry.stderr).toContain('dry run: nothing was changed');
    expect(dry.data.stalePartials).toEqual(['.crashed-20260101T000000Z.dump.partial']);

    const explicitDry = await runCliJson(['backup', 'prune', '--dir', dir, '--keep-last', '2', '--dry-run', '--yes'], { url });
    expect(explicitDry.data.dryRun).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.dump'))).toHaveLength(10);

    const gfs = await runCliJson(['backup', 'prune', '--dir', dir, '--keep-daily', '3', '--keep-weekly', '2', '--dry-run'], { url });
    expect(gfs.data.entries.filter((e: any) => e.action === 'keep').length).toBeGreaterThanOrEqual(4);

    const real = await runCliJson(['backup', 'prune', '--dir', dir, '--keep-last', '2', '--yes'], { url });
    expect(real.exitCode, real.stderr).toBe(0);
    expect(real.data.deleted.sort()).toEqual(names.filter((_, i) => ![0, 1, 3].includes(i)).sort());
    const left = readdirSync(dir).sort();
    expect(left).toEqual(['.running-now.dump.partial', ...[names[0], names[1], names[3]].flatMap((n) => [`${n}.dump`, `${n}.manifest.json`])].sort());
  });

  it('schedule: installs, shows, re-installs idempotently, replaces, and removes only its own lines of a crontab file', async () => {
    const file = path.join(work, 'crontab');
    const others = 'MAILTO=ops@example.com\n# rotate logs\n0 5 * * * /usr/sbin/logrotate /etc/logrotate.conf\n';
    writeFileSync(file, others, { mode: 0o644 });

    const printed = await runCli(['backup', 'schedule', 'install', '--print', '--crontab-file', file, '--dir', path.join(work, 'b')], { url });
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^0 2 \* \* \* .*backup create/m);
    expect(readFileSync(file, 'utf8')).toBe(others);

    const installed = await runCliJson(['--url', url, 'backup', 'schedule', 'install', '--crontab-file', file, '--dir', path.join(work, 'b')]);
    expect(installed.exitCode, installed.stderr).toBe(0);
    expect(installed.data.changed).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith(others)).toBe(true);
    expect(text).toMatch(/^0 2 \* \* \* umask 077; cd .* backup create --verify --dir '.*\/b' >> .*cron\.log' 2>&1$/m);
    expect(text).toMatch(/^30 2 \* \* \* .* backup prune --dir '.*\/b' --keep-days 30 --yes /m);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('postgres://');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(installed.stderr).toContain('does not carry --url');
    expect(installed.stderr + JSON.stringify(installed.data)).not.toContain(PASSWORD);

    const shown = await runCliJson(['backup', 'schedule', 'show', '--crontab-file', file]);
    expect(shown.data.installed).toBe(true);
    expect(shown.data.lines).toHaveLength(2);

    const again = await runCliJson(['backup', 'schedule', 'install', '--crontab-file', file, '--dir', path.join(work, 'b')], { url });
    expect(again.data.changed).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(text);

    const bad = await runCli(['backup', 'schedule', 'install', '--crontab-file', file, '--at', '61 2 * * *']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('not a valid cron expression');
    const badFields = await runCli(['backup', 'schedule', 'install', '--crontab-file', file, '--at', '0 0 2 * * *']);
    expect(badFields.exitCode).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe(text);

    const moved = await runCliJson(['backup', 'schedule', 'install', '--crontab-file', file, '--at', '15 1 * * *', '--keep-days', '14', '--dir', path.join(work, 'b')]);
    expect(moved.exitCode, moved.stderr).toBe(0);
    const movedText = readFileSync(file, 'utf8');
    expect(movedText).toMatch(/^15 1 \* \* \* /m);
    expect(movedText).toContain('--keep-days 14');
    expect(movedText).not.toMatch(/^0 2 \* \* \* /m);
    expect(movedText.split('\n').filter((l) => l.startsWith('# >>> cmmc-db'))).toHaveLength(1);

    const removed = await runCliJson(['backup', 'schedule', 'remove', '--crontab-file', file]);
    expect(removed.data.removed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(others);
    const removedAgain = await runCliJson(['backup', 'schedule', 'remove', '--crontab-file', file]);
    expect(removedAgain.data.removed).toBe(false);
    const empty = await runCli(['backup', 'schedule', 'show', '--crontab-file', file]);
    expect(empty.stderr).toContain('no cmmc-db schedule');
    expect(existsSync(file)).toBe(true);

    const fresh = path.join(work, 'new-crontab');
    const created = await runCli(['backup', 'schedule', 'install', '--crontab-file', fresh]);
    expect(created.exitCode, created.stderr).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(readFileSync(fresh, 'utf8').split('\n').filter(Boolean)).toHaveLength(4);
  });

  it('schedule remove, install and show leave a crontab whose cmmc-db block lost its end marker as it was, in one line naming the line', async () => {
    const file = path.join(work, 'crontab-unclosed');
    writeFileSync(file, 'MAILTO=ops@example.com\n', { mode: 0o600 });
    const installed = await runCli(['backup', 'schedule', 'install', '--crontab-file', file, '--dir', path.join(work, 'b')]);
    expect(installed.exitCode, installed.stderr).toBe(0);
    // Edited by hand: the end marker deleted, another job added after cmmc-db's lines.
    const edited = readFileSync(file, 'utf8').replace(/^# <<< cmmc-db.*\n/m, '') + '15 4 * * * /usr/local/bin/vacuum-other-db\n';
    writeFileSync(file, edited);
    for (const args of [['remove'], ['install', '--dir', path.join(work, 'b')], ['show']]) {
      const r = await runCli(['backup', 'schedule', ...args, '--crontab-file', file]);
      expect(r.exitCode, args[0]).toBe(1);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toEqual([
        expect.stringMatching(new RegExp(`^error: line 2 of ${file} opens cmmc-db's schedule block, and no line closes it .*left ${file} as it was`)),
      ]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readFileSync(file, 'utf8')).toBe(edited);
    }
  });

  it('schedule install refuses a key file the nightly job could not read (a pipe from <(…), a missing file, a folder), and leaves the crontab as it was', async () => {
    // It wrote '--key-file /dev/fd/63' (or the missing path) into the crontab: every nightly backup failed, said only in cron.log.
    const file = path.join(work, 'crontab-keys');
    writeFileSync(file, 'MAILTO=ops@example.com\n', { mode: 0o644 });
    const key = path.join(work, 'nightly.key');
    writeFileSync(key, 'a-long-random-looking-key-for-the-nightly-job-0123\n', { mode: 0o600 });
    const install = (keyArg: string) =>
      execa('bash', ['-c', `node ${JSON.stringify(BIN)} backup schedule install --crontab-file ${JSON.stringify(file)} --dir ${JSON.stringify(path.join(work, 'b'))} --encrypt --key-file ${keyArg}`], {
        cwd: work,
        env: cleanEnv({ DATABASE_URL: url }),
        extendEnv: false,
        reject: false,
      });
    const cases: [string, RegExp][] = [
      [`<(cat ${JSON.stringify(key)})`, /^error: the key file \/(dev|proc\/self)\/fd\/\d+ is a pipe \(process substitution\?\): the scheduled job reads the key file each time it runs, long after this pipe is gone; nothing was installed — /m],
      [JSON.stringify(path.join(work, 'no-such.key')), /^error: cannot read the key file .*no-such\.key: ENOENT; the scheduled backups would all fail, nothing was installed — /m],
      [JSON.stringify(work), /^error: the key file .* is a folder, not a file: the scheduled backups would all fail; nothing was installed — /m],
      // The key file on a descriptor of this shell: a regular file now, and nothing for the job (cron's
      // stdin is empty; it has no descriptor 3). '--key-file /dev/stdin' went into the crontab as it was.
      ...[`/dev/stdin < ${JSON.stringify(key)}`, `/dev/fd/3 3< ${JSON.stringify(key)}`, `/proc/self/fd/4 4< ${JSON.stringify(key)}`].map((arg): [string, RegExp] => [
        arg,
        new RegExp(`^error: the key file ${arg.split(' ')[0]} is one of this command's open files \\(standard input, /dev/fd/N, /proc/…/fd/N\\), which the scheduled job does not have when it runs; nothing was installed — `, 'm'),
      ]),
    ];
    for (const [keyArg, said] of cases) {
      const r = await install(keyArg);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(said);
      expect(readFileSync(file, 'utf8')).toBe('MAILTO=ops@example.com\n');
    }
    const ok = await install(JSON.stringify(key));
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain(`--encrypt --key-file '${key}'`);
  });

  it('schedule goes through the crontab command when no --crontab-file is given (crontab -l / crontab -)', async () => {
    // A stand-in crontab on PATH that keeps the table in a file, so the user's real crontab is never touched.
    const bin = mkdtempSync(path.join(work, 'bin-'));
    const store = path.join(bin, 'table');
    writeFileSync(store, '0 6 * * * /usr/local/bin/other-job\n');
    writeFileSync(
      path.join(bin, 'crontab'),
      `#!/bin/sh\nif [ "$1" = "-l" ]; then cat '${store}'; exit 0; fi\nif [ "$1" = "-" ]; then cat > '${store}'; exit 0; fi\nexit 1\n`,
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const r = await runCli(['backup', 'schedule', 'install', '--dir', path.join(work, 'b')], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const text = readFileSync(store, 'utf8');
    expect(text.startsWith('0 6 * * * /usr/local/bin/other-job\n')).toBe(true);
    expect(text).toContain('backup create --verify');
    const shown = await runCliJson(['backup', 'schedule', 'show'], { env });
    expect(shown.data.lines).toHaveLength(2);
    const removed = await runCli(['backup', 'schedule', 'remove'], { env });
    expect(removed.exitCode).toBe(0);
    expect(readFileSync(store, 'utf8')).toBe('0 6 * * * /usr/local/bin/other-job\n');
  });

  it('pitr prints the archiving settings and a recovery recipe to a target time', async () => {
    const r = await runCli(['backup', 'pitr', '--target-time', '2026-11-25 06:00:00+00', '--archive-dir', '/srv/wal'], { url });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('wal_level = replica');
    expect(r.stdout).toContain('archive_mode = on');
    expect(r.stdout).toContain("archive_command = 'test ! -f /srv/wal/%f && cp %p /srv/wal/%f'");
    expect(r.stdout).toContain("recovery_target_time = '2026-11-25 06:00:00+00'");
    expect(r.stdout).toContain('recovery.signal');
  });

  it('pitr --check on the test server: archiving is off, it says so and exits 1', async () => {
    const r = await runCliJson(['backup', 'pitr', '--check'], { url });
    expect(r.exitCode).toBe(1);
    expect(r.data.archiving).toBe(false);
    expect(r.data.status).toBe('fail');
    expect(r.data.checks.find((c: any) => c.id === 'archive_mode')).toMatchObject({ status: 'fail', figure: 'off' });
    expect(r.data.checks.map((c: any) => c.id)).toEqual(['wal_level', 'archive_mode', 'archive_command', 'pg_stat_archiver']);
    expect(r.stderr).toContain('WAL archiving is off');
    expect(r.stderr).not.toContain(PASSWORD);
  });
});
