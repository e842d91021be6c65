#!/usr/bin/env node
/**
 * Bundles the built CLI (dist/cli/main.js and what it imports) with commander, postgres.js and
 * find-up-simple into one CommonJS file per entry of BUNDLES (src/cli/main.ts),
 * dist/cli-bundle-<name>.cjs, each holding its own commands' modules, for their cold start; and
 * the loader bin/cmmc-db.js requires, dist/cli-bundle-loader.cjs (src/cli/bundle-loader.ts runs
 * a bundle with V8's code cache; `npm run build` runs this after tsc).
 *
 * Why one CommonJS file: Node 20 has no code cache for ES modules, and resolving, reading and
 * compiling some sixty modules one by one is a third of a cold `current`. A script compiled with
 * `vm.Script` can be given the code V8 made for it last time.
 *
 * Two rewrites of each dist file before esbuild reads it:
 * - `import.meta.url` becomes the URL of the file in dist/ (a CommonJS bundle has no import.meta),
 *   so that paths made from it (the package folder, resolve hooks, createRequire) stay the same.
 * - a dynamic `import(x)` of anything but a relative path (a package loaded on demand: chalk,
 *   kysely, PGlite; a revision file's URL) becomes `__cmmcImport(x)`, Node's own import() handed
 *   in by the loader: V8 refuses import() inside a vm.Script without --experimental-vm-modules.
 *   Relative dynamic imports (our own modules) are left to esbuild, which bundles them lazily.
 * The import() calls are found with TypeScript's parser, not a regular expression, so that text
 * that only looks like one (in a string, a comment) is left alone.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
/** The bundle named `name` in BUNDLES. */
export const bundleFile = (name) => path.join(DIST, `cli-bundle-${name}.cjs`);
export const LOADER = path.join(DIST, 'cli-bundle-loader.cjs');
/** Packages inside the bundle: what every read command loads. Every other package stays where it is installed. */
const BUNDLED_PACKAGES = new Set(['commander', 'postgres', 'find-up-simple']);

/**
 * Node's own modules that the read commands rarely use but that cost milliseconds to load (crypto
 * about 6 ms, child_process 5, fs/promises and stream/promises 3 each, readline 1-2, perf_hooks 0.5
 * (postgres.js reads its clock only to space reconnects): measured on
 * the 2-core bench machine). In the bundle each is a stand-in with the same export names, as
 * getters that load the real module on first use, so that `current` does not pay for the backup
 * runner's child_process or the prompt's readline.
 */
const LAZY_BUILTINS = new Set(['crypto', 'child_process', 'readline', 'readline/promises', 'fs/promises', 'stream/promises', 'perf_hooks']);
const builtinName = (spec) => spec.replace(/^node:/, '');

/** The stand-in's CommonJS text: a getter per export name Node has now, and a Proxy for any other. */
function lazyBuiltin(name) {
  const names = Object.keys(createRequire(import.meta.url)(`node:${name}`)).filter((key) => key !== 'default');
  return [
    `let loaded;`,
    `const load = () => (loaded ??= require(${JSON.stringify(`node:${name}`)}));`,
    `const stand = {};`,
    `for (const key of ${JSON.stringify(names)}) Object.defineProperty(stand, key, { get: () => load()[key], enumerable: true });`,
    `module.exports = new Proxy(stand, { get: (target, key) => (key in target ? target[key] : load()[key]) });`,
  ].join('\n');
}

const packageName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

/** The file's text with import.meta.url and non-relative dynamic imports rewritten (see above). */
function rewrite(file, text) {
  // Relative to the bundle's folder at run time (dist/), not the build machine's.
  const url = `(__cmmcDistUrl + ${JSON.stringify(path.relative(DIST, file).split(path.sep).join('/'))})`;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const edits = [];
  const visit = (node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (!(arg && ts.isStringLiteralLike(arg) && arg.text.startsWith('.'))) {
        edits.push({ start: node.expression.getStart(source), end: node.expression.end, text: '__cmmcImport' });
      }
    } else if (ts.isPropertyAccessExpression(node) && ts.isMetaProperty(node.expression) && node.expression.keywordToken === ts.SyntaxKind.ImportKeyword) {
      if (node.name.text !== 'url') throw new Error(`${file}: import.meta.${node.name.text} has no meaning in the CommonJS bundle`);
      edits.push({ start: node.getStart(source), end: node.end, text: url });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** The bundles and their commands (BUNDLES in src/cli/main.ts); the other commands' modules stay out of each. */
const { BUNDLES } = await import(pathToFileURL(path.join(DIST, 'cli', 'main.js')).href);
const COMMANDS_INDEX = path.join(DIST, 'cli', 'commands', 'index.js');

/** The bundle of `commands`' modules (and those of no other command). */
const pluginFor = (commands) => {
  const modules = new Set(commands.map((name) => `./${name}.js`));
  return {
  name: 'cmmc-cli-bundle',
  setup(build) {
    // A command the bundle never runs is left out, with all it alone imports (most of the file,
    // which each of its commands would otherwise read and deserialize).
    build.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) =>
      args.importer === COMMANDS_INDEX && args.kind === 'dynamic-import' && !modules.has(args.path)
        ? { path: args.path, namespace: 'cmmc-not-bundled' }
        : undefined,
    );
    // postgres.js loads node:tls at its start for the sessions that ask for TLS (about 4.5 ms of a
    // read command's start-up): loaded when the first TLS session is opened instead.
    build.onLoad({ filter: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]connection\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const eager = "import tls from 'tls'\n";
      if (!text.includes(eager)) throw new Error(`${args.path}: postgres.js no longer imports tls as expected; update scripts/bundle-cli.mjs`);
      return { contents: text.replace(eager, "const tls = { connect: (options) => require('node:tls').connect(options) }\n"), loader: 'js' };
    });
    build.onResolve({ filter: /^(node:)?[a-z_]+(\/promises)?$/ }, (args) => {
      if (!LAZY_BUILTINS.has(builtinName(args.path))) return undefined;
      // The stand-in's own require is of the real module.
      if (args.namespace === 'cmmc-lazy-builtin') return { path: args.path, external: true };
      return { path: builtinName(args.path), namespace: 'cmmc-lazy-builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'cmmc-lazy-builtin' }, (args) => ({ contents: lazyBuiltin(args.path), loader: 'js' }));
    build.onLoad({ filter: /.*/, namespace: 'cmmc-not-bundled' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`cmmc-db: the command module ${args.path} is not in the read commands' bundle`)});`,
      loader: 'js',
    }));
    build.onResolve({ filter: /^[^./]/ }, (args) => (BUNDLED_PACKAGES.has(packageName(args.path)) ? undefined : { path: args.path, external: true }));
    build.onLoad({ filter: /\.js$/ }, (args) => (args.path.startsWith(DIST + path.sep) ? { contents: rewrite(args.path, readFileSync(args.path, 'utf8')), loader: 'js' } : undefined));
  },
  };
};

/**
 * esbuild's __toESM makes a namespace object for every import of a CommonJS module, copying each
 * export as a getter: the 40-odd imports of node:path, node:fs and node:os in the bundle cost about
 * 4 ms of a read command's start. The namespace is a live view of the module, the same for every
 * importer (as an ES module's namespace is), so one per module and mode is made and kept.
 */
function onceEachNamespace(text) {
  const helper = /var __toESM ?= ?\(mod, ?isNodeMode, ?target\) ?=>/;
  if (!helper.test(text)) throw new Error(`esbuild's __toESM helper is no longer ${helper}: update scripts/bundle-cli.mjs`);
  return text.replace(
    helper,
    [
      'var __toESMKept = [new WeakMap(), new WeakMap()];',
      'var __toESM = (mod, isNodeMode) => {',
      '  if (mod === null || (typeof mod !== "object" && typeof mod !== "function")) return __toESMEach(mod, isNodeMode);',
      '  const kept = __toESMKept[isNodeMode ? 1 : 0];',
      '  let ns = kept.get(mod);',
      '  if (!ns) kept.set(mod, (ns = __toESMEach(mod, isNodeMode)));',
      '  return ns;',
      '};',
      'var __toESMEach = (mod, isNodeMode, target) =>',
    ].join('\n'),
  );
}

/** Builds dist/cli-bundle-<name>.cjs for each of BUNDLES from dist/ (run after tsc). */
export async function bundleCli() {
  for (const [name, commands] of Object.entries(BUNDLES)) {
    const result = await esbuild.build({
      entryPoints: [path.join(DIST, 'cli', 'main.js')],
      outfile: bundleFile(name),
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      plugins: [pluginFor(commands)],
      logLevel: 'warning',
      legalComments: 'inline',
      minifyWhitespace: true,
      write: false,
    });
    const { text } = result.outputFiles[0];
    writeFileSync(bundleFile(name), `'use strict';\nconst __cmmcDistUrl = require('node:url').pathToFileURL(__dirname).href + '/';\n${onceEachNamespace(text)}`);
  }
  // Bundles of an earlier build that BUNDLES no longer names (dist/ is not emptied between builds).
  const made = new Set([...Object.keys(BUNDLES).map((name) => path.basename(bundleFile(name))), path.basename(LOADER)]);
  for (const file of readdirSync(DIST)) if (/^cli-bundle.*\.cjs$/.test(file) && !made.has(file)) rmSync(path.join(DIST, file), { force: true });
  // The loader bin/cmmc-db.js requires (CommonJS: no ES module loader for a read command).
  await esbuild.build({
    entryPoints: [path.join(DIST, 'cli', 'bundle-loader.js')],
    outfile: LOADER,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    plugins: [{ name: 'node-only', setup: (build) => build.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:') ? { path: args.path, external: true } : { errors: [{ text: `the bundle loader must import only Node's own modules, not ${args.path}` }] })) }],
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundleCli();
