/**
 * keepsToTenant: which policy expressions (as pg_get_expr deparses them) keep rows to the session's
 * tenant. The platform's own shapes (b27c5e9f0357, ea4d41f1e1b0) do; anything that an OR, a constant
 * or a column on the setting's side can widen does not.
 */
import { describe, expect, it } from 'vitest';
import { keepsToTenant } from '../../src/doctor/checks/tenant-isolation.js';

const T = `(NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid`;
const NIL = `'00000000-0000-0000-0000-000000000000'::uuid`;

describe('keepsToTenant', () => {
  it('accepts the platform policies', () => {
    expect(keepsToTenant(`(organization_id = ${T})`, 'organization_id')).toBe(true);
    expect(keepsToTenant(`(id = ${T})`, 'id')).toBe(true);
    expect(keepsToTenant(`((organization_id = ${T}) AND (organization_id <> ${NIL}))`, 'organization_id')).toBe(true);
    expect(keepsToTenant(`(organization_id = COALESCE(${T}, ${NIL}))`, 'organization_id')).toBe(true);
    expect(keepsToTenant(`(${T} = organization_id)`, 'organization_id')).toBe(true);
    expect(keepsToTenant(`(organization_id = (current_setting('app.current_organization_id'::text))::uuid)`, 'organization_id')).toBe(true);
    expect(keepsToTenant(`((status)::text <> 'x'::text) AND (organization_id = ${T})`, 'organization_id')).toBe(true);
  });

  it('refuses what lets other tenants through', () => {
    for (const expr of [
      'true',
      `((organization_id = ${T}) OR true)`,
      `((organization_id = ${T}) OR (email ~~ '%'::text))`,
      `(organization_id = COALESCE(${T}, organization_id))`,
      `(organization_id = 'de000000-0000-4000-8000-000000000001'::uuid)`,
      `(id = ${T})`,
      `(organization_id IS NOT NULL)`,
      `(NOT (organization_id <> ${T}))`,
      `(organization_id = (current_setting('app.other'::text))::uuid)`,
      `((organization_id = ${T}) AND true) OR true`,
    ]) expect(keepsToTenant(expr, 'organization_id'), expr).toBe(false);
  });
});
