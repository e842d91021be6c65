/**
 * A file's checksum is the sha256 of its normalised text (BOM dropped, CRLF and lone CR as LF),
 * whichever way it is worked out: files that are already normal are hashed from their bytes.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fileChecksum, normalizeText } from '../../src/sql/checksum.js';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('fileChecksum', () => {
  it.each([
    ['plain ASCII', Buffer.from('CREATE TABLE t (id int);\n')],
    ['UTF-8 beyond ASCII', Buffer.from("INSERT INTO c VALUES ('Zugangskontrolle – ü, 🔒');\n")],
    ['CRLF', Buffer.from('SELECT 1;\r\nSELECT 2;\r\n')],
    ['a lone CR', Buffer.from('SELECT 1;\rSELECT 2;\n')],
    ['a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('SELECT 1;\n')])],
    ['a BOM in the middle', Buffer.from('SELECT 1;\n\uFEFFSELECT 2;\n')],
    ['bytes that are not UTF-8', Buffer.from([0x53, 0x45, 0x4c, 0xff, 0xfe, 0x0a])],
    ['nothing', Buffer.alloc(0)],
  ])('%s: the sha256 of the normalised text, and that text', (_name, bytes) => {
    const text = normalizeText(bytes.toString('utf8'));
    const sums = fileChecksum(bytes);
    expect(sums.checksum).toBe(sha256(text));
    expect(sums.text).toBe(text);
    expect(sums.accepted.has(sha256(bytes))).toBe(true);
  });

  it('a slice of a larger buffer is read as itself', () => {
    const whole = Buffer.from('xxSELECT 1;\nyy');
    const part = whole.subarray(2, 12);
    expect(fileChecksum(part).checksum).toBe(sha256('SELECT 1;\n'));
  });
});
