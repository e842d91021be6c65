/**
 * The seed data against the reference: the committed files are what the generator writes, and the
 * loaded controls are exactly NIST's text (ids, families, Level 1 set, every objective and item).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

const REFERENCE = process.env.CMMC_REFERENCE ?? path.resolve(ROOT, '..', 'shared', 'reference', 'nist-800-171r2.json');

interface Requirement {
  id: string;
  cmmc_id: string;
  cmmc_level: number;
  title: string;
  family_code: string;
  requirement: string;
  discussion: string;
  objectives: { letter: string; text: string }[];
  assessment_methods: { examine: string[]; interview: string[]; test: string[] };
}
/** The reference lives outside the repository (../shared/reference); tests that compare with it need it. */
const HAVE_REFERENCE = existsSync(REFERENCE);
const reference = (HAVE_REFERENCE ? JSON.parse(readFileSync(REFERENCE, 'utf8')) : { requirements: [] }) as { requirements: Requirement[] };

const FAMILY_COUNTS = { AC: 22, AT: 3, AU: 9, CM: 9, IA: 11, IR: 3, MA: 6, MP: 9, PS: 2, PE: 6, RA: 3, CA: 4, SC: 16, SI: 7 };
const LEVEL1 = ['3.1.1', '3.1.2', '3.1.20', '3.1.22', '3.5.1', '3.5.2', '3.8.3', '3.10.1', '3.10.3', '3.10.4', '3.10.5', '3.13.1', '3.13.5', '3.14.1', '3.14.2', '3.14.4', '3.14.5'];

describe.skipIf(!HAVE_REFERENCE)(`generated seed files (needs ${REFERENCE})`, () => {
  it('are up to date: regenerating from the reference gives the committed bytes', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'cmmc-seeds-'));
    try {
      const r = await execa('npx', ['tsx', 'scripts/generate-seeds.ts', '--reference', REFERENCE, '--out', out], { cwd: ROOT, reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      const generated = readdirSync(out).sort();
      expect(generated).toEqual(['01_cmmc_controls.sql', '02_provider_inheritance.sql', '03_sample_data.sql']);
      for (const name of generated) {
        const committed = readFileSync(path.join(ROOT, 'seeds', name), 'utf8');
        expect(readFileSync(path.join(out, name), 'utf8') === committed, `seeds/${name} is stale: run "npx tsx scripts/generate-seeds.ts"`).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the controls and provider inheritance, loaded', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_seed_data');
    const up = await runCli(['upgrade', 'head'], { url: tdb.url });
    expect(up.exitCode, up.stderr).toBe(0);
    const seed = await runCli(['seed'], { url: tdb.url });
    expect(seed.exitCode, seed.stderr).toBe(0);
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('has the 110 practices, per-family counts and the 17 Level 1 practices', async () => {
    const rows = await query<{ id: string; domain: string; level: number; nist_control_id: string; practice_id: string }>(
      tdb.url,
      'SELECT id, domain, level, nist_control_id, practice_id FROM cmmc_controls ORDER BY id',
    );
    expect(rows).toHaveLength(110);
    if (HAVE_REFERENCE) expect(rows.map((r) => r.id).sort()).toEqual(reference.requirements.map((r) => r.cmmc_id).sort());
    const perFamily: Record<string, number> = {};
    for (const r of rows) perFamily[r.domain] = (perFamily[r.domain] ?? 0) + 1;
    expect(perFamily).toEqual(FAMILY_COUNTS);
    expect(rows.filter((r) => r.level === 1).map((r) => r.nist_control_id).sort()).toEqual([...LEVEL1].sort());
    expect(rows.filter((r) => r.level === 2)).toHaveLength(93);
    for (const r of rows) {
      expect(r.id).toBe(`${r.domain}.${r.practice_id}`);
      expect(r.practice_id).toBe(`L2-${r.nist_control_id}`);
    }
  });

  it('has all 320 assessment objectives, lettered in order', async () => {
    const rows = await query<{ id: string; assessment_objectives: string[] }>(tdb.url, 'SELECT id, assessment_objectives FROM cmmc_controls');
    expect(rows.reduce((n, r) => n + r.assessment_objectives.length, 0)).toBe(320);
    for (const r of rows) {
      expect(r.assessment_objectives.map((o) => o.slice(0, 3))).toEqual(r.assessment_objectives.map((_, i) => `[${String.fromCharCode(97 + i)}]`));
    }
  });

  it.skipIf(!HAVE_REFERENCE)('holds every text exactly as the reference: requirement, discussion, all 320 objectives, examine/interview/test', async () => {
    const rows = await query<{
      id: string; title: string; objective: string; discussion: string;
      assessment_objectives: string[]; examine_items: string[]; interview_items: string[]; test_items: string[];
    }>(tdb.url, 'SELECT id, title, objective, discussion, assessment_objectives, examine_items, interview_items, test_items FROM cmmc_controls');
    const byId = new Map(rows.map((r) => [r.id, r]));
    let objectives = 0;
    for (const req of reference.requirements) {
      const row = byId.get(req.cmmc_id)!;
      expect(row.title).toBe(req.title);
      expect(row.objective).toBe(req.requirement);
      expect(row.discussion).toBe(req.discussion);
      expect(row.assessment_objectives).toEqual(req.objectives.map((o) => `[${o.letter}] ${o.text}`));
      expect(row.examine_items).toEqual(req.assessment_methods.examine);
      expect(row.interview_items).toEqual(req.assessment_methods.interview);
      expect(row.test_items).toEqual(req.assessment_methods.test);
      objectives += row.assessment_objectives.length;
    }
    expect(objectives).toBe(320);
    // A few spot checks written out, so that a reference and generator wrong in the same way still fail.
    const ac311 = byId.get('AC.L2-3.1.1')!;
    expect(ac311.objective).toBe('Limit system access to authorized users, processes acting on behalf of authorized users, and devices (including other systems).');
    expect(ac311.assessment_objectives[0]).toBe('[a] authorized users are identified');
    expect(byId.get('IA.L2-3.5.3')!.title).toBe('Multifactor Authentication');
    expect(byId.get('SC.L2-3.13.11')!.objective).toBe('Employ FIPS-validated cryptography when used to protect the confidentiality of CUI.');
    expect(byId.get('CA.L2-3.12.4')!.assessment_objectives.length).toBeGreaterThan(1);
  });

  it('has a row per provider and practice, marked as guidance to verify', async () => {
    const rows = await query<{ provider: string; control_id: string; inheritance_type: string; source: string; verified: boolean; customer_responsibility: string }>(
      tdb.url,
      'SELECT provider, control_id, inheritance_type, source, verified, customer_responsibility FROM provider_inheritance',
    );
    expect(rows).toHaveLength(330);
    for (const provider of ['M365_GCC_HIGH', 'AZURE_GOVERNMENT', 'AWS_GOVCLOUD']) {
      expect(new Set(rows.filter((r) => r.provider === provider).map((r) => r.control_id)).size).toBe(110);
    }
    expect(rows.every((r) => r.verified === false && r.source === 'cmmc-db guidance: verify against the provider customer responsibility matrix')).toBe(true);
    expect(rows.every((r) => r.customer_responsibility.length > 20)).toBe(true);
    const type = (provider: string, control: string) => rows.find((r) => r.provider === provider && r.control_id === control)!.inheritance_type;
    // Physical protection of the data centers is the provider's; training and the SSP stay with the customer.
    for (const provider of ['M365_GCC_HIGH', 'AZURE_GOVERNMENT', 'AWS_GOVCLOUD']) {
      expect(type(provider, 'PE.L2-3.10.1')).toBe('Inherited');
      expect(type(provider, 'PE.L2-3.10.6')).toBe('Customer');
      expect(type(provider, 'AT.L2-3.2.1')).toBe('Customer');
      expect(type(provider, 'CA.L2-3.12.4')).toBe('Customer');
      expect(type(provider, 'SC.L2-3.13.1')).toBe('Shared');
    }
    // The SaaS provider runs Teams voice; on IaaS VoIP is the customer's.
    expect(type('M365_GCC_HIGH', 'SC.L2-3.13.14')).toBe('Shared');
    expect(type('AWS_GOVCLOUD', 'SC.L2-3.13.14')).toBe('Customer');
  });
});
