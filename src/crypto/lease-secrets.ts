/**
 * Lease secrets and mutable write enablers (spec: shared/specs/tahoe-formats.md §6;
 * upstream `docs/specifications/lease.rst`, `derive_renewal_secret.py`, `util/hashutil.py`).
 *
 * From the node's 32-byte lease secret (`private/secret`) a client derives one renew and
 * one cancel secret per file (mixing in the storage index) and then per server (mixing in
 * the server's 20-byte TubID). Mutable shares are guarded by a write enabler derived from
 * the file's writekey and, again, the server's TubID. Note the client-level secrets use
 * the lease secret as the hash *tag* and a constant as the value.
 */
import { TahoeError } from '../errors.js';
import { TAGS, taggedHash, taggedPairHash } from './hashes.js';

function requireLength(value: Uint8Array, length: number, what: string, hint: string): void {
  if (value.length !== length) {
    throw new TahoeError('BadInput', `${what} must be ${length} bytes, not ${value.length}`, { hint });
  }
}

const TUBID_HINT = "a server's TubID is the 20 raw bytes behind the 32 base32 characters in its pb:// fURL (SHA-1 of its TLS certificate)";
const SI_HINT = 'a storage index is 16 bytes (26 base32 characters)';

/** Client-wide renew secret: `tagged_hash(tag = lease secret, "allmydata_client_renewal_secret_v1")`. */
export function clientRenewalSecret(leaseSecret: Uint8Array): Buffer {
  return taggedHash(leaseSecret, TAGS.CLIENT_RENEWAL);
}

export function clientCancelSecret(leaseSecret: Uint8Array): Buffer {
  return taggedHash(leaseSecret, TAGS.CLIENT_CANCEL);
}

export function fileRenewalSecret(clientRenewal: Uint8Array, storageIndex: Uint8Array): Buffer {
  return taggedPairHash(TAGS.FILE_RENEWAL, clientRenewal, storageIndex);
}

export function fileCancelSecret(clientCancel: Uint8Array, storageIndex: Uint8Array): Buffer {
  return taggedPairHash(TAGS.FILE_CANCEL, clientCancel, storageIndex);
}

export function bucketRenewalSecret(fileRenewal: Uint8Array, serverTubId: Uint8Array): Buffer {
  requireLength(serverTubId, 20, 'server TubID', TUBID_HINT);
  return taggedPairHash(TAGS.BUCKET_RENEWAL, fileRenewal, serverTubId);
}

export function bucketCancelSecret(fileCancel: Uint8Array, serverTubId: Uint8Array): Buffer {
  requireLength(serverTubId, 20, 'server TubID', TUBID_HINT);
  return taggedPairHash(TAGS.BUCKET_CANCEL, fileCancel, serverTubId);
}

export interface LeaseSecrets {
  renew: Buffer;
  cancel: Buffer;
}

/** Both secrets a client sends to one server for one file. */
export function leaseSecretsFor(leaseSecret: Uint8Array, storageIndex: Uint8Array, serverTubId: Uint8Array): LeaseSecrets {
  requireLength(storageIndex, 16, 'storage index', SI_HINT);
  return {
    renew: bucketRenewalSecret(fileRenewalSecret(clientRenewalSecret(leaseSecret), storageIndex), serverTubId),
    cancel: bucketCancelSecret(fileCancelSecret(clientCancelSecret(leaseSecret), storageIndex), serverTubId),
  };
}

/** Write-enabler master of a mutable file: `tagged_hash(WE master tag, writekey)`. */
export function writeEnablerMaster(writekey: Uint8Array): Buffer {
  return taggedHash(TAGS.MUTABLE_WRITE_ENABLER_MASTER, writekey);
}

/** The write enabler for one server: `tagged_pair_hash(WE tag, master, tubid20)`. */
export function writeEnabler(master: Uint8Array, serverTubId: Uint8Array): Buffer {
  requireLength(serverTubId, 20, 'server TubID', TUBID_HINT);
  return taggedPairHash(TAGS.MUTABLE_WRITE_ENABLER, master, serverTubId);
}

/** Convenience: the write enabler straight from the writekey. */
export function writeEnablerFor(writekey: Uint8Array, serverTubId: Uint8Array): Buffer {
  return writeEnabler(writeEnablerMaster(writekey), serverTubId);
}
