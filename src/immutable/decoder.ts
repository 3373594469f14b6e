/**
 * CHK decoder (spec: shared/specs/tahoe-formats.md §3.3–§3.9; upstream
 * `docs/specifications/file-encoding.rst`, `immutable/downloader/`).
 *
 * Pure: shares are read through `ShareReader`s the caller supplies (files, HTTP Range
 * requests over Tor/I2P…). Everything read is verified before use:
 *
 *   cap ── UEB hash ──▶ UEB ── share_root_hash ──▶ share hash chain ──▶ block-tree root
 *         (per share)       ── crypttext_root_hash ──▶ crypttext hash tree ──▶ segment
 *   block ── block hash tree of its share; decoded segment ── crypttext tree leaf;
 *   whole file ── crypttext_hash (checked before the last bytes are released)
 *
 * A share that fails to read or verify is dropped, reported through `onShareFailure`
 * (with a `ShareCorrupt` error when its bytes are wrong, so the grid can advise-corrupt
 * the server) and replaced by another candidate. Plaintext comes out segment by segment;
 * at most two segments (the current one and the one being fetched ahead) are in memory.
 * A byte range reads only the segments that cover it.
 */
import { TahoeError, asTahoeError, isTahoeError, throwIfAborted } from '../errors.js';
import { AesCtrStream } from '../crypto/aes.js';
import { TAGS, TaggedHasher } from '../crypto/hashes.js';
import { HASH_SIZE, IncompleteHashTree, treeNodeCount } from '../crypto/merkle.js';
import { blockHash, crypttextSegmentHash, uriExtensionHash } from '../crypto/derive.js';
import { base32Encode } from '../crypto/base32.js';
import { createCodec, type ErasureCodec } from '../codec/index.js';
import { chkStorageIndex, type ChkCap, type ChkVerifierCap } from '../caps/caps.js';
import { blockLength, type SegmentPlan } from './params.js';
import { parseUriExtension, planFromUriExtension, type UriExtension } from './ueb.js';
import {
  MAX_HEADER_SIZE, SHARE_HASH_ENTRY_SIZE, checkHeaderAgainstPlan, parseShareHashChain, parseShareHeader, parseUebLength, type ShareHeader,
} from './layout.js';

/** Random access to one share's bytes (offsets from the start of the share data). */
export interface ShareReader {
  readonly shareNumber: number;
  /** Where the share lives, for reports (e.g. a server's nickname); never a secret. */
  readonly description?: string;
  /**
   * `length` bytes from `offset`; fewer only when the share ends sooner (like an HTTP
   * Range request). Throw a TahoeError on failure.
   */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
}

export interface ShareFailure {
  readonly shareNumber: number;
  readonly reader: ShareReader;
  /** `ShareCorrupt` when the share's bytes are wrong; other kinds for read failures. */
  readonly error: TahoeError;
}

export interface ChkOpenOptions {
  readonly signal?: AbortSignal;
  /** Called once per share that is dropped, as soon as it is. */
  readonly onShareFailure?: (failure: ShareFailure) => void;
  readonly codec?: ErasureCodec;
  /** Segments' worth of hashes fetched per hash read (default 128; 1 = fetch per segment). */
  readonly hashPrefetchSegments?: number;
}

export interface ReadRange {
  readonly offset?: number;
  readonly length?: number;
  readonly signal?: AbortSignal;
}

/** Bytes beyond the share-hash area read speculatively with the first share (UEBs are ~300–850 bytes). */
const UEB_SPECULATIVE_BYTES = 1024;
/** A share-hash chain never needs more entries than the largest share tree has nodes. */
const MAX_CHAIN_BYTES = treeNodeCount(256) * SHARE_HASH_ENTRY_SIZE;
/** Node runs closer than this are fetched in one read. */
const MERGE_GAP_NODES = 8;

type ShareStatus = 'new' | 'ready' | 'failed';

class ShareState {
  status: ShareStatus = 'new';
  header?: ShareHeader;
  chain?: Map<number, Buffer>;
  /** Bytes read past the chain while opening (may hold the UEB). */
  tail?: Uint8Array;
  blockTree?: IncompleteHashTree;
  prepared?: Promise<void>;
  activated?: Promise<void>;
  constructor(readonly reader: ShareReader) {}
  get shareNumber(): number {
    return this.reader.shareNumber;
  }
}

function describeShare(state: ShareState): string {
  return `share ${state.shareNumber}${state.reader.description !== undefined ? ` (${state.reader.description})` : ''}`;
}

/** An opened CHK file: UEB verified, ready to read ranges or verify shares. */
export class ChkFileReader {
  readonly cap: ChkCap | ChkVerifierCap;
  readonly uriExtension: UriExtension;
  readonly plan: SegmentPlan;
  private readonly states: ShareState[];
  private readonly shareTree: IncompleteHashTree;
  private readonly crypttextTree: IncompleteHashTree;
  private readonly codec: ErasureCodec;
  private readonly failureList: ShareFailure[];
  private readonly options: ChkOpenOptions;
  private readonly prefetch: number;

  private constructor(init: {
    cap: ChkCap | ChkVerifierCap; uriExtension: UriExtension; plan: SegmentPlan; states: ShareState[];
    failures: ShareFailure[]; options: ChkOpenOptions;
  }) {
    this.cap = init.cap;
    this.uriExtension = init.uriExtension;
    this.plan = init.plan;
    this.states = init.states;
    this.failureList = init.failures;
    this.options = init.options;
    this.prefetch = Math.max(1, Math.floor(init.options.hashPrefetchSegments ?? 128));
    this.codec = init.options.codec ?? createCodec(init.plan.k, init.plan.n);
    if (this.codec.k !== init.plan.k || this.codec.n !== init.plan.n) throw new TahoeError('Internal', 'codec parameters differ from the file');
    this.shareTree = new IncompleteHashTree(init.plan.n, init.uriExtension.shareRootHash);
    this.crypttextTree = new IncompleteHashTree(init.plan.numSegments, init.uriExtension.crypttextRootHash);
  }

  /**
   * Find and verify the UEB through the candidate shares (in the order given), check it
   * against the cap, and return a reader. Fails with `NotEnoughShares` when no share
   * yields a valid UEB.
   */
  static async open(cap: ChkCap | ChkVerifierCap, readers: readonly ShareReader[], options: ChkOpenOptions = {}): Promise<ChkFileReader> {
    if (cap.size < 1) {
      throw new TahoeError('CapInvalid', 'a CHK cap for an empty file cannot be valid (empty files are URI:LIT:)', { hint: 'check the cap was copied whole' });
    }
    const failures: ShareFailure[] = [];
    const states: ShareState[] = [];
    const report = (state: ShareState, error: TahoeError): void => {
      state.status = 'failed';
      const failure = { shareNumber: state.shareNumber, reader: state.reader, error };
      failures.push(failure);
      options.onShareFailure?.(failure);
    };
    for (const reader of readers) {
      const state = new ShareState(reader);
      if (!Number.isInteger(reader.shareNumber) || reader.shareNumber < 0 || reader.shareNumber >= cap.total) {
        report(state, new TahoeError('BadInput', `share number ${String(reader.shareNumber)} is outside 0..${cap.total - 1}`, {
          hint: 'this reader does not belong to this file', details: { shareNumber: String(reader.shareNumber) },
        }));
      }
      states.push(state);
    }
    for (const state of states) {
      if (state.status === 'failed') continue;
      throwIfAborted(options.signal);
      try {
        await prepareShare(state, options.signal, true);
        const uebBytes = await readUeb(state, options.signal);
        if (!uriExtensionHash(uebBytes).equals(cap.uebHash)) {
          throw new TahoeError('ShareCorrupt', `${describeShare(state)}: its URI extension block does not match the cap`, {
            details: { shareNumber: state.shareNumber, reason: 'ueb-hash' },
          });
        }
        // From here on the UEB is authentic: a problem in it is the file's, not the share's.
        const uriExtension = parseUriExtension(uebBytes);
        const plan = planFromUriExtension(uriExtension, cap);
        const reader = new ChkFileReader({ cap, uriExtension, plan, states, failures, options });
        await reader.activate(state).catch(() => undefined); // a failure here is recorded; other shares may do
        return reader;
      } catch (e) {
        if (options.signal?.aborted) throwIfAborted(options.signal);
        if (isTahoeError(e, 'IntegrityError') || isTahoeError(e, 'CapInvalid')) throw e;
        report(state, shareError(state, e));
      }
    }
    throw notEnoughShares(cap.needed, 0, failures, 'no share yielded a valid URI extension block');
  }

  get size(): number {
    return this.plan.size;
  }

  get storageIndex(): Buffer {
    return chkStorageIndex(this.cap);
  }

  /** Shares dropped so far, with the reason. */
  get failures(): readonly ShareFailure[] {
    return this.failureList;
  }

  /**
   * Plaintext of `[offset, offset + length)` (default: the whole file), segment by
   * segment. Needs a read cap.
   */
  async *read(range: ReadRange = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const cap = this.cap;
    if (cap.type !== 'CHK') {
      throw new TahoeError('CapInvalid', 'a verify cap cannot decrypt the file', { hint: 'use the read cap (URI:CHK:…) to download' });
    }
    const size = this.plan.size;
    const offset = range.offset ?? 0;
    const length = range.length ?? size - offset;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new TahoeError('BadInput', `byte range ${String(offset)}+${String(length)} is outside the ${size}-byte file`, {
        hint: `ask for bytes within 0..${size - 1}`, details: { offset: String(offset), length: String(length), size },
      });
    }
    if (length === 0) return;
    const { segmentSize } = this.plan;
    const first = Math.floor(offset / segmentSize);
    const last = Math.floor((offset + length - 1) / segmentSize);
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, ...[range.signal, this.options.signal].filter((x): x is AbortSignal => x !== undefined)]);
    const flat = offset === 0 && length === size ? new TaggedHasher(TAGS.CIPHERTEXT) : undefined;
    let pending: Promise<Buffer> | undefined = this.fetchSegment(first, last, signal);
    try {
      for (let s = first; s <= last; s++) {
        const ciphertext = await (pending as Promise<Buffer>);
        pending = s < last ? this.fetchSegment(s + 1, last, signal) : undefined;
        pending?.catch(() => undefined); // awaited on the next round; do not let an early exit leave it unhandled
        const segmentStart = s * segmentSize;
        if (flat !== undefined) {
          flat.update(ciphertext);
          if (s === last && !flat.digest().equals(this.uriExtension.crypttextHash)) {
            throw new TahoeError('IntegrityError', 'the decoded file does not match its crypttext hash', {
              hint: 'every segment verified, yet the whole does not: the uploader was broken; the file cannot be trusted',
            });
          }
        }
        const from = Math.max(offset, segmentStart) - segmentStart;
        const to = Math.min(offset + length, segmentStart + ciphertext.length) - segmentStart;
        const plaintext = new AesCtrStream(cap.key, segmentStart + from).update(ciphertext.subarray(from, to));
        yield plaintext;
      }
    } finally {
      stop.abort(new TahoeError('Aborted', 'download finished or was abandoned'));
    }
  }

  /**
   * Fully verify every candidate share (all blocks, its hash trees, its share hash chain,
   * its copy of the UEB) without decrypting; works with a verify cap. Failed shares are
   * reported as usual.
   */
  async verifyShares(signal?: AbortSignal): Promise<{ healthy: number[]; failures: readonly ShareFailure[] }> {
    const healthy: number[] = [];
    for (const state of this.states) {
      if (state.status === 'failed') continue;
      try {
        await this.activate(state);
        // a verifier also checks the share's own copy of the UEB (a reader needs only one)
        if (!uriExtensionHash(await readUeb(state, signal)).equals(this.cap.uebHash)) {
          throw new TahoeError('ShareCorrupt', `${describeShare(state)}: its URI extension block does not match the cap`, {
            details: { shareNumber: state.shareNumber, reason: 'ueb-hash' },
          });
        }
        const ownCrypttextTree = new IncompleteHashTree(this.plan.numSegments, this.uriExtension.crypttextRootHash);
        for (let s = 0; s < this.plan.numSegments; s++) {
          throwIfAborted(signal);
          await this.fetchBlock(state, s, this.plan.numSegments - 1, signal);
          const missing = ownCrypttextTree.missingHashes(this.window(s, this.plan.numSegments - 1), true);
          if (missing.length > 0) {
            const header = state.header as ShareHeader;
            const nodes = await readTreeNodes(state, header.offsets.crypttextHashTree, missing, signal);
            ownCrypttextTree.addHashes(nodes, corruptContext(state, 'crypttext hash tree'));
          }
        }
        healthy.push(state.shareNumber);
      } catch (e) {
        if (signal?.aborted) throwIfAborted(signal);
        this.fail(state, e);
      }
    }
    return { healthy, failures: this.failureList };
  }

  private window(s: number, last: number): number[] {
    const end = Math.min(last, s + this.prefetch - 1);
    return Array.from({ length: end - s + 1 }, (_, i) => s + i);
  }

  private fail(state: ShareState, e: unknown): void {
    if (state.status === 'failed') return;
    state.status = 'failed';
    const failure = { shareNumber: state.shareNumber, reader: state.reader, error: shareError(state, e) };
    this.failureList.push(failure);
    this.options.onShareFailure?.(failure);
  }

  /**
   * Header and chain read; chain verified against the share hash tree; block tree ready.
   * Memoised and shared by concurrent reads, so it obeys only the open-level signal: one
   * abandoned read must not spoil a share for the others.
   */
  private activate(state: ShareState): Promise<void> {
    const signal = this.options.signal;
    state.activated ??= (async () => {
      try {
        await prepareShare(state, signal, false);
        const header = state.header as ShareHeader;
        checkHeaderAgainstPlan(header, this.plan);
        this.shareTree.addHashes(state.chain as Map<number, Buffer>, corruptContext(state, 'share hash chain'));
        const root = this.shareTree.getLeaf(state.shareNumber);
        if (root === undefined) {
          throw new TahoeError('ShareCorrupt', `${describeShare(state)}: its share hash chain lacks its own block-tree root`, {
            details: { shareNumber: state.shareNumber, reason: 'chain-incomplete' },
          });
        }
        state.blockTree = new IncompleteHashTree(this.plan.numSegments, root);
        if (state.status !== 'failed') state.status = 'ready';
      } catch (e) {
        if (signal?.aborted) {
          state.activated = undefined;
          throwIfAborted(signal);
        }
        this.fail(state, e);
        throw e;
      }
    })();
    return state.activated;
  }

  /**
   * `count` ready shares with distinct share numbers not in `exclude`, activating more
   * candidates as needed. Throws NotEnoughShares when the candidates run out.
   */
  private async pickShares(count: number, exclude: ReadonlySet<number>, signal: AbortSignal): Promise<ShareState[]> {
    while (true) {
      throwIfAborted(signal);
      const chosen: ShareState[] = [];
      const numbers = new Set(exclude);
      for (const st of this.states) {
        if (st.status === 'ready' && !numbers.has(st.shareNumber)) {
          chosen.push(st);
          numbers.add(st.shareNumber);
          if (chosen.length === count) return chosen;
        }
      }
      const inFlight: Promise<void>[] = [];
      const fresh: ShareState[] = [];
      for (const st of this.states) {
        if (st.status !== 'new' || numbers.has(st.shareNumber)) continue;
        if (st.activated !== undefined) {
          inFlight.push(st.activated.catch(() => undefined));
        } else if (fresh.length + inFlight.length < count - chosen.length) {
          fresh.push(st);
        }
        numbers.add(st.shareNumber);
      }
      if (fresh.length === 0 && inFlight.length === 0) {
        throw notEnoughShares(this.plan.k, new Set(this.states.filter((s) => s.status === 'ready').map((s) => s.shareNumber)).size, this.failureList);
      }
      await Promise.all([...inFlight, ...fresh.map((st) => this.activate(st).catch(() => undefined))]);
    }
  }

  private async fetchBlock(state: ShareState, s: number, last: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const header = state.header as ShareHeader;
    const tree = state.blockTree as IncompleteHashTree;
    const length = blockLength(this.plan, s);
    const missing = tree.missingHashes(this.window(s, last), true);
    const [block, nodes] = await Promise.all([
      readExact(state, header.offsets.data + s * this.plan.blockSize, length, signal, `block ${s}`),
      readTreeNodes(state, header.offsets.blockHashes, missing, signal),
    ]);
    tree.addHashes(nodes, corruptContext(state, 'block hash tree'));
    tree.setLeaf(s, blockHash(block), corruptContext(state, `block ${s}`));
    return block;
  }

  /** Segment `s` as unpadded ciphertext, from any k shares, fully verified. */
  private async fetchSegment(s: number, last: number, signal: AbortSignal): Promise<Buffer> {
    const { k } = this.plan;
    const blocks = new Map<number, Uint8Array>();
    while (blocks.size < k) {
      const shares = await this.pickShares(k - blocks.size, new Set(blocks.keys()), signal);
      const results = await Promise.allSettled(shares.map((st) => this.fetchBlock(st, s, last, signal)));
      throwIfAborted(signal);
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') blocks.set(shares[i].shareNumber, r.value);
        else this.fail(shares[i], r.reason);
      });
    }
    const pieces = this.codec.decode(blocks);
    const segmentLength = s === this.plan.numSegments - 1 ? this.plan.tailSize : this.plan.segmentSize;
    const ciphertext = Buffer.concat(pieces).subarray(0, segmentLength);
    await this.verifyCrypttextSegment(s, last, ciphertext, signal);
    return ciphertext;
  }

  private async verifyCrypttextSegment(s: number, last: number, ciphertext: Buffer, signal: AbortSignal): Promise<void> {
    while (true) {
      const missing = this.crypttextTree.missingHashes(this.window(s, last), true);
      if (missing.length === 0) break;
      const [state] = await this.pickShares(1, new Set(), signal);
      try {
        const header = state.header as ShareHeader;
        const nodes = await readTreeNodes(state, header.offsets.crypttextHashTree, missing, signal);
        this.crypttextTree.addHashes(nodes, corruptContext(state, 'crypttext hash tree'));
      } catch (e) {
        throwIfAborted(signal);
        this.fail(state, e);
      }
    }
    this.crypttextTree.setLeaf(s, crypttextSegmentHash(ciphertext), {
      kind: 'IntegrityError',
      what: `segment ${s}`,
      hint: 'the segment decoded from verified blocks does not match the file\'s crypttext hash tree: the uploader was broken',
    });
  }
}

function corruptContext(state: ShareState, what: string): { kind: 'ShareCorrupt'; what: string; details: Record<string, number | string> } {
  return { kind: 'ShareCorrupt', what: `${describeShare(state)}: ${what}`, details: { shareNumber: state.shareNumber } };
}

function shareError(state: ShareState, e: unknown): TahoeError {
  if (e instanceof TahoeError) return e;
  return asTahoeError(e, 'ServerUnreachable', `reading ${describeShare(state)} failed; tahoe-ts tries another share`);
}

function notEnoughShares(needed: number, usable: number, failures: readonly ShareFailure[], why?: string): TahoeError {
  const summary = failures.slice(0, 8).map((f) => `share ${f.shareNumber}: ${f.error.kind}: ${f.error.message}`).join('; ');
  return new TahoeError('NotEnoughShares', `${why ?? `only ${usable} of the ${needed} shares needed could be used`}${failures.length > 0 ? ` (${failures.length} failed: ${summary}${failures.length > 8 ? '; …' : ''})` : ''}`, {
    hint: `at least ${needed} different valid shares are needed; make more servers (or share files) reachable`,
    details: { needed, usable, failed: failures.length },
  });
}

async function readExact(state: ShareState, offset: number, length: number, signal: AbortSignal | undefined, what: string): Promise<Uint8Array> {
  throwIfAborted(signal);
  const bytes: unknown = await state.reader.read(offset, length, signal);
  if (!(bytes instanceof Uint8Array)) throw new TahoeError('Internal', `share reader for share ${state.shareNumber} returned no bytes`);
  if (bytes.length !== length) {
    throw new TahoeError('ShareCorrupt', `${describeShare(state)}: ${what} truncated (${bytes.length} of ${length} bytes at offset ${offset})`, {
      details: { shareNumber: state.shareNumber, reason: 'truncated', offset },
    });
  }
  return bytes;
}

/** Read the given node indices of a tree stored at `base`, merging nearby nodes into one read. */
async function readTreeNodes(state: ShareState, base: number, nodes: readonly number[], signal: AbortSignal | undefined): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  if (nodes.length === 0) return out;
  const runs: Array<[number, number]> = [];
  for (const node of nodes) {
    const run = runs[runs.length - 1];
    if (run !== undefined && node - run[1] <= MERGE_GAP_NODES) run[1] = node;
    else runs.push([node, node]);
  }
  await Promise.all(runs.map(async ([from, to]) => {
    const bytes = await readExact(state, base + from * HASH_SIZE, (to - from + 1) * HASH_SIZE, signal, 'hash tree');
    for (const node of nodes) {
      if (node >= from && node <= to) out.set(node, bytes.subarray((node - from) * HASH_SIZE, (node - from + 1) * HASH_SIZE));
    }
  }));
  return out;
}

/** Read and parse the header and share hash chain (plus, when `speculate`, bytes that likely hold the UEB). */
function prepareShare(state: ShareState, signal: AbortSignal | undefined, speculate: boolean): Promise<void> {
  state.prepared ??= (async () => {
    try {
      await readHeaderAndChain(state, signal, speculate);
    } catch (e) {
      if (signal?.aborted) state.prepared = undefined;
      throw e;
    }
  })();
  return state.prepared;
}

async function readHeaderAndChain(state: ShareState, signal: AbortSignal | undefined, speculate: boolean): Promise<void> {
  throwIfAborted(signal);
  const headerBytes = await state.reader.read(0, MAX_HEADER_SIZE, signal);
  const header = parseShareHeader(headerBytes);
  const chainBytes = header.offsets.uriExtension - header.offsets.shareHashes;
  // Bound the read before making it: a corrupt header must not make us ask for gigabytes.
  if (chainBytes === 0 || chainBytes % SHARE_HASH_ENTRY_SIZE !== 0 || chainBytes > MAX_CHAIN_BYTES) {
    throw new TahoeError('ShareCorrupt', `${describeShare(state)}: share hash area of ${chainBytes} bytes is malformed`, {
      details: { shareNumber: state.shareNumber, reason: 'chain-size' },
    });
  }
  const wanted = chainBytes + header.fieldSize + (speculate ? UEB_SPECULATIVE_BYTES : 0);
  const bytes = await state.reader.read(header.offsets.shareHashes, wanted, signal);
  if (bytes.length < chainBytes + header.fieldSize) {
    throw new TahoeError('ShareCorrupt', `${describeShare(state)}: truncated before its URI extension block`, {
      details: { shareNumber: state.shareNumber, reason: 'truncated' },
    });
  }
  state.header = header;
  state.chain = parseShareHashChain(bytes.subarray(0, chainBytes));
  state.tail = bytes.subarray(chainBytes);
}

/** The UEB bytes of a prepared share (one more read if the speculative bytes fell short). */
async function readUeb(state: ShareState, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const header = state.header as ShareHeader;
  const tail = state.tail as Uint8Array;
  const length = parseUebLength(tail.subarray(0, header.fieldSize), header.fieldSize);
  if (tail.length >= header.fieldSize + length) return tail.subarray(header.fieldSize, header.fieldSize + length);
  return readExact(state, header.offsets.uriExtension + header.fieldSize, length, signal, 'URI extension block');
}

/** Open a CHK file and stream (a range of) its plaintext. */
export async function* decodeChk(cap: ChkCap, readers: readonly ShareReader[], options: ChkOpenOptions & { offset?: number; length?: number } = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const file = await ChkFileReader.open(cap, readers, options);
  yield* file.read({ offset: options.offset, length: options.length, signal: options.signal });
}

/** For logs and reports: the storage index of a CHK cap in base32. */
export function storageIndexString(cap: ChkCap | ChkVerifierCap): string {
  return base32Encode(chkStorageIndex(cap));
}
