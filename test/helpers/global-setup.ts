/** Before any test: the CLI must be built and the server must answer, or every test would fail obscurely. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { ROOT } from './cli.js';
import { ADMIN_URL } from './server.js';

export default async function setup(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run "npm run build" first (npm test does it for you)');
  }
  const sql = postgres(ADMIN_URL, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    const rows = await sql`SELECT 1 AS ok FROM pg_available_extensions WHERE name = 'vector'`;
    if (rows.length === 0) throw new Error('pgvector is not installed on the test server: run scripts/setup-postgres.sh');
  } finally {
    await sql.end();
  }
}
