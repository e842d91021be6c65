/**
 * Passwords that reached places a security reviewer looks: a connection string that does not parse
 * (its error quoted part of the password), other sessions' statements and the server's
 * archive_command shown by doctor, report and `backup pitr --check` (and kept by `doctor --record`),
 * and the environment of every program the tool starts (pg_dump, pg_restore, psql, crontab, the
 * browser). Each against a server that really runs what is shown.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { holdTransaction, waitFor } from './helpers/doctor-sessions.js';
import { createTestDatabase } from './helpers/server.js';
import { pgBin, startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-secret-leaks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a connection string that does not parse', () => {
  it('is refused without quoting any part of its password, in the message or the JSON', async () => {
    const cases: [string, string][] = [
      ['host=127.0.0.1 password=first SecretTail1', 'SecretTail1'], // an unquoted space in the password
      ['host=127.0.0.1 password=first SecretTail2=x', 'SecretTail2'],
      ['postgresql:/postgres:SecretWhole3@127.0.0.1/x', 'SecretWhole3'], // one "/" short of a URL
      ['postgres:SecretWhole4@127.0.0.1/x', 'SecretWhole4'],
      ['SecretWhole5', 'SecretWhole5'], // the password pasted alone
      ['postgresql://postgres@127.0.0.1/x?password=first&SecretTail6', 'SecretTail6'], // an unencoded "&"
      ['postgresql://postgres@127.0.0.1/x?password=first&SecretTail7=1', 'SecretTail7'],
    ];
    for (const [url, secret] of cases) {
      for (const json of [false, true]) {
        const r = await runCli(['current', ...(json ? ['--json'] : [])], { env: { DATABASE_URL: url } });
        expect(r.exitCode, url).toBe(2);
        expect(r.stderr + r.stdout, url).toMatch(/DATABASE_URL/);
        expect(r.stderr + r.stdout, url).not.toContain(secret);
      }
    }
  });
});

describe('a password holding "?" in a URL', () => {
  let cluster: TempCluster;
  const password = 'before?Tail8';
  beforeAll(async () => {
    cluster = await startTempCluster({}, { password });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('is read as psql reads it (the credentials end at the "@"), and authenticates', async () => {
    const url = `postgresql://postgres:${password}@127.0.0.1:${cluster.port}/postgres`;
    const psql = await execa(pgBin('psql'), ['-X', '-At', '-c', 'SELECT 1', url], { reject: false, env: { PGPASSWORD: '' } });
    expect(psql.stdout).toBe('1');
    const r = await runCli(['health', '--json'], { env: { DATABASE_URL: url } });
    expect(r.stderr).not.toContain('Tail8');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('ok');
  });
});
