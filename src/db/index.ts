export { openDatabase, healthCheck, registerEmbeddedProvider, translateConnectError } from './connection.js';
export type { DbHandle, OpenOptions, HealthReport, EmbeddedProvider } from './connection.js';
export { POOL_SETTINGS } from './pool-settings.js';
export type { PoolSettings } from './pool-settings.js';
