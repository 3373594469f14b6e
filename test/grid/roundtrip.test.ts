/**
 * Upload/download round trips through real storage servers on 127.0.0.1 (TLS, HTTP,
 * share store on disk): LIT, segment boundaries, k=1 and k=N, byte ranges, placement,
 * convergent re-upload, leases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { bytesSource } from '../../src/immutable/source.js';
import { planSegments } from '../../src/immutable/params.js';
import { parseCap, type ChkCap } from '../../src/caps/caps.js';
import { leaseSecretsFor } from '../../src/crypto/lease-secrets.js';
import { storedSecret } from '../../src/storage/containers.js';
import { base32Decode } from '../../src/crypto/base32.js';
import { isTahoeError } from '../../src/errors.js';
import type { TransferProgress } from '../../src/grid/client.js';
import { collect, hookedFactory, startGrid, untilAborted, type ApiMethod, type TestGrid } from './fixture.js';

const SEGMENT = 128 * 1024; // the fixture's maxSegmentSize

async function sharesBySever(grid: TestGrid, si: string): Promise<number[][]> {
  return Promise.all(grid.nodes.map((n) => n.listShares(si)));
}

test('round trips on a 10-server grid (3-of-10, happy 7)', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const calls = new Map<ApiMethod, number>();
  const leaseSecret = randomBytes(32);
  const convergenceSecret = randomBytes(32);
  const client = await grid.client({
    leaseSecret,
    convergenceSecret,
    storageApiFactory: hookedFactory(({ method }) => void calls.set(method, (calls.get(method) ?? 0) + 1)),
  });
  const serverCalls = (): number => [...calls].filter(([m]) => m !== 'version').reduce((a, [, c]) => a + c, 0);

  await t.test('LIT files (0, 1, 55 bytes) need no server', async () => {
    for (const size of [0, 1, 55]) {
      const before = serverCalls();
      const data = randomBytes(size);
      const progress: TransferProgress[] = [];
      const r = await client.uploadImmutable(bytesSource(data), size, { onProgress: (p) => progress.push(p) });
      assert.match(r.cap, /^URI:LIT:/);
      assert.equal(r.size, size);
      assert.equal(r.happiness, 0);
      assert.equal(r.storageIndex, undefined);
      assert.equal(progress.at(-1)?.phase, 'done');
      const back = await client.downloadImmutable(r.cap);
      assert.equal(back.size, size);
      assert.deepEqual(await collect(back.stream), data);
      assert.equal(serverCalls(), before, 'no request reached a server');
      assert.deepEqual(await client.fileInfo(r.cap), { size, format: 'LIT' });
    }
  });

  await t.test('sizes around segment boundaries, one share per server', async () => {
    const segment = planSegments({ k: 3, n: 10, maxSegmentSize: SEGMENT }, 10 * SEGMENT).segmentSize;
    for (const size of [56, 1000, segment - 1, segment, segment + 1, 2 * segment, 3 * segment + 7]) {
      const data = randomBytes(size);
      const phases = new Set<string>();
      let last: TransferProgress | undefined;
      const r = await client.uploadImmutable(bytesSource(data, 10_000), size, {
        onProgress: (p) => {
          phases.add(p.phase);
          last = p;
          assert.ok(p.bytesDone <= p.bytesTotal);
        },
      });
      assert.deepEqual([...phases], ['hashing', 'placing', 'uploading', 'done']);
      assert.deepEqual(last, { phase: 'done', bytesDone: size, bytesTotal: size });
      const cap = parseCap(r.cap) as ChkCap;
      assert.equal(cap.type, 'CHK');
      assert.deepEqual([cap.needed, cap.total, cap.size], [3, 10, size]);
      assert.equal(r.happiness, 10);
      assert.equal(r.sharesPlaced, 10);
      assert.equal(r.servers, 10);
      const perServer = await sharesBySever(grid, r.storageIndex as string);
      assert.deepEqual(perServer.map((s) => s.length), Array(10).fill(1), 'every server holds exactly one share');
      assert.deepEqual(perServer.flat().sort((a, b) => a - b), [...Array(10).keys()]);
      const down = await client.downloadImmutable(r.cap);
      assert.equal(down.size, size);
      const got = await collect(down.stream);
      assert.equal(got.length, size);
      assert.ok(got.equals(data), `size ${size} round-trips`);
      const info = await client.fileInfo(r.cap);
      assert.equal(info.format, 'CHK');
      assert.equal(info.storageIndex, r.storageIndex);
      assert.match(info.verifyCap ?? '', /^URI:CHK-Verifier:/);
    }
  });

  await t.test('byte ranges read only the segments they cover', async () => {
    const size = 5 * SEGMENT + 333;
    const data = randomBytes(size);
    const r = await client.uploadImmutable(bytesSource(data), size);
    const segment = (parseCap(r.cap) as ChkCap) && planSegments({ k: 3, n: 10, maxSegmentSize: SEGMENT }, size).segmentSize;
    const ranges: Array<[number, number]> = [[0, 1], [segment - 1, 2], [segment, segment], [2 * segment + 5, 10], [size - 1, 1], [0, size], [1234, 0], [3 * segment - 100, 2 * segment]];
    for (const [offset, length] of ranges) {
      const before = calls.get('readImmutable') ?? 0;
      const down = await client.downloadImmutable(r.cap, { offset, length });
      assert.equal(down.size, size);
      const got = await collect(down.stream);
      assert.ok(got.equals(data.subarray(offset, offset + length)), `range ${offset}+${length}`);
      const reads = (calls.get('readImmutable') ?? 0) - before;
      if (length > 0 && length < segment) assert.ok(reads < 40, `a small range made ${reads} reads`);
    }
    for (const [offset, length] of [[-1, 1], [0, size + 1], [size, 1], [1.5, 2]]) {
      await assert.rejects(client.downloadImmutable(r.cap, { offset, length }), (e: unknown) => isTahoeError(e, 'BadInput'));
    }
  });

  await t.test('convergent re-upload reuses the shares and only renews leases', async () => {
    const data = randomBytes(3 * SEGMENT);
    const first = await client.uploadImmutable(bytesSource(data), data.length);
    const writesBefore = calls.get('writeImmutable') ?? 0;
    const second = await client.uploadImmutable(bytesSource(data), data.length);
    assert.equal(second.cap, first.cap, 'same secret, same content, same cap');
    assert.equal(calls.get('writeImmutable') ?? 0, writesBefore, 'no share bytes sent again');
    assert.equal(second.happiness, 10);
    assert.equal(second.sharesPlaced, 10);
    const random = await client.uploadImmutable(bytesSource(data), data.length, { randomKey: true });
    assert.notEqual(random.cap, first.cap);
    assert.notEqual(random.storageIndex, first.storageIndex);
    assert.ok((await collect((await client.downloadImmutable(random.cap)).stream)).equals(data));
  });

  await t.test('every share carries a lease with the secrets derived for its server', async () => {
    const data = randomBytes(70_000);
    const r = await client.uploadImmutable(bytesSource(data), data.length);
    const si = r.storageIndex as string;
    const now = Date.now() / 1000;
    for (const node of grid.nodes) {
      const [shnum] = await node.listShares(si);
      const info = await node.store.leasesOf(node.sharePath(si, shnum));
      assert.ok(info !== undefined);
      assert.equal(info.leases.length, 1);
      const expected = leaseSecretsFor(leaseSecret, base32Decode(si), node.tubId);
      const lease = info.leases[0];
      assert.ok([1, 2].some((v) => storedSecret(v, expected.renew).equals(lease.renewSecret)), 'renew secret derived from the TubID');
      assert.ok([1, 2].some((v) => storedSecret(v, expected.cancel).equals(lease.cancelSecret)), 'cancel secret derived from the TubID');
      assert.ok(lease.expirationTime > now + 30 * 86400 && lease.expirationTime < now + 32 * 86400, '31-day lease');
    }
    // Another client (another lease secret) uploading the same file adds its own lease.
    const other = await grid.client({ convergenceSecret, leaseSecret: randomBytes(32) });
    const again = await other.uploadImmutable(bytesSource(data), data.length);
    assert.equal(again.cap, r.cap);
    for (const node of grid.nodes) {
      const [shnum] = await node.listShares(si);
      const info = await node.store.leasesOf(node.sharePath(si, shnum));
      assert.equal(info?.leases.length, 2, `${node.nickname} has a second lease`);
    }
  });

  await t.test('a source that changes size fails with BadInput and leaves nothing readable', async () => {
    const data = randomBytes(200_000);
    await assert.rejects(client.uploadImmutable(bytesSource(data), data.length + 10, { randomKey: true }), (e: unknown) => isTahoeError(e, 'BadInput'));
    let hashPass = true;
    const shrinking = () => {
      const chunk = hashPass ? data : data.subarray(0, 150_000);
      hashPass = false;
      return bytesSource(chunk)();
    };
    await assert.rejects(client.uploadImmutable(shrinking, data.length), (e: unknown) => isTahoeError(e, 'BadInput'));
  });

  await t.test('bad caps and verify caps are refused with CapInvalid', async () => {
    for (const cap of ['URI:CHK:nonsense', 'hello', 'URI:SSK:aaaa:bbbb']) {
      await assert.rejects(client.downloadImmutable(cap), (e: unknown) => isTahoeError(e, 'CapInvalid'));
    }
    const r = await client.uploadImmutable(bytesSource(randomBytes(1000)), 1000);
    const info = await client.fileInfo(r.cap);
    await assert.rejects(client.downloadImmutable(info.verifyCap as string), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  });
});

test('k=1 (1-of-3) and k=N (3-of-3)', async (t) => {
  const grid = await startGrid(t, { servers: 3 });
  for (const encoding of [{ k: 1, happy: 1, n: 3 }, { k: 3, happy: 3, n: 3 }, { k: 1, happy: 1, n: 1 }]) {
    const client = await grid.client({ encoding: { ...encoding, maxSegmentSize: 64 * 1024 } });
    for (const size of [56, 64 * 1024 + 1, 300_001]) {
      const data = randomBytes(size);
      const r = await client.uploadImmutable(bytesSource(data), size);
      const cap = parseCap(r.cap) as ChkCap;
      assert.deepEqual([cap.needed, cap.total], [encoding.k, encoding.n]);
      assert.equal(r.happiness, encoding.n);
      assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data), `${encoding.k}-of-${encoding.n}, ${size} bytes`);
    }
  }
});

test('fewer servers than N: shares spread, happiness = number of servers', async (t) => {
  const grid = await startGrid(t, { servers: 4 });
  const client = await grid.client({ encoding: { k: 3, happy: 4, n: 10, maxSegmentSize: SEGMENT } });
  const data = randomBytes(400_000);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  assert.equal(r.happiness, 4);
  assert.equal(r.sharesPlaced, 10);
  assert.equal(r.servers, 4);
  const perServer = await sharesBySever(grid, r.storageIndex as string);
  assert.deepEqual(perServer.map((s) => s.length).sort(), [2, 2, 3, 3]);
  assert.deepEqual(perServer.flat().sort((a, b) => a - b), [...Array(10).keys()]);
  const got = await collect((await client.downloadImmutable(r.cap)).stream);
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
  // happy 5 cannot be met by 4 servers
  const strict = await grid.client({ encoding: { k: 3, happy: 5, n: 10, maxSegmentSize: SEGMENT } });
  await assert.rejects(strict.uploadImmutable(bytesSource(data), data.length, { randomKey: true }), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'));
    assert.match(e.hint, /4 .*connected|at least 5/);
    return true;
  });
});

test('any PATCH batch size works (batches smaller, equal to and larger than blocks and shares)', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const blockSize = planSegments({ k: 3, n: 10, maxSegmentSize: SEGMENT }, 10 * SEGMENT).blockSize;
  const data = randomBytes(7 * SEGMENT + 1234);
  for (const batch of [1000, blockSize - 1, blockSize, blockSize + 9, 2 * blockSize + 1, 10_000_000]) {
    const client = await grid.client({ uploadBatchBytes: batch });
    const r = await client.uploadImmutable(bytesSource(data), data.length, { randomKey: true });
    assert.equal(r.happiness, 10, `batch ${batch}`);
    assert.ok((await collect((await client.downloadImmutable(r.cap)).stream)).equals(data), `batch ${batch}`);
  }
});

test('download fetches from k servers in parallel: k reads on k different servers are in flight together before any is answered', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const uploader = await grid.client();
  const data = randomBytes(4 * SEGMENT + 99);
  const r = await uploader.uploadImmutable(bytesSource(data), data.length);
  const k = (parseCap(r.cap) as ChkCap).needed;
  assert.equal(k, 3);
  // Every share read is held. A batch of held reads is released when reads on k different
  // servers are waiting, or when no new read has arrived for QUIET_MS (the downloader is
  // waiting for a held read: a phase that reads one share at a time, like the UEB).
  const QUIET_MS = 250;
  let held: Array<{ peer: string; release: () => void }> = [];
  const batches: Array<{ reads: number; servers: number; by: 'k servers' | 'quiet' }> = [];
  let quiet: NodeJS.Timeout | undefined;
  const releaseHeld = (by: 'k servers' | 'quiet'): void => {
    clearTimeout(quiet);
    const batch = held;
    held = [];
    batches.push({ reads: batch.length, servers: new Set(batch.map((h) => h.peer)).size, by });
    for (const h of batch) h.release();
  };
  t.after(() => clearTimeout(quiet));
  const downloader = await grid.client({
    storageApiFactory: hookedFactory(async ({ method, peer, options }) => {
      if (method !== 'readImmutable') return;
      const released = new Promise<void>((resolve) => held.push({ peer, release: resolve }));
      if (new Set(held.map((h) => h.peer)).size >= k) releaseHeld('k servers');
      else {
        clearTimeout(quiet);
        quiet = setTimeout(() => releaseHeld('quiet'), QUIET_MS);
      }
      await Promise.race([released, untilAborted(options?.signal)]);
    }),
  });
  const got = await collect((await downloader.downloadImmutable(r.cap)).stream);
  assert.ok(got.equals(data), 'the download is correct');
  const parallel = batches.filter((b) => b.by === 'k servers');
  const pattern = JSON.stringify(batches);
  assert.ok(parallel.length >= 1, `no moment with reads on ${k} servers in flight at once: ${pattern}`);
  for (const b of parallel) assert.ok(b.reads >= k && b.servers >= k, pattern);
  // Each of the 5 segments needs blocks from k servers; fetched in parallel, each gives such a moment.
  assert.ok(parallel.length >= 5, `only ${parallel.length} parallel moments for 5 segments: ${pattern}`);
});
