/**
 * The URI extension block, "UEB" (spec: shared/specs/tahoe-formats.md §3.7; upstream
 * `docs/specifications/URI-extension.rst`, `uri.py` pack_extension/unpack_extension).
 *
 * Serialised as `key ":" netstring(value)` for every key in bytewise-sorted order, with
 * integers in decimal and hashes as raw bytes. Its tagged hash is in the cap, so once
 * that matches, every root hash in it is trusted.
 */
import { TahoeError } from '../errors.js';
import { netstring } from '../crypto/netstring.js';
import { HASH_SIZE } from '../crypto/merkle.js';
import { codecParamsString, planWithSegmentSize, type SegmentPlan } from './params.js';

/** What Tahoe 1.20 writes for a CHK file (exactly these 11 keys). */
export interface UriExtension {
  readonly codecName: string;
  /** "segsize-k-N" */
  readonly codecParams: string;
  /** "padded_tail-k-N" */
  readonly tailCodecParams: string;
  readonly crypttextHash: Buffer;
  readonly crypttextRootHash: Buffer;
  readonly shareRootHash: Buffer;
  readonly neededShares: number;
  readonly totalShares: number;
  readonly numSegments: number;
  readonly segmentSize: number;
  readonly size: number;
}

export type UebValue = string | number | Uint8Array;

/** Pack arbitrary fields the way Tahoe does (used for the known-answer example too). */
export function packUriExtensionFields(fields: Readonly<Record<string, UebValue>>): Buffer {
  const keys = Object.keys(fields).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [];
  for (const key of keys) {
    if (!/^[A-Za-z0-9_]+$/.test(key)) throw new TahoeError('Internal', `bad UEB key ${JSON.stringify(key)}`);
    const value = fields[key];
    const bytes = typeof value === 'number' ? Buffer.from(String(value), 'ascii') : typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    parts.push(Buffer.from(`${key}:`, 'ascii'), netstring(bytes));
  }
  return Buffer.concat(parts);
}

export function packUriExtension(ueb: UriExtension): Buffer {
  return packUriExtensionFields({
    codec_name: ueb.codecName,
    codec_params: ueb.codecParams,
    crypttext_hash: ueb.crypttextHash,
    crypttext_root_hash: ueb.crypttextRootHash,
    needed_shares: ueb.neededShares,
    num_segments: ueb.numSegments,
    segment_size: ueb.segmentSize,
    share_root_hash: ueb.shareRootHash,
    size: ueb.size,
    tail_codec_params: ueb.tailCodecParams,
    total_shares: ueb.totalShares,
  });
}

/** The UEB an upload of this plan will produce, with its hashes still to be filled in. */
export function uriExtensionFor(plan: SegmentPlan, hashes: Pick<UriExtension, 'crypttextHash' | 'crypttextRootHash' | 'shareRootHash'>): UriExtension {
  return {
    codecName: 'crs',
    codecParams: codecParamsString(plan.segmentSize, plan.k, plan.n),
    tailCodecParams: codecParamsString(plan.paddedTailSize, plan.k, plan.n),
    crypttextHash: hashes.crypttextHash,
    crypttextRootHash: hashes.crypttextRootHash,
    shareRootHash: hashes.shareRootHash,
    neededShares: plan.k,
    totalShares: plan.n,
    numSegments: plan.numSegments,
    segmentSize: plan.segmentSize,
    size: plan.size,
  };
}

/** Length of the packed UEB of a plan; hashes have a fixed size, so it is known up front. */
export function uriExtensionLength(plan: SegmentPlan): number {
  const zero = Buffer.alloc(HASH_SIZE);
  return packUriExtension(uriExtensionFor(plan, { crypttextHash: zero, crypttextRootHash: zero, shareRootHash: zero })).length;
}

function corrupt(why: string): TahoeError {
  return new TahoeError('IntegrityError', `malformed URI extension block: ${why}`, {
    hint: 'the file was uploaded by a broken or incompatible client; it cannot be read',
    details: { reason: why },
  });
}

/** Split a packed UEB into its fields. Unknown keys are kept; duplicates are refused. */
export function parseUriExtensionFields(data: Uint8Array): Map<string, Buffer> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fields = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    const colon = buf.indexOf(0x3a, pos);
    if (colon <= pos || colon - pos > 64) throw corrupt('missing or overlong key');
    const key = buf.toString('latin1', pos, colon);
    if (!/^[A-Za-z0-9_]+$/.test(key)) throw corrupt('key contains unexpected characters');
    const lengthEnd = buf.indexOf(0x3a, colon + 1);
    if (lengthEnd <= colon + 1 || lengthEnd - colon - 1 > 10) throw corrupt(`bad length for ${key}`);
    const lengthText = buf.toString('latin1', colon + 1, lengthEnd);
    if (!/^[0-9]+$/.test(lengthText)) throw corrupt(`bad length for ${key}`);
    const length = Number(lengthText);
    const valueEnd = lengthEnd + 1 + length;
    if (valueEnd >= buf.length || buf[valueEnd] !== 0x2c) throw corrupt(`value of ${key} is truncated or lacks its comma`);
    if (fields.has(key)) throw corrupt(`key ${key} appears twice`);
    fields.set(key, Buffer.from(buf.subarray(lengthEnd + 1, valueEnd)));
    pos = valueEnd + 1;
  }
  return fields;
}

type IntegerKey = 'needed_shares' | 'total_shares' | 'num_segments' | 'segment_size' | 'size';
type HashKey = 'crypttext_hash' | 'crypttext_root_hash' | 'share_root_hash';

/** Parse and type-check a CHK UEB (any legacy extra keys are ignored). */
export function parseUriExtension(data: Uint8Array): UriExtension {
  const fields = parseUriExtensionFields(data);
  const text = (key: string): string => {
    const v = fields.get(key);
    if (v === undefined) throw corrupt(`${key} is missing`);
    return v.toString('latin1');
  };
  const integer = (key: IntegerKey): number => {
    const t = text(key);
    if (!/^[0-9]{1,16}$/.test(t) || !Number.isSafeInteger(Number(t))) throw corrupt(`${key} is not a number`);
    return Number(t);
  };
  const hash = (key: HashKey): Buffer => {
    const v = fields.get(key);
    if (v === undefined) throw corrupt(`${key} is missing`);
    if (v.length !== HASH_SIZE) throw corrupt(`${key} is ${v.length} bytes, not ${HASH_SIZE}`);
    return v;
  };
  return {
    codecName: text('codec_name'),
    codecParams: text('codec_params'),
    tailCodecParams: text('tail_codec_params'),
    crypttextHash: hash('crypttext_hash'),
    crypttextRootHash: hash('crypttext_root_hash'),
    shareRootHash: hash('share_root_hash'),
    neededShares: integer('needed_shares'),
    totalShares: integer('total_shares'),
    numSegments: integer('num_segments'),
    segmentSize: integer('segment_size'),
    size: integer('size'),
  };
}

/**
 * Check a verified UEB against the cap it came from and derive the segment plan. The UEB
 * is authentic (its hash is in the cap), so an inconsistent UEB means the uploader was
 * broken: an `IntegrityError` of the file, not of one share. If only the cap's k/N/size
 * disagree, the cap was altered: `CapInvalid`.
 */
export function planFromUriExtension(ueb: UriExtension, cap: { needed: number; total: number; size: number }): SegmentPlan {
  const { neededShares: k, totalShares: n, segmentSize, size } = ueb;
  if (k !== cap.needed || n !== cap.total || size !== cap.size) {
    throw new TahoeError('CapInvalid', `the cap says k/N/size ${cap.needed}/${cap.total}/${cap.size}, the file's authentic UEB says ${k}/${n}/${size}`, {
      hint: 'the numbers at the end of the cap were altered or mis-copied; use the original cap',
      details: { reason: 'cap-mismatch' },
    });
  }
  if (ueb.codecName !== 'crs') throw corrupt(`unknown codec ${JSON.stringify(ueb.codecName)}`);
  if (size < 1) throw corrupt('size is zero');
  if (segmentSize < 1 || segmentSize % k !== 0) throw corrupt(`segment size ${segmentSize} is not a positive multiple of k=${k}`);
  const plan = planWithSegmentSize(k, n, segmentSize, size);
  if (ueb.numSegments !== plan.numSegments) throw corrupt(`num_segments ${ueb.numSegments} should be ${plan.numSegments}`);
  if (ueb.codecParams !== codecParamsString(segmentSize, k, n)) throw corrupt(`codec_params ${JSON.stringify(ueb.codecParams)} disagree with the segment size`);
  if (ueb.tailCodecParams !== codecParamsString(plan.paddedTailSize, k, n)) {
    throw corrupt(`tail_codec_params ${JSON.stringify(ueb.tailCodecParams)} should be ${codecParamsString(plan.paddedTailSize, k, n)}`);
  }
  return plan;
}
