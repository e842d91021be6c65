/**
 * The schema stays distributable by tenant (docs/scale-out.md, src/schema/distribution.ts), on
 * plain PostgreSQL: the invariants hold at head for every tenant table, present and future; they
 * catch what the schema had before b3c2512605fa/c0290a8b76a4; the rewritten views return exactly
 * the rows the old ones did (compared row by row, up and down); the seeds' upserts name a key with
 * organization_id and never call now().
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distributedTables, distributionCalls, distributionPlan, distributionViolations, REFERENCE_TABLES } from '../src/schema/distribution.js';
import { ROOT, runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

const BEFORE = '836a4a2ccb41';

async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

async function migrate(url: string, ...args: string[]): Promise<void> {
  const r = await runCli([...args, '--yes'], { url });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** Three organizations with the cases the views distinguish (no findings, no evidence, archived, every status). */
const FIXTURE = `
INSERT INTO cmmc_controls (id, level, domain, practice_id, title, objective, nist_control_id) VALUES
  ('AC.L2-3.1.1', 1, 'AC', 'L2-3.1.1', 't', 'o', '3.1.1'), ('AC.L2-3.1.2', 1, 'AC', 'L2-3.1.2', 't', 'o', '3.1.2'),
  ('AU.L2-3.3.1', 2, 'AU', 'L2-3.3.1', 't', 'o', '3.3.1'), ('IA.L2-3.5.3', 2, 'IA', 'L2-3.5.3', 't', 'o', '3.5.3'),
  ('SC.L2-3.13.11', 2, 'SC', 'L2-3.13.11', 't', 'o', '3.13.11');
INSERT INTO organizations (id, name, organization_type) SELECT ('00000000-0000-4000-8000-00000000000' || g)::uuid, 'org ' || g, 'SMB' FROM generate_series(1, 3) g;
INSERT INTO assessments (id, organization_id, name, assessment_type, status, created_at)
SELECT ('00000000-0000-4000-8000-0000000a' || lpad(to_hex(o * 16 + a), 4, '0'))::uuid, ('00000000-0000-4000-8000-00000000000' || o)::uuid,
       'assessment ' || o || '.' || a, 'CMMC_L2', (ARRAY['Draft', 'In Progress', 'Archived', 'Completed'])[a], now() - a * interval '1 day'
  FROM generate_series(1, 3) o, generate_series(1, 4) a;
INSERT INTO control_findings (assessment_id, organization_id, control_id, status)
SELECT a.id, a.organization_id, c.id,
       (ARRAY['Not Started', 'In Progress', 'Met', 'Not Met', 'Not Applicable'])[1 + (abs(hashtext(a.id::text || c.id)) % 5)]
  FROM assessments a CROSS JOIN cmmc_controls c
 WHERE a.name NOT LIKE '%.4' AND NOT (a.name LIKE 'assessment 2.%' AND c.domain = 'SC');
INSERT INTO evidence (assessment_id, organization_id, file_name, file_path, evidence_type)
SELECT CASE WHEN g % 4 = 0 THEN NULL ELSE a.id END, a.organization_id, 'f' || g, 'p' || g, 'Log'
  FROM assessments a, generate_series(1, 3) g WHERE a.name NOT LIKE '%.2';
INSERT INTO poam_items (organization_id, assessment_id, control_id, finding_id, title, weakness_description, status, completion_date)
SELECT f.organization_id, f.assessment_id, f.control_id, f.id, 't', 'w', s.status, CASE WHEN s.status = 'Completed' THEN date '2026-11-01' END
  FROM control_findings f, (VALUES ('Open'), ('Completed'), ('Risk Accepted'), ('Delayed')) s(status)
 WHERE f.status = 'Not Met';
`;

const VIEWS = {
  v_assessment_progress: 'SELECT * FROM v_assessment_progress ORDER BY assessment_id',
  v_organization_compliance_by_domain: 'SELECT * FROM v_organization_compliance_by_domain ORDER BY organization_id, assessment_id, domain',
};

async function viewRows(url: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [view, text] of Object.entries(VIEWS)) out[view] = await query(url, text);
  return out;
}

describe('a schema ready to distribute by tenant', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cmmc_dist');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('before the two revisions the invariants name every change a distributed PostgreSQL asks for', async () => {
    await migrate(db.url, 'upgrade', BEFORE);
    const found = await withSql(db.url, (sql) => distributionViolations(sql));
    expect(found.map((v) => `${v.rule}: ${v.detail}`).sort()).toEqual(
      [
        'not-null: audit_logs.organization_id allows NULL',
        ...['ai_analysis_results', 'assessments', 'audit_logs', 'comments', 'control_findings', 'document_chunks', 'documents', 'evidence', 'notifications', 'poam_items'].map(
          (t) => `primary-key: ${t} primary key (id) lacks organization_id`,
        ),
        'unique: control_findings_assessment_id_control_id_key UNIQUE (assessment_id, control_id) lacks organization_id',
        'unique: document_chunks_document_id_chunk_index_key UNIQUE (document_id, chunk_index) lacks organization_id',
        'set-null: ai_analysis_results_assessment_fkey → assessments sets NULL or DEFAULT on a key that includes organization_id',
        'set-null: evidence_assessment_fkey → assessments sets NULL or DEFAULT on a key that includes organization_id',
        'set-null: poam_items_finding_fkey → control_findings sets NULL or DEFAULT on a key that includes organization_id',
        'view-join: v_assessment_progress joins control_findings ON ((f.assessment_id = a.id)) without organization_id',
        'view-join: v_organization_compliance_by_domain joins control_findings ON ((f.assessment_id = l.id)) without organization_id',
        'view-subquery: v_assessment_progress reads evidence in a subquery of its select list: pre-aggregate it in a join on organization_id',
        'view-subquery: v_assessment_progress reads poam_items in a subquery of its select list: pre-aggregate it in a join on organization_id',
      ].sort(),
    );
  });

  it('the views return the same rows, row by row, after the upgrade and after the downgrade; the data is kept', async () => {
    await query(db.url, FIXTURE);
    await query(db.url, `INSERT INTO audit_logs (organization_id, action, entity_type) VALUES (NULL, 'LOGIN_FAILED', 'user'), ('00000000-0000-4000-8000-000000000001', 'VIEW', 'assessment')`);
    const before = await viewRows(db.url);
    expect(before.v_assessment_progress).toHaveLength(12);
    expect(before.v_organization_compliance_by_domain.length).toBeGreaterThan(6);
    // The fixture has what tells the old and new forms apart: no findings, no evidence, unlinked evidence, open and closed items.
    expect(before.v_assessment_progress.some((r: any) => r.findings_total === 0 && r.compliance_percentage === null)).toBe(true);
    expect(before.v_assessment_progress.some((r: any) => r.evidence_count === 0 && r.findings_total > 0)).toBe(true);
    expect(before.v_assessment_progress.some((r: any) => r.open_poam_items > 0)).toBe(true);

    await migrate(db.url, 'upgrade', 'head');
    const after = await viewRows(db.url);
    expect(after).toEqual(before);
    const [audit] = await query<{ nil: number; nulls: number }>(
      db.url,
      `SELECT count(*) FILTER (WHERE organization_id = '00000000-0000-0000-0000-000000000000')::int AS nil, count(*) FILTER (WHERE organization_id IS NULL)::int AS nulls FROM audit_logs`,
    );
    expect(audit).toEqual({ nil: 1, nulls: 0 });

    await migrate(db.url, 'downgrade', BEFORE);
    expect(await viewRows(db.url)).toEqual(before);
    const [back] = await query<{ nulls: number }>(db.url, 'SELECT count(*) FILTER (WHERE organization_id IS NULL)::int AS nulls FROM audit_logs');
    expect(back.nulls).toBe(1);
    await migrate(db.url, 'upgrade', 'head');
  });

  it('at head every tenant table keeps the invariants, and the plan distributes each of them', async () => {
    const { found, distributed, plan } = await withSql(db.url, async (sql) => ({
      found: await distributionViolations(sql),
      distributed: await distributedTables(sql),
      plan: await distributionPlan(sql),
    }));
    expect(found).toEqual([]);
    expect(distributed).toEqual(['ai_analysis_results', 'assessments', 'audit_logs', 'comments', 'control_findings', 'document_chunks', 'documents', 'evidence', 'notifications', 'poam_items']);
    expect(plan.slice(0, REFERENCE_TABLES.length)).toEqual(REFERENCE_TABLES.map((t) => `SELECT create_reference_table('${t}');`));
    // Parents before children: assessments before control_findings before poam_items before comments; documents before chunks.
    const at = (t: string) => plan.findIndex((c) => c.includes(`'${t}'`));
    expect(at('assessments')).toBeLessThan(at('control_findings'));
    expect(at('control_findings')).toBeLessThan(at('poam_items'));
    expect(at('poam_items')).toBeLessThan(at('comments'));
    expect(at('documents')).toBeLessThan(at('document_chunks'));
    // docs/scale-out.md carries exactly these calls, in this order.
    const doc = readFileSync(path.join(ROOT, 'docs', 'scale-out.md'), 'utf8');
    expect(doc).toContain(plan.join('\n'));
  });

  it('a future table is held to the same rules: unclassified, keys without organization_id, SET NULL on it, a view joining without it', async () => {
    try {
      const found = await withSql(db.url, async (sql) => {
        await sql`BEGIN`;
        try {
          await sql.unsafe(`CREATE TABLE scratch_settings (name text PRIMARY KEY);
            CREATE TABLE risks (id uuid DEFAULT gen_random_uuid() PRIMARY KEY, organization_id uuid, assessment_id uuid, code text UNIQUE,
              FOREIGN KEY (assessment_id, organization_id) REFERENCES assessments (id, organization_id) ON DELETE SET NULL);
            CREATE VIEW v_risks AS SELECT r.id, a.name FROM risks r JOIN assessments a ON a.id = r.assessment_id;`);
          return await distributionViolations(sql);
        } finally {
          await sql`ROLLBACK`;
        }
      });
      expect(found.map((v) => `${v.rule} ${v.object}`).sort()).toEqual(
        ['classified scratch_settings', 'not-null risks', 'primary-key risks', 'unique risks', 'set-null risks', 'view-join v_risks'].sort(),
      );
    } finally {
      await query(db.url, 'DROP VIEW IF EXISTS v_risks; DROP TABLE IF EXISTS risks, scratch_settings');
    }
  });

  it("the seeds' upserts: tenant rows by a key with organization_id, never setting it, never now() in DO UPDATE", async () => {
    const distributed = await withSql(db.url, (sql) => distributedTables(sql));
    const seedsDir = path.join(ROOT, 'seeds');
    let tenantInserts = 0;
    for (const file of readdirSync(seedsDir).filter((f) => f.endsWith('.sql'))) {
      const text = readFileSync(path.join(seedsDir, file), 'utf8');
      for (const m of text.matchAll(/INSERT INTO (\w+)[\s\S]*?ON CONFLICT \(([^)]*)\) DO UPDATE SET([\s\S]*?)(?:\nWHERE|;)/g)) {
        const [, table, key, set] = m;
        expect(set, `${file}: ${table}`).not.toMatch(/now\(\)/i);
        if (!distributed.includes(table)) continue;
        tenantInserts++;
        expect(key.split(/\s*,\s*/), `${file}: ${table}`).toContain('organization_id');
        expect(set, `${file}: ${table}`).not.toMatch(/^\s*organization_id\s*=/m);
      }
    }
    expect(tenantInserts).toBe(distributed.length);
  });
});

describe('distributionCalls (pure)', () => {
  it('puts reference tables first and each parent before its children, co-located with the first', () => {
    expect(distributionCalls(['b_child', 'a_parent'], [['b_child', 'a_parent'], ['b_child', 'b_child']]).slice(REFERENCE_TABLES.length)).toEqual([
      "SELECT create_distributed_table('a_parent', 'organization_id');",
      "SELECT create_distributed_table('b_child', 'organization_id', colocate_with => 'a_parent');",
    ]);
  });
});
