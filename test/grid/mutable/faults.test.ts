/**
 * Mutable files against misbehaving servers: shares replaced by garbage of every size
 * (planted with the right write enabler, as a buggy or hostile writer could), shares
 * beyond N, and a server that stalls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { base32Decode } from '../../../src/crypto/base32.js';
import { isTahoeError } from '../../../src/errors.js';
import { leaseSecretsFor, writeEnablerFor } from '../../../src/crypto/lease-secrets.js';
import { parseMutableCap } from '../../../src/mutable/caps.js';
import { startGrid, type GridNode } from '../fixture.js';
import { mutableClient } from './helpers.js';

async function plant(node: GridNode, writeCap: string, shareNumber: number, bytes: Buffer): Promise<void> {
  const cap = parseMutableCap(writeCap);
  if (cap.access !== 'write') throw new Error('need a write cap');
  const lease = leaseSecretsFor(randomBytes(32), cap.storageIndex, node.tubId);
  const storage = node.storageClient();
  try {
    const response = await storage.readTestWrite(cap.storageIndex, { writeEnabler: writeEnablerFor(cap.writekey, node.tubId), renewSecret: lease.renew, cancelSecret: lease.cancel }, {
      testWriteVectors: new Map([[shareNumber, { test: [], write: bytes.length > 0 ? [{ offset: 0, data: bytes }] : [], newLength: bytes.length }]]),
      readVector: [],
    });
    assert.equal(response.success, true);
  } finally {
    await storage.close();
  }
}

test('garbage shares of every size are skipped, reported and replaced', async (t) => {
  const grid = await startGrid(t, { servers: 5 });
  const { files } = await mutableClient(t, grid);
  for (const format of ['SDMF', 'MDMF'] as const) {
    const created = await files.createMutableFile(randomBytes(2000), { format, k: 2, n: 5 });
    const si = created.storageIndex;
    // One share beyond N on server 0: left alone by writes, and no false conflict.
    await plant(grid.nodes[0], created.cap, 7, randomBytes(500));
    for (const size of [1, 40, 57, 123, 700, 3000]) {
      const holder = grid.nodes.find((n) => n.index === (size % 5)) as GridNode;
      const [victim] = await holder.listShares(si);
      const real = (await files.readMutableFile(created.cap)).data;
      // Garbage, or a real header followed by garbage.
      const garbage = size % 2 === 0 ? randomBytes(size) : Buffer.concat([Buffer.from([format === 'SDMF' ? 0 : 1]), randomBytes(size - 1)]);
      await plant(holder, created.cap, victim, garbage);
      assert.ok((await files.readMutableFile(created.readCap)).data.equals(real), `${format}: read past a ${size}-byte garbage share`);
      const map = await files.mapMutableFile(created.cap);
      assert.deepEqual(map.badShares.map((r) => r.shareNumber).sort((a, b) => a - b), [victim, 7].sort((a, b) => a - b));
      const next = randomBytes(1000 + size);
      const written = await files.overwriteMutableFile(created.cap, next);
      assert.deepEqual(written.problems, []);
      const after = await files.mapMutableFile(created.cap);
      assert.deepEqual(after.badShares.map((r) => r.shareNumber), [7], 'the garbage share was replaced');
      assert.deepEqual(after.versions.map((v) => v.shareNumbers.length), [5]);
      assert.ok((await files.readMutableFile(created.cap)).data.equals(next));
    }
    assert.ok(base32Decode(si).length === 16);
  }
});

test('a stalling server holds reads up only briefly, and writes go around it', async (t) => {
  const grid = await startGrid(t, { servers: 5 });
  const { files } = await mutableClient(t, grid);
  const created = await files.createMutableFile(Buffer.from('around the staller'), { k: 2, n: 5 });
  await grid.nodes[2].stall();
  let started = performance.now();
  assert.equal((await files.readMutableFile(created.cap)).data.toString(), 'around the staller');
  assert.ok(performance.now() - started < 4_000, `read took ${Math.round(performance.now() - started)} ms`);
  started = performance.now();
  const written = await files.overwriteMutableFile(created.cap, Buffer.from('written around it'));
  assert.equal(written.sharesPlaced, 5);
  assert.ok(written.servers <= 4);
  assert.ok(performance.now() - started < 15_000, `write took ${Math.round(performance.now() - started)} ms`);
  await grid.nodes[2].restart();
  assert.equal((await files.readMutableFile(created.cap)).data.toString(), 'written around it');
});

test('an aborted write stops with Aborted and leaves a readable file', async (t) => {
  const grid = await startGrid(t, { servers: 5 });
  const controller = { current: undefined as AbortController | undefined };
  const { files } = await mutableClient(t, grid, {
    hook: async (call) => {
      // Abort while the lead write is on its way.
      if (call.method === 'readTestWrite' && controller.current !== undefined) {
        controller.current.abort();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  });
  const created = await files.createMutableFile(Buffer.from('before'), { k: 2, n: 5 });
  controller.current = new AbortController();
  await assert.rejects(files.overwriteMutableFile(created.cap, Buffer.from('after'), { signal: controller.current.signal }), (e: unknown) => isTahoeError(e, 'Aborted'));
  await assert.rejects(files.readMutableFile(created.cap, { signal: AbortSignal.abort() }), (e: unknown) => isTahoeError(e, 'Aborted'));
  controller.current = undefined;
  assert.equal((await files.readMutableFile(created.cap)).data.toString(), 'before');
});
