/**
 * SQL text helpers: split a script into statements and inline query parameters, both aware of
 * quoted strings, quoted identifiers, dollar-quoted bodies and comments.
 */

type Visitor = (kind: 'code' | 'skip', start: number, end: number) => void;

/** Walks `text`, reporting runs of plain code and runs to skip (strings, identifiers, dollar bodies, comments). */
function scan(text: string, visit: Visitor): void {
  let i = 0;
  let codeStart = 0;
  const skip = (start: number, end: number) => {
    if (start > codeStart) visit('code', codeStart, start);
    visit('skip', start, end);
    codeStart = end;
    i = end;
  };
  while (i < text.length) {
    const ch = text[i];
    const next = text[i + 1];
    if (ch === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      skip(i, end === -1 ? text.length : end);
    } else if (ch === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text[j] === '/' && text[j + 1] === '*') (depth++, (j += 2));
        else if (text[j] === '*' && text[j + 1] === '/') (depth--, (j += 2));
        else j++;
      }
      skip(i, j);
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      const escapes = ch === "'" && (text[i - 1] === 'E' || text[i - 1] === 'e') && !/[\w$]/.test(text[i - 2] ?? '');
      while (j < text.length) {
        if (escapes && text[j] === '\\') j += 2;
        else if (text[j] === ch && text[j + 1] === ch) j += 2;
        else if (text[j] === ch) break;
        else j++;
      }
      skip(i, Math.min(j + 1, text.length));
    } else if (ch === '$' && !/[\w$]/.test(text[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        skip(i, end === -1 ? text.length : end + tag[0].length);
      } else i++;
    } else i++;
  }
  if (codeStart < text.length) visit('code', codeStart, text.length);
}

/** Splits a script at top-level semicolons. Empty statements and comment-only pieces are dropped. */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  scan(script, (kind, s, e) => {
    if (kind !== 'code') return;
    for (let k = s; k < e; k++) {
      if (script[k] === ';') {
        out.push(script.slice(start, k));
        start = k + 1;
      }
    }
  });
  out.push(script.slice(start));
  return out.map((s) => s.trim()).filter((s) => stripComments(s).trim() !== '');
}

/** The text with comments removed (strings kept). */
export function stripComments(text: string): string {
  let out = '';
  scan(text, (kind, s, e) => {
    const piece = text.slice(s, e);
    if (kind === 'code' || !(piece.startsWith('--') || piece.startsWith('/*'))) out += piece;
  });
  return out;
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

/** Replaces `$1`, `$2`... outside strings, identifiers and comments with the parameters as literals. */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  if (parameters.length === 0) return text;
  let out = '';
  scan(text, (kind, s, e) => {
    const piece = text.slice(s, e);
    out +=
      kind === 'code'
        ? piece.replace(/\$(\d+)/g, (m, n: string) => {
            const idx = Number(n) - 1;
            if (idx < 0 || idx >= parameters.length) return m;
            return literal(parameters[idx]);
          })
        : piece;
  });
  return out;
}

/** Double-quotes an identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
