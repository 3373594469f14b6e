/**
 * Concurrency over HTTP: simultaneous requests on one storage index through the real
 * StorageClient against the real HTTPS server (storage-protocol.md §5 semantics). Each
 * request comes from its own client (its own TLS connection), connected beforehand, so
 * the requests really are in flight at the same time. Every request must get a valid
 * answer, and what is on disk afterwards must agree with the answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTahoeError } from '../../src/errors.js';
import type { StorageClient } from '../../src/storage/client.js';
import { startTestServer, type TestServer } from './helpers.js';

const SI = 'q7tbvrcjx2uhnwpk3eyma6dls4';
const lease = () => ({ renewSecret: randomBytes(32), cancelSecret: randomBytes(32) });

/** `count` clients, each with an open connection (so the next requests start together). */
async function connectedClients(s: TestServer, count: number): Promise<StorageClient[]> {
  const clients = Array.from({ length: count }, () => s.client());
  await Promise.all(clients.map((c) => c.version()));
  return clients;
}

/** The HTTP status of a rejected call (ServerRejected), or a failed assertion for anything else. */
function statusOf(reason: unknown): number {
  assert.ok(isTahoeError(reason, 'ServerRejected'), `expected an HTTP rejection, got ${String(reason)}`);
  const status = reason.details.status;
  assert.equal(typeof status, 'number');
  return status as number;
}

test('simultaneous allocations of the same shares with different upload secrets: one owner per share, the others can neither see nor write it', async (t) => {
  const s = await startTestServer(t);
  const clients = await connectedClients(s, 6);
  const shares = [0, 1, 2, 3];
  const size = 20_000;
  const secrets = clients.map(() => randomBytes(32));
  const answers = await Promise.allSettled(clients.map((c, i) => c.allocateImmutable(SI, { ...lease(), uploadSecret: secrets[i], shareNumbers: shares, allocatedSize: size })));
  const owner = new Map<number, number>();
  answers.forEach((a, i) => {
    assert.equal(a.status, 'fulfilled', `allocation ${i}: ${a.status === 'rejected' ? String(a.reason) : ''}`);
    if (a.status !== 'fulfilled') return;
    assert.deepEqual(a.value.alreadyHave, [], 'nothing is complete yet');
    for (const sh of a.value.allocated) {
      assert.ok(shares.includes(sh), `allocation ${i} got share ${sh} it did not ask for`);
      assert.equal(owner.get(sh), undefined, `share ${sh} allocated to both ${owner.get(sh)} and ${i}`);
      owner.set(sh, i);
    }
  });
  assert.deepEqual([...owner.keys()].sort(), shares, 'every share has exactly one owner');

  // Owners upload while every other client tries to write the same shares with its own secret.
  const data = new Map(shares.map((sh) => [sh, randomBytes(size)]));
  const ownerWrites = shares.map((sh) => {
    const i = owner.get(sh) as number;
    return clients[i].writeImmutable(SI, sh, secrets[i], 0, data.get(sh) as Buffer);
  });
  const intruders = shares.flatMap((sh) => clients.map((c, i) => (i === owner.get(sh) ? undefined : c.writeImmutable(SI, sh, secrets[i], 0, randomBytes(size)))).filter((p) => p !== undefined));
  const [own, intruded] = await Promise.all([Promise.allSettled(ownerWrites), Promise.allSettled(intruders)]);
  own.forEach((r, n) => {
    assert.equal(r.status, 'fulfilled', `owner write of share ${shares[n]}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
    if (r.status === 'fulfilled') assert.deepEqual(r.value, { complete: true, required: [] });
  });
  assert.equal(intruded.length, shares.length * (clients.length - 1));
  for (const r of intruded) {
    assert.equal(r.status, 'rejected', 'a write with another upload secret must not be accepted');
    // 401 while the owner's upload is open, 404 once it completed: never anything else.
    if (r.status === 'rejected') assert.ok([401, 404].includes(statusOf(r.reason)), String(r.reason));
  }
  assert.deepEqual(await clients[0].listImmutableShares(SI), shares);
  for (const sh of shares) assert.deepEqual(await clients[1].readImmutable(SI, sh, 0, size), data.get(sh), `share ${sh} holds its owner's bytes`);
  // Now complete: a further allocation reports them all and allocates nothing.
  assert.deepEqual(await clients[2].allocateImmutable(SI, { ...lease(), uploadSecret: randomBytes(32), shareNumbers: shares, allocatedSize: size }), { alreadyHave: shares, allocated: [] });
});

test('overlapping PATCHes of one share at once: identical bytes all accepted, the share completes exactly once; a conflicting race has one winner', async (t) => {
  const s = await startTestServer(t);
  const clients = await connectedClients(s, 8);
  const upload = randomBytes(32);
  const size = 64 * 1024;
  assert.deepEqual(await clients[0].allocateImmutable(SI, { ...lease(), uploadSecret: upload, shareNumbers: [0, 1], allocatedSize: size }), { alreadyHave: [], allocated: [0, 1] });

  // Share 0: eight overlapping windows of the same bytes, together covering the share.
  const data = randomBytes(size);
  const step = size / 8;
  const windows = clients.map((_, i) => ({ begin: i * step, end: Math.min(size, i * step + 2 * step) }));
  const results = await Promise.allSettled(clients.map((c, i) => c.writeImmutable(SI, 0, upload, windows[i].begin, data.subarray(windows[i].begin, windows[i].end))));
  let completions = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      if (r.value.complete) completions++;
      else assert.ok(r.value.required.length > 0, `write ${i} answered 200 with nothing required`);
    } else {
      // Only a write that arrives after the share completed may fail, and only with 404.
      assert.equal(statusOf(r.reason), 404, `write ${i}: ${String(r.reason)}`);
    }
  });
  assert.equal(completions, 1, 'exactly one PATCH completes the share (201)');
  assert.deepEqual(await clients[0].readImmutable(SI, 0, 0, size), data);

  // Share 1: two clients race to write the whole share with different bytes.
  const versions = [randomBytes(size), randomBytes(size)];
  const race = await Promise.allSettled(versions.map((v, i) => clients[i + 2].writeImmutable(SI, 1, upload, 0, v)));
  const winners = race.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  assert.equal(winners.length, 1, 'one of two conflicting whole-share writes wins');
  const loser = race[1 - winners[0]];
  assert.equal(loser.status, 'rejected');
  if (loser.status === 'rejected') assert.ok([404, 409].includes(statusOf(loser.reason)), String(loser.reason));
  assert.deepEqual(await clients[0].readImmutable(SI, 1, 0, size), versions[winners[0]], 'the stored share is the winner\'s, not a mix');
  assert.deepEqual(await clients[0].listImmutableShares(SI), [0, 1]);
});

test('simultaneous read-test-writes with the same test vector: exactly one wins, the others see its data, both shares agree', async (t) => {
  const s = await startTestServer(t);
  const clients = await connectedClients(s, 8);
  const writeEnabler = randomBytes(32);
  const old = Buffer.from('seqnum-0001 the old contents....');
  const vector = (test: Buffer, write: Buffer) => ({ test: [{ offset: 0, size: old.length, specimen: test }], write: [{ offset: 0, data: write }], newLength: null });
  const created = await clients[0].readTestWrite(SI, { writeEnabler, ...lease() }, {
    testWriteVectors: new Map([[0, { test: [], write: [{ offset: 0, data: old }], newLength: null }], [1, { test: [], write: [{ offset: 0, data: old }], newLength: null }]]),
    readVector: [],
  });
  assert.equal(created.success, true);

  // Every writer saw `old` and wants to replace it with its own version, on both shares.
  const proposals = clients.map((_, i) => Buffer.from(`seqnum-0002 written by client ${i}`.padEnd(old.length, '.')));
  const answers = await Promise.allSettled(clients.map((c, i) => c.readTestWrite(SI, { writeEnabler, ...lease() }, {
    testWriteVectors: new Map([[0, vector(old, proposals[i])], [1, vector(old, proposals[i])]]),
    readVector: [{ offset: 0, size: old.length }],
  })));
  const winners: number[] = [];
  for (const [i, a] of answers.entries()) {
    assert.equal(a.status, 'fulfilled', `read-test-write ${i}: ${a.status === 'rejected' ? String(a.reason) : ''}`);
    if (a.status === 'fulfilled' && a.value.success) winners.push(i);
  }
  assert.equal(winners.length, 1, `exactly one read-test-write wins (winners: ${winners.join(', ')})`);
  const winner = winners[0];
  for (const [i, a] of answers.entries()) {
    if (a.status !== 'fulfilled') continue;
    // The read vector answers what was there before this request's writes (none for losers).
    const expected = i === winner ? old : proposals[winner];
    for (const sh of [0, 1]) assert.deepEqual(a.value.data.get(sh)?.map((b) => Buffer.from(b)), [expected], `client ${i}, share ${sh}`);
  }
  assert.deepEqual(await clients[0].listMutableShares(SI), [0, 1]);
  for (const sh of [0, 1]) assert.deepEqual(await clients[0].readMutable(SI, sh, 0, 100), proposals[winner], `share ${sh} holds the winner's write`);
});

test('simultaneous creation of one slot with different write enablers: one creates it, the others get 401 and change nothing', async (t) => {
  const s = await startTestServer(t);
  const clients = await connectedClients(s, 6);
  const enablers = clients.map(() => randomBytes(32));
  const contents = clients.map((_, i) => Buffer.from(`created by client ${i}`));
  const answers = await Promise.allSettled(clients.map((c, i) => c.readTestWrite(SI, { writeEnabler: enablers[i], ...lease() }, {
    // "still empty": a missing share reads as zero bytes
    testWriteVectors: new Map([[0, { test: [{ offset: 0, size: 1, specimen: Buffer.alloc(0) }], write: [{ offset: 0, data: contents[i] }], newLength: null }]]),
    readVector: [],
  })));
  const created: number[] = [];
  for (const [i, a] of answers.entries()) {
    if (a.status === 'fulfilled') {
      assert.equal(a.value.success, true, `client ${i} was answered 200 but did not write`);
      created.push(i);
    } else {
      assert.equal(statusOf(a.reason), 401, `client ${i}: ${String(a.reason)}`);
    }
  }
  assert.equal(created.length, 1, 'exactly one client created the slot');
  assert.deepEqual(await clients[0].readMutable(SI, 0, 0, 100), contents[created[0]]);
  // The slot belongs to the creator's write enabler from now on.
  const other = (created[0] + 1) % clients.length;
  await assert.rejects(clients[other].readTestWrite(SI, { writeEnabler: enablers[other], ...lease() }, { testWriteVectors: new Map(), readVector: [] }), (e: unknown) => statusOf(e) === 401);
});
