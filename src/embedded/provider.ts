/**
 * The embedded database (PGlite) behind the connection seam. Filled in by the embedded capability;
 * until then, using no configured database says so plainly.
 */
import type { EmbeddedProvider } from '../db/connection.js';
import { CmmcError } from '../errors.js';

export const provider: EmbeddedProvider = {
  async start() {
    throw new CmmcError('embedded.unavailable', 'no database is configured and the embedded database is not built yet', {
      hint: 'set DATABASE_URL (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD) to use a PostgreSQL server',
    });
  },
};
