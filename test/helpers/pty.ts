/**
 * Runs the built CLI under a real pseudo-terminal of a given size (Python's pty module: the child's
 * stdin, stdout and stderr are the terminal, and TIOCSWINSZ sets its columns), as a user at an
 * 80-column terminal would see it. stdout and stderr arrive mixed, as on a terminal; "\r\n" is
 * turned back into "\n".
 */
import { execa } from 'execa';
import { BIN, ROOT, cleanEnv } from './cli.js';

const DRIVER = `
import fcntl, os, struct, sys, termios
cols, rows = int(sys.argv[1]), int(sys.argv[2])
fd, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for n in (0, 1, 2):
        os.dup2(slave, n)
    os.close(fd)
    os.execvp(sys.argv[3], sys.argv[3:])
os.close(slave)
chunks = []
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    chunks.append(data)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(b''.join(chunks))
sys.exit(os.waitstatus_to_exitcode(status))
`;

export interface PtyResult {
  exitCode: number;
  output: string;
}

export async function runCliInPty(args: string[], options: { columns?: number; url?: string; cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<PtyResult> {
  const columns = options.columns ?? 80;
  const r = await execa('python3', ['-c', DRIVER, String(columns), '40', 'node', BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv({ ...(options.url ? { DATABASE_URL: options.url } : {}), COLUMNS: undefined, LINES: undefined, TERM: 'xterm', ...options.env }),
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  return { exitCode: r.exitCode ?? 1, output: r.stdout.replace(/\r\n/g, '\n') };
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
