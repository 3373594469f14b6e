/**
 * Named key and hash derivations of Tahoe-LAFS (spec: shared/specs/tahoe-formats.md
 * §1.4, §3.2, §3.6, §4, §5; upstream `util/hashutil.py`). Each is one tagged hash with
 * a fixed tag and truncation; naming them keeps the tag/truncation pairs in one place.
 * Lease secrets and write enablers are in lease-secrets.ts; the convergent-key hash in
 * immutable/convergence.ts; the server permutation hash in grid/permute.ts.
 */
import { createHash, type Hash } from 'node:crypto';
import { TAGS, taggedHash, taggedPairHash } from './hashes.js';
import { netstring } from './netstring.js';

/**
 * Block hashes are the hot path of encoding (one per block per share: 16 384 for an
 * 8 MiB file at N=256), so the tag's netstring is hashed once and the state copied.
 */
const blockHashPrefix: Hash = createHash('sha256').update(netstring(TAGS.BLOCK));

/** Storage index of an immutable file from its 16-byte AES key (16 bytes). */
export function storageIndexHash(key: Uint8Array): Buffer {
  return taggedHash(TAGS.STORAGE_INDEX, key, 16);
}

export function blockHash(block: Uint8Array): Buffer {
  // Not crypto.hash(): that needs Node 20.12, package.json promises 20.9 (and the outer
  // hash of 32 bytes costs well under a microsecond either way).
  return createHash('sha256').update(blockHashPrefix.copy().update(block).digest()).digest();
}

export function uriExtensionHash(ueb: Uint8Array): Buffer {
  return taggedHash(TAGS.UEB, ueb);
}

export function crypttextHash(ciphertext: Uint8Array): Buffer {
  return taggedHash(TAGS.CIPHERTEXT, ciphertext);
}

export function crypttextSegmentHash(segment: Uint8Array): Buffer {
  return taggedHash(TAGS.CIPHERTEXT_SEGMENT, segment);
}

/** Legacy: old uploads carried plaintext hashes; new ones do not. */
export function plaintextHash(plaintext: Uint8Array): Buffer {
  return taggedHash(TAGS.PLAINTEXT, plaintext);
}

export function plaintextSegmentHash(segment: Uint8Array): Buffer {
  return taggedHash(TAGS.PLAINTEXT_SEGMENT, segment);
}

/** AES key for a dirnode child's write-cap: pair hash (salt, dir writekey), 16 bytes. */
export function dirnodeChildCapKey(salt: Uint8Array, writekey: Uint8Array): Buffer {
  return taggedPairHash(TAGS.DIRNODE_CHILD_WRITECAP, salt, writekey, 16);
}

/** Salt for a dirnode child's write-cap, from the cap itself, 16 bytes. */
export function dirnodeChildSalt(rwcap: Uint8Array): Buffer {
  return taggedHash(TAGS.DIRNODE_CHILD_SALT, rwcap, 16);
}

/** Mutable writekey from the PKCS#8 DER private key, 16 bytes. */
export function sskWritekey(privateKeyDer: Uint8Array): Buffer {
  return taggedHash(TAGS.MUTABLE_WRITEKEY, privateKeyDer, 16);
}

/** Fingerprint of the SPKI DER public key, 32 bytes. */
export function sskPubkeyFingerprint(publicKeyDer: Uint8Array): Buffer {
  return taggedHash(TAGS.MUTABLE_PUBKEY, publicKeyDer);
}

export function sskReadkey(writekey: Uint8Array): Buffer {
  return taggedHash(TAGS.MUTABLE_READKEY, writekey, 16);
}

/** Per-version data key from the salt (SDMF IV / MDMF segment salt) and the readkey. */
export function sskDataKey(saltOrIv: Uint8Array, readkey: Uint8Array): Buffer {
  return taggedPairHash(TAGS.MUTABLE_DATAKEY, saltOrIv, readkey, 16);
}

export function sskStorageIndex(readkey: Uint8Array): Buffer {
  return taggedHash(TAGS.MUTABLE_STORAGEINDEX, readkey, 16);
}
