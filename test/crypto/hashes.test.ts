import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base32Decode, base32Encode, isBase32 } from '../../src/crypto/base32.js';
import { netstring, splitNetstrings } from '../../src/crypto/netstring.js';
import { TaggedHasher, taggedHash, taggedPairHash } from '../../src/crypto/hashes.js';
import { vectorFile } from '../helpers/shared.js';

test('base32 round trip and canonical checks', () => {
  for (let n = 0; n < 70; n++) {
    const data = Buffer.alloc(n, n * 7 + 1);
    const s = base32Encode(data);
    assert.ok(isBase32(s));
    assert.deepEqual(base32Decode(s), data);
  }
  assert.equal(base32Encode(Buffer.alloc(16)).length, 26);
  assert.equal(base32Encode(Buffer.alloc(32)).length, 52);
  assert.ok(!isBase32('ab'.toUpperCase()));
  assert.ok(!isBase32('ab')); // 'b' has non-zero unused bits for a 1-byte value
  assert.ok(isBase32('aa'));
  assert.ok(!isBase32('a')); // length mod 8 == 1 is impossible
  assert.throws(() => base32Decode('a1'), /base32/);
});

test('netstrings', () => {
  assert.equal(netstring('crs').toString(), '3:crs,');
  assert.equal(netstring('').toString(), '0:,');
  const joined = Buffer.concat([netstring('a'), netstring('bc')]);
  assert.deepEqual(splitNetstrings(joined, 2).items.map(String), ['a', 'bc']);
  assert.throws(() => splitNetstrings(Buffer.from('3:ab,'), 1));
  assert.throws(() => splitNetstrings(Buffer.from('03:abc,'), 1));
});

test('tagged hash known answer from the spec', () => {
  assert.equal(base32Encode(taggedHash('tag', 'hello world')), 'yra322btzoqjp4ts2jon5dztgnilcdg6jgztgk7joi6qpjkitg2q');
  const streamed = new TaggedHasher('tag').update(Buffer.from('hello ')).update(Buffer.from('world')).digest();
  assert.deepEqual(streamed, taggedHash('tag', 'hello world'));
});

test('known-answers.json: tagged_hash and tagged_pair_hash entries', (t) => {
  const file = vectorFile(t, 'known-answers.json');
  if (!file) return;
  const ka = JSON.parse(readFileSync(file, 'utf8')) as { hashutil: Array<{ function: string; args: Array<{ hex: string } | number>; expected_base32: string }> };
  const bytes = (a: { hex: string } | number) => (typeof a === 'number' ? Buffer.from(String(a)) : Buffer.from(a.hex, 'hex'));
  let checked = 0;
  for (const c of ka.hashutil) {
    if (c.function === 'tagged_hash') {
      const trunc = c.args.length > 2 && typeof c.args[2] === 'number' ? c.args[2] : 32;
      assert.equal(base32Encode(taggedHash(bytes(c.args[0]), bytes(c.args[1]), trunc)), c.expected_base32);
      checked++;
    } else if (c.function === 'tagged_pair_hash') {
      const trunc = c.args.length > 3 && typeof c.args[3] === 'number' ? c.args[3] : 32;
      assert.equal(base32Encode(taggedPairHash(bytes(c.args[0]), bytes(c.args[1]), bytes(c.args[2]), trunc)), c.expected_base32);
      checked++;
    }
  }
  assert.ok(checked >= 2, `checked ${checked}`);
});
