/**
 * Encoding one version of a mutable file into N shares (spec: shared/specs/tahoe-formats.md
 * §4; upstream `docs/specifications/mutable.rst`, `src/allmydata/mutable/publish.py`,
 * `layout.py`). Pure: bytes in, shares out; placing them on servers is the grid's job.
 *
 * Per segment (SDMF: the whole file is one segment; MDMF: 128 KiB segments):
 *   salt   = 16 fresh random bytes (SDMF calls it the IV and keeps it in the header)
 *   key    = tagged_pair_hash(MUTABLE_DATAKEY, salt, readkey, 16)
 *   cipher = AES-128-CTR(key, IV 0, segment)
 *   pieces = k zero-padded pieces of ⌈len/k⌉ bytes → zfec → N blocks
 *   leaf   = block_hash(block) (SDMF) or block_hash(salt ‖ block) (MDMF)
 * Each share's block hash tree is built over its leaves (one "empty leaf" node for an
 * empty file); the share hash tree over the N block-tree roots gives the root hash; each
 * share carries the chain needed to check its own root (without the leaf); the signed
 * prefix (version, seqnum, root hash, [IV], k, N, segment size, length) is signed with
 * RSA-PSS. The segment size is ⌈length/k⌉·k for SDMF and next_multiple(128 KiB, k) for
 * MDMF, whatever the file's length.
 */
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { aesCtr } from '../crypto/aes.js';
import { blockHash, sskDataKey } from '../crypto/derive.js';
import { HashTree, emptyLeafHash, neededHashes } from '../crypto/merkle.js';
import { createCodec, type ErasureCodec } from '../codec/index.js';
import { encryptPrivateKey, keyMaterialOf, signData, type MutableSigningKey } from './keys.js';
import type { MutableFormat, MutableWriteCap } from './caps.js';
import {
  MAX_MUTABLE_SHARES, MDMF_HEADER_LENGTH, MDMF_SIGNED_PREFIX_LENGTH, SALT_SIZE, SDMF_HEADER_LENGTH, SHARE_HASH_ENTRY_SIZE,
  encodeMdmfOffsets, encodeShareHashChain, mdmfOffsets, mdmfSignedPrefix, mutableGeometry, nextMultiple, packCheckstring,
  sdmfSignedPrefix, type MutableGeometry,
} from './layout.js';

/** Tahoe's MDMF segment size (`DEFAULT_MUTABLE_MAX_SEGMENT_SIZE`, 128 KiB). */
export const MDMF_SEGMENT_SIZE = 131072;
/** RSA-2048 signatures are 256 bytes. */
export const SIGNATURE_LENGTH = 256;

export interface MutableEncodingParameters {
  readonly format: MutableFormat;
  /** Shares needed (1..N). */
  readonly k: number;
  /** Shares total (k..255). */
  readonly n: number;
}

export interface EncodeMutableOptions extends MutableEncodingParameters {
  /** Sequence number of this version: 1 for a new file, highest seen + 1 for an update. */
  readonly seqnum: number;
  /** MDMF maximum segment size before rounding up to a multiple of k (tests only; Tahoe uses 128 KiB). */
  readonly maxSegmentSize?: number;
  /** Source of the per-segment salts (tests inject fixed ones); default: crypto random. */
  readonly saltFor?: (segment: number) => Uint8Array;
  readonly codec?: ErasureCodec;
}

/** One encoded version: everything a publisher needs to place it. */
export interface EncodedMutableVersion {
  readonly format: MutableFormat;
  readonly seqnum: number;
  readonly rootHash: Buffer;
  readonly k: number;
  readonly n: number;
  readonly segmentSize: number;
  readonly dataLength: number;
  /** SDMF: the IV; MDMF: undefined (salts live in the shares). */
  readonly salt: Buffer | undefined;
  /** Salt of each segment (SDMF: one; MDMF: one per segment). */
  readonly segmentSalts: readonly Buffer[];
  readonly signedPrefix: Buffer;
  readonly signature: Buffer;
  /** What read-test-write will find at offset 0 of every share of this version. */
  readonly checkstring: Buffer;
  /** Share i at index i: the complete bytes a server stores. */
  readonly shares: readonly Buffer[];
}

export function checkMutableParameters(params: MutableEncodingParameters): void {
  if (params.format !== 'SDMF' && params.format !== 'MDMF') {
    throw new TahoeError('BadInput', `unknown mutable format ${String(params.format)}`, { hint: 'use SDMF or MDMF' });
  }
  const { k, n } = params;
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k || n > MAX_MUTABLE_SHARES) {
    throw new TahoeError('BadInput', `mutable files need 1 ≤ k ≤ N ≤ ${MAX_MUTABLE_SHARES}, not k=${String(k)}, N=${String(n)}`, {
      hint: `set shares.needed ≤ shares.total ≤ ${MAX_MUTABLE_SHARES} (k and N are single bytes in mutable shares)`,
      details: { k: String(k), n: String(n) },
    });
  }
}

/** Segment size Tahoe 1.20 picks for a new version. */
export function mutableSegmentSize(format: MutableFormat, k: number, dataLength: number, maxSegmentSize = MDMF_SEGMENT_SIZE): number {
  return nextMultiple(format === 'SDMF' ? dataLength : maxSegmentSize, k);
}

function defaultSalt(): Uint8Array {
  return randomBytes(SALT_SIZE);
}

/** Check that the key pair is the one the write cap was made from. */
export function checkKeyMatchesCap(cap: MutableWriteCap, key: MutableSigningKey): void {
  const material = keyMaterialOf(key);
  if (!material.writekey.equals(cap.writekey) || !material.fingerprint.equals(cap.fingerprint)) {
    throw new TahoeError('BadInput', 'the signing key does not belong to this write cap', {
      hint: 'a mutable file must be re-published with the key recovered from its own shares',
    });
  }
}

interface ShareSkeleton {
  readonly bytes: Buffer;
  readonly dataStart: number;
  readonly chainStart: number;
  readonly signatureStart: number;
  readonly bhtStart: number;
}

/**
 * Encrypt, erasure-code, hash and sign `plaintext` into N complete shares. The shares are
 * allocated once at their final size and the blocks written straight into them.
 */
export function encodeMutableVersion(cap: MutableWriteCap, key: MutableSigningKey, plaintext: Uint8Array, options: EncodeMutableOptions): EncodedMutableVersion {
  checkMutableParameters(options);
  if (!Number.isSafeInteger(options.seqnum) || options.seqnum < 1) {
    throw new TahoeError('Internal', `mutable seqnum must be a positive integer, not ${options.seqnum}`);
  }
  checkKeyMatchesCap(cap, key);
  const { format, k, n, seqnum } = options;
  if (format !== cap.format) throw new TahoeError('BadInput', `a ${cap.format} cap cannot publish ${format} shares`, { hint: 'keep the format of the existing file' });
  const data = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const segmentSize = mutableSegmentSize(format, k, data.length, options.maxSegmentSize);
  const geometry = mutableGeometry(format, k, segmentSize, data.length);
  const codec = options.codec ?? createCodec(k, n);
  if (codec.k !== k || codec.n !== n) throw new TahoeError('Internal', 'codec parameters differ from the encoding parameters');
  const saltFor = options.saltFor ?? defaultSalt;
  const encryptedPrivateKey = encryptPrivateKey(cap.writekey, key.privateKeyDer);
  const chainLength = neededHashes(n, 0).length * SHARE_HASH_ENTRY_SIZE;
  const skeletons = Array.from({ length: n }, () => allocateShare(format, geometry, chainLength, key.publicKeyDer.length, encryptedPrivateKey.length));

  const leaves: Buffer[][] = Array.from({ length: n }, () => []);
  const salts: Buffer[] = [];
  for (let s = 0; s < geometry.numSegments; s++) {
    const salt = Buffer.from(saltFor(s));
    if (salt.length !== SALT_SIZE) throw new TahoeError('Internal', `salt for segment ${s} is ${salt.length} bytes`);
    salts.push(salt);
    const start = s * segmentSize;
    const end = Math.min(data.length, start + segmentSize);
    const blocks = encodeSegment(codec, cap.readkey, salt, data.subarray(start, end));
    const position = format === 'SDMF' ? 0 : s * (geometry.blockSize + SALT_SIZE);
    for (let i = 0; i < n; i++) {
      const share = skeletons[i];
      if (format === 'MDMF') {
        share.bytes.set(salt, share.dataStart + position);
        share.bytes.set(blocks[i], share.dataStart + position + SALT_SIZE);
        leaves[i].push(blockHash(Buffer.concat([salt, blocks[i]])));
      } else {
        share.bytes.set(blocks[i], share.dataStart);
        leaves[i].push(blockHash(blocks[i]));
      }
    }
  }
  // SDMF needs an IV even for an empty file: the signed prefix contains it.
  const sdmfSalt = format === 'SDMF' ? (salts[0] ?? Buffer.from(saltFor(0))) : undefined;
  if (sdmfSalt !== undefined && sdmfSalt.length !== SALT_SIZE) throw new TahoeError('Internal', 'SDMF salt must be 16 bytes');

  const blockTrees = leaves.map((l) => new HashTree(l.length > 0 ? l : [emptyLeafHash(0)]));
  const shareTree = new HashTree(blockTrees.map((t) => t.root));
  const rootHash = shareTree.root;
  const fields = { seqnum, rootHash, k, n, segmentSize, dataLength: data.length };
  const signedPrefix = format === 'SDMF' ? sdmfSignedPrefix({ ...fields, salt: sdmfSalt as Buffer }) : mdmfSignedPrefix(fields);
  const signature = signData(key, signedPrefix);
  if (signature.length !== SIGNATURE_LENGTH) throw new TahoeError('Internal', `unexpected signature length ${signature.length}`);

  const shares = skeletons.map((share, i) => {
    const chain = new Map(shareTree.neededHashes(i).map((node) => [node, shareTree.nodes[node]] as const));
    signedPrefix.copy(share.bytes, 0);
    share.bytes.set(encodeShareHashChain(chain), share.chainStart);
    share.bytes.set(signature, share.signatureStart);
    share.bytes.set(blockTrees[i].serialize(), share.bhtStart);
    if (format === 'SDMF') {
      share.bytes.set(key.publicKeyDer, SDMF_HEADER_LENGTH);
      share.bytes.set(encryptedPrivateKey, share.dataStart + geometry.shareDataLength);
    } else {
      share.bytes.set(encryptedPrivateKey, MDMF_HEADER_LENGTH);
      share.bytes.set(key.publicKeyDer, share.signatureStart + SIGNATURE_LENGTH);
    }
    return share.bytes;
  });
  return {
    format, seqnum, rootHash, k, n, segmentSize, dataLength: data.length,
    salt: sdmfSalt,
    segmentSalts: format === 'SDMF' ? [sdmfSalt as Buffer] : salts,
    signedPrefix, signature,
    checkstring: packCheckstring(format, seqnum, rootHash, sdmfSalt),
    shares,
  };
}

/** Encrypt one segment and erasure-code it into N blocks. */
export function encodeSegment(codec: ErasureCodec, readkey: Uint8Array, salt: Uint8Array, segment: Uint8Array): Uint8Array[] {
  const ciphertext = aesCtr(sskDataKey(salt, readkey), segment);
  const pieceSize = Math.ceil(ciphertext.length / codec.k);
  const pieces: Uint8Array[] = [];
  for (let j = 0; j < codec.k; j++) {
    const piece = ciphertext.subarray(j * pieceSize, (j + 1) * pieceSize);
    if (piece.length === pieceSize) {
      pieces.push(piece);
    } else {
      const padded = Buffer.alloc(pieceSize);
      padded.set(piece);
      pieces.push(padded);
    }
  }
  return codec.encode(pieces);
}

/** Allocate a share at its final size with the offset table filled in. */
function allocateShare(format: MutableFormat, g: MutableGeometry, chainLength: number, vkLength: number, privkeyLength: number): ShareSkeleton {
  const bhtLength = g.blockHashTreeNodes * 32;
  if (format === 'SDMF') {
    const signatureStart = SDMF_HEADER_LENGTH + vkLength;
    const chainStart = signatureStart + SIGNATURE_LENGTH;
    const bhtStart = chainStart + chainLength;
    const dataStart = bhtStart + bhtLength;
    const privkeyStart = dataStart + g.shareDataLength;
    const eof = privkeyStart + privkeyLength;
    if (privkeyStart >= 2 ** 32) {
      throw new TahoeError('BadInput', 'an SDMF file this large does not fit its 32-bit offsets', { hint: 'use MDMF for large mutable files' });
    }
    const bytes = Buffer.alloc(eof);
    const o = 75;
    bytes.writeUInt32BE(signatureStart, o);
    bytes.writeUInt32BE(chainStart, o + 4);
    bytes.writeUInt32BE(bhtStart, o + 8);
    bytes.writeUInt32BE(dataStart, o + 12);
    bytes.writeBigUInt64BE(BigInt(privkeyStart), o + 16);
    bytes.writeBigUInt64BE(BigInt(eof), o + 24);
    return { bytes, dataStart, chainStart, signatureStart, bhtStart };
  }
  const offsets = mdmfOffsets({
    encryptedPrivateKey: privkeyLength, shareHashChain: chainLength, signature: SIGNATURE_LENGTH,
    verificationKey: vkLength, shareData: g.shareDataLength, blockHashTree: bhtLength,
  });
  const bytes = Buffer.alloc(offsets[7]);
  encodeMdmfOffsets(offsets).copy(bytes, MDMF_SIGNED_PREFIX_LENGTH);
  return { bytes, dataStart: offsets[5], chainStart: offsets[1], signatureStart: offsets[2], bhtStart: offsets[6] };
}
