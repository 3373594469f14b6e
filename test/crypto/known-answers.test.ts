/**
 * Every entry of shared/tahoe-vectors/known-answers.json, reproduced with our own
 * functions (each hashutil function name maps to exactly one of ours).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base32Decode, base32Encode } from '../../src/crypto/base32.js';
import { taggedHash, taggedPairHash } from '../../src/crypto/hashes.js';
import * as derive from '../../src/crypto/derive.js';
import * as lease from '../../src/crypto/lease-secrets.js';
import { tahoeHmac } from '../../src/crypto/hmac.js';
import { aesCtr, AesCtrStream } from '../../src/crypto/aes.js';
import { HashTree } from '../../src/crypto/merkle.js';
import { convergenceHash, convergenceTag } from '../../src/immutable/convergence.js';
import { packUriExtensionFields } from '../../src/immutable/ueb.js';
import { permuteServerHash } from '../../src/grid/permute.js';
import { vectorFile } from '../helpers/shared.js';

type Arg = { hex: string } | number;
interface KnownAnswers {
  hashutil: Array<{ function: string; args: Arg[]; expected_base32: string }>;
  convergence_hasher_tag: { k: number; n: number; segsize: number; convergence_hex: string; tag_hex: string };
  hashtree_3_leaves: { nodes_base32_breadth_first: string[] };
  lease_renewal_secret: { cases: Array<{ lease_secret_b32: string; storage_index_b32: string; tubid_b32: string; expected_renewal_secret_b32: string }> };
  aes_ctr: { cases: Array<{ key_hex: string; iv_hex: string; plaintext_hex: string; ciphertext_hex: string }> };
  uri_extension_pack_example: { input: Record<string, string | number>; packed: string };
}

function load(t: Parameters<typeof vectorFile>[0]): KnownAnswers | undefined {
  const file = vectorFile(t, 'known-answers.json');
  return file === undefined ? undefined : (JSON.parse(readFileSync(file, 'utf8')) as KnownAnswers);
}

const bytes = (a: Arg): Buffer => (typeof a === 'number' ? Buffer.from(String(a)) : Buffer.from(a.hex, 'hex'));
const num = (a: Arg): number => {
  assert.equal(typeof a, 'number');
  return a as number;
};

/** hashutil function name → our implementation. */
const FUNCTIONS: Record<string, (args: Arg[]) => Buffer> = {
  tagged_hash: (a) => taggedHash(bytes(a[0]), bytes(a[1]), a.length > 2 ? num(a[2]) : 32),
  tagged_pair_hash: (a) => taggedPairHash(bytes(a[0]), bytes(a[1]), bytes(a[2]), a.length > 3 ? num(a[3]) : 32),
  storage_index_hash: (a) => derive.storageIndexHash(bytes(a[0])),
  block_hash: (a) => derive.blockHash(bytes(a[0])),
  uri_extension_hash: (a) => derive.uriExtensionHash(bytes(a[0])),
  plaintext_hash: (a) => derive.plaintextHash(bytes(a[0])),
  crypttext_hash: (a) => derive.crypttextHash(bytes(a[0])),
  crypttext_segment_hash: (a) => derive.crypttextSegmentHash(bytes(a[0])),
  plaintext_segment_hash: (a) => derive.plaintextSegmentHash(bytes(a[0])),
  convergence_hash: (a) => convergenceHash(num(a[0]), num(a[1]), num(a[2]), bytes(a[3]), bytes(a[4])),
  my_renewal_secret_hash: (a) => lease.clientRenewalSecret(bytes(a[0])),
  my_cancel_secret_hash: (a) => lease.clientCancelSecret(bytes(a[0])),
  file_renewal_secret_hash: (a) => lease.fileRenewalSecret(bytes(a[0]), bytes(a[1])),
  file_cancel_secret_hash: (a) => lease.fileCancelSecret(bytes(a[0]), bytes(a[1])),
  bucket_renewal_secret_hash: (a) => lease.bucketRenewalSecret(bytes(a[0]), bytes(a[1])),
  bucket_cancel_secret_hash: (a) => lease.bucketCancelSecret(bytes(a[0]), bytes(a[1])),
  hmac: (a) => tahoeHmac(bytes(a[0]), bytes(a[1])),
  mutable_rwcap_key_hash: (a) => derive.dirnodeChildCapKey(bytes(a[0]), bytes(a[1])),
  ssk_writekey_hash: (a) => derive.sskWritekey(bytes(a[0])),
  ssk_write_enabler_master_hash: (a) => lease.writeEnablerMaster(bytes(a[0])),
  ssk_write_enabler_hash: (a) => lease.writeEnablerFor(bytes(a[0]), bytes(a[1])),
  ssk_pubkey_fingerprint_hash: (a) => derive.sskPubkeyFingerprint(bytes(a[0])),
  ssk_readkey_hash: (a) => derive.sskReadkey(bytes(a[0])),
  ssk_readkey_data_hash: (a) => derive.sskDataKey(bytes(a[0]), bytes(a[1])),
  ssk_storage_index_hash: (a) => derive.sskStorageIndex(bytes(a[0])),
  permute_server_hash: (a) => permuteServerHash(bytes(a[0]), bytes(a[1])),
};

test('hashutil: all 32 known answers', (t) => {
  const ka = load(t);
  if (ka === undefined) return;
  assert.equal(ka.hashutil.length, 32);
  const seen = new Set<string>();
  for (const c of ka.hashutil) {
    const fn = FUNCTIONS[c.function];
    assert.ok(fn !== undefined, `no implementation mapped for ${c.function}`);
    assert.equal(base32Encode(fn(c.args)), c.expected_base32, `${c.function}(${JSON.stringify(c.args)})`);
    seen.add(c.function);
  }
  // every mapped function was exercised by at least one vector
  assert.deepEqual([...seen].sort(), Object.keys(FUNCTIONS).sort());
});

test('convergence hasher tag bytes', (t) => {
  const ka = load(t);
  if (ka === undefined) return;
  const c = ka.convergence_hasher_tag;
  assert.equal(convergenceTag(Buffer.from(c.convergence_hex, 'hex'), c.k, c.n, c.segsize).toString('hex'), c.tag_hex);
});

test('3-leaf Merkle tree, breadth-first nodes', (t) => {
  const ka = load(t);
  if (ka === undefined) return;
  const tree = new HashTree([0, 1, 2].map((i) => taggedHash('tag', String(i))));
  assert.deepEqual(tree.nodes.map((n) => base32Encode(n)), ka.hashtree_3_leaves.nodes_base32_breadth_first);
});

test('lease renewal secrets (derive_renewal_secret.py cases)', (t) => {
  const ka = load(t);
  if (ka === undefined) return;
  assert.equal(ka.lease_renewal_secret.cases.length, 4);
  for (const c of ka.lease_renewal_secret.cases) {
    const secrets = lease.leaseSecretsFor(base32Decode(c.lease_secret_b32), base32Decode(c.storage_index_b32), base32Decode(c.tubid_b32));
    assert.equal(base32Encode(secrets.renew), c.expected_renewal_secret_b32);
    assert.notDeepEqual(secrets.cancel, secrets.renew);
  }
});

test('AES-CTR known answers, including AES-256 and a non-zero IV', (t) => {
  const ka = load(t);
  if (ka === undefined) return;
  assert.equal(ka.aes_ctr.cases.length, 6);
  assert.ok(ka.aes_ctr.cases.some((c) => c.key_hex.length === 64), 'an AES-256 case is present');
  for (const c of ka.aes_ctr.cases) {
    const key = Buffer.from(c.key_hex, 'hex');
    const iv = Buffer.from(c.iv_hex, 'hex');
    const plaintext = Buffer.from(c.plaintext_hex, 'hex');
    assert.equal(aesCtr(key, plaintext, 0, iv).toString('hex'), c.ciphertext_hex);
    // entering the keystream mid-way gives the same bytes as the one-shot run
    for (const offset of [1, 15, 16, 17, 33].filter((o) => o < plaintext.length)) {
      const tail = new AesCtrStream(key, offset, iv).update(plaintext.subarray(offset));
      assert.equal(tail.toString('hex'), c.ciphertext_hex.slice(offset * 2));
    }
  }
});

test('UEB packing example', (t) => {
  const ka = load(t);
  if (ka === undefined) return;
  const ex = ka.uri_extension_pack_example;
  assert.equal(packUriExtensionFields(ex.input).toString('latin1'), ex.packed);
});
