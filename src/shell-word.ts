/**
 * A value as one word of a POSIX shell command line, for the commands cmmc-db suggests ("next: ...")
 * to be pasted as they are: left bare when it holds only characters no shell treats specially,
 * else single-quoted (a single quote inside becomes '\'').
 */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : shellQuoted(value);
}

/** Always single-quoted for sh (a single quote inside becomes '\''). */
export function shellQuoted(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
