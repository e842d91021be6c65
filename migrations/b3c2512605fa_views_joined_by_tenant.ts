/**
 * The two views rewritten so that a distributed PostgreSQL (Citus) can run them: every join of
 * tenant tables is on organization_id as well (the distribution column), and
 * v_assessment_progress counts evidence and open POA&M items with pre-aggregated joins instead of
 * correlated subqueries (as written in e3a8d1c6b468 Citus refuses it: "complex joins are only
 * supported when all distributed tables are co-located and joined on their distribution
 * columns"). They return exactly the rows they returned before (test/tenant-distribution.test.ts
 * compares them row by row); columns, names and types are unchanged. It comes before the new
 * primary keys of c0290a8b76a4: the old v_assessment_progress groups by assessments' primary key
 * (GROUP BY a.id), so that key could not change under it.
 *
 * Revision ID: b3c2512605fa
 * Revises: 836a4a2ccb41
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

export const revision = 'b3c2512605fa';
export const downRevision: string | string[] | null = '836a4a2ccb41';
export const message = 'views joined by tenant';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];
export const transactional = true;

/** v_organization_compliance_by_domain, as e3a8d1c6b468 wrote it, with the join of the findings given. */
async function complianceByDomain(db: Kysely<any>, findingsJoin: RawBuilder<unknown>): Promise<void> {
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
      JOIN control_findings f ON ${findingsJoin}
      JOIN cmmc_controls c ON c.id = f.control_id
     GROUP BY l.organization_id, l.id, c.domain`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW v_organization_compliance_by_domain`.execute(db);
  await sql`DROP VIEW v_assessment_progress`.execute(db);

  await sql`CREATE VIEW v_assessment_progress WITH (security_invoker = true) AS
    SELECT a.id AS assessment_id,
           a.organization_id,
           a.name,
           a.assessment_type,
           a.target_level,
           a.status,
           a.start_date,
           a.end_date,
           coalesce(f.total, 0)::int AS findings_total,
           coalesce(f.not_started, 0)::int AS findings_not_started,
           coalesce(f.in_progress, 0)::int AS findings_in_progress,
           coalesce(f.met, 0)::int AS findings_met,
           coalesce(f.not_met, 0)::int AS findings_not_met,
           coalesce(f.not_applicable, 0)::int AS findings_not_applicable,
           COALESCE(round(100.0 * (f.met + f.not_met + f.not_applicable) / NULLIF(f.total, 0), 2), 0)::numeric(5,2) AS completion_percentage,
           round(100.0 * f.met / NULLIF(f.met + f.not_met, 0), 2)::numeric(5,2) AS compliance_percentage,
           coalesce(e.evidence, 0)::int AS evidence_count,
           coalesce(p.open_items, 0)::int AS open_poam_items
      FROM assessments a
      LEFT JOIN (
        SELECT organization_id, assessment_id,
               count(*) AS total,
               count(*) FILTER (WHERE status = 'Not Started') AS not_started,
               count(*) FILTER (WHERE status = 'In Progress') AS in_progress,
               count(*) FILTER (WHERE status = 'Met') AS met,
               count(*) FILTER (WHERE status = 'Not Met') AS not_met,
               count(*) FILTER (WHERE status = 'Not Applicable') AS not_applicable
          FROM control_findings
         GROUP BY organization_id, assessment_id
      ) f ON f.organization_id = a.organization_id AND f.assessment_id = a.id
      LEFT JOIN (
        SELECT organization_id, assessment_id, count(*) AS evidence
          FROM evidence
         WHERE assessment_id IS NOT NULL
         GROUP BY organization_id, assessment_id
      ) e ON e.organization_id = a.organization_id AND e.assessment_id = a.id
      LEFT JOIN (
        SELECT organization_id, assessment_id, count(*) AS open_items
          FROM poam_items
         WHERE status NOT IN ('Completed', 'Risk Accepted')
         GROUP BY organization_id, assessment_id
      ) p ON p.organization_id = a.organization_id AND p.assessment_id = a.id`.execute(db);

  await complianceByDomain(db, sql`f.organization_id = l.organization_id AND f.assessment_id = l.id`);
}

/** The views as e3a8d1c6b468 made them. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP VIEW v_organization_compliance_by_domain`.execute(db);
  await sql`DROP VIEW v_assessment_progress`.execute(db);
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
  await complianceByDomain(db, sql`f.assessment_id = l.id`);
}
