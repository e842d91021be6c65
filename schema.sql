-- The CMMC platform schema at the migrations' head, written by `cmmc-db schema dump`.
--
-- CI fails when this file differs from what the migrations build (`cmmc-db schema dump --check`).
-- To change the schema: edit this file, run `cmmc-db revision --autogenerate -m "what changed"`,
-- review the revision it writes in migrations/, then run `cmmc-db schema dump` again.

--
-- Name: uuid-ossp; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;

--
-- Name: EXTENSION "uuid-ossp"; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION "uuid-ossp" IS 'generate universally unique identifiers (UUIDs)';

--
-- Name: vector; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

--
-- Name: EXTENSION vector; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

--
-- Name: delete_assessment(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.delete_assessment(assessment uuid, organization uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    BEGIN
      UPDATE evidence SET assessment_id = NULL WHERE organization_id = organization AND assessment_id = assessment;
      UPDATE ai_analysis_results SET assessment_id = NULL WHERE organization_id = organization AND assessment_id = assessment;
      UPDATE poam_items p SET finding_id = NULL
        FROM control_findings f
       WHERE p.organization_id = organization AND f.organization_id = organization
         AND f.assessment_id = assessment AND p.finding_id = f.id AND p.assessment_id <> assessment;
      DELETE FROM assessments WHERE organization_id = organization AND id = assessment;
      RETURN FOUND;
    END
    $$;

--
-- Name: FUNCTION delete_assessment(assessment uuid, organization uuid); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.delete_assessment(assessment uuid, organization uuid) IS 'Deletes an assessment: its findings, POA&M items and comments go, its evidence and AI results stay with assessment_id cleared (docs/schema.md).';

--
-- Name: delete_control_finding(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.delete_control_finding(finding uuid, organization uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    BEGIN
      UPDATE poam_items SET finding_id = NULL WHERE organization_id = organization AND finding_id = finding;
      DELETE FROM control_findings WHERE organization_id = organization AND id = finding;
      RETURN FOUND;
    END
    $$;

--
-- Name: FUNCTION delete_control_finding(finding uuid, organization uuid); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.delete_control_finding(finding uuid, organization uuid) IS 'Deletes a control finding: its POA&M items stay with finding_id cleared, its comments go (docs/schema.md).';

--
-- Name: set_audit_logs_created_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_audit_logs_created_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    BEGIN
      IF row_security_active(TG_RELID) THEN
        NEW.created_at := now();
      END IF;
      RETURN NEW;
    END
    $$;

--
-- Name: FUNCTION set_audit_logs_created_at(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.set_audit_logs_created_at() IS 'Gives an audit event the server''s time when row-level security binds its writer (docs/schema.md, audit_logs).';

--
-- Name: set_updated_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
    BEGIN
      NEW.updated_at := now();
      RETURN NEW;
    END
    $$;

--
-- Name: ai_analysis_results; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ai_analysis_results (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    assessment_id uuid,
    analysis_type character varying(40) NOT NULL,
    entity_type character varying(30),
    entity_id uuid,
    control_id character varying(20),
    model_provider character varying(50) NOT NULL,
    model_name character varying(100) NOT NULL,
    prompt_version character varying(50),
    input jsonb,
    output jsonb,
    confidence_score numeric(3,2),
    input_tokens integer,
    output_tokens integer,
    cost_usd numeric(12,6),
    duration_ms integer,
    status character varying(20) DEFAULT 'Pending'::character varying NOT NULL,
    error_message text,
    requested_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    CONSTRAINT ai_analysis_results_analysis_type_check CHECK (((analysis_type)::text = ANY ((ARRAY['narrative_generation'::character varying, 'evidence_analysis'::character varying, 'gap_analysis'::character varying, 'control_mapping'::character varying, 'document_summary'::character varying, 'embedding'::character varying, 'risk_assessment'::character varying, 'chat'::character varying])::text[]))),
    CONSTRAINT ai_analysis_results_confidence_score_check CHECK (((confidence_score >= (0)::numeric) AND (confidence_score <= (1)::numeric))),
    CONSTRAINT ai_analysis_results_cost_usd_check CHECK ((cost_usd >= (0)::numeric)),
    CONSTRAINT ai_analysis_results_duration_ms_check CHECK ((duration_ms >= 0)),
    CONSTRAINT ai_analysis_results_entity_check CHECK (((entity_type IS NULL) = (entity_id IS NULL))),
    CONSTRAINT ai_analysis_results_entity_type_check CHECK (((entity_type)::text = ANY ((ARRAY['assessment'::character varying, 'control_finding'::character varying, 'evidence'::character varying, 'document'::character varying, 'document_chunk'::character varying, 'poam_item'::character varying])::text[]))),
    CONSTRAINT ai_analysis_results_error_check CHECK ((((status)::text <> 'Failed'::text) OR (error_message IS NOT NULL))),
    CONSTRAINT ai_analysis_results_input_tokens_check CHECK ((input_tokens >= 0)),
    CONSTRAINT ai_analysis_results_output_tokens_check CHECK ((output_tokens >= 0)),
    CONSTRAINT ai_analysis_results_status_check CHECK (((status)::text = ANY ((ARRAY['Pending'::character varying, 'Running'::character varying, 'Completed'::character varying, 'Failed'::character varying, 'Cancelled'::character varying])::text[])))
);

ALTER TABLE ONLY public.ai_analysis_results FORCE ROW LEVEL SECURITY;

--
-- Name: assessments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.assessments (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    name character varying(255) NOT NULL,
    assessment_type character varying(20) NOT NULL,
    target_level integer DEFAULT 2 NOT NULL,
    status character varying(20) DEFAULT 'Draft'::character varying NOT NULL,
    scope_domains text[] DEFAULT '{}'::text[] NOT NULL,
    scope_cloud_providers text[] DEFAULT '{}'::text[] NOT NULL,
    start_date date,
    end_date date,
    lead_assessor_id uuid,
    total_controls integer DEFAULT 0 NOT NULL,
    controls_met integer DEFAULT 0 NOT NULL,
    completion_percentage numeric(5,2) DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT assessments_assessment_type_check CHECK (((assessment_type)::text = ANY ((ARRAY['CMMC_L1'::character varying, 'CMMC_L2'::character varying, 'CMMC_L3'::character varying])::text[]))),
    CONSTRAINT assessments_completion_percentage_check CHECK (((completion_percentage >= (0)::numeric) AND (completion_percentage <= (100)::numeric))),
    CONSTRAINT assessments_controls_met_check CHECK ((controls_met >= 0)),
    CONSTRAINT assessments_controls_met_total_check CHECK ((controls_met <= total_controls)),
    CONSTRAINT assessments_dates_check CHECK (((end_date IS NULL) OR (start_date IS NULL) OR (end_date >= start_date))),
    CONSTRAINT assessments_scope_cloud_providers_check CHECK ((scope_cloud_providers <@ ARRAY['M365_GCC_HIGH'::text, 'AZURE_GOVERNMENT'::text, 'AWS_GOVCLOUD'::text])),
    CONSTRAINT assessments_scope_domains_check CHECK ((scope_domains <@ ARRAY['AC'::text, 'AT'::text, 'AU'::text, 'CA'::text, 'CM'::text, 'IA'::text, 'IR'::text, 'MA'::text, 'MP'::text, 'PE'::text, 'PS'::text, 'RA'::text, 'SC'::text, 'SI'::text])),
    CONSTRAINT assessments_status_check CHECK (((status)::text = ANY ((ARRAY['Draft'::character varying, 'In Progress'::character varying, 'Under Review'::character varying, 'Remediation'::character varying, 'Completed'::character varying, 'Archived'::character varying])::text[]))),
    CONSTRAINT assessments_target_level_check CHECK ((target_level = ANY (ARRAY[1, 2, 3]))),
    CONSTRAINT assessments_total_controls_check CHECK ((total_controls >= 0))
);

ALTER TABLE ONLY public.assessments FORCE ROW LEVEL SECURITY;

--
-- Name: audit_logs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    user_id uuid,
    user_email character varying(255),
    action character varying(20) NOT NULL,
    entity_type character varying(50) NOT NULL,
    entity_id character varying(100),
    changes jsonb DEFAULT '{}'::jsonb NOT NULL,
    ip_address inet,
    user_agent text,
    request_id character varying(100),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT audit_logs_action_check CHECK (((action)::text = ANY ((ARRAY['INSERT'::character varying, 'UPDATE'::character varying, 'DELETE'::character varying, 'LOGIN'::character varying, 'LOGOUT'::character varying, 'LOGIN_FAILED'::character varying, 'EXPORT'::character varying, 'VIEW'::character varying, 'APPROVE'::character varying, 'AI_ANALYSIS'::character varying])::text[]))),
    CONSTRAINT audit_logs_changes_check CHECK ((jsonb_typeof(changes) = 'object'::text))
);

ALTER TABLE ONLY public.audit_logs FORCE ROW LEVEL SECURITY;

--
-- Name: COLUMN audit_logs.organization_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.audit_logs.organization_id IS 'The tenant of the event; 00000000-0000-0000-0000-000000000000 (the nil UUID) for events with no tenant (docs/scale-out.md).';

--
-- Name: cmmc_controls; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cmmc_controls (
    id character varying(20) NOT NULL,
    level integer NOT NULL,
    domain character varying(2) NOT NULL,
    practice_id character varying(20) NOT NULL,
    title character varying(500) NOT NULL,
    objective text NOT NULL,
    discussion text,
    nist_control_id character varying(20) NOT NULL,
    assessment_objectives text[] DEFAULT '{}'::text[] NOT NULL,
    examine_items text[] DEFAULT '{}'::text[] NOT NULL,
    interview_items text[] DEFAULT '{}'::text[] NOT NULL,
    test_items text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT cmmc_controls_domain_check CHECK (((domain)::text = ANY ((ARRAY['AC'::character varying, 'AT'::character varying, 'AU'::character varying, 'CA'::character varying, 'CM'::character varying, 'IA'::character varying, 'IR'::character varying, 'MA'::character varying, 'MP'::character varying, 'PE'::character varying, 'PS'::character varying, 'RA'::character varying, 'SC'::character varying, 'SI'::character varying])::text[]))),
    CONSTRAINT cmmc_controls_level_check CHECK ((level = ANY (ARRAY[1, 2, 3])))
);

--
-- Name: comments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.comments (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    assessment_id uuid,
    finding_id uuid,
    evidence_id uuid,
    poam_item_id uuid,
    parent_id uuid,
    author_id uuid,
    body text NOT NULL,
    mentions uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    is_resolved boolean DEFAULT false NOT NULL,
    edited_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT comments_body_check CHECK ((length(btrim(body)) > 0)),
    CONSTRAINT comments_one_subject_check CHECK ((num_nonnulls(assessment_id, finding_id, evidence_id, poam_item_id) = 1)),
    CONSTRAINT comments_parent_check CHECK (((parent_id IS NULL) OR (parent_id <> id)))
);

ALTER TABLE ONLY public.comments FORCE ROW LEVEL SECURITY;

--
-- Name: control_findings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.control_findings (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    assessment_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    control_id character varying(20) NOT NULL,
    status character varying(20) DEFAULT 'Not Started'::character varying NOT NULL,
    implementation_narrative text,
    evidence_ids uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    ai_generated_narrative text,
    ai_confidence_score numeric(3,2),
    uses_provider_inheritance boolean DEFAULT false NOT NULL,
    risk_level character varying(20),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT control_findings_ai_confidence_score_check CHECK (((ai_confidence_score >= (0)::numeric) AND (ai_confidence_score <= (1)::numeric))),
    CONSTRAINT control_findings_risk_level_check CHECK (((risk_level)::text = ANY ((ARRAY['Low'::character varying, 'Medium'::character varying, 'High'::character varying, 'Critical'::character varying])::text[]))),
    CONSTRAINT control_findings_status_check CHECK (((status)::text = ANY ((ARRAY['Not Started'::character varying, 'In Progress'::character varying, 'Met'::character varying, 'Not Met'::character varying, 'Not Applicable'::character varying])::text[])))
);

ALTER TABLE ONLY public.control_findings FORCE ROW LEVEL SECURITY;

--
-- Name: document_chunks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.document_chunks (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    document_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    chunk_index integer NOT NULL,
    content text NOT NULL,
    heading character varying(500),
    token_count integer,
    char_start integer,
    char_end integer,
    embedding public.vector(3072),
    embedding_model character varying(100),
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT document_chunks_char_start_check CHECK ((char_start >= 0)),
    CONSTRAINT document_chunks_chunk_index_check CHECK ((chunk_index >= 0)),
    CONSTRAINT document_chunks_offsets_check CHECK (((char_end IS NULL) OR (char_start IS NULL) OR (char_end >= char_start))),
    CONSTRAINT document_chunks_token_count_check CHECK ((token_count >= 0))
);

ALTER TABLE ONLY public.document_chunks FORCE ROW LEVEL SECURITY;

--
-- Name: documents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    title character varying(500) NOT NULL,
    document_type character varying(30) NOT NULL,
    version character varying(50) DEFAULT '1.0'::character varying NOT NULL,
    status character varying(20) DEFAULT 'Draft'::character varying NOT NULL,
    file_name character varying(500),
    file_path text,
    mime_type character varying(255),
    file_size_bytes bigint,
    content text,
    content_hash character varying(64),
    control_ids text[] DEFAULT '{}'::text[] NOT NULL,
    owner_id uuid,
    approved_by uuid,
    approved_at timestamp with time zone,
    effective_date date,
    next_review_date date,
    embedding public.vector(3072),
    embedding_model character varying(100),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT documents_approval_check CHECK ((((status)::text <> 'Approved'::text) OR (approved_at IS NOT NULL))),
    CONSTRAINT documents_document_type_check CHECK (((document_type)::text = ANY ((ARRAY['Policy'::character varying, 'Procedure'::character varying, 'Standard'::character varying, 'Plan'::character varying, 'SSP'::character varying, 'Guideline'::character varying, 'Other'::character varying])::text[]))),
    CONSTRAINT documents_file_size_bytes_check CHECK ((file_size_bytes >= 0)),
    CONSTRAINT documents_status_check CHECK (((status)::text = ANY ((ARRAY['Draft'::character varying, 'Under Review'::character varying, 'Approved'::character varying, 'Archived'::character varying])::text[])))
);

ALTER TABLE ONLY public.documents FORCE ROW LEVEL SECURITY;

--
-- Name: evidence; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.evidence (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    assessment_id uuid,
    organization_id uuid NOT NULL,
    file_name character varying(500) NOT NULL,
    file_path text NOT NULL,
    file_size_bytes bigint,
    mime_type character varying(255),
    evidence_type character varying(30) NOT NULL,
    description text,
    control_ids text[] DEFAULT '{}'::text[] NOT NULL,
    extracted_text text,
    embedding public.vector(3072),
    uploaded_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT evidence_evidence_type_check CHECK (((evidence_type)::text = ANY ((ARRAY['Policy'::character varying, 'Procedure'::character varying, 'Screenshot'::character varying, 'Configuration'::character varying, 'Log'::character varying, 'Report'::character varying, 'Diagram'::character varying, 'Interview'::character varying, 'Other'::character varying])::text[]))),
    CONSTRAINT evidence_file_size_bytes_check CHECK ((file_size_bytes >= 0))
);

ALTER TABLE ONLY public.evidence FORCE ROW LEVEL SECURITY;

--
-- Name: notifications; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notifications (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    notification_type character varying(30) NOT NULL,
    title character varying(255) NOT NULL,
    message text NOT NULL,
    entity_type character varying(30),
    entity_id uuid,
    action_url text,
    channel character varying(10) DEFAULT 'in_app'::character varying NOT NULL,
    is_read boolean DEFAULT false NOT NULL,
    read_at timestamp with time zone,
    delivery_status character varying(20) DEFAULT 'Pending'::character varying NOT NULL,
    delivered_at timestamp with time zone,
    delivery_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT notifications_channel_check CHECK (((channel)::text = ANY ((ARRAY['in_app'::character varying, 'email'::character varying, 'both'::character varying])::text[]))),
    CONSTRAINT notifications_delivery_status_check CHECK (((delivery_status)::text = ANY ((ARRAY['Pending'::character varying, 'Sent'::character varying, 'Delivered'::character varying, 'Failed'::character varying, 'Skipped'::character varying])::text[]))),
    CONSTRAINT notifications_notification_type_check CHECK (((notification_type)::text = ANY ((ARRAY['mention'::character varying, 'comment_reply'::character varying, 'assignment'::character varying, 'status_change'::character varying, 'due_date'::character varying, 'poam_overdue'::character varying, 'assessment_complete'::character varying, 'ai_analysis_complete'::character varying, 'system'::character varying])::text[]))),
    CONSTRAINT notifications_read_check CHECK ((is_read = (read_at IS NOT NULL)))
);

ALTER TABLE ONLY public.notifications FORCE ROW LEVEL SECURITY;

--
-- Name: organizations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.organizations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name character varying(255) NOT NULL,
    organization_type character varying(20) NOT NULL,
    cage_code character varying(5),
    duns_number character varying(13),
    uei character varying(12),
    address text,
    city character varying(100),
    state character varying(50),
    zip_code character varying(20),
    country character varying(100) DEFAULT 'USA'::character varying NOT NULL,
    phone character varying(50),
    website character varying(255),
    target_cmmc_level integer DEFAULT 2 NOT NULL,
    status character varying(20) DEFAULT 'Trial'::character varying NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT organizations_id_not_nil CHECK ((id <> '00000000-0000-0000-0000-000000000000'::uuid)),
    CONSTRAINT organizations_organization_type_check CHECK (((organization_type)::text = ANY ((ARRAY['Enterprise'::character varying, 'SMB'::character varying, 'Consultant'::character varying, 'C3PAO'::character varying])::text[]))),
    CONSTRAINT organizations_status_check CHECK (((status)::text = ANY ((ARRAY['Active'::character varying, 'Trial'::character varying, 'Suspended'::character varying, 'Inactive'::character varying])::text[]))),
    CONSTRAINT organizations_target_cmmc_level_check CHECK ((target_cmmc_level = ANY (ARRAY[1, 2, 3])))
);

ALTER TABLE ONLY public.organizations FORCE ROW LEVEL SECURITY;

--
-- Name: poam_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.poam_items (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    assessment_id uuid NOT NULL,
    control_id character varying(20) NOT NULL,
    finding_id uuid,
    title character varying(500) NOT NULL,
    weakness_description text NOT NULL,
    remediation_plan text,
    milestones jsonb DEFAULT '[]'::jsonb NOT NULL,
    risk_level character varying(20) DEFAULT 'Medium'::character varying NOT NULL,
    status character varying(20) DEFAULT 'Open'::character varying NOT NULL,
    owner_id uuid,
    resources_required text,
    estimated_cost numeric(12,2),
    due_date date,
    completion_date date,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT poam_items_completion_check CHECK ((((status)::text = 'Completed'::text) = (completion_date IS NOT NULL))),
    CONSTRAINT poam_items_estimated_cost_check CHECK ((estimated_cost >= (0)::numeric)),
    CONSTRAINT poam_items_milestones_check CHECK ((jsonb_typeof(milestones) = 'array'::text)),
    CONSTRAINT poam_items_risk_level_check CHECK (((risk_level)::text = ANY ((ARRAY['Low'::character varying, 'Medium'::character varying, 'High'::character varying, 'Critical'::character varying])::text[]))),
    CONSTRAINT poam_items_status_check CHECK (((status)::text = ANY ((ARRAY['Open'::character varying, 'In Progress'::character varying, 'Delayed'::character varying, 'Completed'::character varying, 'Risk Accepted'::character varying])::text[])))
);

ALTER TABLE ONLY public.poam_items FORCE ROW LEVEL SECURITY;

--
-- Name: provider_inheritance; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.provider_inheritance (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    provider character varying(30) NOT NULL,
    control_id character varying(20) NOT NULL,
    inheritance_type character varying(20) NOT NULL,
    provider_responsibility text,
    customer_responsibility text NOT NULL,
    source text DEFAULT 'cmmc-db guidance'::text NOT NULL,
    verified boolean DEFAULT false NOT NULL,
    notes text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT provider_inheritance_inheritance_type_check CHECK (((inheritance_type)::text = ANY ((ARRAY['Inherited'::character varying, 'Shared'::character varying, 'Customer'::character varying])::text[]))),
    CONSTRAINT provider_inheritance_provider_check CHECK (((provider)::text = ANY ((ARRAY['M365_GCC_HIGH'::character varying, 'AZURE_GOVERNMENT'::character varying, 'AWS_GOVCLOUD'::character varying])::text[])))
);

--
-- Name: system_config; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.system_config (
    key character varying(100) NOT NULL,
    value jsonb NOT NULL,
    description text,
    is_secret boolean DEFAULT false NOT NULL,
    updated_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT system_config_key_check CHECK (((key)::text ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$'::text))
);

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    email character varying(255) NOT NULL,
    password_hash character varying(255) NOT NULL,
    full_name character varying(255) NOT NULL,
    role character varying(20) DEFAULT 'Viewer'::character varying NOT NULL,
    status character varying(20) DEFAULT 'Pending'::character varying NOT NULL,
    phone character varying(50),
    job_title character varying(255),
    email_verified boolean DEFAULT false NOT NULL,
    last_login timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_email_check CHECK ((((email)::text = lower((email)::text)) AND ((email)::text ~ '^[^@[:space:]]+@[^@[:space:]]+$'::text))),
    CONSTRAINT users_role_check CHECK (((role)::text = ANY ((ARRAY['Admin'::character varying, 'Assessor'::character varying, 'Auditor'::character varying, 'Viewer'::character varying])::text[]))),
    CONSTRAINT users_status_check CHECK (((status)::text = ANY ((ARRAY['Active'::character varying, 'Pending'::character varying, 'Suspended'::character varying, 'Inactive'::character varying])::text[])))
);

ALTER TABLE ONLY public.users FORCE ROW LEVEL SECURITY;

--
-- Name: v_assessment_progress; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.v_assessment_progress WITH (security_invoker='true') AS
 SELECT a.id AS assessment_id,
    a.organization_id,
    a.name,
    a.assessment_type,
    a.target_level,
    a.status,
    a.start_date,
    a.end_date,
    (COALESCE(f.total, (0)::bigint))::integer AS findings_total,
    (COALESCE(f.not_started, (0)::bigint))::integer AS findings_not_started,
    (COALESCE(f.in_progress, (0)::bigint))::integer AS findings_in_progress,
    (COALESCE(f.met, (0)::bigint))::integer AS findings_met,
    (COALESCE(f.not_met, (0)::bigint))::integer AS findings_not_met,
    (COALESCE(f.not_applicable, (0)::bigint))::integer AS findings_not_applicable,
    (COALESCE(round(((100.0 * (((f.met + f.not_met) + f.not_applicable))::numeric) / (NULLIF(f.total, 0))::numeric), 2), (0)::numeric))::numeric(5,2) AS completion_percentage,
    (round(((100.0 * (f.met)::numeric) / (NULLIF((f.met + f.not_met), 0))::numeric), 2))::numeric(5,2) AS compliance_percentage,
    (COALESCE(e.evidence, (0)::bigint))::integer AS evidence_count,
    (COALESCE(p.open_items, (0)::bigint))::integer AS open_poam_items
   FROM (((public.assessments a
     LEFT JOIN ( SELECT control_findings.organization_id,
            control_findings.assessment_id,
            count(*) AS total,
            count(*) FILTER (WHERE ((control_findings.status)::text = 'Not Started'::text)) AS not_started,
            count(*) FILTER (WHERE ((control_findings.status)::text = 'In Progress'::text)) AS in_progress,
            count(*) FILTER (WHERE ((control_findings.status)::text = 'Met'::text)) AS met,
            count(*) FILTER (WHERE ((control_findings.status)::text = 'Not Met'::text)) AS not_met,
            count(*) FILTER (WHERE ((control_findings.status)::text = 'Not Applicable'::text)) AS not_applicable
           FROM public.control_findings
          GROUP BY control_findings.organization_id, control_findings.assessment_id) f ON (((f.organization_id = a.organization_id) AND (f.assessment_id = a.id))))
     LEFT JOIN ( SELECT evidence.organization_id,
            evidence.assessment_id,
            count(*) AS evidence
           FROM public.evidence
          WHERE (evidence.assessment_id IS NOT NULL)
          GROUP BY evidence.organization_id, evidence.assessment_id) e ON (((e.organization_id = a.organization_id) AND (e.assessment_id = a.id))))
     LEFT JOIN ( SELECT poam_items.organization_id,
            poam_items.assessment_id,
            count(*) AS open_items
           FROM public.poam_items
          WHERE ((poam_items.status)::text <> ALL ((ARRAY['Completed'::character varying, 'Risk Accepted'::character varying])::text[]))
          GROUP BY poam_items.organization_id, poam_items.assessment_id) p ON (((p.organization_id = a.organization_id) AND (p.assessment_id = a.id))));

--
-- Name: v_organization_compliance_by_domain; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.v_organization_compliance_by_domain WITH (security_invoker='true') AS
 WITH latest AS (
         SELECT DISTINCT ON (assessments.organization_id) assessments.id,
            assessments.organization_id
           FROM public.assessments
          WHERE ((assessments.status)::text <> 'Archived'::text)
          ORDER BY assessments.organization_id, assessments.created_at DESC, assessments.id
        )
 SELECT l.organization_id,
    l.id AS assessment_id,
    c.domain,
    (count(*))::integer AS controls_total,
    (count(*) FILTER (WHERE ((f.status)::text = 'Met'::text)))::integer AS controls_met,
    (count(*) FILTER (WHERE ((f.status)::text = 'Not Met'::text)))::integer AS controls_not_met,
    (count(*) FILTER (WHERE ((f.status)::text = 'Not Applicable'::text)))::integer AS controls_not_applicable,
    (count(*) FILTER (WHERE ((f.status)::text = ANY ((ARRAY['Not Started'::character varying, 'In Progress'::character varying])::text[]))))::integer AS controls_pending,
    (round(((100.0 * (count(*) FILTER (WHERE ((f.status)::text = 'Met'::text)))::numeric) / (NULLIF(count(*) FILTER (WHERE ((f.status)::text <> 'Not Applicable'::text)), 0))::numeric), 2))::numeric(5,2) AS compliance_percentage
   FROM ((latest l
     JOIN public.control_findings f ON (((f.organization_id = l.organization_id) AND (f.assessment_id = l.id))))
     JOIN public.cmmc_controls c ON (((c.id)::text = (f.control_id)::text)))
  GROUP BY l.organization_id, l.id, c.domain;

--
-- Name: ai_analysis_results ai_analysis_results_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_analysis_results
    ADD CONSTRAINT ai_analysis_results_pkey PRIMARY KEY (id, organization_id);

--
-- Name: assessments assessments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assessments
    ADD CONSTRAINT assessments_pkey PRIMARY KEY (id, organization_id);

--
-- Name: audit_logs audit_logs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_logs
    ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (id, organization_id);

--
-- Name: cmmc_controls cmmc_controls_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cmmc_controls
    ADD CONSTRAINT cmmc_controls_pkey PRIMARY KEY (id);

--
-- Name: comments comments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_pkey PRIMARY KEY (id, organization_id);

--
-- Name: control_findings control_findings_organization_id_assessment_id_control_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.control_findings
    ADD CONSTRAINT control_findings_organization_id_assessment_id_control_id_key UNIQUE (organization_id, assessment_id, control_id);

--
-- Name: control_findings control_findings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.control_findings
    ADD CONSTRAINT control_findings_pkey PRIMARY KEY (id, organization_id);

--
-- Name: document_chunks document_chunks_organization_id_document_id_chunk_index_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_organization_id_document_id_chunk_index_key UNIQUE (organization_id, document_id, chunk_index);

--
-- Name: document_chunks document_chunks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_pkey PRIMARY KEY (id, organization_id);

--
-- Name: documents documents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id, organization_id);

--
-- Name: evidence evidence_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.evidence
    ADD CONSTRAINT evidence_pkey PRIMARY KEY (id, organization_id);

--
-- Name: cmmc_controls idx_controls_nist; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cmmc_controls
    ADD CONSTRAINT idx_controls_nist UNIQUE (nist_control_id);

--
-- Name: notifications notifications_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (id, organization_id);

--
-- Name: organizations organizations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organizations
    ADD CONSTRAINT organizations_pkey PRIMARY KEY (id);

--
-- Name: poam_items poam_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.poam_items
    ADD CONSTRAINT poam_items_pkey PRIMARY KEY (id, organization_id);

--
-- Name: provider_inheritance provider_inheritance_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.provider_inheritance
    ADD CONSTRAINT provider_inheritance_pkey PRIMARY KEY (id);

--
-- Name: provider_inheritance provider_inheritance_provider_control_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.provider_inheritance
    ADD CONSTRAINT provider_inheritance_provider_control_id_key UNIQUE (provider, control_id);

--
-- Name: system_config system_config_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.system_config
    ADD CONSTRAINT system_config_pkey PRIMARY KEY (key);

--
-- Name: users users_id_organization_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_id_organization_id_key UNIQUE (id, organization_id);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: idx_ai_results_analysis_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_analysis_type ON public.ai_analysis_results USING btree (analysis_type);

--
-- Name: idx_ai_results_assessment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_assessment_id ON public.ai_analysis_results USING btree (assessment_id);

--
-- Name: idx_ai_results_control_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_control_id ON public.ai_analysis_results USING btree (control_id);

--
-- Name: idx_ai_results_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_created_at ON public.ai_analysis_results USING btree (created_at DESC);

--
-- Name: idx_ai_results_entity; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_entity ON public.ai_analysis_results USING btree (entity_type, entity_id);

--
-- Name: idx_ai_results_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_organization_id ON public.ai_analysis_results USING btree (organization_id);

--
-- Name: idx_ai_results_requested_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_requested_by ON public.ai_analysis_results USING btree (requested_by);

--
-- Name: idx_ai_results_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_ai_results_status ON public.ai_analysis_results USING btree (status);

--
-- Name: idx_assessments_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_assessments_created_at ON public.assessments USING btree (created_at DESC);

--
-- Name: idx_assessments_lead_assessor_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_assessments_lead_assessor_id ON public.assessments USING btree (lead_assessor_id);

--
-- Name: idx_assessments_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_assessments_organization_id ON public.assessments USING btree (organization_id);

--
-- Name: idx_assessments_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_assessments_status ON public.assessments USING btree (status);

--
-- Name: idx_audit_logs_action; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_logs_action ON public.audit_logs USING btree (action);

--
-- Name: idx_audit_logs_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_logs_created_at ON public.audit_logs USING brin (created_at);

--
-- Name: idx_audit_logs_entity; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_logs_entity ON public.audit_logs USING btree (entity_type, entity_id);

--
-- Name: idx_audit_logs_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_logs_organization_id ON public.audit_logs USING btree (organization_id, created_at DESC);

--
-- Name: idx_audit_logs_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_logs_user_id ON public.audit_logs USING btree (user_id, created_at DESC);

--
-- Name: idx_comments_assessment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_assessment_id ON public.comments USING btree (assessment_id) WHERE (assessment_id IS NOT NULL);

--
-- Name: idx_comments_author_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_author_id ON public.comments USING btree (author_id) WHERE (author_id IS NOT NULL);

--
-- Name: idx_comments_evidence_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_evidence_id ON public.comments USING btree (evidence_id) WHERE (evidence_id IS NOT NULL);

--
-- Name: idx_comments_finding_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_finding_id ON public.comments USING btree (finding_id) WHERE (finding_id IS NOT NULL);

--
-- Name: idx_comments_mentions; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_mentions ON public.comments USING gin (mentions);

--
-- Name: idx_comments_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_organization_id ON public.comments USING btree (organization_id);

--
-- Name: idx_comments_parent_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_parent_id ON public.comments USING btree (parent_id) WHERE (parent_id IS NOT NULL);

--
-- Name: idx_comments_poam_item_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_comments_poam_item_id ON public.comments USING btree (poam_item_id) WHERE (poam_item_id IS NOT NULL);

--
-- Name: idx_controls_domain; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_controls_domain ON public.cmmc_controls USING btree (domain);

--
-- Name: idx_controls_level; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_controls_level ON public.cmmc_controls USING btree (level);

--
-- Name: idx_document_chunks_embedding; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_document_chunks_embedding ON public.document_chunks USING hnsw (((embedding)::public.halfvec(3072)) public.halfvec_cosine_ops);

--
-- Name: idx_documents_approved_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_approved_by ON public.documents USING btree (approved_by);

--
-- Name: idx_documents_control_ids; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_control_ids ON public.documents USING gin (control_ids);

--
-- Name: idx_documents_embedding; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_embedding ON public.documents USING hnsw (((embedding)::public.halfvec(3072)) public.halfvec_cosine_ops);

--
-- Name: idx_documents_next_review_date; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_next_review_date ON public.documents USING btree (next_review_date);

--
-- Name: idx_documents_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_organization_id ON public.documents USING btree (organization_id);

--
-- Name: idx_documents_owner_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_owner_id ON public.documents USING btree (owner_id);

--
-- Name: idx_documents_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_status ON public.documents USING btree (status);

--
-- Name: idx_documents_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_documents_type ON public.documents USING btree (document_type);

--
-- Name: idx_evidence_assessment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_evidence_assessment_id ON public.evidence USING btree (assessment_id);

--
-- Name: idx_evidence_control_ids; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_evidence_control_ids ON public.evidence USING gin (control_ids);

--
-- Name: idx_evidence_embedding; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_evidence_embedding ON public.evidence USING hnsw (((embedding)::public.halfvec(3072)) public.halfvec_cosine_ops);

--
-- Name: idx_evidence_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_evidence_organization_id ON public.evidence USING btree (organization_id);

--
-- Name: idx_evidence_uploaded_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_evidence_uploaded_by ON public.evidence USING btree (uploaded_by);

--
-- Name: idx_findings_assessment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_findings_assessment_id ON public.control_findings USING btree (assessment_id);

--
-- Name: idx_findings_control_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_findings_control_id ON public.control_findings USING btree (control_id);

--
-- Name: idx_findings_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_findings_status ON public.control_findings USING btree (status);

--
-- Name: idx_notifications_delivery_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_notifications_delivery_pending ON public.notifications USING btree (created_at) WHERE ((delivery_status)::text = 'Pending'::text);

--
-- Name: idx_notifications_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_notifications_organization_id ON public.notifications USING btree (organization_id);

--
-- Name: idx_notifications_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_notifications_user_id ON public.notifications USING btree (user_id, created_at DESC);

--
-- Name: idx_notifications_user_unread; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_notifications_user_unread ON public.notifications USING btree (user_id, created_at DESC) WHERE (is_read = false);

--
-- Name: idx_organizations_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_organizations_status ON public.organizations USING btree (status);

--
-- Name: idx_organizations_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_organizations_type ON public.organizations USING btree (organization_type);

--
-- Name: idx_poam_items_assessment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_assessment_id ON public.poam_items USING btree (assessment_id);

--
-- Name: idx_poam_items_control_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_control_id ON public.poam_items USING btree (control_id);

--
-- Name: idx_poam_items_due_date; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_due_date ON public.poam_items USING btree (due_date) WHERE ((status)::text <> ALL ((ARRAY['Completed'::character varying, 'Risk Accepted'::character varying])::text[]));

--
-- Name: idx_poam_items_finding_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_finding_id ON public.poam_items USING btree (finding_id);

--
-- Name: idx_poam_items_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_organization_id ON public.poam_items USING btree (organization_id);

--
-- Name: idx_poam_items_owner_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_owner_id ON public.poam_items USING btree (owner_id);

--
-- Name: idx_poam_items_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_poam_items_status ON public.poam_items USING btree (status);

--
-- Name: idx_provider_inheritance_control_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_provider_inheritance_control_id ON public.provider_inheritance USING btree (control_id);

--
-- Name: idx_provider_inheritance_provider; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_provider_inheritance_provider ON public.provider_inheritance USING btree (provider);

--
-- Name: idx_system_config_updated_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_system_config_updated_by ON public.system_config USING btree (updated_by);

--
-- Name: idx_users_email; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX idx_users_email ON public.users USING btree (email);

--
-- Name: idx_users_organization_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_users_organization_id ON public.users USING btree (organization_id);

--
-- Name: idx_users_role; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_users_role ON public.users USING btree (role);

--
-- Name: idx_users_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_users_status ON public.users USING btree (status);

--
-- Name: audit_logs trg_audit_logs_created_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_audit_logs_created_at BEFORE INSERT ON public.audit_logs FOR EACH ROW EXECUTE FUNCTION public.set_audit_logs_created_at();

--
-- Name: cmmc_controls trg_cmmc_controls_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_cmmc_controls_updated_at BEFORE UPDATE ON public.cmmc_controls FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: comments trg_comments_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_comments_updated_at BEFORE UPDATE ON public.comments FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: documents trg_documents_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_documents_updated_at BEFORE UPDATE ON public.documents FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: organizations trg_organizations_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_organizations_updated_at BEFORE UPDATE ON public.organizations FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: poam_items trg_poam_items_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_poam_items_updated_at BEFORE UPDATE ON public.poam_items FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: provider_inheritance trg_provider_inheritance_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_provider_inheritance_updated_at BEFORE UPDATE ON public.provider_inheritance FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: system_config trg_system_config_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_system_config_updated_at BEFORE UPDATE ON public.system_config FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: users trg_users_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

--
-- Name: ai_analysis_results ai_analysis_results_assessment_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_analysis_results
    ADD CONSTRAINT ai_analysis_results_assessment_fkey FOREIGN KEY (assessment_id, organization_id) REFERENCES public.assessments(id, organization_id);

--
-- Name: ai_analysis_results ai_analysis_results_control_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_analysis_results
    ADD CONSTRAINT ai_analysis_results_control_id_fkey FOREIGN KEY (control_id) REFERENCES public.cmmc_controls(id) ON DELETE SET NULL;

--
-- Name: ai_analysis_results ai_analysis_results_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_analysis_results
    ADD CONSTRAINT ai_analysis_results_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: ai_analysis_results ai_analysis_results_requested_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_analysis_results
    ADD CONSTRAINT ai_analysis_results_requested_by_fkey FOREIGN KEY (requested_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: assessments assessments_lead_assessor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assessments
    ADD CONSTRAINT assessments_lead_assessor_id_fkey FOREIGN KEY (lead_assessor_id) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: assessments assessments_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assessments
    ADD CONSTRAINT assessments_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: comments comments_assessment_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_assessment_fkey FOREIGN KEY (assessment_id, organization_id) REFERENCES public.assessments(id, organization_id) ON DELETE CASCADE;

--
-- Name: comments comments_author_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_author_id_fkey FOREIGN KEY (author_id) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: comments comments_evidence_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_evidence_fkey FOREIGN KEY (evidence_id, organization_id) REFERENCES public.evidence(id, organization_id) ON DELETE CASCADE;

--
-- Name: comments comments_finding_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_finding_fkey FOREIGN KEY (finding_id, organization_id) REFERENCES public.control_findings(id, organization_id) ON DELETE CASCADE;

--
-- Name: comments comments_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: comments comments_parent_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_parent_fkey FOREIGN KEY (parent_id, organization_id) REFERENCES public.comments(id, organization_id) ON DELETE CASCADE;

--
-- Name: comments comments_poam_item_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.comments
    ADD CONSTRAINT comments_poam_item_fkey FOREIGN KEY (poam_item_id, organization_id) REFERENCES public.poam_items(id, organization_id) ON DELETE CASCADE;

--
-- Name: control_findings control_findings_assessment_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.control_findings
    ADD CONSTRAINT control_findings_assessment_fkey FOREIGN KEY (assessment_id, organization_id) REFERENCES public.assessments(id, organization_id) ON DELETE CASCADE;

--
-- Name: control_findings control_findings_control_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.control_findings
    ADD CONSTRAINT control_findings_control_id_fkey FOREIGN KEY (control_id) REFERENCES public.cmmc_controls(id) ON DELETE RESTRICT;

--
-- Name: document_chunks document_chunks_document_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_fkey FOREIGN KEY (document_id, organization_id) REFERENCES public.documents(id, organization_id) ON DELETE CASCADE;

--
-- Name: documents documents_approved_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_approved_by_fkey FOREIGN KEY (approved_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: documents documents_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: documents documents_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: evidence evidence_assessment_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.evidence
    ADD CONSTRAINT evidence_assessment_fkey FOREIGN KEY (assessment_id, organization_id) REFERENCES public.assessments(id, organization_id);

--
-- Name: evidence evidence_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.evidence
    ADD CONSTRAINT evidence_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: evidence evidence_uploaded_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.evidence
    ADD CONSTRAINT evidence_uploaded_by_fkey FOREIGN KEY (uploaded_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: notifications notifications_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: notifications notifications_user_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_user_fkey FOREIGN KEY (user_id, organization_id) REFERENCES public.users(id, organization_id) ON DELETE CASCADE;

--
-- Name: poam_items poam_items_assessment_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.poam_items
    ADD CONSTRAINT poam_items_assessment_fkey FOREIGN KEY (assessment_id, organization_id) REFERENCES public.assessments(id, organization_id) ON DELETE CASCADE;

--
-- Name: poam_items poam_items_control_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.poam_items
    ADD CONSTRAINT poam_items_control_id_fkey FOREIGN KEY (control_id) REFERENCES public.cmmc_controls(id) ON DELETE RESTRICT;

--
-- Name: poam_items poam_items_finding_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.poam_items
    ADD CONSTRAINT poam_items_finding_fkey FOREIGN KEY (finding_id, organization_id) REFERENCES public.control_findings(id, organization_id);

--
-- Name: poam_items poam_items_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.poam_items
    ADD CONSTRAINT poam_items_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: provider_inheritance provider_inheritance_control_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.provider_inheritance
    ADD CONSTRAINT provider_inheritance_control_id_fkey FOREIGN KEY (control_id) REFERENCES public.cmmc_controls(id) ON DELETE CASCADE;

--
-- Name: system_config system_config_updated_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.system_config
    ADD CONSTRAINT system_config_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: users users_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: ai_analysis_results; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ai_analysis_results ENABLE ROW LEVEL SECURITY;

--
-- Name: assessments; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.assessments ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_logs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.audit_logs ENABLE ROW LEVEL SECURITY;

--
-- Name: comments; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;

--
-- Name: control_findings; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.control_findings ENABLE ROW LEVEL SECURITY;

--
-- Name: document_chunks; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.document_chunks ENABLE ROW LEVEL SECURITY;

--
-- Name: documents; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY;

--
-- Name: evidence; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.evidence ENABLE ROW LEVEL SECURITY;

--
-- Name: notifications; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.notifications ENABLE ROW LEVEL SECURITY;

--
-- Name: organizations; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;

--
-- Name: system_config platform_context; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform_context ON public.system_config USING ((NULLIF(current_setting('app.current_organization_id'::text, true), ''::text) IS NULL)) WITH CHECK ((NULLIF(current_setting('app.current_organization_id'::text, true), ''::text) IS NULL));

--
-- Name: poam_items; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.poam_items ENABLE ROW LEVEL SECURITY;

--
-- Name: system_config; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.system_config ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_logs tenant_append; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_append ON public.audit_logs FOR INSERT WITH CHECK ((organization_id = COALESCE((NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid, '00000000-0000-0000-0000-000000000000'::uuid)));

--
-- Name: ai_analysis_results tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.ai_analysis_results USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: assessments tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.assessments USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: comments tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.comments USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: control_findings tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.control_findings USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: document_chunks tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.document_chunks USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: documents tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.documents USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: evidence tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.evidence USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: notifications tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.notifications USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: organizations tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.organizations USING ((id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: poam_items tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.poam_items USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: users tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.users USING ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid)) WITH CHECK ((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid));

--
-- Name: audit_logs tenant_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_read ON public.audit_logs FOR SELECT USING (((organization_id = (NULLIF(current_setting('app.current_organization_id'::text, true), ''::text))::uuid) AND (organization_id <> '00000000-0000-0000-0000-000000000000'::uuid)));

--
-- Name: system_config tenant_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_read ON public.system_config FOR SELECT USING ((NOT is_secret));

--
-- Name: users; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
