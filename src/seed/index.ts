/** Seed files, checksums, the loader and `init`. */
export * from './split.js';
export * from './loader.js';
export * from './init.js';
