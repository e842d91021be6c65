/**
 * Acting for one tenant: every query of `fn` runs in one transaction with
 * `app.current_organization_id` set for that transaction only (SET LOCAL), so the row-level
 * security policies of the platform (docs/schema.md, "Row-level security") show and accept that
 * organization's rows and no others.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { CmmcError } from '../errors.js';

/** The setting the tenant policies read (`current_setting('app.current_organization_id', true)`). */
export const TENANT_SETTING = 'app.current_organization_id';

/** A UUID in its text form (RFC 9562: 8-4-4-4-12 hex digits), any version, either case. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The nil UUID: the documented "no tenant" (audit events with no tenant are written under it;
 * docs/scale-out.md), never a tenant. organizations refuses it as an id (revision ea4d41f1e1b0).
 */
export const NO_TENANT = '00000000-0000-0000-0000-000000000000';

/**
 * The organization id in canonical lower-case form, or a CmmcError (code `tenant.id`) when it is not a
 * UUID or is the nil UUID (`NO_TENANT`, "no tenant": a session with it as its tenant would read every
 * tenant-less audit event on a database before revision ea4d41f1e1b0). Pure: no SQL runs.
 *
 * @example
 * ```ts
 * tenantId('DE000000-0000-4000-8000-00000000000A'); // 'de000000-0000-4000-8000-00000000000a'
 * tenantId(NO_TENANT);                              // throws CmmcError tenant.id
 * ```
 */
export function tenantId(organizationId: unknown): string {
  if (typeof organizationId !== 'string' || !UUID.test(organizationId)) {
    const shown = typeof organizationId === 'string' ? JSON.stringify(organizationId.slice(0, 60)) : typeof organizationId;
    throw new CmmcError('tenant.id', `the organization id ${shown} is not a UUID`, {
      hint: 'pass organizations.id, e.g. "6f1c2d3e-0000-4000-8000-000000000001"',
    });
  }
  if (organizationId === NO_TENANT) {
    throw new CmmcError('tenant.id', `the organization id ${NO_TENANT} is the nil UUID, which means "no tenant", never a tenant`, {
      hint: 'pass the organization\'s own organizations.id; for platform work (tenant-less audit events, platform settings) run outside withTenant, with no tenant set',
    });
  }
  return organizationId.toLowerCase();
}

/**
 * Runs `fn` for one tenant: in a transaction whose first statement is
 * `SET LOCAL app.current_organization_id = '<organizationId>'` and whose last, after `fn`, is
 * `RESET app.current_organization_id`. The setting ends with the transaction (commit or rollback), and
 * the RESET clears a session-level value too (one that `fn` set with `SET` or `set_config(..., false)`,
 * or that was there before), so a pooled connection never carries one tenant into the next borrower; and
 * unlike `set_config(..., true)` a `SET LOCAL` statement is propagated by distributed PostgreSQL
 * (Citus) to the nodes the transaction touches.
 *
 * Connect as the application role (DB_USER, which `cmmc-db init` creates without ownership or
 * BYPASSRLS): superusers and roles with BYPASSRLS are not bound by the policies.
 *
 * Given a transaction (a nested call: a service that opens a tenant's unit of work, called from inside
 * another), it runs in that transaction, which commits or rolls back as a whole (Kysely has no nested
 * transactions): for the tenant the transaction already has, `fn` simply joins it; for another tenant
 * it throws a `CmmcError` with code `tenant.nested` before `fn` runs (one transaction never acts
 * for two tenants); in a transaction of the caller's with no tenant, the tenant is set for `fn` and
 * reset after it.
 *
 * @param db - Kysely over the platform database (`handle.db`), a handle from `createPool`, or a
 *   transaction (see above).
 * @param organizationId - `organizations.id` of the tenant, a UUID other than the nil UUID (`NO_TENANT`,
 *   "no tenant"). Anything else throws a `CmmcError` with code `tenant.id` before any SQL runs.
 * @param fn - the work; it receives the transaction and must use it (not `db`) for every query.
 * @returns what `fn` returns, after the transaction commits. If `fn` throws, the transaction is
 *   rolled back and the error is rethrown.
 *
 * @example
 * ```ts
 * import { createPool, withTenant } from 'cmmc-db';
 * const pool = await createPool<Database>();
 * const open = await withTenant(pool, organizationId, (trx) =>
 *   trx.selectFrom('poam_items').selectAll()
 *     .where('organization_id', '=', organizationId)  // explicit too: one shard when distributed
 *     .where('status', '=', 'Open').execute(),
 * );  // only this organization's POA&M items
 * ```
 */
export async function withTenant<DB, T>(
  // Transaction<DB> named, though it is a Kysely<DB>: with it only in the union, TypeScript inferred DB wrong.
  db: Kysely<DB> | Transaction<DB> | { db: Kysely<DB> },
  organizationId: string,
  fn: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  const id = tenantId(organizationId);
  const kysely = isKysely(db) ? (db as Kysely<DB>) : (db as { db: Kysely<DB> }).db;
  if (kysely.isTransaction) return inTransaction(kysely as Transaction<DB>, id, fn);
  return kysely.transaction().execute((trx) => asTenant(trx, id, fn));
}

/** `fn` in `trx` with the tenant set first (SET LOCAL) and reset after it. */
async function asTenant<DB, T>(trx: Transaction<DB>, id: string, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  // SET takes no bind parameters; the id is a validated UUID, so it is safe to inline.
  await sql.raw(`SET LOCAL ${TENANT_SETTING} = '${id}'`).execute(trx);
  const result = await fn(trx);
  // RESET inside the transaction is committed with it: a session-level value that fn (or an earlier
  // borrower) set with SET or set_config(..., false) does not outlive this call either.
  await sql.raw(`RESET ${TENANT_SETTING}`).execute(trx);
  return result;
}

/** A nested call: joins the transaction's own tenant, refuses another, sets one where there is none. */
async function inTransaction<DB, T>(trx: Transaction<DB>, id: string, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  const { rows } = await sql<{ tenant: string | null }>`SELECT current_setting(${TENANT_SETTING}, true) AS tenant`.execute(trx);
  const current = rows[0]?.tenant ?? '';
  if (current === '') return asTenant(trx, id, fn);
  if (current.toLowerCase() === id) return fn(trx);
  throw new CmmcError('tenant.nested', `withTenant for ${id} was called inside a transaction acting for ${current}: one transaction acts for one tenant`, {
    hint: "pass the pool (or handle.db) to run the other tenant's work in a transaction of its own, or use the enclosing transaction for the same tenant",
  });
}

function isKysely(value: object): boolean {
  return typeof (value as { transaction?: unknown }).transaction === 'function';
}
