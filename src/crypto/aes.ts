/**
 * AES in CTR mode as Tahoe-LAFS uses it (spec: shared/specs/tahoe-formats.md §3.3;
 * NIST SP 800-38A CTR): the counter block is the whole 16-byte block read as one
 * big-endian 128-bit integer, starting at the IV (16 zero bytes for immutable files) and
 * incremented once per 16-byte block, modulo 2^128.
 *
 * The keystream can be entered at any byte offset, which is what segment-by-segment
 * encryption and range downloads need: segment s begins at byte s·segsize, which need not
 * be 16-aligned. Encryption and decryption are the same operation.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { TahoeError } from '../errors.js';

export const AES_BLOCK_SIZE = 16;
const ZERO_IV = new Uint8Array(AES_BLOCK_SIZE);

function algorithmFor(key: Uint8Array): 'aes-128-ctr' | 'aes-192-ctr' | 'aes-256-ctr' {
  switch (key.length) {
    case 16:
      return 'aes-128-ctr';
    case 24:
      return 'aes-192-ctr';
    case 32:
      return 'aes-256-ctr';
    default:
      throw new TahoeError('BadInput', `AES key must be 16, 24 or 32 bytes, not ${key.length}`, {
        hint: 'immutable-file keys are 16 bytes (26 base32 characters in a URI:CHK: cap)',
      });
  }
}

/** The counter block for 16-byte block number `blockIndex`: (IV + blockIndex) mod 2^128. */
export function counterBlock(iv: Uint8Array, blockIndex: bigint): Buffer {
  if (iv.length !== AES_BLOCK_SIZE) throw new TahoeError('BadInput', `AES-CTR IV must be ${AES_BLOCK_SIZE} bytes, not ${iv.length}`);
  if (blockIndex < 0n) throw new TahoeError('Internal', 'negative AES-CTR block index');
  let value = BigInt('0x' + (Buffer.from(iv).toString('hex') || '0')) + blockIndex;
  value &= (1n << 128n) - 1n;
  return Buffer.from(value.toString(16).padStart(32, '0'), 'hex');
}

/**
 * A running AES-CTR transform positioned at a byte offset of the keystream. `update`
 * returns as many bytes as it is given and advances the position.
 */
export class AesCtrStream {
  private readonly cipher: Cipher;
  private positionBytes: number;

  constructor(key: Uint8Array, offset = 0, iv: Uint8Array = ZERO_IV) {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TahoeError('Internal', `bad AES-CTR offset ${offset}`);
    const block = BigInt(Math.floor(offset / AES_BLOCK_SIZE));
    this.cipher = createCipheriv(algorithmFor(key), key, counterBlock(iv, block));
    const skip = offset % AES_BLOCK_SIZE;
    if (skip > 0) this.cipher.update(Buffer.alloc(skip));
    this.positionBytes = offset;
  }

  /** Byte offset of the next keystream byte. */
  get position(): number {
    return this.positionBytes;
  }

  update(data: Uint8Array): Buffer {
    this.positionBytes += data.length;
    return this.cipher.update(data);
  }
}

/** Encrypt or decrypt `data`, which sits at byte `offset` of the stream. */
export function aesCtr(key: Uint8Array, data: Uint8Array, offset = 0, iv: Uint8Array = ZERO_IV): Buffer {
  return new AesCtrStream(key, offset, iv).update(data);
}
