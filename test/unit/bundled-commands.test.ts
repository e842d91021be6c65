/**
 * bin/cmmc-db.js looks at argv for the bundled commands before loading anything: its list must be
 * the program's (BUNDLES), or a bundled command would run from the slower ES modules, or be looked for in
 * a bundle that does not hold it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLES } from '../../src/cli/main.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the bundled commands', () => {
  it("bin's quick look names exactly the program's bundles and their commands", () => {
    const bin = readFileSync(path.join(ROOT, 'bin', 'cmmc-db.js'), 'utf8');
    const list = /const BUNDLE_OF = (\{[^}]*\});/.exec(bin);
    expect(list, 'BUNDLE_OF in bin/cmmc-db.js').not.toBeNull();
    const bundleOf = Function(`return ${list![1]}`)() as Record<string, string>;
    const expected = Object.fromEntries(Object.entries(BUNDLES).flatMap(([bundle, commands]) => commands.map((name) => [name, bundle])));
    expect(bundleOf).toEqual(expected);
  });
});
