/**
 * Writes the seed files in seeds/ from the reference data, deterministically (same input, same bytes):
 *
 *   seeds/01_cmmc_controls.sql        the 110 CMMC Level 2 practices (NIST SP 800-171 Rev 2 + SP 800-171A)
 *   seeds/02_provider_inheritance.sql  M365 GCC High, Azure Government, AWS GovCloud: who does what, per practice
 *   seeds/03_sample_data.sql           a demo organization (known passwords: never in production)
 *
 * Usage:
 *   npx tsx scripts/generate-seeds.ts [--reference <nist-800-171r2.json or its folder>] [--out <dir>]
 *
 * The reference defaults to ../shared/reference/nist-800-171r2.json relative to the project root
 * (override with --reference or CMMC_REFERENCE, a file or a folder). The output defaults to seeds/.
 *
 * Every text is dollar-quoted with a tag that does not occur in it, so it reaches the database exactly.
 * The provider responsibility split is NOT vendor data (no public matrix exists in structured form):
 * it is this project's reasoning, written below as rules per family with per-practice overrides, and
 * every row says so in `source` and has `verified = false`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------------------------

interface Objective {
  id: string;
  letter: string;
  text: string;
  cprt_text?: string;
}
interface Requirement {
  id: string;
  cmmc_id: string;
  cmmc_level: number;
  title: string;
  family_code: string;
  requirement: string;
  discussion: string;
  objectives: Objective[];
  assessment_methods: { examine: string[]; interview: string[]; test: string[] };
}
interface Reference {
  counts: { requirements: number; objectives: number };
  requirements: Requirement[];
}

export const FAMILY_COUNTS: Record<string, number> = {
  AC: 22, AT: 3, AU: 9, CM: 9, IA: 11, IR: 3, MA: 6, MP: 9, PS: 2, PE: 6, RA: 3, CA: 4, SC: 16, SI: 7,
};

function resolveReference(arg: string | undefined): string {
  const given = arg ?? process.env.CMMC_REFERENCE ?? path.join(ROOT, '..', 'shared', 'reference');
  const p = path.resolve(given);
  return statSync(p).isDirectory() ? path.join(p, 'nist-800-171r2.json') : p;
}

function loadReference(file: string): { ref: Reference; sha256: string } {
  const raw = readFileSync(file);
  const ref = JSON.parse(raw.toString('utf8')) as Reference;
  const reqs = ref.requirements;
  const fail = (msg: string): never => {
    throw new Error(`${file}: ${msg}`);
  };
  if (reqs.length !== 110) fail(`expected 110 requirements, found ${reqs.length}`);
  const perFamily: Record<string, number> = {};
  for (const r of reqs) perFamily[r.family_code] = (perFamily[r.family_code] ?? 0) + 1;
  for (const [family, n] of Object.entries(FAMILY_COUNTS)) {
    if (perFamily[family] !== n) fail(`family ${family}: expected ${n} requirements, found ${perFamily[family] ?? 0}`);
  }
  const objectives = reqs.reduce((n, r) => n + r.objectives.length, 0);
  if (objectives !== 320) fail(`expected 320 objectives, found ${objectives}`);
  if (reqs.filter((r) => r.cmmc_level === 1).length !== 17) fail('expected 17 Level 1 practices');
  for (const r of reqs) {
    if (!r.cmmc_id.startsWith(`${r.family_code}.L2-${r.id}`) || r.cmmc_id !== `${r.family_code}.L2-${r.id}`) fail(`unexpected CMMC id ${r.cmmc_id} for ${r.id}`);
    if (!r.requirement || !r.title || r.objectives.length === 0) fail(`${r.id} lacks requirement, title or objectives`);
  }
  return { ref, sha256: createHash('sha256').update(raw).digest('hex') };
}

// ---------------------------------------------------------------------------------------------
// SQL text helpers
// ---------------------------------------------------------------------------------------------

/** Dollar-quotes a text with the first tag ($q$, $q1$, ...) that does not occur in it. */
export function dq(text: string): string {
  let tag = '$q$';
  for (let i = 1; text.includes(tag); i++) tag = `$q${i}$`;
  return `${tag}${text}${tag}`;
}
function lit(value: string | null | undefined): string {
  return value === null || value === undefined ? 'NULL' : dq(value);
}
function arr(values: string[]): string {
  return values.length === 0 ? 'ARRAY[]::text[]' : `ARRAY[\n    ${values.map(dq).join(',\n    ')}\n  ]::text[]`;
}

/**
 * `ON CONFLICT (...) DO UPDATE` that touches a row only when a value differs. No `updated_at =
 * now()`: the set_updated_at trigger sets it on every table that has it, and a distributed
 * PostgreSQL (Citus) refuses now() in an upsert's DO UPDATE SET (docs/scale-out.md). The key
 * columns are never set (a tenant table's key includes organization_id, the distribution column,
 * which cannot be changed by an update there).
 */
function upsert(table: string, key: string[], columns: string[]): string {
  const updatable = columns.filter((c) => !key.includes(c));
  const set = updatable.map((c) => `${c} = EXCLUDED.${c}`).join(',\n  ');
  const mine = updatable.map((c) => `${table}.${c}`).join(', ');
  const theirs = updatable.map((c) => `EXCLUDED.${c}`).join(', ');
  return `ON CONFLICT (${key.join(', ')}) DO UPDATE SET\n  ${set}\nWHERE (${mine}) IS DISTINCT FROM (${theirs});`;
}

function header(name: string, what: string[], refSha: string): string {
  return [
    `-- ${name}`,
    ...what.map((l) => `-- ${l}`),
    '--',
    '-- GENERATED by scripts/generate-seeds.ts from nist-800-171r2.json',
    `-- (sha256 ${refSha}); see seeds/SOURCES.md. Do not edit: change the generator and re-run it.`,
    '-- Idempotent: every row is upserted by its natural key. Run it with `cmmc-db seed`.',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// 01: controls
// ---------------------------------------------------------------------------------------------

const CONTROL_COLUMNS = [
  'id', 'level', 'domain', 'practice_id', 'title', 'objective', 'discussion', 'nist_control_id',
  'assessment_objectives', 'examine_items', 'interview_items', 'test_items',
];

function controlsSql(ref: Reference, refSha: string): string {
  const parts = [
    header('01_cmmc_controls.sql', [
      'The 110 CMMC Level 2 practices: NIST SP 800-171 Rev 2 requirements (text, discussion) with the',
      'NIST SP 800-171A assessment objectives and examine/interview/test items. level = 1 for the 17',
      'practices CMMC Level 1 also requires (32 CFR 170.15), 2 for the other 93.',
    ], refSha),
  ];
  for (const r of ref.requirements) {
    const values = [
      lit(r.cmmc_id),
      String(r.cmmc_level),
      lit(r.family_code),
      lit(r.cmmc_id.slice(r.family_code.length + 1)),
      lit(r.title),
      lit(r.requirement),
      lit(r.discussion ?? null),
      lit(r.id),
      arr(r.objectives.map((o) => `[${o.letter}] ${o.text}`)),
      arr(r.assessment_methods.examine),
      arr(r.assessment_methods.interview),
      arr(r.assessment_methods.test),
    ];
    parts.push(
      `-- ${r.cmmc_id} ${r.title}\nINSERT INTO cmmc_controls (${CONTROL_COLUMNS.join(', ')})\nVALUES (\n  ${values.join(',\n  ')}\n)\n${upsert('cmmc_controls', ['id'], CONTROL_COLUMNS)}\n`,
    );
  }
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// 02: provider inheritance (this project's reasoning, to verify against each provider's CRM)
// ---------------------------------------------------------------------------------------------

type Provider = 'M365_GCC_HIGH' | 'AZURE_GOVERNMENT' | 'AWS_GOVCLOUD';
type InheritanceType = 'Inherited' | 'Shared' | 'Customer';

interface ProviderFacts {
  name: string;
  /** SaaS: the provider runs the application too; IaaS/PaaS: the customer runs guest systems. */
  model: 'saas' | 'iaas';
  identity: string;
  logs: string;
  network: string;
  keys: string;
  scanning: string;
  malware: string;
}

const PROVIDERS: Record<Provider, ProviderFacts> = {
  M365_GCC_HIGH: {
    name: 'Microsoft 365 GCC High',
    model: 'saas',
    identity: 'Microsoft Entra ID with Conditional Access',
    logs: 'the Microsoft Purview unified audit log',
    network: 'the Microsoft 365 service edge',
    keys: 'Microsoft-managed keys, or Customer Key in Microsoft Purview',
    scanning: 'the Microsoft 365 service',
    malware: 'Microsoft Defender for Office 365 in the service',
  },
  AZURE_GOVERNMENT: {
    name: 'Azure Government',
    model: 'iaas',
    identity: 'Microsoft Entra ID and Azure RBAC',
    logs: 'the Azure Monitor activity log and resource logs',
    network: 'virtual networks, network security groups and Azure Firewall',
    keys: 'Azure Key Vault and Managed HSM (FIPS 140 validated)',
    scanning: 'the Azure platform (hosts, hypervisors, fabric)',
    malware: 'the Azure platform hosts',
  },
  AWS_GOVCLOUD: {
    name: 'AWS GovCloud (US)',
    model: 'iaas',
    identity: 'AWS IAM and IAM Identity Center',
    logs: 'AWS CloudTrail and Amazon CloudWatch Logs',
    network: 'VPCs, security groups, network ACLs and AWS Network Firewall',
    keys: 'AWS KMS and AWS CloudHSM (FIPS 140 validated)',
    scanning: 'the AWS infrastructure (hosts, hypervisors, network)',
    malware: 'the AWS infrastructure hosts',
  },
};

/**
 * One decision: the type and who does what. Texts may use {name}, {identity}, {logs}, {network},
 * {keys}, {scanning}, {malware}, {guest} (what the customer runs: its tenant configuration for SaaS,
 * its guest operating systems, images and workloads for IaaS).
 */
interface Rule {
  type: InheritanceType;
  provider: string | null;
  customer: string;
  notes?: string;
}
/** A rule for all three providers, or one per service model. */
type RuleSpec = Rule | { saas: Rule; iaas: Rule };

const FEDRAMP = 'under its FedRAMP High authorization';
const ENDPOINTS = 'the customer\'s own facilities, endpoints and on-premises systems in the CUI boundary';

/** Per family: the default reasoning. */
const FAMILY_RULES: Record<string, RuleSpec> = {
  AC: {
    type: 'Shared',
    provider: 'Provides and operates the access control mechanisms of the service ({identity}) ' + FEDRAMP + ', and controls its own personnel\'s access to the infrastructure.',
    customer: 'Defines who may access CUI and configures accounts, roles, groups and policies in {identity} and in {guest}; applies the practice to ' + ENDPOINTS + '.',
  },
  AT: {
    type: 'Customer',
    provider: null,
    customer: 'Runs its own security awareness and role-based training for its managers, administrators and users, including the cloud service\'s administrators. The provider\'s training of its own staff does not cover the customer\'s personnel.',
  },
  AU: {
    type: 'Shared',
    provider: 'Generates, retains and protects audit records of the service and its infrastructure ({logs}) ' + FEDRAMP + '.',
    customer: 'Enables and configures audit logging of {guest}, sets retention to the period its policy requires, exports logs to its own monitoring, and reviews them; covers ' + ENDPOINTS + '.',
  },
  CM: {
    saas: {
      type: 'Shared',
      provider: 'Maintains baseline configurations, change control and hardening of the service and its infrastructure ' + FEDRAMP + '.',
      customer: 'Documents and controls its tenant configuration (security defaults, policies, settings) as a baseline with change tracking; manages the configuration of ' + ENDPOINTS + '.',
    },
    iaas: {
      type: 'Shared',
      provider: 'Maintains baseline configurations and change control of the physical hosts, hypervisors and network fabric ' + FEDRAMP + '.',
      customer: 'Establishes baselines, inventories and change control for its subscriptions/accounts, images, guest operating systems and workloads; manages the configuration of ' + ENDPOINTS + '.',
    },
  },
  IA: {
    type: 'Shared',
    provider: 'Provides the identification and authentication service ({identity}), protects the authenticators it stores, and authenticates its own personnel ' + FEDRAMP + '.',
    customer: 'Configures identification and authentication policy in {identity} and in {guest}; applies it to ' + ENDPOINTS + '.',
  },
  IR: {
    type: 'Customer',
    provider: null,
    customer: 'Establishes, staffs, tests and runs its own incident-handling capability covering the cloud service and ' + ENDPOINTS + '; includes the provider\'s support and notification channels in its plan.',
  },
  MA: {
    type: 'Shared',
    provider: 'Maintains the hardware and infrastructure of the service, with controlled tools and personnel, ' + FEDRAMP + '.',
    customer: 'Maintains {guest} (patching, administration through approved tools and personnel) and ' + ENDPOINTS + '.',
  },
  MP: {
    type: 'Shared',
    provider: 'Physically protects, controls and sanitizes the storage media of its data centers ' + FEDRAMP + '.',
    customer: 'Protects, marks and controls media in ' + ENDPOINTS + ', and CUI it downloads from or exports out of the service.',
  },
  PS: {
    type: 'Customer',
    provider: null,
    customer: 'Screens its own personnel before granting access to systems containing CUI, and protects those systems when personnel leave or transfer (accounts in {identity} disabled, credentials and devices returned).',
  },
  PE: {
    type: 'Inherited',
    provider: 'Physically protects the data centers hosting the service (access limits, escorts, access logs, monitoring, access devices) ' + FEDRAMP + '.',
    customer: 'Nothing for the cloud-hosted part; applies the practice to ' + ENDPOINTS + ' (offices, server rooms, workstations).',
  },
  RA: {
    type: 'Shared',
    provider: 'Assesses risk and scans and remediates vulnerabilities of {scanning} ' + FEDRAMP + ' (continuous monitoring).',
    customer: 'Assesses risk to its own operations and scans and remediates vulnerabilities of {guest} and ' + ENDPOINTS + '.',
  },
  CA: {
    type: 'Customer',
    provider: null,
    customer: 'Assesses its security controls, keeps its plans of action and its system security plan, and monitors its controls; uses the provider\'s FedRAMP package and customer responsibility matrix as inputs.',
  },
  SC: {
    type: 'Shared',
    provider: 'Protects the communications and infrastructure of the service (its boundary, tenant isolation, encryption) ' + FEDRAMP + '.',
    customer: 'Configures {network} and the protections of {guest}; applies the practice to ' + ENDPOINTS + '.',
  },
  SI: {
    type: 'Shared',
    provider: 'Remediates flaws, protects against malicious code and monitors {scanning} ' + FEDRAMP + '.',
    customer: 'Remediates flaws, protects against malicious code and monitors {guest} and ' + ENDPOINTS + '.',
  },
};

const customerOnly = (customer: string, notes?: string): Rule => ({ type: 'Customer', provider: null, customer, notes });

/** Per practice: where the family default does not fit. */
const PRACTICE_RULES: Record<string, RuleSpec> = {
  '3.1.9': customerOnly('Configures the privacy and security (CUI) notice shown at logon to the service (for example the sign-in page or logon banner) and on ' + ENDPOINTS + '.'),
  '3.1.10': customerOnly('Enforces session lock with pattern-hiding displays on the devices used to reach the service and on ' + ENDPOINTS + '.'),
  '3.1.16': customerOnly('Authorizes wireless access to its own networks; the provider\'s data centers are not reached over the customer\'s wireless.'),
  '3.1.17': customerOnly('Protects its own wireless networks with authentication and encryption.'),
  '3.1.18': customerOnly('Controls which mobile devices may connect (for example with device compliance and Conditional Access policies).'),
  '3.1.19': customerOnly('Encrypts CUI on its mobile devices and mobile computing platforms.'),
  '3.1.20': customerOnly('Decides, documents and limits connections to and use of external systems, including other cloud services connected to this one.'),
  '3.1.21': customerOnly('Limits the use of portable storage devices on external systems.'),
  '3.1.22': customerOnly('Controls what CUI is posted or processed on publicly accessible systems, including any public sites or sharing links it creates in the service.'),
  '3.3.3': customerOnly('Reviews and updates which events it logs, in the service\'s audit settings and in {guest}.'),
  '3.3.5': customerOnly('Correlates audit review, analysis and reporting across the service and its other systems (for example in its SIEM).'),
  '3.3.7': {
    type: 'Shared',
    provider: 'Synchronizes the clocks of the service\'s infrastructure with an authoritative time source and time-stamps its audit records ' + FEDRAMP + '.',
    customer: 'Synchronizes the clocks of {guest} and ' + ENDPOINTS + ' with an authoritative time source.',
  },
  '3.4.8': customerOnly('Applies a deny-by-exception or permit-by-exception software policy to {guest} and ' + ENDPOINTS + '.'),
  '3.4.9': customerOnly('Controls and monitors user-installed software on ' + ENDPOINTS + ' and on {guest}.'),
  '3.5.5': customerOnly('Prevents reuse of user, group and device identifiers for a defined period in {identity} and in {guest}.'),
  '3.5.6': customerOnly('Disables identifiers after a defined period of inactivity (for example with access reviews or scheduled account reports).'),
  '3.6.2': {
    type: 'Shared',
    provider: 'Tracks and reports incidents affecting its infrastructure and notifies the customer ' + FEDRAMP + ' and its contract terms.',
    customer: 'Tracks, documents and reports incidents to its designated officials and to DoD (DFARS 252.204-7012: within 72 hours), including incidents the provider notifies.',
  },
  '3.7.3': {
    type: 'Inherited',
    provider: 'Sanitizes or destroys data-center equipment and media before it leaves the facility ' + FEDRAMP + '.',
    customer: 'Nothing for the cloud-hosted part; sanitizes its own equipment before off-site maintenance.',
  },
  '3.7.4': {
    type: 'Inherited',
    provider: 'Checks media with diagnostic and test programs for malicious code before use in its data centers ' + FEDRAMP + '.',
    customer: 'Nothing for the cloud-hosted part; checks diagnostic media used on ' + ENDPOINTS + '.',
  },
  '3.7.5': {
    type: 'Shared',
    provider: 'Requires multifactor authentication for its own personnel\'s remote maintenance of the infrastructure ' + FEDRAMP + '.',
    customer: 'Requires multifactor authentication for its administrators\' remote administration of the service and of {guest}.',
  },
  '3.7.6': {
    type: 'Inherited',
    provider: 'Supervises maintenance personnel without access authorization in its data centers ' + FEDRAMP + '.',
    customer: 'Nothing for the cloud-hosted part; supervises maintenance visitors at its own sites.',
  },
  '3.8.4': customerOnly('Marks media with CUI markings and distribution limitations, including files and exports (for example with sensitivity labels).'),
  '3.8.6': customerOnly('Encrypts CUI on digital media it carries outside controlled areas (laptops, removable media); the provider\'s media do not leave its data centers unsanitized.'),
  '3.8.7': customerOnly('Controls the use of removable media on ' + ENDPOINTS + ' and on {guest}.'),
  '3.8.8': customerOnly('Prohibits portable storage devices with no identifiable owner.'),
  '3.8.9': {
    type: 'Shared',
    provider: 'Encrypts and protects the storage holding backups and replicas of the service\'s data ' + FEDRAMP + '.',
    customer: 'Configures backup and retention of its data and protects the confidentiality of any backup copies it keeps elsewhere.',
  },
  '3.9.1': {
    type: 'Shared',
    provider: 'Screens its own personnel with access to customer data or the infrastructure ' + FEDRAMP + ' (US persons, background checks).',
    customer: 'Screens its own personnel before authorizing access to systems containing CUI.',
  },
  '3.10.6': customerOnly('Enforces safeguarding measures for CUI at alternate work sites (telework), including devices used to reach the service.'),
  '3.11.1': customerOnly('Periodically assesses risk to its operations, assets and individuals, including risk from using the cloud service; uses the provider\'s FedRAMP package as an input.'),
  '3.12.3': {
    type: 'Shared',
    provider: 'Monitors the controls of the service continuously and reports to its authorizing officials (FedRAMP continuous monitoring).',
    customer: 'Monitors its own controls on an ongoing basis, including the controls it configures in the service, and reviews the provider\'s continuous monitoring reports.',
  },
  '3.13.2': {
    type: 'Shared',
    provider: 'Applies secure engineering principles to the design and development of the service ' + FEDRAMP + '.',
    customer: 'Applies secure architecture and engineering principles to how it designs and configures its use of the service and {guest}.',
  },
  '3.13.4': {
    type: 'Inherited',
    provider: 'Isolates tenants and prevents information transfer through shared infrastructure (memory, storage, hypervisors) ' + FEDRAMP + '.',
    customer: 'Nothing for the shared cloud infrastructure; applies the practice to shared resources in ' + ENDPOINTS + '.',
  },
  '3.13.7': customerOnly('Prevents split tunneling on the remote devices used to reach its systems (VPN client configuration).'),
  '3.13.10': {
    type: 'Shared',
    provider: 'Operates the key management service ({keys}) and manages the keys of provider-managed encryption ' + FEDRAMP + '.',
    customer: 'Decides which keys it manages, and establishes, rotates and controls access to its own keys in {keys} and on ' + ENDPOINTS + '.',
  },
  '3.13.11': {
    type: 'Shared',
    provider: 'Uses FIPS 140 validated cryptographic modules in the service ' + FEDRAMP + '.',
    customer: 'Uses FIPS-validated cryptography where it protects CUI outside the provider\'s modules (endpoints, {guest}, clients in FIPS mode).',
  },
  '3.13.12': customerOnly('Prohibits remote activation of collaborative computing devices (cameras, microphones) and shows when they are in use, on ' + ENDPOINTS + '.'),
  '3.13.13': customerOnly('Controls and monitors the use of mobile code (scripts, macros, active content) on ' + ENDPOINTS + ' and on {guest}.'),
  '3.13.14': {
    saas: {
      type: 'Shared',
      provider: 'Secures the Microsoft Teams voice and meeting infrastructure ' + FEDRAMP + '.',
      customer: 'Controls and monitors the use of VoIP: which users may call, meeting and calling policies, and any other VoIP systems it runs.',
    },
    iaas: customerOnly('Controls and monitors the use of VoIP technologies, including any VoIP systems it runs in {guest}.'),
  },
  '3.14.3': {
    type: 'Shared',
    provider: 'Monitors security alerts and advisories for the service and acts on them, and publishes advisories to customers ' + FEDRAMP + '.',
    customer: 'Monitors security alerts and advisories (including the provider\'s) for {guest} and ' + ENDPOINTS + ', and acts on them.',
  },
  '3.14.7': customerOnly('Identifies unauthorized use of its systems, including its tenant and accounts in the service (sign-in and activity monitoring).'),
};

/** SaaS: the provider also runs the application, so what the customer runs there is only tenant configuration. */
function fill(text: string, facts: ProviderFacts): string {
  const guest = facts.model === 'saas' ? 'its tenant configuration' : 'its guest operating systems, images and workloads';
  return text
    .replaceAll('{name}', facts.name)
    .replaceAll('{identity}', facts.identity)
    .replaceAll('{logs}', facts.logs)
    .replaceAll('{network}', facts.model === 'saas' ? 'its tenant\'s sharing and access settings' : facts.network)
    .replaceAll('{keys}', facts.keys)
    .replaceAll('{scanning}', facts.scanning)
    .replaceAll('{malware}', facts.malware)
    .replaceAll('{guest}', guest);
}

function pick(spec: RuleSpec, facts: ProviderFacts): Rule {
  return 'saas' in spec ? spec[facts.model] : spec;
}

export const INHERITANCE_SOURCE = 'cmmc-db guidance: verify against the provider customer responsibility matrix';

export interface InheritanceRow {
  provider: Provider;
  controlId: string;
  type: InheritanceType;
  providerResponsibility: string | null;
  customerResponsibility: string;
  notes: string;
}

export function inheritanceRows(ref: Reference): InheritanceRow[] {
  const rows: InheritanceRow[] = [];
  for (const provider of Object.keys(PROVIDERS) as Provider[]) {
    const facts = PROVIDERS[provider];
    for (const r of ref.requirements) {
      const override = PRACTICE_RULES[r.id];
      const rule = pick(override ?? FAMILY_RULES[r.family_code], facts);
      if (!rule) throw new Error(`no inheritance rule for ${r.id}`);
      rows.push({
        provider,
        controlId: r.cmmc_id,
        type: rule.type,
        providerResponsibility: rule.provider === null ? null : fill(rule.provider, facts),
        customerResponsibility: fill(rule.customer, facts),
        notes:
          (rule.notes ? fill(rule.notes, facts) + ' ' : '') +
          `Reasoned ${override ? 'for this practice' : `from the ${r.family_code} family default`} for ${facts.name} (${facts.model === 'saas' ? 'SaaS' : 'IaaS/PaaS'}); not taken from a provider matrix.`,
      });
    }
  }
  return rows;
}

const INHERITANCE_COLUMNS = ['provider', 'control_id', 'inheritance_type', 'provider_responsibility', 'customer_responsibility', 'source', 'verified', 'notes'];

function inheritanceSql(ref: Reference, refSha: string): string {
  const parts = [
    header('02_provider_inheritance.sql', [
      'Who satisfies each practice when CUI is in Microsoft 365 GCC High, Azure Government or AWS GovCloud (US):',
      'Inherited (the provider does it for the cloud-hosted part), Shared, or Customer.',
      'GUIDANCE, NOT VENDOR DATA: reasoned by this project per family and practice (scripts/generate-seeds.ts),',
      'source = \'' + INHERITANCE_SOURCE + '\', verified = false.',
      'Verify each row against the provider\'s customer responsibility matrix (Microsoft Service Trust Portal, AWS Artifact).',
    ], refSha),
  ];
  for (const row of inheritanceRows(ref)) {
    const values = [
      lit(row.provider),
      lit(row.controlId),
      lit(row.type),
      lit(row.providerResponsibility),
      lit(row.customerResponsibility),
      lit(INHERITANCE_SOURCE),
      'false',
      lit(row.notes),
    ];
    parts.push(
      `INSERT INTO provider_inheritance (${INHERITANCE_COLUMNS.join(', ')})\nVALUES (${values.join(', ')})\n${upsert('provider_inheritance', ['provider', 'control_id'], INHERITANCE_COLUMNS)}\n`,
    );
  }
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// 03: sample data: a demo organization so that every table and both views show something
// ---------------------------------------------------------------------------------------------

/** A bcrypt salt derived from a label, so the hash (and the file) is the same on every run. */
export function fixedSalt(label: string, rounds = BCRYPT_ROUNDS): string {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const digest = createHash('sha256').update(`cmmc-db demo salt:${label}`).digest();
  let chars = '';
  for (let i = 0; i < 21; i++) chars += alphabet[digest[i] % 64];
  // The 22nd character carries only 2 significant bits in bcrypt's encoding: keep it canonical.
  chars += '.Oeu'[digest[21] % 4];
  return `$2b$${String(rounds).padStart(2, '0')}$${chars}`;
}

/** Cost factor of the demo hashes (the platform's default). */
export const BCRYPT_ROUNDS = 12;

export function demoHash(password: string, label: string): string {
  return bcrypt.hashSync(password, fixedSalt(label));
}

/** The demo users, one per role. Their passwords are public (docs/seeds.md): never load them in production. */
export const DEMO_USERS = [
  { key: 'admin', role: 'Admin', email: 'admin@acme-defense.example', name: 'Alex Admin', title: 'IT Director', password: 'Demo-Admin-2026!' },
  { key: 'assessor', role: 'Assessor', email: 'assessor@acme-defense.example', name: 'Sam Assessor', title: 'Compliance Lead', password: 'Demo-Assessor-2026!' },
  { key: 'auditor', role: 'Auditor', email: 'auditor@acme-defense.example', name: 'Jordan Auditor', title: 'Internal Auditor', password: 'Demo-Auditor-2026!' },
  { key: 'viewer', role: 'Viewer', email: 'viewer@acme-defense.example', name: 'Taylor Viewer', title: 'Program Manager', password: 'Demo-Viewer-2026!' },
] as const;

/** Fixed ids so that re-running upserts: de00KKKK-0000-4000-8000-NNNNNNNNNNNN (KKKK = kind). */
function demoId(kind: number, n: number): string {
  return `de00${kind.toString(16).padStart(4, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
export const DEMO_ORG_ID = demoId(0, 1);

type SqlValue = string | number | boolean | null | { raw: string };
const raw = (text: string) => ({ raw: text });
const uuid = (id: string | null) => (id === null ? null : raw(`'${id}'::uuid`));
const ts = (t: string) => raw(`'${t}'::timestamptz`);
const date = (d: string) => raw(`'${d}'::date`);
const jsonb = (v: unknown) => raw(`${dq(JSON.stringify(v))}::jsonb`);
const textArr = (values: string[]) => raw(values.length ? `ARRAY[${values.map(dq).join(', ')}]::text[]` : `'{}'::text[]`);
const uuidArr = (values: string[]) => raw(values.length ? `ARRAY[${values.map((v) => `'${v}'`).join(', ')}]::uuid[]` : `'{}'::uuid[]`);

function sqlValue(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return dq(v);
  return v.raw;
}

/** The key of a tenant table's rows: its primary key (id, organization_id) (migration c0290a8b76a4). */
const TENANT_KEY = ['id', 'organization_id'];

/** One INSERT of several rows, upserted by `key` (see `upsert`); rows are objects with the same columns. */
function insertRows(table: string, key: string[], rows: Record<string, SqlValue>[]): string {
  const columns = Object.keys(rows[0]);
  const values = rows.map((r) => `  (${columns.map((c) => sqlValue(r[c])).join(', ')})`).join(',\n');
  return `INSERT INTO ${table} (${columns.join(', ')})\nVALUES\n${values}\n${upsert(table, key, columns)}\n`;
}

type FindingStatus = 'Not Started' | 'In Progress' | 'Met' | 'Not Met' | 'Not Applicable';

/** The demo assessment's state: by domain, with a few practices set apart. */
function demoFindingStatus(r: Requirement): FindingStatus {
  const special: Record<string, FindingStatus> = {
    '3.5.3': 'Not Met', // MFA not yet on every privileged account: the POA&M item
    '3.13.11': 'Not Met',
    '3.1.16': 'Not Applicable', // no wireless in the CUI enclave
    '3.1.17': 'Not Applicable',
    '3.3.1': 'Met',
    '3.4.1': 'Met',
  };
  if (special[r.id]) return special[r.id];
  if (['AC', 'AT', 'IA', 'PE', 'PS', 'MP'].includes(r.family_code)) return 'Met';
  if (['AU', 'CM', 'SC'].includes(r.family_code)) return 'In Progress';
  return 'Not Started';
}

function sampleSql(ref: Reference, refSha: string): string {
  const org = DEMO_ORG_ID;
  const user = Object.fromEntries(DEMO_USERS.map((u, i) => [u.key, demoId(1, i + 1)])) as Record<(typeof DEMO_USERS)[number]['key'], string>;
  const assessment = demoId(2, 1);
  const findingId = (r: Requirement) => demoId(3, ref.requirements.indexOf(r) + 1);
  const byId = (id: string) => ref.requirements.find((r) => r.id === id)!;
  const evidence = { policy: demoId(4, 1), mfa: demoId(4, 2), firewall: demoId(4, 3) };
  const poam = demoId(5, 1);
  const doc = demoId(6, 1);
  const chunk = (n: number) => demoId(7, n);
  const ai = demoId(8, 1);
  const comment = (n: number) => demoId(9, n);
  const notification = (n: number) => demoId(10, n);
  const audit = (n: number) => demoId(11, n);

  const statuses = ref.requirements.map(demoFindingStatus);
  const met = statuses.filter((s) => s === 'Met').length;
  const decided = statuses.filter((s) => s === 'Met' || s === 'Not Met' || s === 'Not Applicable').length;
  const completion = Math.round((10000 * decided) / statuses.length) / 100;

  const policyText =
    'Acme Defense Manufacturing (demo) Access Control Policy.\n\n1. Purpose. This policy limits access to systems that store, process or transmit CUI to authorized users, processes and devices.\n\n2. Account management. Accounts are requested through the service desk, approved by the system owner, reviewed quarterly and disabled within 24 hours of separation.';
  const chunks = policyText.split('\n\n');
  let offset = 0;
  const chunkRows = chunks.map((content, i) => {
    const start = policyText.indexOf(content, offset);
    offset = start + content.length;
    return {
      id: uuid(chunk(i + 1)),
      document_id: uuid(doc),
      organization_id: uuid(org),
      chunk_index: i,
      content,
      heading: i === 0 ? 'Access Control Policy' : content.split('.')[0] + '.' + (content.split('.')[1] ?? ''),
      token_count: content.split(/\s+/).length,
      char_start: start,
      char_end: start + content.length,
      embedding: null,
      embedding_model: null,
      metadata: jsonb({ source: 'demo', page: 1 }),
    } as Record<string, SqlValue>;
  });

  const narrative: Record<FindingStatus, string | null> = {
    Met: 'Demo: implemented and evidenced; see the attached evidence.',
    'Not Met': 'Demo: not implemented yet; tracked in the POA&M.',
    'In Progress': 'Demo: implementation under way.',
    'Not Started': null,
    'Not Applicable': 'Demo: not applicable; the CUI enclave has no wireless networks.',
  };
  const evidenceFor: Record<string, string[]> = {
    '3.1.1': [evidence.policy],
    '3.1.2': [evidence.policy],
    '3.5.3': [evidence.mfa],
    '3.13.1': [evidence.firewall],
  };

  const parts = [
    header('03_sample_data.sql', [
      'DEMO DATA with known passwords (docs/seeds.md): a demo organization, one user per role, one',
      'assessment in progress with findings for all 110 practices, evidence, a POA&M item, a policy',
      'document with chunks, an AI analysis, comments, notifications, audit log entries and a config key.',
      'Loaded only by `cmmc-db seed --sample`; refused in production unless --allow-production-sample.',
    ], refSha),
    '-- Row-level security: act as the demo tenant for this transaction (owners and superusers bypass it anyway).',
    `SELECT set_config('app.current_organization_id', '${org}', true);\n`,
    insertRows('organizations', ['id'], [{
      id: uuid(org), name: 'Acme Defense Manufacturing (demo)', organization_type: 'SMB', cage_code: '1DEM0', duns_number: null,
      uei: 'DEMO00000001', address: '100 Example Way', city: 'Arlington', state: 'VA', zip_code: '22201', country: 'USA',
      phone: '+1 555 0100', website: 'https://acme-defense.example', target_cmmc_level: 2, status: 'Trial',
    }]),
    insertRows('users', ['id'], DEMO_USERS.map((u) => ({
      id: uuid(user[u.key]), organization_id: uuid(org), email: u.email, password_hash: demoHash(u.password, u.email),
      full_name: u.name, role: u.role, status: 'Active', phone: null, job_title: u.title, email_verified: true, last_login: null,
    }))),
    insertRows('assessments', TENANT_KEY, [{
      id: uuid(assessment), organization_id: uuid(org), name: 'CMMC Level 2 readiness (demo)', assessment_type: 'CMMC_L2', target_level: 2,
      status: 'In Progress', scope_domains: textArr(Object.keys(FAMILY_COUNTS).sort()), scope_cloud_providers: textArr(['M365_GCC_HIGH', 'AZURE_GOVERNMENT']),
      start_date: date('2026-10-01'), end_date: date('2027-03-31'), lead_assessor_id: uuid(user.assessor),
      total_controls: ref.requirements.length, controls_met: met, completion_percentage: completion,
    }]),
    insertRows('evidence', TENANT_KEY, [
      { id: uuid(evidence.policy), assessment_id: uuid(assessment), organization_id: uuid(org), file_name: 'access-control-policy.pdf', file_path: 'demo/evidence/access-control-policy.pdf', file_size_bytes: 184320, mime_type: 'application/pdf', evidence_type: 'Policy', description: 'Approved access control policy (demo)', control_ids: textArr(['AC.L2-3.1.1', 'AC.L2-3.1.2']), extracted_text: policyText, embedding: null, uploaded_by: uuid(user.admin) },
      { id: uuid(evidence.mfa), assessment_id: uuid(assessment), organization_id: uuid(org), file_name: 'conditional-access-mfa.png', file_path: 'demo/evidence/conditional-access-mfa.png', file_size_bytes: 96256, mime_type: 'image/png', evidence_type: 'Screenshot', description: 'Conditional Access policy requiring MFA, showing the excluded break-glass and service accounts (demo)', control_ids: textArr(['IA.L2-3.5.3']), extracted_text: null, embedding: null, uploaded_by: uuid(user.admin) },
      { id: uuid(evidence.firewall), assessment_id: uuid(assessment), organization_id: uuid(org), file_name: 'boundary-firewall-rules.txt', file_path: 'demo/evidence/boundary-firewall-rules.txt', file_size_bytes: 4210, mime_type: 'text/plain', evidence_type: 'Configuration', description: 'Boundary firewall rule export (demo)', control_ids: textArr(['SC.L2-3.13.1', 'SC.L2-3.13.6']), extracted_text: 'deny any any; allow 443/tcp from 10.20.0.0/16 to enclave', embedding: null, uploaded_by: uuid(user.assessor) },
    ]),
    insertRows('control_findings', TENANT_KEY, ref.requirements.map((r, i) => {
      const status = statuses[i];
      return {
        id: uuid(findingId(r)), assessment_id: uuid(assessment), organization_id: uuid(org), control_id: r.cmmc_id, status,
        implementation_narrative: narrative[status], evidence_ids: uuidArr(evidenceFor[r.id] ?? []),
        ai_generated_narrative: r.id === '3.1.1' ? 'Draft (AI, demo): authorized users, processes and devices are identified in the account register and access is limited to them through Entra ID groups.' : null,
        ai_confidence_score: r.id === '3.1.1' ? 0.82 : null,
        uses_provider_inheritance: r.family_code === 'PE',
        risk_level: status === 'Not Met' ? 'High' : null,
      };
    })),
    insertRows('poam_items', TENANT_KEY, [{
      id: uuid(poam), organization_id: uuid(org), assessment_id: uuid(assessment), control_id: byId('3.5.3').cmmc_id, finding_id: uuid(findingId(byId('3.5.3'))),
      title: 'Enforce MFA on every privileged account', weakness_description: 'Two service accounts with administrative rights are excluded from the MFA Conditional Access policy.',
      remediation_plan: 'Replace the two service accounts with workload identities; remove the exclusions; verify with a sign-in report.',
      milestones: jsonb([
        { title: 'Inventory excluded accounts', due: '2026-11-15', done: true },
        { title: 'Migrate to workload identities', due: '2027-01-31', done: false },
        { title: 'Remove exclusions and verify', due: '2027-02-28', done: false },
      ]),
      risk_level: 'High', status: 'In Progress', owner_id: uuid(user.admin), resources_required: '2 days of identity engineering', estimated_cost: 4800, due_date: date('2027-02-28'), completion_date: null,
    }]),
    insertRows('documents', TENANT_KEY, [{
      id: uuid(doc), organization_id: uuid(org), title: 'Access Control Policy', document_type: 'Policy', version: '1.2', status: 'Approved',
      file_name: 'access-control-policy.pdf', file_path: 'demo/documents/access-control-policy.pdf', mime_type: 'application/pdf', file_size_bytes: 184320,
      content: policyText, content_hash: createHash('sha256').update(policyText).digest('hex'), control_ids: textArr(['AC.L2-3.1.1', 'AC.L2-3.1.2']),
      owner_id: uuid(user.admin), approved_by: uuid(user.admin), approved_at: ts('2026-09-15 14:00:00+00'), effective_date: date('2026-09-15'), next_review_date: date('2027-09-15'),
      embedding: null, embedding_model: null,
    }]),
    insertRows('document_chunks', TENANT_KEY, chunkRows),
    insertRows('ai_analysis_results', TENANT_KEY, [{
      id: uuid(ai), organization_id: uuid(org), assessment_id: uuid(assessment), analysis_type: 'narrative_generation', entity_type: 'control_finding',
      entity_id: uuid(findingId(byId('3.1.1'))), control_id: byId('3.1.1').cmmc_id, model_provider: 'demo', model_name: 'demo-narrative-1', prompt_version: 'v1',
      input: jsonb({ control: 'AC.L2-3.1.1', evidence: [evidence.policy] }), output: jsonb({ narrative: 'Draft (AI, demo): authorized users, processes and devices are identified in the account register and access is limited to them through Entra ID groups.' }),
      confidence_score: 0.82, input_tokens: 1840, output_tokens: 212, cost_usd: 0.0061, duration_ms: 2350, status: 'Completed', error_message: null,
      requested_by: uuid(user.assessor), completed_at: ts('2026-10-20 09:30:02+00'),
    }]),
    insertRows('comments', TENANT_KEY, [
      { id: uuid(comment(1)), organization_id: uuid(org), assessment_id: null, finding_id: uuid(findingId(byId('3.5.3'))), evidence_id: null, poam_item_id: null, parent_id: null, author_id: uuid(user.assessor), body: '@Alex Admin the MFA screenshot shows two excluded service accounts: this cannot be Met yet.', mentions: uuidArr([user.admin]), is_resolved: false, edited_at: null },
      { id: uuid(comment(2)), organization_id: uuid(org), assessment_id: null, finding_id: uuid(findingId(byId('3.5.3'))), evidence_id: null, poam_item_id: null, parent_id: uuid(comment(1)), author_id: uuid(user.admin), body: 'Agreed: opened a POA&M item to move them to workload identities.', mentions: uuidArr([]), is_resolved: false, edited_at: null },
    ]),
    insertRows('notifications', TENANT_KEY, [
      { id: uuid(notification(1)), organization_id: uuid(org), user_id: uuid(user.admin), notification_type: 'mention', title: 'Sam Assessor mentioned you', message: 'On IA.L2-3.5.3 Multifactor Authentication.', entity_type: 'comment', entity_id: uuid(comment(1)), action_url: `/assessments/${assessment}/findings/${findingId(byId('3.5.3'))}`, channel: 'in_app', is_read: false, read_at: null, delivery_status: 'Delivered', delivered_at: ts('2026-10-21 08:00:00+00'), delivery_error: null },
      { id: uuid(notification(2)), organization_id: uuid(org), user_id: uuid(user.assessor), notification_type: 'assignment', title: 'You lead an assessment', message: 'CMMC Level 2 readiness (demo).', entity_type: 'assessment', entity_id: uuid(assessment), action_url: `/assessments/${assessment}`, channel: 'both', is_read: true, read_at: ts('2026-10-01 09:15:00+00'), delivery_status: 'Sent', delivered_at: ts('2026-10-01 09:00:00+00'), delivery_error: null },
      { id: uuid(notification(3)), organization_id: uuid(org), user_id: uuid(user.admin), notification_type: 'poam_overdue', title: 'POA&M milestone due soon', message: 'Migrate to workload identities is due 2027-01-31.', entity_type: 'poam_item', entity_id: uuid(poam), action_url: `/poam/${poam}`, channel: 'email', is_read: false, read_at: null, delivery_status: 'Pending', delivered_at: null, delivery_error: null },
    ]),
    insertRows('audit_logs', TENANT_KEY, [
      { id: uuid(audit(1)), organization_id: uuid(org), user_id: uuid(user.admin), user_email: 'admin@acme-defense.example', action: 'LOGIN', entity_type: 'user', entity_id: user.admin, changes: jsonb({}), ip_address: raw(`'192.0.2.10'::inet`), user_agent: 'demo', request_id: 'demo-0001' },
      { id: uuid(audit(2)), organization_id: uuid(org), user_id: uuid(user.assessor), user_email: 'assessor@acme-defense.example', action: 'UPDATE', entity_type: 'control_finding', entity_id: findingId(byId('3.5.3')), changes: jsonb({ status: ['In Progress', 'Not Met'] }), ip_address: raw(`'192.0.2.11'::inet`), user_agent: 'demo', request_id: 'demo-0002' },
    ]),
    insertRows('system_config', ['key'], [
      { key: 'demo.organization_id', value: jsonb(org), description: 'Set by seeds/03_sample_data.sql: the demo organization. Its users have public passwords; delete it before going live.', is_secret: false, updated_by: uuid(user.admin) },
    ]),
  ];
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------

export interface GeneratedFile {
  name: string;
  content: string;
}

export async function generate(referenceFile: string): Promise<GeneratedFile[]> {
  const { ref, sha256 } = loadReference(referenceFile);
  const files: GeneratedFile[] = [
    { name: '01_cmmc_controls.sql', content: controlsSql(ref, sha256) },
    { name: '02_provider_inheritance.sql', content: inheritanceSql(ref, sha256) },
    { name: '03_sample_data.sql', content: sampleSql(ref, sha256) },
  ];
  return files;
}

function parseArgs(argv: string[]): { reference?: string; out: string } {
  let reference: string | undefined;
  let out = path.join(ROOT, 'seeds');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--reference') reference = argv[++i];
    else if (a === '--out') out = path.resolve(argv[++i]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npx tsx scripts/generate-seeds.ts [--reference <file or folder>] [--out <dir>]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return { reference, out };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const referenceFile = resolveReference(args.reference);
  const files = await generate(referenceFile);
  mkdirSync(args.out, { recursive: true });
  for (const f of files) {
    writeFileSync(path.join(args.out, f.name), f.content);
    process.stderr.write(`wrote ${path.relative(process.cwd(), path.join(args.out, f.name)) || f.name}\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`generate-seeds: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
