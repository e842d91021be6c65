/**
 * A throwaway cluster that really checks passwords (scram-sha-256), for tests of authentication:
 * the shared server trusts every local connection. Built on temp-cluster.ts.
 */
import { startTempCluster } from './temp-cluster.js';

export interface ScramCluster {
  port: number;
  /** URL for user postgres; with the right password unless another is given. */
  url(password?: string, database?: string): string;
  stop(): Promise<void>;
}

export async function startScramCluster(password = 'correct-horse'): Promise<ScramCluster> {
  const cluster = await startTempCluster({}, { password });
  return {
    port: cluster.port,
    url: (pw = password, database = 'postgres') => `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${cluster.port}/${database}`,
    stop: () => cluster.stop(),
  };
}
