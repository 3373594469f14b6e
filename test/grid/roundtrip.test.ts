import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesSource } from '../../src/immutable/source.js';
import { startGrid } from './fixture.js';

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

test('smoke: upload and download through 10 real servers', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const client = await grid.client();
  const data = randomBytes(300_000);
  const result = await client.uploadImmutable(bytesSource(data), data.length);
  assert.match(result.cap, /^URI:CHK:/);
  assert.equal(result.happiness, 10);
  const handle = await client.downloadImmutable(result.cap);
  assert.deepEqual(await collect(handle.stream), data);
});
