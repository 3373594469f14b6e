/**
 * The WebAssembly SIMD implementation of the codec's multiply kernel (see kernel.ts and
 * wasm/kernel.as; tahoe-formats.md §3.5). The module is compiled from our own source by
 * scripts/build-wasm.mjs into wasm/kernel.generated.ts; when that file is missing (a fresh
 * checkout run with tsx before `npm run build`) or the runtime lacks WebAssembly SIMD,
 * `wasmKernel` is undefined and the codec falls back to the TypeScript kernel, with a
 * process warning so that nobody benchmarks the slow path unknowingly.
 *
 * Data moves once in and once out per call: pieces are copied into WebAssembly memory in
 * column chunks (so memory stays bounded whatever the block size and the working set stays
 * in cache), combined there, and each output chunk is copied into the result arrays.
 */
import { TahoeError } from '../errors.js';
import { NIBBLE_TABLES } from './gf256.js';
import type { MultiplyKernel } from './kernel.js';

// The project compiles against ES2023 + Node types, which do not describe WebAssembly
// (TypeScript puts it in lib.dom); these are the few members this module uses.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface KernelExports {
  memory: WasmMemory;
  heapBase(): number;
  columnStep(): number;
  relaxed(): number;
  combine(coefficients: number, rows: number, k: number, inputs: number, inputStride: number, outputs: number, outputStride: number, length: number, tables: number): void;
}

/**
 * Column chunk per call (rounded up to the kernel's column step): 25 inputs + 75 outputs
 * × 8 KiB stay within a 1 MiB L2 cache until they are copied out.
 */
const CHUNK_BYTES = 8192;
const PAGE_BYTES = 65536;
const MAX_COEFFICIENT_BYTES = 256 * 256;

const roundUp = (value: number, multiple: number): number => Math.ceil(value / multiple) * multiple;

class WasmKernel implements MultiplyKernel {
  readonly name = 'wasm-simd' as const;
  private readonly tables: number;
  private readonly columnStep: number;
  private readonly chunk: number;
  private readonly coefficientArea: number;
  private readonly dataArea: number;
  private view: Uint8Array;

  constructor(private readonly exports: KernelExports) {
    this.tables = roundUp(exports.heapBase(), 64);
    this.columnStep = exports.columnStep();
    this.chunk = roundUp(CHUNK_BYTES, this.columnStep);
    this.coefficientArea = this.tables + NIBBLE_TABLES.length;
    this.dataArea = this.coefficientArea + MAX_COEFFICIENT_BYTES;
    this.view = this.reserve(this.dataArea);
    this.view.set(NIBBLE_TABLES, this.tables);
  }

  combine(coefficients: Uint8Array, inputs: readonly Uint8Array[], rows: number, length: number): Uint8Array[] {
    const outputs: Uint8Array[] = [];
    for (let r = 0; r < rows; r++) outputs.push(new Uint8Array(length));
    const k = inputs.length;
    if (length === 0 || rows === 0) return outputs;
    const stride = Math.min(this.chunk, roundUp(length, this.columnStep));
    const inputArea = this.dataArea;
    const outputArea = inputArea + k * stride;
    if (rows * k > MAX_COEFFICIENT_BYTES) {
      // (N − k)·k ≤ 128·128 for every codec, so only a caller outside the codec gets here.
      throw new TahoeError('Internal', `coefficient matrix ${rows}×${k} exceeds the kernel's ${MAX_COEFFICIENT_BYTES} bytes`, { hint: 'split the matrix into row groups of at most 65536 / k rows' });
    }
    const view = this.reserve(outputArea + rows * stride);
    view.set(coefficients.subarray(0, rows * k), this.coefficientArea);
    for (let start = 0; start < length; start += stride) {
      const size = Math.min(stride, length - start);
      for (let j = 0; j < k; j++) view.set(inputs[j].subarray(start, start + size), inputArea + j * stride);
      this.exports.combine(this.coefficientArea, rows, k, inputArea, stride, outputArea, stride, roundUp(size, this.columnStep), this.tables);
      for (let r = 0; r < rows; r++) {
        const from = outputArea + r * stride;
        outputs[r].set(view.subarray(from, from + size), start);
      }
    }
    return outputs;
  }

  /** A view of WebAssembly memory at least `bytes` long, growing the memory if needed. */
  private reserve(bytes: number): Uint8Array {
    const memory = this.exports.memory;
    if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE_BYTES));
    if (this.view === undefined || this.view.buffer !== memory.buffer) this.view = new Uint8Array(memory.buffer);
    return this.view;
  }
}

function isKernelExports(value: Record<string, unknown>, api: WasmApi): value is Record<string, unknown> & KernelExports {
  return value.memory instanceof api.Memory && ['heapBase', 'columnStep', 'relaxed', 'combine'].every((name) => typeof value[name] === 'function');
}

const REBUILD_HINT = 'regenerate it: `node scripts/build-wasm.mjs --force` (or `npm run build`)';

export type WasmVariant = 'relaxed-simd' | 'simd';

interface LoadedKernel {
  kernel: MultiplyKernel;
  variant: WasmVariant;
}

async function loadWasmKernel(): Promise<LoadedKernel | undefined> {
  // A computed specifier: the generated file may legitimately be absent, and a literal
  // import would then fail type-checking and module loading for the whole codec.
  const generatedModule = './wasm/kernel.generated.js';
  let generated: Record<string, unknown>;
  try {
    generated = (await import(generatedModule)) as Record<string, unknown>;
  } catch {
    process.emitWarning('tahoe-ts codec: the WebAssembly kernel is not built (src/codec/wasm/kernel.generated.ts missing); using the much slower TypeScript kernel. Run `npm run build`.', { code: 'TAHOE_CODEC_NO_WASM' });
    return undefined;
  }
  const candidates: Array<[WasmVariant, unknown]> = [['relaxed-simd', generated.KERNEL_RELAXED_WASM_BASE64], ['simd', generated.KERNEL_WASM_BASE64]];
  for (const [variant, base64] of candidates) {
    if (typeof base64 !== 'string') throw new TahoeError('Internal', 'src/codec/wasm/kernel.generated.ts is malformed', { hint: REBUILD_HINT });
    const bytes = Buffer.from(base64, 'base64');
    // Node < 22 rejects relaxed SIMD; a runtime without SIMD rejects both.
    if (wasmApi === undefined || !wasmApi.validate(bytes)) continue;
    const instance = new wasmApi.Instance(new wasmApi.Module(bytes), {});
    if (!isKernelExports(instance.exports, wasmApi)) throw new TahoeError('Internal', 'the WebAssembly codec kernel lacks its exports', { hint: REBUILD_HINT });
    return { kernel: new WasmKernel(instance.exports), variant };
  }
  process.emitWarning('tahoe-ts codec: this runtime cannot run WebAssembly SIMD; using the much slower TypeScript kernel.', { code: 'TAHOE_CODEC_NO_WASM' });
  return undefined;
}

const loaded = await loadWasmKernel();

/** The SIMD kernel, or undefined when it is unavailable (see the top comment). */
export const wasmKernel: MultiplyKernel | undefined = loaded?.kernel;

/** Which build of the kernel runs: relaxed SIMD where the runtime supports it (Node ≥ 22). */
export const wasmVariant: WasmVariant | undefined = loaded?.variant;
