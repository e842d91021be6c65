/**
 * Owner-only files: what cmmc-db keeps on disk (backups, the embedded database) is readable by
 * its owner alone, as PostgreSQL keeps its own data directory (folders 0700, files 0600).
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Sets 0700 on folders and 0600 on files under `target` (itself included); symbolic links are
 * left alone (their own mode means nothing, and following one could tighten something elsewhere).
 * Returns how many modes it changed.
 */
export function tighten(target: string): number {
  let changed = 0;
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) {
      fs.chmodSync(p, want);
      changed++;
    }
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f));
  };
  walk(target);
  return changed;
}
