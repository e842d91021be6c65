/**
 * Table sizes: heap, index and TOAST size per table, largest first. pg-extras `table_size`,
 * `index_size`, `total_table_size` done as one query: the heap is pg_table_size without TOAST,
 * TOAST counts the TOAST table and its index, indexes are pg_indexes_size. Materialized views and
 * partitioned tables' partitions are included; system schemas are not.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { bytes, plural } from '../format.js';

/** How many tables the figure names (all are in the rows). */
const SIZES_TOP = 3;

async function tableSizes(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ table: string; kind: string; rows: number | null; heap: number; toast: number; indexes: number; total: number }[]>`
    SELECT format('%I.%I', n.nspname, c.relname) AS "table",
           CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
           -- -1: never analysed (PostgreSQL 14+). Not 0: cmmc_controls holds 110 rows before its first ANALYZE.
           nullif(greatest(c.reltuples, -1), -1)::float8 AS rows,
           (pg_table_size(c.oid) - coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0))::float8 AS heap,
           coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)::float8 AS toast,
           pg_indexes_size(c.oid)::float8 AS indexes,
           pg_total_relation_size(c.oid)::float8 AS total
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
     ORDER BY total DESC, 1`;
  const sum = rows.reduce((a, r) => a + r.total, 0);
  const top = rows.slice(0, SIZES_TOP).map((r) => `${r.table} ${bytes(r.total)}`).join(', ');
  return {
    status: 'ok',
    figure: rows.length ? `${plural(rows.length, 'table')}, ${bytes(sum)} in all; largest: ${top}` : 'no tables',
    remedy: '',
    rows: rows.map((r) => ({
      table: r.table,
      kind: r.kind,
      rows: r.rows === null ? null : Math.round(r.rows),
      table_size: bytes(r.heap),
      index_size: bytes(r.indexes),
      toast_size: bytes(r.toast),
      total_size: bytes(r.total),
      table_bytes: r.heap,
      index_bytes: r.indexes,
      toast_bytes: r.toast,
      total_bytes: r.total,
    })),
  };
}

export const sizesFamily: CheckFamily = {
  name: 'sizes',
  checks: [{ id: 'sizes.tables', title: 'table, index and TOAST size per table', needsServer: false, run: tableSizes }],
};
