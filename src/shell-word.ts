/**
 * A value as one word of a POSIX shell command line, for the commands cmmc-db suggests ("next: ...")
 * to be pasted as they are: left bare when it holds only characters no shell treats specially,
 * else single-quoted (a single quote inside becomes '\'').
 */
export function shellWord(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
