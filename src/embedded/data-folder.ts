/**
 * Whether an existing data folder can be handed to PGlite, checked before it is opened. PGlite does
 * not refuse a damaged folder cleanly: without PG_VERSION it runs initdb over the data, and on most
 * other damage it starts, rewrites pg_control and the WAL, and only then stops with a generic error,
 * so the folder is no longer as it was. Everything checked here is read, never written, and is what
 * PostgreSQL itself reads first when it starts (src/backend/access/transam/xlog.c: ReadControlFile,
 * the checkpoint record's segment; src/backend/utils/cache/relmapper.c: the relation maps).
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The PostgreSQL major of the pinned PGlite (0.5.x is PostgreSQL 18): what its initdb writes into
 * PG_VERSION, and the only major it can open. Tested against a folder PGlite made.
 */
export const EMBEDDED_PG_MAJOR = '18';

/** The catalogs that always hold rows, by OID: pg_type, pg_attribute, pg_proc, pg_class, pg_authid, pg_database. */
const NEVER_EMPTY = new Set([1247, 1249, 1255, 1259, 1260, 1262]);
/** PostgreSQL's page size (BLCKSZ), which every relation file is a whole number of. */
const BLOCK_SIZE = 8192;
/** pg_control's size (PostgreSQL's PG_CONTROL_FILE_SIZE). */
const PG_CONTROL_SIZE = 8192;
/** The bytes of pg_control that ControlFileData may span, its CRC included (PG_CONTROL_MAX_SAFE_SIZE). */
const PG_CONTROL_MAX_SAFE_SIZE = 512;
/** relmapper.c: RELMAPPER_FILEMAGIC, MAX_MAPPINGS (PostgreSQL 16 and later), RELMAPPER_FILESIZE. */
const RELMAP_MAGIC = 0x592717;
const RELMAP_MAX_MAPPINGS = 64;
const RELMAP_CRC_OFFSET = 8 + RELMAP_MAX_MAPPINGS * 8;
const RELMAP_FILE_SIZE = RELMAP_CRC_OFFSET + 4;
/**
 * The databases every data folder has and PGlite needs, by their fixed OIDs (PostgreSQL 15 and
 * later): template1 (1), from which PGlite starts, and postgres (5), which it opens.
 */
const NEEDED_DATABASES = ['1', '5'];

/** What is wrong with a data folder, and how to fix it where the general fix does not fit. */
export interface DataFolderProblem {
  /** One clause naming the file and the fault: `global/pg_control fails its checksum (CRC-32C)`. */
  problem: string;
  hint?: string;
  /** False when the folder may be sound but is not one PGlite can open here (another major, a link). */
  damaged: boolean;
}

let table: Uint32Array | undefined;
/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as PostgreSQL's pg_crc32c checksums
 * pg_control and the relation maps. Node's zlib.crc32 is the other CRC-32 (IEEE), not this one.
 */
export function crc32c(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Where ControlFileData's CRC sits (it covers every byte before it), or -1 when no place matches: the
 * file is damaged. Found rather than assumed, since the struct's size differs between majors.
 */
function controlCrcOffset(control: Buffer): number {
  for (let n = 8; n + 4 <= PG_CONTROL_MAX_SAFE_SIZE; n += 4) {
    if (crc32c(control.subarray(0, n)) === control.readUInt32LE(n)) return n;
  }
  return -1;
}

const kindOf = (st: fs.Stats) => (st.isDirectory() ? 'folder' : st.isFile() ? 'file' : 'other');

/**
 * What is wrong with the existing data folder `dataDir`, or undefined when PGlite may open it. The
 * caller has made sure it is not absent or empty (a new database). Checks, in order: the files and
 * folders every data folder has; PG_VERSION names the embedded major; pg_control's size and CRC;
 * the WAL segment holding the last checkpoint (the start replays from it); the relation maps of the
 * shared catalogs and of every database, and each file they map; pg_xact holds a segment.
 */
export function dataFolderProblem(dataDir: string): DataFolderProblem | undefined {
  const problem = damage(dataDir);
  if (problem) return typeof problem === 'string' ? { problem, damaged: true } : problem;
  return undefined;
}

function damage(dataDir: string): string | DataFolderProblem | undefined {
  if (fs.lstatSync(dataDir).isSymbolicLink()) {
    // PGlite's Node file system does not follow it (ENOENT inside the WebAssembly).
    return {
      problem: `${path.basename(dataDir)} is a symbolic link (to ${fs.readlinkSync(dataDir)}), and the embedded database opens only a folder that is really there`,
      hint: `move that folder into ${path.basename(path.dirname(dataDir))} in place of the link, or put the whole embedded folder where you want it and point CMMC_DB_DIR at it (the embedded folder itself may be a link)`,
      damaged: false,
    };
  }
  if (!fs.statSync(dataDir).isDirectory()) return `${path.basename(dataDir)} is not a folder`;
  const needed: [string, 'file' | 'folder', number?][] = [
    ['PG_VERSION', 'file'],
    ['global', 'folder'],
    ['global/pg_control', 'file', PG_CONTROL_SIZE],
    ['global/pg_filenode.map', 'file', RELMAP_FILE_SIZE],
    ['base', 'folder'],
    ['pg_wal', 'folder'],
    ['pg_xact', 'folder'],
  ];
  for (const [rel, kind, size] of needed) {
    const st = fs.statSync(path.join(dataDir, rel), { throwIfNoEntry: false });
    if (!st) return `${rel} is missing`;
    if (kindOf(st) !== kind) return `${rel} is not a ${kind}`;
    if (size !== undefined && st.size !== size) return `${rel} is ${st.size} bytes, not ${size}`;
  }

  const version = fs.readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim();
  if (!/^\d+(\.\d+)?$/.test(version)) return `PG_VERSION holds ${JSON.stringify(version.slice(0, 40))}, not a PostgreSQL version`;
  if (version !== EMBEDDED_PG_MAJOR) {
    return {
      problem: `PG_VERSION says PostgreSQL ${version}: the embedded database is PostgreSQL ${EMBEDDED_PG_MAJOR} (PGlite), which cannot open another major's data folder`,
      hint: `open this folder with a PostgreSQL ${version} server instead (DATABASE_URL), or point CMMC_DB_DIR at a folder of the embedded database's own`,
      damaged: false,
    };
  }

  const control = fs.readFileSync(path.join(dataDir, 'global', 'pg_control'));
  if (controlCrcOffset(control) < 0) return 'global/pg_control fails its checksum (CRC-32C): it is damaged';

  const wal = walProblem(dataDir, control);
  if (wal) return wal;

  const databases = fs
    .readdirSync(path.join(dataDir, 'base'))
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(a) - Number(b));
  for (const oid of NEEDED_DATABASES) {
    if (!databases.includes(oid)) return `base/${oid} is missing (the folder of the ${oid === '1' ? 'template1' : 'postgres'} database)`;
  }
  for (const folder of ['global', ...databases.map((oid) => `base/${oid}`)]) {
    const map = relationMapProblem(dataDir, folder);
    if (map) return map;
  }

  if (!fs.readdirSync(path.join(dataDir, 'pg_xact')).some((name) => /^[0-9A-F]{4,}$/.test(name))) {
    return 'pg_xact holds no segment (the commit status of every transaction is gone)';
  }
  return undefined;
}

/**
 * The WAL segment that holds the last checkpoint (ControlFileData.checkPoint, at byte 32, on the
 * timeline of checkPointCopy.ThisTimeLineID, at byte 48) must be there, whole: starting replays from
 * it. The segment size is the size the folder's segments share (16 MiB unless initdb chose another).
 */
function walProblem(dataDir: string, control: Buffer): string | undefined {
  const walDir = path.join(dataDir, 'pg_wal');
  const segments = fs.readdirSync(walDir).filter((name) => /^[0-9A-F]{24}$/.test(name));
  if (!segments.length) return 'pg_wal holds no WAL segment (the last checkpoint is in one)';
  const sizes = new Set(segments.map((name) => fs.statSync(path.join(walDir, name)).size));
  const segmentSize = sizes.size === 1 ? [...sizes][0] : 16 * 1024 * 1024;
  if (segmentSize < 1024 * 1024 || (segmentSize & (segmentSize - 1)) !== 0) return `pg_wal's segments are ${segmentSize} bytes, not a power of two of at least 1 MiB`;
  const checkpoint = control.readBigUInt64LE(32);
  const timeline = control.readUInt32LE(48);
  const segno = checkpoint / BigInt(segmentSize);
  const perId = BigInt(0x100000000 / segmentSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  const name = `${hex(timeline)}${hex(segno / perId)}${hex(segno % perId)}`;
  const st = fs.statSync(path.join(walDir, name), { throwIfNoEntry: false });
  if (!st) return `pg_wal/${name} is missing: it holds the last checkpoint, which starting the database replays from`;
  if (!st.isFile() || st.size !== segmentSize) return `pg_wal/${name} is ${st.isFile() ? `${st.size} bytes, not ${segmentSize}` : 'not a file'}: it holds the last checkpoint`;
  return undefined;
}

/**
 * A relation map (`pg_filenode.map`) names the files of the catalogs that everything else is found
 * through (pg_class, pg_database, ...): its magic and CRC must hold, and every file it maps must be
 * there.
 */
function relationMapProblem(dataDir: string, folder: string): string | undefined {
  const rel = `${folder}/pg_filenode.map`;
  const st = fs.statSync(path.join(dataDir, rel), { throwIfNoEntry: false });
  if (!st) return `${rel} is missing (it locates the catalogs of ${folder === 'global' ? 'the cluster' : 'that database'})`;
  if (!st.isFile() || st.size !== RELMAP_FILE_SIZE) return `${rel} is ${st.isFile() ? `${st.size} bytes, not ${RELMAP_FILE_SIZE}` : 'not a file'}`;
  const map = fs.readFileSync(path.join(dataDir, rel));
  const count = map.readInt32LE(4);
  if (map.readInt32LE(0) !== RELMAP_MAGIC || count < 0 || count > RELMAP_MAX_MAPPINGS || crc32c(map.subarray(0, RELMAP_CRC_OFFSET)) !== map.readUInt32LE(RELMAP_CRC_OFFSET)) {
    return `${rel} fails its checksum (CRC-32C): it is damaged`;
  }
  for (let i = 0; i < count; i++) {
    const catalog = map.readUInt32LE(8 + i * 8);
    const file = `${folder}/${map.readUInt32LE(8 + i * 8 + 4)}`;
    const whose = `a catalog of ${folder === 'global' ? 'the cluster' : 'that database'}, listed in ${rel}`;
    const cat = fs.statSync(path.join(dataDir, file), { throwIfNoEntry: false });
    if (!cat) return `${file} is missing (${whose})`;
    // A relation file is whole pages (BLCKSZ, 8192 bytes; PostgreSQL extends it a page at a time).
    if (!cat.isFile() || cat.size % BLOCK_SIZE !== 0) return `${file} is ${cat.isFile() ? `${cat.size} bytes, not a whole number of ${BLOCK_SIZE}-byte pages` : 'not a file'} (${whose})`;
    if (cat.size === 0 && NEVER_EMPTY.has(catalog)) return `${file} is empty (${whose}: it always has rows)`;
  }
  return undefined;
}
