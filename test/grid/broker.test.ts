/**
 * The storage broker against real storage servers: parallel NURL probing, liveness
 * polling, backoff, reconnection, announcement updates, statuses, permuted order.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { StorageBroker, DEFAULT_TIMING } from '../../src/grid/broker.js';
import { permutedServers } from '../../src/grid/permute.js';
import { defaultStorageApiFactory, type ServerEvent } from '../../src/grid/client.js';
import { bytesSource } from '../../src/immutable/source.js';
import { TahoeError, isTahoeError } from '../../src/errors.js';
import { base32Decode } from '../../src/crypto/base32.js';
import { freePort } from '../helpers/ports.js';
import { TEST_TIMING, hookedFactory, startGrid, testRouter } from './fixture.js';

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('defaults poll gently (Tor) and back off to 5 minutes', () => {
  assert.ok(DEFAULT_TIMING.pollIntervalMs >= 10_000 && DEFAULT_TIMING.pollIntervalMs <= 30_000);
  assert.equal(DEFAULT_TIMING.minBackoffMs, 1_000);
  assert.equal(DEFAULT_TIMING.maxBackoffMs, 300_000);
});

test('statuses for the welcome page; all NURLs probed, the working one kept', async (t) => {
  const grid = await startGrid(t, { servers: 2 });
  const [a, b] = grid.nodes;
  const deadPort = await freePort();
  const goodNurl = (a.staticServer.announcement['anonymous-storage-NURLs'] as string[])[0];
  // First a NURL to a closed port, then one with a wrong pin on the right port, then the real one.
  const wrongPin = goodNurl.replace(/^pb:\/\/[^@]+@/, `pb://${randomBytes(32).toString('base64url')}@`);
  const deadNurl = goodNurl.replace(/:\d+\//, `:${deadPort}/`);
  // And one to a port that accepts and then says nothing (it would hold a probe for 5 s).
  const silentSockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of silentSockets) socket.destroy();
    silent.close();
  });
  const silentNurl = goodNurl.replace(/:\d+\//, `:${(silent.address() as net.AddressInfo).port}/`);
  const broker = new StorageBroker({ router: testRouter(), clientFactory: defaultStorageApiFactory(TEST_TIMING), timing: TEST_TIMING });
  t.after(() => broker.close());
  const events: ServerEvent[] = [];
  broker.onEvent((e) => events.push(e));
  broker.addAnnouncement(a.serverId, { ...a.staticServer.announcement, 'anonymous-storage-NURLs': [silentNurl, deadNurl, wrongPin, goodNurl] }, 'introducer');
  broker.addStatic(b.staticServer);
  const started = Date.now();
  await broker.waitForServers(2, { timeoutMs: 10_000 });
  assert.ok(Date.now() - started < 4_000, 'the silent NURL was not waited for');
  const statuses = broker.statuses();
  assert.deepEqual(statuses.map((s) => s.nickname), ['server-0', 'server-1']);
  for (const s of statuses) {
    assert.equal(s.connected, true);
    assert.equal(s.transport, 'tcp');
    assert.ok(typeof s.since === 'number' && s.since <= Date.now());
    assert.ok(typeof s.lastRttMs === 'number' && s.lastRttMs >= 0);
    assert.ok(typeof s.availableSpace === 'bigint' && s.availableSpace > 0n);
    assert.equal(s.lastError, undefined);
  }
  assert.equal(statuses[0].announcedVia, 'introducer');
  assert.equal(statuses[1].announcedVia, 'servers.yaml');
  assert.deepEqual(events.filter((e) => e.type === 'added').map((e) => e.serverId).sort(), [a.serverId, b.serverId].sort());
  assert.equal(events.filter((e) => e.type === 'connected').length, 2);
});

/** One server and a broker that notes the time of every `version` probe; retries from 100 ms, no jitter. */
async function oneServerWithProbeLog(t: TestContext, maxBackoffMs: number) {
  const grid = await startGrid(t, { servers: 1 });
  const probes: number[] = [];
  const broker = new StorageBroker({
    router: testRouter(),
    clientFactory: hookedFactory(({ method }) => void (method === 'version' && probes.push(Date.now()))),
    timing: { ...TEST_TIMING, pollIntervalMs: 300, minBackoffMs: 100, maxBackoffMs, probeTimeoutMs: 1_000 },
    random: () => 0.999, // no jitter: the backoff steps are exact
  });
  t.after(() => broker.close());
  return { node: grid.nodes[0], probes, broker };
}

test('a server that dies is noticed by the poll, retried with backoff, and reconnected', async (t) => {
  const { node, probes, broker } = await oneServerWithProbeLog(t, 800);
  const events: ServerEvent[] = [];
  broker.onEvent((e) => events.push(e));
  broker.addStatic(node.staticServer);
  await broker.waitForServers(1, { timeoutMs: 5_000 });
  const connectedSince = broker.statuses()[0].since as number;
  await node.kill();
  await eventually(() => events.some((e) => e.type === 'disconnected'), 'the disconnect event');
  const down = broker.statuses()[0];
  assert.equal(down.connected, false);
  assert.ok((down.since as number) > connectedSince);
  assert.match(down.lastError ?? '', /hint:/);
  // Let it fail a few times: the gaps between attempts double up to the cap.
  const from = probes.length;
  await new Promise((r) => setTimeout(r, 2_500));
  const gaps = probes.slice(from).map((p, i, all) => (i === 0 ? 0 : p - all[i - 1])).slice(1);
  assert.ok(gaps.length >= 2 && gaps.length <= 6, `attempts while down: ${gaps.length + 1}`);
  for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i] >= gaps[i - 1] * 0.9 || gaps[i] >= 700, `gaps grow: ${gaps.join(', ')}`);
  // Capped at 800 ms (plus however late a busy machine fires timers).
  assert.ok(Math.max(...gaps) < 800 + 1_200, `capped: ${gaps.join(', ')}`);
  await node.restart();
  await eventually(() => broker.statuses()[0].connected, 'the reconnection', 5_000);
  assert.equal(broker.statuses()[0].lastError, undefined);
  assert.equal(events.filter((e) => e.type === 'connected').length, 2);
});

test('a fresh announcement from a server that is down restarts the backoff: it is probed at once, then from the shortest step', async (t) => {
  const { node, probes, broker } = await oneServerWithProbeLog(t, 60_000);
  broker.addAnnouncement(node.serverId, { ...node.staticServer.announcement, seqnum: 1 });
  await broker.waitForServers(1, { timeoutMs: 5_000 });
  await node.kill();
  // Down long enough for the steps to reach seconds: 100, 200, 400, 800, 1600 ms, …
  await eventually(() => probes.length >= 7, 'six failed probes', 15_000);
  const quiet = probes.length;
  const announced = Date.now();
  broker.addAnnouncement(node.serverId, { ...node.staticServer.announcement, seqnum: 2 });
  await eventually(() => probes.length > quiet, 'a probe right after the announcement', 2_000);
  assert.ok(probes[quiet] - announced < 1_000, 'probed at once');
  await node.restart();
  await eventually(() => broker.statuses()[0].connected, 'the reconnection, well before the old series\' next step (≥ 3.2 s)', 3_000);
});

test('connected servers are polled at the configured interval, not every second', async (t) => {
  const grid = await startGrid(t, { servers: 3 });
  let versions = 0;
  const broker = new StorageBroker({
    router: testRouter(),
    clientFactory: hookedFactory(({ method }) => void (method === 'version' && versions++)),
    timing: { ...TEST_TIMING, pollIntervalMs: 1_000 },
  });
  t.after(() => broker.close());
  for (const n of grid.nodes) broker.addStatic(n.staticServer);
  await broker.waitForServers(3, { timeoutMs: 5_000 });
  const start = versions;
  await new Promise((r) => setTimeout(r, 2_600));
  const polls = versions - start;
  // ~2.5 polls per server; a busy machine only delays timers, so the upper bound is the point.
  assert.ok(polls >= 2 && polls <= 9, `3 servers × ~2.5 polls expected, got ${polls}`);
});

test('announcement updates: newer replaces, older is ignored, a rename keeps the connection', async (t) => {
  const grid = await startGrid(t, { servers: 2 });
  const [a, b] = grid.nodes;
  const broker = new StorageBroker({ router: testRouter(), clientFactory: defaultStorageApiFactory(TEST_TIMING), timing: TEST_TIMING });
  t.after(() => broker.close());
  const events: ServerEvent[] = [];
  broker.onEvent((e) => events.push(e));
  broker.addAnnouncement(a.serverId, { ...a.staticServer.announcement, seqnum: 5 });
  await broker.waitForServers(1, { timeoutMs: 5_000 });
  const api = broker.get(a.serverId)?.api;
  broker.addAnnouncement(a.serverId, { ...a.staticServer.announcement, seqnum: 6, nickname: 'renamed' });
  assert.equal(broker.statuses()[0].nickname, 'renamed');
  assert.equal(broker.get(a.serverId)?.api, api, 'same connection');
  assert.equal(broker.statuses()[0].connected, true);
  broker.addAnnouncement(a.serverId, { ...a.staticServer.announcement, seqnum: 4, nickname: 'stale' });
  assert.equal(broker.statuses()[0].nickname, 'renamed', 'an older seqnum never wins');
  // New connection details (here: the other server's NURL under this id): reconnect.
  broker.addAnnouncement(a.serverId, { ...b.staticServer.announcement, seqnum: 7 });
  assert.equal(events.filter((e) => e.type === 'changed').length, 2);
  await eventually(() => broker.statuses()[0].connected, 'the reconnect');
  broker.remove(a.serverId);
  assert.deepEqual(broker.statuses(), []);
  assert.equal(events.at(-1)?.type, 'removed');
  assert.throws(() => broker.addAnnouncement('v0-x', { nickname: 'no furl' }), (e: unknown) => isTahoeError(e, 'BadInput'));
});

test('a server without HTTPS NURLs is listed with the reason it cannot be used', async (t) => {
  const grid = await startGrid(t, { servers: 1 });
  const broker = new StorageBroker({ router: testRouter(), clientFactory: defaultStorageApiFactory(TEST_TIMING), timing: TEST_TIMING });
  t.after(() => broker.close());
  const { serverId, announcement } = grid.nodes[0].staticServer;
  broker.addAnnouncement(serverId, { ...announcement, 'anonymous-storage-NURLs': [] });
  await eventually(() => broker.statuses()[0].lastError !== undefined, 'the error');
  const s = broker.statuses()[0];
  assert.equal(s.connected, false);
  assert.match(s.lastError ?? '', /Foolscap/);
  assert.ok(!(s.lastError ?? '').includes('pb://'), 'no fURL (swissnum) in the status');
  await assert.rejects(broker.waitForServers(1, { timeoutMs: 300 }), (e: unknown) => {
    assert.ok(isTahoeError(e, 'Timeout'));
    assert.match(e.message, /only 0 of the 1/);
    return true;
  });
});

test('permuted order per storage index; uploads use the first N servers in it', async (t) => {
  const grid = await startGrid(t, { servers: 12 });
  const client = await grid.client();
  const data = randomBytes(100_000);
  const r = await client.uploadImmutable(bytesSource(data), data.length);
  const si = base32Decode(r.storageIndex as string);
  const broker = new StorageBroker({ router: testRouter(), clientFactory: defaultStorageApiFactory(TEST_TIMING), timing: TEST_TIMING });
  t.after(() => broker.close());
  for (const n of grid.nodes) broker.addStatic(n.staticServer);
  await broker.waitForServers(12, { timeoutMs: 10_000 });
  const order = broker.permuted(si).map((s) => s.id);
  assert.deepEqual(order, permutedServers(broker.all(), si).map((s) => s.id));
  const holders = new Set<string>();
  for (const n of grid.nodes) if ((await n.listShares(r.storageIndex as string)).length > 0) holders.add(n.serverId);
  assert.deepEqual([...holders].sort(), order.slice(0, 10).sort(), 'the first 10 servers in permuted order hold the shares');
});

test('the last error shown for a server is redacted', async (t) => {
  const grid = await startGrid(t, { servers: 1 });
  const broker = new StorageBroker({
    router: testRouter(),
    clientFactory: hookedFactory(({ method }) => {
      if (method === 'version') throw new TahoeError('ServerUnreachable', 'connection to 203.0.113.5:3456 and abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz234a.onion refused; URI:CHK:secret:stuff');
    }),
    timing: TEST_TIMING,
  });
  t.after(() => broker.close());
  broker.addStatic(grid.nodes[0].staticServer);
  await eventually(() => broker.statuses()[0].lastError !== undefined, 'the error');
  const shown = broker.statuses()[0].lastError ?? '';
  assert.ok(!shown.includes('203.0.113.5') && !shown.includes('.onion') && !shown.includes('secret'), shown);
  assert.match(shown, /\[ip\]/);
});

test('a servers.yaml per-server [connections] override picks the router for that server', async (t) => {
  const grid = await startGrid(t, { servers: 2 });
  const asked: string[] = [];
  const broker = new StorageBroker({
    router: testRouter(),
    routerFor: (handler) => {
      asked.push(handler);
      return testRouter();
    },
    clientFactory: defaultStorageApiFactory(TEST_TIMING),
    timing: TEST_TIMING,
  });
  t.after(() => broker.close());
  broker.addStatic({ ...grid.nodes[0].staticServer, tcpHandler: 'tcp' });
  broker.addStatic(grid.nodes[1].staticServer);
  await broker.waitForServers(2, { timeoutMs: 5_000 });
  assert.deepEqual(asked, ['tcp']);
});
