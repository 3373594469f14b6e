/**
 * CHK encoder (spec: shared/specs/tahoe-formats.md §3.2–§3.9; upstream
 * `docs/specifications/file-encoding.rst`, `immutable/encode.py`, `upload.py`).
 *
 * Pure: it reads plaintext from a `ByteSource` and hands share bytes to a `ShareSink`; the
 * grid's uploader supplies both. Work happens one segment at a time — read, encrypt,
 * hash, erasure-code, write every share's block — so memory holds one segment and its N
 * blocks whatever the file size (plus 32 bytes per segment per share of hashes, which
 * the hash trees at the end of each share need).
 *
 * Order of writes to every share: the header (offset 0), the blocks in segment order
 * (contiguous after the header), then one trailer write with the hash trees, the share
 * hash chain and the UEB. The total size of each share is known before the first write
 * (`chkShareSize`), because the UEB's length depends only on the parameters.
 *
 * Two-step use for an uploader that must allocate before it writes:
 *   const upload = await planChkUpload({ params, size, source, convergenceSecret });
 *   // allocate upload.shareSize bytes per share under upload.storageIndex, then:
 *   const result = await encodeChk(upload, source, sink);
 */
import { TahoeError, throwIfAborted } from '../errors.js';
import { AesCtrStream } from '../crypto/aes.js';
import { TAGS, TaggedHasher } from '../crypto/hashes.js';
import { HashTree } from '../crypto/merkle.js';
import { blockHash, crypttextSegmentHash, storageIndexHash, uriExtensionHash } from '../crypto/derive.js';
import { createCodec, type ErasureCodec } from '../codec/index.js';
import { chkVerifierOf, formatCap, type ChkCap, type ChkVerifierCap } from '../caps/caps.js';
import { KEY_SIZE, convergentKey, randomKey } from './convergence.js';
import { type EncodingParameters, type SegmentPlan, LIT_SIZE_THRESHOLD, blockLength, planSegments } from './params.js';
import { packUriExtension, uriExtensionFor, uriExtensionLength, type UriExtension } from './ueb.js';
import {
  computeShareLayout, encodeShareHashChain, encodeShareHeader, encodeUebField, tahoeShareHashOrder, type LayoutVersion, type ShareLayout,
} from './layout.js';
import { ExactReader, type ByteSource } from './source.js';

/** Where share bytes go. One sink serves all shares of an upload. */
export interface ShareSink {
  /**
   * Store `bytes` at `offset` of share `shareNumber`. The encoder awaits every write of a
   * segment before reading the next one, so a slow sink slows the encoder (backpressure).
   * The bytes are not touched by the encoder afterwards; the sink may keep them.
   */
  writeShare(shareNumber: number, offset: number, bytes: Uint8Array): Promise<void>;
}

export interface ChkUploadPlan {
  readonly params: EncodingParameters;
  readonly plan: SegmentPlan;
  /** AES-128 key (keep secret: it is the read cap's key). */
  readonly key: Buffer;
  readonly storageIndex: Buffer;
  readonly layout: ShareLayout;
  /** Bytes of every share: the `allocated-size` to ask servers for. */
  readonly shareSize: number;
}

export interface PlanChkUploadOptions {
  readonly params: EncodingParameters;
  readonly size: number;
  /** Needed only for convergent keys (read once to hash). */
  readonly source?: ByteSource;
  /** Derive the key from the content (raw secret bytes, from `private/convergence`). */
  readonly convergenceSecret?: Uint8Array;
  /** Use this key. Without it and without a convergence secret, the key is random. */
  readonly key?: Uint8Array;
  /** Force share layout version 1 or 2 (tests); default picks v1 when it fits. */
  readonly layoutVersion?: LayoutVersion;
  readonly signal?: AbortSignal;
}

/** Share size (the allocation) for a CHK upload; pure arithmetic, no data needed. */
export function chkShareSize(params: EncodingParameters, size: number, layoutVersion?: LayoutVersion): number {
  return layoutFor(planSegments(params, size), layoutVersion).totalSize;
}

function layoutFor(plan: SegmentPlan, version?: LayoutVersion): ShareLayout {
  return computeShareLayout({
    blockSize: plan.blockSize,
    dataSize: plan.dataSize,
    numSegments: plan.numSegments,
    totalShares: plan.n,
    uebLength: uriExtensionLength(plan),
    version,
  });
}

/** Choose the key (hashing the source for a convergent one) and compute everything an uploader allocates with. */
export async function planChkUpload(options: PlanChkUploadOptions): Promise<ChkUploadPlan> {
  const { params, size } = options;
  if (size <= LIT_SIZE_THRESHOLD) {
    throw new TahoeError('BadInput', `a ${size}-byte file is stored in its LIT cap, not in shares`, {
      hint: `files of ${LIT_SIZE_THRESHOLD} bytes or less need no servers: use litCap() (immutable/lit.ts)`,
    });
  }
  const plan = planSegments(params, size);
  if (options.key !== undefined && options.convergenceSecret !== undefined) {
    throw new TahoeError('BadInput', 'give either a key or a convergence secret, not both', { hint: 'a convergent key is derived from the secret and the content' });
  }
  let key: Buffer;
  if (options.key !== undefined) {
    if (options.key.length !== KEY_SIZE) throw new TahoeError('BadInput', `an immutable-file key is ${KEY_SIZE} bytes, not ${options.key.length}`);
    key = Buffer.from(options.key);
  } else if (options.convergenceSecret !== undefined) {
    if (options.source === undefined) throw new TahoeError('BadInput', 'a convergent key needs the plaintext source', { hint: 'pass `source` to planChkUpload' });
    key = await convergentKey(options.convergenceSecret, params, size, options.source, options.signal);
  } else {
    key = randomKey();
  }
  const layout = layoutFor(plan, options.layoutVersion);
  return { params, plan, key, storageIndex: storageIndexHash(key), layout, shareSize: layout.totalSize };
}

export interface EncodeChkOptions {
  /** Write only these shares (all N are still computed: the share hash tree needs them). */
  readonly shareNumbers?: readonly number[];
  readonly codec?: ErasureCodec;
  readonly signal?: AbortSignal;
}

export interface ChkEncodeResult {
  readonly cap: ChkCap;
  readonly capString: string;
  readonly verifyCap: ChkVerifierCap;
  readonly storageIndex: Buffer;
  readonly uriExtension: UriExtension;
  readonly uebHash: Buffer;
  readonly shareSize: number;
  readonly layout: ShareLayout;
  readonly sharesWritten: readonly number[];
}

/** Encrypt, encode and write all shares; returns the cap. See the module comment. */
export async function encodeChk(upload: ChkUploadPlan, source: ByteSource, sink: ShareSink, options: EncodeChkOptions = {}): Promise<ChkEncodeResult> {
  const { plan, layout, key } = upload;
  const { k, n, numSegments } = plan;
  const codec = options.codec ?? createCodec(k, n);
  if (codec.k !== k || codec.n !== n) throw new TahoeError('Internal', `codec is ${codec.k}-of-${codec.n}, the upload is ${k}-of-${n}`);
  const targets = checkTargets(options.shareNumbers, n);
  const signal = options.signal;

  const writeAll = async (offsetOf: (shnum: number) => number, bytesOf: (shnum: number) => Uint8Array): Promise<void> => {
    throwIfAborted(signal);
    await Promise.all(targets.map((shnum) => sink.writeShare(shnum, offsetOf(shnum), bytesOf(shnum))));
  };

  const header = encodeShareHeader(layout);
  await writeAll(() => 0, () => header);

  const cipher = new AesCtrStream(key, 0);
  const flatHasher = new TaggedHasher(TAGS.CIPHERTEXT);
  const segmentHashes: Buffer[] = new Array<Buffer>(numSegments);
  // blockHashes[shnum][segment]
  const blockHashes: Buffer[][] = Array.from({ length: n }, () => new Array<Buffer>(numSegments));
  const reader = new ExactReader(source(), plan.size);
  try {
    for (let s = 0; s < numSegments; s++) {
      throwIfAborted(signal);
      const isTail = s === numSegments - 1;
      const plainLength = isTail ? plan.tailSize : plan.segmentSize;
      const paddedLength = isTail ? plan.paddedTailSize : plan.segmentSize;
      const plaintext = await reader.read(plainLength);
      const ciphertext = cipher.update(plaintext);
      segmentHashes[s] = crypttextSegmentHash(ciphertext);
      flatHasher.update(ciphertext);
      // Hashes cover the unpadded ciphertext; the codec sees the zero-padded segment.
      const padded = paddedLength === ciphertext.length ? ciphertext : Buffer.concat([ciphertext, Buffer.alloc(paddedLength - ciphertext.length)]);
      const pieceLength = blockLength(plan, s);
      const pieces = Array.from({ length: k }, (_, j) => padded.subarray(j * pieceLength, (j + 1) * pieceLength));
      const blocks = codec.encode(pieces);
      for (let shnum = 0; shnum < n; shnum++) blockHashes[shnum][s] = blockHash(blocks[shnum]);
      const offset = layout.offsets.data + s * plan.blockSize;
      await writeAll(() => offset, (shnum) => blocks[shnum]);
    }
    await reader.expectEnd();
  } finally {
    await reader.close();
  }

  const crypttextTree = new HashTree(segmentHashes);
  const blockTrees = blockHashes.map((leaves) => new HashTree(leaves));
  const shareTree = new HashTree(blockTrees.map((t) => t.root));
  const uriExtension = uriExtensionFor(plan, {
    crypttextHash: flatHasher.digest(),
    crypttextRootHash: crypttextTree.root,
    shareRootHash: shareTree.root,
  });
  const ueb = packUriExtension(uriExtension);
  if (ueb.length !== layout.uebLength) throw new TahoeError('Internal', `UEB is ${ueb.length} bytes, ${layout.uebLength} were allocated`);
  const uebHash = uriExtensionHash(ueb);

  const plaintextArea = Buffer.alloc(layout.segmentHashTreeSize);
  const crypttextArea = crypttextTree.serialize();
  const uebField = encodeUebField(layout, ueb);
  await writeAll(
    () => layout.offsets.plaintextHashTree,
    (shnum) => {
      // Tahoe's entry order, so that shares are byte-identical to Tahoe's for any N.
      const chain = tahoeShareHashOrder(n, shnum).map((node) => [node, shareTree.nodes[node]] as const);
      return Buffer.concat([plaintextArea, crypttextArea, blockTrees[shnum].serialize(), encodeShareHashChain(chain), uebField]);
    },
  );

  const cap: ChkCap = { type: 'CHK', key, uebHash, needed: k, total: n, size: plan.size };
  return {
    cap,
    capString: formatCap(cap),
    verifyCap: chkVerifierOf(cap),
    storageIndex: upload.storageIndex,
    uriExtension,
    uebHash,
    shareSize: layout.totalSize,
    layout,
    sharesWritten: targets,
  };
}

function checkTargets(shareNumbers: readonly number[] | undefined, n: number): number[] {
  if (shareNumbers === undefined) return Array.from({ length: n }, (_, i) => i);
  const seen = new Set<number>();
  for (const s of shareNumbers) {
    if (!Number.isInteger(s) || s < 0 || s >= n || seen.has(s)) {
      throw new TahoeError('BadInput', `share number ${String(s)} is out of range or repeated (N=${n})`, { hint: `list distinct share numbers in 0..${n - 1}` });
    }
    seen.add(s);
  }
  return [...shareNumbers];
}

/** One-call form: plan (hashing for a convergent key) and encode. */
export async function encodeChkFile(options: PlanChkUploadOptions & EncodeChkOptions & { source: ByteSource; sink: ShareSink }): Promise<ChkEncodeResult> {
  const upload = await planChkUpload(options);
  return encodeChk(upload, options.source, options.sink, options);
}
