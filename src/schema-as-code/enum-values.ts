/**
 * migra changes an enum's labels by recreating the type (rename the old one, create the new one,
 * recast every column, drop the old one). For the common change, new labels added, that rewrites
 * every row of every table using the type, and fails outright when a view uses such a column
 * ("cannot alter type of a column used by a view or rule"). PostgreSQL adds labels in place with
 * `ALTER TYPE ... ADD VALUE`: this module puts that in place of the recreation, when the new labels
 * keep every old one in the same order. Pure.
 */
import { literal } from '../sql/lexer.js';
import type { Snapshot } from './snapshot.js';

/** The labels of a snapshot's enum definition, `enum ('a', 'b''c')` → ['a', "b'c"]; undefined for another type. */
export function enumLabels(definition: string): string[] | undefined {
  if (!definition.startsWith('enum (')) return undefined;
  return [...definition.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
}

/**
 * The ADD VALUE statements that turn the labels `had` into `has`, or undefined when that cannot be
 * done in place (a label removed or reordered). `type` is the quoted type name.
 */
export function addValueStatements(type: string, had: string[], has: string[]): string[] | undefined {
  const kept = has.filter((label) => had.includes(label));
  if (kept.length !== had.length || kept.some((label, i) => label !== had[i])) return undefined;
  return has.flatMap((label, i) => {
    if (had.includes(label)) return [];
    const where = i > 0 ? ` AFTER ${literal(has[i - 1])}` : had.length ? ` BEFORE ${literal(had[0])}` : '';
    return [`ALTER TYPE ${type} ADD VALUE ${literal(label)}${where};`];
  });
}

/**
 * `statements` (migra's, from `from` to `to`) with each enum recreation that only adds labels
 * replaced by ADD VALUE statements at the place of its first statement.
 */
export function enumValuesInPlace(statements: string[], from: Snapshot, to: Snapshot): string[] {
  let out = statements;
  for (const [key, after] of to) {
    if (after.kind !== 'type') continue;
    const before = from.get(key);
    const had = before && enumLabels(before.definition);
    const has = enumLabels(after.definition);
    if (!had || !has || before.definition === after.definition) continue;
    const dot = after.name.indexOf('.');
    const [schema, name] = [after.name.slice(0, dot), after.name.slice(dot + 1)];
    const type = `"${schema.replace(/"/g, '""')}"."${name.replace(/"/g, '""')}"`;
    const adds = addValueStatements(type, had, has);
    if (adds) out = replaceRecreation(out, type, name, adds);
  }
  return out;
}

/** Removes migra's recreation of `type` (as migra writes it) and puts `adds` where it began. */
function replaceRecreation(statements: string[], type: string, name: string, adds: string[]): string[] {
  const flat = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();
  const old = `"${name.replace(/"/g, '""')}__old_version_to_be_dropped"`.toLowerCase();
  const t = type.toLowerCase();
  const rename = statements.findIndex((s) => flat(s) === `alter type ${t} rename to ${old};`);
  if (rename < 0) return statements;
  const drop = statements.findIndex((s, i) => i > rename && flat(s) === `drop type ${t.slice(0, t.lastIndexOf('.') + 1)}${old};`);
  const create = statements.findIndex((s, i) => i > rename && flat(s).startsWith(`create type ${t} as enum (`));
  if (drop < 0 || create < 0) return statements;
  const removed = new Set([rename, create, drop]);
  // Each recast column: its ALTER ... TYPE, and the default migra drops before it and sets back after it.
  statements.forEach((s, i) => {
    const recast = /^alter table (.+) alter column (.+) type (.+) using (.+)::text::(.+);$/.exec(flat(s));
    if (!recast || recast[3] !== t || recast[5] !== t) return;
    removed.add(i);
    const column = recast[2].startsWith('"') ? recast[2] : `"${recast[2]}"`;
    const dropDefault = `alter table ${recast[1]} alter column ${column} drop default;`;
    const before = statements.findLastIndex((x, j) => j < i && !removed.has(j) && flat(x) === dropDefault);
    if (before < 0) return;
    removed.add(before);
    const setDefault = `alter table ${recast[1]} alter column ${column} set default `;
    const after = statements.findIndex((x, j) => j > i && !removed.has(j) && flat(x).startsWith(setDefault));
    if (after >= 0) removed.add(after);
  });
  return statements.flatMap((s, i) => (i === rename ? adds : removed.has(i) ? [] : [s]));
}
