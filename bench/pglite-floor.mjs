#!/usr/bin/env node
/**
 * The floor for the embedded rows of bench/embedded.mjs: PGlite on its own, with the platform's
 * extensions, no cmmc-db code. `create DIR FILE` creates a data directory and runs the SQL file;
 * `query DIR` opens an existing one and runs one query.
 */
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp';

const [what, dataDir, file] = process.argv.slice(2);
const pg = await PGlite.create({ dataDir, extensions: { vector, uuid_ossp } });
if (what === 'create') await pg.exec(readFileSync(file, 'utf8'));
else await pg.query('SELECT 1');
await pg.close();
