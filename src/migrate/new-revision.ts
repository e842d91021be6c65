/**
 * Writing new revision files from templates/ (`revision` and `merge`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeNewFileAtomically } from '../fs-private.js';
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { CmmcError, usageError } from '../errors.js';
import { catchRevisionErrors } from './errors.js';
import type { Script } from './script.js';
import { makeDirs } from '../fs-private.js';

export interface NewRevisionOptions {
  message: string;
  /** Down revisions: undefined = the single current head; [] = a new base. */
  downRevisions?: string[];
  /** `--head`: the revision (or target) to build on; "base" for a new base. */
  head?: string;
  branchLabels?: string[];
  dependsOn?: string[];
  sql?: boolean;
  revId?: string;
}

/** A fresh revision id: 12 lower-case hex characters. */
export function newRevisionId(): string {
  return randomBytes(6).toString('hex');
}

export function slug(message: string): string {
  return (
    message
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 40)
      .replace(/_+$/, '') || 'revision'
  );
}

/** A single-quoted TypeScript string literal. */
const tsString = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
const tsArray = (v: string[]) => `[${v.map(tsString).join(', ')}]`;

/**
 * Makes the project's revision folder ready for a new file. A folder inside node_modules is refused:
 * a file written there is outside version control and gone after the next `npm ci` (the project's
 * own folder is `migrations/` at its root; see src/config/project-root.ts).
 */
export function ensureRevisionFolder(dir: string): void {
  if (dir.split(path.sep).includes('node_modules')) {
    throw new CmmcError('migrate.folder-in-package', `refusing to write a revision into ${dir}: it is inside node_modules, outside version control`, {
      hint: 'run from your project (a folder with package.json or cmmc-db.config.json); new revisions go into its ./migrations',
    });
  }
  makeDirs(dir);
}

/** Writes the file and returns its revision id and path. */
export function writeRevision(config: Pick<CmmcConfig, 'migrationsDir' | 'templatesDir'>, script: Script, options: NewRevisionOptions): { revision: string; file: string; downRevisions: string[] } {
  const { graph } = script;
  const revision = options.revId ?? newRevisionId();
  if (!/^[a-z0-9_]{1,64}$/.test(revision)) throw usageError(`--rev-id "${revision}" must be lower-case letters, digits or underscores (up to 64)`);
  if (graph.has(revision)) throw usageError(`revision ${revision} already exists`, 'pick another --rev-id');
  if (!options.message.trim()) throw usageError('a revision needs a message: -m "what it does"');
  let down: string[];
  if (options.downRevisions) down = options.downRevisions.map((r) => catchRevisionErrors(() => graph.resolveRevision(r)));
  else if (options.head !== undefined) down = catchRevisionErrors(() => graph.resolveTarget(options.head!, []));
  else down = graph.size === 0 ? [] : [catchRevisionErrors(() => graph.singleHead('head'))];
  for (const d of options.dependsOn ?? []) catchRevisionErrors(() => graph.resolveRevision(d));
  for (const l of options.branchLabels ?? []) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(l)) throw usageError(`branch label "${l}" must be a letter followed by letters, digits, _ or -`);
    if (graph.branchLabels.has(l)) throw usageError(`branch label "${l}" is already used by ${graph.branchLabels.get(l)}`);
  }
  const kind = options.sql ? 'sql' : 'ts';
  const templateFile = path.join(config.templatesDir, `revision.${kind}`);
  if (!existsSync(templateFile)) throw new CmmcError('migrate.no-template', `the template ${templateFile} is missing`, { hint: 'reinstall cmmc-db' });
  const created = new Date().toISOString();
  const message = options.message.trim();
  const values: Record<string, string> = {
    revision,
    message: message.replace(/\*\//g, '* /'),
    messageLine: message.replace(/\s*\n\s*/g, ' '),
    messageLiteral: tsString(message),
    created,
    downRevision: down.length === 0 ? 'null' : down.length === 1 ? tsString(down[0]) : tsArray(down),
    downRevisionText: down.join(', ') || '(base)',
    downRevisionSql: down.join(', ') || 'none',
    branchLabels: tsArray(options.branchLabels ?? []),
    dependsOn: tsArray(options.dependsOn ?? []),
    branchLabelsSql: (options.branchLabels ?? []).join(', '),
    dependsOnSql: (options.dependsOn ?? []).join(', '),
  };
  const text = readFileSync(templateFile, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => values[key] ?? m);
  ensureRevisionFolder(config.migrationsDir);
  const file = path.join(config.migrationsDir, `${revision}_${slug(message)}.${kind}`);
  writeNewFileAtomically(file, text);
  return { revision, file, downRevisions: down };
}
