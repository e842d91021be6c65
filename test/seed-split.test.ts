import { describe, expect, it } from 'vitest';
import { splitSql, summarize } from '../src/sql/lexer.js';

describe('splitting seed files into statements', () => {
  it('ends a statement at a semicolon outside quotes, dollar quotes and comments, with its line', () => {
    const script = [
      '-- header; not a statement',
      "INSERT INTO t VALUES ('a;b', 'it''s; fine');",
      '/* block; /* nested; */ still comment; */',
      'INSERT INTO t VALUES ($q$x;y$q$, $$p;q$$);',
      'INSERT INTO "odd;name" VALUES (E\'back\\\';slash\');',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;',
      'SELECT $1::int',
    ].join('\n');
    const statements = splitSql(script);
    expect(statements.map((s) => s.line)).toEqual([2, 4, 5, 6, 7]);
    expect(statements.map((s) => s.index)).toEqual([1, 2, 3, 4, 5]);
    expect(statements[0].text).toBe("-- header; not a statement\nINSERT INTO t VALUES ('a;b', 'it''s; fine')");
    expect(statements[1].text).toContain('$q$x;y$q$, $$p;q$$');
    expect(statements[2].text).toBe("INSERT INTO \"odd;name\" VALUES (E'back\\';slash')");
    expect(statements[3].text).toBe('CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$');
    expect(statements[4].text).toBe('SELECT $1::int');
  });

  it('leaves out empty statements and trailing comments', () => {
    expect(splitSql(';;\n-- only a comment\n')).toEqual([]);
    expect(splitSql('SELECT 1;;\n-- bye').map((s) => s.text)).toEqual(['SELECT 1']);
  });

  it('summarizes a statement on one line without its comments', () => {
    expect(summarize('-- AC.L2-3.1.1\nINSERT INTO cmmc_controls (id)\n  VALUES (1)')).toBe('INSERT INTO cmmc_controls (id) VALUES (1)');
    expect(summarize('SELECT ' + 'x'.repeat(200), 20)).toHaveLength(20);
  });
});
