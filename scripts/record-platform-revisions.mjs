#!/usr/bin/env node
// Records the SQL each of the platform's TypeScript revisions executes, up and down, into
// dist/migrate/platform-revisions.json (see src/migrate/recorded.ts). Run by `npm run build` after tsc.
//
// A revision is recorded only if it never read an answer (recordRevision in src/migrate/offline.ts):
// one that reads none executes the same statements against the recorder as against a database. Any
// other is left out and imported at run time as before.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(path.join(root, 'dist', p)).href;
const { loadScript } = await import(dist('migrate/script.js'));
const { recordRevision } = await import(dist('migrate/offline.js'));
const { RECORDED_FILE } = await import(dist('migrate/recorded.js'));

// The revisions are imported, never taken from an earlier recording.
rmSync(RECORDED_FILE, { force: true });

// Each revision runs against a fresh recorder; the file is then written whole, once.
const revisions = {};
const skipped = [];
const script = await loadScript({ migrationsDir: path.join(root, 'migrations') });
for (const rev of script.revisions) {
  if (rev.kind !== 'ts') continue;
  const mod = await rev.load();
  if ('upSql' in mod) continue;
  const up = await recordRevision((db) => mod.up(db));
  const down = await recordRevision((db) => mod.down(db));
  const read = up.readAnswerOf ?? down.readAnswerOf;
  if (read) {
    skipped.push(`${rev.fileName} (reads the answer of "${read.slice(0, 40)}...")`);
    continue;
  }
  revisions[rev.checksum] = { revision: rev.revision, file: rev.fileName, up: up.statements, down: down.statements };
}
writeFileSync(RECORDED_FILE, JSON.stringify({ format: 1, revisions }, null, 1) + '\n');
const count = Object.keys(revisions).length;
console.log(`recorded ${count} platform revision${count === 1 ? '' : 's'} into ${path.relative(root, RECORDED_FILE)}${skipped.length ? `; imported at run time: ${skipped.join(', ')}` : ''}`);
