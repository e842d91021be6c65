/**
 * A template of the embedded database at head: `cmmc-db init` on a fresh folder copies a data
 * folder that an earlier init built, instead of running PGlite's initdb, every revision and the
 * seeds again (PGlite's create alone is most of an init's time and memory).
 *
 * The template is named by a key over everything that decides its contents (the PGlite and
 * pgvector versions, cmmc-db's version, every revision file's and seed file's sha256, the names of
 * the version and bookkeeping tables), so a changed revision or seed file names another template and
 * a new one is built: it is found by content, never by time. Each template records the sha256 of
 * every file it holds; a template whose files do not match is removed and rebuilt, never copied.
 *
 *   $XDG_CACHE_HOME/cmmc-db/embedded-templates/<key>/   (default ~/.cache/...)
 *     pgdata/          the data folder after init (closed cleanly)
 *     template.json    { key, files: { path: sha256 }, report }: the init report that built it
 *
 * The copy then behaves as the init that built it: the same report is returned (with `template`
 * saying which way it went), and the log rows of the revisions and seeds are dated now.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cacheDir } from '../cache-dir.js';
import { PACKAGE_DIR, type CmmcConfig } from '../config/config.js';
import { DATA_SUBDIR, freshDataDir, holdEmbeddedFolder } from './instance.js';
import { makeDirs } from '../fs-private.js';
import { onInterrupt, stopIfInterrupted, wasInterrupted } from '../interrupt.js';
import { machineOwnerGone, machineOwnerTag } from '../leftovers.js';

/** What a template records of the init that built it (src/seed/init.ts's InitReport, kept opaque here). */
export interface TemplateReport {
  steps: readonly unknown[];
}

interface TemplateManifest {
  key: string;
  files: Record<string, string>;
  report: TemplateReport;
}

/** Where templates live: $XDG_CACHE_HOME/cmmc-db/embedded-templates, else ~/.cache/... */
export function templateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return cacheDir('embedded-templates', env);
}

function packageVersion(name: string): string {
  try {
    let dir = path.dirname(createRequire(path.join(PACKAGE_DIR, 'package.json')).resolve(name));
    for (;;) {
      const file = path.join(dir, 'package.json');
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? '?';
      }
      const up = path.dirname(dir);
      if (up === dir) return '?';
      dir = up;
    }
  } catch {
    return '?';
  }
}

/**
 * The template key of a configuration: sha256 over the versions of PGlite, pgvector and cmmc-db,
 * each revision file's and each seed file's name and sha256 (in name order), and the names of the
 * version table and the bookkeeping schema.
 */
export function templateKey(config: CmmcConfig, revisions: { fileName: string; checksum: string }[], seeds: { name: string; checksum: string }[]): string {
  const h = createHash('sha256');
  const line = (...parts: string[]) => h.update(parts.join('\t') + '\n');
  line('cmmc-db', readOwnVersion());
  for (const name of ['@electric-sql/pglite', '@electric-sql/pglite-pgvector']) line(name, packageVersion(name));
  line('tables', config.versionSchema, config.versionTable, config.metaSchema);
  for (const r of [...revisions].sort((a, b) => a.fileName.localeCompare(b.fileName))) line('revision', r.fileName, r.checksum);
  for (const s of [...seeds].sort((a, b) => a.name.localeCompare(b.name))) line('seed', s.name, s.checksum);
  return h.digest('hex').slice(0, 32);
}

function readOwnVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Every regular file under `dir`, relative path → sha256. */
function hashTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(r);
      else if (entry.isFile()) files[r] = createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex');
    }
  };
  walk('');
  return files;
}

/** The template of `key` when it is there and every file matches its record; a damaged one is removed. */
export function verifiedTemplate(root: string, key: string): TemplateManifest | undefined {
  const dir = path.join(root, key);
  if (!fs.existsSync(dir)) return undefined;
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'template.json'), 'utf8')) as TemplateManifest;
    const actual = hashTree(path.join(dir, DATA_SUBDIR));
    const expected = manifest.files;
    const same = manifest.key === key && Object.keys(actual).length === Object.keys(expected).length && Object.entries(expected).every(([f, sum]) => actual[f] === sum);
    if (same) return manifest;
  } catch {
    // unreadable: rebuilt below
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return undefined;
}

/** Where a build's machine and owner are in its scratch folder's name: `.build-h<host>-<tag>-<random>` (src/leftovers.ts). */
const BUILD_PATTERN = /^\.build-((?:h[0-9a-f]+-)?p[0-9a-z]+-t[0-9a-z]+)-[0-9a-f]+$/;

/** Removes the scratch folders of builds whose process is gone (killed half-way); never a live one's. */
function sweepBuilds(root: string): void {
  for (const entry of fs.readdirSync(root)) {
    // Only this machine's (src/leftovers.ts): another pid namespace's builds look gone from here.
    const tag = BUILD_PATTERN.exec(entry)?.[1];
    if (tag !== undefined && machineOwnerGone(tag) === true) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
  }
}

/** Keeps the template just built and the newest other one (say, of the branch last worked on). */
function pruneTemplates(root: string, keep: string): void {
  const others = fs
    .readdirSync(root)
    .filter((e) => e !== keep && /^[0-9a-f]{32}$/.test(e))
    .map((e) => ({ e, t: fs.statSync(path.join(root, e)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { e } of others.slice(1)) fs.rmSync(path.join(root, e), { recursive: true, force: true });
}

export interface TemplateInit<R extends TemplateReport> {
  /** The report of the init, as the build of the template returned it. */
  report: R;
  /** `used`: copied from a template; `built`: the template was built by this run, then copied. */
  template: 'used' | 'built';
}

/**
 * Creates the embedded database of a fresh `config.embeddedDir` from the template of `key`, building
 * the template first (with `build`, an init of a scratch folder) when there is none or it does not
 * verify. Returns undefined when the folder already has a database (init then runs as usual).
 * The folder's lock is held throughout, the build included (`holdEmbeddedFolder`): another process
 * opening the folder meanwhile waits for the finished database.
 */
export async function createFromTemplate<R extends TemplateReport>(
  config: CmmcConfig,
  key: string,
  build: (scratch: CmmcConfig) => Promise<R>,
  root: string = templateRoot(),
): Promise<TemplateInit<R> | undefined> {
  // The folder is held from here to the copy's end: a read (or another init) started while the
  // template is being built waits for the finished database instead of finding none.
  return holdEmbeddedFolder(config.embeddedDir, () => createHeld(config, key, build, root));
}

async function createHeld<R extends TemplateReport>(config: CmmcConfig, key: string, build: (scratch: CmmcConfig) => Promise<R>, root: string): Promise<TemplateInit<R> | undefined> {
  const dataDir = path.join(config.embeddedDir, DATA_SUBDIR);
  // Only where there is no database at all: a damaged one is refused by the usual open, never replaced.
  if (!freshDataDir(dataDir)) return undefined;

  let manifest = verifiedTemplate(root, key);
  let how: 'used' | 'built' = 'used';
  if (!manifest) {
    // The template only saves time: a cache that cannot be made (a HOME that does not exist or
    // cannot be written, as a service user's in a container) leaves init to run every step here.
    try {
      makeDirs(root, 0o700);
      sweepBuilds(root);
    } catch {
      return undefined;
    }
    // Named for this process (src/leftovers.ts): a build killed outright is swept by the next one.
    const scratch = path.join(root, `.build-${machineOwnerTag()}-${randomBytes(4).toString('hex')}`);
    let building: Promise<R> | undefined;
    // Interrupted: removed once the build's database has closed (its own cleanup closes it), or at the exit.
    const removeScratch = () => fs.rmSync(scratch, { recursive: true, force: true });
    const releaseInterrupt = onInterrupt(
      async () => {
        await building?.catch(() => undefined);
        removeScratch();
      },
      undefined,
      { atExit: removeScratch },
    );
    try {
      let report: R;
      try {
        building = build({ ...config, embeddedDir: path.join(scratch, 'db') });
        report = await building;
      } catch (err) {
        // Interrupted: stopped here, not run again on the real folder.
        if (wasInterrupted()) throw err;
        // Init itself fails (a bad revision, a seed error): the caller runs it on the real folder,
        // so that the error names that folder and nothing of the template.
        return undefined;
      }
      try {
        fs.renameSync(path.join(scratch, 'db', DATA_SUBDIR), path.join(scratch, DATA_SUBDIR));
        fs.rmSync(path.join(scratch, 'db'), { recursive: true, force: true });
        manifest = { key, files: hashTree(path.join(scratch, DATA_SUBDIR)), report };
        fs.writeFileSync(path.join(scratch, 'template.json'), JSON.stringify(manifest));
      } catch {
        // The cache's disk filled up as the template was put together: init runs every step here.
        return undefined;
      }
      try {
        fs.renameSync(scratch, path.join(root, key));
        pruneTemplates(root, key);
      } catch {
        // Another init built the same template meanwhile: theirs stands, ours is dropped below.
      }
    } finally {
      releaseInterrupt();
      removeScratch();
    }
    how = 'built';
  }

  // Interrupted during the build: the folder's hold undoes what this run made there; nothing more is copied in.
  stopIfInterrupted(`nothing was made in ${config.embeddedDir}`);
  // Copied to a name the folder's recovery drops if this run is killed half-way
  // (pgdata.restoring-<pid>), then renamed into place whole.
  const partial = path.join(config.embeddedDir, `${DATA_SUBDIR}.restoring-${process.pid}`);
  fs.rmSync(partial, { recursive: true, force: true });
  const source = fs.existsSync(path.join(root, key)) ? path.join(root, key, DATA_SUBDIR) : undefined;
  if (!source) return undefined;
  try {
    fs.cpSync(source, partial, { recursive: true });
  } catch {
    // Removed meanwhile (another init pruned or rebuilt it): the caller runs init as usual.
    fs.rmSync(partial, { recursive: true, force: true });
    return undefined;
  }
  try {
    const now = new Date();
    fs.utimesSync(path.join(root, key), now, now); // recently used: kept by pruneTemplates
  } catch {
    // pruned meanwhile: the copy is whole already
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.renameSync(partial, dataDir);
  return { report: manifest.report as R, template: how };
}
