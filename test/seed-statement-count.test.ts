/**
 * Statement counts of skipped seed files come from a cache named by the file's content (and the
 * lexer's code): a file is split once, a changed file is split again, and a file the lexer refuses
 * is never kept, so it fails again the next time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statementCount } from '../src/seed/statement-count.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-seed-count-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('statementCount', () => {
  it('splits a text once, again when it changes, and never keeps a refusal', () => {
    let splits = 0;
    const split = (n: number) => () => {
      splits++;
      return n;
    };
    expect(statementCount('SELECT 1; SELECT 2;', split(2), dir)).toBe(2);
    expect(statementCount('SELECT 1; SELECT 2;', split(99), dir)).toBe(2);
    expect(splits).toBe(1);
    expect(statementCount('SELECT 1; SELECT 3;', split(2), dir)).toBe(2);
    expect(splits).toBe(2);

    const refuse = () => {
      throw new Error('unterminated quote');
    };
    expect(() => statementCount("SELECT 'x", refuse, dir)).toThrow('unterminated quote');
    expect(() => statementCount("SELECT 'x", refuse, dir)).toThrow('unterminated quote');
    expect(fs.readdirSync(dir)).toHaveLength(2);
  });
});
