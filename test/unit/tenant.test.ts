/** The pure parts of tenant isolation: the tenant id check, the role names, the owner's URL. */
import { describe, expect, it } from 'vitest';
import { asOwner, resolveConfig } from '../../src/config/config.js';
import { NO_TENANT, tenantId } from '../../src/tenant/with-tenant.js';
import { bypassRoleName, defaultOwnerName, ident } from '../../src/tenant/roles.js';

describe('tenantId', () => {
  it('accepts a UUID in either case and gives it in lower case', () => {
    expect(tenantId('DE000000-0000-4000-8000-00000000000A')).toBe('de000000-0000-4000-8000-00000000000a');
  });
  it.each([["'; DROP TABLE users; --"], [''], ['de000000-0000-4000-8000-00000000000'], ['de000000000040008000000000000001'], [' de000000-0000-4000-8000-000000000001'], [null], [42]])(
    'refuses %j with code tenant.id',
    (value) => {
      expect(() => tenantId(value)).toThrowError(expect.objectContaining({ code: 'tenant.id', message: expect.stringMatching(/is not a UUID/) }));
    },
  );
  it('refuses the nil UUID, the documented "no tenant", in one line saying what to pass instead', () => {
    expect(NO_TENANT).toBe('00000000-0000-0000-0000-000000000000');
    expect(() => tenantId(NO_TENANT)).toThrowError(
      expect.objectContaining({
        code: 'tenant.id',
        message: 'the organization id 00000000-0000-0000-0000-000000000000 is the nil UUID, which means "no tenant", never a tenant',
        hint: expect.stringContaining('outside withTenant, with no tenant set'),
      }),
    );
  });
});

describe('role names', () => {
  it('derives the owner and bypass names within the 63-byte identifier limit', () => {
    expect(defaultOwnerName('cmmc_app')).toBe('cmmc_app_owner');
    expect(bypassRoleName('cmmc_owner')).toBe('cmmc_owner_rls_bypass');
    expect(bypassRoleName('x'.repeat(63))).toHaveLength(63);
    expect(defaultOwnerName('y'.repeat(63))).toHaveLength(63);
    expect(ident('we"ird')).toBe('"we""ird"');
  });
});

describe('the owner URL', () => {
  const cwd = '/tmp';
  /** user, password, host, port, database and query of a URL (its spelling is src/config's business). */
  const parts = (url: string | undefined) => {
    const u = new URL(url!);
    return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), host: u.host, db: u.pathname, query: u.search };
  };
  it('is the target with DB_OWNER_USER and DB_OWNER_PASSWORD, from DB_* or DATABASE_URL', () => {
    const fromParts = resolveConfig({ env: { DB_HOST: 'h', DB_NAME: 'd', DB_USER: 'app', DB_PASSWORD: 'a', DB_OWNER_USER: 'own', DB_OWNER_PASSWORD: 'p@ss' }, cwd });
    expect(parts(fromParts.ownerUrl)).toEqual({ ...parts(fromParts.url), user: 'own', password: 'p@ss' });
    expect(parts(fromParts.ownerUrl)).toMatchObject({ host: 'h:5432', db: '/d' });
    expect(asOwner(fromParts).url).toBe(fromParts.ownerUrl);
    const fromUrl = resolveConfig({ env: { DATABASE_URL: 'postgres://app:a@h:5433/d?sslmode=require', DB_OWNER_USER: 'own' }, cwd });
    expect(parts(fromUrl.ownerUrl)).toEqual({ ...parts(fromUrl.url), user: 'own', password: '' });
    expect(parts(fromUrl.ownerUrl).query).toContain('sslmode=require');
  });
  it('is absent without DB_OWNER_USER, and for an explicit --url (the user named the connection)', () => {
    const none = resolveConfig({ env: { DATABASE_URL: 'postgres://app@h/d' }, cwd });
    expect(none.ownerUrl).toBeUndefined();
    expect(asOwner(none)).toBe(none);
    expect(resolveConfig({ url: 'postgres://x@h/d', env: { DB_OWNER_USER: 'own' }, cwd }).ownerUrl).toBeUndefined();
  });
});
