/**
 * SDMF and MDMF share layouts, byte for byte as Tahoe-LAFS 1.20 writes them (spec:
 * shared/specs/tahoe-formats.md §4; upstream `docs/specifications/mutable.rst`,
 * `src/allmydata/mutable/layout.py`). All integers are big-endian.
 *
 * SDMF (version 0, one segment):
 *
 *   0    B    version = 0             ┐
 *   1    Q    seqnum                  │ checkstring  (">BQ32s16s", 57 bytes)
 *   9    32s  root hash               │
 *   41   16s  IV (= the salt)         ┘
 *   57   B    k                         signed prefix = bytes 0..75 (">BQ32s16sBBQQ")
 *   58   B    N
 *   59   Q    segment size
 *   67   Q    data length
 *   75   L×4  offsets: signature, share hash chain, block hash tree, share data
 *   91   Q×2  offsets: encrypted private key, EOF
 *   107  verification key (SPKI DER) │ signature │ share hash chain (">H32s" entries) │
 *        block hash tree │ share data │ encrypted private key
 *
 * MDMF (version 1):
 *
 *   0    B    version = 1             ┐ checkstring (">BQ32s", 41 bytes)
 *   1    Q    seqnum                  │
 *   9    32s  root hash               ┘
 *   41   B    k, 42 B N, 43 Q segment size, 51 Q data length   (signed: bytes 0..59)
 *   59   Q×8  offsets: encrypted private key, share hash chain, signature, verification
 *             key, end of verification key, share data, block hash tree, EOF
 *   123  encrypted private key │ share hash chain │ signature │ verification key │
 *        (zero bytes up to) 2167: share data = per segment salt(16) ‖ block │ block hash tree
 *
 * The MDMF share data always starts at 2167 = 123 + 1220 + 260 + 292 + 272 (room reserved
 * for the private key, signature, verification key and an 8-entry chain), so a writer
 * can place blocks before it knows the sizes of the rest.
 */
import { TahoeError } from '../errors.js';
import { HASH_SIZE, treeNodeCount } from '../crypto/merkle.js';
import type { MutableFormat } from './caps.js';

export const SDMF_VERSION = 0;
export const MDMF_VERSION = 1;
export const SALT_SIZE = 16;
export const SHARE_HASH_ENTRY_SIZE = 2 + HASH_SIZE;

export const SDMF_CHECKSTRING_LENGTH = 57;
export const SDMF_SIGNED_PREFIX_LENGTH = 75;
export const SDMF_HEADER_LENGTH = 107;
export const MDMF_CHECKSTRING_LENGTH = 41;
export const MDMF_SIGNED_PREFIX_LENGTH = 59;
export const MDMF_HEADER_LENGTH = 123;
/** Bytes enough to parse the header of either version. */
export const MAX_HEADER_LENGTH = MDMF_HEADER_LENGTH;

/** Room Tahoe reserves in MDMF shares (layout.py). */
export const MDMF_PRIVATE_KEY_ROOM = 1220;
export const MDMF_SIGNATURE_ROOM = 260;
export const MDMF_VERIFICATION_KEY_ROOM = 292;
export const MDMF_SHARE_HASH_CHAIN_ROOM = SHARE_HASH_ENTRY_SIZE * 8;
export const MDMF_SHARE_DATA_OFFSET = MDMF_HEADER_LENGTH + MDMF_PRIVATE_KEY_ROOM + MDMF_SIGNATURE_ROOM + MDMF_VERIFICATION_KEY_ROOM + MDMF_SHARE_HASH_CHAIN_ROOM;

/** k and N are single bytes in both headers. */
export const MAX_MUTABLE_SHARES = 255;
/** Largest verification key, signature or encrypted private key a share may claim (RSA-16384 would fit). */
export const MAX_KEY_REGION_BYTES = 16 * 1024;

export interface Region {
  readonly start: number;
  readonly end: number;
}

/** Where each part of a share lives (byte ranges from the start of the share). */
export interface MutableRegions {
  readonly verificationKey: Region;
  readonly signature: Region;
  readonly shareHashChain: Region;
  readonly blockHashTree: Region;
  readonly shareData: Region;
  readonly encryptedPrivateKey: Region;
  readonly eof: number;
}

/** The parsed, sanity-checked header of one share. */
export interface MutableShareHeader {
  readonly format: MutableFormat;
  readonly version: 0 | 1;
  readonly seqnum: number;
  readonly rootHash: Buffer;
  /** SDMF: the IV (salt) of the one segment; undefined for MDMF. */
  readonly salt: Buffer | undefined;
  readonly k: number;
  readonly n: number;
  readonly segmentSize: number;
  readonly dataLength: number;
  readonly numSegments: number;
  readonly headerLength: number;
  /** The signed bytes (75 for SDMF, 59 for MDMF). */
  readonly signedPrefix: Buffer;
  /** What read-test-write compares (57 bytes SDMF, 41 bytes MDMF). */
  readonly checkstring: Buffer;
  readonly regions: MutableRegions;
}

/** Everything in one share, as views into the share's bytes (no copies). */
export interface MutableShare {
  readonly header: MutableShareHeader;
  readonly verificationKey: Buffer;
  readonly signature: Buffer;
  /** Node index → hash (the leaf itself is never included). */
  readonly shareHashChain: Map<number, Buffer>;
  /** Breadth-first block hash tree of this share. */
  readonly blockHashTree: Buffer[];
  /** SDMF: the one block; MDMF: salt ‖ block for each segment, concatenated. */
  readonly shareData: Buffer;
  readonly encryptedPrivateKey: Buffer;
}

function corrupt(message: string, details: Record<string, string | number | boolean | undefined> = {}): TahoeError {
  return new TahoeError('ShareCorrupt', `mutable share: ${message}`, {
    hint: 'this share is damaged or was not written by Tahoe-LAFS; tahoe-ts uses another share when it can',
    details,
  });
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readUint64(buf: Buffer, offset: number, what: string): number {
  const value = buf.readBigUInt64BE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${what} ${value} is impossibly large`, { field: what });
  return Number(value);
}

const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);
const nextMultiple = (x: number, k: number): number => ceilDiv(x, k) * k;

/** Segment geometry of a version: what the header's numbers imply. */
export interface MutableGeometry {
  readonly numSegments: number;
  /** Block size of a full segment (segmentSize / k, rounded up). */
  readonly blockSize: number;
  /** Plaintext bytes in the last segment (0 for an empty file). */
  readonly tailSegmentSize: number;
  readonly tailBlockSize: number;
  /** Bytes of share data in each share. */
  readonly shareDataLength: number;
  /** Nodes in each share's block hash tree. */
  readonly blockHashTreeNodes: number;
}

export function mutableGeometry(format: MutableFormat, k: number, segmentSize: number, dataLength: number): MutableGeometry {
  const numSegments = dataLength === 0 ? 0 : format === 'SDMF' ? 1 : ceilDiv(dataLength, segmentSize);
  const blockSize = segmentSize === 0 ? 0 : ceilDiv(segmentSize, k);
  const tailSegmentSize = numSegments === 0 ? 0 : dataLength - (numSegments - 1) * segmentSize;
  const tailBlockSize = numSegments === 0 ? 0 : ceilDiv(tailSegmentSize, k);
  const shareDataLength = numSegments === 0 ? 0
    : format === 'SDMF' ? blockSize
      : (numSegments - 1) * (blockSize + SALT_SIZE) + tailBlockSize + SALT_SIZE;
  // An empty file still has a one-node block hash tree (Tahoe hashes an empty leaf list
  // into a single "empty leaf" node).
  return { numSegments, blockSize, tailSegmentSize, tailBlockSize, shareDataLength, blockHashTreeNodes: treeNodeCount(Math.max(1, numSegments)) };
}

/** Check k, N, segment size and data length against each other (both versions). */
function checkParameters(format: MutableFormat, k: number, n: number, segmentSize: number, dataLength: number): void {
  if (k < 1 || n < k || n > MAX_MUTABLE_SHARES) throw corrupt(`impossible encoding k=${k}, N=${n}`, { k, n });
  if (format === 'SDMF') {
    // One segment holds everything; Tahoe pads it to a multiple of k.
    if (dataLength > segmentSize) throw corrupt(`SDMF data length ${dataLength} exceeds its segment size ${segmentSize}`);
  } else {
    if (dataLength > 0 && segmentSize === 0) throw corrupt('MDMF segment size is 0 for a non-empty file');
    if (segmentSize % k !== 0) throw corrupt(`MDMF segment size ${segmentSize} is not a multiple of k=${k}`);
  }
}

/**
 * Parse and check the fixed header at the start of a share (at least 107 bytes for SDMF,
 * 123 for MDMF). Offsets must be in the order the format defines, and the share-data and
 * block-hash-tree areas must have the sizes the header's numbers imply. Any violation is
 * `ShareCorrupt`.
 */
export function parseMutableHeader(bytes: Uint8Array): MutableShareHeader {
  const buf = view(bytes);
  if (buf.length < 1) throw corrupt('the share is empty');
  const version = buf[0];
  if (version !== SDMF_VERSION && version !== MDMF_VERSION) {
    throw corrupt(`unknown mutable share version ${version}`, { version });
  }
  const format: MutableFormat = version === SDMF_VERSION ? 'SDMF' : 'MDMF';
  const headerLength = format === 'SDMF' ? SDMF_HEADER_LENGTH : MDMF_HEADER_LENGTH;
  if (buf.length < headerLength) throw corrupt(`the header needs ${headerLength} bytes, only ${buf.length} present`, { length: buf.length });
  const seqnum = readUint64(buf, 1, 'seqnum');
  const rootHash = Buffer.from(buf.subarray(9, 41));
  let pos = 41;
  let salt: Buffer | undefined;
  if (format === 'SDMF') {
    salt = Buffer.from(buf.subarray(41, 57));
    pos = 57;
  }
  const k = buf[pos];
  const n = buf[pos + 1];
  const segmentSize = readUint64(buf, pos + 2, 'segment size');
  const dataLength = readUint64(buf, pos + 10, 'data length');
  pos += 18;
  checkParameters(format, k, n, segmentSize, dataLength);
  const geometry = mutableGeometry(format, k, segmentSize, dataLength);
  const signedLength = pos;
  let regions: MutableRegions;
  if (format === 'SDMF') {
    const signature = buf.readUInt32BE(pos);
    const chain = buf.readUInt32BE(pos + 4);
    const bht = buf.readUInt32BE(pos + 8);
    const data = buf.readUInt32BE(pos + 12);
    const privkey = readUint64(buf, pos + 16, 'private-key offset');
    const eof = readUint64(buf, pos + 24, 'EOF offset');
    const order = [headerLength, signature, chain, bht, data, privkey, eof];
    checkOrder(order, ['header end', 'signature', 'share hash chain', 'block hash tree', 'share data', 'encrypted private key', 'EOF']);
    regions = {
      verificationKey: { start: headerLength, end: signature },
      signature: { start: signature, end: chain },
      shareHashChain: { start: chain, end: bht },
      blockHashTree: { start: bht, end: data },
      shareData: { start: data, end: privkey },
      encryptedPrivateKey: { start: privkey, end: eof },
      eof,
    };
  } else {
    const o = Array.from({ length: 8 }, (_, i) => readUint64(buf, pos + 8 * i, 'offset'));
    const [privkey, chain, signature, vk, vkEnd, data, bht, eof] = o;
    checkOrder([headerLength, privkey, chain, signature, vk, vkEnd, data, bht, eof],
      ['header end', 'encrypted private key', 'share hash chain', 'signature', 'verification key', 'end of verification key', 'share data', 'block hash tree', 'EOF']);
    regions = {
      encryptedPrivateKey: { start: privkey, end: chain },
      shareHashChain: { start: chain, end: signature },
      signature: { start: signature, end: vk },
      verificationKey: { start: vk, end: vkEnd },
      shareData: { start: data, end: bht },
      blockHashTree: { start: bht, end: eof },
      eof,
    };
  }
  // A reader fetches the key and the signature before it can check anything, so their
  // sizes come from whoever stored the share: keep a forged header from making it fetch
  // gigabytes (RSA-2048 as Tahoe uses: a 294-byte key, a 256-byte signature).
  for (const [what, region] of [['verification key', regions.verificationKey], ['signature', regions.signature], ['encrypted private key', regions.encryptedPrivateKey]] as const) {
    const bytes = region.end - region.start;
    if (bytes > MAX_KEY_REGION_BYTES) throw corrupt(`the ${what} is ${bytes} bytes, more than the ${MAX_KEY_REGION_BYTES} any RSA key needs`, { field: what, bytes });
  }
  const dataBytes = regions.shareData.end - regions.shareData.start;
  if (dataBytes !== geometry.shareDataLength) {
    throw corrupt(`share data is ${dataBytes} bytes, but k=${k}, segment size ${segmentSize} and length ${dataLength} need ${geometry.shareDataLength}`);
  }
  const bhtBytes = regions.blockHashTree.end - regions.blockHashTree.start;
  if (bhtBytes !== geometry.blockHashTreeNodes * HASH_SIZE) {
    throw corrupt(`block hash tree is ${bhtBytes} bytes, expected ${geometry.blockHashTreeNodes * HASH_SIZE}`);
  }
  const chainBytes = regions.shareHashChain.end - regions.shareHashChain.start;
  if (chainBytes % SHARE_HASH_ENTRY_SIZE !== 0 || chainBytes > MDMF_SHARE_HASH_CHAIN_ROOM) {
    throw corrupt(`share hash chain is ${chainBytes} bytes, not a multiple of ${SHARE_HASH_ENTRY_SIZE} up to ${MDMF_SHARE_HASH_CHAIN_ROOM}`);
  }
  const checkLength = format === 'SDMF' ? SDMF_CHECKSTRING_LENGTH : MDMF_CHECKSTRING_LENGTH;
  return {
    format, version, seqnum, rootHash, salt, k, n, segmentSize, dataLength,
    numSegments: geometry.numSegments,
    headerLength,
    signedPrefix: Buffer.from(buf.subarray(0, signedLength)),
    checkstring: Buffer.from(buf.subarray(0, checkLength)),
    regions,
  };
}

function checkOrder(values: number[], names: string[]): void {
  for (let i = 1; i < values.length; i++) {
    if (values[i] < values[i - 1]) throw corrupt(`offset of ${names[i]} (${values[i]}) lies before ${names[i - 1]} (${values[i - 1]})`);
  }
}

/** The geometry implied by a parsed header. */
export function geometryOf(header: Pick<MutableShareHeader, 'format' | 'k' | 'segmentSize' | 'dataLength'>): MutableGeometry {
  return mutableGeometry(header.format, header.k, header.segmentSize, header.dataLength);
}

/** Parse a share-hash chain area: `>H32s` entries; duplicates or out-of-range nodes are corrupt. */
export function parseShareHashChain(bytes: Uint8Array, n: number): Map<number, Buffer> {
  const buf = view(bytes);
  if (buf.length % SHARE_HASH_ENTRY_SIZE !== 0) throw corrupt(`share hash chain is ${buf.length} bytes, not a multiple of ${SHARE_HASH_ENTRY_SIZE}`);
  const nodes = treeNodeCount(n);
  const chain = new Map<number, Buffer>();
  for (let pos = 0; pos < buf.length; pos += SHARE_HASH_ENTRY_SIZE) {
    const node = buf.readUInt16BE(pos);
    if (node >= nodes) throw corrupt(`share hash chain names node ${node}, but a tree over N=${n} shares has ${nodes} nodes`);
    if (chain.has(node)) throw corrupt(`share hash chain names node ${node} twice`);
    chain.set(node, buf.subarray(pos + 2, pos + SHARE_HASH_ENTRY_SIZE));
  }
  return chain;
}

/** Serialise a share-hash chain in ascending node order, as Tahoe's mutable writers do. */
export function encodeShareHashChain(chain: ReadonlyMap<number, Uint8Array>): Buffer {
  const nodes = [...chain.keys()].sort((a, b) => a - b);
  const out = Buffer.alloc(nodes.length * SHARE_HASH_ENTRY_SIZE);
  nodes.forEach((node, i) => {
    const hash = chain.get(node) as Uint8Array;
    if (hash.length !== HASH_SIZE) throw new TahoeError('Internal', `share hash ${node} is ${hash.length} bytes`);
    out.writeUInt16BE(node, i * SHARE_HASH_ENTRY_SIZE);
    out.set(hash, i * SHARE_HASH_ENTRY_SIZE + 2);
  });
  return out;
}

export function parseBlockHashTree(bytes: Uint8Array): Buffer[] {
  const buf = view(bytes);
  if (buf.length % HASH_SIZE !== 0) throw corrupt(`block hash tree is ${buf.length} bytes, not a multiple of ${HASH_SIZE}`);
  const out: Buffer[] = [];
  for (let pos = 0; pos < buf.length; pos += HASH_SIZE) out.push(buf.subarray(pos, pos + HASH_SIZE));
  return out;
}

function regionOf(buf: Buffer, region: Region): Buffer {
  return buf.subarray(region.start, region.end);
}

/** Parse a whole share (all bytes up to EOF must be present; bytes after EOF are ignored). */
export function unpackMutableShare(bytes: Uint8Array): MutableShare {
  const buf = view(bytes);
  const header = parseMutableHeader(buf);
  if (buf.length < header.regions.eof) {
    throw corrupt(`share is ${buf.length} bytes but its header says it ends at ${header.regions.eof}`, { length: buf.length, eof: header.regions.eof });
  }
  const r = header.regions;
  return {
    header,
    verificationKey: regionOf(buf, r.verificationKey),
    signature: regionOf(buf, r.signature),
    shareHashChain: parseShareHashChain(regionOf(buf, r.shareHashChain), header.n),
    blockHashTree: parseBlockHashTree(regionOf(buf, r.blockHashTree)),
    shareData: regionOf(buf, r.shareData),
    encryptedPrivateKey: regionOf(buf, r.encryptedPrivateKey),
  };
}

/** Byte range of segment `segment`'s salt ‖ block (MDMF) or block (SDMF) inside the share. */
export function blockRegion(header: MutableShareHeader, segment: number): Region {
  const g = geometryOf(header);
  if (!Number.isInteger(segment) || segment < 0 || segment >= g.numSegments) {
    throw new TahoeError('Internal', `segment ${segment} outside 0..${g.numSegments - 1}`);
  }
  const base = header.regions.shareData.start;
  if (header.format === 'SDMF') return { start: base, end: base + g.blockSize };
  const start = base + segment * (g.blockSize + SALT_SIZE);
  const length = (segment === g.numSegments - 1 ? g.tailBlockSize : g.blockSize) + SALT_SIZE;
  return { start, end: start + length };
}

/** The fields both versions sign, as numbers and hashes. */
export interface SignedFields {
  readonly seqnum: number;
  readonly rootHash: Uint8Array;
  readonly k: number;
  readonly n: number;
  readonly segmentSize: number;
  readonly dataLength: number;
}

function checkSignedFields(fields: SignedFields): void {
  if (!Number.isSafeInteger(fields.seqnum) || fields.seqnum < 0) throw new TahoeError('Internal', `bad seqnum ${fields.seqnum}`);
  if (fields.rootHash.length !== HASH_SIZE) throw new TahoeError('Internal', 'root hash must be 32 bytes');
  if (!Number.isInteger(fields.k) || !Number.isInteger(fields.n) || fields.k < 1 || fields.n < fields.k || fields.n > MAX_MUTABLE_SHARES) {
    throw new TahoeError('BadInput', `mutable files need 1 ≤ k ≤ N ≤ ${MAX_MUTABLE_SHARES}, not k=${fields.k}, N=${fields.n}`, {
      hint: `k and N are single bytes in mutable shares: lower shares.total to at most ${MAX_MUTABLE_SHARES}`,
    });
  }
}

/** SDMF signed prefix `>BQ32s16sBBQQ` (75 bytes). */
export function sdmfSignedPrefix(fields: SignedFields & { readonly salt: Uint8Array }): Buffer {
  checkSignedFields(fields);
  if (fields.salt.length !== SALT_SIZE) throw new TahoeError('Internal', 'SDMF salt must be 16 bytes');
  const out = Buffer.alloc(SDMF_SIGNED_PREFIX_LENGTH);
  out[0] = SDMF_VERSION;
  out.writeBigUInt64BE(BigInt(fields.seqnum), 1);
  out.set(fields.rootHash, 9);
  out.set(fields.salt, 41);
  out[57] = fields.k;
  out[58] = fields.n;
  out.writeBigUInt64BE(BigInt(fields.segmentSize), 59);
  out.writeBigUInt64BE(BigInt(fields.dataLength), 67);
  return out;
}

/** MDMF signed prefix `>BQ32sBBQQ` (59 bytes). */
export function mdmfSignedPrefix(fields: SignedFields): Buffer {
  checkSignedFields(fields);
  const out = Buffer.alloc(MDMF_SIGNED_PREFIX_LENGTH);
  out[0] = MDMF_VERSION;
  out.writeBigUInt64BE(BigInt(fields.seqnum), 1);
  out.set(fields.rootHash, 9);
  out[41] = fields.k;
  out[42] = fields.n;
  out.writeBigUInt64BE(BigInt(fields.segmentSize), 43);
  out.writeBigUInt64BE(BigInt(fields.dataLength), 51);
  return out;
}

/** The checkstring: SDMF `>BQ32s16s`, MDMF `>BQ32s`. */
export function packCheckstring(format: MutableFormat, seqnum: number, rootHash: Uint8Array, salt?: Uint8Array): Buffer {
  const sdmf = format === 'SDMF';
  if (sdmf && salt?.length !== SALT_SIZE) throw new TahoeError('Internal', 'an SDMF checkstring needs the 16-byte salt');
  const out = Buffer.alloc(sdmf ? SDMF_CHECKSTRING_LENGTH : MDMF_CHECKSTRING_LENGTH);
  out[0] = sdmf ? SDMF_VERSION : MDMF_VERSION;
  out.writeBigUInt64BE(BigInt(seqnum), 1);
  out.set(rootHash, 9);
  if (sdmf && salt !== undefined) out.set(salt, 41);
  return out;
}

/** Parse a checkstring read back from a server (e.g. the read vector of a write). */
export function parseCheckstring(bytes: Uint8Array): { format: MutableFormat; seqnum: number; rootHash: Buffer; salt?: Buffer } {
  const buf = view(bytes);
  if (buf.length === 0) throw corrupt('empty checkstring');
  const format: MutableFormat | undefined = buf[0] === SDMF_VERSION ? 'SDMF' : buf[0] === MDMF_VERSION ? 'MDMF' : undefined;
  if (format === undefined) throw corrupt(`checkstring of unknown version ${buf[0]}`);
  const need = format === 'SDMF' ? SDMF_CHECKSTRING_LENGTH : MDMF_CHECKSTRING_LENGTH;
  if (buf.length < need) throw corrupt(`checkstring is ${buf.length} bytes, need ${need}`);
  return {
    format,
    seqnum: readUint64(buf, 1, 'seqnum'),
    rootHash: Buffer.from(buf.subarray(9, 41)),
    ...(format === 'SDMF' ? { salt: Buffer.from(buf.subarray(41, 57)) } : {}),
  };
}

export interface SdmfShareInput extends SignedFields {
  readonly salt: Uint8Array;
  readonly verificationKey: Uint8Array;
  readonly signature: Uint8Array;
  readonly shareHashChain: ReadonlyMap<number, Uint8Array>;
  readonly blockHashTree: readonly Uint8Array[];
  readonly shareData: Uint8Array;
  readonly encryptedPrivateKey: Uint8Array;
}

/** Pack an SDMF share exactly as Tahoe's `pack_share`/`SDMFSlotWriteProxy` do. */
export function packSdmfShare(input: SdmfShareInput): Buffer {
  const prefix = sdmfSignedPrefix(input);
  const chain = encodeShareHashChain(input.shareHashChain);
  const bht = Buffer.concat(input.blockHashTree);
  const signature = SDMF_HEADER_LENGTH + input.verificationKey.length;
  const chainAt = signature + input.signature.length;
  const bhtAt = chainAt + chain.length;
  const dataAt = bhtAt + bht.length;
  const privkeyAt = dataAt + input.shareData.length;
  const eof = privkeyAt + input.encryptedPrivateKey.length;
  if (privkeyAt >= 2 ** 32) {
    throw new TahoeError('BadInput', 'an SDMF share cannot hold this much data (32-bit offsets)', { hint: 'use MDMF for large mutable files' });
  }
  const offsets = Buffer.alloc(32);
  offsets.writeUInt32BE(signature, 0);
  offsets.writeUInt32BE(chainAt, 4);
  offsets.writeUInt32BE(bhtAt, 8);
  offsets.writeUInt32BE(dataAt, 12);
  offsets.writeBigUInt64BE(BigInt(privkeyAt), 16);
  offsets.writeBigUInt64BE(BigInt(eof), 24);
  return Buffer.concat([prefix, offsets, input.verificationKey, input.signature, chain, bht, input.shareData, input.encryptedPrivateKey], eof);
}

export interface MdmfShareInput extends SignedFields {
  readonly encryptedPrivateKey: Uint8Array;
  readonly shareHashChain: ReadonlyMap<number, Uint8Array>;
  readonly signature: Uint8Array;
  readonly verificationKey: Uint8Array;
  /** salt ‖ block for each segment, concatenated (empty for an empty file). */
  readonly shareData: Uint8Array;
  readonly blockHashTree: readonly Uint8Array[];
}

/** Offsets of an MDMF share with the given variable-size parts. */
export function mdmfOffsets(sizes: { encryptedPrivateKey: number; shareHashChain: number; signature: number; verificationKey: number; shareData: number; blockHashTree: number }): number[] {
  const privkey = MDMF_HEADER_LENGTH;
  const chain = privkey + sizes.encryptedPrivateKey;
  const signature = chain + sizes.shareHashChain;
  const vk = signature + sizes.signature;
  const vkEnd = vk + sizes.verificationKey;
  if (vkEnd > MDMF_SHARE_DATA_OFFSET) {
    throw new TahoeError('Internal', `MDMF key material (${vkEnd - MDMF_HEADER_LENGTH} bytes) overflows the room Tahoe reserves before the share data`);
  }
  const data = MDMF_SHARE_DATA_OFFSET;
  const bht = data + sizes.shareData;
  const eof = bht + sizes.blockHashTree;
  return [privkey, chain, signature, vk, vkEnd, data, bht, eof];
}

/** Encode the 64-byte MDMF offset table. */
export function encodeMdmfOffsets(offsets: readonly number[]): Buffer {
  const out = Buffer.alloc(64);
  offsets.forEach((o, i) => out.writeBigUInt64BE(BigInt(o), 8 * i));
  return out;
}

/**
 * Pack an MDMF share as the bytes a storage server holds after Tahoe's
 * `MDMFSlotWriteProxy` wrote it: the gap between the verification key and the share data
 * is zero-filled (the server extends a share with zeros).
 */
export function packMdmfShare(input: MdmfShareInput): Buffer {
  const prefix = mdmfSignedPrefix(input);
  const chain = encodeShareHashChain(input.shareHashChain);
  const bht = Buffer.concat(input.blockHashTree);
  const offsets = mdmfOffsets({
    encryptedPrivateKey: input.encryptedPrivateKey.length, shareHashChain: chain.length, signature: input.signature.length,
    verificationKey: input.verificationKey.length, shareData: input.shareData.length, blockHashTree: bht.length,
  });
  const out = Buffer.alloc(offsets[7]);
  prefix.copy(out, 0);
  encodeMdmfOffsets(offsets).copy(out, MDMF_SIGNED_PREFIX_LENGTH);
  out.set(input.encryptedPrivateKey, offsets[0]);
  out.set(chain, offsets[1]);
  out.set(input.signature, offsets[2]);
  out.set(input.verificationKey, offsets[3]);
  out.set(input.shareData, offsets[5]);
  out.set(bht, offsets[6]);
  return out;
}

export { nextMultiple, ceilDiv };
