/**
 * An interactive session of the built CLI under a real pseudo-terminal (Python's pty module): the
 * child's stdin, stdout and stderr are the terminal, it is the session leader with the terminal as
 * its controlling terminal, so a Ctrl-C typed (the byte 0x03) reaches it the way a user's does —
 * through the terminal's line discipline as SIGINT, or as a key when the program put the terminal
 * in raw mode. Keys are typed by writing to the session; everything the terminal shows is read back.
 */
import { execa, type ResultPromise } from 'execa';
import { BIN, ROOT, cleanEnv } from './cli.js';

const DRIVER = `
import fcntl, os, select, signal, struct, sys, termios
cols, rows = int(sys.argv[1]), int(sys.argv[2])
# SIGUSR1: hang up, as a terminal window closed or an SSH session dropped (the master side closes:
# the session's processes get SIGHUP and their terminal answers EIO from then on).
hangup = []
signal.signal(signal.SIGUSR1, lambda *_: hangup.append(True))
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
stdin_open = True
while True:
    if hangup:
        os.close(fd)
        break
    watch = [fd] + ([0] if stdin_open else [])
    ready, _, _ = select.select(watch, [], [], 0.05)
    if 0 in ready:
        data = os.read(0, 1024)
        if not data:
            stdin_open = False
        else:
            os.write(fd, data)
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
# Killed by a signal (Node aborting: SIGABRT, SIGSEGV): said as the shell says it, 128 + the signal.
sys.exit(128 - code if code < 0 else code)
`;

export interface PtySession {
  /** Types text on the terminal ("\u0003" is Ctrl-C, "\r" is Enter). */
  type(text: string): void;
  /** Resolves once the terminal has shown text matching `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Everything the terminal showed so far ("\r\n" turned into "\n"). */
  output(): string;
  /** The pid of the Python driver (the CLI is its child). */
  driverPid: number;
  /** Closes the terminal, as a closed window or a dropped SSH session does: the CLI gets SIGHUP and a terminal that answers EIO. */
  hangUp(): void;
  /** The exit code of the CLI and the whole output. */
  done: Promise<{ exitCode: number; output: string }>;
}

export function startCliInPty(args: string[], options: { url?: string; cwd?: string; env?: Record<string, string | undefined>; columns?: number } = {}): PtySession {
  const child: ResultPromise = execa('python3', ['-c', DRIVER, String(options.columns ?? 100), '40', 'node', BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv({ ...(options.url ? { DATABASE_URL: options.url } : {}), COLUMNS: undefined, LINES: undefined, TERM: 'xterm', ...options.env }),
    extendEnv: false,
    reject: false,
    stdin: 'pipe',
    buffer: false,
    timeout: 120_000,
  });
  let text = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8').replace(/\r\n/g, '\n');
    for (const w of [...waiters]) w();
  });
  const done = (async () => {
    const r = await child;
    return { exitCode: r.exitCode ?? 1, output: text };
  })();
  return {
    driverPid: child.pid!,
    hangUp: () => void process.kill(child.pid!, 'SIGUSR1'),
    type: (value) => void child.stdin!.write(value),
    output: () => text,
    done,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the terminal never showed ${pattern}; it showed:\n${text}`));
        }, timeoutMs);
        waiters.add(check);
        void done.then(() => {
          if (waiters.has(check)) {
            check();
            if (waiters.has(check)) {
              waiters.delete(check);
              clearTimeout(timer);
              reject(new Error(`the CLI exited before the terminal showed ${pattern}; it showed:\n${text}`));
            }
          }
        });
        check();
      });
    },
  };
}
