/**
 * Mutable files through real storage servers on 127.0.0.1 (TLS, HTTP, share store on
 * disk): create, read, ranges, overwrite, MDMF in-place updates, servers down, corrupt
 * shares, write-enabler mismatch, leases, read-only caps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isTahoeError } from '../../../src/errors.js';
import { base32Decode } from '../../../src/crypto/base32.js';
import { leaseSecretsFor } from '../../../src/crypto/lease-secrets.js';
import { MUTABLE_DATA_OFFSET, storedSecret } from '../../../src/storage/containers.js';
import { parseMutableHeader, MDMF_SHARE_DATA_OFFSET } from '../../../src/mutable/layout.js';
import { parseMutableCap } from '../../../src/mutable/caps.js';
import { startGrid, type TestGrid } from '../fixture.js';
import { mutableClient, type StorageCall } from './helpers.js';

const SEGMENT = 131072;

async function sharesOnDisk(grid: TestGrid, si: string): Promise<number[][]> {
  return Promise.all(grid.nodes.map((n) => n.listShares(si)));
}

/** The share bytes inside a mutable container file. */
async function shareBytes(grid: TestGrid, node: number, si: string, shnum: number): Promise<Buffer> {
  const file = await readFile(grid.nodes[node].sharePath(si, shnum));
  return file.subarray(MUTABLE_DATA_OFFSET, MUTABLE_DATA_OFFSET + Number(file.readBigUInt64BE(84)));
}

async function flipShareByte(grid: TestGrid, node: number, si: string, shnum: number, shareOffset: number): Promise<void> {
  const path = grid.nodes[node].sharePath(si, shnum);
  const file = await readFile(path);
  file[MUTABLE_DATA_OFFSET + shareOffset] ^= 0x5a;
  await writeFile(path, file);
}

/** Which node holds share `shnum` of `si`. */
async function holderOf(grid: TestGrid, si: string, shnum: number): Promise<number> {
  const all = await sharesOnDisk(grid, si);
  const i = all.findIndex((s) => s.includes(shnum));
  assert.ok(i >= 0, `share ${shnum} is somewhere`);
  return i;
}

test('mutable files on a 10-server grid (3-of-10)', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const calls: StorageCall[] = [];
  const client = await mutableClient(t, grid, { hook: (c) => void calls.push(c) });
  const { files } = client;
  const bytesRead = (from: number): number => calls.slice(from).filter((c) => c.method === 'readMutable').reduce((a, c) => a + (c.args[3] as number), 0);

  await t.test('SDMF: create, read, caps, placement, leases', async () => {
    const data = Buffer.from('hello, mutable world\n'.repeat(50));
    const created = await files.createMutableFile(data);
    assert.match(created.cap, /^URI:SSK:[a-z2-7]{26}:[a-z2-7]{52}$/);
    assert.match(created.readCap, /^URI:SSK-RO:/);
    assert.match(created.verifyCap, /^URI:SSK-Verifier:/);
    assert.deepEqual([created.seqnum, created.size, created.format, created.sharesPlaced, created.servers], [1, data.length, 'SDMF', 10, 10]);
    assert.deepEqual(created.problems, []);
    const onDisk = await sharesOnDisk(grid, created.storageIndex);
    assert.deepEqual(onDisk.map((s) => s.length), Array(10).fill(1), 'one share per server');
    assert.deepEqual(onDisk.flat().sort((a, b) => a - b), [...Array(10).keys()]);

    const read = await files.readMutableFile(created.cap);
    assert.ok(read.data.equals(data));
    assert.deepEqual([read.size, read.seqnum, read.format, read.k, read.n, read.sharesFound, read.versions], [data.length, 1, 'SDMF', 3, 10, 10, 1]);
    assert.ok((await files.readMutableFile(created.readCap)).data.equals(data), 'the read cap reads');
    assert.ok((await files.readMutableFile(created.cap, { offset: 7, length: 14 })).data.equals(data.subarray(7, 21)));
    await assert.rejects(files.readMutableFile(created.cap, { offset: data.length, length: 1 }), (e: unknown) => isTahoeError(e, 'BadInput'));
    await assert.rejects(files.readMutableFile(created.verifyCap), (e: unknown) => isTahoeError(e, 'CapInvalid') && /verify cap/.test(e.message));
    assert.deepEqual(files.mutableFileInfo(created.cap), {
      format: 'SDMF', access: 'write', storageIndex: created.storageIndex, writeCap: created.cap, readCap: created.readCap, verifyCap: created.verifyCap,
    });

    // Every share carries one lease, made from our lease secret and the server's TubID.
    for (const node of grid.nodes) {
      const [shnum] = await node.listShares(created.storageIndex);
      const leases = await node.store.leasesOf(node.sharePath(created.storageIndex, shnum));
      assert.equal(leases?.leases.length, 1);
      const expected = leaseSecretsFor(client.leaseSecret, base32Decode(created.storageIndex), node.tubId);
      assert.ok(leases?.leases[0].renewSecret.equals(storedSecret(2, expected.renew)));
    }

    // Overwrite: seqnum 2 everywhere, still one (renewed) lease per share.
    const next = Buffer.from('shorter now');
    const written = await files.overwriteMutableFile(created.cap, next);
    assert.deepEqual([written.seqnum, written.size, written.sharesPlaced, written.servers], [2, next.length, 10, 10]);
    const again = await files.readMutableFile(created.readCap);
    assert.ok(again.data.equals(next));
    assert.equal(again.seqnum, 2);
    const map = await files.mapMutableFile(created.cap);
    assert.equal(map.versions.length, 1, 'no old version left behind');
    assert.deepEqual(map.versions[0].shareNumbers, [...Array(10).keys()]);
    for (const node of grid.nodes) {
      const [shnum] = await node.listShares(created.storageIndex);
      const share = await shareBytes(grid, node.index, created.storageIndex, shnum);
      assert.equal(parseMutableHeader(share).seqnum, 2);
      assert.equal(share.length, parseMutableHeader(share).regions.eof, 'the old, longer share was truncated');
      assert.equal((await node.store.leasesOf(node.sharePath(created.storageIndex, shnum)))?.leases.length, 1);
    }
  });

  await t.test('empty files, both formats', async () => {
    for (const format of ['SDMF', 'MDMF'] as const) {
      const created = await files.createMutableFile(Buffer.alloc(0), { format });
      const read = await files.readMutableFile(created.cap);
      assert.equal(read.data.length, 0);
      assert.equal(read.format, format);
      await files.overwriteMutableFile(created.cap, Buffer.from('now there is something'));
      assert.equal((await files.readMutableFile(created.cap)).data.toString(), 'now there is something');
    }
  });

  await t.test('read-only and verify caps refuse writes', async () => {
    const created = await files.createMutableFile(Buffer.from('read me, do not write me'));
    for (const cap of [created.readCap, created.verifyCap]) {
      await assert.rejects(files.overwriteMutableFile(cap, Buffer.from('x')), (e: unknown) => isTahoeError(e, 'CapInvalid') && /write cap/.test(e.hint));
      await assert.rejects(files.updateMutableFile(cap, 0, Buffer.from('x')), (e: unknown) => isTahoeError(e, 'CapInvalid'));
      await assert.rejects(files.modifyMutableFile(cap, () => Buffer.from('x')), (e: unknown) => isTahoeError(e, 'CapInvalid'));
    }
    await assert.rejects(files.readMutableFile('URI:SSK:short'), (e: unknown) => isTahoeError(e, 'CapInvalid'));
    assert.equal((await files.readMutableFile(created.cap)).data.toString(), 'read me, do not write me');
  });

  await t.test('MDMF: many segments, ranges read only their segments, in-place updates', async () => {
    const data = randomBytes(3 * SEGMENT + 1000);
    const created = await files.createMutableFile(data, { format: 'MDMF' });
    assert.match(created.cap, /^URI:MDMF:/);
    const stat = await files.statMutableFile(created.readCap);
    assert.deepEqual([stat.size, stat.format, stat.segmentSize], [data.length, 'MDMF', 131073]);
    assert.ok((await files.readMutableFile(created.cap)).data.equals(data));

    // A range inside segment 2: one block per share read, not the whole file.
    const before = calls.length;
    const range = await files.readMutableFile(created.readCap, { offset: 2 * SEGMENT + 10, length: 5000 });
    assert.ok(range.data.equals(data.subarray(2 * SEGMENT + 10, 2 * SEGMENT + 5010)));
    const shareSize = (await shareBytes(grid, 0, created.storageIndex, (await grid.nodes[0].listShares(created.storageIndex))[0])).length;
    assert.ok(bytesRead(before) < 10 * MDMF_SHARE_DATA_OFFSET + 3 * 2 * 45_000, `read ${bytesRead(before)} bytes for a 5000-byte range (a share is ${shareSize})`);

    // In place: 10 bytes across the boundary of segments 1 and 2.
    const writesBefore = calls.length;
    const patch = Buffer.from('0123456789');
    const updated = await files.updateMutableFile(created.cap, 2 * SEGMENT - 5, patch);
    assert.equal(updated.inPlace, true);
    assert.deepEqual([updated.seqnum, updated.size, updated.sharesPlaced], [2, data.length, 10]);
    const sent = calls.slice(writesBefore).filter((c) => c.method === 'readTestWrite');
    const sentBytes = sent.reduce((a, c) => {
      const request = c.args[2] as { testWriteVectors: Map<number, { write: Array<{ data: Uint8Array }> }> };
      return a + [...request.testWriteVectors.values()].reduce((b, v) => b + v.write.reduce((x, w) => x + w.data.length, 0), 0);
    }, 0);
    assert.ok(sentBytes < 10 * (2 * 45_000), `sent ${sentBytes} bytes for two segments of 10 shares`);
    assert.ok(sentBytes > 10 * 2 * 43_000, 'two blocks per share were sent');
    const expected = Buffer.from(data);
    patch.copy(expected, 2 * SEGMENT - 5);
    assert.ok((await files.readMutableFile(created.cap)).data.equals(expected));

    // Appending in place grows the file.
    const tail = randomBytes(SEGMENT);
    const appended = await files.updateMutableFile(created.cap, expected.length, tail);
    assert.equal(appended.inPlace, true);
    assert.equal(appended.size, expected.length + SEGMENT);
    const grown = Buffer.concat([expected, tail]);
    const back = await files.readMutableFile(created.cap);
    assert.ok(back.data.equals(grown));
    assert.equal(back.seqnum, 3);
    assert.ok((await files.readMutableFile(created.cap, { offset: grown.length - 100 })).data.equals(grown.subarray(-100)));
    await assert.rejects(files.updateMutableFile(created.cap, grown.length + 1, Buffer.from('x')), (e: unknown) => isTahoeError(e, 'BadInput'));

    // SDMF cannot be patched in place: the whole file is published again.
    const small = await files.createMutableFile(Buffer.from('abcdefgh'));
    const patched = await files.updateMutableFile(small.cap, 2, Buffer.from('XY'));
    assert.equal(patched.inPlace, false);
    assert.equal((await files.readMutableFile(small.cap)).data.toString(), 'abXYefgh');
  });

  await t.test('corrupt shares: reads use others and advise the servers; a write replaces them', async () => {
    const data = randomBytes(4000);
    const created = await files.createMutableFile(data);
    const si = created.storageIndex;
    // A flipped block byte (found when reading), and a damaged signature (found when mapping).
    const blockHolder = await holderOf(grid, si, 0);
    const share0 = await shareBytes(grid, blockHolder, si, 0);
    await flipShareByte(grid, blockHolder, si, 0, parseMutableHeader(share0).regions.shareData.start + 5);
    const sigHolder = await holderOf(grid, si, 1);
    const share1 = await shareBytes(grid, sigHolder, si, 1);
    await flipShareByte(grid, sigHolder, si, 1, parseMutableHeader(share1).regions.signature.start + 3);
    const advisoriesBefore = await Promise.all(grid.nodes.map((n) => n.advisoryCount()));

    const read = await files.readMutableFile(created.cap);
    assert.ok(read.data.equals(data), 'the data survives two bad shares');
    const map = await files.mapMutableFile(created.cap);
    assert.deepEqual(map.badShares.map((r) => r.shareNumber), [1]);
    await waitFor(async () => (await grid.nodes[sigHolder].advisoryCount()) > advisoriesBefore[sigHolder] && (await grid.nodes[blockHolder].advisoryCount()) > advisoriesBefore[blockHolder]);

    const next = randomBytes(3000);
    await files.overwriteMutableFile(created.cap, next);
    const after = await files.mapMutableFile(created.cap);
    assert.equal(after.badShares.length, 0, 'the bad share was replaced');
    assert.deepEqual(after.versions.map((v) => v.shareNumbers.length), [10]);
    assert.ok((await files.readMutableFile(created.cap)).data.equals(next));
  });

  await t.test('a write enabler the server does not know: reported, the shares placed elsewhere', async () => {
    const created = await files.createMutableFile(Buffer.from('first'));
    const si = created.storageIndex;
    const holder = await holderOf(grid, si, 4);
    // As if the server had been set up again with a new TLS certificate (a new TubID).
    const path = grid.nodes[holder].sharePath(si, 4);
    const file = await readFile(path);
    randomBytes(32).copy(file, 52);
    await writeFile(path, file);
    const written = await files.overwriteMutableFile(created.cap, Buffer.from('second'));
    assert.equal(written.problems.length, 1);
    const [problem] = written.problems;
    assert.equal(problem.server, `server-${holder} (${grid.nodes[holder].serverId.slice(0, 10)})`);
    assert.ok(isTahoeError(problem.error, 'ServerRejected'));
    assert.equal(problem.error.details.writeEnabler, 'mismatch');
    assert.match(problem.error.hint, /TubID/);
    assert.equal(written.sharesPlaced, 10, 'share 4 went to another server');
    assert.equal((await files.readMutableFile(created.cap)).data.toString(), 'second');
  });

  await t.test('a file made with its own key pair (known caps) and other encodings', async () => {
    const created = await files.createMutableFile(Buffer.from('k=1'), { k: 1, n: 4 });
    const read = await files.readMutableFile(created.cap);
    assert.deepEqual([read.k, read.n, read.data.toString()], [1, 4, 'k=1']);
    const overwritten = await files.overwriteMutableFile(created.cap, Buffer.from('still 1-of-4'));
    assert.equal(overwritten.sharesPlaced, 4, 'an overwrite keeps the file\'s k and N');
    assert.equal(parseMutableCap(created.cap).format, 'SDMF');
    await assert.rejects(files.createMutableFile(Buffer.from('x'), { k: 3, n: 256 }), (e: unknown) => isTahoeError(e, 'BadInput') && /255/.test(e.hint));
  });
});

test('mutable files with N−k servers down, and a write that cannot reach k servers', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const { files } = await mutableClient(t, grid);
  const sdmf = await files.createMutableFile(Buffer.from('survives seven crashes'));
  const mdmf = await files.createMutableFile(randomBytes(SEGMENT + 17), { format: 'MDMF' });
  const mdmfData = (await files.readMutableFile(mdmf.cap)).data;
  for (const node of grid.nodes.slice(3)) await node.kill();
  // A fresh client: it never saw the dead servers connected.
  const { files: survivor } = await mutableClient(t, grid, { waitFor: 3 });
  assert.equal((await survivor.readMutableFile(sdmf.readCap)).data.toString(), 'survives seven crashes');
  assert.ok((await survivor.readMutableFile(mdmf.readCap, { offset: SEGMENT, length: 17 })).data.equals(mdmfData.subarray(SEGMENT)));

  // Writing with 3 servers: all 10 shares are placed on them (the old ones stay on the dead servers).
  const written = await survivor.overwriteMutableFile(sdmf.cap, Buffer.from('written while most servers were down'));
  assert.equal(written.sharesPlaced, 10);
  assert.equal(written.servers, 3);
  for (const node of grid.nodes.slice(3)) await node.restart();
  const { files: later } = await mutableClient(t, grid, { files: { graceMs: 2_000 } });
  const read = await later.readMutableFile(sdmf.cap);
  assert.equal(read.data.toString(), 'written while most servers were down', 'the newer version wins over the old shares');
  assert.equal(read.seqnum, 2);
  const map = await later.mapMutableFile(sdmf.cap);
  assert.deepEqual(map.versions.map((v) => v.header.seqnum), [2, 1], 'old shares are still on the restarted servers');
  // The next write replaces them all.
  await later.overwriteMutableFile(sdmf.cap, Buffer.from('third'));
  assert.deepEqual((await later.mapMutableFile(sdmf.cap)).versions.map((v) => [v.header.seqnum, v.shareNumbers.length]), [[3, 10]]);

  // Only the server with the foreign write enabler is left: a clear error, nothing else written.
  for (const node of grid.nodes.slice(1)) await node.kill();
  const { files: alone } = await mutableClient(t, grid, { waitFor: 1 });
  const lonely = await alone.createMutableFile(Buffer.from('one server'), { k: 1, n: 1 });
  const path = grid.nodes[0].sharePath(lonely.storageIndex, 0);
  const file = await readFile(path);
  randomBytes(32).copy(file, 52);
  await writeFile(path, file);
  await assert.rejects(alone.overwriteMutableFile(lonely.cap, Buffer.from('refused')), (e: unknown) =>
    isTahoeError(e, 'ServerRejected') && e.details.writeEnabler === 'mismatch' && /write enabler/.test(e.message) && /TubID/.test(e.hint));
  assert.equal((await alone.readMutableFile(lonely.cap)).data.toString(), 'one server');
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) assert.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
