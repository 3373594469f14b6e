/**
 * SOCKS5 client: reply codes, garbage, slow replies and aborts against an in-process fake
 * proxy (fault injection); tor's own local answers (F6, SafeSocks 02) against a real tor
 * whose only bridge is an unreachable loopback port (nothing leaves the host).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { TahoeError, type ErrorKind } from '../../../src/errors.js';
import { OPEN_GATE, type EgressGate, type SocketEndpoint } from '../../../src/net/socket.js';
import { connectTorControl, type TorEvent } from '../../../src/net/tor/control.js';
import { ISOLATION_USERNAME, socks5Connect, StreamIsolation, type Socks5ConnectOptions } from '../../../src/net/tor/socks5.js';
import { tahoeError } from './expect.js';
import { replyBytes, startFakeSocks, type FakeConnection } from './fake-socks.js';
import { fileScope, privateTempDir, startOfflineTor, waitFor, type OfflineTor } from './offline-tor.js';

const VALID_ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const BAD_CHECKSUM_ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqeac.onion';

function dial(proxy: SocketEndpoint, extra: Partial<Socks5ConnectOptions> = {}) {
  return socks5Connect({ proxy, gate: OPEN_GATE, host: 'example.onion', port: 3457, timeoutMs: 5000, ...extra });
}

async function roundTrip(socket: import('node:net').Socket, text: string): Promise<string> {
  socket.write(text);
  let got = '';
  for await (const chunk of socket) {
    got += String(chunk);
    if (got.length >= text.length) break;
  }
  return got;
}

test('success: host names go as ATYP 3, IPv4 literals as ATYP 1, data flows both ways', async (t) => {
  const fake = await startFakeSocks(t);
  const a = await dial(fake.endpoint, { host: VALID_ONION, port: 3457 });
  t.after(() => a.destroy());
  assert.equal(await roundTrip(a, 'hello tor'), 'hello tor');
  const b = await dial(fake.endpoint, { host: '10.1.2.3', port: 80 });
  t.after(() => b.destroy());
  assert.deepEqual(fake.requests.map((r) => [r.command, r.atyp, r.host, r.port]), [
    [1, 3, VALID_ONION, 3457],
    [1, 1, '10.1.2.3', 80],
  ]);
  assert.deepEqual(fake.requests[0].methods, [0], 'no credentials ⇒ only "no auth" offered');
});

test('IPv6 literals and unusable names are refused before anything is sent', async (t) => {
  const fake = await startFakeSocks(t);
  for (const host of ['::1', '[2001:db8::1]', 'fe80::1%eth0']) {
    await assert.rejects(dial(fake.endpoint, { host }), tahoeError('EndpointInvalid', (e) => /IPv6/.test(e.hint)));
  }
  for (const host of ['', 'a b', 'x'.repeat(256), 'bad\0name', 'ünï.onion']) {
    await assert.rejects(dial(fake.endpoint, { host }), tahoeError('EndpointInvalid'));
  }
  for (const port of [0, 65536, 1.5, -1]) await assert.rejects(dial(fake.endpoint, { port }), tahoeError('EndpointInvalid'));
  assert.equal(fake.connections.length, 0, 'the proxy was never contacted');
});

test('every reply code maps to a typed error that keeps the code', async (t) => {
  const expected: Array<[number, ErrorKind]> = [
    [0x01, 'ProxyRefused'], [0x02, 'ProxyRefused'], [0x03, 'ProxyRefused'], [0x04, 'ServerUnreachable'],
    [0x05, 'ServerUnreachable'], [0x06, 'Timeout'], [0x07, 'ProxyRefused'], [0x08, 'ProxyRefused'],
    [0xf0, 'OnionNotFound'], [0xf1, 'OnionUnreachable'], [0xf2, 'OnionUnreachable'], [0xf3, 'OnionUnreachable'],
    [0xf4, 'OnionAuthRequired'], [0xf5, 'OnionAuthRequired'], [0xf6, 'OnionAddressInvalid'], [0xf7, 'OnionUnreachable'],
    [0x42, 'ProxyRefused'], [0xff, 'ProxyRefused'],
  ];
  for (const [code, kind] of expected) {
    const fake = await startFakeSocks(t, { reply: code });
    await assert.rejects(dial(fake.endpoint), tahoeError(kind, (e) => e.details.code === code && e.hint.length > 20));
  }
  // Tor may hang up right after the first two bytes of a failure reply.
  const abrupt = await startFakeSocks(t, {
    script: async (c) => {
      await c.greeting();
      c.write([5, 0]);
      await c.request();
      c.write([5, 0xf4]);
      c.socket.end();
    },
  });
  await assert.rejects(dial(abrupt.endpoint), tahoeError('OnionAuthRequired', (e) => e.details.code === 0xf4 && /ClientAuthV3/.test(e.hint)));
});

test('replies with a domain or IPv6 bound address are read whole; data right behind the reply is kept', async (t) => {
  for (const tail of [[3, 4, 0x61, 0x62, 0x63, 0x64, 0, 80], [4, ...new Array<number>(16).fill(0), 1, 187]]) {
    const fake = await startFakeSocks(t, {
      script: async (c) => {
        await c.greeting();
        c.write([5, 0]);
        await c.request();
        // reply and the server's first bytes in one segment
        c.write([5, 0, 0, ...tail, ...Buffer.from('server speaks first')]);
      },
    });
    const socket = await dial(fake.endpoint);
    t.after(() => socket.destroy());
    let got = '';
    for await (const chunk of socket) {
      got += String(chunk);
      if (got.length >= 19) break;
    }
    assert.equal(got, 'server speaks first');
  }
});

test('garbage, short and oversized replies ⇒ ProxyProtocolError', async (t) => {
  const scripts: Array<[string, (c: FakeConnection) => Promise<void>]> = [
    ['SOCKS4 answer', async (c) => { await c.greeting(); c.write([0, 0x5a]); }],
    ['HTTP answer', async (c) => { await c.greeting(); c.write(Buffer.from('HTTP/1.0 501 Tor is not an HTTP Proxy\r\n\r\n')); }],
    ['unoffered method', async (c) => { await c.greeting(); c.write([5, 1]); }],
    ['extra bytes after method', async (c) => { await c.greeting(); c.write([5, 0, 9, 9]); }],
    ['close after greeting', async (c) => { await c.greeting(); c.write([5]); c.socket.end(); }],
    ['bad reply version', async (c) => { await c.greeting(); c.write([5, 0]); await c.request(); c.write([4, 0, 0, 1, 0, 0, 0, 0, 0, 0]); }],
    ['bad ATYP', async (c) => { await c.greeting(); c.write([5, 0]); await c.request(); c.write([5, 0, 0, 9, 0, 0]); }],
    ['short success reply', async (c) => { await c.greeting(); c.write([5, 0]); await c.request(); c.write([5, 0, 0, 1, 127]); c.socket.end(); }],
    ['immediate close', async (c) => { c.socket.end(); }],
  ];
  for (const [name, script] of scripts) {
    const fake = await startFakeSocks(t, { script });
    await assert.rejects(dial(fake.endpoint), tahoeError('ProxyProtocolError'), name);
  }
  const badAuth = await startFakeSocks(t, { script: async (c) => { await c.greeting(); c.write([5, 2]); await c.auth(); c.write([1, 1]); } });
  await assert.rejects(dial(badAuth.endpoint, { credentials: { username: 'u', password: 'p' } }), tahoeError('ProxyRefused'));
  const noAuth = await startFakeSocks(t, { script: async (c) => { await c.greeting(); c.write([5, 0xff]); } });
  await assert.rejects(dial(noAuth.endpoint, { credentials: { username: 'u', password: 'p' } }), tahoeError('ProxyRefused'));
  const skipsAuth = await startFakeSocks(t, { script: async (c) => { await c.greeting(); c.write([5, 0]); } });
  await assert.rejects(dial(skipsAuth.endpoint, { credentials: { username: 'u', password: 'p' } }), tahoeError('ProxyProtocolError'), 'a proxy that skips our credentials loses isolation: refused');
});

test('fuzz: random proxy answers never yield anything but TahoeErrors', async (t) => {
  let n = 0;
  const fake = await startFakeSocks(t, {
    script: async (c) => {
      const i = n++;
      const bytes = Buffer.from(Array.from({ length: (i * 7) % 23 }, () => Math.floor(Math.random() * 256)));
      if (i % 2 === 0) bytes[0] = 5;
      if (i % 4 === 0 && bytes.length > 1) bytes[1] = 0;
      await c.greeting();
      c.write(bytes);
      if (i % 3 === 0) c.socket.end();
    },
  });
  for (let i = 0; i < 150; i++) {
    try {
      const s = await dial(fake.endpoint, { timeoutMs: 150 });
      s.destroy();
    } catch (e) {
      assert.ok(e instanceof TahoeError, `non-TahoeError: ${String(e)}`);
    }
  }
});

test('slow proxy: timeout and abort end the handshake and close the socket', async (t) => {
  const fake = await startFakeSocks(t, {
    script: async (c) => {
      await c.greeting();
      c.write([5, 0]);
      await c.request(); // and never answer
    },
  });
  const started = Date.now();
  await assert.rejects(dial(fake.endpoint, { timeoutMs: 300 }), tahoeError('Timeout', (e) => e.details.timeoutMs === 300));
  assert.ok(Date.now() - started < 2000);
  await fake.connections[0].whenClosed();

  const controller = new AbortController();
  const pending = dial(fake.endpoint, { timeoutMs: undefined, signal: controller.signal });
  await waitFor(() => fake.connections.length === 2, 2000, 'second connection');
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(pending, tahoeError('Aborted'));
  await fake.connections[1].whenClosed();
  const already = AbortSignal.abort();
  await assert.rejects(dial(fake.endpoint, { signal: already }), tahoeError('Aborted'));
  assert.equal(fake.connections.length, 2, 'an aborted signal opens no connection');
});

test('optimistic data is sent right behind the CONNECT request', async (t) => {
  let seen: Buffer | undefined;
  const fake = await startFakeSocks(t, {
    script: async (c) => {
      await c.greeting();
      c.write([5, 0]);
      await c.request();
      seen = await c.rest(100); // before we answer
      c.write(replyBytes(0));
    },
  });
  const socket = await dial(fake.endpoint, { optimisticData: Buffer.from('\x16\x03\x01 client hello') });
  socket.destroy();
  assert.equal(seen?.toString('latin1'), '\x16\x03\x01 client hello');
});

test('isolation: two keys ⇒ different credentials; the same key ⇒ the same; rotate() changes them', async (t) => {
  const fake = await startFakeSocks(t);
  const isolation = new StreamIsolation();
  for (const key of ['server-A', 'server-B', 'server-A']) {
    const s = await dial(fake.endpoint, { credentials: isolation.credentialsFor(key) });
    s.destroy();
  }
  isolation.rotate();
  const s = await dial(fake.endpoint, { credentials: isolation.credentialsFor('server-A') });
  s.destroy();
  const [a1, b, a2, a3] = fake.requests;
  for (const r of fake.requests) {
    assert.deepEqual(r.methods, [2], 'only username/password offered');
    assert.equal(r.username, ISOLATION_USERNAME);
    assert.match(r.password ?? '', /^[0-9a-f]{32}$/);
  }
  assert.notEqual(a1.password, b.password);
  assert.equal(a1.password, a2.password);
  assert.notEqual(a3.password, a1.password);
});

test('SOCKS over a unix socket; the gate sees purpose tor-socks', async (t) => {
  const dir = privateTempDir(t);
  const fake = await startFakeSocks(t, { unixPath: path.join(dir, 'socks') });
  const purposes: string[] = [];
  const gate: EgressGate = { allowNameResolution: false, check: (_e, purpose) => void purposes.push(purpose) };
  const s = await socks5Connect({ proxy: fake.endpoint, gate, host: VALID_ONION, port: 80 });
  assert.equal(await roundTrip(s, 'over unix'), 'over unix');
  s.destroy();
  assert.deepEqual(purposes, ['tor-socks']);
  const denying: EgressGate = { allowNameResolution: false, check: () => { throw new TahoeError('PrivacyViolation', 'no'); } };
  await assert.rejects(socks5Connect({ proxy: fake.endpoint, gate: denying, host: VALID_ONION, port: 80 }), tahoeError('PrivacyViolation'));
  await assert.rejects(dial({ host: '127.0.0.1', port: 1 }), tahoeError('ServerUnreachable', (e) => /tor running/.test(e.hint)));
});

// ---- against real tor ------------------------------------------------------------------

let tor: OfflineTor;
let socks: SocketEndpoint;
const scope = fileScope();
before(async () => {
  tor = await startOfflineTor(scope, { network: 'bridge' });
  const control = await connectTorControl(tor.control, { gate: OPEN_GATE });
  try {
    await waitFor(async () => (await control.getSocksListeners()).length > 0, 10_000, 'tor SOCKS listener');
    [socks] = await control.getSocksListeners();
  } finally {
    await control.close();
  }
});
after(() => scope.run());

test('real tor: a bad onion checksum ⇒ F6 OnionAddressInvalid', async () => {
  const started = Date.now();
  await assert.rejects(
    socks5Connect({ proxy: socks, gate: OPEN_GATE, host: BAD_CHECKSUM_ONION, port: 80, timeoutMs: 10_000, credentials: new StreamIsolation().credentialsFor('x') }),
    tahoeError('OnionAddressInvalid', (e) => e.details.code === 0xf6),
  );
  assert.ok(Date.now() - started < 2000, 'tor answers locally at once');
});

test('real tor: an IP literal with SafeSocks ⇒ 02 ProxyRefused', async () => {
  await assert.rejects(socks5Connect({ proxy: socks, gate: OPEN_GATE, host: '192.0.2.1', port: 80, timeoutMs: 10_000 }), tahoeError('ProxyRefused', (e) => e.details.code === 0x02));
});

test('real tor: a valid onion with no network never answers; our timeout ends it', async () => {
  await assert.rejects(socks5Connect({ proxy: socks, gate: OPEN_GATE, host: VALID_ONION, port: 80, timeoutMs: 700 }), tahoeError('Timeout'));
});

test('real tor: bootstrap events arrive as typed STATUS_CLIENT events', async (t) => {
  const control = await connectTorControl(tor.control, { gate: OPEN_GATE });
  t.after(() => control.close());
  const events: TorEvent[] = [];
  control.onEvent((e) => events.push(e));
  await control.setEvents(['STATUS_CLIENT']);
  // Re-enabling the network makes tor retry its (unreachable) bridge and report progress.
  await control.setConf({ DisableNetwork: '1' });
  await control.setConf({ DisableNetwork: '0' });
  await waitFor(() => events.some((e) => e.type === 'STATUS_CLIENT' && e.bootstrap !== undefined), 15_000, `a STATUS_CLIENT BOOTSTRAP event\n${tor.output()}`);
  const boot = events.find((e) => e.type === 'STATUS_CLIENT' && e.bootstrap !== undefined);
  assert.ok(boot?.type === 'STATUS_CLIENT' && boot.bootstrap && boot.bootstrap.progress >= 0 && boot.bootstrap.progress < 100);
  const status = await control.getBootstrapStatus();
  assert.ok(status.progress < 100);
});
