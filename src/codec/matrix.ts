/**
 * The coefficient matrices of zfec's systematic Reed–Solomon code (tahoe-formats.md §3.5),
 * computed by Lagrange interpolation rather than by inverting matrices.
 *
 * Why this is the same code: zfec's generator is G = V·T⁻¹ with V[i][j] = x_i^j. For any
 * k data bytes d (one per piece, at one byte position), c = T⁻¹·d is the coefficient
 * vector of the unique polynomial P of degree < k with P(x_j) = d_j for j < k, and share
 * i holds (V·c)_i = P(x_i). So every share is an evaluation of the same P, and from any k
 * of them P can be re-interpolated and evaluated where pieces are missing. Interpolation
 * through points u_0..u_{k-1}, evaluated at y, is the linear map with coefficients
 *
 *     L_s(y) = Π_{t≠s} (y − u_t) / (u_s − u_t)        (− is + in characteristic 2)
 *
 * which costs O(k) per coefficient after O(k²) set-up, never O(k³), even for k = 256.
 * Tests check the result against the literal V·T⁻¹ and against python3-zfec.
 */
import { EXP, LOG } from './gf256.js';

/** zfec's evaluation point for share i: x_0 = 0, x_i = α^(i−1) (distinct for i < 256). */
export function evaluationPoint(shareNumber: number): number {
  return shareNumber === 0 ? 0 : EXP[shareNumber - 1];
}

/**
 * Coefficients that turn the values of P at the `known` shares into its values at the
 * `wanted` shares: result[w·known.length + s] multiplies the block of known[s] when
 * computing wanted[w]. Share numbers must be distinct within `known`; a wanted share that is
 * also known gets a unit row.
 */
export function interpolationMatrix(known: readonly number[], wanted: readonly number[]): Uint8Array {
  const k = known.length;
  const points = known.map(evaluationPoint);
  // log of W_s = Π_{t≠s} (u_s + u_t), kept as a logarithm sum to avoid repeated lookups.
  const logDenominator = new Array<number>(k);
  for (let s = 0; s < k; s++) {
    let sum = 0;
    for (let t = 0; t < k; t++) if (t !== s) sum += LOG[points[s] ^ points[t]];
    logDenominator[s] = sum % 255;
  }
  const out = new Uint8Array(wanted.length * k);
  for (let w = 0; w < wanted.length; w++) {
    const y = evaluationPoint(wanted[w]);
    const sameIndex = points.indexOf(y);
    if (sameIndex >= 0) {
      out[w * k + sameIndex] = 1;
      continue;
    }
    // log of N = Π_t (y + u_t); then L_s(y) = N / ((y + u_s) · W_s).
    let logNumerator = 0;
    for (let t = 0; t < k; t++) logNumerator += LOG[y ^ points[t]];
    logNumerator %= 255;
    for (let s = 0; s < k; s++) {
      const e = logNumerator - LOG[y ^ points[s]] - logDenominator[s];
      out[w * k + s] = EXP[((e % 255) + 255) % 255];
    }
  }
  return out;
}
