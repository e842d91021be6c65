/** The pure parts of autogenerate beyond migra: enum labels in place, the supplement, likely renames. */
import { describe, expect, it } from 'vitest';
import { addValueStatements, enumLabels, enumValuesInPlace } from '../../src/schema-as-code/enum-values.js';
import { likelyRenames } from '../../src/schema-as-code/renames.js';
import { remadeBy, supplementStatements } from '../../src/schema-as-code/supplement.js';
import type { SchemaObject, Snapshot } from '../../src/schema-as-code/snapshot.js';

const snap = (...objects: SchemaObject[]): Snapshot => new Map(objects.map((o) => [`${o.kind} ${o.name}`, o]));

describe('enum labels added in place', () => {
  it('reads the labels of a snapshot definition, quotes included', () => {
    expect(enumLabels("enum ('a', 'it''s')")).toEqual(['a', "it's"]);
    expect(enumLabels('domain text')).toBeUndefined();
  });

  it('adds each new label next to one that exists, in order; refuses a removal or a reorder', () => {
    expect(addValueStatements('"public"."k"', ['b', 'd'], ['a', 'b', 'c', 'd', 'e'])).toEqual([
      `ALTER TYPE "public"."k" ADD VALUE 'a' BEFORE 'b';`,
      `ALTER TYPE "public"."k" ADD VALUE 'c' AFTER 'b';`,
      `ALTER TYPE "public"."k" ADD VALUE 'e' AFTER 'd';`,
    ]);
    expect(addValueStatements('"public"."k"', ['a', 'b'], ['a'])).toBeUndefined();
    expect(addValueStatements('"public"."k"', ['a', 'b'], ['b', 'a', 'c'])).toBeUndefined();
  });

  it("replaces migra's recreation (rename, create, recast with its default dance, drop) and keeps the rest", () => {
    const migra = [
      'alter table "public"."w" add column "x" text;',
      'alter table "public"."w" alter column "kind" drop default;',
      'alter type "public"."k" rename to "k__old_version_to_be_dropped";',
      `create type "public"."k" as enum ('small', 'medium', 'large');`,
      'alter table "public"."w" alter column kind type "public"."k" using kind::text::"public"."k";',
      `alter table "public"."w" alter column "kind" set default 'small'::k;`,
      'drop type "public"."k__old_version_to_be_dropped";',
      `alter table "public"."w" alter column "kind" set default 'large'::k;`,
    ];
    const from = snap({ kind: 'type', name: 'public.k', definition: "enum ('small', 'large')" });
    const to = snap({ kind: 'type', name: 'public.k', definition: "enum ('small', 'medium', 'large')" });
    expect(enumValuesInPlace(migra, from, to)).toEqual([
      'alter table "public"."w" add column "x" text;',
      `ALTER TYPE "public"."k" ADD VALUE 'medium' AFTER 'small';`,
      // A default really changed stays.
      `alter table "public"."w" alter column "kind" set default 'large'::k;`,
    ]);
    // Labels removed: migra's recreation is the only way, left as it is.
    expect(enumValuesInPlace(migra, to, from)).toEqual(migra);
  });
});

describe('the supplement', () => {
  const table = (forced: boolean, options: string[] = []): SchemaObject => ({ kind: 'table', name: 'public.t', definition: `table${forced ? ' (forced)' : ''}`, sql: 'TABLE public.t', forced, options });
  const comment = (text: string, on = 'table public.t'): SchemaObject => ({ kind: 'comment', name: on, definition: text, sql: 'TABLE public.t', on });

  it('FORCE, storage parameters and comments, both ways', () => {
    const from = snap(table(false, ['fillfactor=70']));
    const to = snap(table(true, ['fillfactor=50', 'autovacuum_enabled=false']), comment("it's"));
    expect(supplementStatements(from, to)).toEqual([
      'ALTER TABLE public.t FORCE ROW LEVEL SECURITY;',
      'ALTER TABLE public.t SET (fillfactor = 50, autovacuum_enabled = false);',
      "COMMENT ON TABLE public.t IS 'it''s';",
    ]);
    expect(supplementStatements(to, from)).toEqual(['ALTER TABLE public.t NO FORCE ROW LEVEL SECURITY;', 'ALTER TABLE public.t RESET (autovacuum_enabled);', 'ALTER TABLE public.t SET (fillfactor = 70);', 'COMMENT ON TABLE public.t IS NULL;']);
  });

  it('a comment on an object that goes is not cleared (it goes with it); one on an object migra drops is set again', () => {
    expect(supplementStatements(snap(table(false), comment('x')), snap())).toEqual([]);
    const view: SchemaObject = { kind: 'view', name: 'public.v', definition: 'SELECT 1', sql: 'VIEW public.v', options: ['security_barrier=true'] };
    const onView = { ...comment('v', 'view public.v'), name: 'view public.v', sql: 'VIEW public.v' };
    const both = snap(view, onView);
    expect(supplementStatements(both, both)).toEqual([]);
    expect(supplementStatements(both, both, ['drop view if exists "public"."v";', 'create or replace view "public"."v" as SELECT 1;'])).toEqual([
      'ALTER VIEW public.v SET (security_barrier = true);',
      "COMMENT ON VIEW public.v IS 'v';",
    ]);
  });

  it("reads the objects migra's statements drop or replace", () => {
    expect([
      ...remadeBy([
        'drop view if exists "public"."v";',
        'create or replace view "s"."w" as select 1;',
        'drop index if exists "public"."i";',
        'alter table "public"."t" drop constraint "t_check";',
        'drop trigger if exists "trg" on "public"."t";',
        'drop policy "p" on "public"."t";',
        'alter table "public"."t" add column "a" int;',
      ]),
    ]).toEqual(['view public.v', 'view s.w', 'index public.i', 'constraint public.t.t_check', 'trigger public.t.trg', 'policy public.t.p']);
  });
});

describe('likely renames', () => {
  const column = (name: string, definition: string): SchemaObject => ({ kind: 'column', name, definition });
  const t: SchemaObject = { kind: 'table', name: 'public.t', definition: 'table' };

  it('pairs a column gone and one added in one table with one definition, and only when the pair is unambiguous', () => {
    expect(likelyRenames(snap(t, column('public.t.a', 'text')), snap(t, column('public.t.b', 'text')))).toEqual([
      { table: 'public.t', from: 'a', to: 'b', definition: 'text', statement: 'ALTER TABLE "public"."t" RENAME COLUMN "a" TO "b";' },
    ]);
    expect(likelyRenames(snap(t, column('public.t.a', 'text')), snap(t, column('public.t.b', 'integer')))).toEqual([]);
    expect(likelyRenames(snap(t, column('public.t.a', 'text')), snap(t, column('public.t.b', 'text'), column('public.t.c', 'text')))).toEqual([]);
    // The table itself gone: its columns are not renamed.
    expect(likelyRenames(snap(t, column('public.t.a', 'text')), snap(column('public.u.a', 'text')))).toEqual([]);
  });
});
