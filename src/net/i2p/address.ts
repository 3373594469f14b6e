/**
 * I2P addressing: the I2P base64 alphabet, Destination structure, SAM private-key blobs,
 * `.b32.i2p` addresses and `name.i2p` host names.
 *
 * Specs: i2p.www `common-structures.rst` (KeysAndCert, Certificate, KeyCertificate and the
 * signature/crypto type tables), `naming.html` (b32 = base32(SHA-256(destination)) +
 * ".b32.i2p"; host name rules), SAM v3 (`$privkey` = Destination ‖ PrivateKey ‖
 * SigningPrivateKey). Summarised in shared/specs/i2p.md §3–4.
 *
 * I2P base64 is RFC 4648 base64 with `-` for `+` and `~` for `/`, padding kept. Node's
 * `Buffer.from(s, 'base64')` silently skips characters it does not know, so every input is
 * checked against the alphabet first and must re-encode to itself (canonical form).
 */
import { createHash } from 'node:crypto';
import { TahoeError } from '../../errors.js';
import { base32Encode, isBase32 } from '../../crypto/base32.js';

const I2P_BASE64_RE = /^[A-Za-z0-9~-]+={0,2}$/;

/** True when `s` is canonical, padded I2P base64. */
export function isI2pBase64(s: string): boolean {
  if (s.length === 0 || s.length % 4 !== 0 || !I2P_BASE64_RE.test(s)) return false;
  return i2pBase64Encode(Buffer.from(toStandardBase64(s), 'base64')) === s;
}

function toStandardBase64(s: string): string {
  return s.replace(/-/g, '+').replace(/~/g, '/');
}

export function i2pBase64Encode(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64').replace(/\+/g, '-').replace(/\//g, '~');
}

/** Decode canonical I2P base64, or throw `I2pAddressInvalid` naming `what` (never echoing the value: it may be a key). */
export function i2pBase64Decode(s: string, what = 'I2P base64 value'): Buffer {
  if (s.length === 0 || s.length % 4 !== 0 || !I2P_BASE64_RE.test(s)) {
    throw new TahoeError('I2pAddressInvalid', `${what} is not valid I2P base64 (${s.length} characters)`, {
      hint: 'I2P base64 uses A-Z a-z 0-9 - ~ with = padding, in groups of 4 characters; check the value was copied whole',
    });
  }
  const bytes = Buffer.from(toStandardBase64(s), 'base64');
  if (i2pBase64Encode(bytes) !== s) {
    throw new TahoeError('I2pAddressInvalid', `${what} is not canonical I2P base64`, {
      hint: 'the unused bits of the last character must be zero; check the value was copied whole',
    });
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Destinations

/** Public/private key lengths per signature type (common-structures.rst, SigningPublicKey). */
export const SIGNING_KEY_LENGTHS: ReadonlyMap<number, { name: string; pub: number; priv: number }> = new Map([
  [0, { name: 'DSA_SHA1', pub: 128, priv: 20 }],
  [1, { name: 'ECDSA_SHA256_P256', pub: 64, priv: 32 }],
  [2, { name: 'ECDSA_SHA384_P384', pub: 96, priv: 48 }],
  [3, { name: 'ECDSA_SHA512_P521', pub: 132, priv: 66 }],
  [4, { name: 'RSA_SHA256_2048', pub: 256, priv: 512 }],
  [5, { name: 'RSA_SHA384_3072', pub: 384, priv: 768 }],
  [6, { name: 'RSA_SHA512_4096', pub: 512, priv: 1024 }],
  [7, { name: 'EdDSA_SHA512_Ed25519', pub: 32, priv: 32 }],
  [8, { name: 'EdDSA_SHA512_Ed25519ph', pub: 32, priv: 32 }],
  [11, { name: 'RedDSA_SHA512_Ed25519', pub: 32, priv: 32 }],
]);

/** Public/private key lengths per crypto type usable in a Destination (common-structures.rst, PublicKey). */
export const CRYPTO_KEY_LENGTHS: ReadonlyMap<number, { name: string; pub: number; priv: number }> = new Map([
  [0, { name: 'ElGamal', pub: 256, priv: 256 }],
  [1, { name: 'P256', pub: 64, priv: 32 }],
  [2, { name: 'P384', pub: 96, priv: 48 }],
  [3, { name: 'P521', pub: 132, priv: 66 }],
  [4, { name: 'ECIES_X25519', pub: 32, priv: 32 }],
]);

const CERT_NULL = 0;
const CERT_KEY = 5;
/** Keys area (256-byte encryption + 128-byte signing) plus certificate type and length. */
export const DESTINATION_MIN_LENGTH = 387;

export interface DestinationInfo {
  /** Total length in bytes: 387 + certificate length (391 for Ed25519 + ElGamal). */
  length: number;
  certificateType: number;
  signatureType: number;
  cryptoType: number;
  encryptionPublicKey: Buffer;
  signingPublicKey: Buffer;
}

function badDestination(what: string, message: string): TahoeError {
  return new TahoeError('I2pAddressInvalid', `${what}: ${message}`, {
    hint: 'an I2P destination is at least 387 bytes (516+ I2P base64 characters) ending in a NULL or KEY certificate; check it was copied whole',
  });
}

/**
 * Parse the Destination at the start of `bytes` (more data may follow, as in a private-key
 * blob); the certificate length determines where it ends.
 */
export function parseDestination(bytes: Uint8Array, what = 'I2P destination'): DestinationInfo {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < DESTINATION_MIN_LENGTH) throw badDestination(what, `too short (${b.length} bytes, need at least ${DESTINATION_MIN_LENGTH})`);
  const certificateType = b[384];
  const certLength = b.readUInt16BE(385);
  const length = DESTINATION_MIN_LENGTH + certLength;
  if (b.length < length) throw badDestination(what, `its certificate (${certLength} bytes) runs past the end of the data`);
  if (certificateType === CERT_NULL) {
    if (certLength !== 0) throw badDestination(what, 'a NULL certificate must be empty');
    return { length, certificateType, signatureType: 0, cryptoType: 0, encryptionPublicKey: b.subarray(0, 256), signingPublicKey: b.subarray(256, 384) };
  }
  if (certificateType !== CERT_KEY) throw badDestination(what, `certificate type ${certificateType} is not allowed in a destination`);
  if (certLength < 4) throw badDestination(what, `key certificate of ${certLength} bytes is too short`);
  const signatureType = b.readUInt16BE(387);
  const cryptoType = b.readUInt16BE(389);
  const sig = SIGNING_KEY_LENGTHS.get(signatureType);
  const enc = CRYPTO_KEY_LENGTHS.get(cryptoType);
  if (!sig) throw badDestination(what, `unknown signature type ${signatureType}`);
  if (!enc) throw badDestination(what, `unknown crypto type ${cryptoType}`);
  // Keys longer than their area spill into the certificate ("excess key data").
  const excess = Math.max(0, sig.pub - 128) + Math.max(0, enc.pub - 256);
  if (certLength !== 4 + excess) throw badDestination(what, `key certificate length ${certLength}, expected ${4 + excess} for these key types`);
  const sigExcess = Math.max(0, sig.pub - 128);
  const signingPublicKey =
    sigExcess === 0 ? b.subarray(384 - sig.pub, 384) : Buffer.concat([b.subarray(256, 384), b.subarray(391, 391 + sigExcess)]);
  return { length, certificateType, signatureType, cryptoType, encryptionPublicKey: b.subarray(0, Math.min(enc.pub, 256)), signingPublicKey };
}

/** `<52 lowercase base32 chars>.b32.i2p` for the destination bytes. */
export function destinationToB32(destination: Uint8Array): string {
  return `${base32Encode(createHash('sha256').update(destination).digest())}.b32.i2p`;
}

export interface PrivateKeySplit {
  /** The public Destination: the prefix of the blob. */
  destination: Buffer;
  info: DestinationInfo;
  /** Encryption private key ‖ signing private key (secret). */
  privateKeys: Buffer;
}

/**
 * Split a SAM private-key blob (`DESTINATION=`/`PRIV=` value, decoded) into the public
 * destination and the private keys, checking the private part has the length the key
 * types call for.
 */
export function splitPrivateKey(blob: Uint8Array, what = 'I2P private key'): PrivateKeySplit {
  const info = parseDestination(blob, what);
  const sig = SIGNING_KEY_LENGTHS.get(info.signatureType);
  const enc = CRYPTO_KEY_LENGTHS.get(info.cryptoType);
  if (!sig || !enc) throw new TahoeError('Internal', 'I2P key tables out of sync');
  const expected = info.length + enc.priv + sig.priv;
  if (blob.length !== expected) {
    throw new TahoeError('I2pAddressInvalid', `${what}: ${blob.length} bytes, expected ${expected} for ${sig.name} + ${enc.name}`, {
      hint: 'the key file must hold the whole SAM private destination; offline-signed keys are not supported',
    });
  }
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  return { destination: Buffer.from(b.subarray(0, info.length)), info, privateKeys: Buffer.from(b.subarray(info.length)) };
}

// ---------------------------------------------------------------------------------------
// Addresses as written in hints and NURLs

export type I2pAddress =
  /** `<52 chars>.b32.i2p` */
  | { kind: 'b32'; address: string }
  /** `name.i2p`, resolved by the router's address book */
  | { kind: 'name'; address: string }
  /** A full Destination in I2P base64, with the b32 address it hashes to */
  | { kind: 'destination'; address: string; b32: string };

const B32_RE = /^([a-z2-7]+)\.b32\.i2p$/;
const I2P_LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** naming.html: host names are at most 67 characters including ".i2p". */
const I2P_NAME_MAX = 67;

function badAddress(message: string, hint: string): TahoeError {
  return new TahoeError('I2pAddressInvalid', message, { hint });
}

/** True for a `<52 base32 chars>.b32.i2p` address. */
export function isB32Address(s: string): boolean {
  const m = B32_RE.exec(s);
  return m !== null && m[1].length === 52 && isBase32(m[1]);
}

/** Parse a b32 address, a `name.i2p` host name, or an I2P-base64 destination. */
export function parseI2pAddress(text: string): I2pAddress {
  if (/\.i2p$/i.test(text)) {
    if (/\.b32\.i2p$/i.test(text)) {
      const m = B32_RE.exec(text);
      if (!m) {
        throw badAddress(`"${text}" is not a valid .b32.i2p address`, 'a b32 address is 52 lowercase base32 characters (a-z, 2-7) plus ".b32.i2p"');
      }
      if (m[1].length >= 56) {
        throw badAddress(
          `"${text}" is an encrypted-LeaseSet ("b33") address, which tahoe-ts does not support`,
          'ask the operator for the plain 52-character .b32.i2p address of the destination',
        );
      }
      if (m[1].length !== 52) {
        throw badAddress(`"${text}" has ${m[1].length} characters before ".b32.i2p", expected 52`, 'check the address was copied whole');
      }
      if (!isBase32(m[1])) {
        // 52 characters carry 260 bits for a 256-bit hash: the last one must end in four zero bits.
        throw badAddress(`"${text}" is not canonical base32: its last character before ".b32.i2p" cannot end a 32-byte hash`, 'the last character of a b32 address is "a" or "q"; check the address was copied whole');
      }
      return { kind: 'b32', address: text };
    }
    const labels = text.slice(0, -4).split('.');
    if (text.length > I2P_NAME_MAX || labels.some((l) => !I2P_LABEL_RE.test(l))) {
      throw badAddress(
        `"${text}" is not a valid I2P host name`,
        'I2P host names are dot-separated labels of letters, digits and inner hyphens, ending in ".i2p", at most 67 characters',
      );
    }
    return { kind: 'name', address: text };
  }
  if (!I2P_BASE64_RE.test(text)) {
    throw badAddress(
      `"${text.length > 80 ? `${text.slice(0, 40)}…` : text}" is not an I2P address`,
      'write <52 chars>.b32.i2p, a name ending in .i2p, or a full I2P base64 destination',
    );
  }
  const bytes = i2pBase64Decode(text, 'I2P destination');
  const info = parseDestination(bytes);
  if (info.length !== bytes.length) {
    throw badAddress(
      `the I2P destination has ${bytes.length - info.length} bytes after its certificate`,
      'this looks like a private key blob, not a public destination: never publish it; use the destination or its .b32.i2p address',
    );
  }
  return { kind: 'destination', address: text, b32: destinationToB32(bytes) };
}

/** True when `text` is any valid I2P address form. */
export function isI2pAddress(text: string): boolean {
  try {
    parseI2pAddress(text);
    return true;
  } catch {
    return false;
  }
}
