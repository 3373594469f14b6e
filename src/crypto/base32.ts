/**
 * Base32 as Tahoe-LAFS uses it (spec: tahoe-lafs `src/allmydata/util/base32.py`,
 * summarised in shared/specs/tahoe-formats.md §1.1): RFC 4648 alphabet, lowercase,
 * no padding, and only canonical strings are accepted (unused trailing bits zero,
 * length mod 8 in {0,2,4,5,7}).
 */
import { TahoeError } from '../errors.js';

export const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

const DECODE_TABLE = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 32; i++) t[BASE32_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

export function base32Encode(data: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < data.length; i++) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Number of base32 characters for `n` bytes. */
export function base32Length(n: number): number {
  return Math.ceil((n * 8) / 5);
}

const VALID_LENGTH_MOD_8 = new Set([0, 2, 4, 5, 7]);

/** True when `s` is canonical lowercase unpadded base32 (what Tahoe writes). */
export function isBase32(s: string): boolean {
  if (!VALID_LENGTH_MOD_8.has(s.length % 8)) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || DECODE_TABLE[c] < 0) return false;
  }
  const trailingBits = (s.length * 5) % 8;
  if (trailingBits > 0 && s.length > 0) {
    const last = DECODE_TABLE[s.charCodeAt(s.length - 1)];
    if ((last & ((1 << trailingBits) - 1)) !== 0) return false;
  }
  return true;
}

/**
 * Decode canonical Tahoe base32. Throws `BadInput` (with `what` in the message) on any
 * non-canonical input, so callers can pass user strings straight in.
 */
export function base32Decode(s: string, what = 'base32 value'): Buffer {
  if (!isBase32(s)) {
    throw new TahoeError('BadInput', `invalid ${what}: not canonical lowercase base32`, {
      hint: 'base32 here uses the letters a-z and digits 2-7, lowercase, without padding',
    });
  }
  const out = Buffer.alloc(Math.floor((s.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    buffer = (buffer << 5) | DECODE_TABLE[s.charCodeAt(i)];
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (buffer >>> bits) & 0xff;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}
