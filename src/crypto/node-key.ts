/**
 * The node's Ed25519 signing key in Tahoe-LAFS's text forms.
 *
 * Spec: shared/specs/storage-protocol.md §1 and §7, tahoe-formats.md §7 (Tahoe-LAFS 1.20
 * `crypto/ed25519.py`, `client.py`): the private key is the 32-byte RFC 8032 seed written
 * `priv-v0-<base32>` (private/node.privkey); the public key is `pub-v0-<base32>`
 * (node.pubkey); the server ID and the `key` of a signed announcement are
 * `v0-<base32 of the public key>`; a signature is `v0-<base32 of the 64 bytes>`. Base32 is
 * Tahoe's (lowercase, unpadded). A storage server's `permutation-seed` is base32 of the
 * ASCII text of the public key's base32 (84 characters) — a 1.20 quirk kept for
 * compatibility.
 *
 * Pure: no file I/O (config/keys.ts reads and writes the files).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { base32Decode, base32Encode, isBase32 } from './base32.js';

export const PRIVATE_KEY_PREFIX = 'priv-v0-';
export const PUBLIC_KEY_PREFIX = 'pub-v0-';
export const SERVER_ID_PREFIX = 'v0-';

// Fixed DER framing of an Ed25519 key (RFC 8410): PKCS#8 private key and SPKI public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An Ed25519 key pair. Prints as `[node key]` so it cannot end up in a log by accident. */
export class NodeKey {
  private constructor(
    private readonly privateKey: KeyObject,
    /** The 32-byte public key. */
    readonly publicKey: Buffer,
  ) {}

  static fromSeed(seed: Uint8Array): NodeKey {
    if (seed.length !== 32) throw new TahoeError('BadInput', `an Ed25519 private key has 32 bytes, not ${seed.length}`, { hint: 'the node key file is damaged; restore private/node.privkey from a backup' });
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return new NodeKey(privateKey, Buffer.from(spki.subarray(spki.length - 32)));
  }

  static generate(): NodeKey {
    const { privateKey } = generateKeyPairSync('ed25519');
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
    const key = NodeKey.fromSeed(seed);
    seed.fill(0);
    return key;
  }

  /** The 32-byte seed: secret. */
  seed(): Buffer {
    return Buffer.from(this.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32));
  }

  /** `priv-v0-<52 base32>`: the content of private/node.privkey (without the newline). Secret. */
  privateKeyString(): string {
    const seed = this.seed();
    const s = PRIVATE_KEY_PREFIX + base32Encode(seed);
    seed.fill(0);
    return s;
  }

  /** `pub-v0-<52 base32>`: the content of node.pubkey (without the newline). */
  publicKeyString(): string {
    return formatPublicKey(this.publicKey);
  }

  /** `v0-<52 base32>`: the server ID other nodes know us by. */
  serverId(): string {
    return serverIdOf(this.publicKey);
  }

  /** Ed25519 signature (64 bytes) over `message`. */
  sign(message: Uint8Array): Buffer {
    return cryptoSign(null, message, this.privateKey);
  }

  /** `v0-<base32 signature>`, as a signed announcement carries it. */
  signToString(message: Uint8Array): string {
    return SERVER_ID_PREFIX + base32Encode(this.sign(message));
  }

  toString(): string {
    return '[node key]';
  }

  toJSON(): string {
    return '[node key]';
  }
}

function keyError(what: string, text: string, expected: string): TahoeError {
  // Never echo a private key back; public strings are safe to show (truncated).
  const shown = what.includes('private') ? '' : ` "${text.length > 24 ? text.slice(0, 24) + '…' : text}"`;
  return new TahoeError('BadInput', `invalid ${what}${shown}: expected ${expected}`, {
    hint: what.includes('private')
      ? 'private/node.privkey must hold one line "priv-v0-" + 52 base32 characters; if it is damaged, restore it from a backup (a new key changes the node\'s server ID)'
      : `expected ${expected}; check that the string was copied whole`,
  });
}

function decodeKeyPart(text: string, prefix: string, what: string, bytes: number): Buffer {
  const t = text.trim();
  const expected = `"${prefix}" followed by ${Math.ceil((bytes * 8) / 5)} base32 characters`;
  if (!t.startsWith(prefix)) throw keyError(what, t, expected);
  const body = t.slice(prefix.length);
  if (body.length !== Math.ceil((bytes * 8) / 5) || !isBase32(body)) throw keyError(what, t, expected);
  return base32Decode(body, what);
}

/** Parse `priv-v0-…` (surrounding whitespace, e.g. the file's newline, is ignored). */
export function parseNodePrivateKey(text: string): NodeKey {
  const seed = decodeKeyPart(text, PRIVATE_KEY_PREFIX, 'node private key', 32);
  const key = NodeKey.fromSeed(seed);
  seed.fill(0);
  return key;
}

/** Parse `pub-v0-…` into the 32-byte public key. */
export function parseNodePublicKey(text: string): Buffer {
  return checkPoint(decodeKeyPart(text, PUBLIC_KEY_PREFIX, 'node public key', 32), text);
}

/** Parse a server ID / announcement key `v0-…` into the 32-byte public key. */
export function parseServerId(text: string): Buffer {
  return checkPoint(decodeKeyPart(text, SERVER_ID_PREFIX, 'server ID', 32), text);
}

function checkPoint(publicKey: Buffer, text: string): Buffer {
  try {
    createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new TahoeError('BadInput', `"${text.trim().slice(0, 24)}…" is not a valid Ed25519 public key`, { hint: 'check that the key was copied whole', cause });
  }
  return publicKey;
}

export function formatPublicKey(publicKey: Uint8Array): string {
  return PUBLIC_KEY_PREFIX + base32Encode(publicKey);
}

export function serverIdOf(publicKey: Uint8Array): string {
  return SERVER_ID_PREFIX + base32Encode(publicKey);
}

/** Parse a `v0-<base32>` signature into its 64 bytes. */
export function parseSignatureString(text: string): Buffer {
  return decodeKeyPart(text, SERVER_ID_PREFIX, 'signature', 64);
}

/** Verify an Ed25519 signature; false for any malformed key or signature. */
export function verifySignature(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** Verify `(message, "v0-" sig, "v0-" key)` as an announcement carries them. */
export function verifySignatureString(serverId: string, signature: string, message: Uint8Array): boolean {
  let pub: Buffer;
  let sig: Buffer;
  try {
    pub = parseServerId(serverId);
    sig = parseSignatureString(signature);
  } catch {
    return false;
  }
  return verifySignature(pub, sig, message);
}

/**
 * The `permutation-seed` a 1.20 storage server without old shares writes and announces:
 * base32 of the ASCII base32 text of its public key (84 characters).
 */
export function permutationSeedOf(publicKey: Uint8Array): string {
  return base32Encode(Buffer.from(base32Encode(publicKey), 'ascii'));
}
