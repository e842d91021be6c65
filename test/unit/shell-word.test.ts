/** shellWord: a suggested command's values paste into a shell as one word each. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellWord } from '../../src/shell-word.js';

describe('shellWord', () => {
  it('leaves plain paths and names bare', () => {
    expect(shellWord('/var/backups/cmmc')).toBe('/var/backups/cmmc');
    expect(shellWord('cmmc-20261130T000000Z')).toBe('cmmc-20261130T000000Z');
  });
  it('quotes what a shell would split or expand, and sh reads each back as the one word it was', () => {
    for (const value of ['/tmp/my backups', "it's", 'a$HOME', 'x;rm -rf y', 'line\nbreak', '*', '~', '', 'back\\slash', '"q"']) {
      const word = shellWord(value);
      expect(execFileSync('sh', ['-c', `printf %s ${word}`]).toString()).toBe(value);
    }
  });
});
