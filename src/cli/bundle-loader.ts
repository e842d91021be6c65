/**
 * Runs the CLI from its bundle (dist/cli-bundle.cjs, made by scripts/bundle-cli.mjs) with V8's code
 * cache, for the commands whose cold start is most of their time (`current`, `history`, `backup`, `seed`).
 *
 * Node 20 keeps no compiled code between runs of ES modules; a script compiled with `vm.Script` can
 * be handed the code V8 made for it before (`cachedData`), which skips parsing and compiling. The
 * cache lives in `$XDG_CACHE_HOME/cmmc-db/v8/` (else ~/.cache/...), one file per bundle, named by
 * the sha256 of the bundle's text and of the Node and V8 versions: V8 itself checks only the
 * source's length and its flags, so a file name from anything but the content could serve a
 * changed bundle the code of the old one. A cache that cannot be read or written costs the compile
 * only; it never fails the command.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { cacheDir } from '../cache-dir.js';

/** What the bundle exports (from src/cli/main.ts). */
interface CliBundle {
  run(argv: string[]): Promise<number>;
  runsFromBundle(argv: string[]): boolean;
}

export const BUNDLE = fileURLToPath(new URL('../cli-bundle.cjs', import.meta.url));

/** The cache file for a bundle's text: named by its sha256 with the Node, V8 and CPU it was made for. */
export function codeCacheFile(source: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash('sha256').update(`${process.version}\0${process.versions.v8}\0${process.arch}\0`).update(source).digest('hex');
  return path.join(cacheDir('v8', env), `${key}.bin`);
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(file: string, data: Buffer): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, data, { mode: 0o600 });
    renameSync(partial, file); // another run writing the same entry writes code for the same text
  } catch {
    // A read-only or full cache folder: the next run compiles again.
  }
}

/**
 * Runs `argv` from the bundle `file` when the bundle exists and the command is one it runs
 * (`runsFromBundle` in src/cli/main.ts); returns its exit code, or undefined for the caller to
 * run dist/cli/main.js instead. The first run of a bundle writes its code cache once the command
 * is done, so that the cache holds the functions the command compiled, not only the top level.
 */
export async function runBundled(argv: string[], file: string = BUNDLE): Promise<number | undefined> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return undefined; // not bundled (tsc alone): the modules in dist/ are the CLI
  }
  const cacheFile = codeCacheFile(source);
  const cachedData = readCache(cacheFile);
  // CommonJS's wrapper, plus Node's own import() for the bundle's dynamic imports (see the bundler).
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __cmmcImport) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as CliBundle };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file), (specifier: string) => import(specifier));
  const cli = module.exports;
  if (!cli.runsFromBundle(argv)) return undefined;
  const code = await cli.run(argv);
  if (!cachedData || script.cachedDataRejected) writeCache(cacheFile, script.createCachedData());
  return code;
}
