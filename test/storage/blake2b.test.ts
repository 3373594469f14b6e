import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { blake2b } from '../../src/storage/blake2b.js';

test('BLAKE2b-512 agrees with OpenSSL for lengths around block boundaries', () => {
  for (const n of [0, 1, 3, 64, 127, 128, 129, 255, 256, 257, 1000]) {
    const data = randomBytes(n);
    assert.equal(blake2b(data, 64).toString('hex'), createHash('blake2b512').update(data).digest('hex'), `length ${n}`);
  }
});

test('BLAKE2b-256 known answers (RFC 7693 parameters; libsodium crypto_generichash)', () => {
  assert.equal(blake2b(new Uint8Array(0), 32).toString('hex'), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8');
  assert.equal(blake2b(Buffer.from('abc'), 32).toString('hex'), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
});

test('BLAKE2b-256 agrees with Python hashlib for random 32-byte secrets', () => {
  const secrets = Array.from({ length: 8 }, () => randomBytes(32));
  const script = 'import sys,hashlib\nfor h in sys.argv[1:]: print(hashlib.blake2b(bytes.fromhex(h), digest_size=32).hexdigest())';
  const out = execFileSync('/usr/bin/python3', ['-c', script, ...secrets.map((s) => s.toString('hex'))], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(secrets.map((s) => blake2b(s, 32).toString('hex')), out);
});
