/**
 * Which statements of a SQL revision end its transaction block (the engine then runs the revision
 * statement by statement, its bookkeeping in a transaction of its own). Only the statement's first
 * words decide, comments between them dropped; a long body is not read.
 */
import { describe, expect, it } from 'vitest';
import { endsTransaction } from '../../src/migrate/engine.js';

describe('endsTransaction', () => {
  it.each([
    'COMMIT',
    'commit work',
    'END',
    'end transaction',
    'ABORT',
    'ROLLBACK',
    'rollback and chain',
    'PREPARE TRANSACTION \'t1\'',
    '-- finish here\nCOMMIT',
    '/* a comment */ /* and another */ COMMIT',
    '  \n\t COMMIT',
  ])('%j ends the transaction block', (text) => {
    expect(endsTransaction(text)).toBe(true);
  });

  it.each([
    'ROLLBACK TO SAVEPOINT a',
    'rollback work to a',
    'ROLLBACK /* undo */ TRANSACTION /* only */ TO a',
    'SAVEPOINT a',
    'RELEASE SAVEPOINT a',
    'CREATE TABLE commits (id int)',
    'SELECT 1 -- COMMIT',
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$",
    `CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$ -- ${'x'.repeat(100_000)}`,
    'PREPARE q AS SELECT 1',
    'ENDING_TABLE',
  ])('%j does not', (text) => {
    expect(endsTransaction(text)).toBe(false);
  });
});
