/** scripts/setup-postgres.sh takes the Debian archive from the machine's own apt sources. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(import.meta.dirname, '..', '..', 'scripts', 'setup-postgres.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'cmmc-apt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function aptEtc(name: string, files: Record<string, string>): string {
  const etc = path.join(tmp, name);
  mkdirSync(path.join(etc, 'sources.list.d'), { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(etc, f), text);
  return etc;
}

const mirror = (etc: string) => spawnSync('bash', [SCRIPT, '--print-debian-mirror'], { env: { ...process.env, APT_ETC: etc }, encoding: 'utf8' });

describe('the Debian mirror of setup-postgres.sh', () => {
  it("is the URIs: of the machine's deb822 sources (the main archive, not security)", () => {
    const etc = aptEtc('deb822', {
      'sources.list.d/debian.sources':
        'Types: deb\nURIs: http://security.example.net/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example.net/debian/\nSuites: bookworm\n',
    });
    expect(execFileSync('bash', [SCRIPT, '--print-debian-mirror'], { env: { ...process.env, APT_ETC: etc }, encoding: 'utf8' })).toBe('http://mirror.example.net/debian\n');
  });

  it('or the first deb line of sources.list, options and all', () => {
    const etc = aptEtc('oneline', { 'sources.list': '# a comment\ndeb [arch=amd64 signed-by=/k.gpg] https://ftp.example.org/debian bookworm main\n' });
    expect(mirror(etc).stdout).toBe('https://ftp.example.org/debian\n');
  });

  it('with no Debian archive configured, says so in one line and fails', () => {
    const r = mirror(aptEtc('none', {}));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no Debian archive');
  });

  it('names no mirror host of its own', () => {
    expect(readFileSync(SCRIPT, 'utf8')).not.toMatch(/https?:\/\/[a-z0-9.-]+\.(org|net|com)/i);
  });
});
