/**
 * Tahoe-LAFS's own "hmac" (spec: shared/specs/tahoe-formats.md §1.5; upstream
 * `util/hashutil.py`), used for the legacy MAC on dirnode child write-caps. It is NOT
 * RFC 2104 HMAC: the key is XORed with 0x36 / 0x5c byte by byte *without* being padded
 * to SHA-256's 64-byte block, so each pad is exactly as long as the key. Readers since
 * Tahoe 1.3 ignore the MAC; writers must still produce it for byte-compatible dirnodes.
 */
import { sha256 } from './hashes.js';

function xorEach(key: Uint8Array, pad: number): Buffer {
  const out = Buffer.alloc(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key[i] ^ pad;
  return out;
}

/** `SHA256((key ⊕ 0x5c…) ‖ SHA256((key ⊕ 0x36…) ‖ data))`, pads as long as the key. */
export function tahoeHmac(key: Uint8Array, data: Uint8Array): Buffer {
  const inner = sha256(xorEach(key, 0x36), data);
  return sha256(xorEach(key, 0x5c), inner);
}
