/**
 * The compliance trail (audit_logs) is append-only for the application role, but the time of an event
 * was the writer's to choose: any tenant's session (and the platform's, with no tenant set) could
 * append an event dated years back or ahead (an alibi before an incident, a login "after" an account
 * was closed), and the report's evidence (AU.L2-3.3.1, first and last record) took it as the trail's
 * own. created_at is now the server's clock for every role that row-level security binds; a role
 * that reads every tenant (the bypass role of seeds and data migrations, a superuser's pg_restore)
 * still writes the time it is given, so that a restore keeps the trail as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { query, uniqueName } from './helpers/server.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf, runStatements, TWO_TENANTS } from './helpers/tenant-setup.js';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

const { A } = TWO_TENANTS;
const NIL = '00000000-0000-0000-0000-000000000000';

describe('the time of an audit event', () => {
  const s = newSetup('taud');
  const copy = uniqueName('taud_copy');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-audit-'));

  beforeAll(async () => {
    await initWithTwoTenants(s);
  });
  afterAll(async () => {
    await query(s.adminUrl.replace(/\/[^/]+$/, '/postgres'), `DROP DATABASE IF EXISTS "${copy}" WITH (FORCE)`);
    await dropSetup({ db: s.db, roles: rolesOf(s) });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Appends one event with a chosen time as `url`'s role, in a transaction that first sets `setup`. */
  const append = (url: string, note: string, setup: string[], org: string) =>
    runStatements(url, [
      'BEGIN',
      ...setup,
      `INSERT INTO audit_logs (organization_id, action, entity_type, entity_id, created_at)
       VALUES ('${org}', 'LOGIN', 'user', '${note}', '2019-03-01 00:00:00+00')`,
      'COMMIT',
    ]);
  const timeOf = async (note: string) => {
    const [row] = await query<{ forged: boolean; recent: boolean }>(s.adminUrl, `
      SELECT created_at = '2019-03-01 00:00:00+00' AS forged, created_at > now() - interval '10 minutes' AS recent
        FROM audit_logs WHERE entity_id = '${note}'`);
    return row;
  };

  it("a tenant's session, the platform's, and the owner (bound by the forced policies) get the server's time", async () => {
    await append(s.appUrl, 'tenant', [`SET LOCAL app.current_organization_id = '${A}'`], A);
    expect(await timeOf('tenant')).toEqual({ forged: false, recent: true });
    await append(s.appUrl, 'platform', [], NIL);
    expect(await timeOf('platform')).toEqual({ forged: false, recent: true });
    await append(s.ownerUrl, 'owner', [`SET LOCAL app.current_organization_id = '${A}'`], A);
    expect(await timeOf('owner')).toEqual({ forged: false, recent: true });
  });

  it('the bypass role and a superuser keep the time they give; a backup restored keeps every time', async () => {
    await append(s.ownerUrl, 'bypass', [`SET LOCAL ROLE "${s.owner}_rls_bypass"`], A);
    expect(await timeOf('bypass')).toEqual({ forged: true, recent: false });
    await append(s.adminUrl, 'admin', [], A);
    expect(await timeOf('admin')).toEqual({ forged: true, recent: false });

    const before = await query<{ id: string; at: string }>(s.adminUrl, `SELECT id, created_at::text AS at FROM audit_logs ORDER BY id`);
    const backup = await runCli(['backup', '--dir', dir], { env: s.env });
    expect(backup.exitCode, backup.stderr).toBe(0);
    const name = fs.readdirSync(dir).find((f) => f.endsWith('.manifest.json'))!.replace(/\.manifest\.json$/, '');
    const restore = await runCli(['backup', 'restore', name, '--dir', dir, '--target-db', copy, '--yes'], { url: s.adminUrl });
    expect(restore.exitCode, restore.stderr).toBe(0);
    const after = await query<{ id: string; at: string }>(s.adminUrl.replace(/\/[^/]+$/, `/${copy}`), `SELECT id, created_at::text AS at FROM audit_logs ORDER BY id`);
    expect(after).toEqual(before);
  });
});
