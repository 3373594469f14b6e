/**
 * The I2P transport on a real offline i2pd, in two session waves (≈ 50 s):
 * wave 1 — three listeners (persistent keys) and a dialler's client session, in parallel;
 * wave 2 — in parallel: a listener whose session the router dropped re-creates itself, a
 * listener restarted from its key file on a fresh router keeps its address and accepts
 * streams, and a dialler whose client session died makes a new one on the next dial.
 *
 * Not tested here because i2pd 2.45 cannot do it on one offline router: streams to a
 * destination re-created on the *same* router after its old session was gone (> 5 s) never
 * arrive (its old LeaseSet lingers in the router's own netDb; see docs/i2p.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { isTahoeError } from '../../../src/errors.js';
import { generateDestination } from '../../../src/net/i2p/destination.js';
import { I2pTransport } from '../../../src/net/i2p/transport.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import type { DialProgress, RemoteInfo } from '../../../src/net/transport.js';
import type { I2pRouter } from '../../../src/testnet/i2pd.js';
import { tempDir } from '../../helpers/tmp.js';
import { readExactly, sha256, startTestRouter, withRouterLog, writeAll } from './router-fixture.js';

function makeTransport(router: I2pRouter): I2pTransport {
  return new I2pTransport({
    sam: { endpoint: router.samEndpoint, gate: OPEN_GATE, timeouts: router.timeouts },
    sessionOptions: router.sessionOptions,
    firstByteTimeoutMs: 15_000,
  });
}

/** Echo every stream back, and remember who connected. */
function echo(peers: RemoteInfo[]) {
  return (stream: Duplex, remote: RemoteInfo) => {
    peers.push(remote);
    stream.on('error', () => undefined);
    stream.pipe(stream);
  };
}

async function roundTrip(stream: Duplex, size: number): Promise<void> {
  const data = crypto.randomBytes(size);
  const reading = readExactly(stream, size);
  await writeAll(stream as unknown as NodeJS.WritableStream, data);
  assert.equal((await reading).sha256, sha256(data));
  stream.destroy();
}

test('I2P transport against a real offline i2pd', async (t) => {
  const router = await startTestRouter(t);
  if (!router) return;
  const dir = tempDir(t);
  const key1 = path.join(dir, 'one', 'i2p_dest.privkey');
  const key2 = path.join(dir, 'two', 'i2p_dest.privkey');
  const key0 = path.join(dir, 'steady', 'i2p_dest.privkey');
  const server = makeTransport(router);
  const client = makeTransport(router);
  t.after(() => Promise.all([server.close(), client.close()]));
  const peers1: RemoteInfo[] = [];
  const peers2: RemoteInfo[] = [];

  const started = Date.now();
  const [l1, l2, l0] = await Promise.all([
    server.listen({ kind: 'i2p', keyFile: key1, port: 3457 }, echo(peers1)),
    server.listen({ kind: 'i2p', keyFile: key2 }, echo(peers2)),
    // stays up through wave 2, as the target of the dial that re-creates the client session
    server.listen({ kind: 'i2p', keyFile: key0 }, echo([])),
    client.warmUp(),
  ]);
  t.diagnostic(`wave 1 (3 listeners + client session): ${Date.now() - started} ms`);
  const b32one = (l1.hints[0] as { address: string }).address;
  const b32two = (l2.hints[0] as { address: string }).address;

  await t.test('listen creates 0600 key files and announces b32 hints (with the port when given)', withRouterLog(router, async () => {
    assert.match(b32one, /^[a-z2-7]{52}\.b32\.i2p$/);
    assert.deepEqual(l1.hints, [{ kind: 'i2p', address: b32one, port: 3457 }]);
    assert.deepEqual(l2.hints, [{ kind: 'i2p', address: b32two }]);
    assert.equal(statSync(key1).mode & 0o777, 0o600);
    assert.notEqual(b32one, b32two);
    assert.match(l1.describe(), /^I2P [a-z2-7]{52}\.b32\.i2p:3457 \(up, 0 accepted\)$/);
    assert.equal(server.describe().ready, true);
    assert.match(client.describe().summary, /client session up/);
  }));

  await t.test('dial by b32 (port ignored), with progress, and a 512 KiB echo', withRouterLog(router, async () => {
    const phases: DialProgress[] = [];
    const stream = await client.dial({ kind: 'i2p', address: b32one, port: 3457 }, { onProgress: (p) => phases.push(p), timeoutMs: 30_000 });
    await roundTrip(stream, 512 * 1024);
    assert.deepEqual(phases.map((p) => p.phase), ['connecting over i2p', 'connected']);
    assert.equal(peers1.length, 1);
    assert.equal(peers1[0].transport, 'i2p');
    const clientSession = await client.currentClientSession();
    assert.equal(peers1[0].peer, clientSession?.b32, 'the listener sees the dialler\'s TRANSIENT b32, not a server identity');
  }));

  await t.test('six concurrent dials are all accepted (one pending ACCEPT at a time)', withRouterLog(router, async () => {
    const before = peers2.length;
    const streams = await Promise.all(Array.from({ length: 6 }, () => client.dial({ kind: 'i2p', address: b32two })));
    await Promise.all(streams.map((s) => roundTrip(s, 16 * 1024)));
    assert.equal(peers2.length - before, 6);
  }));

  await t.test('dial errors: unknown destination, invalid address, wrong target kind', withRouterLog(router, async () => {
    await assert.rejects(client.dial({ kind: 'i2p', address: generateDestination().destinationBase64 }), (e: unknown) => isTahoeError(e, 'ServerUnreachable'));
    await assert.rejects(client.dial({ kind: 'i2p', address: 'not an address' }), (e: unknown) => isTahoeError(e, 'I2pAddressInvalid'));
    await assert.rejects(client.dial({ kind: 'i2p', address: `${'a'.repeat(56)}.b32.i2p` }), (e: unknown) => isTahoeError(e, 'I2pAddressInvalid') && /b33/.test(e.message));
    await assert.rejects(client.dial({ kind: 'tcp', host: '127.0.0.1', port: 1 }), (e: unknown) => isTahoeError(e, 'Internal'));
    assert.equal(client.canDial({ kind: 'tcp', host: '127.0.0.1', port: 1 }), false);
    assert.equal(client.canDial({ kind: 'i2p', address: b32one }), true);
    // listening twice on the same key is refused before the router is asked
    await assert.rejects(server.listen({ kind: 'i2p', keyFile: key1 }, () => undefined), (e: unknown) => isTahoeError(e, 'BadInput'));
  }));

  await t.test('wave 2: dropped sessions are re-created, and a restart (new router) keeps the listener\'s address', withRouterLog(router, async () => {
    const wave2 = Date.now();
    // (a) the router drops listener 1's session: the accept loop re-creates it from the key
    const l1Session = () => (l1 as unknown as { currentSession: { id: string; isAlive: boolean; b32: string; close(): Promise<void> } }).currentSession;
    const oldSession = l1Session();
    await oldSession.close();
    // (b) "restart": listener 2 stops, and a new transport on a freshly started router (what
    // [i2p] launch = true gives after a restart) listens with the same key file
    await l2.close();
    const router2 = await startTestRouter(t);
    assert.ok(router2);
    const restarted = makeTransport(router2);
    const client2 = makeTransport(router2);
    t.after(() => Promise.all([restarted.close(), client2.close()]));
    const peers3: RemoteInfo[] = [];
    // (c) the dialler's client session dies: the next dial makes a new one
    const deadClient = await client.currentClientSession();
    await deadClient?.close();

    const [l3] = await Promise.all([
      restarted.listen({ kind: 'i2p', keyFile: key2 }, echo(peers3)),
      client2.warmUp(),
      (async () => {
        const phases: string[] = [];
        const s = await client.dial(l0.hints[0], { onProgress: (p) => phases.push(p.phase), timeoutMs: 90_000 });
        assert.ok(phases.includes('creating i2p session (building tunnels)'), phases.join(', '));
        await roundTrip(s, 4096);
      })(),
    ]);
    // listener 1 started its re-creation after a 6 s pause (i2pd keeps a closed destination ~5 s)
    for (let waited = 0; !(l1Session().id !== oldSession.id && l1Session().isAlive) && waited < 20_000; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
    }
    t.diagnostic(`wave 2: ${Date.now() - wave2} ms`);
    assert.notEqual(l1Session().id, oldSession.id);
    assert.equal(l1Session().b32, b32one);
    assert.match(l1.describe(), /\(up, \d+ accepted\)/);
    const newClient = await client.currentClientSession();
    assert.notEqual(newClient?.id, deadClient?.id);

    assert.deepEqual(l3.hints, [{ kind: 'i2p', address: b32two }], 'same address after restart');
    await roundTrip(await client2.dial({ kind: 'i2p', address: b32two }), 64 * 1024);
    assert.equal(peers3.length, 1);
  }));

  await t.test('close: listeners and sessions go away, later dials are refused', withRouterLog(router, async () => {
    await client.close();
    await assert.rejects(client.dial({ kind: 'i2p', address: b32one }), (e: unknown) => isTahoeError(e, 'Aborted'));
    assert.match(client.describe().summary, /closed/);
    await server.close();
    assert.equal(server.describe().ready, false);
  }));
});
