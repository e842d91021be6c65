/**
 * What the catalog cannot say about the platform's types, kept next to the generator (kysely-codegen
 * calls these "overrides"): the names of the string-literal unions that CHECK constraints define,
 * which view columns are never null, and declarations that go with the generated types.
 * Everything else in src/schema/database.ts comes from the migrations' head.
 */

/**
 * Union type names by `table.column`. A CHECK-constrained column not listed here gets
 * PascalCase(column) when that name is unambiguous (`organization_type` → `OrganizationType`),
 * else PascalCase(singular table + column) (`users.role` → `UserRole`). Columns whose literal
 * sets are equal share one type.
 */
export const UNION_NAMES: Record<string, string> = {
  'cmmc_controls.domain': 'CmmcDomain',
  'provider_inheritance.provider': 'CloudProvider',
  'control_findings.status': 'FindingStatus',
  'poam_items.status': 'PoamStatus',
  'ai_analysis_results.status': 'AnalysisStatus',
  'ai_analysis_results.entity_type': 'AnalysisEntityType',
  'audit_logs.action': 'AuditAction',
};

/**
 * View columns PostgreSQL reports as nullable (it does for every view column) that the view's
 * definition never leaves null; `*` = every column but those listed in NULLABLE_VIEW_COLUMNS.
 */
export const NOT_NULL_VIEW_COLUMNS: Record<string, string[] | '*'> = {
  v_assessment_progress: '*',
  v_organization_compliance_by_domain: '*',
};

/** View columns that can be null even when NOT_NULL_VIEW_COLUMNS says `*`. */
export const NULLABLE_VIEW_COLUMNS: Record<string, string[]> = {
  v_assessment_progress: ['start_date', 'end_date', 'compliance_percentage'],
  v_organization_compliance_by_domain: ['compliance_percentage'],
};

/** View columns that carry a union type of a table column (views have no CHECK constraints). */
export const VIEW_COLUMN_UNIONS: Record<string, string> = {
  'v_assessment_progress.assessment_type': 'assessments.assessment_type',
  'v_assessment_progress.status': 'assessments.status',
  'v_organization_compliance_by_domain.domain': 'cmmc_controls.domain',
};

/** Declarations written after the helper types (JSON shapes that documents use). */
export const EXTRA_DECLARATIONS = `/** One POA&M milestone, an element of poam_items.milestones. */
export interface PoamMilestone {
  title: string;
  due_date: string;
  completed_at?: string | null;
  [key: string]: JsonValue | undefined;
}`;

/**
 * Documentation the generated file carries, by union type name, `table` or `table.column`. A
 * COMMENT ON TABLE / COLUMN in the schema is used when there is no entry here.
 */
export const DOCS: Record<string, string> = {
  AssessmentStatus: 'Draft → In Progress → Under Review → (Remediation → Under Review)* → Completed → Archived; see docs/schema.md.',
  'comments.mentions': 'The ids of the users mentioned (@name) in the body.',
  v_assessment_progress: 'v_assessment_progress: one row per assessment (read-only).',
  'v_assessment_progress.completion_percentage': 'Share of findings decided (Met, Not Met or Not Applicable), 0 to 100.',
  'v_assessment_progress.compliance_percentage': 'Met / (Met + Not Met) × 100; null while nothing is decided.',
  v_organization_compliance_by_domain: 'v_organization_compliance_by_domain: one row per organization and domain of its latest assessment.',
  'v_organization_compliance_by_domain.compliance_percentage': 'Met / (all but Not Applicable) × 100; null when every control is Not Applicable.',
};
