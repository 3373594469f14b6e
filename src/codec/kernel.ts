/**
 * The one primitive both encoding and decoding need: outputs = C · inputs over GF(2^8)
 * (tahoe-formats.md §3.5), where C is a rows × inputs.length coefficient matrix and every
 * input and output is a byte string of the same length; byte b of output r is
 * Σ_j C[r][j] · inputs[j][b] (Σ = XOR).
 *
 * Two interchangeable implementations produce identical bytes: a WebAssembly SIMD kernel
 * (kernel-wasm.ts) and this table-driven TypeScript one, which is the fallback and the
 * reference the tests compare the fast one against.
 */
import { MUL_TABLE } from './gf256.js';

export type KernelName = 'wasm-simd' | 'typescript';

export interface MultiplyKernel {
  readonly name: KernelName;
  /** Fresh output arrays: outputs[r] = Σ_j coefficients[r·inputs.length + j] · inputs[j]. */
  combine(coefficients: Uint8Array, inputs: readonly Uint8Array[], rows: number, length: number): Uint8Array[];
}

/**
 * Columns are processed in stripes so that the output stripe being accumulated stays in
 * the L1 cache while each input stripe is folded into it.
 */
const STRIPE_BYTES = 8192;

export const typescriptKernel: MultiplyKernel = {
  name: 'typescript',
  combine(coefficients, inputs, rows, length) {
    const k = inputs.length;
    const outputs: Uint8Array[] = [];
    for (let r = 0; r < rows; r++) outputs.push(new Uint8Array(length));
    for (let start = 0; start < length; start += STRIPE_BYTES) {
      const end = Math.min(length, start + STRIPE_BYTES);
      for (let r = 0; r < rows; r++) {
        const out = outputs[r];
        for (let j = 0; j < k; j++) {
          const c = coefficients[r * k + j];
          if (c === 0) continue;
          const input = inputs[j];
          if (c === 1) {
            for (let b = start; b < end; b++) out[b] ^= input[b];
            continue;
          }
          const row = c << 8;
          let b = start;
          // Unrolled by four: the loop overhead is comparable to a table lookup.
          for (; b + 4 <= end; b += 4) {
            out[b] ^= MUL_TABLE[row | input[b]];
            out[b + 1] ^= MUL_TABLE[row | input[b + 1]];
            out[b + 2] ^= MUL_TABLE[row | input[b + 2]];
            out[b + 3] ^= MUL_TABLE[row | input[b + 3]];
          }
          for (; b < end; b++) out[b] ^= MUL_TABLE[row | input[b]];
        }
      }
    }
    return outputs;
  },
};
