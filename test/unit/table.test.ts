import { describe, expect, it } from 'vitest';
import { displayWidth, fitWidths, renderTable, wrap } from '../../src/cli/table.js';

const longRemedy =
  "add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', keeping any libraries already listed)";

function widest(text: string): number {
  return Math.max(...text.split('\n').map(displayWidth));
}

describe('renderTable on a terminal', () => {
  const head = ['name', 'database', 'created', 'size', 'revision', 'verified'];
  const rows = [
    ['cmmc_platform-20261125T074822Z', 'cmmc_platform', '2026-11-25 07:48:22Z', '1.2 MB', 'e3a8d1c6b468,9f1c2d3e4b5a', 'yes (restore-tested)'],
    ['cmmc_platform-20261126T074822Z', 'cmmc_platform', '2026-11-26 07:48:22Z', '1.3 MB', 'e3a8d1c6b468', 'no'],
  ];

  for (const columns of [40, 60, 80, 120]) {
    it(`fits ${columns} columns, no line longer, every cell's text kept`, () => {
      const text = renderTable(head, rows, { tty: true, columns });
      expect(widest(text)).toBeLessThanOrEqual(columns);
      // Nothing cut off: the rows' characters are all there (wrapped lines interleave columns).
      const chars = (s: string) => [...s.replace(/\s+/g, '')].sort().join('');
      const lines = text.split('\n');
      const body = lines.slice(lines.findIndex((l) => l.startsWith('─')) + 1).join('\n');
      expect(chars(body)).toBe(chars(rows.flat().join('')));
    });
  }

  it('uses natural widths when they fit, with a rule under the header and no lines between rows', () => {
    const text = renderTable(['a', 'b'], [['x', 'y'], ['xx', 'yy']], { tty: true, columns: 80 });
    expect(text).toBe('a   b\n──  ──\nx   y\nxx  yy\n');
  });

  it('wraps a long cell inside its column at spaces', () => {
    const text = renderTable(['check', 'figure'], [['a', longRemedy], ['b', 'short']], { tty: true, columns: 50 });
    const lines = text.trimEnd().split('\n');
    expect(widest(text)).toBeLessThanOrEqual(50);
    // The continuation lines of row a are indented to the figure column.
    expect(lines[3].startsWith('       ')).toBe(true);
    expect(lines.some((l) => l.startsWith('b  '))).toBe(true);
  });

  it('shows one record as key/value lines', () => {
    const text = renderTable(['status', 'database', 'latency ms'], [['ok', 'app', 3]], { tty: true, columns: 80 });
    expect(text).toBe('status      ok\ndatabase    app\nlatency ms  3\n');
  });

  it('does not count colour codes as width', () => {
    const red = '\u001b[31mfail\u001b[39m';
    expect(displayWidth(red)).toBe(4);
    const text = renderTable(['s', 't'], [[red, 'x'], ['ok', 'y']], { tty: true, columns: 80 });
    expect(text.split('\n')[2]).toBe(`${red}  x`);
  });
});

describe('renderTable off a terminal', () => {
  it('is tab-separated, one line per row, header first; tabs and newlines in a cell become spaces', () => {
    const text = renderTable(['a', 'b'], [['x\ty', 'line1\nline2'], [null, 3]], { tty: false, columns: 20 });
    expect(text).toBe('a\tb\nx y\tline1 line2\n\t3\n');
  });
});

describe('wrap and fitWidths', () => {
  it('cuts a word only when it is longer than the line', () => {
    expect(wrap('abc defgh', 5)).toEqual(['abc', 'defgh']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('keeps revision ids and dates whole while another column can wrap at its spaces', () => {
    // At 60 columns history cut 88cba0db068b into 88cba0db0 / 68b, which cannot be copied.
    const head = ['revision', 'down_revision', 'applied', 'message'];
    const rows = [['88cba0db068b', 'f14f1d09b343', '2026-12-01T19:48:29Z', 'audit times from the server, set by a trigger for writers RLS binds']];
    for (const columns of [60, 70]) {
      const text = renderTable(head, [...rows, ...rows], { tty: true, columns });
      expect(widest(text)).toBeLessThanOrEqual(columns);
      for (const word of ['88cba0db068b', 'f14f1d09b343', '2026-12-01T19:48:29Z']) expect(text, `${columns} columns`).toContain(word);
    }
    // Too narrow for the words themselves: it still fits, cutting them.
    const narrow = renderTable(head, rows.concat(rows), { tty: true, columns: 30 });
    expect(widest(narrow)).toBeLessThanOrEqual(30);
  });

  it('breaks a prose word before a revision id or a date when the longest words do not all fit', () => {
    // status at 60 columns: every column's longest word is 66 wide, so all gave way alike and the
    // revision id was cut (f14f1d09b / 343) to keep 'notifications' whole.
    const head = ['revision', 'state', 'message', 'applied at', 'by', 'took'];
    const rows = [
      ['f14f1d09b343', 'current', 'audit times from the server', '2026-12-01 21:32:15Z', 'postgres (os: root)', '1 ms'],
      ['00c448613939', 'applied', 'notifications keyed by tenant', '2026-12-01 21:32:15Z', 'postgres (os: root)', '89 ms'],
    ];
    for (const columns of [60, 64]) {
      const text = renderTable(head, rows, { tty: true, columns });
      expect(widest(text)).toBeLessThanOrEqual(columns);
      for (const word of ['f14f1d09b343', '00c448613939', '2026-12-01', '21:32:15Z', 'current', 'postgres']) expect(text, `${columns} columns`).toContain(word);
    }
  });

  it('gives way in the widest column first', () => {
    const widths = fitWidths(['id', 'text'], [['a', 'x'.repeat(100)]], 30);
    expect(widths).toEqual([2, 26]);
  });
});
