/**
 * Everything the CLI writes. Data goes to stdout (exactly one JSON document with --json),
 * messages to stderr. Colours and spinners only on a TTY and never with NO_COLOR or TERM=dumb.
 */
import readline from 'node:readline';
import type { ChalkInstance } from 'chalk';
import { CmmcError } from '../errors.js';
import { onInterrupt } from '../interrupt.js';
import { renderTable, type Cell } from './table.js';

/**
 * chalk is loaded only when colours can be shown (preloadColors, called once at start-up): a run
 * whose output goes to a pipe or a file, or with NO_COLOR, does not pay for it.
 */
let chalkModule: typeof import('chalk') | undefined;
export async function preloadColors(): Promise<void> {
  if (colorAllowed(process.stderr) || colorAllowed(process.stdout)) chalkModule ??= await import('chalk');
}

/** Stands in for chalk without colours: every style (and chain of styles) returns its text. */
const PLAIN: ChalkInstance = new Proxy(function plain() {}, {
  get: () => PLAIN,
  apply: (_target, _this, args: unknown[]) => args.join(' '),
}) as unknown as ChalkInstance;

export interface OutputOptions {
  json?: boolean;
  color?: boolean;
  /** --quiet: no progress or success messages on stderr (warnings and errors still show). */
  quiet?: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

export interface Spinner {
  set text(value: string);
  /** A line that stays (a wait, a note) printed above the spinner, which goes on spinning. */
  note(line: string): void;
  /** The same for a warning (kept by --quiet, as every warning). */
  warn(line: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

export class Output {
  readonly json: boolean;
  readonly color: boolean;
  readonly quiet: boolean;
  readonly c: ChalkInstance;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;

  constructor(options: OutputOptions = {}) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    this.color = (options.color ?? true) && colorAllowed(this.stderr);
    this.c = this.color && chalkModule ? new chalkModule.Chalk({ level: 1 }) : PLAIN;
  }

  /** A line of data on stdout (not used with --json). */
  line(text = ''): void {
    this.stdout.write(text + '\n');
  }

  /** The one JSON document of a --json run. */
  data(value: unknown): void {
    this.wroteData = true;
    this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** Whether the document of a --json run is out (a failed command without one gets an error document). */
  wroteData = false;

  info(text: string): void {
    if (!this.quiet) this.stderr.write(text + '\n');
  }
  success(text: string): void {
    if (!this.quiet) this.stderr.write(this.c.green('✔ ') + text + '\n');
  }
  warn(text: string): void {
    this.stderr.write(this.c.yellow('warning: ') + text + '\n');
  }
  error(text: string): void {
    this.stderr.write(this.c.red('error: ') + text + '\n');
  }

  /**
   * A table on stdout (src/cli/table.ts): fitted to the terminal's width, key/value lines for one
   * record, tab-separated rows when stdout is not a terminal.
   */
  table(head: string[], rows: Cell[][], options: { record?: boolean } = {}): void {
    const tty = Boolean(this.stdout.isTTY);
    this.stdout.write(
      renderTable(head, rows, { tty, columns: terminalColumns(this.stdout), header: (h) => this.c.bold(h), rule: (r) => this.c.dim(r), record: options.record }),
    );
  }

  /**
   * Free text that belongs with a table but not in a cell (remedies, SQL): printed whole below it,
   * one `label:` line and the text indented under it, never cut, so that it can be copied and run.
   */
  notes(items: { label: string; text: string | undefined }[]): void {
    for (const { label, text } of items) {
      if (!text) continue;
      this.line(`\n${this.c.bold(label)}:`);
      // On a terminal the text wraps at spaces only (a newline is whitespace to SQL and to a shell's
      // reading of a pasted line's words); a word is never cut. In a pipe it is left as it is.
      const width = this.stdout.isTTY ? terminalColumns(this.stdout) - 2 : Infinity;
      for (const l of text.split('\n')) for (const w of wrapWords(l, width)) this.line(`  ${w}`);
    }
  }

  /** An ora spinner on a TTY; elsewhere a silent stand-in that prints only the final line. */
  async spinner(text: string): Promise<Spinner> {
    // ora spins forever on a terminal that reports no width, so such a terminal gets the stand-in too.
    if (this.json || this.quiet || !this.stderr.isTTY || !colorAllowed(this.stderr) || !this.stderr.columns) {
      const out = this;
      let current = text;
      return {
        set text(value: string) {
          current = value;
        },
        note(line: string) {
          out.info(line);
        },
        warn(line: string) {
          out.warn(line);
        },
        succeed(final?: string) {
          out.success(final ?? current);
        },
        fail(final?: string) {
          out.error(final ?? current);
        },
        stop() {},
      };
    }
    const { default: ora } = await import('ora');
    // discardStdin: false. ora's default puts the terminal into raw mode to swallow key presses,
    // and in raw mode Ctrl-C is a key, not a signal: the run could not be interrupted.
    const spinner = ora({ text, stream: this.stderr, discardStdin: false }).start();
    // Interrupted: clear the spinner's line so that the final line stands alone.
    const release = onInterrupt(() => void spinner.stop());
    const end = (fn: () => void) => {
      release();
      fn();
    };
    return {
      set text(value: string) {
        spinner.text = value;
      },
      note: (line: string) => {
        spinner.clear();
        this.info(line);
        spinner.render();
      },
      warn: (line: string) => {
        spinner.clear();
        this.warn(line);
        spinner.render();
      },
      succeed: (final?: string) => end(() => spinner.succeed(final)),
      fail: (final?: string) => end(() => spinner.fail(final)),
      stop: () => end(() => spinner.stop()),
    };
  }

  /**
   * Asks before a destructive action (a plan with no lines). See `confirmPlan`.
   */
  async confirm(question: string, yes: boolean | undefined): Promise<boolean> {
    // Its commands (report's overwrite, init --revert-roles) have no --dry-run to suggest.
    return this.confirmPlan({ title: question.replace(/\?$/, '') }, { yes, hasDryRun: false });
  }

  /**
   * The one confirmation rule for every command that drops or overwrites data (downgrade,
   * stamp --purge, backup restore, backup prune, doctor kill-idle): the plan (what will go) is
   * shown on stderr; with `dryRun` that is all (returns false); `--yes` answers for the user; on a
   * terminal the user is asked, in every environment; with no terminal and no --yes it is refused
   * (CmmcError `confirm.required`, exit 1) rather than taken silently. Ctrl-C at the question
   * interrupts the run like anywhere else (exit 130); end of input is a no.
   */
  async confirmPlan(plan: Plan, options: { yes?: boolean; dryRun?: boolean; /** false: the command has no --dry-run to name in the hint. */ hasDryRun?: boolean }): Promise<boolean> {
    if (plan.lines?.length || plan.warnings?.length || options.dryRun) {
      this.info(`${plan.title}:`);
      for (const line of plan.lines ?? []) this.info(`  ${line}`);
      for (const w of plan.warnings ?? []) this.warn(w);
    }
    if (options.dryRun) {
      if (this.json && plan.data) this.data({ status: 'dry-run', ...plan.data });
      this.info('dry run: nothing was changed');
      return false;
    }
    if (options.yes) return true;
    const interactive = process.stdin.isTTY && this.stderr.isTTY;
    if (!interactive) {
      throw new CmmcError('confirm.required', `${plan.title}: refusing without confirmation`, {
        hint: options.hasDryRun === false ? 'run it again with --yes to confirm' : 'run it again with --yes to confirm (or --dry-run to see the plan)',
      });
    }
    const question = plan.lines?.length || plan.warnings?.length ? 'Go ahead?' : `${plan.title}?`;
    const rl = readline.createInterface({ input: process.stdin, output: this.stderr });
    try {
      const answer = await new Promise<string>((resolve) => {
        // On a terminal readline reads Ctrl-C as a key: hand it to the one signal handler.
        rl.on('SIGINT', () => {
          this.stderr.write('\n');
          void import('./signals.js').then((s) => s.interruptRun('SIGINT'));
        });
        rl.on('close', () => resolve(''));
        rl.question(`${question} [y/N] `, resolve);
      });
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  }
}

/** What a destructive command is about to do: shown before it asks, and by --dry-run. */
export interface Plan {
  /** One line: "Downgrade database cmmc from c4b9e2a61f24 to base". */
  title: string;
  /** What will go, one item a line (revisions, tables with row counts, files, sessions). */
  lines?: string[];
  /** Said in the warning colour (a backup of another database, production). */
  warnings?: string[];
  /** With --json and --dry-run, printed on stdout as the plan (status "dry-run"). */
  data?: Record<string, unknown>;
}

/** Breaks a line at spaces so that each piece fits `width` where it can; words are kept whole. */
function wrapWords(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      out.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  out.push(current);
  return out;
}

/** The terminal's width: COLUMNS when set (as `ls` reads it), else the stream's columns, else 80. */
export function terminalColumns(stream: NodeJS.WriteStream): number {
  const fromEnv = Number(process.env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return stream.columns || 80;
}

export function colorAllowed(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.TERM === 'dumb') return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}
