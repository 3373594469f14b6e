/**
 * Conformance: our client against our server over real TLS on 127.0.0.1, every endpoint
 * and every status code of storage-protocol.md §5, and the §6 sample exchange.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { encodeCbor, decodeCbor } from '../../src/storage/cbor.js';
import { MAX_MUTABLE_SHARE_SIZE, buildAllocateRequest, buildReadTestWriteRequest, parseAllocateResponse, parseWriteResponse } from '../../src/storage/messages.js';
import { isTahoeError } from '../../src/errors.js';
import { authHeader, rawRequest, secretHeader, startTestServer } from './helpers.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';
const lease = () => ({ renewSecret: randomBytes(32), cancelSecret: randomBytes(32) });

function rejected(status: number) {
  return (e: unknown) => isTahoeError(e, 'ServerRejected') && e.details.status === status;
}

test('§6 sample exchange, byte for byte where it matters', async (t) => {
  const s = await startTestServer(t);
  const auth = authHeader(s.swissnum);
  const cbor = ['Accept', 'application/cbor'];
  let r = await rawRequest(s.port, { method: 'GET', path: '/storage/v1/version', headers: [...auth, ...cbor] });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/cbor');
  assert.equal(r.headers['transfer-encoding'], 'chunked', 'responses are chunked like 1.20');
  const version = decodeCbor(r.body) as Map<Uint8Array, unknown>;
  assert.ok([...version.keys()].every((k) => k instanceof Uint8Array));

  r = await rawRequest(s.port, { method: 'GET', path: '/storage/v1/version', headers: ['Authorization', 'Tahoe-LAFS eA=='] });
  assert.equal(r.status, 401);
  assert.equal(r.body.toString(), 'Wrong Authorization header');
  assert.equal(r.headers['content-type'], undefined, 'errors carry no Content-Type');

  const l = lease();
  const upload = randomBytes(32);
  const secrets = [...secretHeader('lease-renew-secret', l.renewSecret), ...secretHeader('lease-cancel-secret', l.cancelSecret), ...secretHeader('upload-secret', upload)];
  r = await rawRequest(s.port, {
    method: 'POST',
    path: `/storage/v1/immutable/${SI}`,
    headers: [...auth, ...cbor, 'Content-Type', 'application/cbor', ...secrets],
    body: buildAllocateRequest({ shareNumbers: [0, 3], allocatedSize: 100 }),
  });
  assert.equal(r.status, 200);
  assert.deepEqual(parseAllocateResponse(r.body), { alreadyHave: [], allocated: [0, 3] });
  assert.ok(r.body.includes(Buffer.from('d9010280', 'hex')), 'already-have is 258([])');

  const share = randomBytes(100);
  const patch = (sh: number, range: string, body: Buffer) =>
    rawRequest(s.port, { method: 'PATCH', path: `/storage/v1/immutable/${SI}/${sh}`, headers: [...auth, ...cbor, ...secretHeader('upload-secret', upload), 'Content-Range', range], body });
  r = await patch(0, 'bytes 0-49/100', share.subarray(0, 50));
  assert.equal(r.status, 200);
  assert.deepEqual(parseWriteResponse(r.body), [{ begin: 50, end: 100 }]);
  r = await patch(0, 'bytes 50-99/100', share.subarray(50));
  assert.equal(r.status, 201);
  assert.deepEqual(parseWriteResponse(r.body), []);
  r = await patch(3, 'bytes 0-99/*', share);
  assert.equal(r.status, 201, 'a total of * is accepted too');

  r = await rawRequest(s.port, { method: 'GET', path: `/storage/v1/immutable/${SI}/shares`, headers: [...auth, ...cbor] });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, encodeCbor(new Set([0, 3])));

  r = await rawRequest(s.port, { method: 'GET', path: `/storage/v1/immutable/${SI}/3`, headers: [...auth, 'Range', 'bytes=10-29'] });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], 'bytes 10-29/*');
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(r.body, share.subarray(10, 30));

  r = await rawRequest(s.port, { method: 'PUT', path: `/storage/v1/lease/${SI}`, headers: [...auth, ...secretHeader('lease-renew-secret', randomBytes(32)), ...secretHeader('lease-cancel-secret', randomBytes(32))] });
  assert.equal(r.status, 204);
  assert.equal(r.body.length, 0);
});

test('routing, authorization and secrets: 404, 405, 401, 400', async (t) => {
  const s = await startTestServer(t);
  const auth = authHeader(s.swissnum);
  const get = (p: string, headers: string[] = auth) => rawRequest(s.port, { method: 'GET', path: p, headers });
  for (const bad of [SI.toUpperCase(), SI.slice(1), `${SI}a`, `..%2f${SI.slice(5)}`, '..%2F..%2Fetc%2Fpasswd', `${SI.slice(0, 25)}b`]) {
    assert.equal((await get(`/storage/v1/immutable/${bad}/shares`)).status, 404, bad);
  }
  assert.equal((await get('/storage/v1/nothing')).status, 404);
  assert.equal((await get(`/storage/v1/immutable/${SI}/007`)).status, 404, 'share numbers are canonical decimals');
  const wrongMethod = await rawRequest(s.port, { method: 'DELETE', path: `/storage/v1/immutable/${SI}/shares`, headers: auth });
  assert.equal(wrongMethod.status, 405);
  assert.match(String(wrongMethod.headers.allow), /GET/);
  assert.equal((await get('/storage/v1/version', [])).status, 401, 'missing Authorization');
  assert.equal((await get('/storage/v1/version', ['Authorization', `Tahoe-LAFS ${Buffer.from(s.swissnum.toUpperCase()).toString('base64')}`])).status, 401);
  assert.equal((await get('/storage/v1/version', ['Authorization', `tahoe-lafs ${Buffer.from(s.swissnum).toString('base64')}`])).status, 401);
  assert.equal((await get('/storage/v1/version', ['Authorization', 'Tahoe-LAFS \u00e9'])).status, 400, 'non-ASCII Authorization');

  const l = lease();
  const put = (headers: string[]) => rawRequest(s.port, { method: 'PUT', path: `/storage/v1/lease/${SI}`, headers: [...auth, ...headers] });
  const renew = secretHeader('lease-renew-secret', l.renewSecret);
  const cancel = secretHeader('lease-cancel-secret', l.cancelSecret);
  assert.equal((await put(renew)).status, 400, 'missing cancel secret');
  assert.equal((await put([...renew, ...cancel, ...secretHeader('upload-secret', randomBytes(32))])).status, 400, 'extra secret');
  assert.equal((await put([...renew, ...renew, ...cancel])).status, 400, 'duplicated secret');
  assert.equal((await put(['X-Tahoe-Authorization', `${renew[1]}, ${cancel[1]}`])).status, 400, 'comma-joined secrets');
  assert.equal((await put([...secretHeader('lease-renew-secret', randomBytes(31)), ...cancel])).status, 400, 'short lease secret');
  assert.equal((await put(['X-Tahoe-Authorization', 'lease-renew-secret', ...cancel])).status, 400, 'no value');
  assert.equal((await put(['X-Tahoe-Authorization', 'lease-renew-secret !!!!', ...cancel])).status, 400, 'not base64');
  assert.equal((await put(['X-Tahoe-Authorization', 'lease-renew-secret ', ...cancel])).status, 400, 'empty secret');
  assert.equal((await put(['X-Tahoe-Authorization', `bogus-secret ${renew[1].split(' ')[1]}`, ...cancel])).status, 400, 'unknown name');
  const none = await put([...renew, ...cancel]);
  assert.equal(none.status, 404, 'lease on an SI without shares');
  // an unauthenticated request to a bad path is 404 (routing first, as in 1.20)
  assert.equal((await get(`/storage/v1/immutable/${SI.toUpperCase()}/shares`, [])).status, 404);
});

test('content negotiation and body limits: 406, 415, 413, 400', async (t) => {
  const s = await startTestServer(t);
  const auth = authHeader(s.swissnum);
  const version = (accept?: string) => rawRequest(s.port, { method: 'GET', path: '/storage/v1/version', headers: [...auth, ...(accept === undefined ? [] : ['Accept', accept])] });
  assert.equal((await version()).status, 200, 'no Accept means CBOR');
  assert.equal((await version('*/*')).status, 406, 'curl\'s default Accept');
  assert.equal((await version('application/json')).status, 406);
  assert.equal((await version('application/json;q=0.5, application/cbor')).status, 200);
  const l = lease();
  const secrets = [...secretHeader('lease-renew-secret', l.renewSecret), ...secretHeader('lease-cancel-secret', l.cancelSecret), ...secretHeader('upload-secret', randomBytes(32))];
  const allocate = (headers: string[], body: Uint8Array) => rawRequest(s.port, { method: 'POST', path: `/storage/v1/immutable/${SI}`, headers: [...auth, ...secrets, ...headers], body });
  const good = buildAllocateRequest({ shareNumbers: [1], allocatedSize: 10 });
  assert.equal((await allocate(['Content-Type', 'application/json'], good)).status, 415);
  assert.equal((await allocate([], good)).status, 200, 'missing Content-Type is CBOR');
  const big = encodeCbor({ 'share-numbers': new Set([2]), 'allocated-size': 10, pad: Buffer.alloc(9000) });
  assert.equal((await allocate(['Content-Type', 'application/cbor'], big)).status, 413);
  const badCbor = await allocate(['Content-Type', 'application/cbor'], Buffer.from('a2ff00', 'hex'));
  assert.equal(badCbor.status, 400);
  assert.match(badCbor.body.toString(), /invalid|CBOR/i);
  const wrongShape = await allocate([], encodeCbor({ 'share-numbers': [1], 'allocated-size': 10 }));
  assert.equal(wrongShape.status, 400);
  assert.match(wrongShape.body.toString(), /tag 258/);
  // the server keeps serving after all that
  assert.equal((await version()).status, 200);
});

test('immutable endpoints through the client: every status of the §5 table', async (t) => {
  const s = await startTestServer(t);
  const c = s.client();
  const l = lease();
  const upload = randomBytes(32);
  const data = randomBytes(3000);
  const v = await c.version();
  assert.equal(v.maximumMutableShareSize, MAX_MUTABLE_SHARE_SIZE);
  assert.ok(v.availableSpace > 0n && v.maximumImmutableShareSize === v.availableSpace);
  assert.match(v.applicationVersion, /^tahoe-ts\//);

  assert.deepEqual(await c.listImmutableShares(SI), [], 'empty set for an unknown SI');
  assert.deepEqual(await c.allocateImmutable(SI, { ...l, uploadSecret: upload, shareNumbers: [0, 1, 2], allocatedSize: data.length }), { alreadyHave: [], allocated: [0, 1, 2] });
  // PATCH 200 then 201
  let w = await c.writeImmutable(SI, 0, upload, 0, data.subarray(0, 1000));
  assert.deepEqual(w, { complete: false, required: [{ begin: 1000, end: 3000 }] });
  await assert.rejects(c.writeImmutable(SI, 0, randomBytes(32), 1000, data.subarray(1000, 2000)), rejected(401));
  await assert.rejects(c.writeImmutable(SI, 0, upload, 500, Buffer.alloc(1000)), rejected(409));
  await assert.rejects(c.writeImmutable(SI, 0, upload, 2500, Buffer.alloc(1000)), rejected(500), 'beyond the allocation');
  w = await c.writeImmutable(SI, 0, upload, 1000, data.subarray(1000));
  assert.deepEqual(w, { complete: true, required: [] });
  await assert.rejects(c.writeImmutable(SI, 0, upload, 0, data.subarray(0, 10)), rejected(404), 'after completion');
  // streamed upload in small PATCH batches
  const small = s.client({ uploadBatchBytes: 700 });
  const up = await small.uploadImmutableShare(SI, 1, upload, Readable.from([data.subarray(0, 100), data.subarray(100, 2000), data.subarray(2000)]));
  assert.deepEqual(up, { complete: true, bytes: 3000 });
  // abort: 200, then 404; complete: 405; wrong secret: 401
  await assert.rejects(c.abortImmutable(SI, 2, randomBytes(32)), rejected(401));
  await c.abortImmutable(SI, 2, upload);
  await assert.rejects(c.abortImmutable(SI, 2, upload), rejected(404));
  await assert.rejects(c.abortImmutable(SI, 0, upload), rejected(405));
  assert.deepEqual(await c.listImmutableShares(SI), [0, 1]);
  // allocate again: already-have lists every complete share, not only those asked for
  assert.deepEqual(await c.allocateImmutable(SI, { ...lease(), uploadSecret: randomBytes(32), shareNumbers: [1, 2], allocatedSize: 3000 }), { alreadyHave: [0, 1], allocated: [2] });
  // reads: exact bytes, truncated at the end, 204 past the end, 404 unknown share
  assert.deepEqual(await c.readImmutable(SI, 1, 0, 3000), data);
  assert.deepEqual(await c.readImmutable(SI, 0, 123, 456), data.subarray(123, 579));
  assert.deepEqual(await c.readImmutable(SI, 0, 2900, 500), data.subarray(2900));
  assert.equal((await c.readImmutable(SI, 0, 3000, 10)).length, 0);
  await assert.rejects(c.readImmutable(SI, 9, 0, 10), rejected(404));
  // corruption advice: 200 and recorded; 404 for a missing share
  await c.adviseCorruptImmutable(SI, 0, 'block hash mismatch in segment 0');
  const advisories = readdirSync(path.join(s.storageDir, 'corruption-advisories'));
  assert.equal(advisories.length, 1);
  assert.match(readFileSync(path.join(s.storageDir, 'corruption-advisories', advisories[0]), 'utf8'), /block hash mismatch/);
  await assert.rejects(c.adviseCorruptImmutable(SI, 7, 'x'), rejected(404));
  // lease renewal: 204; 404 without shares
  await c.renewLease(SI, l.renewSecret, l.cancelSecret);
  await assert.rejects(c.renewLease('aaaaaaaaaaaaaaaaaaaaaaaaaa', l.renewSecret, l.cancelSecret), rejected(404));
});

test('read Range handling: whole share, 206, 204, 416', async (t) => {
  const s = await startTestServer(t);
  const c = s.client();
  const upload = randomBytes(32);
  const data = randomBytes(200);
  await c.allocateImmutable(SI, { ...lease(), uploadSecret: upload, shareNumbers: [0], allocatedSize: 200 });
  await c.writeImmutable(SI, 0, upload, 0, data);
  const auth = authHeader(s.swissnum);
  const read = (range?: string) => rawRequest(s.port, { method: 'GET', path: `/storage/v1/immutable/${SI}/0`, headers: [...auth, ...(range === undefined ? [] : ['Range', range])] });
  let r = await read();
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, data);
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  r = await read('bytes=150-999');
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], 'bytes 150-199/*', 'truncated at the end of the share');
  assert.deepEqual(r.body, data.subarray(150));
  assert.equal((await read('bytes=200-300')).status, 204);
  assert.equal((await read('bytes=500-600')).status, 204);
  for (const bad of ['bytes=0-1,5-6', 'bytes=10-', 'bytes=-10', 'items=0-5', 'bytes=9-3', 'garbage']) {
    assert.equal((await read(bad)).status, 416, bad);
  }
  // PATCH without or with a broken Content-Range: 416
  const patch = (range?: string) =>
    rawRequest(s.port, { method: 'PATCH', path: `/storage/v1/immutable/${SI}/0`, headers: [...auth, ...secretHeader('upload-secret', upload), ...(range ? ['Content-Range', range] : [])], body: 'x' });
  for (const bad of [undefined, 'bytes */200', 'bytes 5-3/200', 'bytes 0-0/0', 'chars 0-0/200']) assert.equal((await patch(bad)).status, 416, String(bad));
});

test('mutable endpoints: read-test-write, list, read, corrupt, write enabler 401', async (t) => {
  const s = await startTestServer(t);
  const c = s.client();
  const l = lease();
  const we = randomBytes(32);
  const vectors = (sh: number, test: Array<{ offset: number; size: number; specimen: Buffer }>, write: Array<{ offset: number; data: Buffer }>, newLength: number | null = null) =>
    ({ testWriteVectors: new Map([[sh, { test, write, newLength }]]), readVector: [{ offset: 0, size: 8 }] });
  let r = await c.readTestWrite(SI, { writeEnabler: we, ...l }, vectors(2, [], [{ offset: 0, data: Buffer.from('version-1 of the share') }]));
  assert.equal(r.success, true);
  assert.deepEqual(r.data, new Map());
  r = await c.readTestWrite(SI, { writeEnabler: we, ...l }, vectors(2, [{ offset: 0, size: 9, specimen: Buffer.from('version-0') }], [{ offset: 0, data: Buffer.from('XXXXXXXXX') }]));
  assert.equal(r.success, false);
  assert.deepEqual(r.data.get(2)?.map((b) => Buffer.from(b)), [Buffer.from('version-')]);
  r = await c.readTestWrite(SI, { writeEnabler: we, ...l }, vectors(2, [{ offset: 0, size: 9, specimen: Buffer.from('version-1') }], [{ offset: 8, data: Buffer.from('2') }]));
  assert.equal(r.success, true);
  await assert.rejects(c.readTestWrite(SI, { writeEnabler: randomBytes(32), ...l }, vectors(2, [], [{ offset: 0, data: Buffer.from('evil') }])), rejected(401));
  assert.deepEqual(await c.listMutableShares(SI), [2]);
  assert.deepEqual(await c.listImmutableShares(SI), []);
  assert.deepEqual(await c.readMutable(SI, 2, 0, 100), Buffer.from('version-2 of the share'));
  assert.deepEqual(await c.readMutable(SI, 2, 8, 1), Buffer.from('2'));
  await assert.rejects(c.readMutable(SI, 3, 0, 1), rejected(404));
  await assert.rejects(c.readImmutable(SI, 2, 0, 1), rejected(404), 'a mutable share is not an immutable one');
  await c.adviseCorruptMutable(SI, 2, 'bad signature');
  await assert.rejects(c.adviseCorruptMutable(SI, 3, 'bad signature'), rejected(404));
  await assert.rejects(c.adviseCorruptImmutable(SI, 2, 'wrong kind'), rejected(404));
  // a raw request with integer-keyed data round-trips as 1.20 expects
  const raw = await rawRequest(s.port, {
    method: 'POST',
    path: `/storage/v1/mutable/${SI}/read-test-write`,
    headers: [...authHeader(s.swissnum), 'Content-Type', 'application/cbor', ...secretHeader('write-enabler', we), ...secretHeader('lease-renew-secret', l.renewSecret), ...secretHeader('lease-cancel-secret', l.cancelSecret)],
    body: buildReadTestWriteRequest({ testWriteVectors: new Map(), readVector: [{ offset: 0, size: 3 }] }),
  });
  assert.equal(raw.status, 200);
  const decoded = decodeCbor(raw.body) as Map<string, unknown>;
  assert.deepEqual([...(decoded.get('data') as Map<unknown, unknown>).keys()], [2]);
  await c.renewLease(SI, l.renewSecret, l.cancelSecret);
});

test('read-test-write whose read vector would answer more than the cap: 400 with the reason, nothing written', async (t) => {
  const s = await startTestServer(t, { store: { maxReadVectorBytes: 4096 } });
  const c = s.client();
  const l = lease();
  const we = randomBytes(32);
  const data = randomBytes(3000);
  const write = (sh: number, bytes: Buffer) => ({ test: [], write: [{ offset: 0, data: bytes }], newLength: null });
  await c.readTestWrite(SI, { writeEnabler: we, ...l }, { testWriteVectors: new Map([[0, write(0, data)], [1, write(1, data)]]), readVector: [] });
  await assert.rejects(
    c.readTestWrite(SI, { writeEnabler: we, ...l }, { testWriteVectors: new Map([[0, write(0, Buffer.from('changed'))]]), readVector: [{ offset: 0, size: 3000 }] }),
    (e: unknown) => rejected(400)(e) && isTahoeError(e) && /6000 bytes/.test(e.message),
  );
  assert.deepEqual(await c.readMutable(SI, 0, 0, 3000), data);
  const r = await c.readTestWrite(SI, { writeEnabler: we, ...l }, { testWriteVectors: new Map(), readVector: [{ offset: 0, size: 2000 }] });
  assert.deepEqual(r.data.get(1)?.map((b) => Buffer.from(b)), [data.subarray(0, 2000)]);
});

test('the client pins the certificate before sending anything and pools connections', async (t) => {
  const s = await startTestServer(t);
  const c = s.client();
  for (let i = 0; i < 5; i++) await c.version();
  assert.equal(s.dials.count, 1, 'one keep-alive connection for sequential requests');
  await Promise.all(Array.from({ length: 4 }, () => c.listImmutableShares(SI)));
  assert.ok(s.dials.count <= 4);

  const before = s.logLines.length;
  const wrong = s.client({ spkiHash: 'A'.repeat(43) });
  await assert.rejects(wrong.version(), (e: unknown) => isTahoeError(e, 'TlsPinMismatch'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.logLines.slice(before).filter((l) => /GET|PUT|POST/.test(l)).length, 0, 'the server never saw a request');

  const badAuth = s.client({ swissnum: 'a'.repeat(32) });
  await assert.rejects(badAuth.version(), rejected(401));
  // nothing logged ever contains the swissnum
  assert.ok(s.logLines.every((l) => !l.includes(s.swissnum)));
});

test('mutable reads over raw HTTP: whole share 200, 206 with Content-Range, 204 past the end, 416, 404, empty set for an unknown SI', async (t) => {
  const s = await startTestServer(t);
  const c = s.client();
  const data = randomBytes(300);
  const written = await c.readTestWrite(SI, { writeEnabler: randomBytes(32), ...lease() }, {
    testWriteVectors: new Map([[4, { test: [], write: [{ offset: 0, data }], newLength: null }]]),
    readVector: [],
  });
  assert.equal(written.success, true);
  const auth = authHeader(s.swissnum);
  const read = (range?: string, sh = 4, si = SI) =>
    rawRequest(s.port, { method: 'GET', path: `/storage/v1/mutable/${si}/${sh}`, headers: [...auth, ...(range === undefined ? [] : ['Range', range])] });

  let r = await read();
  assert.equal(r.status, 200, 'no Range: the whole share');
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.equal(r.headers['content-range'], undefined);
  assert.deepEqual(r.body, data, 'the share data only, not the container around it');

  r = await read('bytes=10-29');
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], 'bytes 10-29/*');
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(r.body, data.subarray(10, 30));
  r = await read('bytes=250-999');
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], 'bytes 250-299/*', 'truncated at the end of the share');
  assert.deepEqual(r.body, data.subarray(250));

  for (const past of ['bytes=300-310', 'bytes=1000-2000']) {
    r = await read(past);
    assert.equal(r.status, 204, past);
    assert.equal(r.body.length, 0, past);
    assert.equal(r.headers['content-range'], undefined, past);
  }
  for (const bad of ['bytes=0-1,5-6', 'bytes=10-', 'bytes=-10', 'items=0-5', 'bytes=9-3', 'garbage']) {
    assert.equal((await read(bad)).status, 416, bad);
  }
  assert.equal((await read(undefined, 5)).status, 404, 'no such share');
  assert.equal((await read('bytes=0-9', 5)).status, 404, 'no such share, with a Range');
  const unknownSi = 'aaaaaaaaaaaaaaaaaaaaaaaaaa';
  assert.equal((await read(undefined, 4, unknownSi)).status, 404, 'unknown storage index');

  r = await rawRequest(s.port, { method: 'GET', path: `/storage/v1/mutable/${unknownSi}/shares`, headers: [...auth, 'Accept', 'application/cbor'] });
  assert.equal(r.status, 200, 'listing an unknown SI is not an error');
  assert.equal(r.headers['content-type'], 'application/cbor');
  assert.deepEqual(r.body, Buffer.from('d9010280', 'hex'), 'an empty set: 258([])');
  r = await rawRequest(s.port, { method: 'GET', path: `/storage/v1/mutable/${SI}/shares`, headers: [...auth, 'Accept', 'application/cbor'] });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, encodeCbor(new Set([4])));
});
