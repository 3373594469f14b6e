/**
 * Read-test-write plans for mutable shares and MDMF in-place updates (spec:
 * shared/specs/tahoe-formats.md §4, shared/specs/storage-protocol.md §5 "Mutable
 * read-test-write"; upstream `docs/specifications/mutable.rst`, `mutable/publish.py`,
 * `mutable/layout.py`, `mutable/filenode.py`). Pure functions: the grid layer sends the
 * plans and hands the answers back.
 *
 * Every write to a share is guarded by a test vector: "the first bytes of the share equal
 * the checkstring I saw" (SDMF `>BQ32s16s`, MDMF `>BQ32s`), or, for a share that should
 * not exist yet, "offset 0, size 1 reads as empty". If another writer got there first the
 * test fails and nothing is written, so a lost update is always detected.
 *
 * MDMF partial writes re-encode only the segments the new bytes touch (plus the old tail
 * segment when the file grows); the other blocks stay on the servers untouched. The new
 * version gets fresh salts for the re-encoded segments, new block hash trees, a new root
 * hash, seqnum + 1 and a new signature.
 */
import { randomBytes } from 'node:crypto';
import { TahoeError, throwIfAborted } from '../errors.js';
import { blockHash } from '../crypto/derive.js';
import { HashTree, IncompleteHashTree, emptyLeafHash } from '../crypto/merkle.js';
import { createCodec, type ErasureCodec } from '../codec/index.js';
import { signData, type MutableSigningKey } from './keys.js';
import type { MutableWriteCap } from './caps.js';
import { checkKeyMatchesCap, encodeSegment, type EncodedMutableVersion } from './encoder.js';
import { retrieveVersion, type InspectedShare, type MutableVersion, type ShareFailure } from './decoder.js';
import {
  MDMF_CHECKSTRING_LENGTH, SALT_SIZE, SDMF_CHECKSTRING_LENGTH, encodeMdmfOffsets, encodeShareHashChain, mdmfSignedPrefix, mutableGeometry, packCheckstring,
  parseBlockHashTree, parseCheckstring, type MutableShareHeader,
} from './layout.js';

/** "The bytes at `offset` of length `size` equal `specimen`" (the protocol's only operator). */
export interface TestVector {
  readonly offset: number;
  readonly size: number;
  readonly specimen: Buffer;
}

export interface WriteVector {
  readonly offset: number;
  readonly data: Buffer;
}

/** Everything for one share in a read-test-write request. */
export interface ShareWritePlan {
  readonly shareNumber: number;
  readonly test: readonly TestVector[];
  readonly write: readonly WriteVector[];
  /** Truncate the share to this length after writing (null: leave the length alone). */
  readonly newLength: number | null;
}

/** The test for a share that must not exist yet: one byte at 0 reads as nothing. */
export function newShareTest(): TestVector {
  return { offset: 0, size: 1, specimen: Buffer.alloc(0) };
}

/** The test for a share that must still hold the version with this checkstring. */
export function checkstringTest(checkstring: Uint8Array): TestVector {
  parseCheckstring(checkstring);
  return { offset: 0, size: checkstring.length, specimen: Buffer.from(checkstring) };
}

/**
 * The test for a share whose first bytes were read but do not parse as a checkstring (a
 * damaged share that a publish replaces): "the share still starts with these bytes".
 */
export function prefixTest(prefix: Uint8Array): TestVector {
  return { offset: 0, size: prefix.length, specimen: Buffer.from(prefix) };
}

/** `checkstringTest` for a valid checkstring, `prefixTest` for anything else that was read. */
export function knownShareTest(seen: Uint8Array): TestVector {
  try {
    return checkstringTest(seen);
  } catch {
    return prefixTest(seen);
  }
}

/** What the publisher believes each server holds: share number → checkstring (or the damaged share's first bytes), or absent. */
export type KnownCheckstrings = ReadonlyMap<number, Uint8Array | undefined>;

/**
 * Plans that replace whole shares with the shares of `version`: for each share number,
 * test the checkstring we saw (or that the share is absent) and write the whole share,
 * truncating anything an older, longer version left behind.
 */
export function planPublish(version: EncodedMutableVersion, known: KnownCheckstrings = new Map(), shareNumbers?: readonly number[]): ShareWritePlan[] {
  const numbers = shareNumbers ?? version.shares.map((_, i) => i);
  return numbers.map((shareNumber) => {
    const share = version.shares[shareNumber];
    if (share === undefined) throw new TahoeError('Internal', `version has no share ${shareNumber}`);
    const old = known.get(shareNumber);
    return {
      shareNumber,
      test: [old === undefined || old.length === 0 ? newShareTest() : knownShareTest(old)],
      write: [{ offset: 0, data: share }],
      newLength: share.length,
    };
  });
}

/** The read vector to send with a write: the checkstring of every share the server holds. */
export function checkstringReadVector(format: 'SDMF' | 'MDMF'): { offset: number; size: number } {
  return { offset: 0, size: format === 'SDMF' ? SDMF_CHECKSTRING_LENGTH : MDMF_CHECKSTRING_LENGTH };
}

/** A server's answer to a read-test-write request. */
export interface WriteResponse {
  readonly success: boolean;
  /** Share number → read-vector results (the first is expected to be the checkstring). */
  readonly data: ReadonlyMap<number, readonly Uint8Array[]>;
}

export interface WriteOutcome {
  readonly written: boolean;
  /** True when another writer's version was seen: the caller must re-read and retry. */
  readonly conflict: boolean;
  /** Shares the server holds that we neither wrote nor expected, with a different version. */
  readonly unexpectedShares: readonly number[];
  readonly reason?: string;
}

/**
 * Judge one server's answer like Tahoe's publisher: a failed test means somebody else
 * wrote (uncoordinated write); shares we did not know about that hold a version other
 * than the one we are writing mean the same.
 */
export function interpretWriteResponse(
  plans: readonly ShareWritePlan[],
  response: WriteResponse,
  newCheckstring: Uint8Array,
  /** Shares the publisher knew were there and left alone on purpose: share number → the bytes it saw at offset 0. */
  leftAlone: ReadonlyMap<number, Uint8Array> = new Map(),
): WriteOutcome {
  const ours = new Set(plans.map((p) => p.shareNumber));
  const unexpected: number[] = [];
  const startsWith = (read: Uint8Array, expected: Uint8Array): boolean =>
    Buffer.compare(Buffer.from(read.buffer, read.byteOffset, Math.min(read.length, expected.length)), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)) === 0;
  for (const [shareNumber, reads] of response.data) {
    if (ours.has(shareNumber)) continue;
    const first = reads[0];
    if (first === undefined) {
      unexpected.push(shareNumber);
      continue;
    }
    const seen = leftAlone.get(shareNumber);
    const common = seen === undefined ? 0 : Math.min(seen.length, first.length);
    if (startsWith(first, newCheckstring) || (seen !== undefined && common > 0 && startsWith(first.subarray(0, common), seen.subarray(0, common)))) continue;
    unexpected.push(shareNumber);
  }
  if (!response.success) {
    return { written: false, conflict: true, unexpectedShares: unexpected, reason: 'a test vector failed: the share changed since it was read' };
  }
  if (unexpected.length > 0) {
    return { written: true, conflict: true, unexpectedShares: unexpected, reason: `the server holds shares ${unexpected.join(', ')} of another version` };
  }
  return { written: true, conflict: false, unexpectedShares: [] };
}

/** The error a publisher reports when `interpretWriteResponse` found a conflict. */
export function writeConflictError(outcome: WriteOutcome, server?: string): TahoeError {
  return new TahoeError('WriteConflict', `uncoordinated write${server === undefined ? '' : ` at ${server}`}: ${outcome.reason ?? 'another writer changed the file'}`, {
    details: { unexpectedShares: outcome.unexpectedShares.join(',') },
  });
}

export interface MdmfUpdateOptions {
  readonly cap: MutableWriteCap;
  readonly key: MutableSigningKey;
  /** The current version, with one inspected share for every share number 0..N−1. */
  readonly version: MutableVersion;
  /** Where the new bytes go (≤ the current length: no holes). */
  readonly offset: number;
  readonly data: Uint8Array;
  /** Sequence number of the new version (default: current + 1). */
  readonly seqnum?: number;
  readonly saltFor?: (segment: number) => Uint8Array;
  readonly codec?: ErasureCodec;
  readonly signal?: AbortSignal;
  readonly onShareFailure?: (failure: ShareFailure) => void;
}

export interface MdmfUpdatePlan {
  readonly seqnum: number;
  readonly rootHash: Buffer;
  readonly dataLength: number;
  readonly checkstring: Buffer;
  /** Segments that were re-encoded (inclusive range), or undefined when nothing changed. */
  readonly segments: { readonly first: number; readonly last: number } | undefined;
  /** One plan per share number 0..N−1, each tested against the old checkstring. */
  readonly plans: readonly ShareWritePlan[];
}

/**
 * Plan an in-place MDMF update: write `data` at `offset`, re-encoding only the affected
 * segments. Reads (through the shares' readers) the old first and last affected segments
 * and every share's block hash tree. SDMF files cannot be updated in place (Tahoe
 * re-publishes them whole: use `encodeMutableVersion` with the new contents).
 */
export async function planMdmfUpdate(options: MdmfUpdateOptions): Promise<MdmfUpdatePlan> {
  const { cap, key, version } = options;
  const old = version.header;
  if (old.format !== 'MDMF') {
    throw new TahoeError('BadInput', 'SDMF files cannot be updated in place', { hint: 'SDMF files are re-published whole: encode the complete new contents' });
  }
  checkKeyMatchesCap(cap, key);
  const data = Buffer.from(options.data.buffer, options.data.byteOffset, options.data.byteLength);
  const { offset } = options;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > old.dataLength) {
    throw new TahoeError('BadInput', `update offset ${offset} is outside 0..${old.dataLength}`, { hint: 'a mutable file can be written inside or appended to at its end, but not past it' });
  }
  const seqnum = options.seqnum ?? old.seqnum + 1;
  if (!Number.isSafeInteger(seqnum) || seqnum <= old.seqnum) throw new TahoeError('Internal', `new seqnum ${seqnum} must exceed ${old.seqnum}`);
  const byNumber = new Map<number, InspectedShare>();
  for (const s of version.shares) if (!byNumber.has(s.shareNumber)) byNumber.set(s.shareNumber, s);
  if (byNumber.size !== old.n) {
    throw new TahoeError('NotEnoughShares', `an in-place update needs all ${old.n} shares, only ${byNumber.size} were found`, {
      hint: 'repair the file first, or re-publish it whole',
    });
  }
  if (data.length === 0) {
    return { seqnum: old.seqnum, rootHash: old.rootHash, dataLength: old.dataLength, checkstring: old.checkstring, segments: undefined, plans: [] };
  }
  const segmentSize = old.segmentSize;
  const newLength = Math.max(old.dataLength, offset + data.length);
  const oldGeometry = mutableGeometry('MDMF', old.k, segmentSize, old.dataLength);
  const geometry = mutableGeometry('MDMF', old.k, segmentSize, newLength);
  const first = Math.floor(offset / segmentSize);
  const last = Math.floor((offset + data.length - 1) / segmentSize);
  const codec = options.codec ?? createCodec(old.k, old.n);
  const saltFor = options.saltFor ?? ((): Uint8Array => randomBytes(SALT_SIZE));

  // Old plaintext of the partially overwritten first and last segments.
  const oldSegment = async (s: number): Promise<Buffer> => {
    if (s >= oldGeometry.numSegments) return Buffer.alloc(0);
    return retrieveVersion(cap, version, { offset: s * segmentSize, length: segmentSize, signal: options.signal, codec, onShareFailure: options.onShareFailure });
  };
  const firstOld = await oldSegment(first);
  const lastOld = last === first ? firstOld : await oldSegment(last);

  // Old leaves of every share; together their roots must give the signed root hash,
  // otherwise some share is corrupt and an in-place update would spread the damage.
  const leaves: Buffer[][] = [];
  const oldRoots: Buffer[] = [];
  for (let i = 0; i < old.n; i++) {
    throwIfAborted(options.signal);
    const nodes = await oldBlockTree(byNumber.get(i) as InspectedShare, oldGeometry.numSegments);
    const width = (nodes.length + 1) / 2;
    leaves.push(nodes.slice(width - 1, width - 1 + oldGeometry.numSegments));
    oldRoots.push(nodes[0]);
  }
  if (!new HashTree(oldRoots).root.equals(old.rootHash)) {
    throw new TahoeError('ShareCorrupt', 'the block hash trees of the shares do not add up to the signed root hash', {
      hint: 'some share is damaged: repair the file (or re-publish it whole) before updating it in place',
    });
  }

  const blockWrites: WriteVector[][] = Array.from({ length: old.n }, () => []);
  for (let s = first; s <= last; s++) {
    const segStart = s * segmentSize;
    const segLength = s === geometry.numSegments - 1 ? geometry.tailSegmentSize : segmentSize;
    const plaintext = Buffer.alloc(segLength);
    const base = s === first ? firstOld : s === last ? lastOld : undefined;
    if (base !== undefined) base.copy(plaintext, 0, 0, Math.min(base.length, segLength));
    const from = Math.max(offset, segStart);
    const to = Math.min(offset + data.length, segStart + segLength);
    data.copy(plaintext, from - segStart, from - offset, to - offset);
    const salt = Buffer.from(saltFor(s));
    if (salt.length !== SALT_SIZE) throw new TahoeError('Internal', `salt for segment ${s} is ${salt.length} bytes`);
    const blocks = encodeSegment(codec, cap.readkey, salt, plaintext);
    const at = old.regions.shareData.start + s * (geometry.blockSize + SALT_SIZE);
    for (let i = 0; i < old.n; i++) {
      const saltAndBlock = Buffer.concat([salt, blocks[i]]);
      leaves[i][s] = blockHash(saltAndBlock);
      blockWrites[i].push({ offset: at, data: saltAndBlock });
    }
  }

  const trees = leaves.map((l) => new HashTree(l.length > 0 ? l : [emptyLeafHash(0)]));
  const shareTree = new HashTree(trees.map((t) => t.root));
  const rootHash = shareTree.root;
  const signedPrefix = mdmfSignedPrefix({ seqnum, rootHash, k: old.k, n: old.n, segmentSize, dataLength: newLength });
  const signature = signData(key, signedPrefix);
  const checkstring = packCheckstring('MDMF', seqnum, rootHash);

  const plans = [...byNumber.values()].sort((a, b) => a.shareNumber - b.shareNumber).map((share): ShareWritePlan => {
    const i = share.shareNumber;
    const h: MutableShareHeader = share.header;
    if (h.regions.signature.end - h.regions.signature.start !== signature.length) {
      throw new TahoeError('NotEnoughShares', `share ${i} has a ${h.regions.signature.end - h.regions.signature.start}-byte signature slot`, { hint: 're-publish the file whole' });
    }
    const chain = encodeShareHashChain(new Map(shareTree.neededHashes(i).map((node) => [node, shareTree.nodes[node]] as const)));
    const r = h.regions;
    const bht = trees[i].serialize();
    const bhtStart = r.shareData.start + geometry.shareDataLength;
    const offsets = [r.encryptedPrivateKey.start, r.shareHashChain.start, r.signature.start, r.verificationKey.start, r.verificationKey.end, r.shareData.start, bhtStart, bhtStart + bht.length];
    const header = Buffer.concat([signedPrefix, encodeMdmfOffsets(offsets)]);
    return {
      shareNumber: i,
      test: [checkstringTest(old.checkstring)],
      write: [
        ...blockWrites[i],
        { offset: bhtStart, data: bht },
        { offset: r.shareHashChain.start, data: chain },
        { offset: r.signature.start, data: signature },
        { offset: 0, data: header },
      ],
      newLength: null,
    };
  });
  return { seqnum, rootHash, dataLength: newLength, checkstring, segments: { first, last }, plans };
}

/**
 * A share's stored block hash tree, checked for internal consistency; its root is checked
 * against the signed root hash by the caller (all N roots together).
 */
async function oldBlockTree(share: InspectedShare, numSegments: number): Promise<Buffer[]> {
  const region = share.header.regions.blockHashTree;
  const got = region.end <= share.prefix.length
    ? share.prefix.subarray(region.start, region.end)
    : await share.reader.read(region.start, region.end - region.start);
  if (got.length !== region.end - region.start) throw new TahoeError('ShareCorrupt', `share ${share.shareNumber} ends inside its block hash tree`);
  const nodes = parseBlockHashTree(got);
  const check = new IncompleteHashTree(Math.max(1, numSegments), nodes[0]);
  check.addHashes(new Map(nodes.map((h, i) => [i, h] as const)), { kind: 'ShareCorrupt', what: `block hash tree of share ${share.shareNumber}` });
  return nodes;
}

/** Apply write plans to share bytes (what a server does); used by tests and in-memory grids. */
export function applyWrites(share: Uint8Array, plan: Pick<ShareWritePlan, 'write' | 'newLength'>): Buffer {
  let out = Buffer.from(share);
  for (const w of plan.write) {
    const end = w.offset + w.data.length;
    if (end > out.length) {
      const grown = Buffer.alloc(end);
      out.copy(grown);
      out = grown;
    }
    w.data.copy(out, w.offset);
  }
  if (plan.newLength !== null && plan.newLength < out.length) out = out.subarray(0, plan.newLength);
  return out;
}
