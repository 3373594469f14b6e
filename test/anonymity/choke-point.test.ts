/**
 * The egress choke point under a hiding policy, attacked with odd endpoints (AN-2.1,
 * AN-2.2): names, loose and mapped IPv4 forms, every IPv6 spelling, junk. Only numeric
 * loopback addresses and unix sockets may pass the gate (Tor and I2P daemon endpoints only
 * once admitted); everything else is refused with a
 * PrivacyViolation before a socket exists, and the resolver is never consulted (the trap of
 * resolver-trap.ts is armed). A gate that forbids resolution but admits a name (a buggy
 * gate) still cannot make openSocket resolve it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { createPolicy } from '../../src/net/policy.js';
import { openSocket, type EgressGate, type EgressPurpose } from '../../src/net/socket.js';
import { isTahoeError, TahoeError } from '../../src/errors.js';
import { installResolverTrap } from './resolver-trap.js';

const HIDDEN = createPolicy({ anonymize: true, torEnabled: true, i2pEnabled: true, torSocksPort: 'tcp:127.0.0.1:9050' });
const PURPOSES: EgressPurpose[] = ['direct', 'tor-socks', 'tor-control', 'i2p-sam', 'local'];

const NOT_LOOPBACK = [
  'localhost', 'localhost.', 'LOCALHOST', '127.1', '127.0.1', '0x7f.1', '2130706433', '017700000001', '127.0.0.1.nip.io', 'loopback',
  '0.0.0.0', '0', '::', '[::]', '0:0:0:0:0:0:0:0', '::ffff:8.8.8.8', '::ffff:0808:0808', '64:ff9b::7f00:1', 'fe80::1', 'fe80::1%lo', '[::1]:9050',
  '10.0.0.1', '192.168.1.1', '169.254.1.1', '100.64.0.1', '203.0.113.9', '8.8.8.8', '2001:db8::1',
  'example.com', 'x.onion', `${'a'.repeat(56)}.onion`, `${'b'.repeat(52)}.b32.i2p`, '', ' ', '127.0.0.1 ', ' 127.0.0.1', '127.0.0.1\n', '127.0.0.1%00', 'тест.рф',
];
const LOOPBACK = ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'];

test('hiding gate: only numeric loopback and unix sockets pass, for every purpose; the resolver is never asked', async (t) => {
  const trap = installResolverTrap();
  t.after(() => trap.restore());
  for (const host of NOT_LOOPBACK) {
    for (const purpose of PURPOSES) {
      assert.throws(() => HIDDEN.gate.check({ host, port: 9050 }, purpose), (e: unknown) => isTahoeError(e, 'PrivacyViolation'), `${JSON.stringify(host)} for ${purpose}`);
      await assert.rejects(openSocket({ host, port: 9050 }, { gate: HIDDEN.gate, purpose }), (e: unknown) => isTahoeError(e, 'PrivacyViolation'), `openSocket ${JSON.stringify(host)} for ${purpose}`);
    }
  }
  for (const host of LOOPBACK) {
    for (const purpose of PURPOSES.filter((p) => p !== 'direct')) {
      // Tor and I2P daemon endpoints must also be admitted (configured, discovered, launched).
      if (purpose !== 'local') {
        assert.throws(() => HIDDEN.gate.check({ host, port: 9050 }, purpose), (e: unknown) => isTahoeError(e, 'PrivacyViolation'), `${host} for ${purpose} before admission`);
        HIDDEN.gate.admit?.({ host, port: 9050 }, purpose, 'test');
      }
      HIDDEN.gate.check({ host, port: 9050 }, purpose);
    }
    assert.throws(() => HIDDEN.gate.check({ host, port: 9050 }, 'direct'), (e: unknown) => isTahoeError(e, 'PrivacyViolation'), 'no direct peer connection, not even to loopback');
  }
  HIDDEN.gate.admit?.({ path: '/run/tor/socks' }, 'tor-socks', 'test');
  HIDDEN.gate.check({ path: '/run/tor/socks' }, 'tor-socks');
  assert.deepEqual(trap.calls.map((c) => `${c.api}(${c.args})`), []);
});

test('fuzz: random endpoints through the hiding gate are refused or loopback, never a crash or a lookup', async (t) => {
  const trap = installResolverTrap();
  t.after(() => trap.restore());
  const alphabet = '0123456789abcdefx.:[]%-_ \u0000ÿ';
  for (let i = 0; i < 4000; i++) {
    const host = randomInt(0, 3) === 0
      ? randomBytes(randomInt(0, 20)).toString('latin1')
      : Array.from({ length: randomInt(1, 24) }, () => alphabet[randomInt(0, alphabet.length)]).join('');
    const purpose = PURPOSES[randomInt(0, PURPOSES.length)];
    try {
      HIDDEN.gate.check({ host, port: randomInt(0, 70000) }, purpose);
      assert.notEqual(purpose, 'direct');
      const bare = host.replace(/^\[|\]$/g, '');
      assert.ok(net.isIP(bare) !== 0, `admitted a non-IP ${JSON.stringify(host)}`);
      assert.ok(bare.startsWith('127.') || bare.includes(':'), `admitted ${JSON.stringify(host)}`);
    } catch (e) {
      assert.ok(e instanceof TahoeError, `non-TahoeError for ${JSON.stringify(host)}: ${String(e)}`);
    }
  }
  assert.deepEqual(trap.calls.map((c) => c.api), []);
});

test('a gate that forbids resolution cannot be talked into resolving: openSocket refuses the name itself', async (t) => {
  const trap = installResolverTrap();
  t.after(() => trap.restore());
  const leaky: EgressGate = { allowNameResolution: false, check: () => undefined };
  await assert.rejects(openSocket({ host: 'example.invalid', port: 80 }, { gate: leaky, purpose: 'tor-socks', timeoutMs: 5000 }), (e: unknown) => isTahoeError(e, 'PrivacyViolation') && /resolve/.test((e as Error).message));
  assert.deepEqual(trap.calls.map((c) => c.api), [], 'the refusal happened before Node\'s resolver');
});
