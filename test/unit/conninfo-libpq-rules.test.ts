/**
 * libpq's reading of connection strings, the service file and the password file, in the cases
 * where a plain reading goes wrong: each expectation is what libpq 15 (psql, PQconninfoParse) does
 * with the same input, checked live in test/connection-libpq-options.test.ts.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultHost, parseConnKeywords, parseConnString, parseConnUri, resolveConnOptions } from '../../src/config/conninfo.js';
import { passwordFromLines, passwordFromPassfile } from '../../src/config/pgpass.js';
import { postgresOptions } from '../../src/db/driver.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-libpq-rules-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const message = (run: () => unknown): string => {
  try {
    run();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('the string, as PQconninfoParse reads it', () => {
  it('requiressl is sslmode (require when it starts with 1, else prefer), the later of the two winning', () => {
    expect(parseConnUri('postgresql://h/d?requiressl=1')).toEqual({ host: 'h', dbname: 'd', sslmode: 'require' });
    expect(parseConnKeywords('host=h requiressl=0')).toEqual({ host: 'h', sslmode: 'prefer' });
    expect(parseConnKeywords('host=h requiressl=0 sslmode=verify-full').sslmode).toBe('verify-full');
    expect(parseConnKeywords('host=h sslmode=verify-full requiressl=0').sslmode).toBe('prefer');
  });

  it('an empty query parameter is refused, but for a trailing "&"', () => {
    expect(message(() => parseConnUri('postgresql://h/d?&sslmode=require'))).toMatch(/malformed query parameter ""/);
    expect(message(() => parseConnUri('postgresql://h/d?sslmode=require&&port=1'))).toMatch(/malformed query parameter ""/);
    expect(parseConnUri('postgresql://h/d?sslmode=require&')).toEqual({ host: 'h', dbname: 'd', sslmode: 'require' });
  });

  it('a parameter with a second "=" is refused naming the parameter, never its value (a password)', () => {
    expect(message(() => parseConnUri('postgresql://h/d?password=se=cret', 'DATABASE_URL'))).toBe('DATABASE_URL has a second "=" in the query parameter "password"');
  });

  it('a bracketed IPv6 host is percent-decoded (a zone written %25), and a bare % in it refused', () => {
    expect(parseConnUri('postgresql://[fe80::1%25eth0]:5432/d').host).toBe('fe80::1%eth0');
    expect(message(() => parseConnUri('postgresql://[fe80::1%eth0]/d'))).toMatch(/malformed %-escape/);
  });

  it('several hosts in a URL always set the port list: empty ports are 5432, not PGPORT', () => {
    expect(parseConnUri('postgresql://h1,h2/d')).toEqual({ host: 'h1,h2', port: ',', dbname: 'd' });
    expect(parseConnUri('postgresql://,h2/d')).toEqual({ host: ',h2', port: ',', dbname: 'd' });
    const two = resolveConnOptions(parseConnUri('postgresql://h1,h2/d'), { PGPORT: '6000' });
    expect(two.hosts.map((h) => h.port)).toEqual([5432, 5432]);
    // One host without a port: PGPORT's, as before.
    expect(resolveConnOptions(parseConnUri('postgresql://h1/d'), { PGPORT: '6000' }).hosts[0].port).toBe(6000);
  });

  it('keyword=value: only C whitespace separates, and a trailing backslash escapes nothing', () => {
    expect(parseConnKeywords('host=h\u00a0dbname=x')).toEqual({ host: 'h\u00a0dbname=x' });
    expect(parseConnKeywords('host=h user=u\\')).toEqual({ host: 'h', user: 'u' });
    expect(() => parseConnKeywords("host=h password='a\\")).toThrow(/unterminated/);
  });
});

describe('the settings, as libpq checks them before connecting', () => {
  it('PGREQUIRESSL=1 is sslmode=require when nothing else names one; PGSSLMODE and the string win', () => {
    expect(resolveConnOptions({ host: 'h' }, { PGREQUIRESSL: '1' }).sslmode).toBe('require');
    expect(resolveConnOptions({ host: 'h' }, { PGREQUIRESSL: '1', PGSSLMODE: 'disable' }).sslmode).toBe('disable');
    expect(resolveConnOptions({ host: 'h', sslmode: 'allow' }, { PGREQUIRESSL: '1' }).sslmode).toBe('allow');
    expect(resolveConnOptions({ host: 'h' }, { PGREQUIRESSL: '0' }).sslmode).toBe('prefer');
  });

  it('integer settings are C ints: junk and numbers too large for an int are refused; whitespace around is fine', () => {
    expect(message(() => resolveConnOptions(parseConnString('postgresql://h/d?connect_timeout=99999999999', 'DATABASE_URL'), {}, {}, 'DATABASE_URL'))).toBe(
      'DATABASE_URL has an invalid connect_timeout "99999999999"',
    );
    expect(resolveConnOptions({ host: 'h', connect_timeout: ' 5 ' }, {}).connectTimeout).toBe(5);
    expect(resolveConnOptions({ host: 'h', connect_timeout: '-5' }, {}).connectTimeout).toBe(0);
    expect(message(() => resolveConnOptions({ host: 'h', keepalives: 'junk' }, {}))).toBe('the connection has an invalid keepalives "junk"');
    expect(message(() => resolveConnOptions({ host: 'h', tcp_user_timeout: 'x' }, {}))).toBe('the connection has an invalid tcp_user_timeout "x"');
    expect(message(() => resolveConnOptions({ host: 'h' }, { PGHOST: 'h' } as NodeJS.ProcessEnv))).toBe('no error');
    // libpq reads the keepalive settings only for TCP.
    expect(message(() => resolveConnOptions({ host: '/tmp', keepalives_count: 'junk' }, {}))).toBe('no error');
  });

  it('a connect_timeout beyond what a Node timer holds waits that long instead of firing at once', () => {
    expect(postgresOptions(resolveConnOptions({ host: 'h', connect_timeout: '2147483647' }, {})).connect_timeout).toBe(2147483);
  });

  it('keepalives: off with keepalives=0, the idle time from keepalives_idle', () => {
    expect(postgresOptions(resolveConnOptions({ host: 'h', keepalives: '0' }, {})).keep_alive).toBeNull();
    expect(postgresOptions(resolveConnOptions({ host: 'h', keepalives_idle: '30' }, {})).keep_alive).toBe(30);
  });

  it('channel_binding, gssencmode, load_balance_hosts: values libpq does not know are refused; what postgres.js cannot do, too', () => {
    expect(message(() => resolveConnOptions({ host: 'h', channel_binding: 'bogus' }, {}))).toBe('the connection has an invalid channel_binding "bogus"');
    expect(message(() => resolveConnOptions({ host: 'h' }, { PGGSSENCMODE: 'bogus' }))).toBe('PGGSSENCMODE has an invalid gssencmode "bogus"');
    expect(message(() => resolveConnOptions({ host: 'h', load_balance_hosts: 'yes' }, {}))).toBe('the connection has an invalid load_balance_hosts "yes"');
    expect(message(() => resolveConnOptions({ host: 'h', channel_binding: 'require' }, {}, {}, 'DATABASE_URL'))).toMatch(/^DATABASE_URL asks for channel_binding=require, which postgres\.js, the driver used here, cannot honour/);
    expect(message(() => resolveConnOptions({ host: 'h' }, { PGGSSENCMODE: 'require' }))).toMatch(/^PGGSSENCMODE asks for gssencmode=require/);
    expect(message(() => resolveConnOptions({ host: 'h', require_auth: 'scram-sha-256' }, {}))).toMatch(/asks for require_auth=scram-sha-256/);
    for (const ok of [{ channel_binding: 'prefer' }, { channel_binding: 'disable' }, { gssencmode: 'disable' }, { gssencmode: 'prefer' }]) {
      expect(message(() => resolveConnOptions({ host: 'h', ...ok }, {}))).toBe('no error');
    }
  });

  it('sslrootcert=system (libpq 16): verify-full by default, a weaker sslmode beside it refused', () => {
    expect(resolveConnOptions({ host: 'h', sslrootcert: 'system' }, {}).sslmode).toBe('verify-full');
    expect(message(() => resolveConnOptions({ host: 'h', sslrootcert: 'system', sslmode: 'require' }, {}))).toMatch(/weak sslmode "require", which may not be used with sslrootcert=system/);
  });
});

describe('the connection service file', () => {
  const home = path.join(work, 'home');
  const sys = path.join(work, 'sysconf');
  mkdirSync(home, { recursive: true });
  mkdirSync(sys, { recursive: true });
  writeFileSync(path.join(home, '.pg_service.conf'), '# mine\n[other]\nhost=nowhere\n\n  [app]  \nhost=db.home\n port=6001\ndbname=appdb\nport=1\n[bad]\nhost = x\n[nested]\nservice=app\n[unknown]\nfoo=1\n[directory]\nldap://ldap.example:389/dc=example?uniqueMember?one?(cn=app)\nhost=fallback\n');
  writeFileSync(path.join(sys, 'pg_service.conf'), '[app]\nhost=db.sys\nuser=sysuser\n[sysonly]\nhost=db.sys\nport=6002\n');
  const env = { HOME: home, PGSYSCONFDIR: sys };

  it('service=, then the PG* variables: the string wins over the section, the section over PG*', () => {
    const c = resolveConnOptions(parseConnString('service=app user=me', 'DATABASE_URL'), { ...env, PGPORT: '7000', PGDATABASE: 'envdb', PGUSER: 'envuser' }, {}, 'DATABASE_URL');
    // The first port line of the section wins; a section found in ~/.pg_service.conf is the whole answer.
    expect(c).toMatchObject({ hosts: [{ host: 'db.home', port: 6001 }], dbname: 'appdb', user: 'me' });
    expect(c.extra.service).toBeUndefined();
    const uri = resolveConnOptions(parseConnUri('postgresql://h/d?service=app'), env);
    expect(uri).toMatchObject({ hosts: [{ host: 'h', port: 6001 }], dbname: 'd' });
  });

  it('PGSERVICE, PGSERVICEFILE (which must exist), and the system-wide file in PGSYSCONFDIR', () => {
    expect(resolveConnOptions({}, { ...env, PGSERVICE: 'sysonly' }).hosts).toEqual([{ host: 'db.sys', port: 6002, socket: false }]);
    const file = path.join(work, 'named.conf');
    writeFileSync(file, '[app]\nhost=db.named\n');
    expect(resolveConnOptions({ service: 'app' }, { ...env, PGSERVICEFILE: file }).hosts[0].host).toBe('db.named');
    expect(message(() => resolveConnOptions({ service: 'app' }, { ...env, PGSERVICEFILE: path.join(work, 'missing.conf') }))).toBe(`service file "${path.join(work, 'missing.conf')}" not found`);
  });

  it('refused in libpq\'s words: an unknown service, a line that is not keyword=value, a nested service, an unknown keyword', () => {
    const file = path.join(home, '.pg_service.conf');
    expect(message(() => resolveConnOptions({ service: 'nope' }, env))).toBe('definition of service "nope" not found');
    expect(message(() => resolveConnOptions({ service: 'bad' }, env))).toMatch(new RegExp(`^syntax error in service file "${file}", line 11`));
    expect(message(() => resolveConnOptions({ service: 'nested' }, env))).toBe(`nested service specifications not supported in service file "${file}", line 13`);
    expect(message(() => resolveConnOptions({ service: 'unknown' }, env))).toMatch(new RegExp(`^syntax error in service file "${file}", line 15`));
    // An LDAP lookup (libpq asks the LDAP server, its later lines are the fallback): refused by name, not read as a keyword.
    expect(message(() => resolveConnOptions({ service: 'directory' }, env))).toBe(`LDAP lookup of service "directory" (service file "${file}", line 17) is not supported`);
  });

  it('an empty value is a value: stated empty, it keeps the section\'s and PG*\'s out; first in the section, it keeps the later line and PG* out', () => {
    // psql "service=app dbname=''" and "postgresql://?service=app&dbname=" connect to the database named as the user, not appdb.
    const pg = { ...env, PGDATABASE: 'envdb', PGUSER: 'u' };
    expect(resolveConnOptions(parseConnString("service=app dbname=''", 'DATABASE_URL'), pg).dbname).toBe('u');
    expect(resolveConnOptions(parseConnUri('postgresql://?service=app&dbname='), pg).dbname).toBe('u');
    expect(resolveConnOptions(parseConnString("dbname=''", 'DATABASE_URL'), pg).dbname).toBe('u');
    const file = path.join(work, 'empty-first.conf');
    writeFileSync(file, '[app]\nhost=db.named\ndbname=\ndbname=second\n');
    expect(resolveConnOptions({ service: 'app' }, { ...pg, PGSERVICEFILE: file }).dbname).toBe('u');
  });

  it('a folder where a service file is looked for holds no section (libpq reads nothing from it): the next file is read', () => {
    expect(resolveConnOptions({ service: 'sysonly' }, { ...env, PGSERVICEFILE: work }).hosts[0].host).toBe('db.sys');
    expect(resolveConnOptions({ service: 'sysonly' }, { ...env, HOME: work, PGSERVICEFILE: undefined }).hosts[0].host).toBe('db.sys');
    mkdirSync(path.join(work, '.pg_service.conf'));
    expect(resolveConnOptions({ service: 'sysonly' }, { ...env, HOME: work }).hosts[0].host).toBe('db.sys');
    expect(message(() => resolveConnOptions({ service: 'app' }, { ...env, HOME: work, PGSYSCONFDIR: work }))).toBe('definition of service "app" not found');
  });
});

describe('the password file, as libpq matches it', () => {
  const lines = (text: string) => text.split('\n');

  it('short lines, wildcards, escapes, and a password ending at the next unescaped ":"', () => {
    expect(passwordFromLines(lines('h:1:d:u:p'), 'h', '1', 'd', 'u')).toBe('p');
    expect(passwordFromLines(lines('*:*:*:*:pw'), 'h', '5432', 'd', 'u')).toBe('pw');
    expect(passwordFromLines(lines('h:5432:d:u:pass:extra'), 'h', '5432', 'd', 'u')).toBe('pass');
    expect(passwordFromLines(lines('h:5432:d:u:a\\:b\\\\c'), 'h', '5432', 'd', 'u')).toBe('a:b\\c');
    expect(passwordFromLines(lines('h:5432:d:u:pw\r'), 'h', '5432', 'd', 'u')).toBe('pw');
    expect(passwordFromLines(lines('#h:5432:d:u:no\nh:5432:d:u:yes'), 'h', '5432', 'd', 'u')).toBe('yes');
  });

  it('an unescaped ":" in a field matches a ":" of the value (IPv6 hosts); ports compare as text', () => {
    expect(passwordFromLines(lines('::1:5432:*:*:first\n\\:\\:1:5432:*:*:second'), '::1', '5432', 'd', 'u')).toBe('first');
    expect(passwordFromLines(lines('h:05432:*:*:pw'), 'h', '5432', 'd', 'u')).toBeUndefined();
  });

  it('the default socket folder is looked up as localhost; any other socket folder as its path; an empty PGPASSWORD does not stop the file', async () => {
    const file = path.join(work, 'pgpass');
    writeFileSync(file, `localhost:5432:*:*:for-localhost\n/tmp/other:5432:*:*:for-other\n`);
    chmodSync(file, 0o600);
    const env = { PGPASSFILE: file, PGPASSWORD: '' };
    const at = (host: string) => passwordFromPassfile(resolveConnOptions({ host, user: 'u', dbname: 'd' }, env), env);
    expect(await at(defaultHost())).toBe('for-localhost');
    expect(await at('/tmp/other')).toBe('for-other');
    expect(await at('/tmp/third')).toBeUndefined();
  });
});
