/** The platform schema as types (the Kysely Database interface) and the similarity-search helper. */
export * from './database.js';
export * from './vector-search.js';
