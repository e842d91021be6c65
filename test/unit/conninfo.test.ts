/**
 * The connection-string reader, pure: libpq's rules (fe-connect.c) for URIs and keyword=value
 * strings, the precedence of flag > DATABASE_URL > DB_* > PG* > defaults, and the postgres.js
 * options built from a resolved target. What psql itself does with each form is checked live in
 * test/connection-libpq.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { connParamsOf, formatConnUri, parseConnKeywords, parseConnUri, redactArgs, redactConnString, resolveConnOptions } from '../../src/config/conninfo.js';
import { postgresOptions, reconnectBackoff } from '../../src/db/driver.js';

const cwd = '/tmp';

describe('URIs as libpq parses them', () => {
  it('reads user, password, hosts with ports, IPv6 in brackets, socket folders and the database, percent-decoded', () => {
    expect(parseConnUri('postgresql://us%40r:p%3Aw@[::1]:5451/d%2Fb')).toEqual({ user: 'us@r', password: 'p:w', host: '::1', port: '5451', dbname: 'd/b' });
    expect(parseConnUri('postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write')).toMatchObject({ host: 'h1,h2', port: '5432,5433', target_session_attrs: 'read-write' });
    expect(parseConnUri('postgresql://%2Frun%2Fpostgresql/db')).toMatchObject({ host: '/run/postgresql', dbname: 'db' });
    expect(parseConnUri('postgresql:///db?host=/run/postgresql&sslmode=verify-full&sslrootcert=/ca.pem')).toMatchObject({ host: '/run/postgresql', sslmode: 'verify-full', sslrootcert: '/ca.pem' });
    expect(parseConnUri('postgresql://h/db?ssl=true')).toMatchObject({ sslmode: 'require' });
    // libpq does not turn + into a space.
    expect(parseConnUri('postgresql://h/a+b')).toMatchObject({ dbname: 'a+b' });
  });

  it('refuses what libpq refuses, in one line naming the fix', () => {
    expect(() => parseConnUri('postgresql://h/%zz', 'DATABASE_URL')).toThrow(/DATABASE_URL has a malformed %-escape "%zz"/);
    expect(() => parseConnUri('postgresql://h/a%00b')).toThrow(/%00/);
    expect(() => parseConnUri('postgresql://[::1/db')).toThrow(/closing "\]"/);
    expect(() => parseConnUri('postgresql://h/db?nonsense=1')).toThrow(/unknown query parameter "nonsense"/);
    expect(() => resolveConfig({ url: 'mysql://root:pw@h/db', env: {}, cwd })).toThrow(/must start with postgresql:\/\/ or postgres:\/\/, not mysql:\/\//);
  });

  it('a "/" left unencoded in a password is refused without echoing the password (it was: \'invalid port "Xk9q"\')', () => {
    for (const url of ['postgresql://app:Xk9q/Zp+w==@db.example:5432/cmmc', 'postgres://app:Xk9q/Zp@h1,h2/db', 'postgres://a:b@h:5432,app:Xk9q/Zp@h2/db']) {
      let err: (Error & { hint?: string }) | undefined;
      try {
        resolveConfig({ url, env: {}, cwd });
      } catch (e) {
        err = e as Error & { hint?: string };
      }
      expect(err?.message, url).toMatch(/has a "\/" before its "@"/);
      expect(`${err?.message} ${err?.hint} ${err?.stack}`).not.toContain('Xk9q');
      expect(err?.hint).toContain('%2F');
    }
    // What libpq accepts stays accepted, read as libpq reads it: host "u", port 1234, database "5@h/db".
    expect(parseConnUri('postgres://u:1234/5@h/db')).toMatchObject({ host: 'u', port: '1234', dbname: '5@h/db' });
    expect(parseConnUri('postgresql://[::1]:5432/a@b')).toMatchObject({ host: '::1', dbname: 'a@b' });
  });
});

describe('keyword=value strings', () => {
  it('reads quoted values with escapes', () => {
    expect(parseConnKeywords("host=db port = 6432 dbname='my \\'odd\\' db' password=a\\ b")).toEqual({ host: 'db', port: '6432', dbname: "my 'odd' db", password: 'a b' });
    expect(() => parseConnKeywords('host=db bogus=1')).toThrow(/unknown keyword "bogus"/);
    expect(() => parseConnKeywords("dbname='open")).toThrow(/unterminated/);
  });
});

describe('precedence and defaults', () => {
  it('a given host is kept as given: DB_HOST=fd00::2 is not replaced by localhost', () => {
    const c = resolveConfig({ env: { DB_HOST: 'fd00::2', DB_PORT: '5451' }, cwd });
    expect(c.conn!.hosts).toEqual([{ host: 'fd00::2', port: 5451, socket: false }]);
    expect(c.url).toBe('postgresql://postgres@[fd00::2]:5451/cmmc_platform?connect_timeout=10');
  });

  it('flag > DATABASE_URL > DB_* > PG* > defaults, PG* completing what the URL leaves out', () => {
    const env = { DATABASE_URL: 'postgres:///db1', DB_HOST: 'h2', PGHOST: 'pghost', PGUSER: 'pguser', PGPASSWORD: 'pgpw', PGSSLMODE: 'require', PGAPPNAME: 'app' };
    const fromUrl = resolveConfig({ env, cwd }).conn!;
    expect(fromUrl).toMatchObject({ hosts: [{ host: 'pghost', port: 5432 }], user: 'pguser', password: 'pgpw', dbname: 'db1', sslmode: 'require', applicationName: 'app' });
    expect(resolveConfig({ url: 'postgres://u@h0/d0', env, cwd }).conn).toMatchObject({ hosts: [{ host: 'h0' }], user: 'u', dbname: 'd0' });
    expect(resolveConfig({ env: { DB_NAME: 'd', PGHOST: 'pghost' }, cwd }).conn).toMatchObject({ hosts: [{ host: 'pghost' }], user: 'postgres', dbname: 'd' });
    expect(resolveConfig({ env: { PGHOST: '/run/pg', PGDATABASE: 'x', PGUSER: 'me' }, cwd })).toMatchObject({ source: 'PG*', conn: { hosts: [{ host: '/run/pg', socket: true }], dbname: 'x' } });
    // libpq: the database defaults to the user name.
    expect(resolveConnOptions({ host: 'h', user: 'alice' }, {}).dbname).toBe('alice');
  });

  it('connect_timeout: 10 s by default, CMMC_CONNECT_TIMEOUT, then the URL or PGCONNECT_TIMEOUT; 1 is raised to 2 and 0 waits for ever, as libpq', () => {
    expect(resolveConfig({ url: 'postgres://h/d', env: {}, cwd }).conn!.connectTimeout).toBe(10);
    expect(resolveConfig({ url: 'postgres://h/d', env: { CMMC_CONNECT_TIMEOUT: '30s' }, cwd }).conn!.connectTimeout).toBe(30);
    expect(resolveConfig({ url: 'postgres://h/d', env: { CMMC_CONNECT_TIMEOUT: '30', PGCONNECT_TIMEOUT: '4' }, cwd }).conn!.connectTimeout).toBe(4);
    expect(resolveConfig({ url: 'postgres://h/d?connect_timeout=1', env: {}, cwd }).conn!.connectTimeout).toBe(2);
    expect(resolveConfig({ url: 'postgres://h/d?connect_timeout=0', env: {}, cwd }).conn!.connectTimeout).toBe(0);
  });

  it('says in one line what is not supported, instead of connecting elsewhere', () => {
    expect(() => resolveConnOptions({ hostaddr: '10.0.0.1' }, {})).toThrow(/hostaddr/);
    expect(() => postgresOptions(resolveConnOptions({ host: '/run/postgresql,db2' }, {}))).toThrow(/a unix-socket host among several hosts .*postgres\.js.* cannot/);
  });

  it('a refused value is named by the setting that held it, in a sentence that reads right for every source', () => {
    const message = (run: () => unknown) => {
      try {
        run();
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    // The PG* variables alone: each message names its variable, never "the PG* variables has".
    const pg = (env: NodeJS.ProcessEnv) => message(() => resolveConfig({ env: { PGHOST: 'h', ...env }, cwd }));
    expect(pg({ PGPORT: 'x' })).toBe('PGPORT has an invalid port "x"');
    expect(pg({ PGSSLMODE: 'sometimes' })).toBe('PGSSLMODE has an invalid sslmode "sometimes"');
    expect(pg({ PGTARGETSESSIONATTRS: 'writable' })).toBe('PGTARGETSESSIONATTRS has an invalid target_session_attrs "writable"');
    expect(pg({ PGCONNECT_TIMEOUT: 'soon' })).toBe('PGCONNECT_TIMEOUT has an invalid connect_timeout "soon"');
    expect(pg({ PGSERVICE: 'prod', PGSERVICEFILE: '/nonexistent/pg_service.conf' })).toBe('service file "/nonexistent/pg_service.conf" not found');
    expect(pg({ PGHOSTADDR: '10.0.0.1' })).toMatch(/^PGHOSTADDR gives a hostaddr;/);
    expect(message(() => resolveConfig({ env: { PGHOST: 'h1,h2,h3', PGPORT: '1,2' }, cwd }))).toBe('PGPORT has 2 ports for the 3 hosts of PGHOST');
    expect(message(() => resolveConfig({ env: { PGPORT: '1,2', PGUSER: 'u' }, cwd }))).toBe('PGPORT has 2 ports for 1 host');
    // A URL that leaves the port out takes PGPORT's: the fix is PGPORT, not the URL.
    expect(message(() => resolveConfig({ env: { DATABASE_URL: 'postgres://h/d', PGPORT: '99999' }, cwd }))).toBe('PGPORT has an invalid port "99999"');
    expect(message(() => resolveConfig({ env: { DATABASE_URL: 'host=h1,h2 dbname=d', PGPORT: '1,2,3' }, cwd }))).toBe('PGPORT has 3 ports for the 2 hosts of DATABASE_URL');
    expect(message(() => resolveConfig({ env: { DATABASE_URL: 'postgres://h:0/d' }, cwd }))).toBe('DATABASE_URL has an invalid port "0"');
    expect(message(() => resolveConfig({ url: 'postgres://h/d?sslmode=on', env: { PGSSLMODE: 'require' }, cwd }))).toBe('--url has an invalid sslmode "on"');
    expect(message(() => resolveConfig({ env: { DB_HOST: 'h', PGSSLMODE: 'on' }, cwd }))).toBe('PGSSLMODE has an invalid sslmode "on"');
  });
});

describe('the resolved URL', () => {
  it('reads back to the same target, several hosts, sockets and settings included', () => {
    const conn = resolveConnOptions(parseConnUri('postgresql://u:p%40ss@[::1]:5433,db2/my%20db?target_session_attrs=read-write&application_name=x&options=-c%20a%3Db'), {});
    expect(connParamsOf(formatConnUri(conn))).toEqual(conn);
    const sock = resolveConnOptions({ host: '/run/postgresql', port: '5444', user: 'u', dbname: 'd' }, {});
    expect(formatConnUri(sock)).toBe('postgresql://u@%2Frun%2Fpostgresql:5444/d?connect_timeout=10');
  });

  it('masks passwords in URLs and keyword=value strings', () => {
    expect(redactConnString('postgresql://u:secret@h/d?sslpassword=s2')).toBe('postgresql://u:****@h/d?sslpassword=****');
    expect(redactConnString("host=h password='a b' user=u")).toBe('host=h password=**** user=u');
    expect(redactConnString('mysql://root:hunter2@h/db')).not.toContain('hunter2');
    // libpq reads the credentials up to the first "@" before a "/": "?" and "#" belong to the password.
    expect(redactConnString('postgresql://u:se?c#r:et@h/d')).toBe('postgresql://u:****@h/d');
    // Neither form: a JDBC URL, one slash, no scheme: every "…:secret@" and password parameter masked.
    for (const text of ['jdbc:postgresql://h/d?user=u&password=hunter2', 'postgresql:/u:hunter2@h/d', 'u:hunter2@h/d', 'jdbc:sqlserver://h;PASSWORD=hunter2;db=x']) {
      expect(redactConnString(text), text).not.toContain('hunter2');
    }
  });

  it('masks passwords in command-line arguments: connection strings anywhere, and the values of options that carry them', () => {
    const secret = 'AdminSecret9';
    const cases: string[][] = [
      ['init', '--admin-url', `postgres://postgres:${secret}@127.0.0.1/postgres`],
      ['init', `--admin-url=postgres://postgres:${secret}@127.0.0.1/postgres`],
      ['init', '--admin-url', `host=127.0.0.1 password=${secret} user=postgres`],
      ['init', `--admin-url=host=127.0.0.1 password='${secret} x'`],
      ['current', '--url', `postgresql://u:${secret}@h/d?sslpassword=${secret}`],
      ['revision', '--autogenerate', `--from=postgres://u:${secret}@h/d`],
      ['current', `--url=not-a-url-${secret}`],
      ['init', '--admin-url', `postgres://postgres:${secret}/x@h/postgres`],
      ['current', '--url', `${secret}`],
      ['psql-ish', `password=${secret}`, `postgres://u:${secret}@h/d`],
    ];
    for (const args of cases) {
      const masked = redactArgs(args).join(' ');
      expect(masked, args.join(' ')).not.toContain(secret);
      expect(masked).toContain(args[0]);
    }
    // Nothing else is changed.
    expect(redactArgs(['upgrade', 'head', '--from-standby', '--dir', 'backups'])).toEqual(['upgrade', 'head', '--from-standby', '--dir', 'backups']);
    expect(redactArgs(['init', '--admin-url', 'postgres://postgres:pw@h/postgres', 'extra'])).toEqual(['init', '--admin-url', 'postgres://postgres:****@h/postgres', 'extra']);
  });
});

describe('postgres.js options', () => {
  it('hosts and ports as lists, a socket as path, TLS as sslmode says, nothing left to postgres.js defaults', () => {
    const multi = postgresOptions(resolveConnOptions({ host: 'a,b', port: '1,2', user: 'u', dbname: 'd', target_session_attrs: 'primary', sslmode: 'disable' }, {}));
    expect(multi).toMatchObject({ host: ['a', 'b'], port: [1, 2], database: 'd', user: 'u', ssl: false, target_session_attrs: 'primary', connect_timeout: 10 });
    const sock = postgresOptions(resolveConnOptions({ host: '/run/pg', port: '5444', user: 'u', dbname: 'd' }, {}));
    expect(sock).toMatchObject({ path: '/run/pg/.s.PGSQL.5444', ssl: false });
    expect(postgresOptions(resolveConnOptions({ host: 'h', sslmode: 'require' }, {})).ssl).toBe('require');
    expect(postgresOptions(resolveConnOptions({ host: 'h' }, {})).ssl).toBe('prefer');
  });

  it('reconnects after at most half a second (postgres.js alone waits up to 20 s)', () => {
    expect([1, 2, 3, 4, 10, 50].map(reconnectBackoff)).toEqual([0.1, 0.2, 0.4, 0.5, 0.5, 0.5]);
  });
});
