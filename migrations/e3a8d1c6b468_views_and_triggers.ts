/**
 * Views and triggers: one trigger function keeps updated_at current on the 8 tables that carry it,
 * and two views answer the platform's two standing questions: how far is each assessment, and
 * how compliant is each organization, domain by domain. The views are security_invoker, so
 * row-level security applies to whoever reads them.
 */
import { sql, type Kysely } from 'kysely';

export const revision = 'e3a8d1c6b468';
export const downRevision: string | string[] | null = 'b27c5e9f0357';
export const message = 'views and triggers';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** The tables that carry updated_at, each with one BEFORE UPDATE trigger. */
export const UPDATED_AT_TABLES = [
  'organizations',
  'users',
  'cmmc_controls',
  'provider_inheritance',
  'documents',
  'poam_items',
  'comments',
  'system_config',
] as const;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.updated_at := now();
      RETURN NEW;
    END
    $$`.execute(db);
  for (const table of UPDATED_AT_TABLES) {
    await sql`CREATE TRIGGER ${sql.raw(`trg_${table}_updated_at`)}
      BEFORE UPDATE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION set_updated_at()`.execute(db);
  }

  // How far is each assessment? Findings by status, the share decided, the share met (of the
  // applicable ones), the evidence attached and the POA&M items still open.
  await sql`CREATE VIEW v_assessment_progress WITH (security_invoker = true) AS
    SELECT a.id AS assessment_id,
           a.organization_id,
           a.name,
           a.assessment_type,
           a.target_level,
           a.status,
           a.start_date,
           a.end_date,
           count(f.id)::int AS findings_total,
           (count(f.id) FILTER (WHERE f.status = 'Not Started'))::int AS findings_not_started,
           (count(f.id) FILTER (WHERE f.status = 'In Progress'))::int AS findings_in_progress,
           (count(f.id) FILTER (WHERE f.status = 'Met'))::int AS findings_met,
           (count(f.id) FILTER (WHERE f.status = 'Not Met'))::int AS findings_not_met,
           (count(f.id) FILTER (WHERE f.status = 'Not Applicable'))::int AS findings_not_applicable,
           COALESCE(round(100.0 * count(f.id) FILTER (WHERE f.status IN ('Met', 'Not Met', 'Not Applicable'))
                          / NULLIF(count(f.id), 0), 2), 0)::numeric(5,2) AS completion_percentage,
           round(100.0 * count(f.id) FILTER (WHERE f.status = 'Met')
                 / NULLIF(count(f.id) FILTER (WHERE f.status IN ('Met', 'Not Met')), 0), 2)::numeric(5,2)
             AS compliance_percentage,
           (SELECT count(*) FROM evidence e WHERE e.assessment_id = a.id)::int AS evidence_count,
           (SELECT count(*) FROM poam_items p
             WHERE p.assessment_id = a.id AND p.status NOT IN ('Completed', 'Risk Accepted'))::int AS open_poam_items
      FROM assessments a
      LEFT JOIN control_findings f ON f.assessment_id = a.id
     GROUP BY a.id`.execute(db);

  // How compliant is each organization, domain by domain? Measured on its latest assessment that
  // is not archived (the one a C3PAO would look at), over the findings of each domain.
  await sql`CREATE VIEW v_organization_compliance_by_domain WITH (security_invoker = true) AS
    WITH latest AS (
      SELECT DISTINCT ON (organization_id) id, organization_id
        FROM assessments
       WHERE status <> 'Archived'
       ORDER BY organization_id, created_at DESC, id
    )
    SELECT l.organization_id,
           l.id AS assessment_id,
           c.domain,
           count(*)::int AS controls_total,
           (count(*) FILTER (WHERE f.status = 'Met'))::int AS controls_met,
           (count(*) FILTER (WHERE f.status = 'Not Met'))::int AS controls_not_met,
           (count(*) FILTER (WHERE f.status = 'Not Applicable'))::int AS controls_not_applicable,
           (count(*) FILTER (WHERE f.status IN ('Not Started', 'In Progress')))::int AS controls_pending,
           round(100.0 * count(*) FILTER (WHERE f.status = 'Met')
                 / NULLIF(count(*) FILTER (WHERE f.status <> 'Not Applicable'), 0), 2)::numeric(5,2)
             AS compliance_percentage
      FROM latest l
      JOIN control_findings f ON f.assessment_id = l.id
      JOIN cmmc_controls c ON c.id = f.control_id
     GROUP BY l.organization_id, l.id, c.domain`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW v_organization_compliance_by_domain`.execute(db);
  await sql`DROP VIEW v_assessment_progress`.execute(db);
  for (const table of [...UPDATED_AT_TABLES].reverse()) {
    await sql`DROP TRIGGER ${sql.raw(`trg_${table}_updated_at`)} ON ${sql.table(table)}`.execute(db);
  }
  await sql`DROP FUNCTION set_updated_at()`.execute(db);
}
