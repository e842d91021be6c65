/**
 * Runs the built CLI under a real pseudo-terminal of a given size (Python's pty module: the child's
 * stdin, stdout and stderr are the terminal, and TIOCSWINSZ sets its columns), as a user at an
 * 80-column terminal would see it. stdout and stderr arrive mixed, as on a terminal; "\r\n" is
 * turned back into "\n".
 */
import { startCliInPty } from './pty-session.js';

export interface PtyResult {
  exitCode: number;
  output: string;
}

/** The whole run under a terminal of `columns` (default 80): the one pty driver of pty-session.ts, nothing typed. */
export async function runCliInPty(args: string[], options: { columns?: number; url?: string; cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<PtyResult> {
  return startCliInPty(args, { ...options, columns: options.columns ?? 80 }).done;
}

/**
 * The lines of `text` longer than `columns` (ANSI colour codes not counted), leaving out the
 * "database: URL" line on stderr that names the target (a message, not a table; its length is the
 * URL's).
 */
export function linesLongerThan(text: string, columns: number): string[] {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('database: '))
    // eslint-disable-next-line no-control-regex
    .filter((l) => [...l.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')].length > columns);
}
