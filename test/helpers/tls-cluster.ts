/**
 * A throwaway cluster serving TLS with a self-signed certificate of its own (test/helpers/temp-cluster.ts
 * underneath): for tests of sslmode, the certificate checks and the TLS protocol versions. Always
 * `cluster.stop()` it; the certificates live under the caller's folder.
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { startTempCluster, type TempCluster, type TempClusterOptions } from './temp-cluster.js';

/**
 * A self-signed server certificate (openssl `req` arguments `subject`) and its key in a folder of their
 * own under `certs` (the server reads them as the postgres user), and a cluster serving them, with
 * `settings` and `options`.
 */
export async function startTlsCluster(
  certs: string,
  label: string,
  subject: string[],
  settings: Record<string, string> = {},
  options: TempClusterOptions = {},
): Promise<{ dir: string; cert: string; cluster: TempCluster }> {
  chmodSync(certs, 0o755);
  const dir = mkdtempSync(path.join(certs, `${label}-`));
  chmodSync(dir, 0o755);
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', ...subject, '-keyout', key, '-out', cert]);
  if (process.getuid?.() === 0) await execa('chown', ['postgres', cert, key]);
  chmodSync(key, 0o600);
  const cluster = await startTempCluster({ ssl: 'on', ssl_cert_file: `'${cert}'`, ssl_key_file: `'${key}'`, ...settings }, options);
  return { dir, cert, cluster };
}
