/**
 * TorTransport without tor: isolation per key, progress, lazy provider setup and its
 * retry, routing guards — against the in-process fake SOCKS proxy. The real thing runs in
 * tor-network.test.ts (compliance suite on a private Tor network).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TahoeError } from '../../../src/errors.js';
import { OPEN_GATE, type SocketEndpoint } from '../../../src/net/socket.js';
import type { TorProvider } from '../../../src/net/tor/provider.js';
import { ISOLATION_USERNAME } from '../../../src/net/tor/socks5.js';
import { TorTransport } from '../../../src/net/tor/transport.js';
import type { DialProgress } from '../../../src/net/transport.js';
import { tahoeError } from './expect.js';
import { startFakeSocks } from './fake-socks.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';

function socksOnly(socks: SocketEndpoint, onClose: () => void = () => undefined): TorProvider {
  return { mode: 'socks-port', socks, control: undefined, controlEndpoint: undefined, version: undefined, describe: () => 'fake socks', close: async () => onClose() };
}

test('each isolation key gets its own credentials; the same key keeps them; rotateIsolation() renews them', async (t) => {
  const fake = await startFakeSocks(t);
  const transport = new TorTransport({ provider: socksOnly(fake.endpoint), gate: OPEN_GATE });
  t.after(() => transport.close());
  for (const key of ['server-1', 'server-2', 'server-1', undefined, undefined]) {
    (await transport.dial({ kind: 'tor', host: ONION, port: 3457 }, { isolationKey: key })).destroy();
  }
  transport.rotateIsolation();
  (await transport.dial({ kind: 'tor', host: ONION, port: 3457 }, { isolationKey: 'server-1' })).destroy();
  const passwords = fake.requests.map((r) => r.password);
  assert.ok(fake.requests.every((r) => r.username === ISOLATION_USERNAME && r.host === ONION && r.atyp === 3));
  assert.notEqual(passwords[0], passwords[1]);
  assert.equal(passwords[0], passwords[2]);
  assert.equal(passwords[3], passwords[4], 'dials without a key share one default identity');
  assert.ok(!passwords.slice(0, 3).includes(passwords[3]));
  assert.ok(!passwords.slice(0, 5).includes(passwords[5]), 'new credentials after rotation');
});

test('dial reports progress phases as transport tor', async (t) => {
  const fake = await startFakeSocks(t);
  const transport = new TorTransport({ provider: socksOnly(fake.endpoint), gate: OPEN_GATE });
  t.after(() => transport.close());
  const phases: DialProgress[] = [];
  (await transport.dial({ kind: 'tor', host: ONION, port: 1 }, { onProgress: (p) => phases.push(p) })).destroy();
  assert.ok(phases.every((p) => p.transport === 'tor'));
  assert.deepEqual(phases.map((p) => p.phase), ['connecting to tor', 'socks handshake', 'waiting for tor to open the stream', 'connected']);
  const lazy = new TorTransport({ provider: async () => socksOnly(fake.endpoint), gate: OPEN_GATE });
  t.after(() => lazy.close());
  const lazyPhases: string[] = [];
  (await lazy.dial({ kind: 'tor', host: ONION, port: 1 }, { onProgress: (p) => lazyPhases.push(p.phase) })).destroy();
  assert.equal(lazyPhases[0], 'setting up tor', 'the first dial of a lazy transport says it is setting tor up');
});

test('a lazy provider is set up once, on first use, and retried after a failure', async (t) => {
  const fake = await startFakeSocks(t);
  let calls = 0;
  let closed = 0;
  const transport = new TorTransport({
    gate: OPEN_GATE,
    provider: async () => {
      calls++;
      if (calls === 1) throw new TahoeError('TorUnavailable', 'not yet');
      return socksOnly(fake.endpoint, () => closed++);
    },
  });
  assert.equal(calls, 0, 'nothing happens before the first dial');
  assert.equal(transport.describe().ready, false);
  await assert.rejects(transport.dial({ kind: 'tor', host: ONION, port: 1 }), tahoeError('TorUnavailable'));
  const [a, b] = await Promise.all([transport.dial({ kind: 'tor', host: ONION, port: 1 }), transport.dial({ kind: 'tor', host: ONION, port: 2 })]);
  a.destroy();
  b.destroy();
  assert.equal(calls, 2);
  assert.equal(transport.describe().ready, true);
  await transport.close();
  assert.equal(closed, 1, 'close() closes the provider');
  await assert.rejects(transport.dial({ kind: 'tor', host: ONION, port: 1 }), tahoeError('Internal'));
});

test('routing guards: only tor targets and onion listeners; bad onions and private numbers never reach the proxy', async (t) => {
  const fake = await startFakeSocks(t);
  const transport = new TorTransport({ provider: socksOnly(fake.endpoint), gate: OPEN_GATE });
  t.after(() => transport.close());
  assert.equal(transport.canDial({ kind: 'tor', host: ONION, port: 1 }), true);
  assert.equal(transport.canDial({ kind: 'tcp', host: 'example.org', port: 1 }), false);
  assert.equal(transport.canDial({ kind: 'i2p', address: 'x.i2p' }), false);
  assert.equal(transport.hidesIp, true);
  await assert.rejects(transport.dial({ kind: 'tcp', host: 'example.org', port: 80 }), tahoeError('Internal'));
  await assert.rejects(transport.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, () => undefined), tahoeError('Internal'));
  for (const host of ['127.0.0.1', '10.1.2.3', '192.168.1.1', '169.254.1.1', '::1', '[2001:db8::1]', '0x7f.1']) {
    await assert.rejects(transport.dial({ kind: 'tor', host, port: 80 }), tahoeError('EndpointInvalid'), host);
  }
  await assert.rejects(transport.dial({ kind: 'tor', host: ONION.replace('d.onion', 'c.onion'), port: 80 }), tahoeError('OnionAddressInvalid'));
  await assert.rejects(transport.dial({ kind: 'tor', host: 'expyuzz4wqqyqhjn.onion', port: 80 }), tahoeError('OnionAddressInvalid', (e) => /v2|version 2/.test(e.message)));
  assert.equal(fake.connections.length, 0);
  (await transport.dial({ kind: 'tor', host: 'example.org', port: 443 })).destroy();
  assert.equal(fake.requests[0].host, 'example.org', 'clearnet names go to tor as names (anonymize mode)');
});
