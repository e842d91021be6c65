/**
 * The embedded database (PGlite in a folder): the provider behind the connection seam, the folder
 * lock, and backups. See docs/embedded.md.
 */
export { provider, startEmbeddedServer } from './provider.js';
export type { EmbeddedServer } from './provider.js';
export { acquireEmbedded, releaseEmbedded, closeAllEmbedded, createPglite, lockWaitMs, DATA_SUBDIR, DEFAULT_LOCK_WAIT_MS } from './instance.js';
export type { EmbeddedInstance } from './instance.js';
export { acquireFolderLock, LOCK_FILE } from './lock.js';
export type { FolderLock, LockHolder } from './lock.js';
export { dumpEmbedded, dumpEmbeddedSql, restoreEmbedded } from './backup.js';
export type { EmbeddedDumpResult, EmbeddedRestoreResult } from './backup.js';
