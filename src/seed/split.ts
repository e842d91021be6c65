/**
 * Splits a SQL script into statements, the way the server's lexer sees them: a `;` ends a
 * statement only outside quotes ('...', E'...', "..."), dollar quotes ($$...$$, $tag$...$tag$)
 * and comments (-- and nested /* *\/). Pure; used to run seed files statement by statement so that
 * an error can name the statement and its line.
 */

export interface SqlStatement {
  /** The statement text, without its terminating `;`, comments before it included. */
  text: string;
  /** 1-based line of the statement's first token (after leading comments and blank lines). */
  line: number;
  /** 1-based position in the statement list. */
  index: number;
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CONT = /[A-Za-z0-9_\u0080-\uffff]/;

/** The statements of `script`; empty ones (only comments or blanks) are left out. */
export function splitSql(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let firstToken = -1;
  let i = 0;
  const n = script.length;
  const lineStarts = [0];
  for (let k = 0; k < n; k++) if (script.charCodeAt(k) === 10) lineStarts.push(k + 1);

  const push = (end: number) => {
    if (firstToken >= 0) {
      statements.push({ text: script.slice(start, end).trim(), line: lineAt(lineStarts, firstToken), index: statements.length + 1 });
    }
    start = end + 1;
    firstToken = -1;
  };

  while (i < n) {
    const ch = script[i];
    const next = script[i + 1];
    if (ch === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    if (ch === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (script[i] === '/' && script[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (script[i] === '*' && script[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (firstToken < 0 && ch !== ';') firstToken = i;
    if (ch === ';') {
      push(i);
      i++;
      continue;
    }
    if (ch === "'") {
      // E'...' allows backslash escapes; a plain string only doubles quotes.
      const escapes = i > 0 && /[eE]/.test(script[i - 1]) && (i < 2 || !IDENT_CONT.test(script[i - 2]));
      i = skipQuoted(script, i + 1, "'", escapes);
      continue;
    }
    if (ch === '"') {
      i = skipQuoted(script, i + 1, '"', false);
      continue;
    }
    if (ch === '$' && (i === 0 || !IDENT_CONT.test(script[i - 1]))) {
      const tag = dollarTag(script, i);
      if (tag) {
        const close = script.indexOf(tag, i + tag.length);
        i = close === -1 ? n : close + tag.length;
        continue;
      }
    }
    i++;
  }
  push(n);
  return statements;
}

/** `$tag$` starting at `i`, or undefined when `$` there does not open a dollar quote ($1 is a parameter). */
function dollarTag(script: string, i: number): string | undefined {
  let j = i + 1;
  if (script[j] === '$') return '$$';
  if (!IDENT_START.test(script[j] ?? '')) return undefined;
  while (j < script.length && IDENT_CONT.test(script[j]) && script[j] !== '$') j++;
  return script[j] === '$' ? script.slice(i, j + 1) : undefined;
}

function skipQuoted(script: string, i: number, quote: string, backslash: boolean): number {
  while (i < script.length) {
    const ch = script[i];
    if (backslash && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (script[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return i;
}

function lineAt(lineStarts: number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** A statement shortened to one line for messages: comments dropped, spaces collapsed. */
export function summarize(statement: string, max = 80): string {
  const oneLine = statement
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return oneLine.length > max ? oneLine.slice(0, max - 1) + '…' : oneLine;
}
