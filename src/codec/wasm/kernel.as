// AssemblyScript source of the WebAssembly SIMD kernel (compiled by scripts/build-wasm.mjs
// into kernel.generated.ts; kept out of tsc's way by its extension). It computes
// outputs = C · inputs over GF(2^8) mod 0x11D (tahoe-formats.md §3.5), column by column.
//
// Multiplying 16 bytes by a constant c at once: c·b = LO_c[b & 15] ⊕ HI_c[b >> 4], where
// LO_c/HI_c are the products of c with the 16 low/high nibbles; i8x16.swizzle looks up
// 16 such entries in one instruction. The 32-byte table pair for every c (8 KiB for all
// 256 coefficients) is written by JavaScript at `tables`, so a coefficient matrix is just
// bytes and needs no per-matrix preparation.
//
// Memory layout is owned by the caller (kernel-wasm.ts); all strides and `length` are
// multiples of 64 and all bases 16-byte aligned. Bytes past the caller's real length are
// computed on whatever is there and ignored: columns never mix.

/** First byte JavaScript may use (everything is placed above the compiler's own data). */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * outputs[r][b] = XOR over j < k of C[r][j] · inputs[j][b], for b < length, where
 * C[r][j] is the byte at coefficients + r·k + j, inputs[j] starts at inputs + j·inputStride
 * and outputs[r] at outputs + r·outputStride.
 */
export function combine(
  coefficients: usize, rows: i32, k: i32,
  inputs: usize, inputStride: usize,
  outputs: usize, outputStride: usize,
  length: usize, tables: usize,
): void {
  const lowNibble = i8x16.splat(0x0f);
  for (let column: usize = 0; column < length; column += 64) {
    let rowCoefficients = coefficients;
    let out = outputs + column;
    for (let r = 0; r < rows; r++) {
      let a0 = i8x16.splat(0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      let src = inputs + column;
      for (let j = 0; j < k; j++) {
        const table = tables + ((<usize>load<u8>(rowCoefficients + <usize>j)) << 5);
        const lo = v128.load(table);
        const hi = v128.load(table, 16);
        const x0 = v128.load(src);
        const x1 = v128.load(src, 16);
        const x2 = v128.load(src, 32);
        const x3 = v128.load(src, 48);
        a0 = v128.xor(a0, v128.xor(i8x16.swizzle(lo, v128.and(x0, lowNibble)), i8x16.swizzle(hi, i8x16.shr_u(x0, 4))));
        a1 = v128.xor(a1, v128.xor(i8x16.swizzle(lo, v128.and(x1, lowNibble)), i8x16.swizzle(hi, i8x16.shr_u(x1, 4))));
        a2 = v128.xor(a2, v128.xor(i8x16.swizzle(lo, v128.and(x2, lowNibble)), i8x16.swizzle(hi, i8x16.shr_u(x2, 4))));
        a3 = v128.xor(a3, v128.xor(i8x16.swizzle(lo, v128.and(x3, lowNibble)), i8x16.swizzle(hi, i8x16.shr_u(x3, 4))));
        src += inputStride;
      }
      v128.store(out, a0);
      v128.store(out, a1, 16);
      v128.store(out, a2, 32);
      v128.store(out, a3, 48);
      rowCoefficients += <usize>k;
      out += outputStride;
    }
  }
}
