/**
 * zfec-compatible erasure codec (tahoe-formats.md §3.5): systematic Reed–Solomon over
 * GF(2^8) mod 0x11D with zfec's evaluation points x_0 = 0, x_i = α^(i−1), so that shares
 * are byte-for-byte those of Tahoe-LAFS / zfec "crs" for any 1 ≤ k ≤ N ≤ 256.
 *
 * Share i < k is piece i itself; share i ≥ k is parity. Any k distinct shares give the
 * pieces back. The heavy lifting is one matrix–vector product per byte position, done by
 * a WebAssembly SIMD kernel when it has been built (scripts/build-wasm.mjs, part of
 * `npm run build`) and by a table-driven TypeScript kernel otherwise; both give the same
 * bytes. See docs/codec.md.
 *
 * Ownership: encode returns the caller's piece arrays themselves as blocks 0..k−1 and
 * decode returns received data blocks themselves as pieces — no copies. Parity blocks and
 * reconstructed pieces are fresh arrays.
 */
import { TahoeError } from '../errors.js';
import { interpolationMatrix } from './matrix.js';
import { typescriptKernel, type KernelName, type MultiplyKernel } from './kernel.js';
import { wasmKernel } from './kernel-wasm.js';

export type { KernelName } from './kernel.js';

export interface ErasureCodec {
  readonly k: number;
  readonly n: number;
  /** Which multiplication kernel this codec uses. */
  readonly kernel: KernelName;
  /** k equal-length pieces → the blocks for `shareNumbers` (default 0..n-1); block i<k is piece i. */
  encode(pieces: readonly Uint8Array[], shareNumbers?: readonly number[]): Uint8Array[];
  /** Any k distinct (shareNumber → block) of equal length → the k pieces, in order. */
  decode(blocks: ReadonlyMap<number, Uint8Array>): Uint8Array[];
}

export interface CodecOptions {
  /** Force a kernel (tests and benchmarks); the default is the fastest available. */
  kernel?: KernelName;
}

/** The largest N zfec supports: evaluation points must be distinct bytes. */
export const MAX_SHARES = 256;

/** Kernels usable in this process, fastest first. */
export function availableKernels(): KernelName[] {
  return wasmKernel === undefined ? ['typescript'] : ['wasm-simd', 'typescript'];
}

function kernelNamed(name: KernelName | undefined): MultiplyKernel {
  if (name === undefined) return wasmKernel ?? typescriptKernel;
  if (name === 'typescript') return typescriptKernel;
  if (wasmKernel === undefined) {
    throw new TahoeError('Internal', 'the WebAssembly codec kernel is not available in this build', {
      hint: 'run `npm run build` (it runs scripts/build-wasm.mjs to generate src/codec/wasm/kernel.generated.ts), or use the typescript kernel',
    });
  }
  return wasmKernel;
}

const codecCache = new Map<string, ErasureCodec>();

/** A codec for k-of-n; instances (and their matrices) are cached per (k, n, kernel). */
export function createCodec(k: number, n: number, options: CodecOptions = {}): ErasureCodec {
  checkParameters(k, n);
  const kernel = kernelNamed(options.kernel);
  const key = `${k}/${n}/${kernel.name}`;
  let codec = codecCache.get(key);
  if (codec === undefined) {
    codec = new SystematicCodec(k, n, kernel);
    codecCache.set(key, codec);
  }
  return codec;
}

function checkParameters(k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k || n > MAX_SHARES) {
    throw new TahoeError('BadInput', `invalid erasure-coding parameters k=${String(k)}, N=${String(n)}`, {
      hint: `choose whole numbers with 1 ≤ k ≤ N ≤ ${MAX_SHARES} (shares.needed ≤ shares.total in tahoe.cfg; Tahoe's default is 3-of-10)`,
      details: { k: String(k), n: String(n) },
    });
  }
}

class SystematicCodec implements ErasureCodec {
  readonly kernel: KernelName;
  /** Rows k..n−1 of G: the coefficients of each parity share over the k pieces. */
  private readonly parityMatrix: Uint8Array;

  constructor(
    readonly k: number,
    readonly n: number,
    private readonly multiply: MultiplyKernel,
  ) {
    this.kernel = multiply.name;
    const dataShares = Array.from({ length: k }, (_, i) => i);
    const parityShares = Array.from({ length: n - k }, (_, i) => k + i);
    this.parityMatrix = interpolationMatrix(dataShares, parityShares);
  }

  encode(pieces: readonly Uint8Array[], shareNumbers?: readonly number[]): Uint8Array[] {
    const { k, n } = this;
    if (!Array.isArray(pieces) || pieces.length !== k) {
      throw new TahoeError('BadInput', `encode needs exactly k=${k} pieces, got ${Array.isArray(pieces) ? pieces.length : typeof pieces}`, {
        hint: 'cut the (padded) segment into k consecutive pieces of equal length (tahoe-formats.md §3.4)',
      });
    }
    const length = commonLength(pieces, 'piece');
    const wanted = shareNumbers === undefined ? Array.from({ length: n }, (_, i) => i) : checkShareNumbers(shareNumbers, n);
    const parityWanted = wanted.filter((s) => s >= k);
    const parityBlocks = new Map<number, Uint8Array>();
    if (parityWanted.length > 0) {
      const coefficients = new Uint8Array(parityWanted.length * k);
      parityWanted.forEach((s, row) => coefficients.set(this.parityMatrix.subarray((s - k) * k, (s - k + 1) * k), row * k));
      const outputs = this.multiply.combine(coefficients, pieces, parityWanted.length, length);
      parityWanted.forEach((s, row) => parityBlocks.set(s, outputs[row]));
    }
    return wanted.map((s) => (s < k ? pieces[s] : (parityBlocks.get(s) as Uint8Array)));
  }

  decode(blocks: ReadonlyMap<number, Uint8Array>): Uint8Array[] {
    const { k, n } = this;
    if (!(blocks instanceof Map)) {
      throw new TahoeError('BadInput', 'decode needs a Map from share number to block', {
        hint: 'pass new Map([[shareNumber, block], ...]) with at least k entries',
      });
    }
    if (blocks.size < k) {
      throw new TahoeError('BadInput', `decode needs k=${k} distinct shares, got ${blocks.size}`, {
        hint: `fetch at least ${k} different shares of this segment (any ${k} of the ${n} work)`,
        details: { k, received: blocks.size },
      });
    }
    const shareNumbers = checkShareNumbers([...blocks.keys()], n);
    const length = commonLength([...blocks.values()], 'block');
    // Prefer data shares (free) and then the lowest parity shares; any k would do.
    const chosen = shareNumbers.sort((a, b) => a - b).slice(0, k);
    const missing: number[] = [];
    const have = new Set(chosen);
    for (let i = 0; i < k; i++) if (!have.has(i)) missing.push(i);
    if (missing.length === 0) return chosen.map((s) => blocks.get(s) as Uint8Array);
    const coefficients = interpolationMatrix(chosen, missing);
    const inputs = chosen.map((s) => blocks.get(s) as Uint8Array);
    const rebuilt = this.multiply.combine(coefficients, inputs, missing.length, length);
    const pieces: Uint8Array[] = [];
    let next = 0;
    for (let i = 0; i < k; i++) pieces.push(have.has(i) ? (blocks.get(i) as Uint8Array) : rebuilt[next++]);
    return pieces;
  }
}

function commonLength(arrays: readonly unknown[], what: string): number {
  let length = -1;
  for (const a of arrays) {
    if (!(a instanceof Uint8Array)) {
      throw new TahoeError('BadInput', `every ${what} must be a Uint8Array`, { hint: `pass ${what}s as Uint8Array/Buffer` });
    }
    if (length < 0) length = a.length;
    else if (a.length !== length) {
      throw new TahoeError('BadInput', `${what}s have unequal lengths (${length} and ${a.length})`, {
        hint: what === 'piece'
          ? 'zero-pad the segment to a multiple of k before cutting it into pieces (tahoe-formats.md §3.4)'
          : 'all blocks of one segment have the same length; a shorter one is truncated or belongs to the tail segment',
      });
    }
  }
  return length;
}

function checkShareNumbers(shareNumbers: readonly number[], n: number): number[] {
  if (!Array.isArray(shareNumbers)) {
    throw new TahoeError('BadInput', 'share numbers must be an array', { hint: `pass share numbers as an array of integers in 0..${n - 1}` });
  }
  const seen = new Set<number>();
  for (const s of shareNumbers) {
    if (!Number.isInteger(s) || s < 0 || s >= n) {
      throw new TahoeError('BadInput', `share number ${String(s)} is out of range for N=${n}`, {
        hint: `share numbers are integers 0..${n - 1}`,
        details: { shareNumber: String(s), n },
      });
    }
    if (seen.has(s)) {
      throw new TahoeError('BadInput', `share number ${s} is listed twice`, { hint: 'list each share number once' });
    }
    seen.add(s);
  }
  return [...shareNumbers];
}
