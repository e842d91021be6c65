/**
 * migra cannot tell a rename from a drop and an add, and a drop loses the column's data. A column
 * dropped and another added in the same table with the same definition is most likely a rename:
 * autogenerate names each such pair, with the statement that keeps the data. Pure.
 */
import type { Snapshot } from './snapshot.js';

export interface LikelyRename {
  table: string;
  from: string;
  to: string;
  /** The definition both share (`character varying(255) not null`). */
  definition: string;
  /** The statement to write instead of the drop and the add. */
  statement: string;
}

/** Pairs of a column only in `from` and a column only in `to`, in one table, with one definition (each column in one pair at most). */
export function likelyRenames(from: Snapshot, to: Snapshot): LikelyRename[] {
  const columns = (snap: Snapshot, other: Snapshot) =>
    [...snap.values()].filter((o) => o.kind === 'column' && !other.has(`column ${o.name}`)).map((o) => {
      const dot = o.name.lastIndexOf('.');
      return { table: o.name.slice(0, dot), column: o.name.slice(dot + 1), definition: o.definition };
    });
  const gone = columns(from, to);
  const added = columns(to, from);
  const used = new Set<string>();
  const out: LikelyRename[] = [];
  for (const g of gone) {
    // Only within a table both sides have (a table dropped or made anew is no rename of its columns).
    if (!to.has(`table ${g.table}`)) continue;
    const match = added.filter((a) => a.table === g.table && a.definition === g.definition && !used.has(a.column));
    if (match.length !== 1) continue;
    used.add(match[0].column);
    const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
    const [schema, table] = [g.table.slice(0, g.table.indexOf('.')), g.table.slice(g.table.indexOf('.') + 1)];
    out.push({
      table: g.table,
      from: g.column,
      to: match[0].column,
      definition: g.definition,
      statement: `ALTER TABLE ${quote(schema)}.${quote(table)} RENAME COLUMN ${quote(g.column)} TO ${quote(match[0].column)};`,
    });
  }
  return out;
}
