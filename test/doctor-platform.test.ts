import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

// doctor on a freshly migrated platform database: the two overlapping indexes that the design names
// are reported as kept, not warned about; an overlapping index made by hand still warns.
describe('doctor on the platform schema', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    const r = await runCli(['upgrade', 'head'], { url: tdb.url });
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it('does not warn about the design-named overlapping indexes', async () => {
    const r = await runCliJson(['doctor', 'indexes.duplicate', 'maintenance.cache-hit', '--verbose'], { url: tdb.url });
    expect(r.exitCode).toBe(0);
    const dup = r.data.checks.find((c: any) => c.id === 'indexes.duplicate');
    expect(dup.status).toBe('ok');
    expect(dup.rows.map((row: any) => row.index).sort()).toEqual(['public.idx_provider_inheritance_provider']);
    expect(r.data.checks.find((c: any) => c.id === 'maintenance.cache-hit').status).toBe('ok');
  });

  it('still warns about an overlapping index made by hand', async () => {
    await query(tdb.url, 'CREATE INDEX idx_hand_made ON public.control_findings (control_id)');
    await query(tdb.url, 'CREATE INDEX idx_hand_made_2 ON public.control_findings (control_id, status)');
    const r = await runCliJson(['doctor', 'indexes.duplicate'], { url: tdb.url });
    expect(r.exitCode).toBe(1);
    const dup = r.data.checks.find((c: any) => c.id === 'indexes.duplicate');
    expect(dup.status).toBe('warn');
    expect(dup.figure).toContain('idx_hand_made');
  });
});
