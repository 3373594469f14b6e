/**
 * CHK encoding parameters and the sizes that follow from them (spec:
 * shared/specs/tahoe-formats.md §3.2, §3.4; upstream `immutable/upload.py`, `encode.py`).
 *
 * Every size here is a pure function of (k, N, max segment size, file size), so an
 * uploader can know segment sizes, share sizes and the layout before reading a byte.
 */
import { TahoeError } from '../errors.js';

/** Tahoe 1.20's `DEFAULT_IMMUTABLE_MAX_SEGMENT_SIZE` (1 MiB). */
export const DEFAULT_MAX_SEGMENT_SIZE = 1_048_576;
/** Files of this many bytes or fewer are LIT caps, not stored on servers. */
export const LIT_SIZE_THRESHOLD = 55;
export const MAX_TOTAL_SHARES = 256;

export interface EncodingParameters {
  /** Shares needed to reconstruct (`shares.needed`). */
  readonly k: number;
  /** Shares produced (`shares.total`). */
  readonly n: number;
  /** Upper bound on the segment size before rounding to a multiple of k. */
  readonly maxSegmentSize: number;
}

export const DEFAULT_ENCODING: EncodingParameters = { k: 3, n: 10, maxSegmentSize: DEFAULT_MAX_SEGMENT_SIZE };

export function checkEncodingParameters(params: EncodingParameters): void {
  const { k, n, maxSegmentSize } = params;
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k || n > MAX_TOTAL_SHARES) {
    throw new TahoeError('BadInput', `invalid encoding parameters k=${String(k)}, N=${String(n)}`, {
      hint: `use whole numbers with 1 ≤ k ≤ N ≤ ${MAX_TOTAL_SHARES} (tahoe.cfg [client] shares.needed and shares.total; default 3 and 10)`,
      details: { k: String(k), n: String(n) },
    });
  }
  if (!Number.isSafeInteger(maxSegmentSize) || maxSegmentSize < 1) {
    throw new TahoeError('BadInput', `invalid maximum segment size ${String(maxSegmentSize)}`, {
      hint: `use a positive whole number of bytes (Tahoe's default is ${DEFAULT_MAX_SEGMENT_SIZE}; the upstream test vectors use 131072)`,
    });
  }
}

export function checkFileSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new TahoeError('BadInput', `invalid file size ${String(size)}`, { hint: 'the size must be a whole number of bytes below 2^53' });
  }
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const nextMultiple = (x: number, k: number): number => k * ceilDiv(x, k);

/** How a file of `size` bytes is cut into segments, pieces and blocks. */
export interface SegmentPlan {
  readonly k: number;
  readonly n: number;
  readonly size: number;
  /** next_multiple(min(maxSegmentSize, size), k) */
  readonly segmentSize: number;
  readonly numSegments: number;
  /** Unpadded bytes in the last segment. */
  readonly tailSize: number;
  /** tailSize rounded up to a multiple of k. */
  readonly paddedTailSize: number;
  /** segmentSize / k */
  readonly blockSize: number;
  /** paddedTailSize / k */
  readonly tailBlockSize: number;
  /** Bytes of blocks per share: ceil(size / k). */
  readonly dataSize: number;
}

export function planSegments(params: EncodingParameters, size: number): SegmentPlan {
  checkEncodingParameters(params);
  checkFileSize(size);
  const { k, n } = params;
  if (size <= LIT_SIZE_THRESHOLD) {
    throw new TahoeError('Internal', `a ${size}-byte file is a LIT file and has no CHK segments`);
  }
  return planWithSegmentSize(k, n, nextMultiple(Math.min(params.maxSegmentSize, size), k), size);
}

/**
 * The plan for a known effective segment size (a downloader takes it from the UEB). The
 * caller has checked 1 ≤ k ≤ N, size ≥ 1 and segmentSize a positive multiple of k.
 */
export function planWithSegmentSize(k: number, n: number, segmentSize: number, size: number): SegmentPlan {
  const numSegments = ceilDiv(size, segmentSize);
  const tailSize = size % segmentSize === 0 ? segmentSize : size % segmentSize;
  const paddedTailSize = nextMultiple(tailSize, k);
  const blockSize = segmentSize / k;
  const tailBlockSize = paddedTailSize / k;
  const dataSize = (numSegments - 1) * blockSize + tailBlockSize;
  return { k, n, size, segmentSize, numSegments, tailSize, paddedTailSize, blockSize, tailBlockSize, dataSize };
}

/** Plaintext byte range [start, end) of segment `s`. */
export function segmentRange(plan: SegmentPlan, s: number): { start: number; end: number } {
  const start = s * plan.segmentSize;
  return { start, end: Math.min(plan.size, start + plan.segmentSize) };
}

/** Block length of segment `s` in every share. */
export function blockLength(plan: SegmentPlan, s: number): number {
  return s === plan.numSegments - 1 ? plan.tailBlockSize : plan.blockSize;
}

/** `codec_params` / `tail_codec_params` strings of the UEB: "segsize-k-N". */
export function codecParamsString(segmentSize: number, k: number, n: number): string {
  return `${segmentSize}-${k}-${n}`;
}
