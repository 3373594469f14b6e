/**
 * Immutable share layout, versions 1 and 2 (spec: shared/specs/tahoe-formats.md §3.9,
 * §3.11; upstream `immutable/layout.py`). This is the byte string a client writes to a
 * storage server for one share, and reads back with ranged reads.
 *
 *   header        v1: 9 × uint32 (0x24 bytes)   v2: uint32 version + 8 × uint64 (0x44 bytes)
 *   data          the share's blocks, one per segment
 *   plaintext     H zero bytes (the unused plaintext hash tree)
 *   crypttext     H bytes: crypttext hash tree, full array
 *   block hashes  H bytes: this share's block hash tree, full array
 *   share hashes  c × (uint16 node index ‖ 32-byte hash)
 *   UEB           uint32 (v1) / uint64 (v2) length, then the UEB
 *
 * with H = (2·next_pow2(num_segments) − 1)·32 and c = 1 + log2(next_pow2(N)). Version 1 is
 * used unless a field would not fit in 32 bits.
 */
import { TahoeError } from '../errors.js';
import { HASH_SIZE, treeDepth, treeNodeCount } from '../crypto/merkle.js';

export type LayoutVersion = 1 | 2;
export const SHARE_HASH_ENTRY_SIZE = 2 + HASH_SIZE;
const V1_HEADER_SIZE = 0x24;
const V2_HEADER_SIZE = 0x44;
/** Enough to parse either header version. */
export const MAX_HEADER_SIZE = V2_HEADER_SIZE;
/** No honest UEB comes near this (Tahoe's are ~300–850 bytes). */
export const MAX_UEB_LENGTH = 65536;
const UINT32_LIMIT = 2 ** 32;

export interface ShareOffsets {
  readonly data: number;
  readonly plaintextHashTree: number;
  readonly crypttextHashTree: number;
  readonly blockHashes: number;
  readonly shareHashes: number;
  readonly uriExtension: number;
}

export interface ShareHeader {
  readonly version: LayoutVersion;
  /** 4 (v1) or 8 (v2): width of the offsets and of the UEB length field. */
  readonly fieldSize: 4 | 8;
  readonly headerSize: number;
  /** Informational only; readers use the UEB's values. */
  readonly blockSize: number;
  readonly dataSize: number;
  readonly offsets: ShareOffsets;
}

export interface ShareLayout extends ShareHeader {
  /** Bytes of each hash-tree area (H). */
  readonly segmentHashTreeSize: number;
  readonly shareHashCount: number;
  readonly uebLength: number;
  /** Total bytes of the share: what the uploader allocates. */
  readonly totalSize: number;
}

/** Number of share-hash entries each share stores: 1 + log2(next_pow2(N)). */
export function shareHashCount(totalShares: number): number {
  return 1 + treeDepth(totalShares);
}

export interface LayoutInput {
  readonly blockSize: number;
  readonly dataSize: number;
  readonly numSegments: number;
  readonly totalShares: number;
  readonly uebLength: number;
  /** Force a version (tests); default: 1 when every field fits in 32 bits, else 2. */
  readonly version?: LayoutVersion;
}

export function computeShareLayout(input: LayoutInput): ShareLayout {
  const auto = computeForVersion(input, 1);
  if (input.version === 1) {
    if (!fitsV1(auto)) throw new TahoeError('BadInput', 'this share does not fit layout version 1', { hint: 'use layout version 2 (the default picks it automatically)' });
    return auto;
  }
  if (input.version === 2 || !fitsV1(auto)) return computeForVersion(input, 2);
  return auto;
}

function fitsV1(layout: ShareLayout): boolean {
  return layout.blockSize < UINT32_LIMIT && layout.dataSize < UINT32_LIMIT && layout.offsets.uriExtension < UINT32_LIMIT && layout.uebLength < UINT32_LIMIT;
}

function computeForVersion(input: LayoutInput, version: LayoutVersion): ShareLayout {
  const headerSize = version === 1 ? V1_HEADER_SIZE : V2_HEADER_SIZE;
  const fieldSize = version === 1 ? 4 : 8;
  const h = treeNodeCount(input.numSegments) * HASH_SIZE;
  const count = shareHashCount(input.totalShares);
  const data = headerSize;
  const plaintextHashTree = data + input.dataSize;
  const crypttextHashTree = plaintextHashTree + h;
  const blockHashes = crypttextHashTree + h;
  const shareHashes = blockHashes + h;
  const uriExtension = shareHashes + count * SHARE_HASH_ENTRY_SIZE;
  const totalSize = uriExtension + fieldSize + input.uebLength;
  if (!Number.isSafeInteger(totalSize)) throw new TahoeError('BadInput', 'the share would be larger than 2^53 bytes', { hint: 'use a larger k or split the file' });
  return {
    version,
    fieldSize,
    headerSize,
    blockSize: input.blockSize,
    dataSize: input.dataSize,
    offsets: { data, plaintextHashTree, crypttextHashTree, blockHashes, shareHashes, uriExtension },
    segmentHashTreeSize: h,
    shareHashCount: count,
    uebLength: input.uebLength,
    totalSize,
  };
}

function writeField(buf: Buffer, pos: number, value: number, fieldSize: 4 | 8): number {
  if (fieldSize === 4) buf.writeUInt32BE(value, pos);
  else buf.writeBigUInt64BE(BigInt(value), pos);
  return pos + fieldSize;
}

export function encodeShareHeader(layout: ShareHeader): Buffer {
  const buf = Buffer.alloc(layout.headerSize);
  buf.writeUInt32BE(layout.version, 0);
  let pos = 4;
  const o = layout.offsets;
  for (const value of [layout.blockSize, layout.dataSize, o.data, o.plaintextHashTree, o.crypttextHashTree, o.blockHashes, o.shareHashes, o.uriExtension]) {
    pos = writeField(buf, pos, value, layout.fieldSize);
  }
  return buf;
}

function corrupt(why: string, details: Record<string, string | number | boolean | undefined> = {}): TahoeError {
  return new TahoeError('ShareCorrupt', `share layout: ${why}`, { details: { reason: why, ...details } });
}

/** Bytes needed to parse a header that starts with `firstFour` (the version field). */
export function headerSizeOf(version: number): number {
  if (version === 1) return V1_HEADER_SIZE;
  if (version === 2) return V2_HEADER_SIZE;
  throw corrupt(`unknown share version ${version}`, { version });
}

/** Parse a share header (v1 or v2) and check its offsets are ordered and in range. */
export function parseShareHeader(bytes: Uint8Array): ShareHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) throw corrupt('shorter than a share header');
  const version = buf.readUInt32BE(0);
  const headerSize = headerSizeOf(version);
  if (buf.length < headerSize) throw corrupt(`v${version} header truncated (${buf.length} of ${headerSize} bytes)`);
  const fieldSize: 4 | 8 = version === 1 ? 4 : 8;
  const values: number[] = [];
  for (let pos = 4; pos < headerSize; pos += fieldSize) {
    if (fieldSize === 4) {
      values.push(buf.readUInt32BE(pos));
    } else {
      const v = buf.readBigUInt64BE(pos);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('a v2 header field exceeds 2^53');
      values.push(Number(v));
    }
  }
  const [blockSize, dataSize, data, plaintextHashTree, crypttextHashTree, blockHashes, shareHashes, uriExtension] = values;
  const offsets: ShareOffsets = { data, plaintextHashTree, crypttextHashTree, blockHashes, shareHashes, uriExtension };
  if (data < headerSize) throw corrupt('data starts inside the header', { data });
  const order = [data, plaintextHashTree, crypttextHashTree, blockHashes, shareHashes, uriExtension];
  for (let i = 1; i < order.length; i++) if (order[i] < order[i - 1]) throw corrupt('header offsets are not in ascending order');
  return { version: version as LayoutVersion, fieldSize, headerSize, blockSize, dataSize, offsets };
}

/**
 * The order in which Tahoe 1.20 writes share-hash entries. Its encoder builds a Python set
 * from the sibling list (leaf upward), adds the leaf, and writes the set in iteration
 * order. CPython iterates a set of small ints in hash-table slot order, so this replays
 * CPython's set insertion (hash(i) = i; 8 slots to start; 10 consecutive slots probed,
 * then perturbed jumps; table grown to the next power of two above 4·used once
 * fill·5 ≥ mask·3, re-inserting in slot order). The result is ascending for N ≤ 4 and
 * 9 ≤ N ≤ 16 and not otherwise (N = 8, share 0: 8, 2, 4, 7; N = 17, share 0: 32, 2, 4, 8,
 * 16, 31). Readers accept any order; this only makes our share bytes Tahoe's.
 */
export function tahoeShareHashOrder(totalShares: number, shareNumber: number): number[] {
  const width = 2 ** shareHashCount(totalShares) / 2;
  let node = width - 1 + shareNumber;
  const insertion: number[] = [];
  while (node !== 0) {
    insertion.push(node % 2 === 1 ? node + 1 : node - 1);
    node = (node - 1) >> 1;
  }
  insertion.push(width - 1 + shareNumber);
  return cpythonSmallIntSetOrder(insertion);
}

const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5;

function cpythonSmallIntSetOrder(values: readonly number[]): number[] {
  let table: Array<number | undefined> = new Array<number | undefined>(8);
  let used = 0;
  const place = (t: Array<number | undefined>, value: number): void => {
    const mask = t.length - 1;
    let perturb = value;
    let i = value & mask;
    for (;;) {
      const probes = i + LINEAR_PROBES <= mask ? LINEAR_PROBES : 0;
      for (let j = 0; j <= probes; j++) {
        if (t[i + j] === undefined) {
          t[i + j] = value;
          return;
        }
      }
      perturb = Math.floor(perturb / 2 ** PERTURB_SHIFT);
      i = (i * 5 + 1 + perturb) & mask;
    }
  };
  for (const value of values) {
    if (table.includes(value)) continue;
    place(table, value);
    used++;
    if (used * 5 >= (table.length - 1) * 3) {
      let size = 8;
      while (size <= used * 4) size *= 2;
      const grown = new Array<number | undefined>(size);
      for (const v of table) if (v !== undefined) place(grown, v);
      table = grown;
    }
  }
  return table.filter((v): v is number => v !== undefined);
}

/** Share-hash chain: `uint16 node index ‖ hash` per entry, in the given order. */
export function encodeShareHashChain(entries: ReadonlyArray<readonly [number, Uint8Array]>): Buffer {
  const buf = Buffer.alloc(entries.length * SHARE_HASH_ENTRY_SIZE);
  entries.forEach(([node, hash], i) => {
    if (hash.length !== HASH_SIZE) throw new TahoeError('Internal', 'share hash must be 32 bytes');
    buf.writeUInt16BE(node, i * SHARE_HASH_ENTRY_SIZE);
    buf.set(hash, i * SHARE_HASH_ENTRY_SIZE + 2);
  });
  return buf;
}

/** Parse a share-hash chain into node index → hash. Entries may come in any order. */
export function parseShareHashChain(bytes: Uint8Array): Map<number, Buffer> {
  if (bytes.length === 0 || bytes.length % SHARE_HASH_ENTRY_SIZE !== 0) {
    throw corrupt(`share hash area is ${bytes.length} bytes, not a positive multiple of ${SHARE_HASH_ENTRY_SIZE}`);
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chain = new Map<number, Buffer>();
  for (let pos = 0; pos < buf.length; pos += SHARE_HASH_ENTRY_SIZE) {
    const node = buf.readUInt16BE(pos);
    const hash = Buffer.from(buf.subarray(pos + 2, pos + SHARE_HASH_ENTRY_SIZE));
    const seen = chain.get(node);
    if (seen !== undefined && !seen.equals(hash)) throw corrupt(`share hash node ${node} listed twice with different values`);
    chain.set(node, hash);
  }
  return chain;
}

/** The UEB with its length prefix, as stored at `offsets.uriExtension`. */
export function encodeUebField(layout: Pick<ShareLayout, 'fieldSize'>, ueb: Uint8Array): Buffer {
  const buf = Buffer.alloc(layout.fieldSize + ueb.length);
  writeField(buf, 0, ueb.length, layout.fieldSize);
  buf.set(ueb, layout.fieldSize);
  return buf;
}

/** Read the UEB length prefix; refuses absurd lengths. */
export function parseUebLength(bytes: Uint8Array, fieldSize: 4 | 8): number {
  if (bytes.length < fieldSize) throw corrupt('UEB length field truncated');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = fieldSize === 4 ? buf.readUInt32BE(0) : buf.readBigUInt64BE(0);
  if (length > MAX_UEB_LENGTH || length < 1) throw corrupt(`UEB length ${length} is implausible`);
  return Number(length);
}

/**
 * Check that a header leaves room for what the file's plan says each area holds. Readers
 * locate areas through the offsets, but an area too small to hold its content is corrupt.
 */
export function checkHeaderAgainstPlan(header: ShareHeader, plan: { dataSize: number; numSegments: number; n: number }): void {
  const o = header.offsets;
  const h = treeNodeCount(plan.numSegments) * HASH_SIZE;
  if (o.plaintextHashTree - o.data < plan.dataSize) throw corrupt(`data area holds ${o.plaintextHashTree - o.data} bytes, the file needs ${plan.dataSize}`);
  if (o.blockHashes - o.crypttextHashTree < h) throw corrupt('crypttext hash tree area too small');
  if (o.shareHashes - o.blockHashes < h) throw corrupt('block hash tree area too small');
  const chainBytes = o.uriExtension - o.shareHashes;
  if (chainBytes === 0 || chainBytes % SHARE_HASH_ENTRY_SIZE !== 0 || chainBytes / SHARE_HASH_ENTRY_SIZE > treeNodeCount(plan.n)) {
    throw corrupt(`share hash area of ${chainBytes} bytes is malformed`);
  }
}
