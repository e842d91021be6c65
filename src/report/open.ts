/**
 * Opening a file in the user's browser: $BROWSER when set, else the platform's opener (xdg-open,
 * open, start). A result, never an exception: a server without a desktop has no browser.
 */
export interface OpenResult {
  opened: boolean;
  /** The program used, or why none was. */
  detail: string;
}

/** The command that opens `file` here, or undefined when there is none to try. */
export function openerFor(file: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] | undefined {
  if (env.BROWSER) return [env.BROWSER, file];
  if (platform === 'darwin') return ['open', file];
  if (platform === 'win32') return ['cmd', '/c', 'start', '""', file];
  if (env.DISPLAY || env.WAYLAND_DISPLAY) return ['xdg-open', file];
  return undefined;
}

export async function openInBrowser(file: string): Promise<OpenResult> {
  const command = openerFor(file);
  if (!command) return { opened: false, detail: 'no browser here (no $BROWSER and no display)' };
  try {
    // Loaded here, not with the module: the library's report namespace would load it into every application.
    const [{ execa }, { inheritedEnv }] = await Promise.all([import('execa'), import('../child-env.js')]);
    // The browser outlives the command: it gets none of the run's passwords.
    const child = execa(command[0], command.slice(1), { detached: true, stdio: 'ignore', reject: false, env: inheritedEnv(), extendEnv: false });
    child.unref();
    const early = await Promise.race([child, new Promise((resolve) => setTimeout(resolve, 1500, undefined))]);
    const r = early as { exitCode?: number; failed?: boolean; shortMessage?: string } | undefined;
    if (r && (r.failed || (r.exitCode ?? 0) !== 0)) return { opened: false, detail: `${command[0]} failed: ${r.shortMessage ?? `exit ${r.exitCode}`}` };
    return { opened: true, detail: command[0] };
  } catch (err) {
    return { opened: false, detail: `${command[0]}: ${(err as Error).message.split('\n')[0]}` };
  }
}
