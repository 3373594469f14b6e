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
