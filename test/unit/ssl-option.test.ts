/**
 * libpq's sslmode as postgres.js's `ssl` (src/db/driver.ts sslOption): prefer with a root certificate
 * still falls back to plain text on a server without TLS (it checks no certificate in libpq: only
 * require acts as verify-ca when one is given), and a certificate file that never ends (/dev/zero)
 * is refused in one line instead of filling the memory; verify-full's host check is the connected host's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connParamsOf } from '../../src/config/conninfo.js';
import { sslOption } from '../../src/db/driver.js';

const ca = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-ssl-option-')), 'root.crt');
fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
afterAll(() => fs.rmSync(path.dirname(ca), { recursive: true, force: true }));

describe('sslOption', () => {
  it('prefer with sslrootcert is still prefer: plain text when the server has no TLS, as libpq', () => {
    expect(sslOption(connParamsOf(`postgres://u@db.example/x?sslmode=prefer&sslrootcert=${ca}`))).toBe('prefer');
    expect(sslOption(connParamsOf('postgres://u@db.example/x?sslmode=prefer'))).toBe('prefer');
  });

  it('require with sslrootcert checks the chain (verify-ca), as libpq', () => {
    const ssl = sslOption(connParamsOf(`postgres://u@db.example/x?sslmode=require&sslrootcert=${ca}`)) as { rejectUnauthorized: boolean; ca: Buffer };
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.ca.toString()).toContain('BEGIN CERTIFICATE');
  });

  it('verify-full checks the certificate against the host connected to; a name that is not listed must be matched by every host', () => {
    const ssl = sslOption(connParamsOf('postgres://u@127.0.0.1,127.0.0.2/x?sslmode=verify-full')) as { checkServerIdentity: (name: string, cert: object) => Error | undefined };
    const for2 = { subject: { CN: '127.0.0.2' }, subjectaltname: 'IP Address:127.0.0.2' };
    // The patched postgres.js gives Node the host connected to.
    expect(ssl.checkServerIdentity('127.0.0.2', for2)).toBeUndefined();
    expect(ssl.checkServerIdentity('127.0.0.1', for2)?.message).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
    // Unpatched, Node says "localhost" for an IP host: the host is unknown, so every listed host must match.
    expect(ssl.checkServerIdentity('localhost', for2)).toBeInstanceOf(Error);
    expect(ssl.checkServerIdentity('localhost', { subject: { CN: 'x' }, subjectaltname: 'IP Address:127.0.0.1, IP Address:127.0.0.2' })).toBeUndefined();
  });

  it.runIf(fs.existsSync('/dev/zero'))('a certificate file that never ends is one error, not a read until memory runs out', () => {
    expect(() => sslOption(connParamsOf('postgres://u@db.example/x?sslmode=require&sslcert=/dev/zero&sslkey=/dev/zero'))).toThrow(/sslcert \/dev\/zero holds more than 16 MiB/);
  });
});
