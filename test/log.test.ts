import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger, redact, sensitive } from '../src/log.js';

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
