/**
 * libpq's sslmode as postgres.js's `ssl` (src/db/driver.ts sslOption): prefer with a root certificate
 * still falls back to plain text on a server without TLS (it checks no certificate in libpq: only
 * require acts as verify-ca when one is given), and a certificate file that never ends (/dev/zero)
 * is refused in one line instead of filling the memory.
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

  it.runIf(fs.existsSync('/dev/zero'))('a certificate file that never ends is one error, not a read until memory runs out', () => {
    expect(() => sslOption(connParamsOf('postgres://u@db.example/x?sslmode=require&sslcert=/dev/zero&sslkey=/dev/zero'))).toThrow(/sslcert \/dev\/zero holds more than 16 MiB/);
  });
});
