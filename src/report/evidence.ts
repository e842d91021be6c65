/**
 * The evidence section: facts read from the catalog, the revision log, the backup manifests and
 * the restore-drill records, each mapped to the CMMC Level 2 practice it supports (practice ids
 * as in the CMMC Level 2 Assessment Guide, which numbers them after NIST SP 800-171 r2). It states
 * facts with their figures and period; it never says whether a practice is met — that is the
 * assessor's determination.
 */
import type postgres from 'postgres';
import type { DbHandle } from '../db/connection.js';
import { ident, rlsBypassRole } from '../tenant/roles.js';
import type { BackupsSection, EvidenceItem, EvidenceSection, SchemaSection } from './types.js';

export const EVIDENCE_NOTICE =
  'Facts read from the database, its revision log and its backup folder, with the period and figures behind each. They support an assessment; they are not a compliance determination.';

/** Facts about tenant isolation, read from the catalog. */
export interface TenantFacts {
  /** Tables of the public schema with an organization_id column, plus organizations itself. */
  tenantTables: { table: string; rls: boolean; forced: boolean; policies: number; owner: string; rows: number }[];
  /** Roles, other than the tables' owners and superusers, holding a DML privilege on a tenant table. */
  applicationRoles: { role: string; owns: number; bypassRls: boolean; superuser: boolean; canLogin: boolean }[];
  organizations: number;
  /** Whose view the row counts are: every row (superuser, BYPASSRLS, or through the bypass role) or the tenant-limited view of a role. */
  countsSeenBy: { role: string; wholeDatabase: boolean };
}

export interface AuditFacts {
  exists: boolean;
  rows: number;
  first: string | null;
  last: string | null;
  rls: boolean;
  forced: boolean;
  /** Commands the row-level policies allow (SELECT, INSERT, UPDATE, DELETE, ALL). */
  policyCommands: string[];
  /** Roles other than the owner and superusers that hold UPDATE, DELETE or TRUNCATE on it. */
  rolesThatMayChange: string[];
  /** Triggers that fire on UPDATE or DELETE (for example one that refuses them). */
  changeTriggers: string[];
  owner: string;
}

export interface RecordFacts {
  doctorRuns: number;
  firstRun: string | null;
  lastRun: string | null;
}

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * Reads the tenant and audit facts. Row counts must cover every tenant: with forced row-level
 * security even the owner sees only the current tenant's rows, so a role that may switch to the
 * platform's BYPASSRLS role (docs/schema.md, "Roles") counts under it, in a transaction of its own.
 * A role with neither sees its own view, and the facts say so.
 */
export async function readTableFacts(handle: DbHandle): Promise<{ tenant: TenantFacts; audit: AuditFacts }> {
  const bypass = await rlsBypassRole(handle.sql);
  const read = async (sql: Sql) => {
    const [me] = await sql<{ role: string; whole: boolean }[]>`
      SELECT current_user AS role, (rolsuper OR rolbypassrls) AS whole FROM pg_roles WHERE rolname = current_user`;
    const tenant = await readTenantFacts(sql, { role: me.role, wholeDatabase: me.whole });
    return { tenant, audit: await readAuditFacts(sql) };
  };
  if (!bypass) return read(handle.sql);
  return handle.sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL ROLE ${ident(bypass)}`);
    return read(tx);
  }) as Promise<{ tenant: TenantFacts; audit: AuditFacts }>;
}

/** Reads tenant-isolation facts. Works on the embedded database too (catalog only). */
export async function readTenantFacts(sql: Sql, countsSeenBy: TenantFacts['countsSeenBy']): Promise<TenantFacts> {
  const tables = await sql<{ table: string; rls: boolean; forced: boolean; policies: number; owner: string; oid: number }[]>`
    SELECT c.relname AS "table", c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
           (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
           pg_get_userbyid(c.relowner) AS owner, c.oid::int AS oid
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
       AND (c.relname = 'organizations'
            OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
     ORDER BY 1`;
  const withRows = [];
  for (const t of tables) {
    // Counted as the reader (the migration role owns the tables and bypasses their policies).
    const [r] = await sql<{ n: number }[]>`SELECT count(*)::float8 AS n FROM ${sql('public.' + t.table)}`;
    withRows.push({ table: t.table, rls: t.rls, forced: t.forced, policies: t.policies, owner: t.owner, rows: r.n });
  }
  const owners = [...new Set(tables.map((t) => t.owner))];
  const roles = tables.length
    ? await sql<{ role: string; owns: number; bypass: boolean; superuser: boolean; login: boolean }[]>`
        SELECT r.rolname AS role,
               (SELECT count(*)::int FROM pg_class c WHERE c.oid = ANY(${tables.map((t) => t.oid)}::oid[]) AND pg_has_role(r.oid, c.relowner, 'USAGE')) AS owns,
               r.rolbypassrls AS bypass, r.rolsuper AS superuser, r.rolcanlogin AS login
          FROM pg_roles r
         WHERE r.rolname NOT LIKE 'pg\\_%' AND NOT r.rolsuper AND r.rolname <> ALL(${owners}::text[])
           AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = ANY(${tables.map((t) => t.oid)}::oid[])
                        AND (has_table_privilege(r.oid, c.oid, 'SELECT') OR has_table_privilege(r.oid, c.oid, 'INSERT')
                             OR has_table_privilege(r.oid, c.oid, 'UPDATE') OR has_table_privilege(r.oid, c.oid, 'DELETE')))
         ORDER BY 1`
    : [];
  const org = withRows.find((t) => t.table === 'organizations');
  return {
    tenantTables: withRows,
    applicationRoles: roles.map((r) => ({ role: r.role, owns: r.owns, bypassRls: r.bypass, superuser: r.superuser, canLogin: r.login })),
    organizations: org?.rows ?? 0,
    countsSeenBy,
  };
}

/** Reads the audit trail's facts (public.audit_logs). */
export async function readAuditFacts(sql: Sql): Promise<AuditFacts> {
  const [t] = await sql<{ oid: number | null }[]>`SELECT to_regclass('public.audit_logs')::oid::int AS oid`;
  const none: AuditFacts = { exists: false, rows: 0, first: null, last: null, rls: false, forced: false, policyCommands: [], rolesThatMayChange: [], changeTriggers: [], owner: '' };
  if (!t?.oid) return none;
  const [c] = await sql<{ rls: boolean; forced: boolean; owner: string }[]>`
    SELECT relrowsecurity AS rls, relforcerowsecurity AS forced, pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = ${t.oid}::oid`;
  const [r] = await sql<{ rows: number; first: Date | null; last: Date | null }[]>`
    SELECT count(*)::float8 AS rows, min(created_at) AS first, max(created_at) AS last FROM public.audit_logs`;
  const policies = await sql<{ cmd: string }[]>`
    SELECT DISTINCT CASE polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS cmd
      FROM pg_policy WHERE polrelid = ${t.oid}::oid ORDER BY 1`;
  const changers = await sql<{ role: string }[]>`
    SELECT r.rolname AS role FROM pg_roles r
     WHERE NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%' AND r.rolname <> ${c.owner}
       AND (has_table_privilege(r.oid, ${t.oid}::oid, 'UPDATE') OR has_table_privilege(r.oid, ${t.oid}::oid, 'DELETE')
            OR has_table_privilege(r.oid, ${t.oid}::oid, 'TRUNCATE'))
     ORDER BY 1`;
  const triggers = await sql<{ name: string }[]>`
    SELECT tgname AS name FROM pg_trigger
     WHERE tgrelid = ${t.oid}::oid AND NOT tgisinternal AND (tgtype & (8 | 16 | 32)) <> 0 ORDER BY 1`;
  return {
    exists: true,
    rows: r.rows,
    first: r.first ? new Date(r.first).toISOString() : null,
    last: r.last ? new Date(r.last).toISOString() : null,
    rls: c.rls,
    forced: c.forced,
    policyCommands: policies.map((p) => p.cmd),
    rolesThatMayChange: changers.map((x) => x.role),
    changeTriggers: triggers.map((x) => x.name),
    owner: c.owner,
  };
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : 'none');

/**
 * Pure: maps the facts to practices. Each item carries the period and the figures it rests on.
 */
export function buildEvidence(input: {
  generatedAt: string;
  tenant: TenantFacts;
  audit: AuditFacts;
  schema: SchemaSection;
  backups: BackupsSection;
  records: RecordFacts;
  /** The report's doctor run: its tenant checks are quoted as facts. */
  checks?: { id: string; status: string; figure: string }[];
}): EvidenceSection {
  const { tenant, audit, schema, backups, records, generatedAt } = input;
  const quoted = (prefix: string) =>
    (input.checks ?? []).filter((c) => c.id.startsWith(prefix)).map((c) => `doctor ${c.id} at ${generatedAt}: ${c.status} — ${c.figure}`);
  const items: EvidenceItem[] = [];

  // Backups protected at rest.
  const list = backups.backups;
  const encrypted = list.filter((b) => b.encrypted).length;
  const firstBackup = list.length ? list[list.length - 1].createdAt : null;
  const lastBackup = list.length ? list[0].createdAt : null;
  items.push({
    practices: ['MP.L2-3.8.9'],
    topic: 'Backups of the database and their protection at rest',
    facts: [
      `${list.length} backup(s) of this database in ${backups.dir}, from ${day(firstBackup)} to ${day(lastBackup)}.`,
      `${encrypted} of ${list.length} encrypted with AES-256-GCM (key derived with scrypt); ${list.length - encrypted} not encrypted.`,
      `${list.filter((b) => b.verified === 'verified').length} verified against their sha256 and archive table of contents; ${list.filter((b) => b.verified === 'failed').length} failed verification.`,
      `${list.filter((b) => b.ownerOnly === true).length} of ${list.length} backup file(s) readable by their owner only (no group or other permissions)${list.some((b) => b.ownerOnly === null) ? `; ${list.filter((b) => b.ownerOnly === null).length} missing from the folder` : ''}.`,
    ],
    figures: [
      { label: 'backups', value: list.length },
      { label: 'encrypted', value: encrypted },
      { label: 'not encrypted', value: list.length - encrypted },
      { label: 'verified', value: list.filter((b) => b.verified === 'verified').length },
      { label: 'owner-only files', value: list.filter((b) => b.ownerOnly === true).length },
    ],
    from: firstBackup,
    to: lastBackup,
    source: 'backup manifests (*.manifest.json)',
  });

  // Tested restores.
  const drills = backups.drills;
  const passed = drills.filter((d) => d.result === 'pass').length;
  items.push({
    practices: ['MP.L2-3.8.9', 'platform recovery procedure'],
    topic: 'Restore drills: backups restored into a scratch database and checked',
    facts: [
      `${drills.length} restore drill(s) from ${day(drills[0]?.finishedAt ?? null)} to ${day(drills.at(-1)?.finishedAt ?? null)}: ${passed} passed, ${drills.length - passed} failed.`,
      backups.newestVerified
        ? `The newest verified backup is ${backups.newestVerified.name}, made ${backups.newestVerified.createdAt} (${backups.newestVerified.ageHours} h before this report).`
        : 'No verified backup of this database was found.',
    ],
    figures: [
      { label: 'drills', value: drills.length },
      { label: 'passed', value: passed },
      { label: 'failed', value: drills.length - passed },
      { label: 'newest verified backup age (h)', value: backups.newestVerified?.ageHours ?? null },
    ],
    from: drills[0]?.finishedAt ?? null,
    to: drills.at(-1)?.finishedAt ?? null,
    source: 'restore-drill records (*.restore-drill-*.json)',
  });

  // Tenant isolation.
  const tt = tenant.tenantTables;
  const rls = tt.filter((t) => t.rls).length;
  const forced = tt.filter((t) => t.forced).length;
  const withPolicy = tt.filter((t) => t.policies > 0).length;
  const appRoles = tenant.applicationRoles;
  items.push({
    practices: ['AC.L2-3.1.1', 'AC.L2-3.1.3'],
    topic: 'Tenant separation: row-level security on tenant tables and the roles that use them',
    facts: [
      `${tt.length} tenant table(s) (an organization_id column, and organizations): row-level security enabled on ${rls}, forced (applies to the owner too) on ${forced}, with a policy on ${withPolicy}.`,
      `Table owner(s): ${[...new Set(tt.map((t) => t.owner))].join(', ') || 'none'}.`,
      appRoles.length
        ? `Roles that read or write tenant tables without owning them: ${appRoles.map((r) => `${r.role} (owns ${r.owns}, bypass RLS ${yesNo(r.bypassRls)}, login ${yesNo(r.canLogin)})`).join('; ')}.`
        : 'No role other than the owner and superusers holds privileges on the tenant tables.',
      `${tenant.organizations} organization(s) (tenants) in the database.`,
      tenant.countsSeenBy.wholeDatabase
        ? `Row counts cover every tenant (read as ${tenant.countsSeenBy.role}).`
        : `Row counts are those role ${tenant.countsSeenBy.role} sees: row-level security limits them to its tenant (run the report as the owner or a superuser for whole-database counts).`,
      ...quoted('tenant.'),
    ],
    figures: [
      { label: 'tenant tables', value: tt.length },
      { label: 'RLS enabled', value: rls },
      { label: 'RLS forced', value: forced },
      { label: 'tables with a policy', value: withPolicy },
      { label: 'application roles without ownership', value: appRoles.filter((r) => r.owns === 0 && !r.bypassRls).length },
      { label: 'organizations', value: tenant.organizations },
    ],
    from: null,
    to: generatedAt,
    source: 'pg_class, pg_policy, pg_roles (read at report time)',
  });

  // Audit trail.
  if (audit.exists) {
    const changeAllowed = audit.policyCommands.filter((c) => c === 'UPDATE' || c === 'DELETE' || c === 'ALL');
    items.push({
      practices: ['AU.L2-3.3.1', 'AU.L2-3.3.8'],
      topic: 'Audit records in public.audit_logs and who may change them',
      facts: [
        `${audit.rows} audit record(s) from ${audit.first ?? 'none'} to ${audit.last ?? 'none'}.`,
        `Row-level security enabled: ${yesNo(audit.rls)}; forced: ${yesNo(audit.forced)}; policies allow ${audit.policyCommands.join(', ') || 'nothing'}${changeAllowed.length ? '' : ' (no UPDATE or DELETE policy)'}.`,
        audit.rolesThatMayChange.length
          ? `Roles other than the owner (${audit.owner}) holding UPDATE, DELETE or TRUNCATE: ${audit.rolesThatMayChange.join(', ')}.`
          : `No role other than the owner (${audit.owner}) and superusers holds UPDATE, DELETE or TRUNCATE.`,
        audit.changeTriggers.length ? `Triggers on UPDATE or DELETE: ${audit.changeTriggers.join(', ')}.` : 'No trigger fires on UPDATE or DELETE.',
      ],
      figures: [
        { label: 'audit records', value: audit.rows },
        { label: 'RLS enabled', value: audit.rls },
        { label: 'UPDATE/DELETE policies', value: changeAllowed.length },
        { label: 'non-owner roles that may change rows', value: audit.rolesThatMayChange.length },
      ],
      from: audit.first,
      to: audit.last,
      source: 'public.audit_logs, pg_policy, table privileges',
    });
  }

  // Change control.
  const log = schema.log;
  const appliers = [...new Set(log.map((l) => l.appliedBy))];
  items.push({
    practices: ['CM.L2-3.4.3'],
    topic: 'Changes to the database schema and their record (revisions and the revision log)',
    facts: [
      `${log.length} recorded change(s) (upgrade, downgrade, stamp) from ${log[0]?.appliedAt ?? 'none'} to ${log.at(-1)?.appliedAt ?? 'none'}, by ${appliers.join(', ') || 'nobody'}.`,
      `${schema.revisions.length} revision file(s); ${schema.revisions.filter((r) => r.applied).length} applied; current: ${schema.current.join(', ') || 'none'}; heads: ${schema.heads.join(', ') || 'none'}.`,
      schema.changed.length
        ? `Revision file(s) changed after being applied (checksum differs from the log): ${schema.changed.join(', ')}.`
        : 'Every applied revision file has the checksum it was applied with.',
      ...quoted('schema.'),
    ],
    figures: [
      { label: 'recorded changes', value: log.length },
      { label: 'upgrades', value: log.filter((l) => l.operation === 'upgrade').length },
      { label: 'downgrades', value: log.filter((l) => l.operation === 'downgrade').length },
      { label: 'stamps', value: log.filter((l) => l.operation === 'stamp').length },
      { label: 'revision files', value: schema.revisions.length },
      { label: 'changed after applying', value: schema.changed.length },
    ],
    from: log[0]?.appliedAt ?? null,
    to: log.at(-1)?.appliedAt ?? null,
    source: 'cmmc_db.revision_log, the version table, the revision files',
  });

  // Ongoing monitoring.
  items.push({
    practices: ['CA.L2-3.12.3'],
    topic: 'Database health checked and recorded over time (doctor --record)',
    facts: [`${records.doctorRuns} recorded doctor run(s) from ${records.firstRun ?? 'none'} to ${records.lastRun ?? 'none'}.`],
    figures: [{ label: 'recorded runs', value: records.doctorRuns }],
    from: records.firstRun,
    to: records.lastRun,
    source: 'cmmc_db.doctor_runs',
  });

  return { notice: EVIDENCE_NOTICE, items };
}
