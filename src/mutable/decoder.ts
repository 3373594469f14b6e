/**
 * Reading and verifying mutable-file shares (spec: shared/specs/tahoe-formats.md §4;
 * upstream `docs/specifications/mutable.rst`, `src/allmydata/mutable/servermap.py`,
 * `retrieve.py`, `layout.py`). Pure: shares are read through `ShareReader`s the caller
 * supplies (the grid's HTTP ranged reads, or bytes in memory).
 *
 * What is trusted, and how each step is checked:
 *
 *   cap.fingerprint ─▶ verification key in the share (hash must match)
 *   verification key ─▶ RSA-PSS signature over the signed prefix (seqnum, root hash, k, N, …)
 *   root hash ─▶ share hash chain ─▶ root of this share's block hash tree
 *   block hash tree ─▶ block_hash(block) (SDMF) / block_hash(salt ‖ block) (MDMF)
 *   writekey ─▶ encrypted private key (its hash must give the writekey back)
 *
 * A share failing any check is `ShareCorrupt`; it is dropped, reported through
 * `onShareFailure`, and another share of the same version takes its place. Shares of
 * different versions (seqnum, root hash) are grouped; the best recoverable version is the
 * one with the highest seqnum (then root hash), as in Tahoe.
 */
import { TahoeError, asTahoeError, isTahoeError, throwIfAborted } from '../errors.js';
import { aesCtr } from '../crypto/aes.js';
import { blockHash, sskDataKey, sskPubkeyFingerprint } from '../crypto/derive.js';
import { IncompleteHashTree } from '../crypto/merkle.js';
import { createCodec, type ErasureCodec } from '../codec/index.js';
import type { ShareReader, ShareFailure } from '../immutable/decoder.js';
import { decryptPrivateKey, verifySignature, verifyingKeyFromDer, type MutableSigningKey } from './keys.js';
import type { MutableFileCap, MutableReadCap, MutableWriteCap } from './caps.js';
import {
  MDMF_SHARE_DATA_OFFSET, SALT_SIZE, blockRegion, geometryOf, parseBlockHashTree, parseMutableHeader, parseShareHashChain,
  type MutableGeometry, type MutableShareHeader, type Region,
} from './layout.js';

export type { ShareReader, ShareFailure } from '../immutable/decoder.js';

/** A share in memory as a `ShareReader`. */
export function bytesShareReader(shareNumber: number, bytes: Uint8Array, description?: string): ShareReader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    shareNumber,
    description,
    read: (offset: number, length: number) => Promise.resolve(buf.subarray(Math.min(offset, buf.length), Math.min(offset + length, buf.length))),
  };
}

/** A share whose header, verification key and signature have been checked against the cap. */
export interface InspectedShare {
  readonly shareNumber: number;
  readonly reader: ShareReader;
  readonly header: MutableShareHeader;
  readonly verificationKey: Buffer;
  /** Hex of the signed prefix: shares with equal ids belong to the same version. */
  readonly versionId: string;
  /** The bytes read while inspecting, from offset 0 (often more than the header). */
  readonly prefix: Buffer;
}

export interface InspectOptions {
  readonly signal?: AbortSignal;
  /** Bytes read from offset 0 in the first request (default 2167: all of MDMF's key material). */
  readonly readAhead?: number;
}

function shareCorrupt(share: number, message: string, details: Record<string, string | number | boolean | undefined> = {}): TahoeError {
  return new TahoeError('ShareCorrupt', `mutable share ${share}: ${message}`, {
    hint: 'this share is damaged or forged; tahoe-ts uses another share when it can',
    details: { shareNumber: share, ...details },
  });
}

async function readExactly(reader: ShareReader, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
  if (length === 0) return Buffer.alloc(0);
  const got = await reader.read(offset, length, signal);
  if (got.length < length) throw shareCorrupt(reader.shareNumber, `share ends early: wanted ${length} bytes at ${offset}, got ${got.length}`);
  return Buffer.from(got.buffer, got.byteOffset, length);
}

/** Bytes of `region`, from the prefix already read when it covers them. */
async function readRegion(share: Pick<InspectedShare, 'reader' | 'prefix'>, region: Region, signal?: AbortSignal): Promise<Buffer> {
  if (region.end <= share.prefix.length) return share.prefix.subarray(region.start, region.end);
  return readExactly(share.reader, region.start, region.end - region.start, signal);
}

/**
 * Read a share's header, verification key and signature and check them against the cap
 * (any access level: a verify cap holds the fingerprint too). Throws `ShareCorrupt`.
 */
export async function inspectShare(cap: MutableFileCap, reader: ShareReader, options: InspectOptions = {}): Promise<InspectedShare> {
  throwIfAborted(options.signal);
  const n = reader.shareNumber;
  const first = await reader.read(0, options.readAhead ?? MDMF_SHARE_DATA_OFFSET, options.signal);
  const prefix = Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  let header: MutableShareHeader;
  try {
    header = parseMutableHeader(prefix);
  } catch (e) {
    throw isTahoeError(e, 'ShareCorrupt') ? shareCorrupt(n, e.message, e.details) : e;
  }
  if (!Number.isInteger(n) || n < 0 || n >= header.n) throw shareCorrupt(n, `share number is outside 0..${header.n - 1} of its own header`);
  if (header.format !== cap.format) {
    throw shareCorrupt(n, `share is ${header.format} but the cap is ${cap.format}`, { format: header.format });
  }
  const partial = { reader, prefix };
  const verificationKey = Buffer.from(await readRegion(partial, header.regions.verificationKey, options.signal));
  if (!sskPubkeyFingerprint(verificationKey).equals(cap.fingerprint)) {
    throw shareCorrupt(n, "the verification key does not match the cap's fingerprint");
  }
  const signature = await readRegion(partial, header.regions.signature, options.signal);
  const publicKey = verifyingKeyFromDer(verificationKey);
  if (!verifySignature(publicKey, signature, header.signedPrefix)) throw shareCorrupt(n, 'the signature over the header is invalid');
  return { shareNumber: n, reader, header, verificationKey, versionId: header.signedPrefix.toString('hex'), prefix };
}

/** One version of the file and the (inspected) shares that hold it. */
export interface MutableVersion {
  readonly id: string;
  readonly header: MutableShareHeader;
  readonly shares: readonly InspectedShare[];
  /** Distinct share numbers present. */
  readonly shareNumbers: readonly number[];
  readonly recoverable: boolean;
}

/** Group inspected shares by version; best first (highest seqnum, then root hash). */
export function groupVersions(shares: readonly InspectedShare[]): MutableVersion[] {
  const byId = new Map<string, InspectedShare[]>();
  for (const s of shares) {
    const list = byId.get(s.versionId);
    if (list === undefined) byId.set(s.versionId, [s]);
    else list.push(s);
  }
  const versions = [...byId.entries()].map(([id, list]) => {
    const header = list[0].header;
    const shareNumbers = [...new Set(list.map((s) => s.shareNumber))].sort((a, b) => a - b);
    return { id, header, shares: list, shareNumbers, recoverable: shareNumbers.length >= header.k };
  });
  return versions.sort((a, b) => b.header.seqnum - a.header.seqnum || Buffer.compare(b.header.rootHash, a.header.rootHash) || (a.id < b.id ? -1 : 1));
}

/** The version a reader should use: the best recoverable one, or undefined. */
export function bestRecoverableVersion(versions: readonly MutableVersion[]): MutableVersion | undefined {
  return versions.find((v) => v.recoverable);
}

export interface InspectAllResult {
  readonly versions: MutableVersion[];
  readonly failures: ShareFailure[];
}

/** Inspect every reader (in parallel), report failures, group the rest by version. */
export async function inspectShares(cap: MutableFileCap, readers: readonly ShareReader[], options: InspectOptions & { onShareFailure?: (f: ShareFailure) => void } = {}): Promise<InspectAllResult> {
  const failures: ShareFailure[] = [];
  const results = await Promise.all(readers.map(async (reader) => {
    try {
      return await inspectShare(cap, reader, options);
    } catch (e) {
      const error = asTahoeError(e, 'ShareCorrupt');
      if (error.kind === 'Aborted') throw error;
      const failure = { shareNumber: reader.shareNumber, reader, error };
      failures.push(failure);
      options.onShareFailure?.(failure);
      return undefined;
    }
  }));
  return { versions: groupVersions(results.filter((r): r is InspectedShare => r !== undefined)), failures };
}

export interface RetrieveOptions {
  readonly signal?: AbortSignal;
  readonly onShareFailure?: (failure: ShareFailure) => void;
  readonly codec?: ErasureCodec;
  /** First plaintext byte wanted (default 0). */
  readonly offset?: number;
  /** Bytes wanted (default: to the end). */
  readonly length?: number;
  /** Segments fetched at the same time (default 8). */
  readonly parallelSegments?: number;
}

const PARALLEL_SEGMENTS = 8;

class ShareState {
  blockTree?: Promise<IncompleteHashTree>;
  failed = false;
  constructor(readonly share: InspectedShare) {}
}

/** Verifies blocks of one version against its signed root hash. */
class VersionVerifier {
  readonly geometry: MutableGeometry;
  readonly shareTree: IncompleteHashTree;

  constructor(readonly version: MutableVersion) {
    this.geometry = geometryOf(version.header);
    this.shareTree = new IncompleteHashTree(version.header.n, version.header.rootHash);
  }

  /** Load and check a share's block hash tree and share-hash chain (once per share, shared by concurrent segments). */
  prepare(state: ShareState, signal?: AbortSignal): Promise<IncompleteHashTree> {
    state.blockTree ??= this.load(state, signal);
    return state.blockTree;
  }

  private async load(state: ShareState, signal?: AbortSignal): Promise<IncompleteHashTree> {
    const { share } = state;
    const n = share.shareNumber;
    const header = share.header;
    const chain = parseChainOrCorrupt(n, await readRegion(share, header.regions.shareHashChain, signal), header.n);
    const nodes = parseBlockHashTree(await readRegion(share, header.regions.blockHashTree, signal));
    const leafCount = Math.max(1, this.geometry.numSegments);
    const blockTree = new IncompleteHashTree(leafCount, nodes[0]);
    // The root of this share's block tree is leaf n of the share tree; the chain links it
    // to the signed root hash.
    const offered = new Map<number, Uint8Array>(chain);
    offered.set(this.shareTree.leafNode(n), nodes[0]);
    this.shareTree.addHashes(offered, { kind: 'ShareCorrupt', what: `share hash chain of share ${n}`, details: { shareNumber: n } });
    blockTree.addHashes(new Map(nodes.map((h, i) => [i, h] as const)), { kind: 'ShareCorrupt', what: `block hash tree of share ${n}`, details: { shareNumber: n } });
    return blockTree;
  }

  /** Read and verify one block (and its salt); returns the block and the salt to decrypt with. */
  async block(state: ShareState, segment: number, signal?: AbortSignal): Promise<{ block: Buffer; salt: Buffer }> {
    const tree = await this.prepare(state, signal);
    const { share } = state;
    const region = blockRegion(share.header, segment);
    const bytes = await readExactly(share.reader, region.start, region.end - region.start, signal);
    let block: Buffer;
    let salt: Buffer;
    if (share.header.format === 'MDMF') {
      salt = bytes.subarray(0, SALT_SIZE);
      block = bytes.subarray(SALT_SIZE);
      tree.setLeaf(segment, blockHash(bytes), { kind: 'ShareCorrupt', what: `block ${segment} of share ${share.shareNumber}`, details: { shareNumber: share.shareNumber, segment } });
    } else {
      salt = share.header.salt as Buffer;
      block = bytes;
      tree.setLeaf(segment, blockHash(bytes), { kind: 'ShareCorrupt', what: `block of share ${share.shareNumber}`, details: { shareNumber: share.shareNumber } });
    }
    return { block, salt };
  }
}

function parseChainOrCorrupt(share: number, bytes: Buffer, n: number): Map<number, Buffer> {
  try {
    return parseShareHashChain(bytes, n);
  } catch (e) {
    throw isTahoeError(e, 'ShareCorrupt') ? shareCorrupt(share, e.message) : e;
  }
}

/**
 * Download, verify and decrypt (a range of) one version. Needs k shares with distinct
 * numbers that pass every check; bad shares are replaced by spare ones as they fail.
 * Throws `NotEnoughShares` when the version cannot be recovered.
 */
export async function retrieveVersion(cap: MutableWriteCap | MutableReadCap, version: MutableVersion, options: RetrieveOptions = {}): Promise<Buffer> {
  const header = version.header;
  const verifier = new VersionVerifier(version);
  const g = verifier.geometry;
  const offset = options.offset ?? 0;
  const end = options.length === undefined ? header.dataLength : Math.min(header.dataLength, offset + options.length);
  if (!Number.isSafeInteger(offset) || offset < 0 || (options.length !== undefined && (!Number.isSafeInteger(options.length) || options.length < 0))) {
    throw new TahoeError('BadInput', `bad range offset=${offset} length=${String(options.length)}`, { hint: 'offset and length must be whole numbers ≥ 0' });
  }
  if (offset >= end) return Buffer.alloc(0);
  const codec = options.codec ?? createCodec(header.k, header.n);
  const states = version.shares.map((s) => new ShareState(s));
  // Segments are fetched a few at a time (a round trip each); a failure stops the others.
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const failed = (state: ShareState, e: unknown): void => {
    const error = asTahoeError(e, 'ShareCorrupt');
    if (error.kind === 'Aborted') throw error;
    if (state.failed) return;
    state.failed = true;
    options.onShareFailure?.({ shareNumber: state.share.shareNumber, reader: state.share.reader, error });
  };
  const fetchSegment = async (s: number): Promise<Buffer> => {
    throwIfAborted(signal);
    const blocks = new Map<number, Uint8Array>();
    let salt: Buffer | undefined;
    // Take shares in the given order, one per share number: fetch k blocks at once, and
    // for each that fails verification fetch the next candidate, until k blocks verify.
    const tried = new Set<ShareState>();
    for (;;) {
      const wanted = new Set(blocks.keys());
      const batch: ShareState[] = [];
      for (const state of states) {
        if (blocks.size + batch.length >= header.k) break;
        if (state.failed || tried.has(state) || wanted.has(state.share.shareNumber)) continue;
        batch.push(state);
        wanted.add(state.share.shareNumber);
      }
      if (batch.length === 0) break;
      const results = await Promise.all(batch.map(async (state) => {
        tried.add(state);
        try {
          return { state, got: await verifier.block(state, s, signal) };
        } catch (e) {
          failed(state, e);
          return undefined;
        }
      }));
      for (const r of results) {
        if (r === undefined) continue;
        blocks.set(r.state.share.shareNumber, r.got.block);
        salt ??= r.got.salt;
      }
    }
    if (blocks.size < header.k || salt === undefined) {
      throw new TahoeError('NotEnoughShares', `only ${blocks.size} of the ${header.k} shares needed for segment ${s} of seqnum ${header.seqnum} are valid`, {
        details: { segment: s, have: blocks.size, need: header.k, seqnum: header.seqnum },
      });
    }
    const segmentLength = s === g.numSegments - 1 ? g.tailSegmentSize : header.segmentSize;
    const pieces = codec.decode(blocks);
    const ciphertext = Buffer.concat(pieces).subarray(0, segmentLength);
    const plaintext = aesCtr(sskDataKey(salt, cap.readkey), ciphertext);
    const segStart = s * header.segmentSize;
    return plaintext.subarray(Math.max(0, offset - segStart), Math.min(segmentLength, end - segStart));
  };
  const firstSegment = Math.floor(offset / header.segmentSize);
  const lastSegment = Math.floor((end - 1) / header.segmentSize);
  const window = Math.max(1, options.parallelSegments ?? PARALLEL_SEGMENTS);
  const inFlight: Array<Promise<Buffer>> = [];
  let next = firstSegment;
  const startNext = (): void => {
    const p = fetchSegment(next++);
    p.catch(() => undefined);
    inFlight.push(p);
  };
  const parts: Buffer[] = [];
  try {
    while (next <= lastSegment && inFlight.length < window) startNext();
    while (inFlight.length > 0) {
      parts.push(await (inFlight.shift() as Promise<Buffer>));
      if (next <= lastSegment) startNext();
    }
  } catch (e) {
    stop.abort();
    throw options.signal?.aborted === true ? asTahoeError(options.signal.reason ?? e, 'Aborted') : e;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

export interface RetrieveResult {
  readonly plaintext: Buffer;
  readonly version: MutableVersion;
  readonly versions: readonly MutableVersion[];
  readonly failures: readonly ShareFailure[];
}

/**
 * Inspect the given shares, pick the best recoverable version and retrieve it. When that
 * version turns out unrecoverable (too many corrupt blocks), the next one is tried.
 */
export async function retrieveBest(cap: MutableWriteCap | MutableReadCap, readers: readonly ShareReader[], options: RetrieveOptions = {}): Promise<RetrieveResult> {
  const failures: ShareFailure[] = [];
  const onShareFailure = (f: ShareFailure): void => {
    failures.push(f);
    options.onShareFailure?.(f);
  };
  const { versions } = await inspectShares(cap, readers, { signal: options.signal, onShareFailure });
  let lastError: TahoeError | undefined;
  for (const version of versions.filter((v) => v.recoverable)) {
    try {
      const plaintext = await retrieveVersion(cap, version, { ...options, onShareFailure });
      return { plaintext, version, versions, failures };
    } catch (e) {
      if (!isTahoeError(e, 'NotEnoughShares')) throw e;
      lastError = e;
    }
  }
  throw new TahoeError('NotEnoughShares', `no version of this mutable file can be recovered from the ${readers.length} shares found`, {
    cause: lastError,
    details: { shares: readers.length, versions: versions.length, corrupt: failures.length },
  });
}

/**
 * Check every block of one share of a version (what a verifier does; any cap level).
 * With a write cap the encrypted private key is checked too. Throws `ShareCorrupt`.
 */
export async function verifyShare(version: MutableVersion, share: InspectedShare, options: { signal?: AbortSignal; writeCap?: MutableWriteCap } = {}): Promise<void> {
  const verifier = new VersionVerifier(version);
  const state = new ShareState(share);
  await verifier.prepare(state, options.signal);
  for (let s = 0; s < verifier.geometry.numSegments; s++) await verifier.block(state, s, options.signal);
  if (options.writeCap !== undefined) await recoverSigningKey(options.writeCap, share, options.signal);
}

/** Decrypt and check the private key stored in a share (write caps only). */
export async function recoverSigningKey(cap: MutableWriteCap, share: InspectedShare, signal?: AbortSignal): Promise<MutableSigningKey> {
  const encrypted = await readRegion(share, share.header.regions.encryptedPrivateKey, signal);
  try {
    return decryptPrivateKey(cap.writekey, encrypted);
  } catch (e) {
    throw isTahoeError(e, 'ShareCorrupt') ? shareCorrupt(share.shareNumber, e.message) : e;
  }
}

/** Convenience for bytes in memory: retrieve the best version from complete shares. */
export async function decodeMutableShares(cap: MutableWriteCap | MutableReadCap, shares: ReadonlyMap<number, Uint8Array> | readonly Uint8Array[], options: RetrieveOptions = {}): Promise<RetrieveResult> {
  const entries: Array<[number, Uint8Array]> = shares instanceof Map ? [...shares.entries()] : (shares as readonly Uint8Array[]).map((b, i) => [i, b]);
  return retrieveBest(cap, entries.map(([i, b]) => bytesShareReader(i, b)), options);
}
