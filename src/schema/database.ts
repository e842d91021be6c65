/**
 * The Kysely `Database` interface of the CMMC platform: every table and view that the revisions in
 * migrations/ create, typed as postgres.js returns them (timestamps and dates as Date, numeric and
 * bigint as string, arrays as T[], JSONB as Json, pgvector columns as their text form
 * '[0.1,0.2,...]'), with CHECK-constrained columns as string-literal unions.
 *
 * GENERATED from the migrations' head by `cmmc-db schema types` (src/schema-as-code/typegen.ts;
 * names the catalog cannot give are in src/schema-as-code/type-overrides.ts). Do not edit by hand:
 * change the schema, then run `cmmc-db schema types`; CI runs `cmmc-db schema types --check`.
 *
 * `SCHEMA_COLUMNS` below is the same schema as data (PostgreSQL type and nullability of every
 * column). TypeScript checks it against the interfaces (a missing or extra column, a nullability
 * or a type that does not match fails the build), and test/schema-migrations.test.ts checks it
 * against a migrated database, so the interfaces and the database cannot drift apart silently.
 *
 * @example
 * ```ts
 * import type { Database } from 'cmmc-db';
 * const handle = await createPool<Database>();
 * const open = await handle.db.selectFrom('poam_items').where('status', '=', 'Open').selectAll().execute();
 * ```
 */
import type { ColumnType, SelectType } from 'kysely';

/** A column with a default: optional on insert. Unwraps a ColumnType (as kysely-codegen's Generated does). */
export type Generated<T> =
  T extends ColumnType<infer S, infer I, infer U> ? ColumnType<S, I | undefined, U> : ColumnType<T, T | undefined, T>;

/** A JSON document as stored in a JSONB column (NULL is the column's own null, typed `Json | null`). */
export type Json = Exclude<JsonValue, null>;
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

/** timestamptz and date: postgres.js returns Date; strings are accepted on the way in. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** numeric: returned as a string to keep its precision. */
export type Numeric = ColumnType<string, string | number, string | number>;
/** bigint: postgres.js returns int8 as a string. */
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
/** A pgvector column (vector, halfvec) in its text form, '[0.1,0.2,...]'. */
export type Vector = string;

export type AnalysisType =
  | 'narrative_generation'
  | 'evidence_analysis'
  | 'gap_analysis'
  | 'control_mapping'
  | 'document_summary'
  | 'embedding'
  | 'risk_assessment'
  | 'chat';
export type AnalysisEntityType =
  | 'assessment'
  | 'control_finding'
  | 'evidence'
  | 'document'
  | 'document_chunk'
  | 'poam_item';
export type AnalysisStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
export type AssessmentType = 'CMMC_L1' | 'CMMC_L2' | 'CMMC_L3';
/** Draft → In Progress → Under Review → (Remediation → Under Review)* → Completed → Archived; see docs/schema.md. */
export type AssessmentStatus = 'Draft' | 'In Progress' | 'Under Review' | 'Remediation' | 'Completed' | 'Archived';
export type AuditAction =
  | 'INSERT'
  | 'UPDATE'
  | 'DELETE'
  | 'LOGIN'
  | 'LOGOUT'
  | 'LOGIN_FAILED'
  | 'EXPORT'
  | 'VIEW'
  | 'APPROVE'
  | 'AI_ANALYSIS';
export type CmmcDomain =
  | 'AC'
  | 'AT'
  | 'AU'
  | 'CA'
  | 'CM'
  | 'IA'
  | 'IR'
  | 'MA'
  | 'MP'
  | 'PE'
  | 'PS'
  | 'RA'
  | 'SC'
  | 'SI';
export type FindingStatus = 'Not Started' | 'In Progress' | 'Met' | 'Not Met' | 'Not Applicable';
export type RiskLevel = 'Low' | 'Medium' | 'High' | 'Critical';
export type DocumentType = 'Policy' | 'Procedure' | 'Standard' | 'Plan' | 'SSP' | 'Guideline' | 'Other';
export type DocumentStatus = 'Draft' | 'Under Review' | 'Approved' | 'Archived';
export type EvidenceType =
  | 'Policy'
  | 'Procedure'
  | 'Screenshot'
  | 'Configuration'
  | 'Log'
  | 'Report'
  | 'Diagram'
  | 'Interview'
  | 'Other';
export type NotificationType =
  | 'mention'
  | 'comment_reply'
  | 'assignment'
  | 'status_change'
  | 'due_date'
  | 'poam_overdue'
  | 'assessment_complete'
  | 'ai_analysis_complete'
  | 'system';
export type NotificationChannel = 'in_app' | 'email' | 'both';
export type DeliveryStatus = 'Pending' | 'Sent' | 'Delivered' | 'Failed' | 'Skipped';
export type OrganizationType = 'Enterprise' | 'SMB' | 'Consultant' | 'C3PAO';
export type OrganizationStatus = 'Active' | 'Trial' | 'Suspended' | 'Inactive';
export type PoamStatus = 'Open' | 'In Progress' | 'Delayed' | 'Completed' | 'Risk Accepted';
export type CloudProvider = 'M365_GCC_HIGH' | 'AZURE_GOVERNMENT' | 'AWS_GOVCLOUD';
export type InheritanceType = 'Inherited' | 'Shared' | 'Customer';
export type UserRole = 'Admin' | 'Assessor' | 'Auditor' | 'Viewer';
export type UserStatus = 'Active' | 'Pending' | 'Suspended' | 'Inactive';

/** One POA&M milestone, an element of poam_items.milestones. */
export interface PoamMilestone {
  title: string;
  due_date: string;
  completed_at?: string | null;
  [key: string]: JsonValue | undefined;
}

export interface AiAnalysisResultsTable {
  id: Generated<string>;
  organization_id: string;
  assessment_id: string | null;
  analysis_type: AnalysisType;
  entity_type: AnalysisEntityType | null;
  entity_id: string | null;
  control_id: string | null;
  model_provider: string;
  model_name: string;
  prompt_version: string | null;
  input: Json | null;
  output: Json | null;
  confidence_score: Numeric | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: Numeric | null;
  duration_ms: number | null;
  status: Generated<AnalysisStatus>;
  error_message: string | null;
  requested_by: string | null;
  created_at: Generated<Timestamp>;
  completed_at: Timestamp | null;
}

export interface AssessmentsTable {
  id: Generated<string>;
  organization_id: string;
  name: string;
  assessment_type: AssessmentType;
  target_level: Generated<number>;
  status: Generated<AssessmentStatus>;
  scope_domains: Generated<string[]>;
  scope_cloud_providers: Generated<string[]>;
  start_date: Timestamp | null;
  end_date: Timestamp | null;
  lead_assessor_id: string | null;
  total_controls: Generated<number>;
  controls_met: Generated<number>;
  completion_percentage: Generated<Numeric>;
  created_at: Generated<Timestamp>;
}

export interface AuditLogsTable {
  id: Generated<string>;
  /** The tenant of the event; 00000000-0000-0000-0000-000000000000 (the nil UUID) for events with no tenant (docs/scale-out.md). */
  organization_id: string;
  user_id: string | null;
  user_email: string | null;
  action: AuditAction;
  entity_type: string;
  entity_id: string | null;
  changes: Generated<Json>;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  created_at: Generated<Timestamp>;
}

export interface CmmcControlsTable {
  id: string;
  level: number;
  domain: CmmcDomain;
  practice_id: string;
  title: string;
  objective: string;
  discussion: string | null;
  nist_control_id: string;
  assessment_objectives: Generated<string[]>;
  examine_items: Generated<string[]>;
  interview_items: Generated<string[]>;
  test_items: Generated<string[]>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface CommentsTable {
  id: Generated<string>;
  organization_id: string;
  assessment_id: string | null;
  finding_id: string | null;
  evidence_id: string | null;
  poam_item_id: string | null;
  parent_id: string | null;
  author_id: string | null;
  body: string;
  /** The ids of the users mentioned (@name) in the body. */
  mentions: Generated<string[]>;
  is_resolved: Generated<boolean>;
  edited_at: Timestamp | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface ControlFindingsTable {
  id: Generated<string>;
  assessment_id: string;
  organization_id: string;
  control_id: string;
  status: Generated<FindingStatus>;
  implementation_narrative: string | null;
  evidence_ids: Generated<string[]>;
  ai_generated_narrative: string | null;
  ai_confidence_score: Numeric | null;
  uses_provider_inheritance: Generated<boolean>;
  risk_level: RiskLevel | null;
  created_at: Generated<Timestamp>;
}

export interface DocumentChunksTable {
  id: Generated<string>;
  document_id: string;
  organization_id: string;
  chunk_index: number;
  content: string;
  heading: string | null;
  token_count: number | null;
  char_start: number | null;
  char_end: number | null;
  embedding: Vector | null;
  embedding_model: string | null;
  metadata: Generated<Json>;
  created_at: Generated<Timestamp>;
}

export interface DocumentsTable {
  id: Generated<string>;
  organization_id: string;
  title: string;
  document_type: DocumentType;
  version: Generated<string>;
  status: Generated<DocumentStatus>;
  file_name: string | null;
  file_path: string | null;
  mime_type: string | null;
  file_size_bytes: Int8 | null;
  content: string | null;
  content_hash: string | null;
  control_ids: Generated<string[]>;
  owner_id: string | null;
  approved_by: string | null;
  approved_at: Timestamp | null;
  effective_date: Timestamp | null;
  next_review_date: Timestamp | null;
  embedding: Vector | null;
  embedding_model: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface EvidenceTable {
  id: Generated<string>;
  assessment_id: string | null;
  organization_id: string;
  file_name: string;
  file_path: string;
  file_size_bytes: Int8 | null;
  mime_type: string | null;
  evidence_type: EvidenceType;
  description: string | null;
  control_ids: Generated<string[]>;
  extracted_text: string | null;
  embedding: Vector | null;
  uploaded_by: string | null;
  created_at: Generated<Timestamp>;
}

export interface NotificationsTable {
  id: Generated<string>;
  organization_id: string;
  user_id: string;
  notification_type: NotificationType;
  title: string;
  message: string;
  entity_type: string | null;
  entity_id: string | null;
  action_url: string | null;
  channel: Generated<NotificationChannel>;
  is_read: Generated<boolean>;
  read_at: Timestamp | null;
  delivery_status: Generated<DeliveryStatus>;
  delivered_at: Timestamp | null;
  delivery_error: string | null;
  created_at: Generated<Timestamp>;
}

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  organization_type: OrganizationType;
  cage_code: string | null;
  duns_number: string | null;
  uei: string | null;
  address: string | null;
  city: string | null;
  state: string | null;
  zip_code: string | null;
  country: Generated<string>;
  phone: string | null;
  website: string | null;
  target_cmmc_level: Generated<number>;
  status: Generated<OrganizationStatus>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface PoamItemsTable {
  id: Generated<string>;
  organization_id: string;
  assessment_id: string;
  control_id: string;
  finding_id: string | null;
  title: string;
  weakness_description: string;
  remediation_plan: string | null;
  milestones: Generated<Json>;
  risk_level: Generated<RiskLevel>;
  status: Generated<PoamStatus>;
  owner_id: string | null;
  resources_required: string | null;
  estimated_cost: Numeric | null;
  due_date: Timestamp | null;
  completion_date: Timestamp | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface ProviderInheritanceTable {
  id: Generated<string>;
  provider: CloudProvider;
  control_id: string;
  inheritance_type: InheritanceType;
  provider_responsibility: string | null;
  customer_responsibility: string;
  source: Generated<string>;
  verified: Generated<boolean>;
  notes: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface SystemConfigTable {
  key: string;
  value: Json;
  description: string | null;
  is_secret: Generated<boolean>;
  updated_by: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface UsersTable {
  id: Generated<string>;
  organization_id: string;
  email: string;
  password_hash: string;
  full_name: string;
  role: Generated<UserRole>;
  status: Generated<UserStatus>;
  phone: string | null;
  job_title: string | null;
  email_verified: Generated<boolean>;
  last_login: Timestamp | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

/** v_assessment_progress: one row per assessment (read-only). */
export interface AssessmentProgressView {
  assessment_id: string;
  organization_id: string;
  name: string;
  assessment_type: AssessmentType;
  target_level: number;
  status: AssessmentStatus;
  start_date: Date | null;
  end_date: Date | null;
  findings_total: number;
  findings_not_started: number;
  findings_in_progress: number;
  findings_met: number;
  findings_not_met: number;
  findings_not_applicable: number;
  /** Share of findings decided (Met, Not Met or Not Applicable), 0 to 100. */
  completion_percentage: string;
  /** Met / (Met + Not Met) × 100; null while nothing is decided. */
  compliance_percentage: string | null;
  evidence_count: number;
  open_poam_items: number;
}

/** v_organization_compliance_by_domain: one row per organization and domain of its latest assessment. */
export interface OrganizationComplianceByDomainView {
  organization_id: string;
  assessment_id: string;
  domain: CmmcDomain;
  controls_total: number;
  controls_met: number;
  controls_not_met: number;
  controls_not_applicable: number;
  controls_pending: number;
  /** Met / (all but Not Applicable) × 100; null when every control is Not Applicable. */
  compliance_percentage: string | null;
}

export interface Database {
  ai_analysis_results: AiAnalysisResultsTable;
  assessments: AssessmentsTable;
  audit_logs: AuditLogsTable;
  cmmc_controls: CmmcControlsTable;
  comments: CommentsTable;
  control_findings: ControlFindingsTable;
  document_chunks: DocumentChunksTable;
  documents: DocumentsTable;
  evidence: EvidenceTable;
  notifications: NotificationsTable;
  organizations: OrganizationsTable;
  poam_items: PoamItemsTable;
  provider_inheritance: ProviderInheritanceTable;
  system_config: SystemConfigTable;
  users: UsersTable;
  v_assessment_progress: AssessmentProgressView;
  v_organization_compliance_by_domain: OrganizationComplianceByDomainView;
}

/** The names of the platform's views (the other keys of Database are tables). */
export const VIEW_NAMES = ['v_assessment_progress', 'v_organization_compliance_by_domain'] as const;

/** PostgreSQL type names (pg_type.typname, as information_schema.columns.udt_name) allowed for a TypeScript type. */
type PgTypeOf<S> = [S] extends [Date]
  ? 'date' | 'timestamptz'
  : [S] extends [number]
    ? 'int4'
    : [S] extends [boolean]
      ? 'bool'
      : [S] extends [unknown[]]
        ? '_text' | '_uuid'
        : [S] extends [string]
          ? 'inet' | 'int8' | 'numeric' | 'text' | 'uuid' | 'varchar' | 'vector'
          : 'jsonb';

/** "<udt_name> null" or "<udt_name> not null", derived from the column's TypeScript type. */
type ColumnSpec<T> = `${PgTypeOf<NonNullable<SelectType<T>>>} ${null extends SelectType<T> ? 'null' : 'not null'}`;

/** Every relation of Database mapped to every one of its columns. */
export type SchemaColumnMap = { [R in keyof Database]: { [C in keyof Database[R]]-?: ColumnSpec<Database[R][C]> } };

/**
 * The schema as data: for each table and view, each column's PostgreSQL type (udt_name) and
 * nullability. Type-checked against the interfaces above; compared with a migrated database by the
 * tests. View columns are all nullable in information_schema, so only their types are compared.
 */
export const SCHEMA_COLUMNS: SchemaColumnMap = {
  ai_analysis_results: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    assessment_id: 'uuid null',
    analysis_type: 'varchar not null',
    entity_type: 'varchar null',
    entity_id: 'uuid null',
    control_id: 'varchar null',
    model_provider: 'varchar not null',
    model_name: 'varchar not null',
    prompt_version: 'varchar null',
    input: 'jsonb null',
    output: 'jsonb null',
    confidence_score: 'numeric null',
    input_tokens: 'int4 null',
    output_tokens: 'int4 null',
    cost_usd: 'numeric null',
    duration_ms: 'int4 null',
    status: 'varchar not null',
    error_message: 'text null',
    requested_by: 'uuid null',
    created_at: 'timestamptz not null',
    completed_at: 'timestamptz null',
  },
  assessments: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    name: 'varchar not null',
    assessment_type: 'varchar not null',
    target_level: 'int4 not null',
    status: 'varchar not null',
    scope_domains: '_text not null',
    scope_cloud_providers: '_text not null',
    start_date: 'date null',
    end_date: 'date null',
    lead_assessor_id: 'uuid null',
    total_controls: 'int4 not null',
    controls_met: 'int4 not null',
    completion_percentage: 'numeric not null',
    created_at: 'timestamptz not null',
  },
  audit_logs: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    user_id: 'uuid null',
    user_email: 'varchar null',
    action: 'varchar not null',
    entity_type: 'varchar not null',
    entity_id: 'varchar null',
    changes: 'jsonb not null',
    ip_address: 'inet null',
    user_agent: 'text null',
    request_id: 'varchar null',
    created_at: 'timestamptz not null',
  },
  cmmc_controls: {
    id: 'varchar not null',
    level: 'int4 not null',
    domain: 'varchar not null',
    practice_id: 'varchar not null',
    title: 'varchar not null',
    objective: 'text not null',
    discussion: 'text null',
    nist_control_id: 'varchar not null',
    assessment_objectives: '_text not null',
    examine_items: '_text not null',
    interview_items: '_text not null',
    test_items: '_text not null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  comments: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    assessment_id: 'uuid null',
    finding_id: 'uuid null',
    evidence_id: 'uuid null',
    poam_item_id: 'uuid null',
    parent_id: 'uuid null',
    author_id: 'uuid null',
    body: 'text not null',
    mentions: '_uuid not null',
    is_resolved: 'bool not null',
    edited_at: 'timestamptz null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  control_findings: {
    id: 'uuid not null',
    assessment_id: 'uuid not null',
    organization_id: 'uuid not null',
    control_id: 'varchar not null',
    status: 'varchar not null',
    implementation_narrative: 'text null',
    evidence_ids: '_uuid not null',
    ai_generated_narrative: 'text null',
    ai_confidence_score: 'numeric null',
    uses_provider_inheritance: 'bool not null',
    risk_level: 'varchar null',
    created_at: 'timestamptz not null',
  },
  document_chunks: {
    id: 'uuid not null',
    document_id: 'uuid not null',
    organization_id: 'uuid not null',
    chunk_index: 'int4 not null',
    content: 'text not null',
    heading: 'varchar null',
    token_count: 'int4 null',
    char_start: 'int4 null',
    char_end: 'int4 null',
    embedding: 'vector null',
    embedding_model: 'varchar null',
    metadata: 'jsonb not null',
    created_at: 'timestamptz not null',
  },
  documents: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    title: 'varchar not null',
    document_type: 'varchar not null',
    version: 'varchar not null',
    status: 'varchar not null',
    file_name: 'varchar null',
    file_path: 'text null',
    mime_type: 'varchar null',
    file_size_bytes: 'int8 null',
    content: 'text null',
    content_hash: 'varchar null',
    control_ids: '_text not null',
    owner_id: 'uuid null',
    approved_by: 'uuid null',
    approved_at: 'timestamptz null',
    effective_date: 'date null',
    next_review_date: 'date null',
    embedding: 'vector null',
    embedding_model: 'varchar null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  evidence: {
    id: 'uuid not null',
    assessment_id: 'uuid null',
    organization_id: 'uuid not null',
    file_name: 'varchar not null',
    file_path: 'text not null',
    file_size_bytes: 'int8 null',
    mime_type: 'varchar null',
    evidence_type: 'varchar not null',
    description: 'text null',
    control_ids: '_text not null',
    extracted_text: 'text null',
    embedding: 'vector null',
    uploaded_by: 'uuid null',
    created_at: 'timestamptz not null',
  },
  notifications: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    user_id: 'uuid not null',
    notification_type: 'varchar not null',
    title: 'varchar not null',
    message: 'text not null',
    entity_type: 'varchar null',
    entity_id: 'uuid null',
    action_url: 'text null',
    channel: 'varchar not null',
    is_read: 'bool not null',
    read_at: 'timestamptz null',
    delivery_status: 'varchar not null',
    delivered_at: 'timestamptz null',
    delivery_error: 'text null',
    created_at: 'timestamptz not null',
  },
  organizations: {
    id: 'uuid not null',
    name: 'varchar not null',
    organization_type: 'varchar not null',
    cage_code: 'varchar null',
    duns_number: 'varchar null',
    uei: 'varchar null',
    address: 'text null',
    city: 'varchar null',
    state: 'varchar null',
    zip_code: 'varchar null',
    country: 'varchar not null',
    phone: 'varchar null',
    website: 'varchar null',
    target_cmmc_level: 'int4 not null',
    status: 'varchar not null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  poam_items: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    assessment_id: 'uuid not null',
    control_id: 'varchar not null',
    finding_id: 'uuid null',
    title: 'varchar not null',
    weakness_description: 'text not null',
    remediation_plan: 'text null',
    milestones: 'jsonb not null',
    risk_level: 'varchar not null',
    status: 'varchar not null',
    owner_id: 'uuid null',
    resources_required: 'text null',
    estimated_cost: 'numeric null',
    due_date: 'date null',
    completion_date: 'date null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  provider_inheritance: {
    id: 'uuid not null',
    provider: 'varchar not null',
    control_id: 'varchar not null',
    inheritance_type: 'varchar not null',
    provider_responsibility: 'text null',
    customer_responsibility: 'text not null',
    source: 'text not null',
    verified: 'bool not null',
    notes: 'text null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  system_config: {
    key: 'varchar not null',
    value: 'jsonb not null',
    description: 'text null',
    is_secret: 'bool not null',
    updated_by: 'uuid null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  users: {
    id: 'uuid not null',
    organization_id: 'uuid not null',
    email: 'varchar not null',
    password_hash: 'varchar not null',
    full_name: 'varchar not null',
    role: 'varchar not null',
    status: 'varchar not null',
    phone: 'varchar null',
    job_title: 'varchar null',
    email_verified: 'bool not null',
    last_login: 'timestamptz null',
    created_at: 'timestamptz not null',
    updated_at: 'timestamptz not null',
  },
  v_assessment_progress: {
    assessment_id: 'uuid not null',
    organization_id: 'uuid not null',
    name: 'varchar not null',
    assessment_type: 'varchar not null',
    target_level: 'int4 not null',
    status: 'varchar not null',
    start_date: 'date null',
    end_date: 'date null',
    findings_total: 'int4 not null',
    findings_not_started: 'int4 not null',
    findings_in_progress: 'int4 not null',
    findings_met: 'int4 not null',
    findings_not_met: 'int4 not null',
    findings_not_applicable: 'int4 not null',
    completion_percentage: 'numeric not null',
    compliance_percentage: 'numeric null',
    evidence_count: 'int4 not null',
    open_poam_items: 'int4 not null',
  },
  v_organization_compliance_by_domain: {
    organization_id: 'uuid not null',
    assessment_id: 'uuid not null',
    domain: 'varchar not null',
    controls_total: 'int4 not null',
    controls_met: 'int4 not null',
    controls_not_met: 'int4 not null',
    controls_not_applicable: 'int4 not null',
    controls_pending: 'int4 not null',
    compliance_percentage: 'numeric null',
  },
};
