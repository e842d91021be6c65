import os from 'node:os';
import path from 'node:path';

/**
 * A folder of cmmc-db's caches (compiled revisions, embedded templates): `$XDG_CACHE_HOME/cmmc-db/<name>`,
 * else `~/.cache/cmmc-db/<name>` (the XDG base directory rule: a relative XDG_CACHE_HOME is ignored).
 * Everything kept there is named by its content, so removing the folder only costs time.
 */
export function cacheDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(cache, 'cmmc-db', name);
}
