import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { isTahoeError } from '../../src/errors.js';
import { openSocket } from '../../src/net/socket.js';
import {
  checkPrivacy,
  createPolicy,
  effectiveTcpHandler,
  isHidingIp,
  RULES,
  tubDefaults,
  type PrivacyProblem,
  type PrivacySettings,
} from '../../src/net/policy.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const BAD_ONION = `b${ONION.slice(1)}`;
const B32 = `${'a'.repeat(52)}.b32.i2p`;

function settings(overrides: Partial<PrivacySettings> = {}): PrivacySettings {
  return { torEnabled: true, i2pEnabled: true, ...overrides };
}

/** A valid client-only anonymous configuration (configuration.md §3), to which each test adds one fault. */
const HIDDEN_CLIENT: Partial<PrivacySettings> = { revealIpAddress: false, connectionsTcp: 'tor', tubPort: 'disabled', tubLocation: 'disabled' };

function rules(problems: PrivacyProblem[]): string[] {
  return problems.map((p) => p.rule);
}

/** Exactly one problem, of this rule, naming this key, with a fix. */
function assertOneProblem(s: PrivacySettings, rule: string, key: string, hintPattern?: RegExp): PrivacyProblem {
  const problems = checkPrivacy(s);
  assert.deepEqual(rules(problems), [rule], JSON.stringify(problems, null, 1));
  const [p] = problems;
  assert.equal(p.key, key);
  assert.ok(p.message.length > 20 && p.hint.length > 20);
  if (hintPattern) assert.match(p.hint, hintPattern);
  return p;
}

test('the check-config table of the Foundation issue comes out right', () => {
  const table: Array<[string, Partial<PrivacySettings>, boolean]> = [
    ['anonymize + AUTODETECT,onion', { anonymize: true, tubLocation: 'AUTODETECT,onion:80:hiddenServiceDir=/var/lib/tor/my_service' }, false],
    ['no anonymize + AUTODETECT,onion', { anonymize: false, tubLocation: 'AUTODETECT,onion:80:hiddenServiceDir=/var/lib/tor/my_service' }, true],
    ['anonymize + onion only', { anonymize: true, tubLocation: 'onion:80:hiddenServiceDir=/var/lib/tor/my_service' }, true],
    ['anonymize + no tub.location', { anonymize: true }, true],
    ['anonymize + tcp hint', { anonymize: true, tubLocation: 'tcp:example.net:3456' }, false],
    ['legacy torsocks client', { tubPort: 'tcp:interface=127.0.0.1:8098', tubLocation: 'client.fakelocation:0' }, true],
    ['reveal-IP-address = false + tcp = tcp', { revealIpAddress: false, connectionsTcp: 'tcp' }, false],
    ['reveal-IP-address = false + tcp = tor + onion hint', { revealIpAddress: false, connectionsTcp: 'tor', tubLocation: `tor:${ONION}:3457` }, true],
    ['reveal-IP-address = false + AUTO', { revealIpAddress: false, tubLocation: 'AUTO' }, false],
    ['anonymize = true + reveal-IP-address = true', { anonymize: true, revealIpAddress: true }, false],
  ];
  for (const [name, overrides, valid] of table) {
    const problems = checkPrivacy(settings(overrides));
    assert.equal(problems.length === 0, valid, `${name}: ${JSON.stringify(problems)}`);
  }
});

test('rule: anonymize and reveal-IP-address contradict', () => {
  assertOneProblem(settings({ anonymize: true, revealIpAddress: true }), RULES.contradiction, '[node] anonymize', /remove reveal-IP-address/);
  // anonymize = false + reveal-IP-address = false: hiding by one spelling, not by the other.
  const problems = checkPrivacy(settings({ ...HIDDEN_CLIENT, anonymize: false }));
  assert.deepEqual(rules(problems), [RULES.contradiction]);
  // Consistent pairs are fine.
  assert.deepEqual(checkPrivacy(settings({ ...HIDDEN_CLIENT, anonymize: true })), []);
  assert.deepEqual(checkPrivacy(settings({ anonymize: false, revealIpAddress: true })), []);
});

test('rule: hiding refuses [connections] tcp = tcp, explicit or by default (AN-1.1)', () => {
  const explicit = assertOneProblem(settings({ ...HIDDEN_CLIENT, connectionsTcp: 'TCP' }), RULES.directTcpWhenHidden, '[connections] tcp', /tcp = tor/);
  assert.match(explicit.message, /reveal-IP-address = false/);
  const byDefault = assertOneProblem(settings({ ...HIDDEN_CLIENT, connectionsTcp: undefined }), RULES.directTcpWhenHidden, '[connections] tcp');
  assert.match(byDefault.message, /defaults to tcp/);
  assertOneProblem(settings({ anonymize: true, connectionsTcp: 'tcp' }), RULES.directTcpWhenHidden, '[connections] tcp');
  // anonymize = true implies tcp = tor; tcp = disabled is also fine.
  assert.deepEqual(checkPrivacy(settings({ anonymize: true })), []);
  assert.deepEqual(checkPrivacy(settings({ ...HIDDEN_CLIENT, connectionsTcp: 'disabled' })), []);
  assert.equal(effectiveTcpHandler(settings({ anonymize: true })), 'tor');
  assert.equal(effectiveTcpHandler(settings({ revealIpAddress: false })), 'tcp');
  assert.equal(effectiveTcpHandler(settings({ connectionsTcp: ' Disabled ' })), 'disabled');
});

test('rule: [connections] tcp must name a handler', () => {
  assertOneProblem(settings({ connectionsTcp: 'i2p' }), RULES.tcpHandlerInvalid, '[connections] tcp', /not supported/);
  assertOneProblem(settings({ connectionsTcp: 'socks' }), RULES.tcpHandlerInvalid, '[connections] tcp', /tcp = tor/);
});

test('rule: tcp = tor (or anonymize) needs [tor] enabled', () => {
  assertOneProblem(settings({ connectionsTcp: 'tor', torEnabled: false }), RULES.torRequiredButDisabled, '[tor] enabled');
  const p = assertOneProblem(settings({ anonymize: true, torEnabled: false }), RULES.torRequiredButDisabled, '[tor] enabled');
  assert.match(p.message, /anonymize/);
  assert.deepEqual(checkPrivacy(settings({ ...HIDDEN_CLIENT, connectionsTcp: 'disabled', torEnabled: false })), []);
  // Onion listeners need tor too.
  assertOneProblem(settings({ tubPort: 'listen:tor', tubLocation: `tor:${ONION}:3457`, torEnabled: false }), RULES.torRequiredButDisabled, '[tor] enabled');
  assertOneProblem(settings({ tubLocation: 'AUTO,onion:80', torEnabled: false }), RULES.torRequiredButDisabled, '[tor] enabled');
});

test('rule: listen:i2p needs [i2p] enabled', () => {
  assertOneProblem(settings({ tubPort: 'listen:i2p', tubLocation: `i2p:${B32}:3457`, i2pEnabled: false }), RULES.i2pRequiredButDisabled, '[i2p] enabled');
});

test('rule: hiding refuses AUTO / AUTODETECT and a missing tub.location (= AUTO) (AN-1.2)', () => {
  assertOneProblem(settings({ ...HIDDEN_CLIENT, tubPort: 'tcp:3457:interface=127.0.0.1', tubLocation: 'AUTO' }), RULES.autoLocationWhenHidden, '[node] tub.location', /remove AUTO/);
  assertOneProblem(settings({ anonymize: true, tubLocation: 'AUTODETECT' }), RULES.autoLocationWhenHidden, '[node] tub.location', /remove AUTODETECT/);
  const missing = assertOneProblem(settings({ ...HIDDEN_CLIENT, tubPort: undefined, tubLocation: undefined }), RULES.autoLocationWhenHidden, '[node] tub.location', /disabled/);
  assert.match(missing.message, /means AUTO/);
  // ...but with the anonymize spelling, a missing tub.location announces nothing (original design).
  assert.deepEqual(checkPrivacy(settings({ anonymize: true })), []);
  assert.deepEqual(checkPrivacy(settings({ anonymize: true, revealIpAddress: false })), []);
  assert.deepEqual(checkPrivacy(settings({ anonymize: true, tubLocation: 'UNREACHABLE' })), []);
  // Not hiding: AUTO is the normal default.
  assert.deepEqual(checkPrivacy(settings({})), []);
});

test('rule: hiding refuses tcp: and legacy HOST:PORT hints in tub.location (AN-1.2)', () => {
  assertOneProblem(settings({ ...HIDDEN_CLIENT, tubPort: 'listen:tor', tubLocation: 'tcp:example.net:3456' }), RULES.tcpHintWhenHidden, '[node] tub.location', /remove TCP hints/);
  assertOneProblem(settings({ anonymize: true, tubLocation: `tor:${ONION}:3457,example.net:3456` }), RULES.tcpHintWhenHidden, '[node] tub.location');
  // A legacy onion:port hint is TCP to Tahoe 1.20; the hint says how to write it.
  assertOneProblem(settings({ anonymize: true, tubLocation: `${ONION}:29212` }), RULES.tcpHintWhenHidden, '[node] tub.location', new RegExp(`tor:${ONION}:29212`));
});

test('rule: hiding refuses clear-net names in tor: hints of our own location', () => {
  assertOneProblem(settings({ anonymize: true, tubLocation: 'tor:example.net:3457' }), RULES.clearnetTorHintWhenHidden, '[node] tub.location', /onion/);
  assert.deepEqual(checkPrivacy(settings({ anonymize: true, tubLocation: `tor:${ONION}:3457,i2p:${B32}:3457` })), []);
  // Not hiding: a clear-net tor: hint is allowed (server use case 2).
  assert.deepEqual(checkPrivacy(settings({ tubLocation: 'tor:example.net:3457' })), []);
});

test('rule: hiding refuses listeners on non-loopback interfaces, tub.port and web.port (AN-1.3)', () => {
  const base = { anonymize: true, tubLocation: `tor:${ONION}:3457` };
  const all = assertOneProblem(settings({ ...base, tubPort: 'tcp:3457' }), RULES.listenerNotLoopbackWhenHidden, '[node] tub.port', /interface=127\.0\.0\.1/);
  assert.match(all.message, /every network interface/);
  assertOneProblem(settings({ ...base, tubPort: '3457' }), RULES.listenerNotLoopbackWhenHidden, '[node] tub.port');
  assertOneProblem(settings({ ...base, tubPort: 'tcp:3457:interface=192.168.1.5' }), RULES.listenerNotLoopbackWhenHidden, '[node] tub.port');
  assertOneProblem(settings({ ...base, tubPort: 'tcp6:3457' }), RULES.listenerNotLoopbackWhenHidden, '[node] tub.port', /interface=\\:\\:1/);
  assertOneProblem(settings({ ...base, tubPort: 'listen:tor', webPort: 'tcp:3456' }), RULES.listenerNotLoopbackWhenHidden, '[node] web.port');
  assert.deepEqual(checkPrivacy(settings({ ...base, tubPort: 'tcp:3457:interface=127.0.0.1,listen:tor', webPort: 'tcp:3456:interface=127.0.0.1' })), []);
  assert.deepEqual(checkPrivacy(settings({ ...base, tubPort: 'tcp6:3457:interface=\\:\\:1', webPort: 'unix:/run/tahoe.sock' })), []);
  // An absent tub.port binds loopback when hiding (1.20 would bind every interface).
  assert.deepEqual(checkPrivacy(settings({ ...base, tubPort: undefined })), []);
  assert.equal(tubDefaults(settings({ ...base })).portInterface, '127.0.0.1');
  // Not hiding: listening everywhere is normal.
  assert.deepEqual(checkPrivacy(settings({ tubPort: 'tcp:3457', webPort: 'tcp:3456' })), []);
});

test('rule: hiding requires loopback or unix Tor/I2P daemon endpoints (AN-2.1)', () => {
  assertOneProblem(settings({ ...HIDDEN_CLIENT, torSocksPort: 'tcp:10.0.0.2:9050' }), RULES.daemonNotLoopbackWhenHidden, '[tor] socks.port');
  assertOneProblem(settings({ ...HIDDEN_CLIENT, torControlPort: 'tcp:localhost:9051' }), RULES.daemonNotLoopbackWhenHidden, '[tor] control.port', /tcp:127\.0\.0\.1:9051/);
  assertOneProblem(settings({ ...HIDDEN_CLIENT, i2pSamPort: 'tcp:sam.example.net:7656' }), RULES.daemonNotLoopbackWhenHidden, '[i2p] sam.port');
  assert.deepEqual(
    checkPrivacy(settings({ ...HIDDEN_CLIENT, torSocksPort: 'tcp:127.0.0.1:9050', torControlPort: 'unix:/var/run/tor/control', i2pSamPort: 'tcp:[::1]:7656' })),
    [],
  );
  assert.deepEqual(checkPrivacy(settings({ ...HIDDEN_CLIENT, torSocksPort: '' })), []); // empty = defaults
  assert.deepEqual(checkPrivacy(settings({ torSocksPort: 'tcp:10.0.0.2:9050' })), []); // not hiding: allowed
});

test('rule: tub.port and tub.location "disabled" must pair', () => {
  assertOneProblem(settings({ tubPort: 'disabled', tubLocation: 'AUTO' }), RULES.disabledPairing, '[node] tub.location', /tub.location = disabled/);
  assertOneProblem(settings({ tubPort: 'disabled' }), RULES.disabledPairing, '[node] tub.location');
  assertOneProblem(settings({ tubLocation: 'disabled' }), RULES.disabledPairing, '[node] tub.port', /tub.port = disabled/);
  assertOneProblem(settings({ tubPort: 'tcp:3457', tubLocation: 'disabled' }), RULES.disabledPairing, '[node] tub.port');
  assert.deepEqual(checkPrivacy(settings({ tubPort: 'disabled', tubLocation: 'disabled' })), []);
  // anonymize with no tub.location announces nothing, so tub.port = disabled alone is consistent.
  assert.deepEqual(checkPrivacy(settings({ anonymize: true, tubPort: 'disabled' })), []);
});

test('rule: unparsable values become problems naming the key, never exceptions', () => {
  assertOneProblem(settings({ tubLocation: 'tcp:example.net' }), RULES.invalidValue, '[node] tub.location', /tcp:HOST:PORT/);
  assertOneProblem(settings({ tubPort: 'tcp:0' }), RULES.invalidValue, '[node] tub.port', /restarts/);
  assertOneProblem(settings({ webPort: 'tcp:http' }), RULES.invalidValue, '[node] web.port');
  assertOneProblem(settings({ torControlPort: 'tcp:127.0.0.1' }), RULES.invalidValue, '[tor] control.port');
  const onion = assertOneProblem(settings({ tubLocation: `tor:${BAD_ONION}:3457` }), RULES.invalidValue, '[node] tub.location');
  assert.match(onion.message, /checksum/);
});

test('createPolicy throws one PrivacyViolation listing every problem with its key', () => {
  assert.throws(
    () => createPolicy(settings({ revealIpAddress: false, connectionsTcp: 'tcp', tubLocation: 'AUTO,tcp:example.net:1' })),
    (e: unknown) => {
      assert.ok(isTahoeError(e, 'PrivacyViolation'));
      assert.match(e.message, /3 problems/);
      assert.match(e.message, /\[connections\] tcp/);
      assert.match(e.message, /\[node\] tub.location/);
      assert.match(String(e.details.rules), new RegExp(RULES.directTcpWhenHidden));
      assert.match(e.hint, /tcp = tor/);
      return true;
    },
  );
  const policy = createPolicy(settings(HIDDEN_CLIENT));
  assert.equal(policy.hideIp, true);
  assert.equal(policy.tcpHandler, 'tor');
  assert.equal(policy.gate.allowNameResolution, false);
  assert.equal(isHidingIp(settings({ anonymize: true })), true);
  assert.equal(isHidingIp(settings({ revealIpAddress: true })), false);
});

test('tubDefaults: what absent tub.port / tub.location mean', () => {
  assert.deepEqual(tubDefaults(settings({})), { portInterface: '', location: 'AUTO' });
  assert.deepEqual(tubDefaults(settings({ anonymize: true })), { portInterface: null, location: 'UNREACHABLE' });
  assert.deepEqual(tubDefaults(settings({ anonymize: true, tubLocation: 'onion:80:hiddenServiceDir=/x' })), { portInterface: '127.0.0.1', location: 'AUTO' });
  assert.deepEqual(tubDefaults(settings({ revealIpAddress: false, tubLocation: `tor:${ONION}:1` })), { portInterface: '127.0.0.1', location: 'AUTO' });
});

test('gate: hiding allows only admitted loopback/unix daemon sockets, no direct peers, no name resolution (AN-2)', () => {
  const { gate } = createPolicy(settings(HIDDEN_CLIENT));
  const refused = (fn: () => void, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => isTahoeError(e, 'PrivacyViolation') && pattern.test(e.message + e.hint));
  refused(() => gate.check({ host: '127.0.0.1', port: 3457 }, 'direct'), /direct connection/);
  refused(() => gate.check({ host: '203.0.113.5', port: 3457 }, 'direct'), /reveal your IP/);
  refused(() => gate.check({ host: '10.0.0.2', port: 9050 }, 'tor-socks'), /socks\.port/);
  refused(() => gate.check({ host: 'localhost', port: 9050 }, 'tor-socks'), /loopback/);
  refused(() => gate.check({ host: '192.168.0.1', port: 7656 }, 'i2p-sam'), /sam\.port/);
  refused(() => gate.check({ host: '8.8.8.8', port: 80 }, 'local'), /127\.0\.0\.1/);
  // Daemon endpoints pass once admitted (configured, discovered or launched)…
  const daemons: Array<[Parameters<typeof gate.check>[0], 'tor-socks' | 'tor-control' | 'i2p-sam']> = [
    [{ host: '127.0.0.1', port: 9050 }, 'tor-socks'],
    [{ host: '::1', port: 9051 }, 'tor-control'],
    [{ path: '/var/run/tor/control' }, 'tor-control'],
    [{ host: '127.0.0.1', port: 7656 }, 'i2p-sam'],
  ];
  for (const [endpoint, purpose] of daemons) {
    refused(() => gate.check(endpoint, purpose), /only the configured, discovered or launched/);
    gate.admit?.(endpoint, purpose, 'test');
    gate.check(endpoint, purpose);
  }
  // …and only for the purpose they were admitted for, and an admitted non-loopback one still not.
  refused(() => gate.check({ host: '127.0.0.1', port: 9050 }, 'tor-control'), /only the configured/);
  gate.admit?.({ host: '10.0.0.2', port: 9050 }, 'tor-socks', 'test');
  refused(() => gate.check({ host: '10.0.0.2', port: 9050 }, 'tor-socks'), /loopback/);
  gate.check({ host: '127.0.0.1', port: 3456 }, 'local');

  const open = createPolicy(settings({})).gate;
  assert.equal(open.allowNameResolution, true);
  open.check({ host: 'example.net', port: 3456 }, 'direct');
  // Never a plain socket to an onion or I2P name, hiding or not: it would leak the name to DNS.
  refused(() => open.check({ host: ONION, port: 80 }, 'direct'), /onion and I2P names/);
  refused(() => open.check({ host: B32, port: 80 }, 'direct'), /onion and I2P names/);
  // A fully qualified spelling (trailing dot) resolves the same way and must not slip through.
  refused(() => open.check({ host: `${ONION}.`, port: 80 }, 'direct'), /onion and I2P names/);
  refused(() => open.check({ host: `${B32}.`, port: 80 }, 'direct'), /onion and I2P names/);
  refused(() => open.check({ host: 'X.ONION.', port: 80 }, 'tor-socks'), /onion and I2P names/);
});

test('gate + openSocket: with a hiding policy a direct socket is never opened, a loopback daemon socket is', async (t) => {
  const { gate } = createPolicy(settings(HIDDEN_CLIENT));
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  await assert.rejects(async () => openSocket({ host: '127.0.0.1', port }, { gate, purpose: 'direct' }), (e: unknown) => isTahoeError(e, 'PrivacyViolation'));
  // Allowed purpose, numeric loopback: connects.
  const ok = await openSocket({ host: '127.0.0.1', port }, { gate, purpose: 'local' });
  ok.destroy();
  await assert.rejects(async () => openSocket({ host: 'localhost', port }, { gate, purpose: 'local' }), (e: unknown) => isTahoeError(e, 'PrivacyViolation'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(accepted, 1);
});

test('checkDial: direct TCP refused when hiding; onion/I2P never direct; non-public hosts never through Tor (AN-3)', () => {
  const hidden = createPolicy(settings(HIDDEN_CLIENT));
  const open = createPolicy(settings({}));
  const kind = (fn: () => void, k: 'PrivacyViolation' | 'EndpointInvalid' | 'OnionAddressInvalid' | 'I2pAddressInvalid' | 'Internal') =>
    assert.throws(fn, (e: unknown) => isTahoeError(e, k));

  kind(() => hidden.checkDial({ kind: 'tcp', host: 'example.net', port: 3456 }, 'tcp'), 'PrivacyViolation');
  open.checkDial({ kind: 'tcp', host: 'example.net', port: 3456 }, 'tcp');
  // tcp hints through Tor: names go unresolved, public numbers are fine, private ones are refused.
  hidden.checkDial({ kind: 'tor', host: 'example.net', port: 3456 }, 'tor');
  hidden.checkDial({ kind: 'tcp', host: '8.8.8.8', port: 3456 }, 'tor');
  for (const host of ['127.0.0.1', '10.0.0.1', '192.168.1.1', '169.254.1.1', '100.64.0.1', '::1', '2001:db8::1', '0.0.0.0', '127.1']) {
    kind(() => hidden.checkDial({ kind: 'tor', host, port: 3456 }, 'tor'), 'PrivacyViolation');
    kind(() => open.checkDial({ kind: 'tor', host, port: 3456 }, 'tor'), 'EndpointInvalid');
  }
  // Onion targets: only through Tor, and only valid v3 addresses.
  hidden.checkDial({ kind: 'tor', host: ONION, port: 3457 }, 'tor');
  open.checkDial({ kind: 'tor', host: ONION, port: 3457 }, 'tor');
  kind(() => open.checkDial({ kind: 'tcp', host: ONION, port: 3457 }, 'tcp'), 'PrivacyViolation');
  kind(() => open.checkDial({ kind: 'tor', host: ONION, port: 3457 }, 'tcp'), 'PrivacyViolation');
  kind(() => open.checkDial({ kind: 'tor', host: BAD_ONION, port: 3457 }, 'tor'), 'OnionAddressInvalid');
  kind(() => open.checkDial({ kind: 'tor', host: 'ualhejtq2p7ohfbb.onion', port: 3457 }, 'tor'), 'OnionAddressInvalid');
  // I2P targets: only through I2P, only valid addresses.
  hidden.checkDial({ kind: 'i2p', address: B32, port: 3457 }, 'i2p');
  kind(() => open.checkDial({ kind: 'i2p', address: B32 }, 'tor'), 'PrivacyViolation');
  kind(() => open.checkDial({ kind: 'i2p', address: 'nope' }, 'i2p'), 'I2pAddressInvalid');
  kind(() => open.checkDial({ kind: 'tcp', host: 'x.i2p', port: 1 }, 'tcp'), 'PrivacyViolation');
  kind(() => open.checkDial({ kind: 'tor', host: 'x.i2p', port: 1 }, 'tor'), 'EndpointInvalid');
  kind(() => open.checkDial({ kind: 'tcp', host: 'example.net', port: 1 }, 'i2p'), 'Internal');
  // Targets built by code are validated too.
  kind(() => open.checkDial({ kind: 'tcp', host: 'bad host', port: 1 }, 'tcp'), 'EndpointInvalid');
  kind(() => open.checkDial({ kind: 'tcp', host: 'example.net', port: 0 }, 'tcp'), 'EndpointInvalid');
  kind(() => open.checkDial({ kind: 'tcp', host: 'example.net', port: 1.5 }, 'tcp'), 'EndpointInvalid');
});

test('fuzz: checkPrivacy never throws and createPolicy throws only PrivacyViolation, for 10 000 random settings', (t) => {
  const pool = [
    undefined, '', 'AUTO', 'AUTODETECT', 'UNREACHABLE', 'disabled', 'tcp', 'tor', 'TOR', 'i2p', 'bogus', '3457', 'tcp:3457',
    'tcp:3457:interface=127.0.0.1', 'tcp:0', 'tcp6:1:interface=\\:\\:1', 'listen:tor', 'listen:i2p', 'unix:/x', `tor:${ONION}:3457`,
    `tor:${BAD_ONION}:3457`, `i2p:${B32}:1`, 'tcp:example.net:1', 'example.net:1', 'client.fakelocation:0', 'onion:80:hiddenServiceDir=/x',
    'tcp:127.0.0.1:9050', 'tcp:localhost:9051', 'tcp:10.0.0.1:7656', 'unix:/run/tor/control', 'a,,b', 'AUTO, x', '\\', ':::', 'tcp:99999999999',
  ];
  let x = 12345;
  const rnd = (n: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % n;
  };
  const pick = () => {
    const v = pool[rnd(pool.length)];
    if (v === undefined || rnd(4) > 0) return v;
    const i = rnd(v.length + 1);
    return v.slice(0, i) + ':=,\\ é.0'[rnd(9)] + v.slice(i + rnd(2)); // a small mutation
  };
  const bool = () => [undefined, true, false][rnd(3)];
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // throws are the common case here; stacks would dominate the run time
  t.after(() => {
    Error.stackTraceLimit = stackTraceLimit;
  });
  for (let i = 0; i < 10_000; i++) {
    const s: PrivacySettings = {
      anonymize: bool(), revealIpAddress: bool(), connectionsTcp: pick(), tubPort: pick(), tubLocation: pick(), webPort: pick(),
      torEnabled: rnd(4) > 0, i2pEnabled: rnd(4) > 0, torSocksPort: pick(), torControlPort: pick(), i2pSamPort: pick(),
    };
    const problems = checkPrivacy(s);
    for (const p of problems) assert.ok(p.rule && p.key.startsWith('[') && p.message && p.hint, JSON.stringify(p));
    try {
      const policy = createPolicy(s);
      assert.equal(problems.length, 0);
      assert.equal(policy.hideIp, isHidingIp(s));
    } catch (e) {
      assert.ok(isTahoeError(e, 'PrivacyViolation'), `settings ${JSON.stringify(s)} threw ${String(e)}`);
      assert.ok(problems.length > 0);
    }
  }
});

test('an empty web.port means no web gateway, not an invalid value', () => {
  const problems = checkPrivacy({ revealIpAddress: false, connectionsTcp: 'tor', tubPort: 'disabled', tubLocation: 'disabled', webPort: '', torEnabled: true, i2pEnabled: true });
  assert.deepEqual(problems.filter((p) => p.key === '[node] web.port'), []);
});
