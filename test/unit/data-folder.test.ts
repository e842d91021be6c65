/** The checksum the embedded data-folder check verifies pg_control and the relation maps with. */
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/embedded/data-folder.js';

describe('crc32c', () => {
  it('is CRC-32C (Castagnoli), as pg_crc32c: the standard check value, not zlib\'s CRC-32', () => {
    // The catalogue check value of CRC-32C for "123456789" (zlib's CRC-32 gives 0xcbf43926).
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });
});
