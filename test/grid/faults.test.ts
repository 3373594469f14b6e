/**
 * Fault tolerance with real storage servers: servers killed mid-upload, down at download,
 * a corrupted share file, a stalling server, refusals, and no servers at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { bytesSource } from '../../src/immutable/source.js';
import { planChkUpload } from '../../src/immutable/encoder.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { isTahoeError } from '../../src/errors.js';
import { collect, hookedFactory, startGrid, untilAborted, type GridNode, type TestGrid } from './fixture.js';

const SEGMENT = 128 * 1024;

async function storageIndexOf(data: Buffer, convergenceSecret: Buffer, k = 3, n = 10): Promise<string> {
  const plan = await planChkUpload({ params: { k, n, maxSegmentSize: SEGMENT }, size: data.length, source: bytesSource(data), convergenceSecret });
  return base32Encode(plan.storageIndex);
}

async function completeShares(grid: TestGrid, si: string): Promise<number> {
  return (await Promise.all(grid.nodes.map((n) => n.listShares(si)))).reduce((a, s) => a + s.length, 0);
}

function nodeOf(grid: TestGrid, peer: string): GridNode {
  const node = grid.nodes.find((n) => peer.startsWith(`${n.nickname} `));
  assert.ok(node, `no node for ${peer}`);
  return node;
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a server killed mid-upload: the upload succeeds while happiness holds', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  let writes = 0;
  const victims = new Set<GridNode>();
  const client = await grid.client({
    uploadBatchBytes: 32 * 1024,
    storageApiFactory: hookedFactory(async ({ method, peer }) => {
      if (method !== 'writeImmutable') return;
      writes++;
      // Kill two servers at different moments while PATCHes are flowing everywhere.
      if (writes === 25 || writes === 80) {
        const node = nodeOf(grid, peer);
        victims.add(node);
        await node.kill();
      }
    }),
  });
  const data = randomBytes(12 * SEGMENT);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  assert.equal(victims.size, 2);
  assert.equal(r.happiness, 8);
  assert.equal(r.sharesPlaced, 8);
  for (const v of victims) assert.deepEqual(await v.listShares(r.storageIndex as string), [], `${v.nickname} holds no complete share`);
  assert.equal(await completeShares(grid, r.storageIndex as string), 8);
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
  const statuses = client.serverStatuses();
  for (const v of victims) {
    const s = statuses.find((x) => x.serverId === v.serverId);
    assert.equal(s?.connected, false, `${v.nickname} shows as disconnected`);
    assert.ok((s?.lastError ?? '').length > 0);
  }
});

test('servers killed mid-upload below happiness: UploadUnhappy and no readable file anywhere', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const convergenceSecret = randomBytes(32);
  let writes = 0;
  const killed: GridNode[] = [];
  const client = await grid.client({
    convergenceSecret,
    uploadBatchBytes: 32 * 1024,
    storageApiFactory: hookedFactory(async ({ method, peer }) => {
      if (method !== 'writeImmutable') return;
      writes++;
      if (writes >= 30 && killed.length < 4) {
        const node = nodeOf(grid, peer);
        if (!killed.includes(node)) {
          killed.push(node);
          await node.kill();
        }
      }
    }),
  });
  const data = randomBytes(12 * SEGMENT);
  const si = await storageIndexOf(data, convergenceSecret);
  await assert.rejects(client.uploadImmutable(bytesSource(data), data.length), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'), String(e));
    assert.match(e.message, /happiness of only [0-6]\b/);
    assert.match(e.hint, /usable, at least 7 are needed/);
    return true;
  });
  assert.equal(killed.length, 4);
  assert.equal(await completeShares(grid, si), 0, 'no share was completed');
  for (const node of grid.nodes.filter((n) => n.running)) {
    await eventually(async () => (await node.listIncoming(si)).length === 0, `${node.nickname} to drop the aborted upload`);
  }
  // The killed servers come back; their half-written shares are still not readable.
  for (const node of killed) await node.restart();
  assert.equal(await completeShares(grid, si), 0);
});

test('not enough servers at the start: UploadUnhappy before any data is sent', async (t) => {
  const grid = await startGrid(t, { servers: 8 });
  let writes = 0;
  const client = await grid.client({ storageApiFactory: hookedFactory(({ method }) => void (method === 'writeImmutable' && writes++)) });
  await grid.nodes[0].kill();
  await grid.nodes[1].kill();
  const data = randomBytes(300_000);
  await assert.rejects(client.uploadImmutable(bytesSource(data), data.length), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'), String(e));
    assert.match(e.hint, /6 storage servers were usable, at least 7 are needed/);
    return true;
  });
  assert.equal(writes, 0);
});

test('download with N−k servers down, and with one more down', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const client = await grid.client();
  const data = randomBytes(5 * SEGMENT + 17);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  for (const node of grid.nodes.slice(0, 7)) await node.kill();
  const got = await collect((await client.downloadImmutable(r.cap)).stream);
  assert.ok(got.equals(data), 'any 3 of the 10 shares are enough');
  await grid.nodes[7].kill();
  await assert.rejects(async () => collect((await client.downloadImmutable(r.cap)).stream), (e: unknown) => {
    assert.ok(isTahoeError(e, 'NotEnoughShares'), String(e));
    assert.ok(e.hint.length > 10);
    return true;
  });
});

test('a corrupted share is detected, reported to its server, and another share is used', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const readers = new Set<string>();
  const uploader = await grid.client();
  const data = randomBytes(8 * SEGMENT);
  const r = await uploader.uploadImmutable(bytesSource(data), data.length);
  const si = r.storageIndex as string;
  // Which servers does a download read from? (The order is deterministic: permuted by SI.)
  const observer = await grid.client({ storageApiFactory: hookedFactory(({ method, peer }) => void (method === 'readImmutable' && readers.add(peer))) });
  assert.ok((await collect((await observer.downloadImmutable(r.cap)).stream)).equals(data));
  assert.equal(readers.size, 3, 'a clean download reads k servers');
  const victim = nodeOf(grid, [...readers][0]);
  const [shnum] = await victim.listShares(si);
  const file = await open(victim.sharePath(si, shnum), 'r+');
  try {
    const { size } = await file.stat();
    const at = Math.floor(size / 3);
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0] ^= 0x5a;
    await file.write(byte, 0, 1, at);
  } finally {
    await file.close();
  }
  readers.clear();
  // The downloader takes shares in the order servers answer; the victim answers first here,
  // so its corrupt share is among the first k taken (otherwise another set of three could
  // be chosen, the corruption never read, and nothing to assert).
  const fresh = await grid.client({
    storageApiFactory: hookedFactory(async ({ method, peer }) => {
      if (method === 'listImmutableShares' && nodeOf(grid, peer) !== victim) await new Promise((resolve) => setTimeout(resolve, 150));
      if (method === 'readImmutable') readers.add(peer);
    }),
  });
  assert.ok((await collect((await fresh.downloadImmutable(r.cap)).stream)).equals(data), 'the download still returns the right bytes');
  assert.equal(readers.size, 4, 'a fourth server replaced the corrupt share');
  await eventually(async () => (await victim.advisoryCount()) === 1, 'the corruption advisory on the victim');
  for (const node of grid.nodes) if (node !== victim) assert.equal(await node.advisoryCount(), 0);
});

test('a stalling server (accepts, never answers) is left behind at download', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const readers = new Set<string>();
  const client = await grid.client({
    timing: { readTimeoutMs: 1_500, queryTimeoutMs: 1_500, probeTimeoutMs: 1_500 },
    storageApiFactory: hookedFactory(({ method, peer }) => void (method === 'readImmutable' && readers.add(peer))),
  });
  const data = randomBytes(6 * SEGMENT);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
  const first = [...readers].map((p) => nodeOf(grid, p));
  // Two of the servers the download reads from stop answering, mid-life, on the same port.
  await first[0].stall();
  await first[1].stall();
  readers.clear();
  const started = Date.now();
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
  assert.ok(Date.now() - started < 15_000, 'moved on after the read timeout');
  assert.ok(readers.size >= 3);
});

test('a server stalling inside a read (after connecting) is timed out too', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  let stallPeer: string | undefined;
  const client = await grid.client({
    timing: { readTimeoutMs: 1_000 },
    storageApiFactory: hookedFactory(async ({ method, peer, options }) => {
      if (method !== 'readImmutable') return;
      stallPeer ??= peer;
      if (peer === stallPeer) await untilAborted(options?.signal);
    }),
  });
  const data = randomBytes(4 * SEGMENT);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
  assert.ok(stallPeer !== undefined);
});

test('refusals: read-only servers get no shares, a server refusing allocation is passed over', async (t) => {
  const grid = await startGrid(t, { servers: 10, readonly: [0, 1] });
  const convergenceSecret = randomBytes(32);
  const client = await grid.client({ convergenceSecret });
  const data = randomBytes(4 * SEGMENT);
  const si = await storageIndexOf(data, convergenceSecret);
  // Server 2 is busy with another upload of this very file (another upload secret): it
  // answers the allocation with neither "allocated" nor "already-have" for those shares.
  const direct = grid.nodes[2].storageClient();
  t.after(() => direct.close());
  const blocked = [...Array(10).keys()];
  const answer = await direct.allocateImmutable(si, { shareNumbers: blocked, allocatedSize: 1000, renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: randomBytes(32) });
  assert.deepEqual(answer.allocated, blocked);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  assert.equal(r.happiness, 7);
  assert.equal(r.sharesPlaced, 10);
  for (const i of [0, 1, 2]) assert.deepEqual(await grid.nodes[i].listShares(si), [], `server ${i} holds no share`);
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
  // With server 2 refusing too, 7 writable servers remain: happy 8 is impossible.
  const other = randomBytes(100_000);
  const otherSi = await storageIndexOf(other, convergenceSecret);
  await direct.allocateImmutable(otherSi, { shareNumbers: blocked, allocatedSize: 1000, renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: randomBytes(32) });
  const strict = await grid.client({ convergenceSecret, encoding: { k: 3, happy: 8, n: 10, maxSegmentSize: SEGMENT } });
  await assert.rejects(strict.uploadImmutable(bytesSource(other), other.length), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'), String(e));
    assert.match(e.message, /7 accepted new shares/);
    return true;
  });
  assert.equal(await completeShares(grid, otherSi), 0);
});

test('a server answering allocation with an error is marked read-only and the shares go elsewhere', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const failing = grid.nodes[5];
  const client = await grid.client({
    storageApiFactory: hookedFactory(({ method, peer }) => {
      if (method === 'allocateImmutable' && peer.startsWith(`${failing.nickname} `)) {
        throw new (class extends Error {})('simulated 507');
      }
    }),
  });
  const data = randomBytes(200_000);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  assert.equal(r.happiness, 9);
  assert.deepEqual(await failing.listShares(r.storageIndex as string), []);
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
});

test('no servers at all: clear errors with hints', async (t) => {
  const grid = await startGrid(t, { servers: 3 });
  const client = await grid.client({ encoding: { k: 1, happy: 2, n: 3, maxSegmentSize: SEGMENT } });
  const data = randomBytes(10_000);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  for (const node of grid.nodes) await node.kill();
  await assert.rejects(client.uploadImmutable(bytesSource(data), data.length, { randomKey: true }), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'), String(e));
    assert.match(e.hint, /connect to more servers|not connected|introducer/);
    return true;
  });
  await assert.rejects(async () => collect((await client.downloadImmutable(r.cap)).stream), (e: unknown) => {
    assert.ok(isTahoeError(e, 'NotEnoughShares'), String(e));
    assert.match(e.hint, /server|retry/);
    return true;
  });
  await eventually(() => client.serverStatuses().every((s) => !s.connected), 'every server to show as disconnected');
  await assert.rejects(client.uploadImmutable(bytesSource(data), data.length, { randomKey: true }), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'));
    assert.match(e.message, /only 0 storage servers are connected/);
    return true;
  });
  await assert.rejects(client.downloadImmutable(r.cap), (e: unknown) => {
    assert.ok(isTahoeError(e, 'NotEnoughShares'));
    assert.match(e.message, /no storage server is connected/);
    return true;
  });
});

test('a server that stalls at upload time is left behind (share query and PATCHes)', async (t) => {
  const grid = await startGrid(t, { servers: 11 });
  let writes = 0;
  let stalledMidUpload: GridNode | undefined;
  const client = await grid.client({
    uploadBatchBytes: 32 * 1024,
    timing: { writeTimeoutMs: 1_500, queryTimeoutMs: 20_000 },
    storageApiFactory: hookedFactory(async ({ method, peer }) => {
      if (method === 'writeImmutable' && ++writes === 40) {
        stalledMidUpload = nodeOf(grid, peer);
        await stalledMidUpload.stall();
      }
    }),
  });
  // One server stops answering before the upload: its share query would hang for 20 s.
  await grid.nodes[10].stall();
  const data = randomBytes(10 * SEGMENT);
  const started = Date.now();
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  const took = Date.now() - started;
  assert.ok(took < 15_000, `took ${took} ms: the stalled servers were not waited for`);
  assert.ok(stalledMidUpload !== undefined && stalledMidUpload !== grid.nodes[10]);
  assert.equal(r.happiness, 9, 'ten servers answered, one of them then stalled');
  await stalledMidUpload.restart();
  await grid.nodes[10].restart();
  assert.deepEqual(await stalledMidUpload.listShares(r.storageIndex as string), []);
  assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data));
});

test('cancelling: an aborted upload leaves nothing readable; an abandoned download just stops', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const convergenceSecret = randomBytes(32);
  const stop = new AbortController();
  let writes = 0;
  const client = await grid.client({
    convergenceSecret,
    uploadBatchBytes: 32 * 1024,
    storageApiFactory: hookedFactory(({ method }) => {
      if (method === 'writeImmutable' && ++writes === 30) stop.abort();
    }),
  });
  const data = randomBytes(8 * SEGMENT);
  const si = await storageIndexOf(data, convergenceSecret);
  await assert.rejects(client.uploadImmutable(bytesSource(data), data.length, { signal: stop.signal }), (e: unknown) => isTahoeError(e, 'Aborted'));
  assert.equal(await completeShares(grid, si), 0);
  for (const node of grid.nodes) await eventually(async () => (await node.listIncoming(si)).length === 0, `${node.nickname} to drop the aborted upload`);

  const r = await client.uploadImmutable(bytesSource(data), data.length);
  const down = await client.downloadImmutable(r.cap);
  let first: Uint8Array | undefined;
  for await (const chunk of down.stream) {
    first = chunk;
    break; // the consumer walks away
  }
  assert.ok(first !== undefined && Buffer.from(first).equals(data.subarray(0, first.length)));
  const cancel = new AbortController();
  const handle = await client.downloadImmutable(r.cap, { signal: cancel.signal });
  await assert.rejects(async () => {
    for await (const _chunk of handle.stream) cancel.abort();
  }, (e: unknown) => isTahoeError(e, 'Aborted'));
});
