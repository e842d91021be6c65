import { describe, expect, it } from 'vitest';
import { parseDuration, redactUrl, resolveConfig } from '../src/config/config.js';

describe('configuration precedence', () => {
  const cwd = '/tmp';
  it('--url beats DATABASE_URL beats DB_* beats embedded', () => {
    const env = { DATABASE_URL: 'postgres://a@h1/db1', DB_HOST: 'h2', DB_NAME: 'db2' };
    expect(resolveConfig({ url: 'postgres://b@h0/db0', env, cwd })).toMatchObject({ source: '--url', url: 'postgresql://b@h0:5432/db0?connect_timeout=10' });
    expect(resolveConfig({ env, cwd })).toMatchObject({ source: 'DATABASE_URL', url: 'postgresql://a@h1:5432/db1?connect_timeout=10' });
    expect(resolveConfig({ env: { DB_HOST: 'h2', DB_NAME: 'db2', DB_USER: 'app', DB_PASSWORD: 'p@ss/word' }, cwd })).toMatchObject({
      source: 'DB_*',
      url: 'postgresql://app:p%40ss%2Fword@h2:5432/db2?connect_timeout=10',
    });
    expect(resolveConfig({ env: {}, cwd })).toMatchObject({ kind: 'embedded', source: 'embedded' });
  });

  it('production comes from NODE_ENV or CMMC_ENV', () => {
    expect(resolveConfig({ env: { NODE_ENV: 'production' }, cwd }).production).toBe(true);
    expect(resolveConfig({ env: { CMMC_ENV: 'production' }, cwd }).production).toBe(true);
    expect(resolveConfig({ env: {}, cwd }).production).toBe(false);
  });

  it('rejects a bad port and a bad version table name', () => {
    expect(() => resolveConfig({ env: { DB_PORT: 'abc' }, cwd })).toThrow(/DB_PORT/);
    expect(() => resolveConfig({ env: { CMMC_VERSION_TABLE: 'x; drop table y' }, cwd })).toThrow(/CMMC_VERSION_TABLE/);
  });
});

describe('redactUrl', () => {
  it('masks the password and only the password', () => {
    expect(redactUrl('postgres://u:secret@h:5432/d')).toBe('postgres://u:****@h:5432/d');
    expect(redactUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
    expect(redactUrl('postgres://u:x@h/d?password=secret')).not.toContain('secret');
    expect(redactUrl('not a url://u:secret@h')).not.toContain('secret');
  });
});

describe('parseDuration', () => {
  it('reads units', () => {
    expect(parseDuration('500')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5min')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
