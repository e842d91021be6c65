/**
 * The one table renderer of the CLI (Output.table delegates here). Pure: takes the cells and the
 * terminal's facts, returns the text.
 *
 * - On a terminal the table fits its width (`process.stdout.columns`, or `COLUMNS`): columns are
 *   separated by two spaces, the header is underlined, long cells wrap inside their column (at
 *   spaces where they can, hard-cut where a word is longer than the column), and there are no
 *   lines between rows.
 * - A result of one record is shown as `key  value` lines instead (a one-row table is mostly
 *   header), the values wrapped to the width.
 * - Not on a terminal (a pipe or a file), every row is one line of tab-separated cells after a
 *   tab-separated header line, for `cut -f` and `awk -F'\t'`; tabs and newlines inside a cell
 *   become spaces.
 *
 * Long free text (remedies, SQL) does not belong in a cell: print it whole below the table, so
 * that it can be copied and run (see {@link Output.notes}).
 */

export type Cell = string | number | boolean | null | undefined;

export interface TableLayout {
  /** Render for a terminal (aligned, wrapped) rather than tab-separated. */
  tty: boolean;
  /** Width of the terminal in characters; below 20 is taken as 20. */
  columns: number;
  /** Styles the header cells (bold on a colour terminal). */
  header?: (text: string) => string;
  /** Styles the rule under the header (dim on a colour terminal). */
  rule?: (text: string) => string;
  /** Force the key/value layout on (`true`) or off (`false`); default: on for exactly one row. */
  record?: boolean;
}

const GAP = '  ';
const MIN_COLUMN = 6;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** The printed width of a string: ANSI colour codes count as nothing, wide characters as two. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text.replace(ANSI, '')) width += isWide(ch.codePointAt(0)!) ? 2 : 1;
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** A cell as text: null and undefined are empty. */
export function cellText(cell: Cell): string {
  return cell === null || cell === undefined ? '' : String(cell);
}

/** The table as text, ending in a newline (empty string for no columns). */
export function renderTable(head: string[], rows: Cell[][], layout: TableLayout): string {
  if (head.length === 0) return '';
  const text = rows.map((row) => head.map((_, i) => cellText(row[i])));
  if (!layout.tty) return [head, ...text].map((r) => r.map(plainCell).join('\t')).join('\n') + '\n';
  const width = Math.max(20, Math.floor(layout.columns) || 80);
  if (layout.record ?? text.length === 1) return text.map((r) => renderRecord(head, r, width, layout)).join('\n');
  return renderGrid(head, text, width, layout);
}

function plainCell(text: string): string {
  return text.replace(ANSI, '').replace(/[\t\r\n]+/g, ' ');
}

/** `key  value` lines, keys aligned, values wrapped to the rest of the width. */
function renderRecord(head: string[], row: string[], width: number, layout: TableLayout): string {
  const keyWidth = Math.min(Math.max(...head.map(displayWidth)), Math.floor(width / 3));
  const valueWidth = Math.max(10, width - keyWidth - GAP.length);
  const header = layout.header ?? ((s) => s);
  const lines: string[] = [];
  head.forEach((key, i) => {
    const keyLines = wrap(key, keyWidth);
    const valueLines = wrap(row[i], valueWidth);
    const n = Math.max(keyLines.length, valueLines.length);
    for (let j = 0; j < n; j++) {
      const k = keyLines[j] ?? '';
      const v = valueLines[j] ?? '';
      lines.push((header(pad(k, keyWidth)) + GAP + v).trimEnd());
    }
  });
  return lines.join('\n') + '\n';
}

function renderGrid(head: string[], rows: string[][], width: number, layout: TableLayout): string {
  const widths = fitWidths(head, rows, width);
  const header = layout.header ?? ((s) => s);
  const rule = layout.rule ?? ((s) => s);
  const out: string[] = [];
  const emit = (cells: string[], style: (s: string) => string) => {
    const wrapped = cells.map((c, i) => wrap(c, widths[i]));
    const n = Math.max(1, ...wrapped.map((w) => w.length));
    for (let j = 0; j < n; j++) {
      out.push(wrapped.map((w, i) => (i === cells.length - 1 ? style(w[j] ?? '') : style(pad(w[j] ?? '', widths[i])))).join(GAP).trimEnd());
    }
  };
  emit(head, header);
  out.push(rule(widths.map((w) => '─'.repeat(w)).join(GAP)));
  for (const row of rows) emit(row, (s) => s);
  return out.join('\n') + '\n';
}

/**
 * A word up to this long (a revision id is 12, a timestamp 20, a UUID 36) is kept whole while the
 * table can give way elsewhere: a revision id cut over two lines (`88cba0db0` / `68b`) cannot be
 * copied. Longer words (paths, SQL) wrap anywhere.
 */
const KEEP_WHOLE = 36;

/**
 * Column widths that fit `width`: each column's natural width (its longest line) when they all fit;
 * otherwise the widest columns give way first — first down to their longest word (up to KEEP_WHOLE),
 * so that ids and dates stay whole, then down to their longest word that is not plain prose (a word
 * of letters breaks before an id), then, when that is still too wide, down to the width of their
 * header (never below MIN_COLUMN) — until the table fits.
 */
export function fitWidths(head: string[], rows: string[][], width: number): number[] {
  const natural = head.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => Math.max(0, ...r[i].split('\n').map(displayWidth)))));
  const budget = width - GAP.length * (head.length - 1);
  const widths = natural.map((w) => Math.max(1, w));
  const headerFloor = head.map((h, i) => Math.min(widths[i], Math.max(MIN_COLUMN, longestWord(h))));
  const floorOf = (word: (text: string) => number) => head.map((_, i) => Math.max(headerFloor[i], Math.min(widths[i], KEEP_WHOLE, Math.max(0, ...rows.map((r) => word(r[i]))))));
  const wordFloor = floorOf(longestWord);
  // Then prose (words of letters only: 'notifications') breaks before ids, dates and names (which hold a
  // digit, '_', '.' or ':'): status at 60 columns cut f14f1d09b343 into f14f1d09b / 343 to keep 'notifications' whole.
  const tokenFloor = floorOf(longestToken);
  let total = widths.reduce((a, b) => a + b, 0);
  for (const floor of [wordFloor, tokenFloor, headerFloor]) {
    // Prose gives way in the column of the longest text first (the message, not 'current' or 'postgres').
    const size = (i: number) => (floor === tokenFloor ? natural[i] : widths[i]);
    const before = [...widths];
    while (total > budget) {
      // Shrink the widest column that can still give way, one character at a time.
      let pick = -1;
      for (let i = 0; i < widths.length; i++) if (widths[i] > floor[i] && (pick === -1 || size(i) > size(pick))) pick = i;
      if (pick === -1) break;
      widths[pick]--;
      total--;
    }
    // Breaking prose only pays when it makes the table fit; else every column gives way alike below.
    if (floor === tokenFloor && total > budget) {
      widths.splice(0, widths.length, ...before);
      total = widths.reduce((a, b) => a + b, 0);
    }
  }
  if (total > budget) {
    // Even the floors do not fit (very many columns): share what there is equally.
    const each = Math.max(1, Math.floor(budget / widths.length));
    return widths.map(() => each);
  }
  return widths;
}

function longestWord(text: string): number {
  return Math.max(0, ...text.split(/\s+/).map(displayWidth));
}

/** The longest word that is not plain prose (letters, hyphens and closing punctuation only). */
function longestToken(text: string): number {
  return Math.max(0, ...text.split(/\s+/).filter((w) => !/^[\p{L}'’-]+[,.;:!?)]*$/u.test(w)).map(displayWidth));
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/**
 * Wraps text to `width` columns: at spaces where possible, cutting a word only when it is longer
 * than a whole line. Existing newlines are kept. Colour codes are not split from their text.
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    if (displayWidth(paragraph) <= width) {
      lines.push(paragraph);
      continue;
    }
    let line = '';
    for (const word of paragraph.split(/ +/)) {
      if (line && displayWidth(line) + 1 + displayWidth(word) <= width) {
        line += ' ' + word;
        continue;
      }
      if (line) lines.push(line);
      line = '';
      let rest = word;
      while (displayWidth(rest) > width) {
        const [head, tail] = cut(rest, width);
        lines.push(head);
        rest = tail;
      }
      line = rest;
    }
    lines.push(line);
  }
  return lines;
}

/** The first `width` columns of `text` and the rest. */
function cut(text: string, width: number): [string, string] {
  let used = 0;
  let i = 0;
  const chars = [...text];
  while (i < chars.length) {
    const w = displayWidth(chars[i]);
    if (used + w > width) break;
    used += w;
    i++;
  }
  if (i === 0) i = 1;
  return [chars.slice(0, i).join(''), chars.slice(i).join('')];
}
