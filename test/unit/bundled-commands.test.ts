/**
 * bin/cmmc-db.js looks at argv for the bundled commands before loading anything: its list must be
 * the program's (BUNDLED_COMMANDS), or a bundled command would run from the slower ES modules and a
 * command left out of the bundle would be looked for in it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLED_COMMANDS } from '../../src/cli/main.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the bundled commands', () => {
  it("bin's quick look names exactly the program's bundled commands", () => {
    const bin = readFileSync(path.join(ROOT, 'bin', 'cmmc-db.js'), 'utf8');
    const list = /if \(\[([^\]]*)\]\.some\(\(name\) => args\.includes\(name\)\)\)/.exec(bin);
    expect(list, 'the list in bin/cmmc-db.js').not.toBeNull();
    const names = [...list![1].matchAll(/'([a-z-]+)'/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...BUNDLED_COMMANDS].sort());
  });
});
