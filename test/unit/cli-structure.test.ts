/** Commands import helpers from src/cli/ and capabilities, never another command file. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = path.resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'commands');

describe('command modules', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts') && f !== 'index.ts' && f !== 'types.ts');
  it.each(files)('%s imports no other command file', (file) => {
    const text = readFileSync(path.join(DIR, file), 'utf8');
    const sibling = [...text.matchAll(/(?:from\s+|import\()\s*['"]\.\/([^'"]+)['"]/g)].map((m) => m[1]).filter((m) => m !== 'types.js');
    expect(sibling).toEqual([]);
  });
});
