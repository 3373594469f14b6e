/**
 * The storage client against misbehaving servers (fault injection) and against the real
 * server for pooling, retries and streaming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { spkiHash } from '../../src/crypto/certificate.js';
import { StorageClient } from '../../src/storage/client.js';
import type { StorageClientOptions } from '../../src/storage/client.js';
import { encodeCbor } from '../../src/storage/cbor.js';
import { buildAllocateResponse, buildReadTestWriteResponse, buildShareSet, buildWriteResponse } from '../../src/storage/messages.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { isTahoeError } from '../../src/errors.js';
import { startTestServer, testIdentity } from './helpers.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';

async function faultServer(t: { after: (fn: () => unknown) => void }, handler: (req: IncomingMessage, res: ServerResponse) => void, extra: Partial<StorageClientOptions> = {}) {
  const id = await testIdentity();
  const server = https.createServer({ cert: id.certPem, key: id.keyPem }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  const client = new StorageClient({
    spkiHash: spkiHash(id.certificate),
    swissnum: 'a'.repeat(32),
    connect: (signal) => tcp.dial({ kind: 'tcp', host: '127.0.0.1', port }, { signal }),
    peer: 'fault server',
    ...extra,
  });
  t.after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await tcp.close();
  });
  return { client, port };
}

const kind = (k: string) => (e: unknown) => isTahoeError(e) && e.kind === k;

test('timeouts: headers, body silence, version probe', async (t) => {
  const stall = await faultServer(t, () => undefined, { timeouts: { headersMs: 300, versionMs: 10_000 } });
  await assert.rejects(stall.client.listImmutableShares(SI), kind('Timeout'));
  const probe = await faultServer(t, () => undefined, { timeouts: { headersMs: 60_000, versionMs: 300 } });
  const t0 = Date.now();
  await assert.rejects(probe.client.version(), kind('Timeout'));
  assert.ok(Date.now() - t0 < 3000);
  const trickle = await faultServer(
    t,
    (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/cbor' });
      res.write(Buffer.from([0x82]));
    },
    { timeouts: { bodySilenceMs: 300 } },
  );
  await assert.rejects(trickle.client.listImmutableShares(SI), kind('Timeout'));
  // a per-call timeout and an abort signal
  await assert.rejects(stall.client.listImmutableShares(SI, { timeoutMs: 100 }), kind('Timeout'));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(stall.client.listImmutableShares(SI, { signal: ac.signal }), kind('Aborted'));
});

test('bounded responses and malformed answers become ProtocolError; refusals keep their status', async (t) => {
  const routes: Record<string, (res: ServerResponse) => void> = {
    big: (res) => {
      res.writeHead(200, { 'Content-Type': 'application/cbor' });
      res.end(Buffer.alloc(5000));
    },
    type: (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('[]');
    },
    cbor: (res) => {
      res.writeHead(200, { 'Content-Type': 'application/cbor' });
      res.end(Buffer.from([0xff, 0x00]));
    },
    set: (res) => {
      res.writeHead(200, { 'Content-Type': 'application/cbor' });
      res.end(encodeCbor([1, 2])); // a plain array, not tag 258
    },
    range: (res) => {
      res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Range': 'bytes 0-9/*' });
      res.end(Buffer.alloc(5));
    },
    error: (res) => {
      res.writeHead(500);
      res.end('e'.repeat(50_000));
    },
  };
  let mode = 'big';
  const { client } = await faultServer(t, (_req, res) => routes[mode](res), { maxResponseBytes: 1000 });
  for (const m of ['big', 'type', 'cbor', 'set']) {
    mode = m;
    await assert.rejects(client.listImmutableShares(SI), kind('ProtocolError'), m);
  }
  mode = 'range';
  await assert.rejects(client.readImmutable(SI, 0, 0, 10), kind('ProtocolError'));
  mode = 'error';
  await assert.rejects(client.listImmutableShares(SI), (e: unknown) => isTahoeError(e, 'ServerRejected') && e.details.status === 500 && String(e.details.body).length <= 300);
});

test('unreachable servers and wrong pins are reported as such', async (t) => {
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  t.after(() => tcp.close());
  const c = new StorageClient({ spkiHash: 'A'.repeat(43), swissnum: 'a'.repeat(32), connect: (signal) => tcp.dial({ kind: 'tcp', host: '127.0.0.1', port: closed }, { signal }) });
  t.after(() => c.close());
  await assert.rejects(c.version(), kind('ServerUnreachable'));
  const s = await startTestServer(t);
  const wrongPin = s.client({ spkiHash: spkiHash((await import('../../src/crypto/certificate.js')).toX509((await testIdentity()).certPem)).replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A')) });
  await assert.rejects(wrongPin.version(), kind('TlsPinMismatch'));
  assert.equal(StorageClient.fromNurl(s.nurl, async () => new net.Socket()) instanceof StorageClient, true);
  assert.throws(() => StorageClient.fromNurl('pb://nonsense', async () => new net.Socket()), kind('EndpointInvalid'));
});

test('a pooled connection closed by the server is replaced transparently', async (t) => {
  const s = await startTestServer(t, { limits: { keepAliveTimeoutMs: 150 } });
  const c = s.client();
  await c.version();
  await new Promise((r) => setTimeout(r, 600)); // the server drops the idle connection
  await c.version();
  await c.listImmutableShares(SI);
  assert.ok(s.dials.count >= 2);
});

test('a request the server processed before dropping the pooled connection is resent only when that is safe', async (t) => {
  // Each connection answers its first request; a later request on it is read whole (as if
  // processed) and then the connection dies without an answer, as when a server crashes.
  const seen: string[] = [];
  const requestsOnSocket = new WeakMap<object, number>();
  const { client } = await faultServer(t, (req, res) => {
    const n = (requestsOnSocket.get(req.socket) ?? 0) + 1;
    requestsOnSocket.set(req.socket, n);
    req.resume();
    req.on('end', () => {
      const route = `${req.method ?? '?'} ${(req.url ?? '').replace(/[a-z2-7]{26}/, ':si')}`;
      seen.push(route);
      if (n > 1) {
        req.socket.destroy();
        return;
      }
      const cbor = (status: number, body: Buffer) => {
        res.writeHead(status, { 'content-type': 'application/cbor' });
        res.end(body);
      };
      if (route.endsWith('/shares')) cbor(200, buildShareSet([]));
      else if (route === 'POST /storage/v1/immutable/:si') cbor(200, buildAllocateResponse({ alreadyHave: [], allocated: [0] }));
      else if (route.startsWith('PATCH')) cbor(201, buildWriteResponse([]));
      else if (route.endsWith('/read-test-write')) cbor(200, buildReadTestWriteResponse({ success: true, data: new Map() }));
      else if (route.startsWith('PUT')) {
        res.writeHead(route.endsWith('/abort') ? 200 : 204);
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  const secret = () => randomBytes(32);
  /** Run `op` on a pooled connection; returns its outcome and the requests the server saw for it. */
  const onPooledConnection = async (op: () => Promise<unknown>): Promise<{ outcome: string; seen: string[] }> => {
    await client.listImmutableShares(SI); // a fresh connection, kept in the pool
    seen.length = 0;
    const outcome = await op().then(() => 'ok', (e: unknown) => (isTahoeError(e) ? e.kind : String(e)));
    return { outcome, seen: [...seen] };
  };
  const upload = secret();
  // Not resent: the server may have acted on it, and a second try would be answered differently.
  const allocate = await onPooledConnection(() => client.allocateImmutable(SI, { shareNumbers: [0], allocatedSize: 10, renewSecret: secret(), cancelSecret: secret(), uploadSecret: upload }));
  assert.deepEqual(allocate, { outcome: 'ServerUnreachable', seen: ['POST /storage/v1/immutable/:si'] }, 'an allocation is never sent twice');
  const rtw = await onPooledConnection(() => client.readTestWrite(SI, { writeEnabler: secret(), renewSecret: secret(), cancelSecret: secret() }, { testWriteVectors: new Map([[0, { test: [], write: [{ offset: 0, data: Buffer.from('x') }], newLength: null }]]), readVector: [] }));
  assert.deepEqual(rtw, { outcome: 'ServerUnreachable', seen: ['POST /storage/v1/mutable/:si/read-test-write'] });
  const abort = await onPooledConnection(() => client.abortImmutable(SI, 0, upload));
  assert.deepEqual(abort, { outcome: 'ServerUnreachable', seen: ['PUT /storage/v1/immutable/:si/0/abort'] });
  const corrupt = await onPooledConnection(() => client.adviseCorruptImmutable(SI, 0, 'bad'));
  assert.deepEqual(corrupt, { outcome: 'ServerUnreachable', seen: ['POST /storage/v1/immutable/:si/0/corrupt'] });
  // Resent on a fresh connection: reads, lease renewal, and PATCH (identical bytes are accepted again).
  const list = await onPooledConnection(() => client.listMutableShares(SI));
  assert.deepEqual(list, { outcome: 'ok', seen: ['GET /storage/v1/mutable/:si/shares', 'GET /storage/v1/mutable/:si/shares'] });
  const renew = await onPooledConnection(() => client.renewLease(SI, secret(), secret()));
  assert.deepEqual(renew, { outcome: 'ok', seen: ['PUT /storage/v1/lease/:si', 'PUT /storage/v1/lease/:si'] });
  const patch = await onPooledConnection(() => client.writeImmutable(SI, 0, upload, 0, Buffer.from('0123456789')));
  assert.deepEqual(patch, { outcome: 'ok', seen: ['PATCH /storage/v1/immutable/:si/0', 'PATCH /storage/v1/immutable/:si/0'] });
});

test('large reads are split at the response cap and return exactly the bytes asked for', async (t) => {
  const s = await startTestServer(t);
  const c = s.client({ maxResponseBytes: 4096 });
  const upload = randomBytes(32);
  const data = randomBytes(20_000);
  await c.allocateImmutable(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: upload, shareNumbers: [0], allocatedSize: data.length });
  await c.uploadImmutableShare(SI, 0, upload, data);
  assert.deepEqual(await c.readImmutable(SI, 0, 0, 20_000), data);
  assert.deepEqual(await c.readImmutable(SI, 0, 1234, 9000), data.subarray(1234, 10_234));
  assert.deepEqual(await c.readImmutable(SI, 0, 19_000, 9000), data.subarray(19_000));
  assert.equal((await c.readImmutable(SI, 0, 5, 0)).length, 0);
});

test('streaming a 48 MiB share keeps memory flat on both sides', async (t) => {
  const s = await startTestServer(t);
  const c = s.client();
  const size = 48 * 1024 * 1024;
  const upload = randomBytes(32);
  await c.allocateImmutable(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: upload, shareNumbers: [0], allocatedSize: size });
  const block = randomBytes(64 * 1024);
  async function* source() {
    for (let sent = 0; sent < size; sent += block.length) yield block;
  }
  // Garbage is not growth: collect before each sample so only live memory counts.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const base = process.memoryUsage();
  let peak = 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    gc();
    const m = process.memoryUsage();
    peak = Math.max(peak, m.arrayBuffers - base.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss - base.rss);
  }, 50);
  const res = await c.uploadImmutableShare(SI, 0, upload, source());
  clearInterval(sampler);
  assert.deepEqual(res, { complete: true, bytes: size });
  t.diagnostic(`48 MiB upload: live buffers +${(peak / 1048576).toFixed(1)} MiB, RSS +${(peakRss / 1048576).toFixed(1)} MiB`);
  assert.ok(peak < 16 * 1024 * 1024, `live buffers grew by ${Math.round(peak / 1048576)} MiB while uploading 48 MiB`);
  assert.ok(peakRss < 40 * 1024 * 1024, `RSS grew by ${Math.round(peakRss / 1048576)} MiB while uploading 48 MiB`);
  const tail = await c.readImmutable(SI, 0, size - 10, 10);
  assert.deepEqual(tail, block.subarray(block.length - 10));
});

test('an error body that keeps streaming after truncation leaves no timer keeping the process alive', async (t) => {
  let extraWrites = 0;
  let stopped!: () => void;
  const fiveMore = new Promise<void>((resolve) => (stopped = resolve));
  let pump: NodeJS.Timeout | undefined;
  t.after(() => clearInterval(pump));
  const { client } = await faultServer(
    t,
    (_req, res) => {
      res.writeHead(500);
      res.write('e'.repeat(20_000));
      pump = setInterval(() => {
        res.write('e'.repeat(1000));
        if (++extraWrites === 5) {
          clearInterval(pump);
          res.end();
          stopped();
        }
      }, 10);
    },
    { timeouts: { bodySilenceMs: 20_000 } },
  );
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await assert.rejects(client.listImmutableShares(SI), kind('ServerRejected'));
  await fiveMore;
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(timers() <= before, `timers before ${before}, after ${timers()}`);
});

test('many requests in flight under one signal: no listener pile-up on it, and one abort ends them all', async (t) => {
  const stall = await faultServer(t, () => undefined, { timeouts: { headersMs: 60_000 } });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const ac = new AbortController();
  // As an upload to a grid of 25 servers asks each one at once under the caller's signal.
  const pending = Array.from({ length: 25 }, () => stall.client.listImmutableShares(SI, { signal: ac.signal }));
  await new Promise((r) => setTimeout(r, 200));
  ac.abort();
  const results = await Promise.allSettled(pending);
  assert.ok(results.every((r) => r.status === 'rejected' && isTahoeError(r.reason, 'Aborted')), 'every request ends Aborted');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
  // Finished requests leave nothing behind on a signal that lives on.
  const lasting = new AbortController();
  const ok = await faultServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/cbor' });
    res.end(buildShareSet([]));
  });
  for (let i = 0; i < 30; i++) await ok.client.listImmutableShares(SI, { signal: lasting.signal });
  assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
});
