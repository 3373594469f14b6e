/**
 * End-to-end cross-check with Debian's python3-zfec (the reference erasure code): the
 * blocks our encoder writes into each share are exactly zfec's encoding of the segment's
 * pieces, and zfec rebuilds the pieces from parity-only shares. (The codec room checks
 * the codec itself exhaustively; this only checks how the encoder uses it.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeChkFile } from '../../src/immutable/encoder.js';
import { bytesSource } from '../../src/immutable/source.js';
import { parseShareHeader } from '../../src/immutable/layout.js';
import { blockLength, planSegments } from '../../src/immutable/params.js';
import { aesCtr } from '../../src/crypto/aes.js';
import { ZfecOracle, zfecAvailability } from '../codec/zfec-oracle.js';
import { MemorySink } from './share-helpers.js';

test('share blocks are python3-zfec\'s encoding of the ciphertext pieces', async (t) => {
  const availability = zfecAvailability();
  if (!availability.available) {
    if (process.env.CI === 'true') assert.fail(availability.reason);
    t.skip(availability.reason);
    return;
  }
  const oracle = new ZfecOracle();
  t.after(() => oracle.close());
  for (const [k, n, size, maxSegmentSize] of [[3, 10, 20_000, 8192], [2, 3, 131_073, 131072], [7, 12, 9_999, 4096], [1, 4, 3000, 1024], [25, 40, 50_000, 16384]]) {
    const data = randomBytes(size);
    const sink = new MemorySink();
    const params = { k, n, maxSegmentSize };
    const result = await encodeChkFile({ params, size, source: bytesSource(data), sink });
    const plan = planSegments(params, size);
    const dataOffset = parseShareHeader(sink.shares.get(0) as Buffer).offsets.data;
    const ciphertext: Buffer[] = [];
    for (let s = 0; s < plan.numSegments; s++) {
      const length = blockLength(plan, s);
      const blockOf = (shnum: number): Buffer => (sink.shares.get(shnum) as Buffer).subarray(dataOffset + s * plan.blockSize, dataOffset + s * plan.blockSize + length);
      const pieces = Array.from({ length: k }, (_, j) => blockOf(j));
      const expected = await oracle.encode(k, n, pieces);
      for (let shnum = 0; shnum < n; shnum++) assert.deepEqual(Buffer.from(expected[shnum]), blockOf(shnum), `k=${k} N=${n} segment ${s} share ${shnum}`);
      if (n - k >= k) {
        const parityShares = Array.from({ length: k }, (_, i) => n - k + i);
        const rebuilt = await oracle.decode(k, n, parityShares.map(blockOf), parityShares);
        rebuilt.forEach((piece, j) => assert.deepEqual(Buffer.from(piece), pieces[j]));
      }
      ciphertext.push(Buffer.concat(pieces));
    }
    // and the pieces, trimmed of tail padding, are the file encrypted under the cap's key
    assert.ok(aesCtr(result.cap.key, Buffer.concat(ciphertext).subarray(0, size)).equals(data));
  }
});
