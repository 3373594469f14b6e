import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TahoeError, isTahoeError } from '../../../src/errors.js';
import { destinationToB32, i2pBase64Decode, i2pBase64Encode, parseDestination } from '../../../src/net/i2p/address.js';
import {
  ELGAMAL_PRIME,
  elGamalPublicKeyOf,
  generateDestination,
  loadOrCreateDestinationKey,
  parsePrivateKey,
  readDestinationKeyFile,
  writeDestinationKeyFile,
} from '../../../src/net/i2p/destination.js';
import { tempDir } from '../../helpers/tmp.js';

test('the ElGamal prime is the RFC 3526 2048-bit MODP prime (as Node/OpenSSL know it)', () => {
  const fromOpenSsl = BigInt('0x' + crypto.getDiffieHellman('modp14').getPrime('hex'));
  assert.equal(ELGAMAL_PRIME, fromOpenSsl);
});

test('generateDestination: 391-byte Ed25519/ElGamal destination, 679-byte private blob, b32 of its SHA-256', () => {
  const d = generateDestination();
  assert.equal(d.destinationBase64.length, 524);
  assert.equal(d.privateKeyBase64.length, 908);
  assert.match(d.b32, /^[a-z2-7]{52}\.b32\.i2p$/);
  const blob = i2pBase64Decode(d.privateKeyBase64);
  assert.equal(blob.length, 679);
  const dest = blob.subarray(0, 391);
  assert.equal(i2pBase64Encode(dest), d.destinationBase64);
  // key certificate: type 5, length 4, sig type 7 (Ed25519), crypto type 0 (ElGamal)
  assert.deepEqual([...dest.subarray(384, 391)], [5, 0, 4, 0, 7, 0, 0]);
  const info = parseDestination(dest);
  assert.equal(info.length, 391);
  assert.equal(info.signatureType, 7);
  assert.equal(info.cryptoType, 0);

  // The ElGamal public key is 2^x mod p for the private exponent that follows the destination,
  // checked with OpenSSL's DH (independent of our BigInt code).
  const x = blob.subarray(391, 391 + 256);
  const dh = crypto.createDiffieHellman(crypto.getDiffieHellman('modp14').getPrime(), Buffer.from([2]));
  dh.setPrivateKey(x);
  dh.generateKeys();
  assert.deepEqual(dest.subarray(0, 256), dh.getPublicKey());
  assert.deepEqual(elGamalPublicKeyOf(x), dh.getPublicKey());

  // The Ed25519 public key (right-aligned in the 128-byte area) belongs to the 32-byte seed.
  const seed = blob.subarray(391 + 256);
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const priv = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const pubJwk = crypto.createPublicKey(priv).export({ format: 'jwk' });
  assert.deepEqual(dest.subarray(352, 384), Buffer.from(String(pubJwk.x), 'base64url'));
  const msg = Buffer.from('tahoe-ts');
  const sig = crypto.sign(null, msg, priv);
  assert.ok(crypto.verify(null, msg, crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: dest.subarray(352, 384).toString('base64url') }, format: 'jwk' }), sig));

  // b32 = base32(sha256(destination)), checked with an independent RFC 4648 encoder
  const hash = crypto.createHash('sha256').update(dest).digest();
  let bits = '';
  for (const byte of hash) bits += byte.toString(2).padStart(8, '0');
  let b32 = '';
  for (let i = 0; i < bits.length; i += 5) b32 += 'abcdefghijklmnopqrstuvwxyz234567'[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  assert.equal(d.b32, `${b32}.b32.i2p`);
  assert.equal(destinationToB32(dest), d.b32);

  const parsed = parsePrivateKey(d.privateKeyBase64);
  assert.equal(parsed.destinationBase64, d.destinationBase64);
  assert.equal(parsed.b32, d.b32);
});

test('generated destinations are distinct and fast enough', () => {
  const started = performance.now();
  const a = generateDestination();
  const b = generateDestination();
  const ms = (performance.now() - started) / 2;
  assert.notEqual(a.privateKeyBase64, b.privateKeyBase64);
  assert.notEqual(a.b32, b.b32);
  assert.ok(ms < 2000, `generation took ${ms} ms`);
});

test('parsePrivateKey rejects truncated, extended and offline-signed blobs without echoing key material', () => {
  const d = generateDestination();
  const blob = i2pBase64Decode(d.privateKeyBase64);
  const cases = [
    blob.subarray(0, 678),
    Buffer.concat([blob, Buffer.from([0, 0, 0])]),
    Buffer.concat([blob.subarray(0, 647), Buffer.alloc(32)]), // all-zero signing key
  ];
  for (const c of cases) {
    const s = i2pBase64Encode(c);
    assert.throws(
      () => parsePrivateKey(s),
      (e: unknown) => isTahoeError(e, 'I2pAddressInvalid') && !e.message.includes(s.slice(0, 40)) && e.hint.length > 10,
    );
  }
});

test('fuzz: destination, private-key and base64 parsers fail only with TahoeErrors', () => {
  const seedBlob = i2pBase64Decode(generateDestination().privateKeyBase64);
  const rnd = (n: number) => Math.floor(Math.random() * n);
  for (let i = 0; i < 3000; i++) {
    let input: Buffer;
    if (i % 3 === 0) input = crypto.randomBytes(rnd(800));
    else {
      input = Buffer.from(seedBlob);
      const edits = 1 + rnd(4);
      for (let k = 0; k < edits; k++) {
        const pos = rnd(input.length);
        switch (rnd(4)) {
          case 0:
            input[pos] = rnd(256);
            break;
          case 1:
            input = input.subarray(0, pos);
            break;
          case 2:
            input = Buffer.concat([input, crypto.randomBytes(rnd(20))]);
            break;
          default:
            input[384 + rnd(7)] = rnd(256);
        }
      }
    }
    const s = i2pBase64Encode(input);
    const text = i % 5 === 0 ? s.slice(0, rnd(s.length)) + String.fromCharCode(rnd(128)) + s.slice(rnd(s.length)) : s;
    for (const fn of [() => parsePrivateKey(text), () => parseDestination(input), () => i2pBase64Decode(text)]) {
      try {
        fn();
      } catch (e) {
        assert.ok(e instanceof TahoeError, `non-TahoeError: ${String(e)}`);
      }
    }
  }
});

test('key files: created 0600, never overwritten, reloaded to the same address', async (t) => {
  const dir = tempDir(t);
  const keyFile = path.join(dir, 'private', 'i2p_dest.privkey');
  const first = await loadOrCreateDestinationKey(keyFile);
  assert.equal(first.created, true);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const second = await loadOrCreateDestinationKey(keyFile);
  assert.equal(second.created, false);
  assert.equal(second.b32, first.b32);
  assert.equal(second.privateKeyBase64, first.privateKeyBase64);
  await assert.rejects(writeDestinationKeyFile(keyFile, generateDestination().privateKeyBase64), (e: unknown) => isTahoeError(e, 'DiskError') && e.details.code === 'EEXIST');
  assert.equal((await readDestinationKeyFile(keyFile))?.b32, first.b32);
  assert.equal(await readDestinationKeyFile(path.join(dir, 'missing')), undefined);
  // a trailing newline (hand-edited file) is tolerated; garbage is a clear error
  const edited = path.join(dir, 'edited.privkey');
  writeFileSync(edited, first.privateKeyBase64 + '\n');
  assert.equal((await readDestinationKeyFile(edited))?.b32, first.b32);
  const broken = path.join(dir, 'broken.privkey');
  writeFileSync(broken, 'not a key');
  await assert.rejects(readDestinationKeyFile(broken), (e: unknown) => isTahoeError(e, 'I2pAddressInvalid') && e.message.includes(broken));
});
