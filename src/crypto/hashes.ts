/**
 * SHA-256d and Tahoe's tagged hashes (spec: tahoe-lafs `src/allmydata/util/hashutil.py`,
 * shared/specs/tahoe-formats.md §1.3-1.5). Every tag string Tahoe uses lives in `TAGS`.
 */
import { createHash } from 'node:crypto';
import { netstring } from './netstring.js';

export type Bytes = Uint8Array;

export function sha256(...parts: Bytes[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function sha256d(...parts: Bytes[]): Buffer {
  return sha256(sha256(...parts));
}

export function sha1(...parts: Bytes[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

const enc = (s: string | Bytes): Bytes => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

/** `SHA256d(netstring(tag) ‖ value)[:truncate]` */
export function taggedHash(tag: string | Bytes, value: string | Bytes, truncate = 32): Buffer {
  return sha256d(netstring(enc(tag)), enc(value)).subarray(0, truncate);
}

/** `SHA256d(netstring(tag) ‖ netstring(a) ‖ netstring(b))[:truncate]` */
export function taggedPairHash(tag: string | Bytes, a: string | Bytes, b: string | Bytes, truncate = 32): Buffer {
  return sha256d(netstring(enc(tag)), netstring(enc(a)), netstring(enc(b))).subarray(0, truncate);
}

/** Streaming tagged hash: the tag's netstring is fed first, then any number of updates. */
export class TaggedHasher {
  private readonly inner = createHash('sha256');
  constructor(tag: string | Bytes, private readonly truncate = 32) {
    this.inner.update(netstring(enc(tag)));
  }
  update(data: Bytes): this {
    this.inner.update(data);
    return this;
  }
  digest(): Buffer {
    return createHash('sha256').update(this.inner.digest()).digest().subarray(0, this.truncate);
  }
}

/** Every tag Tahoe-LAFS 1.20 uses (exact bytes matter). */
export const TAGS = {
  STORAGE_INDEX: 'allmydata_immutable_key_to_storage_index_v1',
  BLOCK: 'allmydata_encoded_subshare_v1',
  UEB: 'allmydata_uri_extension_v1',
  PLAINTEXT: 'allmydata_plaintext_v1',
  CIPHERTEXT: 'allmydata_crypttext_v1',
  CIPHERTEXT_SEGMENT: 'allmydata_crypttext_segment_v1',
  PLAINTEXT_SEGMENT: 'allmydata_plaintext_segment_v1',
  CONVERGENT_ENCRYPTION: 'allmydata_immutable_content_to_key_with_added_secret_v1+',
  CLIENT_RENEWAL: 'allmydata_client_renewal_secret_v1',
  CLIENT_CANCEL: 'allmydata_client_cancel_secret_v1',
  FILE_RENEWAL: 'allmydata_file_renewal_secret_v1',
  FILE_CANCEL: 'allmydata_file_cancel_secret_v1',
  BUCKET_RENEWAL: 'allmydata_bucket_renewal_secret_v1',
  BUCKET_CANCEL: 'allmydata_bucket_cancel_secret_v1',
  MUTABLE_WRITEKEY: 'allmydata_mutable_privkey_to_writekey_v1',
  MUTABLE_WRITE_ENABLER_MASTER: 'allmydata_mutable_writekey_to_write_enabler_master_v1',
  MUTABLE_WRITE_ENABLER: 'allmydata_mutable_write_enabler_master_and_nodeid_to_write_enabler_v1',
  MUTABLE_PUBKEY: 'allmydata_mutable_pubkey_to_fingerprint_v1',
  MUTABLE_READKEY: 'allmydata_mutable_writekey_to_readkey_v1',
  MUTABLE_DATAKEY: 'allmydata_mutable_readkey_to_datakey_v1',
  MUTABLE_STORAGEINDEX: 'allmydata_mutable_readkey_to_storage_index_v1',
  DIRNODE_CHILD_WRITECAP: 'allmydata_mutable_writekey_and_salt_to_dirnode_child_capkey_v1',
  DIRNODE_CHILD_SALT: 'allmydata_dirnode_child_rwcap_to_salt_v1',
  MERKLE_EMPTY_LEAF: 'Merkle tree empty leaf',
  MERKLE_INTERNAL: 'Merkle tree internal node',
  BACKUPDB_DIRHASH: 'allmydata_backupdb_dirhash_v1',
} as const;
