/** The doctor's pure parts: thresholds, the exit-code fold, the duplicate-index rule, the ivfflat rule. */
import { describe, expect, it } from 'vitest';
import { resolveThresholds, DEFAULT_THRESHOLDS } from '../src/doctor/thresholds.js';
import { overallStatus, EXIT_CODES, selectChecks } from '../src/doctor/run.js';
import { findDuplicates, keptForForeignKeys } from '../src/doctor/checks/indexes.js';
import { queueHeads } from '../src/doctor/checks/connections.js';
import { privilegeRemedy } from '../src/doctor/run.js';
import { recommendedLists } from '../src/doctor/checks/vector.js';

describe('doctor thresholds', () => {
  it('defaults are the documented values', () => {
    expect(DEFAULT_THRESHOLDS).toMatchObject({
      cacheHitRatio: 0.99,
      connectionsWarn: 0.75,
      connectionsFail: 0.9,
      idleInTransactionMs: 60_000,
      longQueryMs: 300_000,
      statsMinAgeMs: 7 * 86_400_000,
      xidAgeFail: 1_300_000_000,
      sequenceWarn: 0.85,
      sequenceFail: 0.95,
    });
  });
  it('overrides take durations, ratios and percentages; bad ones are usage errors', () => {
    const t = resolveThresholds(['idle-in-transaction=1s', 'connections-warn=60%', 'sequence-fail=0.9', 'seq-scan-min-rows=10']);
    expect(t).toMatchObject({ idleInTransactionMs: 1000, connectionsWarn: 0.6, sequenceFail: 0.9, seqScanMinRows: 10 });
    expect(() => resolveThresholds(['nope=1'])).toThrow(/unknown threshold/);
    expect(() => resolveThresholds(['long-query=later'])).toThrow(/not a duration/);
    try {
      resolveThresholds(['nope=1']);
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
    }
  });
});

describe('doctor exit code', () => {
  it('the worst status wins: skipped < ok < unknown < warn < fail', () => {
    const s = (...list: string[]) => overallStatus(list.map((status) => ({ status: status as any })));
    expect(s()).toBe('ok');
    expect(s('ok', 'ok')).toBe('ok');
    expect(s('ok', 'unknown')).toBe('unknown');
    expect(s('unknown', 'warn')).toBe('warn');
    expect(s('warn', 'fail', 'unknown')).toBe('fail');
    expect(EXIT_CODES).toEqual({ ok: 0, skipped: 0, warn: 1, fail: 2, unknown: 3 });
  });
  it('checks are chosen by family or id', () => {
    expect(selectChecks(['indexes']).map((c) => c.id)).toEqual(['indexes.unused', 'indexes.duplicate', 'indexes.invalid', 'indexes.seq-scans']);
    expect(selectChecks(['indexes.invalid', 'indexes']).map((c) => c.id)[0]).toBe('indexes.invalid');
    expect(() => selectChecks(['index'])).toThrow(/no check named "index"/);
  });
});

describe('duplicate and overlapping indexes', () => {
  const ix = (index: string, keys: number[], extra: Partial<Parameters<typeof findDuplicates>[0][number]> = {}) => ({
    table: 'public.t',
    index,
    am: 'btree',
    keys,
    nkeys: keys.length,
    opclasses: keys.map(() => 1978),
    collations: keys.map(() => 0),
    options: keys.map(() => 0),
    exprs: null,
    pred: null,
    unique: false,
    primary: false,
    def: index,
    size: 8192,
    constraint: null,
    foreignKeys: [],
    ...extra,
  });
  it('reports the non-unique copy of a unique index, and a btree prefix of another', () => {
    const found = findDuplicates([ix('t_pkey', [1], { unique: true, primary: true }), ix('t_id', [1]), ix('t_a', [2]), ix('t_a_b', [2, 3])]);
    expect(found.map((f) => [f.index, f.covered_by, f.kind.split(' ')[0]])).toEqual([
      ['t_a', 't_a_b', 'overlapping'],
      ['t_id', 't_pkey', 'duplicate'],
    ]);
  });
  it('leaves alone: unique prefixes, other access methods, other predicates or expressions, other operator classes', () => {
    expect(findDuplicates([ix('t_a_u', [2], { unique: true }), ix('t_a_b', [2, 3])])).toEqual([]);
    expect(findDuplicates([ix('t_a_hash', [2], { am: 'hash' }), ix('t_a', [2])])).toEqual([]);
    expect(findDuplicates([ix('t_a_part', [2], { pred: '(a > 0)' }), ix('t_a', [2])])).toEqual([]);
    expect(findDuplicates([ix('t_lower', [0], { exprs: 'lower(email)' }), ix('t_upper', [0], { exprs: 'upper(email)' })])).toEqual([]);
    expect(findDuplicates([ix('t_a_pattern', [2], { opclasses: [10044] }), ix('t_a', [2])])).toEqual([]);
    // A prefix only counts for btree.
    expect(findDuplicates([ix('t_g', [2], { am: 'gin' }), ix('t_g2', [2, 3], { am: 'gin' })])).toEqual([]);
  });
  it('leaves alone: other collations, other sort orders, INCLUDE columns the other lacks; a reversed btree counts as the same', () => {
    expect(findDuplicates([ix('t_name_c', [2], { collations: [950] }), ix('t_name', [2], { collations: [100] })])).toEqual([]);
    expect(findDuplicates([ix('t_a_b_desc', [2, 3], { options: [0, 3] }), ix('t_a_b', [2, 3])])).toEqual([]);
    expect(findDuplicates([ix('t_a_incl_z', [2, 9], { nkeys: 1 }), ix('t_a_b', [2, 3])])).toEqual([]);
    // (a DESC, b DESC) read backwards is (a, b); (a) INCLUDE (b) is covered by (a, b).
    expect(findDuplicates([ix('t_a_b_desc', [2, 3], { options: [3, 3] }), ix('t_a_b', [2, 3])]).map((f) => f.index)).toEqual(['t_a_b_desc']);
    expect(findDuplicates([ix('t_a_incl_b', [2, 3], { nkeys: 1 }), ix('t_a_b', [2, 3])]).map((f) => [f.index, f.kind.split(' ')[0]])).toEqual([['t_a_incl_b', 'overlapping']]);
  });
  it('keeps the index a constraint needs, and removes a constraint\'s own index with ALTER TABLE', () => {
    const [fk] = findDuplicates([ix('t_z_a', [4], { unique: true, foreignKeys: ['child_z_fkey on child'] }), ix('t_z_b', [4], { unique: true })]);
    expect(fk).toMatchObject({ index: 't_z_b', covered_by: 't_z_a', drop: 'DROP INDEX CONCURRENTLY t_z_b' });
    const [own] = findDuplicates([ix('t_code_key', [2], { unique: true, constraint: 't_code_key' }), ix('t_code_key2', [2], { unique: true, constraint: 't_code_key2' })]);
    expect(own).toMatchObject({ index: 't_code_key2', drop: 'ALTER TABLE public.t DROP CONSTRAINT t_code_key2' });
    // An exclusion constraint's index is not unique, yet it is not the one to go.
    const [excl] = findDuplicates([ix('t_a_excl', [2], { constraint: 't_a_excl' }), ix('t_a_u', [2], { unique: true })]);
    expect(excl).toMatchObject({ index: 't_a_u', covered_by: 't_a_excl' });
    expect(findDuplicates([ix('t_a_excl', [2], { constraint: 't_a_excl' }), ix('t_a_b', [2, 3])])).toEqual([]);
  });
});

describe('unscanned indexes kept for foreign keys', () => {
  const fk = (index: string, foreignKey: string, size = 8192) => ({ index, foreignKey, size });
  it('keeps one index per foreign key that only unscanned indexes serve: the smallest, then the first by name', () => {
    const kept = keptForForeignKeys(new Set(['c_p', 'c_p_x', 'd_p']), [fk('c_p_x', 'c_fk on c', 16384), fk('c_p', 'c_fk on c'), fk('d_p', 'd_fk on d'), fk('d_p_used', 'd_fk on d')]);
    expect([...kept]).toEqual([['c_p', ['c_fk on c']]]);
    expect([...keptForForeignKeys(new Set(['e_a', 'e_b']), [fk('e_b', 'e_fk on e'), fk('e_a', 'e_fk on e')])]).toEqual([['e_a', ['e_fk on e']]]);
  });
  it('one index serving two foreign keys is kept once, naming both', () => {
    expect([...keptForForeignKeys(new Set(['f_ab']), [fk('f_ab', 'f_a on f'), fk('f_ab', 'f_ab on f')])]).toEqual([['f_ab', ['f_a on f', 'f_ab on f']]]);
  });
});

describe('the head of a lock queue', () => {
  it('follows who blocks whom to the sessions that are not blocked themselves; a prepared transaction (0) is a head; a cycle has none', () => {
    const heads = queueHeads([
      { pid: 20, blockedBy: [10] },
      { pid: 30, blockedBy: [20] },
      { pid: 31, blockedBy: [20, 0] },
      { pid: 40, blockedBy: [50] },
      { pid: 50, blockedBy: [40] },
    ]);
    expect(Object.fromEntries(heads)).toEqual({ 20: [10], 30: [10], 31: [0, 10], 40: [], 50: [] });
  });
});

describe('the remedy of a check refused a privilege', () => {
  it('names the grant of the object refused; pg_monitor only for what it opens', () => {
    expect(privilegeRemedy('permission denied for table docs', 'app')).toBe('GRANT SELECT ON docs TO app, or run the doctor as a role that may (its owner)');
    expect(privilegeRemedy('permission denied for schema audit', 'app')).toBe('GRANT USAGE ON SCHEMA audit TO app, or run the doctor as a role that may (its owner)');
    expect(privilegeRemedy('permission denied for sequence s_id_seq', 'app')).toContain('GRANT SELECT ON SEQUENCE s_id_seq TO app');
    expect(privilegeRemedy('permission denied to read server file', 'app')).toBe('GRANT pg_monitor TO app');
  });
});

describe('ivfflat lists (pgvector README)', () => {
  it('rows / 1000 up to 1M rows, sqrt(rows) above', () => {
    expect(recommendedLists(0)).toBe(1);
    expect(recommendedLists(5000)).toBe(5);
    expect(recommendedLists(1_000_000)).toBe(1000);
    expect(recommendedLists(4_000_000)).toBe(2000);
  });
});
