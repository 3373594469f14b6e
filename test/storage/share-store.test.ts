import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, mkdirSync, writeFileSync, statfsSync } from 'node:fs';
import { isTahoeError } from '../../src/errors.js';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ShareStore, rejectionReason } from '../../src/storage/share-store.js';
import type { ShareStoreOptions } from '../../src/storage/share-store.js';
import { MUTABLE_MAGIC_V2 } from '../../src/storage/containers.js';
import { blake2b } from '../../src/storage/blake2b.js';
import { taggedHash } from '../../src/crypto/hashes.js';
import type { ReadTestWriteRequest, ShareTestWrite } from '../../src/storage/messages.js';
import { tempDir } from '../helpers/tmp.js';
import { startTestServer } from './helpers.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';
const NODE_ID = Buffer.alloc(20, 7);

function secrets() {
  return { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) };
}

async function* chunks(...parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield p;
}

async function openStore(t: { after: (fn: () => unknown) => void }, extra: Partial<ShareStoreOptions> = {}, dir?: string) {
  const storageDir = dir ?? path.join(tempDir(t), 'storage');
  const store = await ShareStore.open({ storageDir, nodeId: NODE_ID, ...extra });
  t.after(() => store.close());
  return store;
}

function rejectsWith(reason: string) {
  return (e: unknown) => rejectionReason(e) === reason;
}

test('immutable upload: out-of-order writes, identical overlap, completion into Tahoe\'s container layout', async (t) => {
  const store = await openStore(t);
  const lease = secrets();
  const upload = randomBytes(32);
  const data = randomBytes(100);
  const alloc = await store.allocate(SI, { lease, uploadSecret: upload, shareNumbers: [0, 3], allocatedSize: 100 });
  assert.deepEqual(alloc, { alreadyHave: [], allocated: [0, 3] });
  // a second allocation while in progress: neither set mentions the shares (1.20 behaviour)
  assert.deepEqual(await store.allocate(SI, { lease, uploadSecret: upload, shareNumbers: [0, 3], allocatedSize: 100 }), { alreadyHave: [], allocated: [] });
  let r = await store.writeImmutable(SI, 0, upload, 50, 50, chunks(data.subarray(50, 80), data.subarray(80)));
  assert.deepEqual(r, { complete: false, required: [{ begin: 0, end: 50 }] });
  r = await store.writeImmutable(SI, 0, upload, 40, 20, chunks(data.subarray(40, 60))); // overlaps identical bytes
  assert.deepEqual(r.required, [{ begin: 0, end: 40 }]);
  assert.deepEqual(await store.listImmutable(SI), [], 'incomplete shares are not listed');
  r = await store.writeImmutable(SI, 0, upload, 0, 40, chunks(data.subarray(0, 40)));
  assert.deepEqual(r, { complete: true, required: [] });
  assert.deepEqual(await store.listImmutable(SI), [0]);

  const file = path.join(store.sharesDir, SI.slice(0, 2), SI, '0');
  const bytes = readFileSync(file);
  assert.equal(bytes.length, 12 + 100 + 72);
  assert.equal(bytes.readUInt32BE(0), 2, 'container version 2');
  assert.equal(bytes.readUInt32BE(4), 100);
  assert.equal(bytes.readUInt32BE(8), 1, 'one lease');
  assert.deepEqual(bytes.subarray(12, 112), data);
  assert.deepEqual(bytes.subarray(112 + 4, 112 + 36), blake2b(lease.renewSecret, 32), 'renew secret stored BLAKE2b-256 hashed');
  assert.deepEqual(bytes.subarray(112 + 36, 112 + 68), blake2b(lease.cancelSecret, 32));
  const expiry = bytes.readUInt32BE(112 + 68);
  assert.ok(Math.abs(expiry - (Date.now() / 1000 + 31 * 86400)) < 60);

  const reader = await store.openShare(SI, 0, 'immutable');
  assert.ok(reader);
  assert.equal(reader.length, 100);
  assert.deepEqual(await reader.read(10, 20), data.subarray(10, 30));
  assert.deepEqual(await reader.read(90, 50), data.subarray(90), 'reads are truncated at the end');
  assert.equal((await reader.read(100, 5)).length, 0);
  await reader.close();
  assert.equal(await store.openShare(SI, 0, 'mutable'), undefined);

  // complete share: writes are 404, abort is 405, allocation reports it as already-have
  await assert.rejects(store.writeImmutable(SI, 0, upload, 0, 1, chunks(data.subarray(0, 1))), rejectsWith('not-found'));
  await assert.rejects(store.abortImmutable(SI, 0, upload), rejectsWith('already-complete'));
  const again = await store.allocate(SI, { lease: secrets(), uploadSecret: randomBytes(32), shareNumbers: [0, 1], allocatedSize: 100 });
  assert.deepEqual(again, { alreadyHave: [0], allocated: [1] });
  assert.equal(readFileSync(file).readUInt32BE(8), 2, 'allocating an existing share adds a lease');
  assert.deepEqual(readFileSync(file).subarray(12, 112), data, 'share data never changes');
});

test('immutable upload refusals: conflict, beyond allocation, wrong secret, short body, abort', async (t) => {
  const store = await openStore(t);
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [1], allocatedSize: 10 });
  await store.writeImmutable(SI, 1, upload, 0, 4, chunks(Buffer.from('abcd')));
  await assert.rejects(store.writeImmutable(SI, 1, upload, 2, 4, chunks(Buffer.from('XXef'))), rejectsWith('conflict'));
  await assert.rejects(store.writeImmutable(SI, 1, upload, 8, 4, chunks(Buffer.from('wxyz'))), rejectsWith('beyond-allocation'));
  await assert.rejects(store.writeImmutable(SI, 1, randomBytes(32), 4, 2, chunks(Buffer.from('ef'))), rejectsWith('upload-secret-mismatch'));
  await assert.rejects(store.writeImmutable(SI, 1, upload, 4, 4, chunks(Buffer.from('ef'))), rejectsWith('short-body'));
  await assert.rejects(store.writeImmutable(SI, 2, upload, 0, 1, chunks(Buffer.from('a'))), rejectsWith('not-found'));
  await assert.rejects(store.abortImmutable(SI, 1, randomBytes(32)), rejectsWith('upload-secret-mismatch'));
  await assert.rejects(store.abortImmutable(SI, 5, upload), rejectsWith('not-found'));
  await store.abortImmutable(SI, 1, upload);
  assert.equal(store.uploadInProgress(SI, 1), false);
  assert.deepEqual(readdirSync(store.incomingDir), [], 'abort removes the incoming file and its directories');
  // the share number can be allocated again
  assert.deepEqual((await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [1], allocatedSize: 10 })).allocated, [1]);
});

test('an abort queued behind the write that completes the share is refused as already-complete; one behind a partial write aborts', async (t) => {
  const store = await openStore(t);
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [0, 1], allocatedSize: 8 });
  /** A body whose last bytes arrive only after `release()`: the write holds the share meanwhile. */
  const heldBody = (first: string, last: string) => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const writing = new Promise<void>((r) => (started = r));
    const body = (async function* () {
      yield Buffer.from(first);
      started();
      await released;
      yield Buffer.from(last);
    })();
    return { body, release, writing };
  };

  const whole = heldBody('abcd', 'efgh');
  const write = store.writeImmutable(SI, 0, upload, 0, 8, whole.body);
  await whole.writing;
  const abort = store.abortImmutable(SI, 0, upload);
  const abortOutcome = abort.then(() => 'aborted', (e: unknown) => rejectionReason(e) ?? String(e));
  whole.release();
  assert.deepEqual(await write, { complete: true, required: [] });
  assert.equal(await abortOutcome, 'already-complete', 'the share was complete before the abort got its turn');
  assert.deepEqual(await store.listImmutable(SI), [0]);
  const reader = await store.openShare(SI, 0, 'immutable');
  assert.deepEqual(await reader?.read(0, 8), Buffer.from('abcdefgh'));
  await reader?.close();

  const part = heldBody('ab', 'cd');
  const partial = store.writeImmutable(SI, 1, upload, 0, 4, part.body);
  await part.writing;
  const abort1 = store.abortImmutable(SI, 1, upload);
  part.release();
  assert.equal((await partial).complete, false);
  await abort1;
  assert.equal(store.uploadInProgress(SI, 1), false);
  assert.deepEqual(await store.listImmutable(SI), [0]);
});

test('space: reserved_space, readonly, bigint sizes and space promised to uploads limit allocation', async (t) => {
  const store = await openStore(t);
  const avail = Number(await store.availableSpace());
  assert.ok(avail > 0);
  const huge = await store.allocate(SI, { lease: secrets(), uploadSecret: randomBytes(32), shareNumbers: [0], allocatedSize: 2n ** 70n });
  assert.deepEqual(huge.allocated, []);
  const tooBig = await store.allocate(SI, { lease: secrets(), uploadSecret: randomBytes(32), shareNumbers: [0], allocatedSize: avail + 1 });
  assert.deepEqual(tooBig.allocated, []);
  const half = Math.floor(avail * 0.6);
  const first = await store.allocate(SI, { lease: secrets(), uploadSecret: randomBytes(32), shareNumbers: [0, 1], allocatedSize: half });
  assert.deepEqual(first.allocated, [0], 'the second bucket does not fit next to the first promise');
  assert.equal(store.allocatedToUploads(), half);

  const ro = await openStore(t, { readonly: true });
  assert.equal(await ro.availableSpace(), 0n);
  const reserved = await openStore(t, { reservedSpace: Number.MAX_SAFE_INTEGER });
  assert.equal(await reserved.availableSpace(), 0n, 'never negative');
  assert.deepEqual((await reserved.allocate(SI, { lease: secrets(), uploadSecret: randomBytes(32), shareNumbers: [0], allocatedSize: 1 })).allocated, []);
});

test('an interrupted upload never becomes readable: reopening discards incoming/', async (t) => {
  const dir = path.join(tempDir(t), 'storage');
  const store = await openStore(t, {}, dir);
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [0], allocatedSize: 10 });
  await store.writeImmutable(SI, 0, upload, 0, 9, chunks(Buffer.from('123456789')));
  assert.ok(existsSync(path.join(store.incomingDir, SI.slice(0, 2), SI, '0')));
  await store.close();
  const reopened = await openStore(t, {}, dir);
  assert.deepEqual(await reopened.listImmutable(SI), []);
  assert.deepEqual(readdirSync(reopened.incomingDir), []);
  assert.equal(existsSync(path.join(reopened.sharesDir, SI.slice(0, 2), SI, '0')), false);
});

test('an abandoned upload is aborted after the upload timeout', async (t) => {
  // Margins for a loaded machine: each pause is 0.6 of the timeout, so only the restart
  // after the write explains the upload surviving both; a pause would have to overrun by
  // 400 ms to spoil that.
  const timeoutMs = 1000;
  const store = await openStore(t, { uploadTimeoutMs: timeoutMs });
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [0], allocatedSize: 10 });
  await store.writeImmutable(SI, 0, upload, 0, 5, chunks(Buffer.from('12345')));
  await new Promise((r) => setTimeout(r, 0.6 * timeoutMs));
  await store.writeImmutable(SI, 0, upload, 5, 1, chunks(Buffer.from('6'))); // a write restarts the clock
  await new Promise((r) => setTimeout(r, 0.6 * timeoutMs));
  assert.ok(store.uploadInProgress(SI, 0));
  const deadline = Date.now() + 10 * timeoutMs;
  while (store.uploadInProgress(SI, 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.uploadInProgress(SI, 0), false);
  // the discard (timer → locks → unlink) finishes shortly after the upload is forgotten
  while (readdirSync(store.incomingDir).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.allocatedToUploads(), 0);
  await assert.rejects(store.writeImmutable(SI, 0, upload, 6, 4, chunks(Buffer.from('7890'))), rejectsWith('not-found'));
  assert.deepEqual(readdirSync(store.incomingDir), []);
});

test('leases: same renew secret extends, a new one adds; missing SI reports false', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const store = await openStore(t, { clock: () => now });
  const lease = secrets();
  const upload = randomBytes(32);
  await store.allocate(SI, { lease, uploadSecret: upload, shareNumbers: [0], allocatedSize: 3 });
  await store.writeImmutable(SI, 0, upload, 0, 3, chunks(Buffer.from('abc')));
  const file = path.join(store.sharesDir, SI.slice(0, 2), SI, '0');
  now += 10_000_000;
  assert.equal(await store.addOrRenewLease(SI, lease), true);
  let info = await store.leasesOf(file);
  assert.equal(info?.leases.length, 1);
  assert.equal(info?.leases[0].expirationTime, Math.floor(now / 1000) + 31 * 86400);
  await store.addOrRenewLease(SI, secrets());
  info = await store.leasesOf(file);
  assert.equal(info?.leases.length, 2);
  assert.equal(await store.addOrRenewLease('aaaaaaaaaaaaaaaaaaaaaaaaaa', lease), false);
  const reader = await store.openShare(SI, 0, 'immutable');
  assert.deepEqual(await reader?.read(0, 10), Buffer.from('abc'), 'data intact after lease changes');
  await reader?.close();
});

function rtw(vectors: Array<[number, Partial<ShareTestWrite>]>, readVector: Array<{ offset: number; size: number }> = []): ReadTestWriteRequest {
  return {
    testWriteVectors: new Map(vectors.map(([n, v]) => [n, { test: v.test ?? [], write: v.write ?? [], newLength: v.newLength ?? null }])),
    readVector,
  };
}

test('read-test-write: the answer to the read vector is capped (maxReadVectorBytes); a refused request changes nothing', async (t) => {
  const store = await openStore(t, { maxReadVectorBytes: 1000 });
  const we = randomBytes(32);
  const lease = secrets();
  const data = randomBytes(600);
  await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { write: [{ offset: 0, data }] }], [1, { write: [{ offset: 0, data }] }]]));
  // Two shares × 600 bytes = 1200 bytes of answer: refused before anything is read or written.
  await assert.rejects(
    store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { write: [{ offset: 0, data: Buffer.from('changed') }] }]], [{ offset: 0, size: 600 }])),
    (e: unknown) => rejectionReason(e) === 'too-large' && isTahoeError(e) && /1200 bytes/.test(e.message) && /1000/.test(e.message) && /fewer/.test(e.hint),
  );
  const reader = await store.openShare(SI, 0, 'mutable');
  assert.deepEqual(await reader?.read(0, 600), data, 'the write of the refused request did not happen');
  await reader?.close();
  // What counts is what would be sent: reads past the end cost nothing, so a huge size is fine.
  let res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([], [{ offset: 0, size: 500 }]));
  assert.deepEqual(res.data, new Map([[0, [data.subarray(0, 500)]], [1, [data.subarray(0, 500)]]]));
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([], [{ offset: 100, size: 2 ** 40 }]));
  assert.deepEqual(res.data, new Map([[0, [data.subarray(100)]], [1, [data.subarray(100)]]]));
  await assert.rejects(store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([], [{ offset: 0, size: 300 }, { offset: 0, size: 300 }])), rejectsWith('too-large'));
  // Tests compare as before: a test whose size reaches past the data matches the whole data.
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { test: [{ offset: 0, size: 2 ** 40, specimen: data }], write: [{ offset: 0, data: Buffer.from('new') }] }]]));
  assert.equal(res.success, true);
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[1, { test: [{ offset: 0, size: 2 ** 40, specimen: data.subarray(0, 599) }] }]]));
  assert.equal(res.success, false, 'a specimen shorter than the data read does not match');
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[1, { test: [{ offset: 0, size: 599, specimen: data.subarray(0, 599) }] }]]));
  assert.equal(res.success, true);
});

test('mutable read-test-write: create, test-and-set, read-before-write, write enabler, truncate, delete', async (t) => {
  const store = await openStore(t);
  const we = randomBytes(32);
  const lease = secrets();
  const w = (offset: number, s: string) => ({ offset, data: Buffer.from(s) });
  let res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { write: [w(0, 'hello')] }], [2, { write: [w(0, 'two')] }]], [{ offset: 0, size: 10 }]));
  assert.equal(res.success, true);
  assert.deepEqual(res.data, new Map(), 'nothing existed before the write');
  assert.deepEqual(await store.listMutable(SI), [0, 2]);
  assert.deepEqual(await store.listImmutable(SI), []);

  const file = path.join(store.sharesDir, SI.slice(0, 2), SI, '0');
  const raw = readFileSync(file);
  assert.deepEqual(raw.subarray(0, 32), MUTABLE_MAGIC_V2);
  assert.deepEqual(raw.subarray(0, 27).toString('ascii'), 'Tahoe mutable container v2\n');
  assert.deepEqual(raw.subarray(27, 32), taggedHash('allmydata_mutable_container_header', 'Tahoe mutable container v2\n', 5));
  assert.deepEqual(raw.subarray(32, 52), NODE_ID);
  assert.deepEqual(raw.subarray(52, 84), we, 'write enabler stored as sent');
  assert.equal(raw.readBigUInt64BE(84), 5n);
  assert.equal(raw.readBigUInt64BE(92), 468n + 5n);
  assert.equal(raw.subarray(468, 473).toString(), 'hello');
  assert.equal(raw.readUInt32BE(100), 1, 'lease in slot 0 with owner 1');
  assert.deepEqual(raw.subarray(108, 140), blake2b(lease.renewSecret, 32));
  assert.deepEqual(raw.subarray(172, 192), NODE_ID);
  assert.equal(raw.readUInt32BE(473), 0, 'no extra leases');
  assert.equal(raw.length, 468 + 5 + 4);

  // failing test: nothing written, but reads still returned (before any write)
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { test: [{ offset: 0, size: 5, specimen: Buffer.from('HELLO') }], write: [w(0, 'XXXXX')] }]], [{ offset: 1, size: 3 }]));
  assert.equal(res.success, false);
  assert.deepEqual(res.data, new Map([[0, [Buffer.from('ell')]], [2, [Buffer.from('wo')]]]));
  // passing test + write past the end: the gap reads as zeros; reads show the old data
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { test: [{ offset: 0, size: 5, specimen: Buffer.from('hello') }], write: [w(8, 'END')] }]], [{ offset: 0, size: 100 }]));
  assert.equal(res.success, true);
  assert.deepEqual(res.data.get(0), [Buffer.from('hello')]);
  const reader = await store.openShare(SI, 0, 'mutable');
  assert.equal(reader?.length, 11);
  assert.deepEqual(await reader?.read(0, 11), Buffer.concat([Buffer.from('hello'), Buffer.alloc(3), Buffer.from('END')]));
  await reader?.close();
  // a missing share reads as empty: a test for b"" passes, anything else fails
  res = await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[7, { test: [{ offset: 0, size: 1, specimen: Buffer.from('x') }], write: [w(0, 'seven')] }]]));
  assert.equal(res.success, false);
  assert.deepEqual(await store.listMutable(SI), [0, 2]);

  // wrong write enabler: refused, nothing changes
  const before = readFileSync(file);
  await assert.rejects(store.readTestWrite(SI, { writeEnabler: randomBytes(32), lease }, rtw([[0, { write: [w(0, 'evil')] }]])), rejectsWith('write-enabler-mismatch'));
  assert.deepEqual(readFileSync(file), before);

  // truncate, then a larger new-length does not extend
  await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { newLength: 4 }]]));
  await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { newLength: 1000 }]]));
  const r2 = await store.openShare(SI, 0, 'mutable');
  assert.equal(r2?.length, 4);
  await r2?.close();
  // new-length 0 deletes
  await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { newLength: 0 }], [2, { newLength: 0 }]]));
  assert.deepEqual(await store.listMutable(SI), []);
  assert.equal(existsSync(path.join(store.sharesDir, SI.slice(0, 2))), false, 'empty directories are removed');
  assert.deepEqual(readdirSync(store.tmpDir), [], 'no temp files left behind');
});

test('mutable leases beyond four slots go to the extra-lease block and survive data growth', async (t) => {
  const store = await openStore(t);
  const we = randomBytes(32);
  const leases = Array.from({ length: 6 }, () => secrets());
  for (const [i, lease] of leases.entries()) {
    await store.readTestWrite(SI, { writeEnabler: we, lease }, rtw([[0, { write: [{ offset: i * 10, data: Buffer.alloc(10, 65 + i) }] }]]));
  }
  const file = path.join(store.sharesDir, SI.slice(0, 2), SI, '0');
  const info = await store.leasesOf(file);
  assert.equal(info?.leases.length, 6);
  for (const [i, lease] of leases.entries()) assert.deepEqual(info?.leases[i].renewSecret, blake2b(lease.renewSecret, 32));
  const raw = readFileSync(file);
  assert.equal(raw.readBigUInt64BE(92), 468n + 60n);
  assert.equal(raw.readUInt32BE(468 + 60), 2, 'two extra leases');
  const r = await store.openShare(SI, 0, 'mutable');
  assert.deepEqual(await r?.read(0, 60), Buffer.concat(leases.map((_, i) => Buffer.alloc(10, 65 + i))));
  await r?.close();
  assert.equal(await store.addOrRenewLease(SI, leases[5]), true);
  assert.equal((await store.leasesOf(file))?.leases.length, 6, 'renewal does not add');
});

test('lease expiry crawler deletes shares whose leases all expired (age and cutoff-date modes)', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const store = await openStore(t, { clock: () => now, leaseDurationSeconds: 100 });
  const SI2 = 'aaaaaaaaaaaaaaaaaaaaaaaaaa';
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [0], allocatedSize: 3 });
  await store.writeImmutable(SI, 0, upload, 0, 3, chunks(Buffer.from('abc')));
  await store.readTestWrite(SI2, { writeEnabler: randomBytes(32), lease: secrets() }, rtw([[1, { write: [{ offset: 0, data: Buffer.from('m') }] }]]));
  const all = new Set(['immutable', 'mutable'] as const);
  // nothing expired yet
  let rep = await store.expireLeases({ mode: 'age', shareTypes: all });
  assert.deepEqual(rep, { examinedShares: 2, deletedShares: 0, deletedBytes: 0 });
  // age override: leases older than 50 s count as expired, but only mutable shares are enabled
  now += 60_000;
  rep = await store.expireLeases({ mode: 'age', overrideLeaseDurationSeconds: 50, shareTypes: new Set(['mutable'] as const) });
  assert.equal(rep.deletedShares, 1);
  assert.deepEqual(await store.listMutable(SI2), []);
  assert.deepEqual(await store.listImmutable(SI), [0]);
  // renewing keeps a share alive past its original expiry
  const lease2 = secrets();
  await store.addOrRenewLease(SI, lease2);
  now += 50_000; // original lease expired (100 s), renewed one has not
  rep = await store.expireLeases({ mode: 'age', shareTypes: all });
  assert.equal(rep.deletedShares, 0);
  // cutoff-date: everything granted before now+1 s is expired
  rep = await store.expireLeases({ mode: 'cutoff-date', cutoffDate: Math.floor(now / 1000) + 1, shareTypes: all });
  assert.equal(rep.deletedShares, 1);
  assert.deepEqual(readdirSync(store.sharesDir), ['incoming']);
});

test('concurrent requests for one storage index stay consistent', async (t) => {
  const store = await openStore(t);
  const results = await Promise.all(
    Array.from({ length: 8 }, () => store.allocate(SI, { lease: secrets(), uploadSecret: randomBytes(32), shareNumbers: [0, 1, 2], allocatedSize: 10 })),
  );
  const allocated = results.flatMap((r) => r.allocated).sort();
  assert.deepEqual(allocated, [0, 1, 2], 'each share allocated exactly once');

  // compare-and-swap on a mutable share: exactly one writer of each generation wins
  const we = randomBytes(32);
  const lease = secrets();
  await store.readTestWrite('bbbbbbbbbbbbbbbbbbbbbbbbbb', { writeEnabler: we, lease }, rtw([[0, { write: [{ offset: 0, data: Buffer.from('v0') }] }]]));
  const attempts = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      store.readTestWrite('bbbbbbbbbbbbbbbbbbbbbbbbbb', { writeEnabler: we, lease }, rtw([[0, { test: [{ offset: 0, size: 2, specimen: Buffer.from('v0') }], write: [{ offset: 0, data: Buffer.from(`w${i}`) }] }]])),
    ),
  );
  assert.equal(attempts.filter((a) => a.success).length, 1);
});

test('mutable and immutable shares never mix in one storage index: read-test-write cannot replace or delete immutable shares, allocate cannot add to a mutable file', async (t) => {
  const store = await openStore(t);
  const upload = randomBytes(32);
  const data = randomBytes(40);
  await store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [0, 1], allocatedSize: 40 });
  await store.writeImmutable(SI, 0, upload, 0, 40, chunks(data));
  const file = path.join(store.sharesDir, SI.slice(0, 2), SI, '0');
  const before = readFileSync(file);
  // Storage indexes of immutable files are public (verify caps): anyone may try.
  const attacker = { writeEnabler: randomBytes(32), lease: secrets() };
  for (const [shnum, change] of [
    [0, { write: [{ offset: 0, data: Buffer.from('gone') }] }],
    [0, { newLength: 0 }],
    [1, { write: [{ offset: 0, data: Buffer.from('in progress') }] }],
  ] as Array<[number, Partial<ShareTestWrite>]>) {
    await assert.rejects(store.readTestWrite(SI, attacker, rtw([[shnum, change]])), rejectsWith('write-enabler-mismatch'));
  }
  assert.deepEqual(readFileSync(file), before, 'the complete share is untouched');
  assert.deepEqual(await store.listMutable(SI), []);
  // the upload in progress still completes into an immutable share
  const r = await store.writeImmutable(SI, 1, upload, 0, 40, chunks(data));
  assert.equal(r.complete, true);
  assert.deepEqual(await store.listImmutable(SI), [0, 1]);

  // and the mirror image: no immutable upload into a mutable file's storage index
  const mutableSi = 'bbbbbbbbbbbbbbbbbbbbbbbbbb';
  const we = randomBytes(32);
  await store.readTestWrite(mutableSi, { writeEnabler: we, lease: secrets() }, rtw([[0, { write: [{ offset: 0, data: Buffer.from('v1') }] }]]));
  await assert.rejects(store.allocate(mutableSi, { lease: secrets(), uploadSecret: upload, shareNumbers: [1], allocatedSize: 10 }), rejectsWith('conflict'));
  const after = await store.readTestWrite(mutableSi, { writeEnabler: we, lease: secrets() }, rtw([[0, { write: [{ offset: 0, data: Buffer.from('v2') }] }]]));
  assert.equal(after.success, true, 'the mutable file stays writable');
  assert.deepEqual(await store.listImmutable(mutableSi), []);
});

test('an allocation that fails part-way keeps the shares it already created writable', async (t) => {
  const store = await openStore(t);
  // A stray file where share 1's upload would go makes its creation fail (O_EXCL).
  const stray = path.join(store.incomingDir, SI.slice(0, 2), SI, '1');
  mkdirSync(path.dirname(stray), { recursive: true });
  writeFileSync(stray, 'stray');
  const upload = randomBytes(32);
  await assert.rejects(store.allocate(SI, { lease: secrets(), uploadSecret: upload, shareNumbers: [0, 1], allocatedSize: 10 }), (e: unknown) => isTahoeError(e, 'DiskError'));
  assert.equal(store.allocatedToUploads(), 10, 'share 0 still counts against free space');
  const r = await store.writeImmutable(SI, 0, upload, 0, 10, chunks(randomBytes(10)));
  assert.equal(r.complete, true);
  assert.deepEqual(await store.listImmutable(SI), [0]);
});

test('available space is the disk\'s (statfs bavail × bsize) minus reserved_space, through the version endpoint, and 0 when reserved_space exceeds it', async (t) => {
  // Other processes write to this disk meanwhile; the answer must match statfs within this.
  const tolerance = 64n * 1024n * 1024n;
  const diskFree = (dir: string): bigint => {
    const s = statfsSync(dir, { bigint: true });
    return s.bavail * s.bsize;
  };
  const within = (reported: bigint, expected: bigint, what: string) =>
    assert.ok(reported >= expected - tolerance && reported <= expected + tolerance, `${what}: reported ${reported}, statfs says ${expected} (± ${tolerance})`);

  const probe = path.join(tempDir(t), 'storage');
  mkdirSync(probe);
  const free = diskFree(probe);
  assert.ok(free > 4n * tolerance, `the test needs more than ${4n * tolerance} free bytes, the disk has ${free}`);
  // Half the free space, so that neither "ignores reserved_space" nor "clamps to 0" passes.
  const reservedSpace = Number(free / 2n);
  const half = await startTestServer(t, { store: { reservedSpace } });
  const version = await half.client().version();
  const expected = diskFree(half.storageDir) - BigInt(reservedSpace);
  within(version.availableSpace, expected, 'available-space');
  within(version.maximumImmutableShareSize, expected, 'maximum-immutable-share-size');
  within(await half.store.availableSpace(), expected, 'ShareStore.availableSpace()');

  const none = await startTestServer(t, { store: { reservedSpace: 0 } });
  within((await none.client().version()).availableSpace, diskFree(none.storageDir), 'available-space with reserved_space = 0');

  const over = await startTestServer(t, { store: { reservedSpace: Number(diskFree(probe) + 1024n ** 3n) } });
  const overVersion = await over.client().version();
  assert.equal(overVersion.availableSpace, 0n, 'reserved_space above the free space: clamped at 0, not negative');
  assert.equal(overVersion.maximumImmutableShareSize, 0n);
});
