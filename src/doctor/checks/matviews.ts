/**
 * Materialized views never refreshed (`ispopulated` false): reading one fails with "materialized
 * view has not been populated". PostgreSQL keeps no time of the last refresh, so the doctor does
 * not guess one; `cmmc-db refresh` refreshes them.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { listMaterializedViews } from '../refresh.js';
import { names, plural } from '../format.js';

async function populated(ctx: DoctorContext): Promise<Finding> {
  const views = await listMaterializedViews(ctx.sql);
  const rows = views.map((v) => ({ view: v.name, populated: v.populated, concurrent_refresh: v.concurrentIndex ? `yes (${v.concurrentIndex})` : 'no unique index' }));
  if (views.length === 0) return { status: 'ok', figure: 'no materialized view', remedy: '' };
  const empty = views.filter((v) => !v.populated);
  if (empty.length === 0) return { status: 'ok', figure: `${plural(views.length, 'materialized view')}, all populated`, remedy: '', rows };
  return {
    status: 'warn',
    figure: `${plural(empty.length, 'materialized view')} never refreshed (reads fail): ${names(empty.map((v) => v.name))}`,
    remedy: `cmmc-db refresh ${empty.map((v) => v.name).join(' ')}`,
    rows,
  };
}

export const matviewsFamily: CheckFamily = {
  name: 'matviews',
  checks: [{ id: 'matviews.populated', title: 'materialized views refreshed', needsServer: false, run: populated }],
};
