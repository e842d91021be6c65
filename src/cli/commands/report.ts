import type { CliContext } from '../context.js';
import type { RegisterCommand } from './types.js';
import { replaceablePath, writeFileAtomically } from '../../fs-private.js';

interface ReportOptions {
  html?: string;
  open?: boolean;
  dir?: string;
  days?: string;
}

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('report')
    .description('one self-contained HTML page (or --json) for operators and assessors: health, growth, queries, schema, backups, evidence')
    .option('--html <file>', 'write the page to FILE (scripts, styles and data inlined; no network at view time)')
    .option('--open', 'with --html: open the page in a browser where there is one')
    .option('--dir <dir>', 'backup folder to read (default: $CMMC_BACKUP_DIR or ./backups)')
    .option('--days <n>', 'only recorded doctor runs of the last N days (default: all kept)')
    .addHelpText(
      'after',
      `
Growth and query trends come from recorded doctor runs: record them with
  cmmc-db doctor --record   (or: cmmc-db backup schedule install --doctor-at "45 2 * * *").
On the embedded database, statement figures, connections and index scan counts need a server;
the page says so where it applies.

Example:
  $ cmmc-db report --html report.html --open
  $ cmmc-db report --json > report.json`,
    )
    .action(ctx.action(async (options: ReportOptions) => runReport(ctx, options)));
};

async function runReport(ctx: CliContext, options: ReportOptions): Promise<number> {
  const { usageError } = await import('../../errors.js');
  if (!options.html && !ctx.out.json) throw usageError('say where the report goes: --html FILE, or --json for the data', 'for example: cmmc-db report --html report.html');
  if (options.open && !options.html) throw usageError('--open needs --html FILE');
  const { checkDays } = await import('../../doctor/days.js');
  const days = options.days === undefined ? undefined : checkDays(options.days, '--days', '--days 30 (or no --days for every run kept)');
  const path = await import('node:path');
  const fs = await import('node:fs');
  const file = options.html ? path.resolve(options.html) : undefined;
  if (file) {
    if (!fs.existsSync(path.dirname(file))) throw usageError(`the folder of ${options.html} does not exist`, `create ${path.dirname(file)} first`);
    // Said before anything else: a folder was offered to be "replaced", and --yes then failed after the whole report was collected.
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      throw usageError(`${options.html} is a folder`, `name a file in it, for example --html ${path.join(options.html!, 'report.html')}`);
    }
    // A device or a socket is refused now, before the report is collected (writeFileAtomically would refuse it after).
    replaceablePath(file);
    if (fs.existsSync(file) && !isReport(fs, file)) {
      const ok = await ctx.out.confirm(`${options.html} exists and is not a cmmc-db report: replace it?`, ctx.globals.yes);
      if (!ok) {
        ctx.out.info('nothing written');
        return 1;
      }
    }
  }

  const { DOCTOR_OPEN_OPTIONS } = await import('../../doctor/index.js');
  const report = await import('../../report/index.js');
  const handle = await ctx.open(DOCTOR_OPEN_OPTIONS);
  const spinner = await ctx.out.spinner('collecting the report');
  let data;
  try {
    data = await report.collectReport(handle, { backupDir: options.dir, sinceDays: days });
  } finally {
    spinner.stop();
  }
  if (file) {
    const html = report.renderHtml(data, report.loadAssets());
    // Owner-only (0600): it holds what doctor_runs keeps from single-tenant roles (docs/report.md).
    writeFileAtomically(file, html, 0o600);
    ctx.out.success(`wrote ${options.html} (${Math.round(html.length / 1024)} kB): ${data.growth.recorded.runs} recorded run(s), ${data.schema.revisions.length} revision(s), ${data.backups.backups.length} backup(s), ${data.backups.drills.length} drill(s)`);
    if (data.embedded) ctx.out.info(`embedded database: ${data.needsServer.map((n) => `${n.section} — ${n.what}`).join('; ')} need a server`);
    if (options.open) {
      const opened = await report.openInBrowser(file);
      if (opened.opened) ctx.out.info(`opened with ${opened.detail}`);
      else ctx.out.warn(`not opened: ${opened.detail}; open ${file} yourself`);
    }
  }
  if (ctx.out.json) ctx.out.data(data);
  return 0;
}

/** A file this command wrote before (replaced without asking). */
function isReport(fs: typeof import('node:fs'), file: string): boolean {
  try {
    // Regular files only: opening a FIFO to read waits for a writer, for ever.
    if (!fs.statSync(file).isFile()) return false;
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(512);
      const n = fs.readSync(fd, buf, 0, 512, 0);
      return buf.subarray(0, n).toString('utf8').includes('<meta name="generator" content="cmmc-db report">');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
