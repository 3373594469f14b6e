/**
 * Bad input against a live server: random and mutated requests, slowloris clients,
 * garbage instead of TLS. Every case gets a proper status (or a closed connection),
 * the server keeps serving, and no stored share changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { encodeCbor } from '../../src/storage/cbor.js';
import { buildAllocateRequest, buildReadTestWriteRequest } from '../../src/storage/messages.js';
import type { ShareStore } from '../../src/storage/share-store.js';
import { authHeader, rawRequest, secretHeader, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';
const MSI = 'mmmmmmmmmmmmmmmmmmmmmmmmmm';

async function seed(s: TestServer): Promise<{ upload: Buffer; we: Buffer }> {
  const c = s.client();
  const upload = randomBytes(32);
  await c.allocateImmutable(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: upload, shareNumbers: [0, 1, 2], allocatedSize: 500 });
  await c.writeImmutable(SI, 0, upload, 0, randomBytes(500));
  await c.writeImmutable(SI, 1, upload, 0, randomBytes(500));
  await c.writeImmutable(SI, 2, upload, 0, randomBytes(250)); // stays in progress
  const we = randomBytes(32);
  await c.readTestWrite(MSI, { writeEnabler: we, renewSecret: randomBytes(32), cancelSecret: randomBytes(32) }, { testWriteVectors: new Map([[4, { test: [], write: [{ offset: 0, data: randomBytes(300) }], newLength: null }]]), readVector: [] });
  return { upload, we };
}

async function shareDigests(store: ShareStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [si, kind] of [[SI, 'immutable'], [MSI, 'mutable']] as const) {
    const list = kind === 'immutable' ? await store.listImmutable(si) : await store.listMutable(si);
    for (const sh of list) {
      const r = await store.openShare(si, sh, kind);
      if (!r) continue;
      out.set(`${si}/${sh}`, createHash('sha256').update(await r.read(0, r.length)).digest('hex'));
      await r.close();
    }
  }
  return out;
}

function mutate(b: Buffer): Buffer {
  const out = Buffer.from(b);
  const n = 1 + Math.floor(Math.random() * 4);
  for (let i = 0; i < n && out.length > 0; i++) out[Math.floor(Math.random() * out.length)] = Math.floor(Math.random() * 256);
  return Math.random() < 0.2 ? out.subarray(0, Math.floor(Math.random() * out.length)) : out;
}

const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

test('random and mutated requests: only client-error statuses, shares unchanged, server alive', async (t) => {
  const s = await startTestServer(t);
  const { upload, we } = await seed(s);
  const before = await shareDigests(s.store);
  assert.equal(before.size, 3);
  const auth = authHeader(s.swissnum);
  const paths = [
    '/storage/v1/version',
    `/storage/v1/lease/${SI}`,
    `/storage/v1/immutable/${SI}`,
    `/storage/v1/immutable/${SI}/0`,
    `/storage/v1/immutable/${SI}/2`,
    `/storage/v1/immutable/${SI}/0/abort`,
    `/storage/v1/immutable/${SI}/1/corrupt`,
    `/storage/v1/immutable/${SI}/shares`,
    `/storage/v1/mutable/${MSI}/read-test-write`,
    `/storage/v1/mutable/${MSI}/shares`,
    `/storage/v1/mutable/${MSI}/4`,
    `/storage/v1/mutable/${MSI}/4/corrupt`,
  ];
  const bodies = [
    buildAllocateRequest({ shareNumbers: [0, 1, 7], allocatedSize: 500 }),
    buildReadTestWriteRequest({ testWriteVectors: new Map([[4, { test: [], write: [{ offset: 0, data: Buffer.from('overwrite!') }], newLength: null }]]), readVector: [{ offset: 0, size: 10 }] }),
    encodeCbor({ reason: 'corrupt' }),
    randomBytes(64),
  ];
  const statuses = new Map<number, number>();
  for (let i = 0; i < 300; i++) {
    let p = pick(paths);
    if (Math.random() < 0.3) {
      const chars = p.split('');
      chars[Math.floor(Math.random() * chars.length)] = pick(['A', '%', '.', '/', '0', 'z', '\\', '?']);
      p = chars.join('');
    }
    const headers: string[] = [];
    if (Math.random() < 0.9) headers.push(...auth);
    for (const name of ['lease-renew-secret', 'lease-cancel-secret', 'upload-secret', 'write-enabler']) {
      const r = Math.random();
      if (r < 0.4) {
        // the real secrets where we have them: the fuzz must also reach the endpoint logic
        const value = name === 'upload-secret' ? upload : name === 'write-enabler' && Math.random() < 0.5 ? we : randomBytes(32);
        headers.push(...secretHeader(name, value));
      } else if (r < 0.45) headers.push('X-Tahoe-Authorization', `${name} ${randomBytes(5).toString('hex')}`);
    }
    if (Math.random() < 0.5) headers.push('Content-Range', pick(['bytes 0-9/500', 'bytes 490-509/*', 'bytes 0-499/500', `bytes ${Math.floor(Math.random() * 600)}-${Math.floor(Math.random() * 600)}/*`, 'bytes x']));
    if (Math.random() < 0.3) headers.push('Range', pick(['bytes=0-10', 'bytes=5-', 'bytes=0-1,2-3', 'bytes=999-1000']));
    if (Math.random() < 0.3) headers.push('Content-Type', pick(['application/cbor', 'text/plain', 'application/cbor; x=y']));
    if (Math.random() < 0.2) headers.push('Accept', pick(['*/*', 'application/cbor', 'text/html']));
    const body = Math.random() < 0.7 ? mutate(pick(bodies)) : undefined;
    const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
    let status: number;
    try {
      status = (await rawRequest(s.port, { method, path: p, headers, body })).status;
    } catch (e) {
      // Node's client refuses some paths itself (e.g. with a backslash): not a server answer
      if (/Request path contains unescaped characters/.test(String(e))) continue;
      throw e;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    assert.ok(status < 500, `${method} ${p} -> ${status}`);
  }
  assert.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0 && (statuses.get(401) ?? 0) > 0, JSON.stringify([...statuses]));
  const after = await shareDigests(s.store);
  for (const [k, v] of before) assert.equal(after.get(k), v, `share ${k} changed`);
  assert.ok((await s.client().version()).availableSpace > 0n, 'still serving');
});

function tlsConnect(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(sock));
    sock.on('error', reject);
  });
}

function closedWithin(sock: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    sock.on('error', () => undefined);
    sock.resume(); // read to the end: a FIN is only noticed by a reader
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test('slowloris: stalled headers and stalled bodies are cut off while others are served', async (t) => {
  const s = await startTestServer(t, { limits: { headersTimeoutMs: 400, idleTimeoutMs: 700, keepAliveTimeoutMs: 700, requestTimeoutMs: 1500, handshakeTimeoutMs: 500 } });
  const { upload } = await seed(s);
  const before = await shareDigests(s.store);

  const slowHeaders = await tlsConnect(s.port);
  const hClosed = closedWithin(slowHeaders, 4000);
  slowHeaders.write('GET /storage/v1/version HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => slowHeaders.writable && slowHeaders.write('X-A: b\r\n'), 100);
  t.after(() => clearInterval(trickle));

  const slowBody = await tlsConnect(s.port);
  const bClosed = closedWithin(slowBody, 4000);
  const auth = authHeader(s.swissnum);
  const sec = secretHeader('upload-secret', upload);
  slowBody.write(`PATCH /storage/v1/immutable/${SI}/2 HTTP/1.1\r\nHost: x\r\n${auth[0]}: ${auth[1]}\r\n${sec[0]}: ${sec[1]}\r\nContent-Range: bytes 250-499/500\r\nContent-Length: 250\r\n\r\n`);
  slowBody.write(Buffer.alloc(10, 1));

  const noHandshake = net.connect(s.port, '127.0.0.1');
  const nClosed = closedWithin(noHandshake, 4000);
  const idleTls = await tlsConnect(s.port);
  const iClosed = closedWithin(idleTls, 4000);

  // meanwhile a well-behaved client is served promptly
  const c = s.client();
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) await c.version();
  assert.ok(Date.now() - t0 < 2000);

  const [h, b, n, i] = await Promise.all([hClosed, bClosed, nClosed, iClosed]);
  assert.deepEqual({ h, b, n, i }, { h: true, b: true, n: true, i: true });
  clearInterval(trickle);
  // the upload survived the stalled PATCH: its first 10 bytes are recorded, the rest can follow
  const w = await c.writeImmutable(SI, 2, upload, 250, Buffer.alloc(250, 1));
  assert.equal(w.complete, true);
  const after = await shareDigests(s.store);
  for (const [k, v] of before) assert.equal(after.get(k), v);
});

test('garbage instead of TLS, and garbage instead of HTTP inside TLS, get closed connections', async (t) => {
  const s = await startTestServer(t, { limits: { handshakeTimeoutMs: 1000 } });
  for (const junk of [Buffer.from('GET /storage/v1/version HTTP/1.1\r\nHost: x\r\n\r\n'), randomBytes(300), Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01])]) {
    const sock = net.connect(s.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(junk);
    assert.equal(await closedWithin(sock, 3000), true);
  }
  const inside = await tlsConnect(s.port);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    inside.on('data', (d: Buffer) => (text += d.toString('latin1')));
    inside.on('close', () => resolve(text));
  });
  inside.write(randomBytes(200));
  assert.match(await answer, /^HTTP\/1\.1 400/);
  assert.ok((await s.client().version()).availableSpace > 0n);
});

test('oversized request bodies are refused with 413 before being read', async (t) => {
  const s = await startTestServer(t, { limits: { maxReadTestWriteBody: 4096 } });
  const auth = authHeader(s.swissnum);
  const rtw = buildReadTestWriteRequest({ testWriteVectors: new Map([[0, { test: [], write: [{ offset: 0, data: Buffer.alloc(5000) }], newLength: null }]]), readVector: [] });
  const r = await rawRequest(s.port, {
    method: 'POST',
    path: `/storage/v1/mutable/${MSI}/read-test-write`,
    headers: [...auth, ...secretHeader('write-enabler', randomBytes(32)), ...secretHeader('lease-renew-secret', randomBytes(32)), ...secretHeader('lease-cancel-secret', randomBytes(32))],
    body: rtw,
  });
  assert.equal(r.status, 413);
  assert.deepEqual(await s.store.listMutable(MSI), []);
  const corrupt = await rawRequest(s.port, { method: 'POST', path: `/storage/v1/mutable/${MSI}/0/corrupt`, headers: auth, body: encodeCbor({ reason: 'x'.repeat(40_000) }) });
  assert.equal(corrupt.status, 404, 'the share check comes first, as in 1.20');
});
