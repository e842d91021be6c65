/**
 * The project's one SQL lexer: it splits a script into statements where psql would, and knows
 * where strings, identifiers and comments are (for parameter inlining and comment stripping).
 * Used by plain-SQL revisions, seed files, offline (`--sql`) output and autogenerate output.
 *
 * It follows psql's own scanner (src/fe_utils/psqlscan.l, PostgreSQL 15): a `;` ends a statement
 * only outside
 * - quotes: standard strings '...' ('' doubles a quote; backslash is plain text, as with
 *   standard_conforming_strings = on), E'...' strings (backslash escapes), quoted identifiers "...",
 *   dollar quotes $$...$$ and $tag$...$tag$;
 * - comments: `--` to the end of the line, and nested block comments;
 * - parentheses (so `CREATE RULE ... DO (INSERT ...; UPDATE ...)` stays whole);
 * - a `BEGIN ... END` body of `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (SQL-standard bodies,
 *   `BEGIN ATOMIC ... END`, PostgreSQL 14+), with CASE ... END counted inside it.
 * A `COPY ... FROM STDIN` statement takes the lines after it, up to a line `\.` (or the end of the
 * script), as its data, as psql does.
 *
 * Pure; no I/O.
 */

export type TokenKind = 'space' | 'comment' | 'string' | 'quoted-ident' | 'dollar' | 'ident' | 'param' | 'semicolon' | 'open' | 'close' | 'other';

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
}

export interface SqlStatement {
  /** The statement without its terminating `;` (comments before it included), trimmed. */
  text: string;
  /** 1-based line of the statement's first token (after leading comments and blank lines). */
  line: number;
  /** 1-based position in the statement list. */
  index: number;
  /** For `COPY ... FROM STDIN`: the data lines (each ending in a newline), without the `\.` line. */
  copyData?: string;
}

/** A script the lexer cannot split the way psql would run it. */
export class SqlLexError extends Error {
  constructor(message: string, readonly line: number) {
    super(message);
    this.name = 'SqlLexError';
  }
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CONT = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLQ_CONT = /[A-Za-z0-9_\u0080-\uffff]/;

/** The tokens of `text` from `from` on (whitespace and comments included), one at a time. */
export function* tokens(text: string, from = 0): Generator<Token> {
  const n = text.length;
  let i = from;
  while (i < n) {
    const start = i;
    const ch = text[i];
    const next = text[i + 1];
    if (ch === '-' && next === '-') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? n : eol;
      yield { kind: 'comment', start, end: i };
    } else if (ch === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === '/' && text[i + 1] === '*') (depth++, (i += 2));
        else if (text[i] === '*' && text[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
      yield { kind: 'comment', start, end: i };
    } else if (/\s/.test(ch)) {
      while (i < n && /\s/.test(text[i])) i++;
      yield { kind: 'space', start, end: i };
    } else if (ch === "'") {
      i = skipQuoted(text, i + 1, "'", false);
      yield { kind: 'string', start, end: i };
    } else if (ch === '"') {
      i = skipQuoted(text, i + 1, '"', false);
      yield { kind: 'quoted-ident', start, end: i };
    } else if (ch === '$') {
      const tag = dollarTag(text, i);
      if (tag) {
        const close = text.indexOf(tag, i + tag.length);
        i = close === -1 ? n : close + tag.length;
        yield { kind: 'dollar', start, end: i };
      } else if (/[0-9]/.test(next ?? '')) {
        i++;
        while (i < n && /[0-9]/.test(text[i])) i++;
        yield { kind: 'param', start, end: i };
      } else {
        i++;
        yield { kind: 'other', start, end: i };
      }
    } else if (IDENT_START.test(ch)) {
      while (i < n && IDENT_CONT.test(text[i])) i++;
      // E'...' (backslash escapes); U&'...', B'...', X'...', N'...' quote like standard strings.
      if (text[i] === "'" && i - start === 1 && (ch === 'e' || ch === 'E')) {
        i = skipQuoted(text, i + 1, "'", true);
        yield { kind: 'string', start, end: i };
      } else if (text[i] === "'" && i - start === 1 && /[bBxXnN]/.test(ch)) {
        i = skipQuoted(text, i + 1, "'", false);
        yield { kind: 'string', start, end: i };
      } else if (i - start === 1 && (ch === 'u' || ch === 'U') && text[i] === '&' && (text[i + 1] === "'" || text[i + 1] === '"')) {
        const q = text[i + 1];
        i = skipQuoted(text, i + 2, q, false);
        yield { kind: q === "'" ? 'string' : 'quoted-ident', start, end: i };
      } else yield { kind: 'ident', start, end: i };
    } else if (/[0-9]/.test(ch)) {
      while (i < n && /[0-9A-Za-z_.]/.test(text[i])) i++;
      yield { kind: 'other', start, end: i };
    } else if (ch === ';') {
      i++;
      yield { kind: 'semicolon', start, end: i };
    } else if (ch === '(') {
      i++;
      yield { kind: 'open', start, end: i };
    } else if (ch === ')') {
      i++;
      yield { kind: 'close', start, end: i };
    } else {
      i++;
      yield { kind: 'other', start, end: i };
    }
  }
}

/** `$tag$` starting at `i`, or undefined when `$` there does not open a dollar quote. */
function dollarTag(text: string, i: number): string | undefined {
  let j = i + 1;
  if (text[j] === '$') return '$$';
  if (!IDENT_START.test(text[j] ?? '')) return undefined;
  while (j < text.length && DOLQ_CONT.test(text[j])) j++;
  return text[j] === '$' ? text.slice(i, j + 1) : undefined;
}

function skipQuoted(text: string, i: number, quote: string, backslash: boolean): number {
  while (i < text.length) {
    const ch = text[i];
    if (backslash && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (text[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return i;
}

/** psql's heuristic for SQL-standard function bodies: the statement began CREATE [OR REPLACE] FUNCTION|PROCEDURE. */
class BodyTracker {
  private words: string[] = [];
  private count = 0;
  depth = 0;

  word(w: string, parenDepth: number): void {
    const lower = w.toLowerCase();
    if (this.count < 4) this.words[this.count] = ['create', 'function', 'procedure', 'or', 'replace'].includes(lower) ? lower[0] : '';
    this.count++;
    const [a, b, c, d] = this.words;
    const routine = a === 'c' && (b === 'f' || b === 'p' || (b === 'o' && c === 'r' && (d === 'f' || d === 'p')));
    if (!routine || parenDepth !== 0) return;
    if (lower === 'begin') this.depth++;
    else if (lower === 'case' && this.depth >= 1) this.depth++;
    else if (lower === 'end' && this.depth > 0) this.depth--;
  }
}

/**
 * The statements of `script`, split where psql splits them; empty ones (only comments or blanks)
 * are left out. Throws SqlLexError when a COPY's line has more after its `;`.
 */
export function splitSql(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const lineStarts = [0];
  for (let k = 0; k < script.length; k++) if (script.charCodeAt(k) === 10) lineStarts.push(k + 1);
  let start = 0;
  let first = -1;
  let paren = 0;
  let body = new BodyTracker();
  let words: string[] = [];
  const reset = (at: number) => {
    start = at;
    first = -1;
    paren = 0;
    body = new BodyTracker();
    words = [];
  };
  let pos = 0;
  outer: for (;;) {
    for (const tok of tokens(script, pos)) {
      if (tok.kind === 'space' || tok.kind === 'comment') continue;
      if (tok.kind === 'semicolon' && paren === 0 && body.depth === 0) {
        const statement: SqlStatement | undefined =
          first >= 0 ? { text: script.slice(start, tok.start).trim(), line: lineAt(lineStarts, first), index: statements.length + 1 } : undefined;
        if (statement && isCopyFromStdin(words)) {
          // psql reads the data from the line after the COPY.
          const eol = script.indexOf('\n', tok.end);
          const rest = script.slice(tok.end, eol === -1 ? script.length : eol);
          if ([...tokens(rest)].some((t) => t.kind !== 'space' && t.kind !== 'comment')) {
            throw new SqlLexError('put COPY ... FROM stdin alone on its line: its data starts on the next line', statement.line);
          }
          const dataStart = eol === -1 ? script.length : eol + 1;
          const { data, end } = copyData(script, dataStart);
          statement.copyData = data;
          statements.push(statement);
          reset(end);
          pos = end;
          continue outer;
        }
        if (statement) statements.push(statement);
        reset(tok.end);
        continue;
      }
      if (first < 0) first = tok.start;
      if (tok.kind === 'open') paren++;
      else if (tok.kind === 'close' && paren > 0) paren--;
      else if (tok.kind === 'ident') {
        const w = script.slice(tok.start, tok.end);
        body.word(w, paren);
        if (paren === 0 && words.length < 64) words.push(w.toLowerCase());
      }
    }
    break;
  }
  if (first >= 0) statements.push({ text: script.slice(start).trim(), line: lineAt(lineStarts, first), index: statements.length + 1 });
  return statements;
}

/** COPY ... FROM STDIN, judged from the statement's top-level words (COPY (query) TO is not). */
function isCopyFromStdin(words: string[]): boolean {
  if (words[0] !== 'copy') return false;
  for (let k = 1; k < words.length - 1; k++) if (words[k] === 'from' && words[k + 1] === 'stdin') return true;
  return false;
}

/** The data lines from `at` to a line holding only `\.` (psql's end marker), or to the end. */
function copyData(script: string, at: number): { data: string; end: number } {
  let i = at;
  while (i < script.length) {
    const eol = script.indexOf('\n', i);
    const lineEnd = eol === -1 ? script.length : eol;
    const line = script.slice(i, lineEnd).replace(/\r$/, '');
    if (line === '\\.') return { data: script.slice(at, i), end: eol === -1 ? script.length : eol + 1 };
    i = lineEnd + 1;
  }
  const data = script.slice(at);
  return { data: data === '' || data.endsWith('\n') ? data : data + '\n', end: script.length };
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

/** Splits a script into statement texts (no line numbers); COPY data is lost: use splitSql for scripts that may hold COPY. */
export function splitStatements(script: string): string[] {
  return splitSql(script).map((s) => s.text);
}

/** The text with comments removed (strings, identifiers and dollar bodies kept). */
export function stripComments(text: string): string {
  let out = '';
  for (const t of tokens(text)) if (t.kind !== 'comment') out += text.slice(t.start, t.end);
  return out;
}

/** A statement shortened to one line for messages: comments dropped, spaces collapsed. */
export function summarize(statement: string, max = 80): string {
  const oneLine = stripComments(statement).replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? oneLine.slice(0, max - 1) + '…' : oneLine;
}

/** Replaces `$1`, `$2`... outside strings, identifiers and comments with the parameters as literals. */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  if (parameters.length === 0) return text;
  let out = '';
  for (const t of tokens(text)) {
    const piece = text.slice(t.start, t.end);
    if (t.kind === 'param') {
      const idx = Number(piece.slice(1)) - 1;
      out += idx >= 0 && idx < parameters.length ? literal(parameters[idx]) : piece;
    } else out += piece;
  }
  return out;
}

/** A statement as psql reads it in a script: `;` at the end, COPY data after it and `\.`. */
export function statementForScript(s: Pick<SqlStatement, 'text' | 'copyData'>): string {
  const t = s.text.trim();
  const terminated = t.endsWith(';') ? t : `${t};`;
  return s.copyData === undefined ? terminated : `${terminated}\n${s.copyData}\\.`;
}

/** A value as an SQL literal; safe to paste into a script. */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `'${value}'::float8`;
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return quote(value.toISOString());
  if (value instanceof Uint8Array) return `'\\x${Buffer.from(value).toString('hex')}'::bytea`;
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(', ')}]`;
  if (typeof value === 'object') return quote(JSON.stringify(value));
  return quote(String(value));
}

function quote(text: string): string {
  if (text.includes('\0')) throw new Error('a parameter contains a NUL character, which PostgreSQL text cannot hold');
  return `'${text.replace(/'/g, "''")}'`;
}

/** Double-quotes an identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
