/**
 * The SQL lexer against psql itself: generated scripts full of what splits badly (semicolons in
 * standard strings, E-strings, quoted identifiers, nested dollar quotes, nested block comments,
 * BEGIN ATOMIC bodies, CREATE RULE ... DO (...; ...), COPY ... FROM stdin with data) are run by
 * `psql -f` on one database and split by src/sql/lexer.ts then run statement by statement on
 * another; both must leave the same objects and rows. Each script is rebuilt from its seed.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeStatement } from '../src/sql/execute.js';
import { splitSql } from '../src/sql/lexer.js';
import { prng } from './alembic/graphs.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const SCRIPTS = 30;

/** One generated script: statements in an order that keeps it valid, with noise between them. */
function generate(seed: number): string {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const noise = () =>
    pick(['\n', ' ', '\n\n', ' -- a comment; with a semicolon\n', '\n/* block; /* nested; */ still; */\n', '\t', '\r\n', '/* ; */ ']);
  const out: string[] = ['CREATE TABLE log (n int, note text);', 'CREATE TABLE t0 (id int, note text);'];
  let tables = 1;
  let routines = 0;
  const parts = 8 + Math.floor(rnd() * 10);
  for (let i = 0; i < parts; i++) {
    const t = `t${Math.floor(rnd() * tables)}`;
    const k = i + 1;
    const fragment = pick<() => string>([
      () => `CREATE TABLE t${tables++} (id int, note text DEFAULT 'a;b', "we;ird""q" int)${noise()};`,
      () => `INSERT INTO ${t} (id, note) VALUES (${k}, 'x;y''z\\ ${k}')${noise()};`,
      () => `INSERT INTO ${t} (id, note) VALUES (${k}, E'it\\'s; \\\\ done\\n${k}');`,
      () => `INSERT INTO ${t} (id, note) VALUES (${k}, U&'d\\0061t;a ${k}');`,
      () => `INSERT INTO ${t} (id, note) VALUES (${k}, $q${k}$dollar; 'quoted' $$ inner $$ ;$q${k}$);`,
      () =>
        `CREATE FUNCTION f${routines++}() RETURNS text LANGUAGE plpgsql AS $outer$\nBEGIN\n  RETURN $inner$a;b$inner$ || ';'; -- ;\nEND;\n$outer$;`,
      () =>
        `CREATE OR REPLACE FUNCTION g${routines++}(a int) RETURNS int LANGUAGE sql${noise()}BEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN a > 0 THEN a ELSE 0 END;\nEND;`,
      () => `CREATE PROCEDURE p${routines++}(a int) LANGUAGE sql\nBEGIN ATOMIC\n  INSERT INTO log VALUES (a, 'one;');\n  INSERT INTO log VALUES (a + 1, 'two;');\nEND;\nCALL p${routines - 1}(${k});`,
      () => `CREATE RULE r${k} AS ON INSERT TO ${t} DO ALSO (INSERT INTO log VALUES (${k}, 'rule;1'); INSERT INTO log VALUES (${k}, 'rule;2'));`,
      () => `INSERT INTO ${t} (id, note) SELECT n, note FROM log WHERE n < ${k} AND note <> ';';`,
      () => `COPY ${t} (id, note) FROM stdin;\n${k}\tcopied; row\n${k + 1}\t\\N\n${k + 2}\ttab\\there\n\\.`,
      () => `COPY ${t} (id, note) FROM STDIN WITH (FORMAT csv);\n${k},"csv; ""quoted"""\n${k + 1},\n\\.`,
      () => `CREATE TABLE "semi;colon${k}" ("x;y" int); INSERT INTO "semi;colon${k}" VALUES (${k});`,
      () => `SELECT ';' AS "a;b", (SELECT count(*) FROM log) /* ; */;`,
    ]);
    out.push(fragment());
    out.push(noise());
  }
  return out.join('\n') + '\n';
}

/** Objects and rows of a schema, as comparable text. */
async function snapshot(sql: postgres.Sql, schema: string): Promise<string> {
  // Definitions print qualified names relative to the search_path: read both from the same one.
  await sql.unsafe('SET search_path TO public');
  const tables = await sql<{ t: string }[]>`SELECT tablename AS t FROM pg_tables WHERE schemaname = ${schema} ORDER BY 1`;
  const lines: string[] = [];
  for (const { t } of tables) {
    const rows = await sql.unsafe(`SELECT * FROM "${schema}"."${t.replace(/"/g, '""')}"`);
    lines.push(`${t}: ${JSON.stringify(rows.map((r) => JSON.stringify(r)).sort())}`);
  }
  const routines = await sql<{ d: string }[]>`
    SELECT pg_get_functiondef(p.oid) AS d
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ${schema} ORDER BY p.proname`;
  const rules = await sql<{ d: string }[]>`SELECT rulename || ': ' || definition AS d FROM pg_rules WHERE schemaname = ${schema} ORDER BY 1`;
  return [...lines, ...routines.map((r) => r.d), ...rules.map((r) => r.d)].join('\n');
}

let viaPsql: TestDatabase;
let viaLexer: TestDatabase;
let psqlSql: postgres.Sql;
let lexerSql: postgres.Sql;
let dir: string;

beforeAll(async () => {
  [viaPsql, viaLexer] = await Promise.all([createTestDatabase('cmmc_lex_psql'), createTestDatabase('cmmc_lex_split')]);
  psqlSql = postgres(viaPsql.url, { max: 1, onnotice: () => {} });
  lexerSql = postgres(viaLexer.url, { max: 1, onnotice: () => {} });
  dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lexer-'));
}, 60_000);

afterAll(async () => {
  await psqlSql?.end();
  await lexerSql?.end();
  await Promise.all([viaPsql?.drop(), viaLexer?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('the SQL lexer splits as psql runs', () => {
  it(`${SCRIPTS} generated scripts leave the same database through psql -f and through split-and-run`, async () => {
    for (let n = 0; n < SCRIPTS; n++) {
      const seed = 7000 + n;
      const schema = `lex${n}`;
      const script = generate(seed);
      const file = path.join(dir, `${schema}.sql`);
      writeFileSync(file, `CREATE SCHEMA ${schema};\nSET search_path TO ${schema};\n${script}`);
      const psql = await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', viaPsql.url, '-f', file], { reject: false });
      expect(psql.exitCode, `psql on seed ${seed}: ${psql.stderr}`).toBe(0);

      await lexerSql.unsafe(`CREATE SCHEMA ${schema}`);
      await lexerSql.unsafe(`SET search_path TO ${schema}`);
      for (const statement of splitSql(script)) {
        await executeStatement(lexerSql, statement, { kind: 'server' }).catch((err: Error) => {
          throw new Error(`seed ${seed}, statement ${statement.index} (line ${statement.line}): ${err.message}\n${statement.text}`);
        });
      }
      const [a, b] = await Promise.all([snapshot(psqlSql, schema), snapshot(lexerSql, schema)]);
      expect(b, `seed ${seed}`).toBe(a);
      expect(a).toContain('t0:');
    }
  }, 300_000);

  it('a mis-split would show: the same script split at every semicolon fails', async () => {
    const script = generate(7001);
    const naive = script.split(';').filter((s) => s.trim());
    await lexerSql.unsafe('CREATE SCHEMA naive; SET search_path TO naive');
    let failed = false;
    for (const text of naive) {
      try {
        await lexerSql.unsafe(text);
      } catch {
        failed = true;
        break;
      }
    }
    expect(failed).toBe(true);
  });
});
