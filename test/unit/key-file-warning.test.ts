/**
 * keyFileWarning looks at every folder from the key's own up to / (as OpenSSH's StrictModes does for
 * authorized_keys): someone who can write a folder higher up (not sticky), or who owns one, can
 * rename the folder holding the key away and put their own key in its place, and the next backups
 * are encrypted with a key they hold. It looked at the key's own folder only.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyFileWarning } from '../../src/backup/crypto.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'cmmc-key-folders-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A 0600 key in root/<upper>/<inner>/backup.key, `inner` 0700, `upper` with `upperMode`. */
function keyUnder(upperMode: number): { upper: string; key: string } {
  const upper = path.join(root, 'upper');
  const inner = path.join(upper, 'inner');
  mkdirSync(inner, { recursive: true, mode: 0o700 });
  chmodSync(inner, 0o700);
  chmodSync(upper, upperMode);
  const key = path.join(inner, 'backup.key');
  writeFileSync(key, 'k'.repeat(48), { mode: 0o600 });
  return { upper, key };
}

describe('keyFileWarning walks up to /', () => {
  it('names a folder higher up that others may write (not sticky)', () => {
    const { upper, key } = keyUnder(0o777);
    expect(keyFileWarning(key)).toBe(
      `the folder ${upper} above the key file is writable by other users (mode 777): anyone who can write there can rename the folder holding the key away and put their own key in its place; chmod go-w it, or keep the key in a folder only you can write`,
    );
  });

  it('is quiet when that folder is sticky (as /tmp) or only its owner writes it', () => {
    expect(keyFileWarning(keyUnder(0o1777).key)).toBeUndefined();
    rmSync(path.join(root, 'upper'), { recursive: true });
    expect(keyFileWarning(keyUnder(0o755).key)).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)('names a folder higher up that another user owns', () => {
    const { upper, key } = keyUnder(0o755);
    chownSync(upper, 65534, 65534);
    expect(keyFileWarning(key)).toMatch(new RegExp(`^the folder ${upper} above the key file belongs to another user \\(uid 65534\\): that user can rename the folder holding the key away`));
  });

  it('follows a link to where the key really is', () => {
    const { upper, key } = keyUnder(0o777);
    const safe = path.join(root, 'safe');
    mkdirSync(safe, { mode: 0o700 });
    const link = path.join(safe, 'backup.key');
    symlinkSync(key, link);
    expect(keyFileWarning(link)).toMatch(new RegExp(`^the folder ${upper} above the key file is writable by other users`));
  });

  it('keeps the words for the key’s own folder', () => {
    const { key } = keyUnder(0o755);
    chmodSync(path.dirname(key), 0o777);
    expect(keyFileWarning(key)).toMatch(new RegExp(`^the key file's folder ${path.dirname(key)} is writable by other users \\(mode 777\\): anyone who can write there can replace the key with their own`));
  });
});
