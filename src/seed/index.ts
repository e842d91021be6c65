/** Seed files, checksums, the loader and `init`. */
export * from '../sql/lexer.js';
export * from './loader.js';
export * from './init.js';
