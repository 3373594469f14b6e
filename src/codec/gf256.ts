/**
 * Arithmetic in GF(2^8) as zfec uses it (tahoe-formats.md §3.5): bytes are polynomials over
 * GF(2) reduced modulo p(x) = x^8 + x^4 + x^3 + x^2 + 1 (0x11D); addition is XOR; α = 0x02
 * generates the multiplicative group, so every non-zero byte is α^e for one e in 0..254.
 *
 * Multiplication goes through discrete logarithms: a·b = α^(log a + log b). The tables are
 * built once at module load by repeated multiplication by α (shift left, reduce by 0x11D).
 */

import { TahoeError } from '../errors.js';

// Callers only divide by differences of distinct evaluation points, which are never 0.
const MATH_BUG_HINT = 'this is a bug in the erasure codec (a zero divisor); please report it';

/** The field's reduction polynomial, including the x^8 term. */
export const FIELD_POLYNOMIAL = 0x11d;

/** EXP[e] = α^e for e in 0..509: doubled so that EXP[log a + log b] needs no `mod 255`. */
export const EXP: Uint8Array = new Uint8Array(510);
/** LOG[α^e] = e for non-zero bytes; LOG[0] is meaningless (0 has no logarithm). */
export const LOG: Uint8Array = new Uint8Array(256);

{
  let value = 1;
  for (let e = 0; e < 255; e++) {
    EXP[e] = value;
    EXP[e + 255] = value;
    LOG[value] = e;
    value <<= 1;
    if (value & 0x100) value ^= FIELD_POLYNOMIAL;
  }
}

/** The product of two field elements. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a] + LOG[b]];
}

/** The multiplicative inverse of a non-zero field element. */
export function gfInv(a: number): number {
  if (a === 0) throw new TahoeError('Internal', '0 has no inverse in GF(2^8)', { hint: MATH_BUG_HINT });
  return EXP[255 - LOG[a]];
}

/** a / b for b ≠ 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new TahoeError('Internal', 'division by 0 in GF(2^8)', { hint: MATH_BUG_HINT });
  if (a === 0) return 0;
  return EXP[LOG[a] + 255 - LOG[b]];
}

/** α^e for any integer e ≥ 0. */
export function gfPow(alphaExponent: number): number {
  return EXP[alphaExponent % 255];
}

/**
 * The full multiplication table: MUL_TABLE[(c << 8) | x] = c·x. 64 KiB; a row is the map
 * "multiply by c", which is what the byte-at-a-time kernel indexes with each data byte.
 */
export const MUL_TABLE: Uint8Array = new Uint8Array(256 * 256);
for (let c = 1; c < 256; c++) {
  for (let x = 1; x < 256; x++) MUL_TABLE[(c << 8) | x] = EXP[LOG[c] + LOG[x]];
}

/**
 * Split-nibble tables for vector kernels: for each coefficient c, 32 bytes — c·x for
 * x = 0..15 (products with the low nibble), then c·(x << 4) for x = 0..15 (high nibble).
 * Multiplication distributes over XOR, so c·b = lo[b & 15] ⊕ hi[b >> 4]; a 16-entry table
 * is exactly what a byte shuffle instruction looks up in parallel.
 */
export const NIBBLE_TABLES: Uint8Array = new Uint8Array(256 * 32);
for (let c = 0; c < 256; c++) {
  for (let x = 0; x < 16; x++) {
    NIBBLE_TABLES[c * 32 + x] = gfMul(c, x);
    NIBBLE_TABLES[c * 32 + 16 + x] = gfMul(c, x << 4);
  }
}
