import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger, redact, sensitive, levelFromEnvironment } from '../src/log.js';
import { generateDestination } from '../src/net/i2p/destination.js';
import { i2pBase64Encode } from '../src/net/i2p/address.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const B32 = 'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p';

test('addresses are redacted by default, loopback stays', () => {
  const line = `dial tor:${ONION}:3457 and i2p:${B32} via 10.1.2.3 and 127.0.0.1:9050 and 2001:db8::1 and ::1`;
  const out = redact(line);
  assert.ok(!out.includes(ONION) && !out.includes(B32) && !out.includes('10.1.2.3') && !out.includes('2001:db8::1'), out);
  assert.ok(out.includes('127.0.0.1:9050') && out.includes('::1'), out);
  assert.ok(out.includes('[onion]') && out.includes('[i2p]') && out.includes('[ip]'));
});

test('log_sensitive reveals addresses but never secrets', () => {
  const line = `cap URI:CHK:abc:def:3:10:100 furl pb://tubid@tcp:10.0.0.1:1/swiss key priv-v0-abcdef ED25519-V3:AAAA+/== at ${ONION}`;
  const out = redact(line, true);
  assert.ok(out.includes(ONION));
  for (const secret of ['abc:def', 'swiss', 'priv-v0-abcdef', 'AAAA+/==']) assert.ok(!out.includes(secret), `${secret} in ${out}`);
});

test('an I2P private key outside SAM KEY=value syntax is a secret (even with log_sensitive); a public destination is an address', () => {
  const dest = generateDestination(); // Ed25519 + ElGamal: the blob is 908 characters, the destination 524
  assert.ok(dest.privateKeyBase64.length >= 880 && dest.destinationBase64.length < 880);
  // The smallest private key of the forms in use: DSA_SHA1 + ElGamal (387 + 256 + 20 bytes = 884 characters).
  const dsaKey = i2pBase64Encode(Buffer.alloc(387 + 256 + 20, 0xa5));
  for (const key of [dest.privateKeyBase64, dsaKey]) {
    for (const line of [`key file holds ${key}`, `"${key}"`, `key=${key}.`, key]) {
      for (const reveal of [false, true]) {
        const out = redact(line, reveal);
        assert.ok(!out.includes(key.slice(0, 40)) && !out.includes(key.slice(-40)), `key leaked (log_sensitive ${reveal}): ${out.slice(0, 120)}`);
        assert.ok(out.includes('[i2p-key]'), out.slice(0, 120));
      }
    }
  }
  const line = `peer destination ${dest.destinationBase64} connected`;
  assert.equal(redact(line, true), line, 'a public destination shows with log_sensitive');
  assert.equal(redact(line), 'peer destination [i2p] connected');
  const lines: string[] = [];
  new Logger({ logSensitive: true, sink: { write: (l) => lines.push(l) } }).warn('bad key file content:', dest.privateKeyBase64);
  assert.ok(!lines[0].includes(dest.privateKeyBase64.slice(0, 40)), lines[0]);
});

test('Logger redacts, honours Sensitive and levels', () => {
  const lines: string[] = [];
  const log = new Logger({ level: 'info', sink: { write: (l) => lines.push(l) }, component: 'test' });
  log.debug('hidden');
  log.info('host', sensitive('example.com'), 'at', '192.168.1.5');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /\[test\] host \[redacted\] at \[ip\]$/);
  const open = new Logger({ level: 'info', logSensitive: true, sink: { write: (l) => lines.push(l) } });
  open.info(sensitive('example.com'));
  assert.match(lines[1], /example\.com$/);
});

test('TAHOE_TS_LOG_LEVEL: the four levels in any case; anything else is ignored, not "log everything"', (t) => {
  assert.equal(levelFromEnvironment('debug'), 'debug');
  assert.equal(levelFromEnvironment(' WARN '), 'warn');
  for (const junk of [undefined, '', 'verbose', 'constructor', 'toString', '__proto__']) assert.equal(levelFromEnvironment(junk), undefined, String(junk));
  const before = process.env.TAHOE_TS_LOG_LEVEL;
  t.after(() => {
    if (before === undefined) delete process.env.TAHOE_TS_LOG_LEVEL;
    else process.env.TAHOE_TS_LOG_LEVEL = before;
  });
  process.env.TAHOE_TS_LOG_LEVEL = 'verbose';
  const lines: string[] = [];
  const log = new Logger({ sink: { write: (l) => lines.push(l) } });
  log.debug('not shown');
  log.info('shown');
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /shown$/);
});
