/**
 * All 240 SSK/MDMF cases of upstream test_vectors.yaml: the caps follow from the RSA key
 * alone (writekey from the PKCS#8 DER private key, fingerprint from the SPKI DER public
 * key); data, k and N do not change them. A few small cases are also encoded and decoded
 * end to end with their own data and parameters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { vectorFile } from '../helpers/shared.js';
import { keyMaterialOf, signingKeyFromPrivateKey } from '../../src/mutable/keys.js';
import { formatMutableCap, mutableWriteCap, parseMutableCap, readCapOf, verifyCapOf, type MutableFormat } from '../../src/mutable/caps.js';
import { encodeMutableVersion } from '../../src/mutable/encoder.js';
import { decodeMutableShares } from '../../src/mutable/decoder.js';

interface Vector {
  expected: string;
  format: { kind: string; params: null | { format: string; key: string } };
  sample: { seed: string; length: number };
  zfec: { required: number; total: number; segmentSize: number };
}

function loadSskVectors(path: string): Vector[] {
  const doc = parseYaml(readFileSync(path, 'utf8'), { maxAliasCount: -1 }) as { vector: Vector[] };
  return doc.vector.filter((v) => v.format.kind === 'ssk');
}

function sampleData(v: Vector): Buffer {
  const seed = Buffer.from(v.sample.seed, 'base64');
  const out = Buffer.alloc(v.sample.length);
  for (let i = 0; i < out.length; i += seed.length) seed.copy(out, i);
  return out;
}

test('test_vectors.yaml: all 240 SDMF/MDMF caps follow from the RSA key', (t) => {
  const file = vectorFile(t, 'test_vectors.yaml');
  if (file === undefined) return;
  const vectors = loadSskVectors(file);
  assert.equal(vectors.length, 240);
  const counts = { SDMF: 0, MDMF: 0 };
  const started = performance.now();
  for (const v of vectors) {
    const params = v.format.params;
    assert.ok(params !== null);
    const format = params.format.toUpperCase() as MutableFormat;
    const key = signingKeyFromPrivateKey(params.key);
    const material = keyMaterialOf(key);
    const cap = mutableWriteCap(format, material.writekey, material.fingerprint);
    assert.equal(formatMutableCap(cap), v.expected, `${format} ${v.sample.length} bytes k=${v.zfec.required}`);
    assert.ok(cap.storageIndex.equals(material.storageIndex));
    // Parsing the expected cap gives the same keys; diminishing works both ways round.
    const parsed = parseMutableCap(v.expected);
    assert.equal(parsed.access, 'write');
    assert.equal(formatMutableCap(readCapOf(cap)), formatMutableCap(readCapOf(parsed.access === 'write' ? parsed : cap)));
    assert.equal(formatMutableCap(verifyCapOf(parsed)), formatMutableCap(verifyCapOf(cap)));
    counts[format]++;
  }
  assert.deepEqual(counts, { SDMF: 120, MDMF: 120 });
  t.diagnostic(`240 caps in ${(performance.now() - started).toFixed(0)} ms`);
});

test('test_vectors.yaml: small SDMF/MDMF cases encode and decode with their data and k/N', async (t) => {
  const file = vectorFile(t, 'test_vectors.yaml');
  if (file === undefined) return;
  // Sizes up to 131073 (two MDMF segments), every (k, N) of the grid, both formats.
  const vectors = loadSskVectors(file).filter((v) => v.sample.length <= 131073 && v.sample.length !== 131071);
  const seen = new Set<string>();
  for (const v of vectors) {
    const params = v.format.params;
    assert.ok(params !== null);
    const format = params.format.toUpperCase() as MutableFormat;
    const id = `${format}/${v.zfec.required}/${v.zfec.total}/${v.sample.length}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const key = signingKeyFromPrivateKey(params.key);
    const cap = parseMutableCap(v.expected);
    assert.ok(cap.access === 'write');
    const data = sampleData(v);
    const version = encodeMutableVersion(cap, key, data, { format, k: v.zfec.required, n: v.zfec.total, seqnum: 1 });
    assert.equal(version.shares.length, v.zfec.total);
    // Decode from the last k shares only (parity shares when k < N).
    const subset = new Map<number, Uint8Array>();
    for (let i = v.zfec.total - v.zfec.required; i < v.zfec.total; i++) subset.set(i, version.shares[i]);
    const result = await decodeMutableShares(readCapOf(cap), subset);
    assert.ok(result.plaintext.equals(data), id);
  }
  assert.ok(seen.size >= 40, `covered ${seen.size} (format, k, N, size) combinations`);
});
