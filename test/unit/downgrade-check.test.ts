/** The pure half of the downgrade check (src/migrate/downgrade-check.ts): what the steps drop, and the refusal from the catalogue's answers. */
import { describe, expect, it } from 'vitest';
import { downgradeRefusal, droppedObjects } from '../../src/migrate/downgrade-check.js';

describe('droppedObjects', () => {
  it('reads every DROP line of each step, lists and quoted names, attributed to the step', () => {
    const objects = droppedObjects([
      { revision: 'b2', statements: ['DROP VIEW IF EXISTS v1;', 'drop table a, "B""x", s.c;'] },
      { revision: 'b1', statements: ['DO $$ BEGIN\n  DROP MATERIALIZED VIEW m;\nEND $$;', 'DROP EXTENSION IF EXISTS vector;', 'DROP SCHEMA "App";', 'ALTER TABLE t DROP COLUMN x;'] },
    ]);
    expect(objects).toEqual([
      { kind: 'view', name: 'v1', revision: 'b2' },
      { kind: 'table', name: 'a', revision: 'b2' },
      { kind: 'table', name: '"B""x"', revision: 'b2' },
      { kind: 'table', name: 's.c', revision: 'b2' },
      { kind: 'materialized view', name: 'm', revision: 'b1' },
      { kind: 'extension', name: 'vector', revision: 'b1' },
      { kind: 'schema', name: '"App"', revision: 'b1' },
    ]);
  });
});

describe('downgradeRefusal', () => {
  const objects = droppedObjects([
    { revision: 'b2', statements: ['DROP TABLE a;', 'DROP EXTENSION Vector;'] },
    { revision: 'b1', statements: ['DROP TABLE b;'] },
  ]);
  it('nothing refused when the catalogue has nothing against the objects', () => {
    expect(downgradeRefusal(objects, { owners: [{ kind: 'extension', name: 'vector', owner: 'me', may: true, role: 'me' }], dependents: [] }, 'base')).toBeUndefined();
  });
  it('a dependent first, in the order the steps reach the tables; then an object the role may not drop (names folded)', () => {
    const owners = [{ kind: 'extension', name: 'vector', owner: 'postgres', may: false, role: 'app' }];
    const dependents = [{ dropped: 'b', dependent: 'v', what: 'view' }];
    expect(downgradeRefusal(objects, { owners, dependents }, 'base')).toEqual({
      code: 'downgrade.dependents',
      message: 'downgrade to base would drop table b (revision b1), which view v depends on and the downgrade does not drop: nothing was downgraded',
      hint: 'drop or change v first (the revisions did not create it), or downgrade only to b1',
    });
    expect(downgradeRefusal(objects, { owners, dependents: [] }, 'base')).toEqual({
      code: 'downgrade.cannot-drop',
      message: 'downgrade to base would drop extension vector (revision b2), which belongs to postgres and may not be dropped by app: nothing was downgraded',
      hint: 'run it as postgres or a superuser (--url), or downgrade only to b2 and keep the extension',
    });
  });
});
