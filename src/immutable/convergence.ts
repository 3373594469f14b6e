/**
 * Immutable-file keys (spec: shared/specs/tahoe-formats.md §3.2; upstream
 * `util/hashutil.py` convergence_hasher, `immutable/upload.py`).
 *
 * A convergent key is a tagged hash of the whole plaintext whose tag mixes in the node's
 * convergence secret and the *effective* encoding parameters, so the same file uploaded
 * by the same node with the same parameters gets the same cap (and is stored once).
 * A random key gives every upload its own cap.
 */
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { base32Decode, isBase32 } from '../crypto/base32.js';
import { TAGS, TaggedHasher } from '../crypto/hashes.js';
import { netstring } from '../crypto/netstring.js';
import { type EncodingParameters, planSegments } from './params.js';
import type { ByteSource } from './source.js';

export const KEY_SIZE = 16;

/**
 * The convergence tag: `"…added_secret_v1+" ‖ netstring(secret) ‖ netstring("k,N,segsize")`.
 */
export function convergenceTag(secret: Uint8Array, k: number, n: number, segmentSize: number): Buffer {
  return Buffer.concat([Buffer.from(TAGS.CONVERGENT_ENCRYPTION, 'ascii'), netstring(secret), netstring(`${k},${n},${segmentSize}`)]);
}

/** Streaming convergent-key hash: feed the plaintext, then `digest()` → 16-byte key. */
export function convergenceHasher(secret: Uint8Array, k: number, n: number, segmentSize: number): TaggedHasher {
  return new TaggedHasher(convergenceTag(secret, k, n, segmentSize), KEY_SIZE);
}

/** One-shot form, as upstream's `convergence_hash(k, n, segsize, data, secret)`. */
export function convergenceHash(k: number, n: number, segmentSize: number, data: Uint8Array, secret: Uint8Array): Buffer {
  return convergenceHasher(secret, k, n, segmentSize).update(data).digest();
}

/**
 * The convergent key of a CHK file: one full pass over `source` (which must yield exactly
 * `size` bytes). Memory stays at one chunk.
 */
export async function convergentKey(secret: Uint8Array, params: EncodingParameters, size: number, source: ByteSource, signal?: AbortSignal): Promise<Buffer> {
  const plan = planSegments(params, size);
  const hasher = convergenceHasher(secret, plan.k, plan.n, plan.segmentSize);
  let seen = 0;
  for await (const chunk of source()) {
    if (signal?.aborted) throw new TahoeError('Aborted', 'convergent key computation aborted');
    seen += chunk.length;
    if (seen > size) break;
    hasher.update(chunk);
  }
  if (seen !== size) {
    throw new TahoeError('BadInput', `the plaintext source yielded ${seen > size ? 'more than' : String(seen) + ' of'} the announced ${size} bytes`, {
      hint: 'the file changed while it was being read, or the size passed to the encoder is wrong; upload a stable copy',
      details: { expected: size },
    });
  }
  return hasher.digest();
}

export function randomKey(): Buffer {
  return randomBytes(KEY_SIZE);
}

/**
 * Parse a convergence secret given as text (e.g. on the command line) in the form of
 * `private/convergence`: base32 of the secret, usually 32 random bytes; surrounding
 * whitespace ignored. (Reading the node's own file is config/keys.ts `readSecret`.)
 */
export function parseConvergenceSecret(text: string, where = 'private/convergence'): Buffer {
  const trimmed = text.trim();
  if (trimmed.length === 0 || !isBase32(trimmed)) {
    throw new TahoeError('BadInput', `${where} does not hold a base32 convergence secret`, {
      hint: 'give the text exactly as a node stores it in private/convergence: lowercase base32 (a-z, 2-7), 52 characters for a 32-byte secret',
    });
  }
  return base32Decode(trimmed, 'convergence secret');
}
