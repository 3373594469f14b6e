import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base32Decode, base32Encode } from '../../src/crypto/base32.js';
import { permutationSeed, permuteServerHash, permutedServers } from '../../src/grid/permute.js';
import { vectorFile } from '../helpers/shared.js';

test('permute_server_hash known answer (plain SHA-1 of SI ‖ seed)', (t) => {
  const file = vectorFile(t, 'known-answers.json');
  if (!file) return;
  const ka = JSON.parse(readFileSync(file, 'utf8')) as { hashutil: Array<{ function: string; args: Array<{ hex: string } | number>; expected_base32: string }> };
  const cases = ka.hashutil.filter((c) => c.function === 'permute_server_hash');
  assert.ok(cases.length >= 1);
  for (const c of cases) {
    const [si, seed] = c.args.map((a) => (typeof a === 'number' ? Buffer.from(String(a)) : Buffer.from(a.hex, 'hex')));
    assert.equal(base32Encode(permuteServerHash(si, seed)), c.expected_base32);
  }
});

test('permutation seed: announced value wins, then v0- key bytes, then sha256(id)', () => {
  const key = Buffer.alloc(32, 7);
  const id = `v0-${base32Encode(key)}`;
  assert.deepEqual(permutationSeed(id), key);
  const announced = base32Encode(Buffer.from(base32Encode(key), 'ascii')); // the 1.20 quirk: base32 of the ASCII
  assert.equal(announced.length, 84);
  assert.deepEqual(permutationSeed(id, announced), Buffer.from(base32Encode(key), 'ascii'));
  assert.equal(permutationSeed('some-other-id').length, 32);
  assert.throws(() => permutationSeed(id, 'NOT-BASE32'));
});

test('permuted order differs per storage index and is stable', () => {
  const servers = [...Array(8).keys()].map((i) => ({ name: `s${i}`, permutationSeed: Buffer.from([i]) }));
  const a = permutedServers(servers, base32Decode('aaaaaaaaaaaaaaaaaaaaaaaaaa')).map((s) => s.name);
  const b = permutedServers(servers, Buffer.alloc(16, 0xff)).map((s) => s.name);
  assert.deepEqual(permutedServers(servers, base32Decode('aaaaaaaaaaaaaaaaaaaaaaaaaa')).map((s) => s.name), a);
  assert.notDeepEqual(a, b);
  assert.equal(new Set(a).size, 8);
});
