/**
 * The server-side share containers, byte-compatible with Tahoe-LAFS 1.20's disk backend
 * so that a share directory can move between a Tahoe server and a tahoe-ts server.
 *
 * Spec: shared/specs/tahoe-formats.md §3.10 and tahoe-lafs `storage/immutable.py`,
 * `storage/mutable.py`, `storage/lease.py`, `storage/*_schema.py` (facts only):
 *
 * Immutable (`storage/shares/<si[:2]>/<si>/<shnum>`):
 *   0x00 uint32 container version (1: lease secrets as sent, 2: BLAKE2b-256 of them)
 *   0x04 uint32 share data length, saturated at 2^32-1 (unused by modern servers)
 *   0x08 uint32 number of leases
 *   0x0c share data, then the leases, 72 bytes each:
 *        uint32 owner number, 32 B renew secret, 32 B cancel secret, uint32 expiry (s)
 *
 * Mutable:
 *   0    32 B magic "Tahoe mutable container v<N>\n" + 5 bytes (v1: 75 09 44 03 8e;
 *        v2: tagged_hash("allmydata_mutable_container_header", first 27 bytes)[:5])
 *   32   20 B node id of the server that recorded the write enabler
 *   52   32 B write enabler (stored as sent, in both versions)
 *   84   uint64 data length
 *   92   uint64 offset of the extra-lease block
 *   100  four lease slots of 92 bytes: uint32 owner (0 = empty), uint32 expiry,
 *        32 B renew, 32 B cancel, 20 B node id
 *   468  share data; at the extra-lease offset: uint32 count, then count × 92 B leases
 * All integers big-endian.
 */
import { timingSafeEqual } from 'node:crypto';
import { taggedHash } from '../crypto/hashes.js';
import { blake2b } from './blake2b.js';

export type ShareKind = 'immutable' | 'mutable';

export const IMMUTABLE_HEADER_SIZE = 0x0c;
export const IMMUTABLE_LEASE_SIZE = 72;
export const MUTABLE_HEADER_SIZE = 100;
export const MUTABLE_LEASE_SIZE = 92;
export const MUTABLE_LEASE_SLOTS = 4;
export const MUTABLE_DATA_OFFSET = MUTABLE_HEADER_SIZE + MUTABLE_LEASE_SLOTS * MUTABLE_LEASE_SIZE; // 468
/** Containers written by this server: lease secrets hashed. */
export const CURRENT_CONTAINER_VERSION = 2;

const MUTABLE_MAGIC_PREFIX_V1 = Buffer.from('Tahoe mutable container v1\n', 'ascii');
const MUTABLE_MAGIC_PREFIX_V2 = Buffer.from('Tahoe mutable container v2\n', 'ascii');
export const MUTABLE_MAGIC_V1 = Buffer.concat([MUTABLE_MAGIC_PREFIX_V1, Buffer.from([0x75, 0x09, 0x44, 0x03, 0x8e])]);
export const MUTABLE_MAGIC_V2 = Buffer.concat([
  MUTABLE_MAGIC_PREFIX_V2,
  taggedHash('allmydata_mutable_container_header', MUTABLE_MAGIC_PREFIX_V2, 5),
]);

/** A lease as stored (secrets already in stored form: hashed for version 2). */
export interface StoredLease {
  ownerNumber: number;
  renewSecret: Buffer;
  cancelSecret: Buffer;
  /** Seconds since the epoch. */
  expirationTime: number;
  /** Mutable containers only: the server that accepted the lease. */
  nodeId?: Buffer;
}

/** The stored form of a lease secret in a container of `version`. */
export function storedSecret(version: number, secret: Uint8Array): Buffer {
  return version >= 2 ? blake2b(secret, 32) : Buffer.from(secret);
}

/** Compare a client-presented secret with a stored one, in constant time. */
export function secretMatches(version: number, stored: Buffer, presented: Uint8Array): boolean {
  const candidate = storedSecret(version, presented);
  return candidate.length === stored.length && timingSafeEqual(candidate, stored);
}

/** Which container a file holds, from its first 32 bytes; undefined for anything else. */
export function containerKind(head: Buffer): { kind: ShareKind; version: number } | undefined {
  if (head.length >= 32) {
    if (head.subarray(0, 32).equals(MUTABLE_MAGIC_V2)) return { kind: 'mutable', version: 2 };
    if (head.subarray(0, 32).equals(MUTABLE_MAGIC_V1)) return { kind: 'mutable', version: 1 };
  }
  if (head.length >= 4) {
    const v = head.readUInt32BE(0);
    if (v === 1 || v === 2) return { kind: 'immutable', version: v };
  }
  return undefined;
}

// ------------------------------------------------------------------ immutable

export interface ImmutableHeader {
  version: number;
  dataLengthField: number;
  leaseCount: number;
}

export function encodeImmutableHeader(version: number, dataLength: number, leaseCount: number): Buffer {
  const b = Buffer.alloc(IMMUTABLE_HEADER_SIZE);
  b.writeUInt32BE(version, 0);
  b.writeUInt32BE(Math.min(dataLength, 0xffffffff), 4);
  b.writeUInt32BE(leaseCount, 8);
  return b;
}

export function decodeImmutableHeader(b: Buffer): ImmutableHeader {
  return { version: b.readUInt32BE(0), dataLengthField: b.readUInt32BE(4), leaseCount: b.readUInt32BE(8) };
}

/**
 * The share data length of an immutable container of `fileSize` bytes. Modern Tahoe
 * derives it from the file size and lease count; the header field is exact below 4 GiB
 * and wins when they disagree (a lease append interrupted before the count was updated
 * leaves harmless trailing bytes).
 */
export function immutableDataLength(header: ImmutableHeader, fileSize: number): number {
  const fromSize = fileSize - IMMUTABLE_HEADER_SIZE - header.leaseCount * IMMUTABLE_LEASE_SIZE;
  if (header.dataLengthField !== 0xffffffff && header.dataLengthField !== fromSize) {
    const needed = IMMUTABLE_HEADER_SIZE + header.dataLengthField + header.leaseCount * IMMUTABLE_LEASE_SIZE;
    if (needed <= fileSize) return header.dataLengthField;
  }
  return Math.max(0, fromSize);
}

export function encodeImmutableLease(l: StoredLease): Buffer {
  const b = Buffer.alloc(IMMUTABLE_LEASE_SIZE);
  b.writeUInt32BE(l.ownerNumber >>> 0, 0);
  l.renewSecret.copy(b, 4, 0, 32);
  l.cancelSecret.copy(b, 36, 0, 32);
  b.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(l.expirationTime))), 68);
  return b;
}

export function decodeImmutableLease(b: Buffer): StoredLease {
  return {
    ownerNumber: b.readUInt32BE(0),
    renewSecret: Buffer.from(b.subarray(4, 36)),
    cancelSecret: Buffer.from(b.subarray(36, 68)),
    expirationTime: b.readUInt32BE(68),
  };
}

// ------------------------------------------------------------------ mutable

export interface MutableHeader {
  version: number;
  nodeId: Buffer;
  writeEnabler: Buffer;
  dataLength: number;
  extraLeaseOffset: number;
}

export function encodeMutableHeader(h: MutableHeader): Buffer {
  const b = Buffer.alloc(MUTABLE_HEADER_SIZE);
  (h.version >= 2 ? MUTABLE_MAGIC_V2 : MUTABLE_MAGIC_V1).copy(b, 0);
  h.nodeId.copy(b, 32, 0, 20);
  h.writeEnabler.copy(b, 52, 0, 32);
  b.writeBigUInt64BE(BigInt(h.dataLength), 84);
  b.writeBigUInt64BE(BigInt(h.extraLeaseOffset), 92);
  return b;
}

export function decodeMutableHeader(b: Buffer): MutableHeader | undefined {
  const kind = containerKind(b);
  if (kind?.kind !== 'mutable' || b.length < MUTABLE_HEADER_SIZE) return undefined;
  const dataLength = b.readBigUInt64BE(84);
  const extraLeaseOffset = b.readBigUInt64BE(92);
  if (dataLength > BigInt(Number.MAX_SAFE_INTEGER) || extraLeaseOffset > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    version: kind.version,
    nodeId: Buffer.from(b.subarray(32, 52)),
    writeEnabler: Buffer.from(b.subarray(52, 84)),
    dataLength: Number(dataLength),
    extraLeaseOffset: Number(extraLeaseOffset),
  };
}

export function encodeMutableLease(l: StoredLease | undefined): Buffer {
  const b = Buffer.alloc(MUTABLE_LEASE_SIZE);
  if (l === undefined) return b; // an empty slot: owner 0
  b.writeUInt32BE(l.ownerNumber >>> 0, 0);
  b.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(l.expirationTime))), 4);
  l.renewSecret.copy(b, 8, 0, 32);
  l.cancelSecret.copy(b, 40, 0, 32);
  (l.nodeId ?? Buffer.alloc(20)).copy(b, 72, 0, 20);
  return b;
}

/** Decode a 92-byte slot; undefined for an empty slot (owner number 0). */
export function decodeMutableLease(b: Buffer): StoredLease | undefined {
  const ownerNumber = b.readUInt32BE(0);
  if (ownerNumber === 0) return undefined;
  return {
    ownerNumber,
    expirationTime: b.readUInt32BE(4),
    renewSecret: Buffer.from(b.subarray(8, 40)),
    cancelSecret: Buffer.from(b.subarray(40, 72)),
    nodeId: Buffer.from(b.subarray(72, 92)),
  };
}
