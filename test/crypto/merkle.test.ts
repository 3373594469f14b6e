import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HashTree, IncompleteHashTree, emptyLeafHash, internalNodeHash, neededHashes, nextPowerOfTwo, treeNodeCount } from '../../src/crypto/merkle.js';
import { taggedHash } from '../../src/crypto/hashes.js';
import { isTahoeError } from '../../src/errors.js';

const leaves = (m: number): Buffer[] => Array.from({ length: m }, (_, i) => taggedHash('leaf', String(i)));

test('shape: node count, padding leaves, parents', () => {
  assert.equal(nextPowerOfTwo(1), 1);
  assert.equal(nextPowerOfTwo(5), 8);
  assert.equal(treeNodeCount(1), 1);
  assert.equal(treeNodeCount(3), 7);
  assert.equal(treeNodeCount(10), 31);
  const one = new HashTree(leaves(1));
  assert.equal(one.nodes.length, 1);
  assert.deepEqual(one.root, leaves(1)[0]); // a 1-leaf tree's root is the leaf
  const t5 = new HashTree(leaves(5));
  assert.equal(t5.nodes.length, 15);
  assert.deepEqual(t5.nodes[7 + 5], emptyLeafHash(5)); // padding leaf j is the empty-leaf hash of j
  assert.deepEqual(t5.nodes[3], internalNodeHash(t5.nodes[7], t5.nodes[8]));
  assert.equal(t5.serialize().length, 15 * 32);
});

test('needed hashes: the spec examples', () => {
  assert.deepEqual(neededHashes(1, 0, true), [0]);
  assert.deepEqual(neededHashes(1, 0, false), []);
  // 1024 B, k=2, N=3 (tahoe-formats §3.11): share hash indices {2,3,4}, {2,3,4}, {1,5,6}
  assert.deepEqual(neededHashes(3, 0, true), [2, 3, 4]);
  assert.deepEqual(neededHashes(3, 1, true), [2, 3, 4]);
  assert.deepEqual(neededHashes(3, 2, true), [1, 5, 6]);
  assert.equal(neededHashes(10, 7, true).length, 5);
  assert.equal(neededHashes(256, 255, true).length, 9);
  // N=17, share 0: {2,4,8,16,31,32} (Tahoe writes them in another order; the set is what matters)
  assert.deepEqual(neededHashes(17, 0, true), [2, 4, 8, 16, 31, 32]);
});

test('incomplete tree accepts a correct chain and then the leaf', () => {
  for (const m of [1, 2, 3, 7, 8, 13]) {
    const full = new HashTree(leaves(m));
    for (let leaf = 0; leaf < m; leaf++) {
      const partial = new IncompleteHashTree(m, full.root);
      const chain = new Map(neededHashes(m, leaf, false).map((i) => [i, full.nodes[i]] as const));
      // siblings alone prove nothing: they only chain up together with the leaf
      if (chain.size > 0) assert.throws(() => partial.addHashes(chain), /not enough hashes/);
      partial.addHashes(new Map([...chain, [partial.leafNode(leaf), full.nodes[full.nodes.length - nextPowerOfTwo(m) + leaf]]]));
      assert.deepEqual(partial.getLeaf(leaf), leaves(m)[leaf]);
      assert.deepEqual(partial.missingHashes([leaf]), []);
    }
  }
});

test('incomplete tree rejects wrong leaves, wrong chain hashes and unverifiable hashes, storing nothing', () => {
  const m = 6;
  const full = new HashTree(leaves(m));
  const partial = new IncompleteHashTree(m, full.root);
  const chain = new Map(neededHashes(m, 2, true).map((i) => [i, full.nodes[i]] as const));
  // a bad chain hash
  for (const node of chain.keys()) {
    const bad = new Map(chain);
    const flipped = Buffer.from(full.nodes[node]);
    flipped[5] ^= 1;
    bad.set(node, flipped);
    assert.throws(() => partial.addHashes(bad, { kind: 'ShareCorrupt', what: 'test tree' }), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
    assert.equal(partial.has(node), false, 'nothing stored after a rejection');
  }
  // an unverifiable hash (no siblings offered)
  assert.throws(() => partial.addHashes(new Map([[9, full.nodes[9]]])), (e: unknown) => isTahoeError(e, 'IntegrityError') && /not enough hashes/.test(e.message));
  // out of range and wrong size
  assert.throws(() => partial.addHashes(new Map([[99, full.nodes[1]]])), (e: unknown) => isTahoeError(e, 'IntegrityError'));
  assert.throws(() => partial.addHashes(new Map([[1, Buffer.alloc(31)]])), (e: unknown) => isTahoeError(e, 'IntegrityError'));
  // the right chain still works; then a wrong value for the verified leaf is refused
  partial.addHashes(chain);
  assert.throws(() => partial.setLeaf(2, leaves(m)[3], { kind: 'ShareCorrupt' }), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
  partial.setLeaf(2, leaves(m)[2]);
  // a neighbouring leaf whose sibling path is now known verifies on its own
  partial.setLeaf(3, leaves(m)[3]);
  assert.throws(() => partial.setLeaf(4, leaves(m)[4]), /not enough hashes/);
  // a differing value for an already verified node is refused
  assert.throws(() => partial.addHashes(new Map([[1, full.nodes[2]]])), /differs/);
});

test('whole-tree and windowed additions verify, random corruptions never slip through', () => {
  for (const m of [5, 33, 100]) {
    const full = new HashTree(leaves(m));
    const whole = new IncompleteHashTree(m, full.root);
    whole.addHashes(new Map(full.nodes.map((h, i) => [i, h] as const).filter(([i]) => i > 0)));
    for (let j = 0; j < m; j++) assert.ok(whole.getLeaf(j)?.equals(leaves(m)[j]));
    // windows of leaves plus what they need
    const windowed = new IncompleteHashTree(m, full.root);
    for (let start = 0; start < m; start += 16) {
      const window = Array.from({ length: Math.min(16, m - start) }, (_, i) => start + i);
      const missing = windowed.missingHashes(window, true);
      windowed.addHashes(new Map(missing.map((i) => [i, full.nodes[i]] as const)));
      assert.deepEqual(windowed.missingHashes(window, true), []);
    }
    // fuzz: flip one byte of one offered node; must be refused with a TahoeError
    for (let trial = 0; trial < 200; trial++) {
      const t = new IncompleteHashTree(m, full.root);
      const leaf = trial % m;
      const needed = t.missingHashes([leaf], true);
      const offered = new Map(needed.map((i) => [i, Buffer.from(full.nodes[i])] as const));
      const victim = needed[trial % needed.length];
      (offered.get(victim) as Buffer)[trial % 32] ^= 1 << (trial % 8);
      assert.throws(() => t.addHashes(offered), (e: unknown) => isTahoeError(e, 'IntegrityError'));
    }
  }
});

test('random trees: a root from elsewhere rejects everything', () => {
  const full = new HashTree(leaves(9));
  const other = new IncompleteHashTree(9, randomBytes(32));
  const chain = new Map(neededHashes(9, 4, true).map((i) => [i, full.nodes[i]] as const));
  assert.throws(() => other.addHashes(chain), (e: unknown) => isTahoeError(e, 'IntegrityError'));
});
