/**
 * What the platform schema guarantees once migrated (through the CLI): constraints reject bad rows,
 * deletes cascade, restrict or set null as docs/schema.md says, row-level security isolates
 * tenants for a non-superuser role, updated_at follows updates, the views answer, and the
 * similarity-search helper's query uses the HNSW index.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { BACKENDS, type TestTarget } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { uniqueName } from './helpers/server.js';
import type { Database } from '../src/schema/database.js';
import { indexedSimilaritySearchQuery, similaritySearchQuery, type EmbeddedTable } from '../src/schema/vector-search.js';

const ORG_A = '00000000-0000-4000-8000-00000000000a';
const ORG_B = '00000000-0000-4000-8000-00000000000b';
const USER_A = '00000000-0000-4000-8000-0000000000a1';
const USER_A2 = '00000000-0000-4000-8000-0000000000a2';
const USER_B = '00000000-0000-4000-8000-0000000000b1';
const ASSESS_A = '00000000-0000-4000-8000-0000000a0001';
const ASSESS_B = '00000000-0000-4000-8000-0000000b0001';
const FINDING_A = '00000000-0000-4000-8000-0000000af001';
const FINDING_A2 = '00000000-0000-4000-8000-0000000af002';
const EVIDENCE_A = '00000000-0000-4000-8000-0000000ae001';
const POAM_A = '00000000-0000-4000-8000-0000000a9001';
const DOC_A = '00000000-0000-4000-8000-0000000ad001';
/** The documented "no tenant" (audit events with no tenant), never an organization. */
const NIL = '00000000-0000-0000-0000-000000000000';

/** Two tenants with a row in every tenant-owned table, and three controls. Run as the owner. */
const FIXTURES = `
INSERT INTO organizations (id, name, organization_type, status) VALUES
  ('${ORG_A}', 'Alpha Defense', 'SMB', 'Active'),
  ('${ORG_B}', 'Bravo Aero', 'Enterprise', 'Active');
INSERT INTO users (id, organization_id, email, password_hash, full_name, role, status) VALUES
  ('${USER_A}', '${ORG_A}', 'ann@alpha.example', 'x', 'Ann Alpha', 'Admin', 'Active'),
  ('${USER_A2}', '${ORG_A}', 'abe@alpha.example', 'x', 'Abe Alpha', 'Assessor', 'Active'),
  ('${USER_B}', '${ORG_B}', 'bob@bravo.example', 'x', 'Bob Bravo', 'Admin', 'Active');
INSERT INTO cmmc_controls (id, level, domain, practice_id, title, objective, nist_control_id) VALUES
  ('AC.L2-3.1.1', 1, 'AC', 'L2-3.1.1', 'Authorized Access Control', 'Limit system access.', '3.1.1'),
  ('AC.L2-3.1.2', 1, 'AC', 'L2-3.1.2', 'Transaction & Function Control', 'Limit transactions.', '3.1.2'),
  ('AU.L2-3.3.1', 2, 'AU', 'L2-3.3.1', 'System Auditing', 'Create and retain logs.', '3.3.1');
INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES
  ('M365_GCC_HIGH', 'AC.L2-3.1.1', 'Shared', 'Manage accounts.'),
  ('AWS_GOVCLOUD', 'AU.L2-3.3.1', 'Shared', 'Enable CloudTrail.');
INSERT INTO assessments (id, organization_id, name, assessment_type, status, lead_assessor_id, scope_domains) VALUES
  ('${ASSESS_A}', '${ORG_A}', 'Alpha L2 2026', 'CMMC_L2', 'In Progress', '${USER_A2}', '{AC,AU}'),
  ('${ASSESS_B}', '${ORG_B}', 'Bravo L2 2026', 'CMMC_L2', 'In Progress', '${USER_B}', '{AC}');
INSERT INTO control_findings (id, assessment_id, organization_id, control_id, status) VALUES
  ('${FINDING_A}', '${ASSESS_A}', '${ORG_A}', 'AC.L2-3.1.1', 'Met'),
  ('${FINDING_A2}', '${ASSESS_A}', '${ORG_A}', 'AC.L2-3.1.2', 'Not Met'),
  (DEFAULT, '${ASSESS_A}', '${ORG_A}', 'AU.L2-3.3.1', 'Not Applicable'),
  (DEFAULT, '${ASSESS_B}', '${ORG_B}', 'AC.L2-3.1.1', 'Not Met');
INSERT INTO evidence (id, assessment_id, organization_id, file_name, file_path, evidence_type, uploaded_by) VALUES
  ('${EVIDENCE_A}', '${ASSESS_A}', '${ORG_A}', 'ac-policy.pdf', 's3://a/ac-policy.pdf', 'Policy', '${USER_A}'),
  (DEFAULT, '${ASSESS_B}', '${ORG_B}', 'b.pdf', 's3://b/b.pdf', 'Policy', '${USER_B}');
INSERT INTO poam_items (id, organization_id, assessment_id, control_id, finding_id, title, weakness_description, owner_id, due_date) VALUES
  ('${POAM_A}', '${ORG_A}', '${ASSESS_A}', 'AC.L2-3.1.2', '${FINDING_A2}', 'Restrict admin functions', 'Users can run admin tools.', '${USER_A2}', '2026-12-31'),
  (DEFAULT, '${ORG_B}', '${ASSESS_B}', 'AC.L2-3.1.1', NULL, 'Bravo item', 'Shared accounts.', '${USER_B}', '2026-12-31');
INSERT INTO documents (id, organization_id, title, document_type, owner_id) VALUES
  ('${DOC_A}', '${ORG_A}', 'Access Control Policy', 'Policy', '${USER_A}'),
  ('00000000-0000-4000-8000-0000000bd001', '${ORG_B}', 'Bravo SSP', 'SSP', '${USER_B}');
INSERT INTO document_chunks (document_id, organization_id, chunk_index, content) VALUES
  ('${DOC_A}', '${ORG_A}', 0, 'Purpose'), ('${DOC_A}', '${ORG_A}', 1, 'Scope'),
  ('00000000-0000-4000-8000-0000000bd001', '${ORG_B}', 0, 'Bravo');
INSERT INTO ai_analysis_results (organization_id, assessment_id, analysis_type, entity_type, entity_id, model_provider, model_name, status) VALUES
  ('${ORG_A}', '${ASSESS_A}', 'narrative_generation', 'control_finding', '${FINDING_A}', 'openai', 'gpt-4o', 'Completed'),
  ('${ORG_B}', '${ASSESS_B}', 'gap_analysis', NULL, NULL, 'openai', 'gpt-4o', 'Completed');
INSERT INTO comments (organization_id, finding_id, assessment_id, author_id, body, mentions) VALUES
  ('${ORG_A}', '${FINDING_A2}', NULL, '${USER_A2}', '@Ann please review', '{${USER_A}}'),
  ('${ORG_A}', NULL, '${ASSESS_A}', '${USER_A2}', 'Kick-off on Monday', '{}'),
  ('${ORG_B}', NULL, '${ASSESS_B}', '${USER_B}', 'Bravo note', '{}');
INSERT INTO notifications (organization_id, user_id, notification_type, title, message) VALUES
  ('${ORG_A}', '${USER_A}', 'mention', 'Mentioned', 'Abe mentioned you'),
  ('${ORG_B}', '${USER_B}', 'system', 'Welcome', 'Welcome');
INSERT INTO audit_logs (organization_id, user_id, action, entity_type, entity_id, changes) VALUES
  ('${ORG_A}', '${USER_A}', 'UPDATE', 'control_finding', '${FINDING_A}', '{"status": {"from": "Not Started", "to": "Met"}}'),
  ('${ORG_B}', '${USER_B}', 'LOGIN', 'user', '${USER_B}', '{}');
INSERT INTO system_config (key, value) VALUES ('ai.default_model', '"gpt-4o"');
`;

const TENANT_TABLES = [
  'users',
  'assessments',
  'control_findings',
  'evidence',
  'poam_items',
  'documents',
  'document_chunks',
  'ai_analysis_results',
  'comments',
  'notifications',
  'audit_logs',
];

/** Rows of the last statement of a script (postgres.js returns one result per statement). */
async function run<T extends object = Record<string, any>>(target: TestTarget, text: string): Promise<T[]> {
  const rows = (await target.query(text)) as unknown[];
  return (Array.isArray(rows[0]) ? rows.at(-1) : rows) as T[];
}

/**
 * A script prefix defining pg_temp.outcomes(statements): runs each statement in its own
 * subtransaction and returns, for each, 'ok:<rows affected>' or the SQLSTATE it failed with. One
 * round trip for many statements (each call on the embedded backend opens the database).
 */
const OUTCOMES_FN = `CREATE FUNCTION pg_temp.outcomes(statements text[]) RETURNS text[] LANGUAGE plpgsql AS $f$
DECLARE s text; n bigint; result text[] := '{}';
BEGIN
  FOREACH s IN ARRAY statements LOOP
    BEGIN
      EXECUTE s;
      GET DIAGNOSTICS n = ROW_COUNT;
      result := result || ('ok:' || n);
    EXCEPTION WHEN OTHERS THEN
      result := result || SQLSTATE::text;
    END;
  END LOOP;
  RETURN result;
END $f$;`;

/** The outcome of each statement ('ok:<rows>' or a SQLSTATE), run after `prelude` (for example SET LOCAL ROLE). */
async function outcomes(target: TestTarget, statements: string[], prelude = ''): Promise<string[]> {
  const list = statements.map((st) => `$stmt$${st}$stmt$`).join(',\n');
  const [row] = await run<{ outcomes: string[] }>(target, `${OUTCOMES_FN} ${prelude} SELECT pg_temp.outcomes(ARRAY[${list}]::text[]) AS outcomes`);
  return row.outcomes;
}

/**
 * A role that the policies bind (no superuser, no BYPASSRLS) with DML on every table, as the application
 * role has. `scope(tenant)` is the prelude that switches to it and sets the tenant (null: none set);
 * `drop()` removes it.
 */
async function boundRole(target: TestTarget): Promise<{ scope: (tenant: string | null) => string; drop: () => Promise<void> }> {
  const role = uniqueName('cmmc_app');
  await target.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS;
    GRANT USAGE ON SCHEMA public TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  return {
    scope: (tenant) => `SET LOCAL ROLE ${role}; ${tenant !== null ? `SELECT set_config('app.current_organization_id', '${tenant}', true);` : ''}`,
    drop: async () => {
      await target.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    },
  };
}

async function upgrade(target: TestTarget): Promise<void> {
  const r = await runCli(['upgrade', 'head'], { env: target.env });
  expect(r.exitCode, r.stderr).toBe(0);
}

describe.each(BACKENDS)('platform schema behaviour on $name', (backend) => {
  let target: TestTarget;
  beforeAll(async () => {
    target = await backend.create();
    await upgrade(target);
    await target.query(FIXTURES);
  });
  afterAll(async () => {
    await target?.drop();
  });

  it('fills defaults: Trial organizations, Pending users, Draft assessments, Not Started findings', async () => {
    const [row] = await run<{ org: string; usr: string; asmt: string; finding: string; level: number }>(target, `
      WITH o AS (INSERT INTO organizations (name, organization_type) VALUES ('Charlie', 'C3PAO') RETURNING id, status),
           u AS (INSERT INTO users (organization_id, email, password_hash, full_name) SELECT id, 'c@charlie.example', 'x', 'C' FROM o RETURNING status),
           a AS (INSERT INTO assessments (organization_id, name, assessment_type) SELECT id, 'C', 'CMMC_L1' FROM o RETURNING id, organization_id, status, target_level),
           f AS (INSERT INTO control_findings (assessment_id, organization_id, control_id) SELECT id, organization_id, 'AC.L2-3.1.1' FROM a RETURNING status)
      SELECT (SELECT status FROM o) AS org, (SELECT status FROM u) AS usr, (SELECT status FROM a) AS asmt,
             (SELECT status FROM f) AS finding, (SELECT target_level FROM a) AS level`);
    expect(row).toEqual({ org: 'Trial', usr: 'Pending', asmt: 'Draft', finding: 'Not Started', level: 2 });
    await target.query(`DELETE FROM organizations WHERE name = 'Charlie'`);
  });

  it('unique and check constraints reject bad rows', async () => {
    const cases: [string, string][] = [
      ['23514', `INSERT INTO organizations (name, organization_type) VALUES ('X', 'Startup')`],
      ['23514', `INSERT INTO organizations (name, organization_type, status) VALUES ('X', 'SMB', 'Deleted')`],
      ['23514', `INSERT INTO users (organization_id, email, password_hash, full_name, role) VALUES ('${ORG_A}', 'z@alpha.example', 'x', 'Z', 'Root')`],
      ['23514', `INSERT INTO users (organization_id, email, password_hash, full_name) VALUES ('${ORG_A}', 'Zed@Alpha.example', 'x', 'Z')`],
      ['23505', `INSERT INTO users (organization_id, email, password_hash, full_name) VALUES ('${ORG_B}', 'ann@alpha.example', 'x', 'Dup')`],
      ['23514', `INSERT INTO cmmc_controls (id, level, domain, practice_id, title, objective, nist_control_id) VALUES ('XX.L2-9.9.9', 2, 'XX', 'L2-9.9.9', 't', 'o', '9.9.9')`],
      ['23514', `INSERT INTO cmmc_controls (id, level, domain, practice_id, title, objective, nist_control_id) VALUES ('AC.L4-9.9.9', 4, 'AC', 'L4-9.9.9', 't', 'o', '9.9.9')`],
      ['23505', `INSERT INTO cmmc_controls (id, level, domain, practice_id, title, objective, nist_control_id) VALUES ('AC.L2-3.1.99', 2, 'AC', 'L2-3.1.99', 't', 'o', '3.1.1')`],
      ['23505', `INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES ('M365_GCC_HIGH', 'AC.L2-3.1.1', 'Inherited', 'again')`],
      ['23514', `INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES ('GCP', 'AC.L2-3.1.1', 'Shared', 'x')`],
      ['23514', `INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES ('AWS_GOVCLOUD', 'AC.L2-3.1.1', 'Partial', 'x')`],
      ['23503', `INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES ('AWS_GOVCLOUD', 'ZZ.L2-0.0.0', 'Shared', 'x')`],
      ['23514', `INSERT INTO assessments (organization_id, name, assessment_type) VALUES ('${ORG_A}', 'X', 'SOC2')`],
      ['23514', `INSERT INTO assessments (organization_id, name, assessment_type, status) VALUES ('${ORG_A}', 'X', 'CMMC_L2', 'Done')`],
      ['23514', `INSERT INTO assessments (organization_id, name, assessment_type, scope_domains) VALUES ('${ORG_A}', 'X', 'CMMC_L2', '{AC,ZZ}')`],
      ['23514', `INSERT INTO assessments (organization_id, name, assessment_type, scope_cloud_providers) VALUES ('${ORG_A}', 'X', 'CMMC_L2', '{GCP}')`],
      ['23514', `INSERT INTO assessments (organization_id, name, assessment_type, total_controls, controls_met) VALUES ('${ORG_A}', 'X', 'CMMC_L2', 10, 11)`],
      ['23514', `INSERT INTO assessments (organization_id, name, assessment_type, start_date, end_date) VALUES ('${ORG_A}', 'X', 'CMMC_L2', '2026-05-01', '2026-04-01')`],
      ['23505', `INSERT INTO control_findings (assessment_id, organization_id, control_id) VALUES ('${ASSESS_A}', '${ORG_A}', 'AC.L2-3.1.1')`],
      ['23514', `UPDATE control_findings SET ai_confidence_score = 1.5 WHERE id = '${FINDING_A}'`],
      ['23514', `UPDATE control_findings SET ai_confidence_score = -0.1 WHERE id = '${FINDING_A}'`],
      ['23514', `UPDATE control_findings SET status = 'Passed' WHERE id = '${FINDING_A}'`],
      ['23514', `UPDATE control_findings SET risk_level = 'Severe' WHERE id = '${FINDING_A}'`],
      // A finding cannot claim one tenant and hang off another tenant's assessment.
      ['23503', `INSERT INTO control_findings (assessment_id, organization_id, control_id) VALUES ('${ASSESS_B}', '${ORG_A}', 'AU.L2-3.3.1')`],
      ['23514', `INSERT INTO evidence (organization_id, file_name, file_path, evidence_type) VALUES ('${ORG_A}', 'f', 'p', 'Selfie')`],
      ['23503', `INSERT INTO evidence (assessment_id, organization_id, file_name, file_path, evidence_type) VALUES ('${ASSESS_B}', '${ORG_A}', 'f', 'p', 'Log')`],
      ['23514', `UPDATE poam_items SET status = 'Completed' WHERE id = '${POAM_A}'`],
      ['23514', `UPDATE poam_items SET milestones = '{"a": 1}' WHERE id = '${POAM_A}'`],
      ['23514', `UPDATE poam_items SET status = 'Closed' WHERE id = '${POAM_A}'`],
      ['23514', `INSERT INTO documents (organization_id, title, document_type, status) VALUES ('${ORG_A}', 'D', 'Policy', 'Approved')`],
      ['23505', `INSERT INTO document_chunks (document_id, organization_id, chunk_index, content) VALUES ('${DOC_A}', '${ORG_A}', 1, 'dup')`],
      ['23514', `INSERT INTO ai_analysis_results (organization_id, analysis_type, model_provider, model_name, status) VALUES ('${ORG_A}', 'chat', 'openai', 'gpt-4o', 'Failed')`],
      ['23514', `INSERT INTO ai_analysis_results (organization_id, analysis_type, model_provider, model_name, confidence_score) VALUES ('${ORG_A}', 'chat', 'openai', 'gpt-4o', 2)`],
      ['23514', `INSERT INTO comments (organization_id, finding_id, evidence_id, body) VALUES ('${ORG_A}', '${FINDING_A}', '${EVIDENCE_A}', 'two subjects')`],
      ['23514', `INSERT INTO comments (organization_id, body) VALUES ('${ORG_A}', 'no subject')`],
      // Comments and POA&M items can only point at their own tenant's rows.
      ['23503', `INSERT INTO comments (organization_id, finding_id, body) VALUES ('${ORG_B}', '${FINDING_A}', 'cross-tenant')`],
      ['23503', `INSERT INTO comments (organization_id, assessment_id, body) VALUES ('${ORG_B}', '${ASSESS_A}', 'cross-tenant')`],
      ['23503', `INSERT INTO poam_items (organization_id, assessment_id, control_id, finding_id, title, weakness_description) VALUES ('${ORG_B}', '${ASSESS_B}', 'AC.L2-3.1.1', '${FINDING_A}', 't', 'w')`],
      ['23514', `INSERT INTO comments (organization_id, finding_id, body) VALUES ('${ORG_A}', '${FINDING_A}', '   ')`],
      ['23514', `INSERT INTO notifications (organization_id, user_id, notification_type, title, message, is_read) VALUES ('${ORG_A}', '${USER_A}', 'system', 't', 'm', true)`],
      ['23514', `INSERT INTO notifications (organization_id, user_id, notification_type, title, message, channel) VALUES ('${ORG_A}', '${USER_A}', 'system', 't', 'm', 'sms')`],
      ['23514', `INSERT INTO audit_logs (organization_id, action, entity_type) VALUES ('${ORG_A}', 'HACK', 'user')`],
      // An event with no tenant is written under the nil UUID, never NULL (c0290a8b76a4, docs/scale-out.md).
      ['23502', `INSERT INTO audit_logs (action, entity_type) VALUES ('LOGIN_FAILED', 'user')`],
      // The nil UUID is "no tenant", never an organization (ea4d41f1e1b0): refused even to a superuser.
      ['23514', `INSERT INTO organizations (id, name, organization_type) VALUES ('${NIL}', 'Nobody', 'SMB')`],
      ['23514', `INSERT INTO system_config (key, value) VALUES ('Bad Key', '1')`],
      ['23505', `INSERT INTO system_config (key, value) VALUES ('ai.default_model', '"other"')`],
    ];
    const results = await outcomes(target, cases.map(([, statement]) => statement));
    expect(results.map((code, i) => `${code}  ${cases[i][1]}`)).toEqual(cases.map(([code, s]) => `${code}  ${s}`));
    // The good rows of the fixtures are all there.
    const [n] = await run<{ n: number }>(target, `SELECT count(*)::int AS n FROM control_findings`);
    expect(n.n).toBe(4);
  });

  it('set_updated_at() moves updated_at on every update, on the 8 tables that carry it', async () => {
    const tables = ['organizations', 'users', 'cmmc_controls', 'provider_inheritance', 'documents', 'poam_items', 'comments', 'system_config'];
    const rows = await run<{ table_name: string; stale: number; rows: number }>(target, `
      UPDATE organizations SET created_at = '2020-01-01';
      ${tables.map((t) => `UPDATE ${t} SET updated_at = '2020-01-01';`).join('\n')}
      ${tables.map((t) => `SELECT '${t}' AS table_name, count(*) FILTER (WHERE updated_at < '2021-01-01')::int AS stale, count(*)::int AS rows FROM ${t}`).join(' UNION ALL ')}`);
    for (const r of rows) {
      expect(r.rows, r.table_name).toBeGreaterThan(0);
      expect(r.stale, r.table_name).toBe(0);
    }
    // created_at is left as it was set.
    expect(await run(target, `SELECT count(*)::int AS n FROM organizations WHERE created_at <> '2020-01-01'`)).toEqual([{ n: 0 }]);
  });

  it('the platform\'s functions keep to their pinned search_path: a caller\'s now() or temporary tables do not reach them', async () => {
    // The path a role could give a privileged session (ALTER ROLE/DATABASE ... SET): its own schema
    // before pg_catalog, with a now() of its own, and temporary tables (searched first unless the path
    // names pg_temp) named as the platform's. Unpinned, set_updated_at() wrote 1999 and
    // delete_control_finding() deleted from the temporary table (fd8c5001a663).
    const finding = '00000000-0000-4000-8000-0000000bf009';
    const [seen] = await run<{ seen: Record<string, boolean> }>(target, `
      INSERT INTO control_findings (id, assessment_id, organization_id, control_id, status) VALUES ('${finding}', '${ASSESS_B}', '${ORG_B}', 'AU.L2-3.3.1', 'Met');
      CREATE SCHEMA caller_first;
      CREATE FUNCTION caller_first.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '1999-01-01' $$;
      CREATE TEMP TABLE control_findings (LIKE public.control_findings) ON COMMIT DROP;
      CREATE TEMP TABLE poam_items (LIKE public.poam_items) ON COMMIT DROP;
      CREATE TEMP TABLE seen (what text, ok boolean) ON COMMIT DROP;
      SET LOCAL search_path = caller_first, pg_catalog, public;
      WITH touched AS (UPDATE public.organizations SET name = name WHERE id = '${ORG_B}' RETURNING updated_at)
        INSERT INTO pg_temp.seen SELECT 'updated_at', updated_at > '2021-01-01' FROM touched;
      INSERT INTO pg_temp.seen SELECT 'deleted', delete_control_finding('${finding}', '${ORG_B}');
      INSERT INTO pg_temp.seen SELECT 'gone', NOT EXISTS (SELECT 1 FROM public.control_findings WHERE id = '${finding}');
      DROP SCHEMA caller_first CASCADE;
      SELECT json_object_agg(what, ok) AS seen FROM pg_temp.seen`);
    const value = typeof seen.seen === 'string' ? JSON.parse(seen.seen) : seen.seen;
    expect(value).toEqual({ updated_at: true, deleted: true, gone: true });
  });

  it('the views report progress per assessment and compliance per domain', async () => {
    const progress = await run(target, `
      SELECT name, findings_total, findings_met, findings_not_met, findings_not_applicable,
             completion_percentage::text AS completion, compliance_percentage::text AS compliance,
             evidence_count, open_poam_items
        FROM v_assessment_progress WHERE assessment_id = '${ASSESS_A}'`);
    expect(progress).toEqual([
      { name: 'Alpha L2 2026', findings_total: 3, findings_met: 1, findings_not_met: 1, findings_not_applicable: 1,
        completion: '100.00', compliance: '50.00', evidence_count: 1, open_poam_items: 1 },
    ]);
    const domains = await run(target, `
      SELECT domain, controls_total, controls_met, controls_not_met, controls_not_applicable, compliance_percentage::text AS pct
        FROM v_organization_compliance_by_domain WHERE organization_id = '${ORG_A}' ORDER BY domain`);
    expect(domains).toEqual([
      { domain: 'AC', controls_total: 2, controls_met: 1, controls_not_met: 1, controls_not_applicable: 0, pct: '50.00' },
      { domain: 'AU', controls_total: 1, controls_met: 0, controls_not_met: 0, controls_not_applicable: 1, pct: null },
    ]);
  });

  it('a session scoped to one organization reads and writes none of another organization\'s rows', async () => {
    const role = uniqueName('cmmc_app');
    const scope = (org: string | null) =>
      `SET LOCAL ROLE ${role}; ${org ? `SELECT set_config('app.current_organization_id', '${org}', true);` : ''}`;
    await target.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS;
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    try {
      // Reads: only organization A's rows, in every tenant-owned table and in both views.
      const reads = await run<{ relation: string; mine: number; theirs: number }>(target, `${scope(ORG_A)}
        ${[...TENANT_TABLES, 'v_assessment_progress', 'v_organization_compliance_by_domain']
          .map((t) => `SELECT '${t}' AS relation, count(*) FILTER (WHERE organization_id = '${ORG_A}')::int AS mine,
                              count(*) FILTER (WHERE organization_id <> '${ORG_A}')::int AS theirs FROM ${t}`)
          .join(' UNION ALL ')}
        UNION ALL SELECT 'organizations', count(*) FILTER (WHERE id = '${ORG_A}')::int, count(*) FILTER (WHERE id <> '${ORG_A}')::int FROM organizations`);
      expect(reads).toHaveLength(TENANT_TABLES.length + 3);
      for (const r of reads) {
        expect(r.theirs, r.relation).toBe(0);
        expect(r.mine, r.relation).toBeGreaterThan(0);
      }
      // Without the setting, nothing at all.
      expect(await run(target, `${scope(null)} SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM organizations)::int AS orgs`)).toEqual([{ users: 0, orgs: 0 }]);

      // Writes: updates and deletes of B's rows touch nothing; inserting into B or moving a row to B is refused (42501).
      const writes = await outcomes(
        target,
        [
          `UPDATE assessments SET name = 'hijacked' WHERE id = '${ASSESS_B}'`,
          `DELETE FROM users WHERE organization_id = '${ORG_B}'`,
          `UPDATE organizations SET status = 'Suspended' WHERE id = '${ORG_B}'`,
          `INSERT INTO assessments (organization_id, name, assessment_type) VALUES ('${ORG_B}', 'planted', 'CMMC_L2')`,
          `INSERT INTO notifications (organization_id, user_id, notification_type, title, message) VALUES ('${ORG_B}', '${USER_B}', 'system', 'spam', 'spam')`,
          `UPDATE assessments SET organization_id = '${ORG_B}' WHERE id = '${ASSESS_A}'`,
          `INSERT INTO audit_logs (organization_id, action, entity_type) VALUES ('${ORG_B}', 'VIEW', 'user')`,
          // Its own rows it may write; its audit trail it may append to, not rewrite.
          `UPDATE assessments SET name = 'Alpha L2 2026' WHERE id = '${ASSESS_A}'`,
          `INSERT INTO audit_logs (organization_id, action, entity_type) VALUES ('${ORG_A}', 'VIEW', 'user')`,
          `UPDATE audit_logs SET action = 'DELETE'`,
          `DELETE FROM audit_logs`,
          `DELETE FROM evidence WHERE organization_id <> '${ORG_A}'`,
        ],
        scope(ORG_A),
      );
      expect(writes).toEqual(['ok:0', 'ok:0', 'ok:0', '42501', '42501', '42501', '42501', 'ok:1', 'ok:1', 'ok:0', 'ok:0', 'ok:0']);

      // Organization B's data is untouched (read as the owner, which row-level security does not restrict).
      const [b] = await run<Record<string, number | string>>(target, `
        SELECT (SELECT name FROM assessments WHERE id = '${ASSESS_B}') AS name,
               (SELECT status FROM organizations WHERE id = '${ORG_B}') AS status,
               (SELECT count(*)::int FROM users WHERE organization_id = '${ORG_B}') AS users,
               (SELECT count(*)::int FROM evidence WHERE organization_id = '${ORG_B}') AS evidence,
               (SELECT count(*)::int FROM assessments WHERE organization_id = '${ORG_B}') AS assessments,
               (SELECT count(*)::int FROM notifications WHERE organization_id = '${ORG_B}') AS notifications,
               (SELECT count(*)::int FROM audit_logs WHERE organization_id = '${ORG_B}') AS audit,
               (SELECT count(*)::int FROM audit_logs WHERE organization_id = '${ORG_A}' AND action = 'DELETE') AS rewritten`);
      expect(b).toEqual({ name: 'Bravo L2 2026', status: 'Active', users: 1, evidence: 1, assessments: 1, notifications: 1, audit: 1, rewritten: 0 });
    } finally {
      await target.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('system_config is read-only and without its secret rows inside a tenant\'s transaction, read and written as before outside one', async () => {
    const { scope, drop } = await boundRole(target);
    await target.query(`INSERT INTO system_config (key, value, is_secret) VALUES ('platform.api_key', '"s3cret"', true)`);
    try {
      // Any tenant set (a real one, the nil UUID, anything not empty): the secret row is not there.
      for (const tenant of [ORG_A, NIL, 'not-a-uuid']) {
        const keys = await run<{ key: string }>(target, `${scope(tenant)} SELECT key FROM system_config ORDER BY key`);
        expect(keys.map((k) => k.key), `tenant ${tenant}`).toEqual(['ai.default_model']);
      }
      const tenantWrites = await outcomes(
        target,
        [
          `UPDATE system_config SET value = '"hijacked"' WHERE key = 'ai.default_model'`,
          `UPDATE system_config SET is_secret = false WHERE key = 'platform.api_key'`,
          `DELETE FROM system_config`,
          `INSERT INTO system_config (key, value, is_secret) VALUES ('platform.planted', '"x"', true)`,
          `INSERT INTO system_config (key, value) VALUES ('ai.default_model', '"other"') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        ],
        scope(ORG_A),
      );
      expect(tenantWrites).toEqual(['ok:0', 'ok:0', 'ok:0', '42501', '42501']);

      // No tenant set (an empty one is none): the platform reads its secrets and administrators edit settings.
      for (const prelude of [scope(null), scope('')]) {
        const keys = await run<{ key: string }>(target, `${prelude} SELECT key FROM system_config ORDER BY key`);
        expect(keys.map((k) => k.key)).toEqual(['ai.default_model', 'platform.api_key']);
      }
      const platformWrites = await outcomes(
        target,
        [
          `UPDATE system_config SET description = 'set by an administrator' WHERE key = 'ai.default_model'`,
          `INSERT INTO system_config (key, value, is_secret) VALUES ('platform.flag', 'true', true)`,
          `DELETE FROM system_config WHERE key = 'platform.flag'`,
        ],
        scope(null),
      );
      expect(platformWrites).toEqual(['ok:1', 'ok:1', 'ok:1']);
      expect(await run(target, `SELECT key, value, is_secret, description FROM system_config ORDER BY key`)).toEqual([
        { key: 'ai.default_model', value: 'gpt-4o', is_secret: false, description: 'set by an administrator' },
        { key: 'platform.api_key', value: 's3cret', is_secret: true, description: null },
      ]);
    } finally {
      await target.query(`DELETE FROM system_config WHERE key LIKE 'platform.%'`);
      await drop();
    }
  });

  it('the nil UUID is no tenant: no organization takes it, and a session naming it reads no tenant-less audit event', async () => {
    const { scope, drop } = await boundRole(target);
    await target.query(`INSERT INTO audit_logs (organization_id, user_email, action, entity_type, ip_address)
      VALUES ('${NIL}', 'someone@elsewhere.example', 'LOGIN_FAILED', 'user', '192.0.2.7')`);
    try {
      const asNil = await outcomes(
        target,
        [
          `INSERT INTO organizations (id, name, organization_type) VALUES ('${NIL}', 'Nobody', 'SMB')`,
          `INSERT INTO users (organization_id, email, password_hash, full_name) VALUES ('${NIL}', 'nobody@nil.example', 'x', 'Nobody')`,
        ],
        scope(NIL),
      );
      expect(asNil).toEqual(['23514', '23503']);
      expect(await run(target, `${scope(NIL)} SELECT count(*)::int AS n FROM audit_logs`)).toEqual([{ n: 0 }]);

      // The platform (no tenant set) appends tenant-less events and nothing else; it reads none of them.
      const platform = await outcomes(
        target,
        [
          `INSERT INTO audit_logs (organization_id, user_email, action, entity_type) VALUES ('${NIL}', 'unknown@elsewhere.example', 'LOGIN_FAILED', 'user')`,
          `INSERT INTO audit_logs (organization_id, action, entity_type) VALUES ('${ORG_A}', 'LOGIN', 'user')`,
          `UPDATE audit_logs SET user_email = NULL`,
        ],
        scope(null),
      );
      expect(platform).toEqual(['ok:1', '42501', 'ok:0']);
      expect(await run(target, `${scope(null)} SELECT count(*)::int AS n FROM audit_logs`)).toEqual([{ n: 0 }]);
      // A tenant appends its own events only.
      expect(await outcomes(target, [`INSERT INTO audit_logs (organization_id, action, entity_type) VALUES ('${NIL}', 'LOGIN_FAILED', 'user')`], scope(ORG_A))).toEqual(['42501']);
      expect(await run(target, `SELECT count(*)::int AS n, count(user_email)::int AS emails FROM audit_logs WHERE organization_id = '${NIL}'`)).toEqual([{ n: 2, emails: 2 }]);
    } finally {
      await target.query(`DELETE FROM audit_logs WHERE organization_id = '${NIL}'`);
      await drop();
    }
  });

  it('the search over every row (indexedSimilaritySearchQuery) queries each embedding through its HNSW index; a tenant\'s search (similaritySearchQuery) ranks exactly', async () => {
    const compiler = new Kysely<Database>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    });
    // 40 rows per table with random embeddings, in organization A.
    const randomVector = `(SELECT array_agg(random()::real)::vector(3072) FROM generate_series(1, 3072) WHERE g.i > 0)`;
    await target.query(`
      INSERT INTO evidence (organization_id, file_name, file_path, evidence_type, embedding)
        SELECT '${ORG_A}', 'e' || i, 'p', 'Log', ${randomVector} FROM generate_series(1, 40) AS g(i);
      INSERT INTO documents (organization_id, title, document_type, embedding)
        SELECT '${ORG_A}', 'd' || i, 'Policy', ${randomVector} FROM generate_series(1, 40) AS g(i);
      INSERT INTO document_chunks (document_id, organization_id, chunk_index, content, embedding)
        SELECT '${DOC_A}', '${ORG_A}', 100 + i, 'c' || i, ${randomVector} FROM generate_series(1, 40) AS g(i);
      ANALYZE evidence; ANALYZE documents; ANALYZE document_chunks;`);
    const [probe] = await run<{ id: string; embedding: string }>(target, `SELECT id, embedding::text AS embedding FROM evidence WHERE embedding IS NOT NULL LIMIT 1`);
    const embedding = probe.embedding;

    const explains: string[] = [];
    for (const table of ['evidence', 'documents', 'document_chunks'] as EmbeddedTable[]) {
      const compiled = indexedSimilaritySearchQuery(compiler, { table, embedding, organizationId: null, limit: 5 }).compile();
      // EXPLAIN runs in a script after SET, so the parameters are inlined (from the last, so "$1" does not eat "$10").
      let text = compiled.sql;
      for (let n = compiled.parameters.length; n >= 1; n--) {
        const value = compiled.parameters[n - 1];
        text = text.replaceAll(`$${n}`, typeof value === 'number' ? String(value) : `'${String(value)}'`);
      }
      explains.push(`SELECT '${table}' AS relation, string_agg(line, E'\\n') AS plan FROM pg_temp.plan($q$${text}$q$) AS line`);
    }
    const plans = await run<{ relation: string; plan: string }>(target, `
      CREATE FUNCTION pg_temp.plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
      BEGIN RETURN QUERY EXECUTE 'EXPLAIN ' || query; END $f$;
      SET LOCAL enable_seqscan = off;
      ${explains.join(' UNION ALL ')}`);
    expect(plans.map((p) => p.relation)).toEqual(['evidence', 'documents', 'document_chunks']);
    for (const p of plans) {
      const index = { evidence: 'idx_evidence_embedding', documents: 'idx_documents_embedding', document_chunks: 'idx_document_chunks_embedding' }[p.relation];
      expect(p.plan, p.relation).toContain(`Index Scan using ${index}`);
    }

    // And it finds: the nearest evidence to a row's own embedding is that row, at distance ~0.
    const compiled = similaritySearchQuery(compiler, { table: 'evidence', embedding, organizationId: ORG_A, limit: 3 }).compile();
    const rows = await target.query<{ id: string; distance: number; embedding?: unknown }>(compiled.sql, [...compiled.parameters]);
    expect(rows).toHaveLength(3);
    expect(rows[0].id).toBe(probe.id);
    expect(Number(rows[0].distance)).toBeLessThan(0.01);
    expect(Number(rows[1].distance)).toBeGreaterThan(Number(rows[0].distance));
    expect(rows[0]).not.toHaveProperty('embedding');
    expect(() => similaritySearchQuery(compiler, { table: 'evidence', embedding: [0.1, 0.2], organizationId: ORG_A })).toThrow(/3072/);
    // Every tenant query names its tenant: a forgotten organizationId and a non-UUID are refused before any SQL.
    expect(() => similaritySearchQuery(compiler, { table: 'evidence', embedding } as never)).toThrow(/names no organizationId/);
    expect(() => similaritySearchQuery(compiler, { table: 'evidence', embedding, organizationId: "x' OR true --" })).toThrow(/not a UUID/);
    expect(compiled.sql).toContain('"organization_id" = $');
  });

  it('deletes cascade, restrict or set null as documented', async () => {
    // Master data in use is restricted (PostgreSQL 15 reports 23503, 17 reports restrict_violation 23001);
    // provider guidance goes with its control.
    const [restricted, unused] = await outcomes(target, [
      `DELETE FROM cmmc_controls WHERE id = 'AC.L2-3.1.2'`,
      `DELETE FROM cmmc_controls WHERE id = 'SI.L2-3.14.7'`,
    ], `INSERT INTO cmmc_controls (id, level, domain, practice_id, title, objective, nist_control_id) VALUES ('SI.L2-3.14.7', 2, 'SI', 'L2-3.14.7', 't', 'o', '3.14.7');
        INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES ('AZURE_GOVERNMENT', 'SI.L2-3.14.7', 'Customer', 'x');`);
    expect(['23503', '23001']).toContain(restricted);
    expect(unused).toBe('ok:1');

    // A finding or an assessment that other rows still point at is deleted through its delete path
    // (one transaction: the references are cleared, then the row goes); a plain DELETE is refused
    // rather than quietly changing other rows (c0290a8b76a4: no ON DELETE SET NULL on tenant keys).
    const plain = await outcomes(target, [`DELETE FROM control_findings WHERE id = '${FINDING_A2}'`, `DELETE FROM assessments WHERE id = '${ASSESS_A}'`]);
    expect(plain).toEqual(['23503', '23503']);

    // Users leave: assessments, POA&M items, comments and documents stay without them; their notifications go.
    // A finding is deleted: its POA&M item stays (finding_id cleared), its discussion goes.
    const [afterUsers] = await run(target, `
      DELETE FROM users WHERE id IN ('${USER_A}', '${USER_A2}');
      SELECT delete_control_finding('${FINDING_A2}', '${ORG_A}');
      SELECT (SELECT count(*) FROM provider_inheritance WHERE control_id = 'SI.L2-3.14.7')::int AS guidance,
             (SELECT lead_assessor_id FROM assessments WHERE id = '${ASSESS_A}') AS lead,
             (SELECT row(owner_id, finding_id, control_id)::text FROM poam_items WHERE id = '${POAM_A}') AS poam,
             (SELECT count(*) FROM comments WHERE finding_id = '${FINDING_A2}')::int AS finding_comments,
             (SELECT row(author_id)::text FROM comments WHERE assessment_id = '${ASSESS_A}') AS author,
             (SELECT count(*) FROM notifications WHERE organization_id = '${ORG_A}')::int AS notifications,
             (SELECT row(owner_id)::text FROM documents WHERE id = '${DOC_A}') AS doc_owner,
             (SELECT row(uploaded_by)::text FROM evidence WHERE id = '${EVIDENCE_A}') AS uploader`);
    expect(afterUsers).toEqual({ guidance: 0, lead: null, poam: '(,,AC.L2-3.1.2)', finding_comments: 0, author: '()', notifications: 0, doc_owner: '()', uploader: '()' });

    // The assessment is deleted: findings and POA&M items go; evidence and the AI trail stay with the organization.
    // A document is deleted: its chunks go. Organization B is deleted: all its data goes, but the audit trail stays.
    const [afterAssessment] = await run(target, `
      SELECT delete_assessment('${ASSESS_A}', '${ORG_A}');
      DELETE FROM documents WHERE id = '${DOC_A}';
      DELETE FROM organizations WHERE id = '${ORG_B}';
      SELECT (SELECT count(*) FROM control_findings WHERE assessment_id = '${ASSESS_A}')::int AS findings,
             (SELECT count(*) FROM poam_items WHERE assessment_id = '${ASSESS_A}')::int AS poam,
             (SELECT count(*) FROM comments WHERE assessment_id = '${ASSESS_A}')::int AS comments,
             (SELECT row(assessment_id, organization_id)::text FROM evidence WHERE id = '${EVIDENCE_A}') AS evidence,
             (SELECT array_agg(DISTINCT coalesce(assessment_id::text, 'null')) FROM ai_analysis_results WHERE organization_id = '${ORG_A}') AS ai,
             (SELECT count(*) FROM document_chunks WHERE document_id = '${DOC_A}')::int AS chunks,
             (${TENANT_TABLES.filter((t) => t !== 'audit_logs').map((t) => `(SELECT count(*) FROM ${t} WHERE organization_id = '${ORG_B}')`).join(' + ')})::int AS org_b_rows,
             (SELECT count(*) FROM audit_logs WHERE organization_id = '${ORG_B}')::int AS org_b_audit,
             (SELECT count(*) FROM cmmc_controls)::int AS controls,
             (SELECT count(*) FROM system_config)::int AS settings`);
    expect(afterAssessment).toEqual({
      findings: 0,
      poam: 0,
      comments: 0,
      evidence: `(,${ORG_A})`,
      ai: ['null'],
      chunks: 0,
      org_b_rows: 0,
      org_b_audit: 1,
      controls: 3,
      settings: 1,
    });
  });
});
