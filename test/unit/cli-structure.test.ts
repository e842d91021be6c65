/**
 * Commands import helpers from src/cli/ and capabilities, never another command file; folders are
 * made with makeDirs (src/fs-private.ts), never Node's recursive mkdir (it can loop for ever); the
 * library never writes process.env (its user's), and no message names this repository's scripts/
 * (a user installed the package).
 */
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

describe('folders', () => {
  const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');
  const sources = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  it('no module of src/ calls mkdir with recursive: true (makeDirs instead)', () => {
    const offenders = sources.filter((f) => /mkdir(?:Sync)?\([^)]*recursive:\s*true/.test(readFileSync(path.join(SRC, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  /** The code of a module without its comments (they may point at the repository). */
  const code = (f: string) => readFileSync(path.join(SRC, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

  it('no module of src/ sets or deletes a variable of process.env (the library\'s user owns it; children inherit it)', () => {
    const writes = /\bdelete\s+process\.env\b|\bprocess\.env(?:\.\w+|\[[^\]]+\])\s*(?:=(?!=)|\+=|\?\?=|\|\|=)|Object\.assign\(\s*process\.env\b|\bprocess\.env\s*=(?!=)/;
    expect(sources.filter((f) => writes.test(code(f)))).toEqual([]);
  });

  it('no message or hint of src/ names this repository\'s scripts/ (meaningless to a user of the npm package)', () => {
    expect(sources.filter((f) => /['"`][^'"`\n]*\bscripts\/[\w.-]+\.(?:sh|mjs|ts)/.test(code(f)))).toEqual([]);
  });
});
