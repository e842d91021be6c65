/**
 * Encryption at rest for backups: AES-256-GCM from node:crypto, streamed.
 *
 * File layout: a 53-byte header, the ciphertext, and the 16-byte GCM auth tag at the end.
 *   magic "CMMCENC\0" (8) | version 1 (1) | scrypt salt (16) | iv (12) | key check (16)
 * The key is scrypt(key file contents, salt). The key check (HMAC-SHA256 of a constant under the
 * key, first 16 bytes) tells a wrong key apart from a tampered file; the whole header is bound to
 * the ciphertext as additional authenticated data, so changing any byte fails authentication.
 */
import { type CipherGCM, createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, openSync, readSync, closeSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CmmcError } from '../errors.js';
import { readBounded } from '../fs-private.js';

const scrypt = promisify(scryptCb) as (password: Buffer, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

export const MAGIC = Buffer.from('CMMCENC\0', 'latin1');
export const VERSION = 1;
const SALT_LEN = 16;
const IV_LEN = 12;
const CHECK_LEN = 16;
const TAG_LEN = 16;
export const HEADER_LEN = MAGIC.length + 1 + SALT_LEN + IV_LEN + CHECK_LEN;
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** A key file holds a few dozen bytes; more than this is not one (/dev/zero would never end). */
const KEY_FILE_MAX = 1 << 20;

/** Reads a key file: at least 16 bytes; surrounding whitespace of a text key is ignored. */
export function readKeyFile(file: string): Buffer {
  let raw: Buffer;
  try {
    const read = readBounded(file, KEY_FILE_MAX);
    if (read.more) {
      throw new CmmcError('backup.key-file', `the key file ${file} holds more than 1 MiB: not a key (a device such as /dev/zero?)`, {
        hint: 'create one with: openssl rand -base64 48 > backup.key && chmod 600 backup.key',
      });
    }
    raw = read.data;
  } catch (err) {
    if (err instanceof CmmcError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? `the key file ${file} is a folder, not a file` : `cannot read the key file ${file}: ${code ?? (err as Error).message}`;
    throw new CmmcError('backup.key-file', why, {
      hint: 'create one with: openssl rand -base64 48 > backup.key && chmod 600 backup.key',
    });
  }
  const text = raw.toString('utf8');
  const key = /^[\x20-\x7e\s]*$/.test(text) ? Buffer.from(text.trim(), 'utf8') : raw;
  if (key.length < 16) {
    throw new CmmcError('backup.key-file', `the key file ${file} holds fewer than 16 bytes`, {
      hint: 'create one with: openssl rand -base64 48 > backup.key && chmod 600 backup.key',
    });
  }
  return key;
}

/**
 * Checks a key file that a job will read later (`backup schedule install`): it must be a regular
 * file holding a key now, by a path of its own. A pipe (`--key-file <(pass show key)`, a /dev/fd
 * path) is gone by the time the job runs, a file opened on this command's descriptor (`/dev/stdin <
 * backup.key`, `/dev/fd/3 3< backup.key`) is not open in the job, and a missing or empty file would
 * fail every nightly backup, said only in the job's log.
 * @throws CmmcError `backup.key-file` naming the file and what it is.
 */
export function checkKeyFileForLater(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new CmmcError('backup.key-file', `cannot read the key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; the scheduled backups would all fail, nothing was installed`, {
      hint: 'create one with: openssl rand -base64 48 > backup.key && chmod 600 backup.key',
    });
  }
  if (!st.isFile()) {
    const why = st.isFIFO()
      ? 'a pipe (process substitution?): the scheduled job reads the key file each time it runs, long after this pipe is gone'
      : `${st.isDirectory() ? 'a folder' : st.isSocket() ? 'a socket' : 'a device'}, not a file: the scheduled backups would all fail`;
    throw new CmmcError('backup.key-file', `the key file ${file} is ${why}; nothing was installed`, {
      hint: 'give a file that holds the key (chmod 600), readable by the user the job runs as',
    });
  }
  // A file now, through a descriptor of this command: the job started later has other ones.
  if (namesOwnDescriptor(file)) {
    throw new CmmcError('backup.key-file', `the key file ${file} is one of this command's open files (standard input, /dev/fd/N, /proc/…/fd/N), which the scheduled job does not have when it runs; nothing was installed`, {
      hint: "give the key file's own path (chmod 600), readable by the user the job runs as",
    });
  }
  readKeyFile(file);
}

/** An open file of a process: its standard streams, /dev/fd/N, /proc/<self|pid>/fd/N. */
const DESCRIPTOR_PATH = /^\/(?:dev\/(?:std(?:in|out|err)|fd\/\d+)|proc\/(?:self|thread-self|\d+)(?:\/task\/\d+)?\/fd\/\d+)$/;

/**
 * Whether `file`, or a link it leads through, names an open file of this process (`--key-file
 * /dev/stdin < backup.key`, `/dev/fd/3 3< backup.key`): a regular file now, and nothing, or another
 * file, for a job started later.
 */
function namesOwnDescriptor(file: string): boolean {
  let at = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    if (DESCRIPTOR_PATH.test(at)) return true;
    try {
      at = path.resolve(path.dirname(at), readlinkSync(at));
    } catch {
      // Not a link (or not there): the path is what it names.
      return false;
    }
  }
  return false;
}

/** True when group or others may read the key file (a regular file: a folder given by mistake is refused when read, not warned about). */
export function keyFileTooOpen(file: string): boolean {
  try {
    const st = statSync(file);
    return st.isFile() && (st.mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/**
 * The one check of a key file's mode, for every command that reads a key file (backup create,
 * verify, restore, and schedule install, which hands it to the nightly job): the line to print when
 * group or others may read it, or when someone else can put another key in its place: a folder on
 * its path, from its own up to /, that group or others may write without the sticky bit (they can
 * rename the key, or a folder holding it, away and put their own there), or that belongs to
 * another user than root and the one running (its owner can do the same). Both the path as given
 * and the one its links resolve to are checked, as OpenSSH's StrictModes checks the folders above
 * authorized_keys (auth.c: auth_secure_path). Undefined otherwise; the first folder found, nearest
 * first, is named.
 *
 * @example
 * ```ts
 * const warning = keyFileWarning('/etc/cmmc/backup.key');
 * if (warning) console.warn(warning);
 * ```
 */
export function keyFileWarning(file: string): string | undefined {
  if (keyFileTooOpen(file)) {
    const mode = (statSync(file).mode & 0o777).toString(8).padStart(3, '0');
    return `the key file ${file} is readable by other users (mode ${mode}): anyone who can read it can read the backups; chmod 600 it`;
  }
  const own = path.dirname(path.resolve(file));
  for (const folder of foldersAbove(file)) {
    const problem = folderProblem(folder);
    if (!problem) continue;
    const which = folder === own ? `the key file's folder ${folder}` : `the folder ${folder} above the key file`;
    // The nearest folder's own words stay as they were (scripts and docs quote them).
    const risk = folder === own ? 'replace the key with their own' : `rename the folder holding the key away and put their own key in its place`;
    return problem.kind === 'writable'
      ? `${which} is writable by other users (mode ${problem.mode}): anyone who can write there can ${risk}; chmod go-w it, or keep the key in a folder only you can write`
      : `${which} belongs to another user (uid ${problem.uid}): that user can ${risk}; keep the key under folders owned by you or root`;
  }
  return undefined;
}

/** The folders above `file`, nearest first up to /: along the path as given, then along the one its links resolve to. */
function foldersAbove(file: string): string[] {
  const walk = (dir: string): string[] => {
    const out = [dir];
    for (let d = dir; path.dirname(d) !== d; d = path.dirname(d)) out.push(path.dirname(d));
    return out;
  };
  const given = walk(path.dirname(path.resolve(file)));
  let real: string[] = [];
  try {
    real = walk(path.dirname(realpathSync(file)));
  } catch {
    // Not there (yet): reading the key will say what is wrong.
  }
  return [...new Set([...given, ...real])];
}

/** What lets someone else change what `folder` holds: others may write it (not sticky), or another user than root and us owns it. */
function folderProblem(folder: string): { kind: 'writable'; mode: string } | { kind: 'owner'; uid: number } | undefined {
  let st;
  try {
    st = statSync(folder);
  } catch {
    return undefined; // no folder to look at: reading the key will say what is wrong
  }
  if (!st.isDirectory()) return undefined;
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return { kind: 'writable', mode: (st.mode & 0o777).toString(8).padStart(3, '0') };
  const me = process.getuid?.();
  if (me !== undefined && st.uid !== 0 && st.uid !== me) return { kind: 'owner', uid: st.uid };
  return undefined;
}

async function deriveKey(secret: Buffer, salt: Buffer): Promise<{ key: Buffer; check: Buffer }> {
  const key = await scrypt(secret, salt, 32, SCRYPT);
  const check = createHmac('sha256', key).update('cmmc-db backup key check').digest().subarray(0, CHECK_LEN);
  return { key, check };
}

/** Whether a file starts with the encryption header. */
export function isEncryptedFile(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === MAGIC.length && head.equals(MAGIC);
  } finally {
    closeSync(fd);
  }
}

/** A prepared encryption: derive the key (slow, scrypt) before any data flows. */
export interface Encryption {
  header: Buffer;
  cipher: CipherGCM;
}

export async function prepareEncryption(secret: Buffer): Promise<Encryption> {
  const salt = randomBytes(SALT_LEN);
  const iv = randomBytes(IV_LEN);
  const { key, check } = await deriveKey(secret, salt);
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION]), salt, iv, check]);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(header);
  return { header, cipher };
}

/**
 * Encrypts a stream into `outFile` (created 0600). Call it as soon as the stream exists. A failed
 * write (ENOSPC: the disk is full) rejects with the error naming `outFile` (write(2) names none).
 */
export async function encryptStream(input: Readable, outFile: string, encryption: Encryption): Promise<void> {
  const { header, cipher } = encryption;
  const out = createWriteStream(outFile, { mode: 0o600 });
  try {
    out.write(header);
    await pipeline(input, cipher, out, { end: false });
    out.write(cipher.getAuthTag());
    await new Promise<void>((resolve, reject) => {
      out.on('error', reject);
      out.end(resolve);
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.errno === 'number' && e.path === undefined) Object.assign(e, { path: outFile, syscall: e.syscall ?? 'write' });
    throw err;
  }
}

/** Encrypts a file into another (created 0600). */
export async function encryptFile(inFile: string, outFile: string, secret: Buffer): Promise<void> {
  await encryptStream(createReadStream(inFile), outFile, await prepareEncryption(secret));
}

/**
 * Decrypts `inFile` into `outFile` (created 0600). A wrong key or any changed byte is a one-line
 * CmmcError; `outFile` may then hold partial plaintext and the caller must remove it.
 */
export async function decryptFile(inFile: string, outFile: string, secret: Buffer): Promise<void> {
  const size = statSync(inFile).size;
  const fd = openSync(inFile, 'r');
  let header: Buffer;
  let tag: Buffer;
  try {
    if (size < HEADER_LEN + TAG_LEN) throw tampered(inFile, 'it is too short to be an encrypted backup');
    header = Buffer.alloc(HEADER_LEN);
    readSync(fd, header, 0, HEADER_LEN, 0);
    tag = Buffer.alloc(TAG_LEN);
    readSync(fd, tag, 0, TAG_LEN, size - TAG_LEN);
  } finally {
    closeSync(fd);
  }
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CmmcError('backup.not-encrypted', `${inFile} is not a cmmc-db encrypted backup (bad header)`, { hint: 'the file was replaced or damaged; use another backup' });
  }
  const version = header[MAGIC.length];
  if (version !== VERSION) {
    throw new CmmcError('backup.encryption-version', `${inFile} uses encryption format version ${version}, this cmmc-db reads version ${VERSION}`, { hint: 'use a newer cmmc-db' });
  }
  let at = MAGIC.length + 1;
  const salt = header.subarray(at, (at += SALT_LEN));
  const iv = header.subarray(at, (at += IV_LEN));
  const check = header.subarray(at, (at += CHECK_LEN));
  const derived = await deriveKey(secret, salt);
  if (!timingSafeEqual(derived.check, check)) {
    throw new CmmcError('backup.wrong-key', `the key does not open ${inFile} (wrong key file)`, { hint: 'pass the key file the backup was made with: --key-file FILE' });
  }
  const decipher = createDecipheriv('aes-256-gcm', derived.key, iv);
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  const body = size - TAG_LEN > HEADER_LEN ? createReadStream(inFile, { start: HEADER_LEN, end: size - TAG_LEN - 1 }) : Readable.from([]);
  try {
    await pipeline(body, decipher, createWriteStream(outFile, { mode: 0o600 }));
  } catch (err) {
    if (/authenticate|auth tag/i.test((err as Error).message)) throw tampered(inFile, 'authentication failed');
    throw err;
  }
}

function tampered(file: string, why: string): CmmcError {
  return new CmmcError('backup.tampered', `${file} was changed or damaged after it was written (${why})`, {
    hint: 'do not use this backup; restore from another one',
  });
}
