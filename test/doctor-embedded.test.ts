/**
 * doctor on the embedded database (PGlite, no server): the catalogue checks run, the checks that
 * need server statistics say so in one line each, and kill-idle refuses in one line.
 */
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { embeddedBackend } from './helpers/backends.js';

describe('doctor on the embedded database', () => {
  it('runs the catalogue checks, marks the server-statistics checks unknown, and kill-idle refuses', async () => {
    const target = await embeddedBackend.create();
    try {
      await target.query('CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX t_a ON t (a); CREATE INDEX t_a2 ON t (a)');
      const r = await runCliJson(['doctor', 'indexes', 'connections.usage'], { env: target.env });
      const byId = Object.fromEntries(r.data.checks.map((c: any) => [c.id, c]));
      expect(byId['indexes.duplicate'].status).toBe('warn');
      expect(byId['indexes.duplicate'].rows[0]).toMatchObject({ index: 'public.t_a2', covered_by: 'public.t_a' });
      for (const id of ['indexes.unused', 'indexes.seq-scans', 'connections.usage']) {
        expect(byId[id].status).toBe('unknown');
        expect(byId[id].figure).toBe('needs a PostgreSQL server: the embedded database keeps no server statistics');
      }
      // A definite warning outranks "could not look".
      expect(r.exitCode).toBe(1);

      const k = await runCli(['doctor', 'kill-idle', '--yes'], { env: target.env });
      expect(k.exitCode).toBe(1);
      expect(k.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toEqual([
        'error: kill-idle needs a PostgreSQL server: the embedded database has no other connections to end — point DATABASE_URL at a server',
      ]);
    } finally {
      await target.drop();
    }
  });
});
