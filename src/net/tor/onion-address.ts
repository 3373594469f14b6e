/**
 * Onion service v3 addresses: parse, validate (version byte and checksum), compute.
 *
 * Spec: torspec `rend-spec-v3.txt` §6 "Encoding onion addresses" (shared/specs/tor.md §3):
 *   address  = base32(PUBKEY ‖ CHECKSUM ‖ VERSION) + ".onion", 56 lowercase characters
 *   CHECKSUM = SHA3-256(".onion checksum" ‖ PUBKEY ‖ VERSION)[:2],  VERSION = 0x03
 * Version 2 addresses (16 characters) belong to the retired v2 onion services: tor 0.4.6
 * and later cannot reach them, so they are refused with a hint saying so.
 *
 * Validating before dialling (anonymity-checklist AN-3.3) turns a typo into a clear local
 * error instead of a slow SOCKS failure (tor answers F6 after a descriptor lookup).
 */
import { createHash } from 'node:crypto';
import { TahoeError } from '../../errors.js';
import { base32Decode, base32Encode, isBase32 } from '../../crypto/base32.js';

export const ONION_V3_VERSION = 0x03;
/** Length of the base32 part of a v3 address. */
export const ONION_V3_LENGTH = 56;

export interface OnionAddress {
  /** `<56 lowercase base32 chars>.onion` */
  address: string;
  /** The service's 32-byte Ed25519 public key. */
  publicKey: Buffer;
}

/** The two checksum bytes of a v3 address for `publicKey`. */
export function onionChecksum(publicKey: Uint8Array): Buffer {
  return createHash('sha3-256')
    .update('.onion checksum')
    .update(publicKey)
    .update(Uint8Array.of(ONION_V3_VERSION))
    .digest()
    .subarray(0, 2);
}

/** `<56 chars>.onion` for a 32-byte Ed25519 public key. */
export function onionAddressFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) {
    throw new TahoeError('OnionAddressInvalid', `an onion service public key has 32 bytes, not ${publicKey.length}`, {
      hint: 'pass the raw Ed25519 public key of the onion service',
    });
  }
  const raw = Buffer.concat([publicKey, onionChecksum(publicKey), Uint8Array.of(ONION_V3_VERSION)]);
  return `${base32Encode(raw)}.onion`;
}

/** True when `host` ends in `.onion` (any case): such names must only ever be dialled through Tor. */
export function isOnionName(host: string): boolean {
  return /\.onion$/i.test(host);
}

function invalid(message: string, hint: string): TahoeError {
  return new TahoeError('OnionAddressInvalid', message, { hint });
}

/**
 * Parse `<56 chars>.onion` (the `.onion` suffix is required). Throws `OnionAddressInvalid`
 * for v2 addresses, wrong length, non-base32 characters, a wrong version byte or checksum.
 */
export function parseOnionAddress(text: string): OnionAddress {
  if (!isOnionName(text)) {
    throw invalid(`"${text}" is not an onion address (it does not end in .onion)`, 'an onion address is 56 base32 characters followed by ".onion"');
  }
  const label = text.slice(0, -'.onion'.length);
  if (text.slice(-'.onion'.length) !== '.onion' || label !== label.toLowerCase()) {
    throw invalid(`onion address "${text}" contains upper-case letters`, 'write onion addresses in lower case, as tor prints them');
  }
  if (label.includes('.')) {
    throw invalid(`"${text}" has a sub-domain in front of the onion address`, 'use the bare <56 characters>.onion address of the service');
  }
  if (label.length === 16 && /^[a-z2-7]{16}$/.test(label)) {
    throw invalid(
      `"${text}" is a version 2 onion address; v2 onion services were retired in 2021 and tor can no longer reach them`,
      'ask the operator for the service\'s v3 address (56 characters before ".onion")',
    );
  }
  if (label.length !== ONION_V3_LENGTH) {
    throw invalid(
      `onion address "${text}" has ${label.length} characters before ".onion", expected ${ONION_V3_LENGTH}`,
      'a v3 onion address is 56 base32 characters plus ".onion"; check it was copied whole',
    );
  }
  if (!isBase32(label)) {
    throw invalid(`onion address "${text}" contains characters outside base32 (a-z, 2-7)`, 'check for typos such as 0/o, 1/l or 8/b');
  }
  const raw = base32Decode(label, 'onion address');
  const publicKey = raw.subarray(0, 32);
  if (raw[34] !== ONION_V3_VERSION) {
    throw invalid(`onion address "${text}" has version byte ${raw[34]}, expected 3`, 'check the address was copied whole (its last characters encode the version)');
  }
  if (!onionChecksum(publicKey).equals(raw.subarray(32, 34))) {
    throw invalid(`onion address "${text}" has a wrong checksum: it contains a typo`, 'copy the address again from its source; one character is wrong');
  }
  return { address: text, publicKey: Buffer.from(publicKey) };
}

/** True when `text` is a valid v3 onion address. */
export function isOnionV3Address(text: string): boolean {
  try {
    parseOnionAddress(text);
    return true;
  } catch {
    return false;
  }
}
