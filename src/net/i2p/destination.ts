/**
 * I2P destinations and SAM private-key blobs, generated offline (no router needed).
 *
 * Specs: i2p.www `i2p2www/spec/common-structures.rst` (KeysAndCert, Certificate,
 * KeyCertificate, signature and crypto type tables), `i2p2www/spec/cryptography.rst`
 * (ElGamal over the 2048-bit MODP prime of RFC 3526 §3 with generator 2),
 * `i2p2www/pages/site/docs/api/samv3.html` (the SAM `$privkey` = Destination ‖ PrivateKey ‖
 * SigningPrivateKey), `naming.html` (b32 = base32(SHA-256(destination))). Summarised in
 * shared/specs/i2p.md §3.
 *
 * What we generate: an Ed25519 signing key (sig type 7) and an ElGamal-2048 encryption key
 * (crypto type 0). ElGamal, not ECIES-X25519, because i2pd 2.45 cannot serve streams to an
 * ECIES destination on a single offline router (i2p.md §5.3), and the ElGamal identity key is
 * what every router accepts; the production LeaseSet can still carry an ECIES key
 * (`i2cp.leaseSetEncType=4,0`), which the router generates by itself.
 *
 * Layout of the 391-byte destination:
 *   0..255   ElGamal public key y = 2^x mod p, 256 bytes big-endian
 *   256..351 96 bytes of random padding (encryption key left-aligned, signing key right-aligned)
 *   352..383 Ed25519 public key
 *   384..390 certificate: type 5 (KEY), length 4, sig type 7, crypto type 0
 * The private blob appends the 256-byte ElGamal private exponent and the 32-byte Ed25519 seed.
 */
import crypto from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../../errors.js';
import { base32Encode } from '../../crypto/base32.js';

/** Signature types (common-structures.rst, "SigningPublicKey" table). */
export const SIG_TYPE = { DSA_SHA1: 0, ECDSA_SHA256_P256: 1, ECDSA_SHA384_P384: 2, ECDSA_SHA512_P521: 3, EdDSA_SHA512_Ed25519: 7, RedDSA_SHA512_Ed25519: 11 } as const;
/** Crypto (encryption public key) types. */
export const CRYPTO_TYPE = { ElGamal: 0, X25519: 4 } as const;

const CERT_NULL = 0;
const CERT_KEY = 5;

/** Public and private signing-key lengths per signature type usable in a Destination. */
const SIGNING_KEY_LENGTHS: ReadonlyMap<number, { pub: number; priv: number }> = new Map([
  [0, { pub: 128, priv: 20 }],
  [1, { pub: 64, priv: 32 }],
  [2, { pub: 96, priv: 48 }],
  [3, { pub: 132, priv: 66 }],
  [7, { pub: 32, priv: 32 }],
  [11, { pub: 32, priv: 32 }],
]);
/** Public and private encryption-key lengths per crypto type. */
const CRYPTO_KEY_LENGTHS: ReadonlyMap<number, { pub: number; priv: number }> = new Map([
  [0, { pub: 256, priv: 256 }],
  [4, { pub: 32, priv: 32 }],
]);

/** RFC 3526 §3, the 2048-bit MODP group; I2P's ElGamal prime (cryptography.rst). */
export const ELGAMAL_PRIME = BigInt(
  '0x' +
    'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
    'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
    '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
    '15728E5A8AACAA68FFFFFFFFFFFFFFFF',
);
export const ELGAMAL_GENERATOR = 2n;

// ---------------------------------------------------------------------------------------
// I2P base64 (RFC 4648 with '-' for '+' and '~' for '/', padding kept).
// net/i2p/address.ts (hints engineer) will own these; this local copy keeps destination.ts
// usable until it lands.

const I2P_BASE64_RE = /^[A-Za-z0-9~-]+={0,2}$/;

export function i2pBase64Encode(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64').replace(/\+/g, '-').replace(/\//g, '~');
}

/** Decode strict I2P base64; anything non-canonical is an `I2pAddressInvalid` error. */
export function i2pBase64Decode(s: string, what = 'I2P base64 value'): Buffer {
  if (s.length === 0 || s.length % 4 !== 0 || !I2P_BASE64_RE.test(s)) {
    throw new TahoeError('I2pAddressInvalid', `${what} is not valid I2P base64 (length ${s.length})`, {
      hint: 'I2P base64 uses A-Z a-z 0-9 - ~ and = padding, in groups of 4 characters; check the value was copied whole',
    });
  }
  const bytes = Buffer.from(s.replace(/-/g, '+').replace(/~/g, '/'), 'base64');
  if (i2pBase64Encode(bytes) !== s) {
    throw new TahoeError('I2pAddressInvalid', `${what} is not canonical I2P base64`, {
      hint: 'the unused bits of the last base64 character must be zero; check the value was copied whole',
    });
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Destinations

export interface DestinationInfo {
  /** Total length in bytes (387 + certificate length). */
  length: number;
  signatureType: number;
  cryptoType: number;
  encryptionPublicKey: Buffer;
  signingPublicKey: Buffer;
}

function invalidDestination(message: string, what: string): TahoeError {
  return new TahoeError('I2pAddressInvalid', `${what}: ${message}`, {
    hint: 'an I2P destination is at least 387 bytes (516+ base64 characters) ending in a NULL or KEY certificate; check it was copied whole',
  });
}

/**
 * Parse the Destination at the start of `bytes` (it may be followed by more data, as in a
 * private-key blob). Returns its length and keys; throws `I2pAddressInvalid` on anything
 * that is not a destination a router would accept.
 */
export function parseDestination(bytes: Uint8Array, what = 'I2P destination'): DestinationInfo {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 387) throw invalidDestination(`too short (${b.length} bytes, need at least 387)`, what);
  const certType = b[384];
  const certLength = b.readUInt16BE(385);
  const length = 387 + certLength;
  if (b.length < length) throw invalidDestination(`certificate length ${certLength} runs past the end (${b.length} bytes)`, what);
  if (certType === CERT_NULL) {
    if (certLength !== 0) throw invalidDestination('a NULL certificate must have length 0', what);
    return { length, signatureType: 0, cryptoType: 0, encryptionPublicKey: b.subarray(0, 256), signingPublicKey: b.subarray(256, 384) };
  }
  if (certType !== CERT_KEY) throw invalidDestination(`unsupported certificate type ${certType}`, what);
  if (certLength < 4) throw invalidDestination(`key certificate too short (${certLength} bytes)`, what);
  const signatureType = b.readUInt16BE(387);
  const cryptoType = b.readUInt16BE(389);
  const sig = SIGNING_KEY_LENGTHS.get(signatureType);
  const enc = CRYPTO_KEY_LENGTHS.get(cryptoType);
  if (!sig) throw invalidDestination(`unsupported signature type ${signatureType}`, what);
  if (!enc) throw invalidDestination(`unsupported crypto type ${cryptoType}`, what);
  // Keys longer than the 384-byte area spill into the certificate; nothing else may be there.
  const excess = Math.max(0, enc.pub + sig.pub - 384);
  if (certLength !== 4 + excess) throw invalidDestination(`key certificate length ${certLength}, expected ${4 + excess}`, what);
  const encryptionPublicKey = b.subarray(0, enc.pub);
  const signingPublicKey =
    excess === 0 ? b.subarray(384 - sig.pub, 384) : Buffer.concat([b.subarray(384 - (sig.pub - excess), 384), b.subarray(391, 391 + excess)]);
  return { length, signatureType, cryptoType, encryptionPublicKey, signingPublicKey };
}

/** `<52 base32 chars>.b32.i2p` for destination bytes (naming.html). */
export function destinationToB32(destination: Uint8Array): string {
  return `${base32Encode(crypto.createHash('sha256').update(destination).digest())}.b32.i2p`;
}

export interface PrivateKeyInfo {
  destination: Buffer;
  destinationBase64: string;
  /** `<52 chars>.b32.i2p` */
  b32: string;
  signatureType: number;
  cryptoType: number;
}

/**
 * Check a SAM private-key blob (I2P base64: Destination ‖ PrivateKey ‖ SigningPrivateKey) and
 * derive its public parts. Throws `I2pAddressInvalid` (never echoing key material).
 */
export function parsePrivateKey(privateKeyBase64: string, what = 'I2P private key'): PrivateKeyInfo {
  const blob = i2pBase64Decode(privateKeyBase64.trim(), what);
  const info = parseDestination(blob, what);
  const enc = CRYPTO_KEY_LENGTHS.get(info.cryptoType);
  const sig = SIGNING_KEY_LENGTHS.get(info.signatureType);
  // parseDestination only accepts types present in both tables.
  if (!enc || !sig) throw new TahoeError('Internal', 'key length tables out of sync');
  const expected = info.length + enc.priv + sig.priv;
  if (blob.length !== expected) {
    throw new TahoeError('I2pAddressInvalid', `${what}: ${blob.length} bytes, expected ${expected} for signature type ${info.signatureType}`, {
      hint: 'the key file must hold the SAM private destination (Destination + private keys); offline-signed keys are not supported. Regenerate it by removing the file.',
    });
  }
  const sigPriv = blob.subarray(info.length + enc.priv);
  if (sigPriv.every((x) => x === 0)) {
    throw new TahoeError('I2pAddressInvalid', `${what}: the signing private key is all zeros (offline-signed keys are not supported)`, {
      hint: 'use a key generated by tahoe-ts or by SAM DEST GENERATE',
    });
  }
  const destination = Buffer.from(blob.subarray(0, info.length));
  return {
    destination,
    destinationBase64: i2pBase64Encode(destination),
    b32: destinationToB32(destination),
    signatureType: info.signatureType,
    cryptoType: info.cryptoType,
  };
}

// ---------------------------------------------------------------------------------------
// Offline generation

export interface GeneratedDestination {
  /** SAM private key blob (I2P base64, 908 chars): what `DESTINATION=` takes. Secret. */
  privateKeyBase64: string;
  /** Public destination (I2P base64, 524 chars). */
  destinationBase64: string;
  /** `<52 base32 chars>.b32.i2p` */
  b32: string;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

function bigIntToBytes(n: bigint, length: number): Buffer {
  const hex = n.toString(16).padStart(length * 2, '0');
  if (hex.length > length * 2) throw new TahoeError('Internal', 'integer does not fit');
  return Buffer.from(hex, 'hex');
}

/** An ElGamal key pair over the RFC 3526 group: a full-length 2048-bit exponent x in [2, p-2]. */
export function generateElGamalKeyPair(): { publicKey: Buffer; privateKey: Buffer } {
  for (;;) {
    const x = BigInt('0x' + crypto.randomBytes(256).toString('hex'));
    if (x < 2n || x > ELGAMAL_PRIME - 2n) continue;
    const y = modPow(ELGAMAL_GENERATOR, x, ELGAMAL_PRIME);
    return { publicKey: bigIntToBytes(y, 256), privateKey: bigIntToBytes(x, 256) };
  }
}

/** Recompute y = 2^x mod p from a 256-byte private exponent (used by tests and key checks). */
export function elGamalPublicKeyOf(privateKey: Uint8Array): Buffer {
  const x = BigInt('0x' + Buffer.from(privateKey).toString('hex'));
  return bigIntToBytes(modPow(ELGAMAL_GENERATOR, x, ELGAMAL_PRIME), 256);
}

function ed25519KeyPair(): { publicKey: Buffer; seed: Buffer } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'jwk' }).x;
  const seed = privateKey.export({ format: 'jwk' }).d;
  if (typeof pub !== 'string' || typeof seed !== 'string') throw new TahoeError('Internal', 'ed25519 JWK export lacks x or d');
  return { publicKey: Buffer.from(pub, 'base64url'), seed: Buffer.from(seed, 'base64url') };
}

/**
 * A new I2P destination (Ed25519 + ElGamal), generated locally without a router. The
 * result works as `SESSION CREATE … DESTINATION=<privateKeyBase64>` on i2pd and Java I2P.
 */
export function generateDestination(): GeneratedDestination {
  const elg = generateElGamalKeyPair();
  const ed = ed25519KeyPair();
  const certificate = Buffer.from([CERT_KEY, 0, 4, 0, SIG_TYPE.EdDSA_SHA512_Ed25519, 0, CRYPTO_TYPE.ElGamal]);
  const padding = crypto.randomBytes(384 - 256 - 32);
  const destination = Buffer.concat([elg.publicKey, padding, ed.publicKey, certificate]);
  const blob = Buffer.concat([destination, elg.privateKey, ed.seed]);
  return {
    privateKeyBase64: i2pBase64Encode(blob),
    destinationBase64: i2pBase64Encode(destination),
    b32: destinationToB32(destination),
  };
}

// ---------------------------------------------------------------------------------------
// Key files (private/i2p_dest.privkey: the SAM private key in I2P base64, as txi2p writes it)

/** Read and validate a destination key file; `undefined` when it does not exist. */
export async function readDestinationKeyFile(keyFile: string): Promise<(PrivateKeyInfo & { privateKeyBase64: string }) | undefined> {
  let text: string;
  try {
    text = await fs.readFile(keyFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TahoeError('DiskError', `cannot read I2P key file ${keyFile}: ${(e as Error).message}`, { cause: e });
  }
  const privateKeyBase64 = text.trim();
  const info = parsePrivateKey(privateKeyBase64, `I2P key file ${keyFile}`);
  return { ...info, privateKeyBase64 };
}

/** Write a key file with mode 0600, refusing to overwrite an existing one. */
export async function writeDestinationKeyFile(keyFile: string, privateKeyBase64: string): Promise<void> {
  parsePrivateKey(privateKeyBase64, 'I2P private key to save');
  try {
    await fs.mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    const handle = await fs.open(keyFile, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      await handle.writeFile(privateKeyBase64, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TahoeError('DiskError', `cannot write I2P key file ${keyFile}: ${code ?? (e as Error).message}`, {
      cause: e,
      hint: code === 'EEXIST' ? 'the key file already exists; tahoe-ts never overwrites an I2P identity' : 'check permissions of the node directory',
      details: { code },
    });
  }
}

/**
 * The destination in `keyFile`, created (offline, mode 0600) when the file is missing, so a
 * listener keeps the same address across restarts.
 */
export async function loadOrCreateDestinationKey(keyFile: string): Promise<PrivateKeyInfo & { privateKeyBase64: string; created: boolean }> {
  const existing = await readDestinationKeyFile(keyFile);
  if (existing) return { ...existing, created: false };
  const generated = generateDestination();
  try {
    await writeDestinationKeyFile(keyFile, generated.privateKeyBase64);
  } catch (e) {
    // Another process created it between our read and write: use theirs.
    if (e instanceof TahoeError && e.details.code === 'EEXIST') {
      const theirs = await readDestinationKeyFile(keyFile);
      if (theirs) return { ...theirs, created: false };
    }
    throw e;
  }
  return { ...parsePrivateKey(generated.privateKeyBase64), privateKeyBase64: generated.privateKeyBase64, created: true };
}
