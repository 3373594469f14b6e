import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import { TahoeError, isTahoeError } from '../../src/errors.js';
import { createPolicy, type PrivacySettings } from '../../src/net/policy.js';
import { ConnectionRouter, type Route } from '../../src/net/router.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { hintToDialTarget, parseFurl, parseHint, parseNurl, type ConnectionHint } from '../../src/net/hints.js';
import type { DialOptions, DialTarget, Listener, Transport, TransportName } from '../../src/net/transport.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const B32 = `${'a'.repeat(52)}.b32.i2p`;
const SPKI = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const SWISS = 'xphmwz6lx24rh2nxlinnixphmwz6lx24';

/**
 * Stand-in for the tor and i2p transports (built by other rooms, tested by their own
 * compliance runs): it records what the router asks it to dial. The tcp transport in these
 * tests is the real one.
 */
class RecordingTransport implements Transport {
  readonly dialled: DialTarget[] = [];
  constructor(readonly name: TransportName, private readonly fail?: (t: DialTarget) => TahoeError | undefined) {}
  get hidesIp(): boolean {
    return this.name !== 'tcp';
  }
  canDial(target: DialTarget): boolean {
    return target.kind === this.name;
  }
  async dial(target: DialTarget): Promise<Duplex> {
    this.dialled.push(target);
    const failure = this.fail?.(target);
    if (failure) throw failure;
    return new PassThrough();
  }
  async listen(): Promise<Listener> {
    throw new TahoeError('Internal', 'not used in router tests');
  }
  describe() {
    return { name: this.name, ready: true, summary: 'recording' };
  }
  async close(): Promise<void> {}
}

function settings(overrides: Partial<PrivacySettings> = {}): PrivacySettings {
  return { torEnabled: true, i2pEnabled: true, ...overrides };
}
const HIDDEN: Partial<PrivacySettings> = { anonymize: true };

function makeRouter(overrides: Partial<PrivacySettings>, names: TransportName[] = ['tcp', 'tor', 'i2p'], tcpHandler?: 'tcp' | 'tor' | 'disabled') {
  const policy = createPolicy(settings(overrides));
  const tor = new RecordingTransport('tor');
  const i2p = new RecordingTransport('i2p');
  const tcp = new TcpTransport({ gate: policy.gate });
  const all = new Map<TransportName, Transport>([['tcp', tcp], ['tor', tor], ['i2p', i2p]]);
  const transports = new Map([...all].filter(([n]) => names.includes(n)));
  return { router: new ConnectionRouter({ policy, transports, tcpHandler }), tor, i2p, tcp, policy };
}

const hints = (...texts: string[]): ConnectionHint[] => texts.map((t) => parseHint(t, { allowUnknown: true }));
const summary = (routes: Route<unknown>[]) => routes.map((r) => `${r.via}:${r.target.kind === 'i2p' ? r.target.address : `${r.target.host}:${r.target.port}`}`);

test('tcp hints go direct by default; tor:/.onion go to tor and i2p: to i2p even without anonymize (client use case 2)', () => {
  const { router } = makeRouter({});
  const routes = router.routeHints(hints(`tor:${ONION}:3457`, 'tcp:example.net:3456', `i2p:${B32}:3457`, `${ONION}:80`));
  assert.deepEqual(summary(routes), ['tcp:example.net:3456', `tor:${ONION}:3457`, `tor:${ONION}:80`, `i2p:${B32}`]);
  assert.deepEqual(routes[0].item, parseHint('tcp:example.net:3456'));
});

test('[connections] tcp = tor: tcp hints become tor targets carrying the unresolved host name', () => {
  const { router } = makeRouter({ connectionsTcp: 'tor' });
  const [route] = router.routeHints(hints('tcp:storage.example.net:3456'));
  assert.equal(route.via, 'tor');
  assert.deepEqual(route.target, { kind: 'tor', host: 'storage.example.net', port: 3456 });
});

test('[connections] tcp = disabled: tcp hints are skipped with the fix', () => {
  const { router } = makeRouter({ connectionsTcp: 'disabled' });
  const plan = router.plan(hints('tcp:example.net:3456', `tor:${ONION}:3457`), hintToDialTarget);
  assert.deepEqual(summary(plan.routes), [`tor:${ONION}:3457`]);
  assert.equal(plan.skipped.length, 1);
  assert.match(plan.skipped[0].reason, /tcp = disabled/);
  assert.throws(() => router.routeHints(hints('tcp:example.net:3456')), (e: unknown) => {
    assert.ok(isTahoeError(e, 'ServerUnreachable'));
    assert.match(e.message, /tcp = disabled/);
    assert.match(e.hint, /tcp = tor/);
    return true;
  });
});

test('anonymize: onion first, then I2P, then tcp hints through Tor; never direct, whatever a per-server override says', () => {
  const { router } = makeRouter(HIDDEN, ['tcp', 'tor', 'i2p'], 'tcp');
  const routes = router.routeHints(hints('tcp:example.net:3456', `i2p:${B32}:3457`, `tor:${ONION}:3457`, 'tcp:8.8.8.8:3456'));
  assert.deepEqual(summary(routes), [`tor:${ONION}:3457`, `i2p:${B32}`, 'tor:example.net:3456', 'tor:8.8.8.8:3456']);
  assert.ok(routes.every((r) => r.via !== 'tcp'));
});

test('anonymize: non-public numeric hints are skipped before Tor is asked (AN-3.2)', () => {
  const { router, tor } = makeRouter(HIDDEN);
  const plan = router.plan(hints('tcp:10.0.0.5:3456', 'tcp:[::1]:3456', 'tcp:127.0.0.1:3456', 'tcp:example.net:1'), (h) => {
    if (h.type !== 'tcp') throw new Error('unexpected');
    return { kind: 'tcp', host: h.host, port: h.port };
  });
  assert.deepEqual(summary(plan.routes), ['tor:example.net:1']);
  assert.equal(plan.skipped.length, 3);
  assert.ok(plan.skipped.every((s) => /Tor exit/.test(s.reason)));
  assert.throws(() => router.routeHints(hints('tcp:192.168.1.1:3456')), (e: unknown) => isTahoeError(e, 'ServerUnreachable') && /public address or an onion/.test(e.hint));
  assert.equal(tor.dialled.length, 0, 'planning dials nothing');
});

test('a missing transport skips its hints; if nothing is left the error names the fix', () => {
  const noTor = makeRouter({}, ['tcp', 'i2p']).router;
  assert.deepEqual(summary(noTor.routeHints(hints(`tor:${ONION}:1`, 'tcp:example.net:2'))), ['tcp:example.net:2']);
  assert.throws(() => noTor.routeHints(hints(`tor:${ONION}:3457`)), (e: unknown) => {
    assert.ok(isTahoeError(e, 'TorUnavailable'));
    assert.match(e.hint, /reachable only over Tor: start tor, or set \[tor\] socks\.port/);
    return true;
  });
  const noI2p = makeRouter({}, ['tcp', 'tor']).router;
  assert.throws(() => noI2p.routeHints(hints(`i2p:${B32}:3457`)), (e: unknown) => isTahoeError(e, 'I2pUnavailable') && /SAM/.test(e.hint));
  const neither = makeRouter({}, ['tcp']).router;
  assert.throws(() => neither.routeHints(hints(`i2p:${B32}:3457`, `tor:${ONION}:3457`)), (e: unknown) => isTahoeError(e, 'ServerUnreachable') && /Tor or I2P/.test(e.hint));
  // anonymize without a tor transport: tcp hints need Tor too.
  const hiddenNoTor = makeRouter(HIDDEN, ['tcp']).router;
  assert.throws(() => hiddenNoTor.routeHints(hints('tcp:example.net:3456')), (e: unknown) => isTahoeError(e, 'TorUnavailable'));
});

test('servers without usable hints: empty fURL, placeholders, unknown hint types', () => {
  const { router } = makeRouter({});
  const furl = parseFurl(`pb://sisi4zenj7cxncgvdog7szg3yxbrnamy@/${SWISS}`);
  assert.throws(() => router.routeHints(furl.hints), (e: unknown) => isTahoeError(e, 'ServerUnreachable') && /no connection hints/.test(e.message));
  assert.throws(() => router.routeHints(hints('client.fakelocation:0', 'quic:example.net:1')), (e: unknown) => {
    assert.ok(isTahoeError(e, 'ServerUnreachable'));
    assert.match(e.message, /placeholder/);
    assert.match(e.message, /not supported/);
    return true;
  });
  assert.deepEqual(summary(router.routeHints(hints('quic:x:1', 'tcp:example.net:5'))), ['tcp:example.net:5']);
});

test('NURLs: pb ⇒ tcp (or tor with tcp = tor), pb+tor ⇒ tor, pb+i2p ⇒ i2p', () => {
  const nurls = [
    parseNurl(`pb://${SPKI}@example.net:3456/${SWISS}#v=1`),
    parseNurl(`pb+tor://${SPKI}@${ONION}:3457/${SWISS}#v=1`),
    parseNurl(`pb+i2p://${SPKI}@${B32}:3457/${SWISS}#v=1`),
  ];
  assert.deepEqual(summary(makeRouter({}).router.routeNurls(nurls)), ['tcp:example.net:3456', `tor:${ONION}:3457`, `i2p:${B32}`]);
  assert.deepEqual(summary(makeRouter({ connectionsTcp: 'tor' }).router.routeNurls(nurls)), [`tor:${ONION}:3457`, `i2p:${B32}`, 'tor:example.net:3456']);
  const routes = makeRouter({}).router.routeNurls(nurls);
  assert.equal(routes[1].item, nurls[1], 'a route remembers its NURL (for the TLS pin)');
});

test('every dial passes policy.checkDial: a hand-made direct route is refused while hiding, the transport is never called', async () => {
  const { router, tcp } = makeRouter(HIDDEN);
  let called = false;
  const spy: Transport = Object.assign(Object.create(tcp) as Transport, {
    dial: async () => {
      called = true;
      return new PassThrough();
    },
  });
  const forged: Route<string> = { item: 'x', target: { kind: 'tcp', host: 'example.net', port: 1 }, via: 'tcp', transport: spy };
  await assert.rejects(router.dial(forged), (e: unknown) => isTahoeError(e, 'PrivacyViolation'));
  assert.equal(called, false);
});

test('dialFirst tries routes in order over real TCP, stops on abort, reports the last failure', async (t) => {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const goodPort = (echo.address() as net.AddressInfo).port;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));

  const { router, tcp } = makeRouter({});
  t.after(() => tcp.close());
  const routes = router.routeHints(hints(`tcp:127.0.0.1:${deadPort}`, `tcp:127.0.0.1:${goodPort}`));
  const { stream, route } = await router.dialFirst(routes);
  assert.equal(route.target.kind === 'tcp' && route.target.port, goodPort);
  const reply = new Promise<string>((r) => stream.once('data', (d: Buffer) => r(d.toString())));
  stream.write('ping');
  assert.equal(await reply, 'ping');
  stream.destroy();

  await assert.rejects(router.dialFirst(router.routeHints(hints(`tcp:127.0.0.1:${deadPort}`, `tcp:127.0.0.1:${deadPort}`))), (e: unknown) => {
    assert.ok(isTahoeError(e, 'ServerUnreachable'));
    assert.match(e.message, /none of the 2 ways/);
    assert.ok(isTahoeError(e.cause));
    return true;
  });
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(router.dialFirst(routes, { signal: controller.signal }), (e: unknown) => isTahoeError(e, 'Aborted'));
});

test('dialFirst goes on to the next route when a transport fails', async () => {
  const policy = createPolicy(settings({}));
  const tor = new RecordingTransport('tor', (t) => (t.kind === 'tor' && t.port === 1 ? new TahoeError('OnionNotFound', 'no descriptor') : undefined));
  const router = new ConnectionRouter({ policy, transports: new Map<TransportName, Transport>([['tor', tor]]) });
  const { route } = await router.dialFirst(router.routeHints(hints(`tor:${ONION}:1`, `tor:${ONION}:2`)));
  assert.equal(route.target.kind === 'tor' && route.target.port, 2);
  assert.equal(tor.dialled.length, 2);
  await assert.rejects(router.dialFirst(router.routeHints(hints(`tor:${ONION}:1`))), (e: unknown) => isTahoeError(e, 'OnionNotFound'));
});

/** Fault injection for the race: each port of the onion behaves as scripted (hang, connect late, fail). */
class ScriptedTor extends RecordingTransport {
  readonly signals = new Map<number, AbortSignal>();
  readonly streams = new Map<number, PassThrough>();
  constructor(private readonly script: Record<number, { afterMs?: number; ignoreAbort?: boolean; fail?: TahoeError }>) {
    super('tor');
  }
  override async dial(target: DialTarget, options: DialOptions = {}): Promise<Duplex> {
    this.dialled.push(target);
    const port = target.kind === 'tor' ? target.port : 0;
    const step = this.script[port] ?? {};
    if (options.signal) this.signals.set(port, options.signal);
    await new Promise<void>((resolve, reject) => {
      const timer = step.afterMs === undefined ? undefined : setTimeout(resolve, step.afterMs);
      if (!step.ignoreAbort) {
        options.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new TahoeError('Aborted', `dial to port ${port} aborted`));
        }, { once: true });
      }
    });
    if (step.fail) throw step.fail;
    const stream = new PassThrough();
    this.streams.set(port, stream);
    return stream;
  }
}

function raceRouter(script: ConstructorParameters<typeof ScriptedTor>[0]) {
  const tor = new ScriptedTor(script);
  const router = new ConnectionRouter({ policy: createPolicy(settings({})), transports: new Map<TransportName, Transport>([['tor', tor]]) });
  const routes = router.routeHints(hints(...Object.keys(script).map((p) => `tor:${ONION}:${p}`)));
  return { tor, router, routes };
}

test('dialFirst starts the next route beside one that hangs, takes the first to connect and aborts the rest', async () => {
  const { tor, router, routes } = raceRouter({ 1: {}, 2: { afterMs: 10 } });
  const began = Date.now();
  const { route } = await router.dialFirst(routes, { staggerMs: 80 });
  assert.equal(route.target.kind === 'tor' && route.target.port, 2);
  assert.ok(Date.now() - began >= 75, 'the second route waited for the stagger');
  assert.equal(tor.signals.get(1)?.aborted, true, 'the hanging route was aborted once the other won');
  assert.equal(tor.signals.get(2)?.aborted, false);
});

test('dialFirst: a route that connects within the stagger is the only one dialled', async () => {
  const { tor, router, routes } = raceRouter({ 1: { afterMs: 5 }, 2: { afterMs: 5 } });
  const { route } = await router.dialFirst(routes, { staggerMs: 60 });
  assert.equal(route.target.kind === 'tor' && route.target.port, 1);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(tor.dialled.length, 1);
});

test('dialFirst: a failing route starts the next one at once; a loser that connects late is closed', async () => {
  const failing = raceRouter({ 1: { afterMs: 1, fail: new TahoeError('OnionNotFound', 'no descriptor') }, 2: { afterMs: 1 } });
  const began = Date.now();
  await failing.router.dialFirst(failing.routes, { staggerMs: 10_000 });
  assert.ok(Date.now() - began < 5_000, 'no stagger wait after a failure');

  const late = raceRouter({ 1: { afterMs: 150, ignoreAbort: true }, 2: { afterMs: 10 } });
  const { route, stream } = await late.router.dialFirst(late.routes, { staggerMs: 20 });
  assert.equal(route.target.kind === 'tor' && route.target.port, 2);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(late.tor.streams.get(1)?.destroyed, true, 'the late stream was closed');
  assert.equal(stream.destroyed, false, 'the winner stays open');
  stream.destroy();
});

test('dialFirst: the caller\'s abort ends the race and every attempt; all failing reports the last error', async () => {
  const { tor, router, routes } = raceRouter({ 1: {}, 2: {} });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new TahoeError('Aborted', 'the node is stopping')), 80);
  await assert.rejects(router.dialFirst(routes, { staggerMs: 20, signal: controller.signal }), (e: unknown) => isTahoeError(e, 'Aborted') && /stopping/.test(e.message));
  assert.equal(tor.signals.get(1)?.aborted, true);
  assert.equal(tor.signals.get(2)?.aborted, true);

  const bad = raceRouter({ 1: { afterMs: 1, fail: new TahoeError('OnionNotFound', 'first') }, 2: { afterMs: 20, fail: new TahoeError('OnionUnreachable', 'second') } });
  await assert.rejects(bad.router.dialFirst(bad.routes, { staggerMs: 5 }), (e: unknown) => {
    assert.ok(isTahoeError(e, 'ServerUnreachable'));
    assert.match(e.message, /none of the 2 ways.*second/);
    return true;
  });
});

test('a transport switched off in tahoe.cfg is named in the reason and the fix', () => {
  const policy = createPolicy(settings({ torEnabled: false }));
  const tcp = new TcpTransport({ gate: policy.gate });
  const router = new ConnectionRouter({ policy, transports: new Map<TransportName, Transport>([['tcp', tcp]]), disabled: { tor: '[tor] enabled = false' } });
  const plan = router.plan(hints(`tor:${ONION}:3457`), hintToDialTarget);
  assert.equal(plan.routes.length, 0);
  assert.match(plan.skipped[0].reason, /Tor, which is switched off \(\[tor\] enabled = false\)/);
  assert.match(plan.skipped[0].fix, /remove "\[tor\] enabled = false" from tahoe.cfg/);
  assert.throws(() => router.routeHints(hints(`tor:${ONION}:3457`)), (e: unknown) => isTahoeError(e, 'TorUnavailable') && /\[tor\] enabled = false/.test(e.hint));
});
