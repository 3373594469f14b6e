/**
 * The uploader's promise to its sources (GridClient.uploadImmutable): every chunk is hashed
 * or copied before the next one is asked for, so a source may hand out one buffer again
 * and again. The web gateway's spool relies on it (SpoolFile.transientSource). The source
 * here scribbles over its buffer as soon as the next chunk is requested: anything that
 * kept a chunk would upload garbage, and the download would not match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ByteSource } from '../../src/immutable/source.js';
import { collect, startGrid } from './fixture.js';

const SEGMENT = 128 * 1024; // the fixture's maxSegmentSize

/** Yields `data` through one reused buffer of `chunk` bytes, overwritten on every resume. */
function reusingSource(data: Buffer, chunk: number): ByteSource {
  return async function* () {
    const buffer = Buffer.alloc(chunk);
    for (let offset = 0; offset < data.length; offset += chunk) {
      const n = data.copy(buffer, 0, offset, Math.min(data.length, offset + chunk));
      yield buffer.subarray(0, n);
      buffer.fill(0xa5); // the consumer has asked for the next chunk: the last one is void now
    }
  };
}

test('uploads from a source that reuses one buffer for every chunk come back intact', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const client = await grid.client();
  // Chunk sizes smaller than, equal to, not dividing and larger than a segment; convergent
  // (two passes) and random keys.
  const cases: Array<{ size: number; chunk: number; randomKey: boolean }> = [
    { size: 3 * SEGMENT + 17, chunk: 4096, randomKey: false },
    { size: 2 * SEGMENT, chunk: SEGMENT, randomKey: false },
    { size: 5 * SEGMENT - 3, chunk: 100_003, randomKey: true },
    { size: 2 * SEGMENT + 1, chunk: 3 * SEGMENT, randomKey: false },
    { size: 40, chunk: 7, randomKey: false }, // LIT
  ];
  for (const { size, chunk, randomKey } of cases) {
    const data = randomBytes(size);
    const r = await client.uploadImmutable(reusingSource(data, chunk), size, { randomKey });
    const back = await collect((await client.downloadImmutable(r.cap)).stream);
    assert.ok(back.equals(data), `${size} bytes in ${chunk}-byte chunks (random key: ${randomKey}) came back intact`);
  }
});
