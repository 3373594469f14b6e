/**
 * Spool files (src/web/spool.ts): bytes written come back identical from both kinds of
 * pass, any number of times; `transientSource()` reads every pass through one buffer;
 * failures are DiskErrors with hints; early exits close the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { SpoolFile, SPOOL_PREFIX, removeStaleSpools } from '../../src/web/spool.js';
import { isTahoeError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

async function spooled(dir: string, data: Buffer, pieces: number[]): Promise<SpoolFile> {
  const spool = await SpoolFile.create(dir);
  let offset = 0;
  for (const n of pieces) {
    await spool.write(data.subarray(offset, offset + n));
    offset += n;
  }
  await spool.write(data.subarray(offset));
  await spool.finish();
  return spool;
}

test('both passes return the spooled bytes, any number of times; transient passes reuse one buffer', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-spool-');
  for (const size of [0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * 256 * 1024 + 12_345]) {
    const data = randomBytes(size);
    const spool = await spooled(dir, data, [Math.min(size, 1000)]);
    try {
      assert.equal(spool.size, size);
      for (let pass = 0; pass < 2; pass++) {
        const kept: Buffer[] = [];
        for await (const chunk of spool.source()()) kept.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        assert.ok(Buffer.concat(kept).equals(data), `source() pass ${pass} of ${size} bytes`);

        const copies: Buffer[] = [];
        const buffers = new Set<ArrayBufferLike>();
        for await (const chunk of spool.transientSource()()) {
          buffers.add(chunk.buffer);
          copies.push(Buffer.from(chunk)); // a consumer that keeps bytes must copy them
        }
        assert.ok(Buffer.concat(copies).equals(data), `transientSource() pass ${pass} of ${size} bytes`);
        assert.ok(buffers.size <= 1, `one buffer per transient pass, saw ${buffers.size}`);
      }
    } finally {
      await spool.remove();
    }
  }
  assert.deepEqual(readdirSync(dir), [], 'every spool file was removed');
});

test('leaving a transient pass early closes the file; a vanished file is a DiskError with a hint', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-spool-');
  const data = randomBytes(2 * 256 * 1024);
  const spool = await spooled(dir, data, []);
  // Stop after the first chunk: the generator's finally closes the handle, so the file can
  // be removed and a new pass still starts from the first byte.
  for await (const chunk of spool.transientSource()()) {
    assert.ok(Buffer.from(chunk).equals(data.subarray(0, chunk.length)));
    break;
  }
  const again: Buffer[] = [];
  for await (const chunk of spool.transientSource()()) again.push(Buffer.from(chunk));
  assert.ok(Buffer.concat(again).equals(data));

  await spool.remove();
  await assert.rejects(
    async () => {
      for await (const chunk of spool.transientSource()()) void chunk;
    },
    (e: unknown) => isTahoeError(e, 'DiskError') && /spool/.test(e.message) && e.hint.length > 10,
  );
});

test('spool files are private and stale ones are swept', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-spool-');
  const spool = await spooled(dir, randomBytes(10), []);
  const name = path.basename(spool.path);
  assert.ok(name.startsWith(SPOOL_PREFIX));
  assert.equal(statSync(spool.path).mode & 0o777, 0o600, 'readable by the node only');
  assert.equal(await removeStaleSpools(dir), 1);
  assert.deepEqual(readdirSync(dir), []);
  await spool.remove();
});
