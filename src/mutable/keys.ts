/**
 * RSA keys of mutable files and everything derived from them (spec:
 * shared/specs/tahoe-formats.md §4 and §6; upstream `docs/specifications/mutable.rst`,
 * `src/allmydata/crypto/rsa.py`, `util/hashutil.py`).
 *
 * Every mutable file (and every mutable directory) has its own RSA-2048 key pair with
 * e = 65537. Tahoe serialises the private key as PKCS#8 DER and the public key as
 * SubjectPublicKeyInfo DER; the hashes of exactly those bytes give the writekey and the
 * fingerprint, so the DER encodings are part of the format:
 *
 *   writekey    = tagged_hash(MUTABLE_WRITEKEY, PKCS#8 DER, 16)
 *   readkey     = tagged_hash(MUTABLE_READKEY, writekey, 16)
 *   SI          = tagged_hash(MUTABLE_STORAGEINDEX, readkey, 16)
 *   fingerprint = tagged_hash(MUTABLE_PUBKEY, SPKI DER)
 *
 * Signatures are RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (the value
 * pycryptopp used; Tahoe keeps it for compatibility).
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { TahoeError, type ErrorKind } from '../errors.js';
import { sskPubkeyFingerprint, sskReadkey, sskStorageIndex, sskWritekey } from '../crypto/derive.js';
import { aesCtr } from '../crypto/aes.js';
import { writeEnablerFor, writeEnablerMaster } from '../crypto/lease-secrets.js';

export const RSA_KEY_BITS = 2048;
export const RSA_PUBLIC_EXPONENT = 65537;
/** PSS salt length Tahoe uses (not the maximum `cryptography` would pick). */
export const PSS_SALT_LENGTH = 32;

const generateKeyPairAsync = promisify(generateKeyPair);

/** A mutable file's key pair with the exact DER bytes Tahoe hashes and stores. */
export interface MutableSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS#8 DER: hashed into the writekey, stored AES-encrypted in every share. */
  readonly privateKeyDer: Buffer;
  /** SubjectPublicKeyInfo DER: the "verification key" stored in every share. */
  readonly publicKeyDer: Buffer;
}

/** The secrets and identifiers of one mutable file, derived from its key pair. */
export interface MutableKeyMaterial {
  readonly writekey: Buffer;
  readonly readkey: Buffer;
  readonly storageIndex: Buffer;
  readonly fingerprint: Buffer;
}

const KEY_HINT = 'a mutable file key is an RSA-2048 private key with public exponent 65537 (PKCS#1 or PKCS#8, PEM or DER)';

function checkRsa2048(key: KeyObject, kind: ErrorKind, what: string, hint: string): void {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'rsa' || details?.modulusLength !== RSA_KEY_BITS || details.publicExponent !== BigInt(RSA_PUBLIC_EXPONENT)) {
    throw new TahoeError(kind, `${what} is not an RSA-${RSA_KEY_BITS} key with e=${RSA_PUBLIC_EXPONENT}`, {
      hint,
      details: { keyType: key.asymmetricKeyType, bits: details?.modulusLength },
    });
  }
}

function fromPrivateKeyObject(privateKey: KeyObject): MutableSigningKey {
  checkRsa2048(privateKey, 'BadInput', 'the private key', KEY_HINT);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    privateKeyDer: privateKey.export({ type: 'pkcs8', format: 'der' }),
    publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** A fresh key pair (asynchronous: RSA generation takes tens to hundreds of milliseconds). */
export async function generateSigningKey(): Promise<MutableSigningKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: RSA_KEY_BITS, publicExponent: RSA_PUBLIC_EXPONENT });
  return fromPrivateKeyObject(privateKey);
}

/**
 * Import a private key: PEM (PKCS#1 "RSA PRIVATE KEY" as in test_vectors.yaml, or PKCS#8)
 * or PKCS#8 DER. The result's `privateKeyDer` is re-encoded as PKCS#8 DER, which is what
 * Tahoe hashes.
 */
export function signingKeyFromPrivateKey(input: string | Uint8Array): MutableSigningKey {
  let key: KeyObject;
  try {
    key = typeof input === 'string'
      ? createPrivateKey({ key: input, format: 'pem' })
      : createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new TahoeError('BadInput', 'could not read the RSA private key', { hint: KEY_HINT, cause });
  }
  return fromPrivateKeyObject(key);
}

/**
 * Load a mutable file's private key from the PKCS#8 DER found (decrypted) in a share.
 * Bad bytes are the share's fault: `ShareCorrupt`.
 */
export function signingKeyFromShareDer(der: Uint8Array): MutableSigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new TahoeError('ShareCorrupt', 'the decrypted private key in a share is not valid PKCS#8 DER', {
      hint: 'the share is corrupt or was written with a different writekey; tahoe-ts tries another share',
      cause,
    });
  }
  checkRsa2048(key, 'ShareCorrupt', 'the private key stored in a share', 'the share is corrupt; tahoe-ts tries another share');
  return {
    privateKey: key,
    publicKey: createPublicKey(key),
    privateKeyDer: Buffer.from(der),
    publicKeyDer: createPublicKey(key).export({ type: 'spki', format: 'der' }),
  };
}

/** Parse a verification key (SPKI DER) read from a share; bad bytes ⇒ `ShareCorrupt`. */
export function verifyingKeyFromDer(der: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new TahoeError('ShareCorrupt', 'the verification key in a share is not a valid SubjectPublicKeyInfo', {
      hint: 'the share is corrupt; tahoe-ts tries another share', cause,
    });
  }
  checkRsa2048(key, 'ShareCorrupt', 'the verification key in a share', 'the share is corrupt; tahoe-ts tries another share');
  return key;
}

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_LENGTH } as const;

/** RSA-PSS(SHA-256, MGF1-SHA-256, salt 32) signature over `data` (256 bytes). */
export function signData(key: MutableSigningKey, data: Uint8Array): Buffer {
  return sign('sha256', data, { key: key.privateKey, ...PSS });
}

/** True when `signature` is a valid RSA-PSS signature of `data` under `publicKey`. */
export function verifySignature(publicKey: KeyObject, signature: Uint8Array, data: Uint8Array): boolean {
  try {
    return verify('sha256', data, { key: publicKey, ...PSS }, signature);
  } catch {
    return false;
  }
}

/** writekey, readkey, storage index and fingerprint of a key pair. */
export function keyMaterialOf(key: Pick<MutableSigningKey, 'privateKeyDer' | 'publicKeyDer'>): MutableKeyMaterial {
  const writekey = sskWritekey(key.privateKeyDer);
  const readkey = sskReadkey(writekey);
  return { writekey, readkey, storageIndex: sskStorageIndex(readkey), fingerprint: sskPubkeyFingerprint(key.publicKeyDer) };
}

/** The private key as stored in shares: AES-128-CTR(writekey, IV 0, PKCS#8 DER). */
export function encryptPrivateKey(writekey: Uint8Array, privateKeyDer: Uint8Array): Buffer {
  return aesCtr(writekey, privateKeyDer);
}

/**
 * Decrypt the private key found in a share and check it really belongs to this file: the
 * writekey derived from it must equal the writekey of the cap (Tahoe's
 * `_try_to_validate_privkey`). A mismatch means the share is corrupt.
 */
export function decryptPrivateKey(writekey: Uint8Array, encryptedPrivateKey: Uint8Array): MutableSigningKey {
  const der = aesCtr(writekey, encryptedPrivateKey);
  if (!sskWritekey(der).equals(Buffer.from(writekey))) {
    throw new TahoeError('ShareCorrupt', 'the encrypted private key in a share does not match the write cap', {
      hint: 'the share is corrupt or belongs to another file; tahoe-ts tries another share',
    });
  }
  return signingKeyFromShareDer(der);
}

/** Per-server write enabler of a mutable file (tahoe-formats §6); `serverTubId` is 20 raw bytes. */
export function mutableWriteEnabler(writekey: Uint8Array, serverTubId: Uint8Array): Buffer {
  return writeEnablerFor(writekey, serverTubId);
}

export { writeEnablerMaster };
