/** Unit tests of the SQL text helpers the engine relies on: statement splitting and parameter inlining. */
import { describe, expect, it } from 'vitest';
import { inlineParameters, literal, splitStatements } from '../src/sql/lexer.js';
import { parseSqlRevision } from '../src/migrate/script.js';

describe('splitStatements', () => {
  it('splits at top-level semicolons only', () => {
    const script = `
      CREATE TABLE t (note text DEFAULT 'a;b', "we;ird" int); -- trailing; comment
      /* block; comment /* nested; */ still; */
      CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
      CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 2; END; $body$;
      SELECT E'it\\'s; escaped';
      -- only a comment;
    `;
    expect(splitStatements(script)).toEqual([
      `CREATE TABLE t (note text DEFAULT 'a;b', "we;ird" int)`,
      `-- trailing; comment\n      /* block; comment /* nested; */ still; */\n      CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$`,
      `CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 2; END; $body$`,
      `SELECT E'it\\'s; escaped'`,
    ]);
  });
});

describe('inlineParameters', () => {
  it('replaces placeholders outside strings, identifiers and comments with safe literals', () => {
    const out = inlineParameters(`insert into "t$1" ("a", "b", "c") values ($1, $2, $3) -- $1\n returning '$2'`, ["O'Brien; DROP TABLE x", 42, null]);
    expect(out).toBe(`insert into "t$1" ("a", "b", "c") values ('O''Brien; DROP TABLE x', 42, NULL) -- $1\n returning '$2'`);
    expect(inlineParameters('select $10, $1', ['one', 2, 3, 4, 5, 6, 7, 8, 9, 'ten'])).toBe(`select 'ten', 'one'`);
  });

  it('literals for every parameter type', () => {
    expect(literal(true)).toBe('TRUE');
    expect(literal(10n)).toBe('10');
    expect(literal(new Date('2026-01-02T03:04:05Z'))).toBe(`'2026-01-02T03:04:05.000Z'`);
    expect(literal(Buffer.from([1, 255]))).toBe(`'\\x01ff'::bytea`);
    expect(literal(['a', "b'c"])).toBe(`ARRAY['a', 'b''c']`);
    expect(literal({ k: "v'" })).toBe(`'{"k":"v''"}'`);
    expect(() => literal('nul\0')).toThrow(/NUL/);
  });
});

describe('plain-SQL revision files', () => {
  it('reads the header and both sections', async () => {
    const rev = parseSqlRevision(
      `-- revision: abc000000001\n-- down_revision: a, b\n-- message: merge it\n-- branch_labels: x\n-- depends_on:\n-- transactional: false\n-- migrate:up\nSELECT 1;\nSELECT 2;\n-- migrate:down\nSELECT 3;\n`,
      '/x/abc000000001_merge_it.sql',
      'abc000000001_merge_it.sql',
      'sum',
    );
    expect(rev).toMatchObject({ revision: 'abc000000001', downRevisions: ['a', 'b'], branchLabels: ['x'], dependsOn: [], transactional: false, message: 'merge it', kind: 'sql' });
    const body = (await rev.load()) as { upSql: { text: string }[]; downSql: { text: string }[] };
    expect(body.upSql.map((s) => s.text)).toEqual(['SELECT 1', 'SELECT 2']);
    expect(body.downSql.map((s) => s.text)).toEqual(['SELECT 3']);
  });

  it('names what is missing', () => {
    expect(() => parseSqlRevision('-- revision: abc\nSELECT 1;', 'f', 'f.sql', 's')).toThrow('f.sql: has no "-- migrate:up" line');
    expect(() => parseSqlRevision('-- revision: abc\n-- migrate:up\n', 'f', 'f.sql', 's')).toThrow(/down_revision/);
  });
});
