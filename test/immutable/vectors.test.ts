/**
 * All 120 CHK cases of shared/tahoe-vectors/test_vectors.yaml: data from the seed recipe,
 * convergence secret from base64, max segment size 131072 → the expected cap. Each case
 * streams its data in 1 MiB chunks through a sink that only hashes what it receives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { encodeChkFile } from '../../src/immutable/encoder.js';
import { litCapString, isLiteralSize } from '../../src/immutable/lit.js';
import { vectorFile } from '../helpers/shared.js';
import { vectorData } from './share-helpers.js';
import { bytesSource } from '../../src/immutable/source.js';

interface Vector {
  convergence: string;
  expected: string;
  format: { kind: string };
  sample: { seed: string; length: number };
  zfec: { required: number; total: number; segmentSize: number };
}

test('test_vectors.yaml: all 120 CHK caps', async (t) => {
  const file = vectorFile(t, 'test_vectors.yaml');
  if (file === undefined) return;
  const doc = parseYaml(readFileSync(file, 'utf8')) as { vector: Vector[] };
  const chk = doc.vector.filter((v) => v.format.kind === 'chk');
  assert.equal(chk.length, 120);
  const sink = { async writeShare(): Promise<void> {} };
  const started = performance.now();
  for (const v of chk) {
    const data = vectorData(Buffer.from(v.sample.seed, 'base64'), v.sample.length);
    const convergenceSecret = Buffer.from(v.convergence, 'base64');
    assert.equal(convergenceSecret.length, 16);
    const params = { k: v.zfec.required, n: v.zfec.total, maxSegmentSize: v.zfec.segmentSize };
    let cap: string;
    if (isLiteralSize(data.length)) {
      cap = litCapString(data);
    } else {
      cap = (await encodeChkFile({ params, size: data.length, source: bytesSource(data, 1 << 20), sink, convergenceSecret })).capString;
    }
    assert.equal(cap, v.expected, `k=${params.k} N=${params.n} length=${data.length}`);
  }
  t.diagnostic(`120 CHK vectors in ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
