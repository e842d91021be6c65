/**
 * TypeScript revisions (and TypeScript config files) compiled once and kept by content: a run that
 * imports a TypeScript file it has compiled before imports plain JavaScript, without loading tsx (a
 * few hundred ms of an `upgrade`; seconds for a cmmc-db.config.ts that imports `defineConfig`, where
 * tsx also compiled the whole library it imported). Each entry is named by the sha256 of what it was made from, never by a time, so a
 * changed file (or a changed compiler, or a dependency that now resolves elsewhere) is compiled
 * again and never looks unchanged.
 *
 *   $XDG_CACHE_HOME/cmmc-db/revisions/   (default ~/.cache/...)
 *     <sha256(compiler, source)>.js      the file as esbuild (tsx's compiler) transforms it to ESM
 *     <sha256(module)>.mjs               that output with its package imports made absolute
 *
 * Only self-contained revisions take this path: imports of packages (resolved as Node would from
 * the revision's folder, then from cmmc-db's own dependencies, as the engine's fallback does) and
 * of Node's built-ins. A revision that imports a relative file, uses import.meta, require,
 * __dirname or a dynamic import is loaded through tsx as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheDir } from '../cache-dir.js';
import { PACKAGE_DIR } from '../config/config.js';
import { isRegularFile, makeDirs, readRegularFile } from '../fs-private.js';

/** Where compiled revisions live: $XDG_CACHE_HOME/cmmc-db/revisions, else ~/.cache/... */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return cacheDir('revisions', env);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Constructs whose meaning depends on where the file is (or that load files at run time). */
const NOT_SELF_CONTAINED = /\bimport\s*\(|\bimport\.meta\b|\brequire\s*\(|\b__dirname\b|\b__filename\b|\bmodule\.exports\b|\bexports\./;
/** esbuild writes each static import or re-export on a line of its own, with double quotes. */
const STATIC_IMPORT = /^(?:import|export)\b[^;\n]*?\bfrom\s*"([^"]+)";?$|^import\s*"([^"]+)";?$/gm;

let esbuildDir: string | undefined;
/** esbuild as tsx depends on it (tsx's compiler), found without loading either. */
function esbuildPackageDir(): string {
  if (!esbuildDir) {
    const fromTsx = createRequire(createRequire(path.join(PACKAGE_DIR, 'package.json')).resolve('tsx'));
    esbuildDir = path.dirname(fromTsx.resolve('esbuild/package.json'));
  }
  return esbuildDir;
}

function compilerTag(): string {
  const version = (JSON.parse(readFileSync(path.join(esbuildPackageDir(), 'package.json'), 'utf8')) as { version: string }).version;
  return `esbuild ${version} esm es2022 ts`;
}

function writeAtomically(file: string, text: string): void {
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, file); // another process writing the same entry writes the same bytes
}

/** The package directory of a bare specifier's package, searched as Node does from `fromDir`, then cmmc-db's own. */
function packageDirOf(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  const own = path.join(PACKAGE_DIR, 'node_modules', name);
  return existsSync(path.join(own, 'package.json')) ? own : undefined;
}

/** An "exports" target for `import` under Node's conditions (node, import, default), in key order. */
function exportTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return undefined;
  if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'node' || key === 'import' || key === 'default') {
        const found = exportTarget(v);
        if (found) return found;
      }
    }
  }
  return undefined;
}

/**
 * The file URL a bare specifier imports from a module in `fromDir`, or undefined when it is not
 * plain to work out here (patterns, imports maps, a missing package): the caller then uses tsx.
 */
export function resolvePackageImport(specifier: string, fromDir: string): string | undefined {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLength).join('/');
  const subpath = parts.length > nameLength ? `./${parts.slice(nameLength).join('/')}` : '.';
  const dir = packageDirOf(name, fromDir);
  if (!dir) return undefined;
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  let target: string | undefined;
  if (pkg.exports !== undefined) {
    const exp = pkg.exports;
    const sugar = typeof exp === 'string' || (exp && typeof exp === 'object' && !Object.keys(exp).some((k) => k.startsWith('.')));
    const entry = sugar ? (subpath === '.' ? exp : undefined) : (exp as Record<string, unknown>)[subpath];
    target = exportTarget(entry);
  } else if (subpath === '.') {
    target = pkg.main ?? 'index.js';
  }
  if (!target || !target.startsWith('./') && subpath !== '.') return undefined;
  const file = path.resolve(dir, target);
  return existsSync(file) ? pathToFileURL(file).href : undefined;
}

const BUILTINS = new Set(builtinModules);

/** esbuild's own CommonJS entry, loaded once (its synchronous transform serves the sync config loader too). */
let esbuildModule: typeof import('esbuild') | undefined;
function esbuildSync(): typeof import('esbuild') {
  esbuildModule ??= createRequire(import.meta.url)(path.join(esbuildPackageDir(), 'lib', 'main.js')) as typeof import('esbuild');
  return esbuildModule;
}

/** The static imports of `name` in esbuild's output, each `{ a, b as c }` list's imported names; undefined for another form. */
function importedNames(transformed: string, name: string): string[] | undefined {
  const names: string[] = [];
  for (const m of transformed.matchAll(STATIC_IMPORT)) {
    if ((m[1] ?? m[2]) !== name) continue;
    const list = /^import\s*\{([^}]*)\}\s*from\b/.exec(m[0]);
    if (!list) return undefined; // import * as, a default import, a re-export: the whole package
    names.push(...list[1]!.split(',').map((n) => n.trim().split(/\s+as\s+/)[0]!).filter(Boolean));
  }
  return names;
}

/** A package import served by a lighter module when it takes only some names (`cmmc-db`'s `defineConfig` in a config file). */
export interface PackageAlias {
  /** The file URL of the module that provides `names`. */
  url: string;
  /** The names that module exports. */
  names: string[];
}

/**
 * The TypeScript file `file` compiled into the cache (compiled first when needed) with its package
 * imports made absolute: the path of a plain ES module to import (or require), or undefined when the
 * file is not self-contained or cannot be compiled here, so that the caller loads it through tsx.
 * `aliases` replaces a package whose every imported name the alias module has.
 */
export function compileLinked(file: string, cacheDir: string, aliases: Record<string, PackageAlias> = {}): string | undefined {
  const source = readRegularFile(file).toString('utf8');
  let transformed: string;
  try {
    makeDirs(cacheDir, 0o700);
    const compiled = path.join(cacheDir, `${sha256(`${compilerTag()}\n${source}`)}.js`);
    // A regular file only: an entry replaced by a FIFO would block the read for ever (it is compiled and written again).
    if (isRegularFile(compiled)) transformed = readRegularFile(compiled).toString('utf8');
    else {
      transformed = esbuildSync().transformSync(source, { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: file }).code;
      writeAtomically(compiled, transformed);
    }
  } catch {
    return undefined;
  }
  if (NOT_SELF_CONTAINED.test(transformed)) return undefined;
  const fromDir = path.dirname(file);
  const aliased = new Map<string, string>();
  for (const [name, alias] of Object.entries(aliases)) {
    const names = importedNames(transformed, name);
    if (names?.length && names.every((n) => alias.names.includes(n))) aliased.set(name, alias.url);
  }
  let unresolved = false;
  const linked = transformed.replace(STATIC_IMPORT, (statement, from: string | undefined, bare: string | undefined) => {
    const specifier = (from ?? bare)!;
    if (specifier.startsWith('node:') || BUILTINS.has(specifier)) return statement;
    if (specifier.startsWith('.') || specifier.startsWith('/') || /^[a-z]+:/i.test(specifier)) {
      unresolved = true;
      return statement;
    }
    const url = aliased.get(specifier) ?? resolvePackageImport(specifier, fromDir);
    if (!url) unresolved = true;
    return url ? statement.replace(`"${specifier}"`, JSON.stringify(url)) : statement;
  });
  if (unresolved) return undefined;
  const linkedFile = path.join(cacheDir, `${sha256(linked)}.mjs`);
  try {
    if (!isRegularFile(linkedFile)) writeAtomically(linkedFile, linked);
  } catch {
    return undefined; // the entry cannot be written (a folder in its place): loaded through tsx
  }
  return linkedFile;
}

/**
 * Imports TypeScript revision `file` from the compile cache (compiling it into the cache first when
 * needed), or returns undefined when the file is not self-contained or cannot be compiled here, so
 * that the caller loads it through tsx.
 */
export async function importCompiled(file: string, cacheDir: string = compileCacheDir()): Promise<Record<string, unknown> | undefined> {
  const linked = compileLinked(file, cacheDir);
  return linked === undefined ? undefined : ((await import(pathToFileURL(linked).href)) as Record<string, unknown>);
}
