// AssemblyScript source of the codec's WebAssembly SIMD kernel. scripts/build-wasm.mjs
// compiles it twice (plain SIMD, and relaxed SIMD where the runtime has it) into
// kernel.generated.ts; the `.as` extension keeps tsc and eslint, which do not know
// AssemblyScript's types, away from it. It computes outputs = C · inputs over GF(2^8)
// mod 0x11D (tahoe-formats.md §3.5), i.e. output r, byte b = XOR over j of C[r][j]·input j[b].
//
// Multiplying 16 bytes by a constant c at once: c·b = LO_c[b & 15] ⊕ HI_c[b >> 4], where
// LO_c/HI_c hold the products of c with the 16 possible low/high nibbles; i8x16.swizzle
// looks up 16 table entries in one instruction. The 32-byte table pair of every c (8 KiB
// for all 256) is written by JavaScript at `tables`, so a coefficient matrix is plain bytes.
//
// Speed comes from reuse: each step loads 48 bytes of one input once, splits them into
// nibble indices once, and folds them into 4 output rows (12 accumulators in registers);
// the outputs are stored once per 48 columns after all k inputs are folded in.
//
// Memory layout is owned by the caller (kernel-wasm.ts). `length` is a multiple of
// COLUMN_STEP; bytes past the caller's real length are computed on whatever is there and
// ignored, as columns never mix.

/** Bytes of each row processed per step (3 vectors). */
const COLUMN_STEP: usize = 48;

/** First byte JavaScript may use (everything is placed above the compiler's own data). */
export function heapBase(): usize {
  return __heap_base;
}

/** The multiple that `length` must be. */
export function columnStep(): usize {
  return COLUMN_STEP;
}

/** Whether this build uses relaxed SIMD's swizzle (no out-of-range fix-up needed: our indices are < 16). */
export function relaxed(): bool {
  return ASC_FEATURE_RELAXED_SIMD;
}

// @ts-ignore: decorator
@inline function lookup(table: v128, indices: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, indices);
  return i8x16.swizzle(table, indices);
}

/** acc ⊕ c·x for the 16 bytes x given as nibble indices (low, high), c as its table pair. */
// @ts-ignore: decorator
@inline function mulAdd(acc: v128, tableLow: v128, tableHigh: v128, low: v128, high: v128): v128 {
  return v128.xor(acc, v128.xor(lookup(tableLow, low), lookup(tableHigh, high)));
}

// @ts-ignore: decorator
@inline function lowNibbles(x: v128): v128 {
  return v128.and(x, i8x16.splat(0x0f));
}

// @ts-ignore: decorator
@inline function highNibbles(x: v128): v128 {
  // A 16-bit shift plus mask is cheaper than i8x16.shr_u, which lacks an x86 instruction.
  return v128.and(i16x8.shr_u(x, 4), i8x16.splat(0x0f));
}

/**
 * outputs[r][b] = XOR over j < k of C[r][j] · inputs[j][b], for r < rows and b < length,
 * where C[r][j] is the byte at coefficients + r·k + j, input j starts at
 * inputs + j·inputStride and output r at outputs + r·outputStride.
 */
export function combine(
  coefficients: usize, rows: i32, k: i32,
  inputs: usize, inputStride: usize,
  outputs: usize, outputStride: usize,
  length: usize, tables: usize,
): void {
  const rowBytes = <usize>k;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    rows4(coefficients + <usize>r * rowBytes, rowBytes, inputs, inputStride, outputs + <usize>r * outputStride, outputStride, length, tables);
  }
  const coefficientsLeft = coefficients + <usize>r * rowBytes;
  const outputsLeft = outputs + <usize>r * outputStride;
  const left = rows - r;
  if (left == 3) rows3(coefficientsLeft, rowBytes, inputs, inputStride, outputsLeft, outputStride, length, tables);
  else if (left == 2) rows2(coefficientsLeft, rowBytes, inputs, inputStride, outputsLeft, outputStride, length, tables);
  else if (left == 1) rows1(coefficientsLeft, rowBytes, inputs, inputStride, outputsLeft, length, tables);
}

function rows4(coefficients: usize, k: usize, inputs: usize, inputStride: usize, out: usize, outputStride: usize, length: usize, tables: usize): void {
  for (let column: usize = 0; column < length; column += COLUMN_STEP) {
    let a00 = i8x16.splat(0), a01 = a00, a02 = a00;
    let a10 = a00, a11 = a00, a12 = a00;
    let a20 = a00, a21 = a00, a22 = a00;
    let a30 = a00, a31 = a00, a32 = a00;
    let src = inputs + column;
    for (let c = coefficients, end = coefficients + k; c < end; c++) {
      const x0 = v128.load(src), x1 = v128.load(src, 16), x2 = v128.load(src, 32);
      const l0 = lowNibbles(x0), l1 = lowNibbles(x1), l2 = lowNibbles(x2);
      const h0 = highNibbles(x0), h1 = highNibbles(x1), h2 = highNibbles(x2);
      let t = tables + (<usize>load<u8>(c) << 5);
      let tl = v128.load(t), th = v128.load(t, 16);
      a00 = mulAdd(a00, tl, th, l0, h0); a01 = mulAdd(a01, tl, th, l1, h1); a02 = mulAdd(a02, tl, th, l2, h2);
      t = tables + (<usize>load<u8>(c + k) << 5);
      tl = v128.load(t); th = v128.load(t, 16);
      a10 = mulAdd(a10, tl, th, l0, h0); a11 = mulAdd(a11, tl, th, l1, h1); a12 = mulAdd(a12, tl, th, l2, h2);
      t = tables + (<usize>load<u8>(c + 2 * k) << 5);
      tl = v128.load(t); th = v128.load(t, 16);
      a20 = mulAdd(a20, tl, th, l0, h0); a21 = mulAdd(a21, tl, th, l1, h1); a22 = mulAdd(a22, tl, th, l2, h2);
      t = tables + (<usize>load<u8>(c + 3 * k) << 5);
      tl = v128.load(t); th = v128.load(t, 16);
      a30 = mulAdd(a30, tl, th, l0, h0); a31 = mulAdd(a31, tl, th, l1, h1); a32 = mulAdd(a32, tl, th, l2, h2);
      src += inputStride;
    }
    let o = out + column;
    v128.store(o, a00); v128.store(o, a01, 16); v128.store(o, a02, 32);
    o += outputStride;
    v128.store(o, a10); v128.store(o, a11, 16); v128.store(o, a12, 32);
    o += outputStride;
    v128.store(o, a20); v128.store(o, a21, 16); v128.store(o, a22, 32);
    o += outputStride;
    v128.store(o, a30); v128.store(o, a31, 16); v128.store(o, a32, 32);
  }
}

function rows3(coefficients: usize, k: usize, inputs: usize, inputStride: usize, out: usize, outputStride: usize, length: usize, tables: usize): void {
  for (let column: usize = 0; column < length; column += COLUMN_STEP) {
    let a00 = i8x16.splat(0), a01 = a00, a02 = a00;
    let a10 = a00, a11 = a00, a12 = a00;
    let a20 = a00, a21 = a00, a22 = a00;
    let src = inputs + column;
    for (let c = coefficients, end = coefficients + k; c < end; c++) {
      const x0 = v128.load(src), x1 = v128.load(src, 16), x2 = v128.load(src, 32);
      const l0 = lowNibbles(x0), l1 = lowNibbles(x1), l2 = lowNibbles(x2);
      const h0 = highNibbles(x0), h1 = highNibbles(x1), h2 = highNibbles(x2);
      let t = tables + (<usize>load<u8>(c) << 5);
      let tl = v128.load(t), th = v128.load(t, 16);
      a00 = mulAdd(a00, tl, th, l0, h0); a01 = mulAdd(a01, tl, th, l1, h1); a02 = mulAdd(a02, tl, th, l2, h2);
      t = tables + (<usize>load<u8>(c + k) << 5);
      tl = v128.load(t); th = v128.load(t, 16);
      a10 = mulAdd(a10, tl, th, l0, h0); a11 = mulAdd(a11, tl, th, l1, h1); a12 = mulAdd(a12, tl, th, l2, h2);
      t = tables + (<usize>load<u8>(c + 2 * k) << 5);
      tl = v128.load(t); th = v128.load(t, 16);
      a20 = mulAdd(a20, tl, th, l0, h0); a21 = mulAdd(a21, tl, th, l1, h1); a22 = mulAdd(a22, tl, th, l2, h2);
      src += inputStride;
    }
    let o = out + column;
    v128.store(o, a00); v128.store(o, a01, 16); v128.store(o, a02, 32);
    o += outputStride;
    v128.store(o, a10); v128.store(o, a11, 16); v128.store(o, a12, 32);
    o += outputStride;
    v128.store(o, a20); v128.store(o, a21, 16); v128.store(o, a22, 32);
  }
}

function rows2(coefficients: usize, k: usize, inputs: usize, inputStride: usize, out: usize, outputStride: usize, length: usize, tables: usize): void {
  for (let column: usize = 0; column < length; column += COLUMN_STEP) {
    let a00 = i8x16.splat(0), a01 = a00, a02 = a00;
    let a10 = a00, a11 = a00, a12 = a00;
    let src = inputs + column;
    for (let c = coefficients, end = coefficients + k; c < end; c++) {
      const x0 = v128.load(src), x1 = v128.load(src, 16), x2 = v128.load(src, 32);
      const l0 = lowNibbles(x0), l1 = lowNibbles(x1), l2 = lowNibbles(x2);
      const h0 = highNibbles(x0), h1 = highNibbles(x1), h2 = highNibbles(x2);
      let t = tables + (<usize>load<u8>(c) << 5);
      let tl = v128.load(t), th = v128.load(t, 16);
      a00 = mulAdd(a00, tl, th, l0, h0); a01 = mulAdd(a01, tl, th, l1, h1); a02 = mulAdd(a02, tl, th, l2, h2);
      t = tables + (<usize>load<u8>(c + k) << 5);
      tl = v128.load(t); th = v128.load(t, 16);
      a10 = mulAdd(a10, tl, th, l0, h0); a11 = mulAdd(a11, tl, th, l1, h1); a12 = mulAdd(a12, tl, th, l2, h2);
      src += inputStride;
    }
    let o = out + column;
    v128.store(o, a00); v128.store(o, a01, 16); v128.store(o, a02, 32);
    o += outputStride;
    v128.store(o, a10); v128.store(o, a11, 16); v128.store(o, a12, 32);
  }
}

function rows1(coefficients: usize, k: usize, inputs: usize, inputStride: usize, out: usize, length: usize, tables: usize): void {
  for (let column: usize = 0; column < length; column += COLUMN_STEP) {
    let a00 = i8x16.splat(0), a01 = a00, a02 = a00;
    let src = inputs + column;
    for (let c = coefficients, end = coefficients + k; c < end; c++) {
      const x0 = v128.load(src), x1 = v128.load(src, 16), x2 = v128.load(src, 32);
      const t = tables + (<usize>load<u8>(c) << 5);
      const tl = v128.load(t), th = v128.load(t, 16);
      a00 = mulAdd(a00, tl, th, lowNibbles(x0), highNibbles(x0));
      a01 = mulAdd(a01, tl, th, lowNibbles(x1), highNibbles(x1));
      a02 = mulAdd(a02, tl, th, lowNibbles(x2), highNibbles(x2));
      src += inputStride;
    }
    const o = out + column;
    v128.store(o, a00); v128.store(o, a01, 16); v128.store(o, a02, 32);
  }
}
