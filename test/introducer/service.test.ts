/**
 * The introducer service end to end, in process, over real TLS on 127.0.0.1: publish and
 * subscribe, signature checks at the introducer (tampered, wrong key, unsigned) and at the
 * subscriber, replayed older seqnums, live appearance of a new server, expiry of one that
 * stops refreshing, an introducer restart (subscribers resynchronise, publishers
 * republish), and the status codes for bad requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { NodeKey } from '../../src/crypto/node-key.js';
import { connectPinnedTls } from '../../src/net/tls.js';
import { openSocket, OPEN_GATE } from '../../src/net/socket.js';
import { AnnouncementHub, IntroducerClient, type AnnouncementSink } from '../../src/introducer/client.js';
import { signAnnouncement, verifyAnnouncement, type SignedAnnouncement } from '../../src/introducer/announcement.js';
import { introducerRequest, type IntroducerResponse } from '../../src/introducer/https-request.js';
import { LIMITS, PATHS, encodePollResult, encodePublishRequest, parsePublishResult, parseStale, parseVersion } from '../../src/introducer/protocol.js';
import { encodeCbor } from '../../src/storage/cbor.js';
import type { Nurl } from '../../src/net/hints.js';
import type { IntroducerAddress } from '../../src/introducer/url.js';

function addressOf(nurl: Nurl): IntroducerAddress {
  return { pin: { kind: 'spki', spkiHash: nurl.spkiHash }, swissnum: nurl.swissnum, locations: [{ kind: 'nurl', nurl }] };
}
import { newSigner, startFakeIntroducer, startIntroducer, storageBody, tcpRouter, waitFor } from './helpers.js';

const FAST_CLIENT = { pollWaitMs: 2_000, minBackoffMs: 50, maxBackoffMs: 400, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000 };

function raw(nurl: Nurl, method: 'GET' | 'POST', path: string, body?: Buffer, headers?: { swissnum?: string }): Promise<IntroducerResponse> {
  const peer = { pin: { kind: 'spki' as const, spkiHash: nurl.spkiHash }, swissnum: headers?.swissnum ?? nurl.swissnum, host: nurl.host };
  return introducerRequest(peer, (signal) => openSocket({ host: nurl.host, port: nurl.port as number }, { gate: OPEN_GATE, purpose: 'local', signal }), {
    method, path, body, maxResponseBytes: 1 << 20, timeoutMs: 5_000, connectTimeoutMs: 5_000,
  });
}

/** A request with chosen headers (for media-type checks), over a pinned TLS connection. */
async function custom(nurl: Nurl, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number }> {
  const socket = await connectPinnedTls(await openSocket({ host: nurl.host, port: nurl.port as number }, { gate: OPEN_GATE, purpose: 'local' }), { spkiHash: nurl.spkiHash });
  return new Promise((resolve, reject) => {
    const req = http.request({ method, path, createConnection: () => socket, headers: { authorization: `Tahoe-LAFS ${Buffer.from(nurl.swissnum).toString('base64')}`, connection: 'close', ...headers } });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.end(body);
  });
}

function publishRaw(nurl: Nurl, signed: SignedAnnouncement): Promise<IntroducerResponse> {
  return raw(nurl, 'POST', PATHS.publish, encodePublishRequest(signed));
}

function recordingSink(): AnnouncementSink & { servers: Map<string, Record<string, unknown>>; removed: string[] } {
  const servers = new Map<string, Record<string, unknown>>();
  const removed: string[] = [];
  return {
    servers,
    removed,
    add: (id, ann) => servers.set(id, ann),
    remove: (id) => {
      servers.delete(id);
      removed.push(id);
    },
  };
}

function subscriber(t: Parameters<typeof tcpRouter>[0], nurl: Nurl, extra: { publisher?: ReturnType<typeof newSigner>['signer']; petname?: string; pollWaitMs?: number } = {}) {
  const sink = recordingSink();
  const hub = new AnnouncementHub(sink);
  const client = new IntroducerClient({
    petname: extra.petname ?? 'default',
    address: addressOf(nurl),
    router: tcpRouter(t),
    services: ['storage'],
    publisher: extra.publisher,
    onViewChange: () => hub.update(),
    timing: { ...FAST_CLIENT, ...(extra.pollWaitMs === undefined ? {} : { pollWaitMs: extra.pollWaitMs }) },
  });
  hub.attach(client);
  t.after(() => client.close());
  return { sink, client, hub };
}

test('publish and subscribe: a subscriber learns verified announcements; a new server appears live', async (t) => {
  const intro = await startIntroducer(t, { timing: { warmupMs: 0 } });
  const s1 = newSigner('s1');
  const pub1 = new IntroducerClient({ petname: 'default', address: addressOf(intro.nurl), router: tcpRouter(t), publisher: s1.signer, timing: FAST_CLIENT });
  t.after(() => pub1.close());
  await pub1.start();
  await waitFor(() => intro.server.announcements('storage').length === 1, 5_000, 'the first publish');

  // A long poll wait: only a woken long-poll can deliver the second server quickly.
  const { sink, client } = subscriber(t, intro.nurl, { pollWaitMs: 30_000 });
  await client.start();
  await waitFor(() => sink.servers.size === 1, 5_000, 'the first server at the subscriber');
  assert.equal(sink.servers.get(s1.key.serverId())?.nickname, 's1');
  assert.equal(client.status().connected, true);
  assert.equal(client.status().transport, 'tcp');

  // A second server publishes while the subscriber is in its long-poll: it appears promptly.
  const s2 = newSigner('s2');
  const pub2 = new IntroducerClient({ petname: 'default', address: addressOf(intro.nurl), router: tcpRouter(t), publisher: s2.signer, timing: FAST_CLIENT });
  t.after(() => pub2.close());
  const before = Date.now();
  await pub2.start();
  await waitFor(() => sink.servers.size === 2, 10_000, 'the second server at the subscriber');
  assert.ok(Date.now() - before < 10_000, `took ${Date.now() - before} ms: the long-poll should wake at once, not after its 30 s wait`);
  assert.equal(sink.servers.get(s2.key.serverId())?.nickname, 's2');
  assert.ok(pub2.status().lastPublished !== undefined);
});

test('the introducer verifies: tampered, wrongly keyed, unsigned and malformed publishes get 403/400', async (t) => {
  const intro = await startIntroducer(t);
  const key = NodeKey.generate();
  const good = signAnnouncement({ ...storageBody('good'), seqnum: 1, nonce: 'n1' }, key);
  const tampered = Buffer.from(good.msg);
  tampered[tampered.indexOf('good')] = 0x62; // "bood"
  assert.equal((await publishRaw(intro.nurl, { ...good, msg: tampered })).status, 403);
  assert.equal((await publishRaw(intro.nurl, { ...good, key: NodeKey.generate().serverId() })).status, 403);
  assert.equal((await publishRaw(intro.nurl, { ...good, sig: '' })).status, 400);
  assert.equal((await publishRaw(intro.nurl, { ...good, key: good.key.replace('v0-', 'v9-') })).status, 400);
  assert.equal((await raw(intro.nurl, 'POST', PATHS.publish, Buffer.from([0xff, 0x00, 0x13]))).status, 400);
  assert.equal((await raw(intro.nurl, 'POST', PATHS.publish, encodeCbor({ msg: 'text, not bytes', sig: good.sig, key: good.key }))).status, 400);
  assert.equal(intro.server.announcements().length, 0, 'nothing bad was stored');
  const ok = await publishRaw(intro.nurl, good);
  assert.equal(ok.status, 200);
  assert.equal(parsePublishResult(ok.body).status, 'accepted');
  assert.equal(intro.server.announcements().length, 1);
});

test('seqnums: an older or equal seqnum is refused as stale (409 with the held seqnum); identical is a duplicate; same content is a refresh', async (t) => {
  const intro = await startIntroducer(t, { timing: { warmupMs: 0 } });
  const key = NodeKey.generate();
  const v5 = signAnnouncement({ ...storageBody('s'), seqnum: 5, nonce: 'a' }, key);
  assert.equal(parsePublishResult((await publishRaw(intro.nurl, v5)).body).status, 'accepted');
  const versionAfterFirst = intro.server.version;
  assert.equal(parsePublishResult((await publishRaw(intro.nurl, v5)).body).status, 'duplicate');
  const older = signAnnouncement({ ...storageBody('replayed'), seqnum: 4, nonce: 'b' }, key);
  const stale = await publishRaw(intro.nurl, older);
  assert.equal(stale.status, 409);
  assert.equal(parseStale(stale.body).currentSeqnum, 5);
  const sameSeq = signAnnouncement({ ...storageBody('other'), seqnum: 5, nonce: 'c' }, key);
  assert.equal((await publishRaw(intro.nurl, sameSeq)).status, 409);
  const refresh = signAnnouncement({ ...storageBody('s'), seqnum: 6, nonce: 'd' }, key);
  assert.equal(parsePublishResult((await publishRaw(intro.nurl, refresh)).body).status, 'refreshed');
  assert.equal(intro.server.version, versionAfterFirst, 'a refresh does not wake subscribers');
  const changed = signAnnouncement({ ...storageBody('renamed'), seqnum: 7, nonce: 'e' }, key);
  assert.equal(parsePublishResult((await publishRaw(intro.nurl, changed)).body).status, 'accepted');
  assert.ok(intro.server.version > versionAfterFirst);
  assert.equal(verifyAnnouncement(intro.server.announcements()[0]).ann.nickname, 'renamed');
});

test('a publisher whose seqnum fell behind (lost announcement-seqnum) catches up after a 409', async (t) => {
  const intro = await startIntroducer(t);
  const key = NodeKey.generate();
  assert.equal((await publishRaw(intro.nurl, signAnnouncement({ ...storageBody('s'), seqnum: 50, nonce: 'a' }, key))).status, 200);
  const { signer, store } = newSigner('s', key);
  const pub = new IntroducerClient({ petname: 'default', address: addressOf(intro.nurl), router: tcpRouter(t), publisher: signer, timing: FAST_CLIENT });
  t.after(() => pub.close());
  await pub.start();
  await waitFor(() => (store.value ?? 0) > 50 && pub.status().lastPublished !== undefined, 5_000, 'the publisher to catch up');
  assert.ok(intro.server.announcements()[0] !== undefined && verifyAnnouncement(intro.server.announcements()[0]).seqnum > 50);
});

test('the subscriber verifies too: an introducer that forwards a forged announcement is not believed', async (t) => {
  const honest = newSigner('honest');
  const victim = NodeKey.generate();
  // Signed by someone else, claiming to be the victim; and a good one with a bit flipped.
  const forged: SignedAnnouncement = { ...signAnnouncement({ ...storageBody('forged'), seqnum: 1, nonce: 'x' }, NodeKey.generate()), key: victim.serverId() };
  const other = newSigner('other');
  const good = await other.signer.sign();
  const flipped = Buffer.from(good.msg);
  flipped[flipped.indexOf('other')] ^= 0x01;
  const snapshot = encodePollResult({ epoch: 'abcd', version: 1, full: true, complete: true, announcements: [await honest.signer.sign(), forged, { ...good, msg: flipped }], removed: [] });
  const nurl = await startFakeIntroducer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/cbor' });
    res.end(snapshot);
  });
  const { sink, client } = subscriber(t, nurl);
  await client.start();
  await waitFor(() => sink.servers.size > 0, 5_000, 'the honest announcement');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual([...sink.servers.keys()], [honest.key.serverId()], 'only the honest announcement is believed');
});

test('a broken introducer (garbage CBOR, oversized answers, wrong status) is survived with backoff', async (t) => {
  let calls = 0;
  const nurl = await startFakeIntroducer(t, (_req, res) => {
    calls++;
    if (calls % 3 === 0) {
      res.writeHead(200, { 'content-type': 'application/cbor' });
      res.end(Buffer.from([0xbf, 0x61, 0x61]));
    } else if (calls % 3 === 1) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('x'.repeat(100_000));
    } else {
      res.writeHead(200, { 'content-type': 'application/cbor' });
      res.end(encodeCbor({ epoch: 'abcd', version: 'not a number', full: true, complete: true, announcements: [], removed: [] }));
    }
  });
  const { sink, client } = subscriber(t, nurl);
  await client.start();
  await waitFor(() => calls >= 4, 5_000, 'several attempts');
  // Each failure is reported (and retried), none crashes the node.
  assert.equal(client.status().connected, false);
  assert.ok(client.status().lastError !== undefined);
  assert.equal(sink.servers.size, 0);
});

test('expiry: a server that stops refreshing disappears from subscribers; one that keeps refreshing stays', async (t) => {
  const intro = await startIntroducer(t, { timing: { refreshIntervalMs: 300, expiryMs: 1_200, warmupMs: 0, sweepIntervalMs: 100 } });
  const alive = newSigner('alive');
  const dying = newSigner('dying');
  const pubAlive = new IntroducerClient({ petname: 'default', address: addressOf(intro.nurl), router: tcpRouter(t), publisher: alive.signer, timing: FAST_CLIENT });
  const pubDying = new IntroducerClient({ petname: 'default', address: addressOf(intro.nurl), router: tcpRouter(t), publisher: dying.signer, timing: FAST_CLIENT });
  t.after(() => pubAlive.close());
  t.after(() => pubDying.close());
  await pubAlive.start();
  await pubDying.start();
  const { sink, client } = subscriber(t, intro.nurl);
  await client.start();
  await waitFor(() => sink.servers.size === 2, 5_000, 'both servers');
  await pubDying.close(); // a crashed server: no more refreshes
  const closedAt = Date.now();
  await waitFor(() => sink.servers.size === 1, 5_000, 'the dead server to expire');
  const elapsed = Date.now() - closedAt;
  assert.ok(elapsed >= 800, `expired after ${elapsed} ms, before the expiry time`);
  assert.ok(sink.servers.has(alive.key.serverId()));
  assert.deepEqual(sink.removed, [dying.key.serverId()]);
  // The live one refreshed several times meanwhile without waking anyone.
  assert.ok((alive.store.value ?? 0) >= 3, `alive published ${alive.store.value} times`);
});

test('introducer restart: subscribers resynchronise, publishers republish at once, nobody is dropped during warm-up', async (t) => {
  const intro = await startIntroducer(t, { timing: { refreshIntervalMs: 60_000, warmupMs: 4_000 } });
  const s1 = newSigner('s1');
  const pub = new IntroducerClient({ petname: 'default', address: addressOf(intro.nurl), router: tcpRouter(t), publisher: s1.signer, services: ['storage'], timing: FAST_CLIENT });
  t.after(() => pub.close());
  await pub.start();
  // A server that never comes back after the restart.
  const gone = NodeKey.generate();
  await publishRaw(intro.nurl, signAnnouncement({ ...storageBody('gone'), seqnum: 1, nonce: 'g' }, gone));
  const { sink, client } = subscriber(t, intro.nurl);
  await client.start();
  await waitFor(() => sink.servers.size === 2, 5_000, 'both servers before the restart');
  const firstEpoch = intro.server.epoch;

  await intro.stop();
  await waitFor(() => !client.status().connected, 5_000, 'the subscriber to notice the introducer is down');
  assert.equal(sink.servers.size, 2, 'servers stay known while the introducer is down');
  await new Promise((r) => setTimeout(r, 300));
  await intro.restart({ timing: { refreshIntervalMs: 60_000, warmupMs: 4_000 } });
  assert.notEqual(intro.server.epoch, firstEpoch);
  // The publisher republishes long before its 60 s refresh: it notices the new epoch.
  await waitFor(() => intro.server.announcements().some((a) => a.key === s1.key.serverId()), 5_000, 'the publisher to republish');
  await waitFor(() => client.status().connected, 5_000, 'the subscriber to reconnect');
  assert.equal(sink.servers.size, 2, 'during warm-up the server that has not republished is kept');
  await waitFor(() => sink.servers.size === 1, 10_000, 'the warm-up to end and the stale server to go');
  assert.ok(sink.servers.has(s1.key.serverId()));
});

test('bad requests: 401 wrong swissnum, 404, 405, 406, 415, 413, 400 bad query; 429 publish flood', async (t) => {
  const intro = await startIntroducer(t, { limits: { publishBurst: 3, publishRefillMs: 60_000 } });
  const other = { swissnum: 'a'.repeat(32) };
  assert.equal((await raw(intro.nurl, 'GET', PATHS.version, undefined, other)).status, 401);
  assert.equal((await raw(intro.nurl, 'GET', '/introducer/v1/nothing')).status, 404);
  assert.equal((await raw(intro.nurl, 'GET', PATHS.publish)).status, 405);
  assert.equal((await raw(intro.nurl, 'POST', PATHS.version)).status, 405);
  assert.equal((await raw(intro.nurl, 'GET', `${PATHS.announcements}?service=storage&wait=x`)).status, 400);
  assert.equal((await raw(intro.nurl, 'GET', `${PATHS.announcements}?service=st/orage`)).status, 400);
  assert.equal((await raw(intro.nurl, 'GET', `${PATHS.announcements}?service=storage&since=3`)).status, 400, 'since without epoch');
  assert.equal((await raw(intro.nurl, 'GET', `${PATHS.announcements}?service=storage&service=x`)).status, 400);
  assert.equal((await raw(intro.nurl, 'POST', PATHS.publish, Buffer.alloc(200_000))).status, 413);
  assert.equal((await custom(intro.nurl, 'GET', PATHS.version, { accept: 'text/html' })).status, 406);
  assert.equal((await custom(intro.nurl, 'POST', PATHS.publish, { 'content-type': 'application/json' }, Buffer.from('{}'))).status, 415);
  const version = await raw(intro.nurl, 'GET', PATHS.version);
  assert.equal(version.status, 200);
  assert.equal(parseVersion(version.body).epoch, intro.server.epoch);
  // Every request above used exactly one connection, opened by our connect function:
  // nothing dialled behind the router's back (an http.Agent would open its own).
  assert.equal(intro.connections, 12, `${intro.connections} connections for 12 requests`);

  const key = NodeKey.generate();
  const statuses: number[] = [];
  for (let i = 1; i <= 5; i++) statuses.push((await publishRaw(intro.nurl, signAnnouncement({ ...storageBody('flood'), seqnum: i, nonce: `n${i}` }, key))).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  assert.equal(verifyAnnouncement(intro.server.announcements()[0]).seqnum, 3);
});

test('an oversized chunked publish gets 413 and the connection keeps serving (no reset)', async (t) => {
  const intro = await startIntroducer(t);
  const tls = await connectPinnedTls(await openSocket({ host: '127.0.0.1', port: intro.port }, { gate: OPEN_GATE, purpose: 'local' }), { spkiHash: intro.nurl.spkiHash });
  t.after(() => tls.destroy());
  const auth = `Tahoe-LAFS ${Buffer.from(intro.nurl.swissnum).toString('base64')}`;
  const conn: { received: string; failure?: Error } = { received: '' };
  tls.on('data', (d: Buffer) => (conn.received += d.toString('latin1')));
  tls.on('error', (e) => (conn.failure = e));
  const answered = (re: RegExp, what: string) =>
    waitFor(() => re.test(conn.received) || conn.failure !== undefined || tls.destroyed, 10_000, what).catch((e: unknown) => {
      throw new Error(`${String(e)}; received so far: ${JSON.stringify(conn.received.slice(0, 300))}`);
    });
  // No Content-Length: the server learns the body is too large only while reading it.
  tls.write(`POST ${PATHS.publish} HTTP/1.1\r\nHost: introducer\r\nAuthorization: ${auth}\r\nContent-Type: application/cbor\r\nTransfer-Encoding: chunked\r\n\r\n`);
  const chunk = Buffer.alloc(16 * 1024, 0x41);
  for (let sent = 0; sent <= LIMITS.publishBody; sent += chunk.length) tls.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`);
  await answered(/^HTTP\/1\.1 \d{3}/, 'an answer to the oversized publish');
  assert.equal(conn.failure?.message, undefined, 'the connection did not fail');
  assert.match(conn.received, /^HTTP\/1\.1 413 /);
  // The client finishes its body; the same connection then serves the next request.
  tls.write(`0\r\n\r\nGET ${PATHS.version} HTTP/1.1\r\nHost: introducer\r\nAuthorization: ${auth}\r\n\r\n`);
  await answered(/HTTP\/1\.1 200 /, 'the next answer on the same connection');
  assert.equal(conn.failure?.message, undefined, 'the connection did not fail');
  assert.match(conn.received, /HTTP\/1\.1 413 [\s\S]*HTTP\/1\.1 200 /);
  assert.equal(intro.connections, 1);
  assert.equal((await raw(intro.nurl, 'GET', PATHS.version)).status, 200);
});

test('a capacity limit answers 503 instead of growing without bound', async (t) => {
  const intro = await startIntroducer(t, { limits: { maxAnnouncements: 2 } });
  const results: number[] = [];
  for (let i = 0; i < 3; i++) results.push((await publishRaw(intro.nurl, signAnnouncement({ ...storageBody(`s${i}`), seqnum: 1, nonce: 'n' }, NodeKey.generate()))).status);
  assert.deepEqual(results, [200, 200, 503]);
});

test('a subscriber behind an unreachable introducer backs off and reports a hint', async (t) => {
  const intro = await startIntroducer(t);
  await intro.stop();
  const { client } = subscriber(t, intro.nurl);
  await client.start();
  await waitFor(() => client.status().lastError !== undefined, 5_000, 'a failure');
  const status = client.status();
  assert.equal(status.connected, false);
  assert.match(status.lastError ?? '', /hint:/);
});

test('introducer connections obey the privacy policy: hiding the IP with no Tor, a tcp: introducer is never dialled directly', async (t) => {
  const intro = await startIntroducer(t);
  const { createPolicy } = await import('../../src/net/policy.js');
  const { TcpTransport } = await import('../../src/net/tcp.js');
  const { ConnectionRouter } = await import('../../src/net/router.js');
  const policy = createPolicy({ torEnabled: true, i2pEnabled: false, revealIpAddress: false, connectionsTcp: 'tor', tubPort: 'disabled', tubLocation: 'disabled' });
  const tcp = new TcpTransport({ gate: policy.gate });
  t.after(() => tcp.close());
  // Tor is enabled but not running: no tor transport is available to the router.
  const router = new ConnectionRouter({ policy, transports: new Map([['tcp', tcp]]) });
  const client = new IntroducerClient({ petname: 'hidden', address: addressOf(intro.nurl), router, services: ['storage'], timing: FAST_CLIENT });
  t.after(() => client.close());
  await client.start();
  await waitFor(() => client.status().lastError !== undefined, 5_000, 'the refusal');
  assert.match(client.status().lastError ?? '', /Tor/);
  assert.equal(intro.connections, 0, 'nothing reached the introducer directly');
});

test('garbage instead of TLS, and garbage HTTP inside TLS, never stop the introducer from serving', async (t) => {
  const intro = await startIntroducer(t);
  const net = await import('node:net');
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: intro.port }, () => {
        s.end(Buffer.from(Array.from({ length: 1 + i * 37 }, (_, j) => (j * 131 + i) & 0xff)));
      });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
  }
  for (const junk of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'POST /introducer/v1/publish HTTP/1.1\r\nContent-Length: -5\r\n\r\n', '\u0000\u0001\u0002']) {
    const tls = await connectPinnedTls(await openSocket({ host: '127.0.0.1', port: intro.port }, { gate: OPEN_GATE, purpose: 'local' }), { spkiHash: intro.nurl.spkiHash });
    await new Promise<void>((resolve) => {
      tls.on('error', () => resolve());
      tls.on('close', () => resolve());
      tls.resume();
      tls.end(junk);
    });
  }
  const ok = await raw(intro.nurl, 'GET', PATHS.version);
  assert.equal(ok.status, 200);
});
