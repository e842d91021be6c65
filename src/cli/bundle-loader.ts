/**
 * Runs the CLI from a bundle (dist/cli-bundle-<name>.cjs, made by scripts/bundle-cli.mjs) with V8's
 * code cache, for the commands whose cold start is most of their time (BUNDLES in src/cli/main.ts).
 *
 * Node 20 keeps no compiled code between runs of ES modules; a script compiled with `vm.Script` can
 * be handed the code V8 made for it before (`cachedData`), which skips parsing and compiling. The
 * cache lives in `$XDG_CACHE_HOME/cmmc-db/v8/` (else ~/.cache/...), one file per bundle path and
 * Node/V8 version, holding the bundle's exact text followed by V8's code: the code is used only when
 * the text is byte for byte the bundle's now (V8 itself checks only the source's length and its
 * flags, so anything short of the content could serve a changed bundle the code of the old one).
 * Comparing the text costs a memcmp; a sha256 would load node:crypto (about 6 ms of a 100 ms
 * start). A cache that cannot be read or written costs the compile only; it never fails the command.
 *
 * bin/cmmc-db.js loads this file as dist/cli-bundle-loader.cjs (CommonJS, so that a read command
 * never starts Node's ES module loader); it imports only Node's own modules and src/cache-dir.ts.
 */
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { cacheDir } from '../cache-dir.js';
import { makeDirs, readRegularFile } from '../fs-private.js';

/** What the bundle exports (from src/cli/main.ts). */
interface CliBundle {
  run(argv: string[]): Promise<number>;
  runsFromBundle(argv: string[], bundle: string): boolean;
}

/** 32-bit FNV-1a of a short text, as 8 hex digits: a file name, not a check (the content is compared). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * The cache file of the bundle at `file`: one per bundle path, Node, V8 and CPU, so that two
 * installs do not take turns overwriting one entry, in cacheDir('v8') (src/cache-dir.ts: XDG).
 */
export function codeCacheFile(file: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir('v8', env), `${fnv1a(`${path.resolve(file)}\0${process.version}\0${process.versions.v8}\0${process.arch}`)}.bin`);
}

/** Layout of a cache file: 4 bytes of the text's length (little-endian), the text, V8's code. */
function cachedCodeFor(cacheFile: string, text: Buffer): Buffer | undefined {
  let entry: Buffer;
  try {
    entry = readRegularFile(cacheFile);
  } catch {
    return undefined;
  }
  if (entry.length < 4 || entry.readUInt32LE(0) !== text.length || entry.length <= 4 + text.length) return undefined;
  return entry.subarray(4, 4 + text.length).equals(text) ? entry.subarray(4 + text.length) : undefined;
}

/** Entries kept: one per bundle of each install used lately (npx and CI workspaces each make one). */
export const KEPT_ENTRIES = 12;

/**
 * Removes entries of earlier versions (named by the sha256 of their bundle) and, beyond
 * KEPT_ENTRIES, the least recently written: each is about a megabyte, and an install that comes
 * back writes its entry again (one compile).
 */
function pruneCache(dir: string): void {
  const entries = readdirSync(dir)
    .filter((name) => /^([0-9a-f]{8}|[0-9a-f]{64})\.bin$/.test(name))
    .map((name) => ({ file: path.join(dir, name), old: name.length > 12, mtimeMs: statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  const current = entries.filter((e) => !e.old);
  for (const e of [...entries.filter((e) => e.old), ...current.slice(KEPT_ENTRIES)]) rmSync(e.file, { force: true });
}

function writeCache(cacheFile: string, text: Buffer, code: Buffer): void {
  try {
    makeDirs(path.dirname(cacheFile), 0o700);
    const partial = `${cacheFile}.${process.pid}.partial`;
    const length = Buffer.alloc(4);
    length.writeUInt32LE(text.length);
    writeFileSync(partial, Buffer.concat([length, text, code]), { mode: 0o600 });
    renameSync(partial, cacheFile); // atomic: a run reading meanwhile sees the old entry or the new one whole
    pruneCache(path.dirname(cacheFile));
  } catch {
    // A read-only or full cache folder: the next run compiles again.
  }
}

/**
 * Runs `argv` from the bundle `file` (named `bundle` in BUNDLES, src/cli/main.ts) when it exists
 * and the command is one of its commands (`runsFromBundle`); returns its exit code, or undefined for the caller to
 * run dist/cli/main.js instead. The first run of a bundle writes its code cache once the command
 * is done, so that the cache holds the functions the command compiled, not only the top level.
 */
export async function runBundled(argv: string[], file: string, bundle: string): Promise<number | undefined> {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch {
    return undefined; // not bundled (tsc alone): the modules in dist/ are the CLI
  }
  const cacheFile = codeCacheFile(file);
  const cachedData = cachedCodeFor(cacheFile, text);
  // CommonJS's wrapper, plus Node's own import() for the bundle's dynamic imports (see the bundler).
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __cmmcImport) {${text.toString('utf8')}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as CliBundle };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file), (specifier: string) => import(specifier));
  const cli = module.exports;
  if (!cli.runsFromBundle(argv, bundle)) return undefined;
  const code = await cli.run(argv);
  if (!cachedData || script.cachedDataRejected) writeCache(cacheFile, text, script.createCachedData());
  return code;
}
