import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createCipheriv } from 'node:crypto';
import { AesCtrStream, aesCtr, counterBlock } from '../../src/crypto/aes.js';
import { tahoeHmac } from '../../src/crypto/hmac.js';
import { sha256 } from '../../src/crypto/hashes.js';
import { isTahoeError } from '../../src/errors.js';

test('keystream entered at any offset equals the one-shot keystream', () => {
  const key = randomBytes(16);
  const data = randomBytes(5000);
  const whole = aesCtr(key, data);
  for (let trial = 0; trial < 200; trial++) {
    const offset = Math.floor(Math.random() * data.length);
    const end = offset + Math.floor(Math.random() * (data.length - offset));
    assert.deepEqual(aesCtr(key, data.subarray(offset, end), offset), whole.subarray(offset, end));
  }
  // a stream fed in odd-sized chunks
  const stream = new AesCtrStream(key, 7);
  const parts: Buffer[] = [];
  for (let pos = 7; pos < data.length; pos += 13) parts.push(stream.update(data.subarray(pos, Math.min(data.length, pos + 13))));
  assert.deepEqual(Buffer.concat(parts), whole.subarray(7));
  assert.equal(stream.position, data.length);
  // decrypting is encrypting
  assert.deepEqual(aesCtr(key, whole), data);
});

test('the 128-bit counter carries across 64-bit halves and wraps at 2^128', () => {
  assert.equal(counterBlock(Buffer.alloc(16), 1n).toString('hex'), '00000000000000000000000000000001');
  const lowAllOnes = Buffer.from('0000000000000000ffffffffffffffff', 'hex');
  assert.equal(counterBlock(lowAllOnes, 1n).toString('hex'), '00000000000000010000000000000000');
  assert.equal(counterBlock(Buffer.alloc(16, 0xff), 1n).toString('hex'), '00000000000000000000000000000000');
  // OpenSSL's CTR increments the full 128 bits too: entering past the carry agrees with a run across it
  const key = randomBytes(16);
  const data = randomBytes(64);
  const run = createCipheriv('aes-128-ctr', key, lowAllOnes).update(data);
  assert.deepEqual(aesCtr(key, data.subarray(32), 32, lowAllOnes), run.subarray(32));
});

test('bad keys are TahoeErrors', () => {
  assert.throws(() => aesCtr(Buffer.alloc(15), Buffer.alloc(1)), (e: unknown) => isTahoeError(e, 'BadInput'));
});

test('Tahoe hmac pads are as long as the key (not RFC 2104)', () => {
  const key = Buffer.from('tag');
  const expected = sha256(Buffer.from(key.map((b) => b ^ 0x5c)), sha256(Buffer.from(key.map((b) => b ^ 0x36)), Buffer.from('data')));
  assert.deepEqual(tahoeHmac(key, Buffer.from('data')), expected);
});
