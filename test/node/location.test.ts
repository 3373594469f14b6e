/**
 * What a node announces (location.ts): hints as written, AUTO with the tub port,
 * UNREACHABLE and disabled announce nothing, onion items their listener's address,
 * duplicates once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTubLocation, type LocationItem } from '../../src/net/hints.js';
import { announcedHints, localIpv4Addresses } from '../../src/node/location.js';
import type { DialTarget } from '../../src/net/transport.js';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const none = new Map<LocationItem, DialTarget>();

test('hints as written, AUTO expanded with the tub port, duplicates once', () => {
  const loc = parseTubLocation(`tcp:example.net:3457,AUTO,tor:${ONION}:3457,tcp:127.0.0.1:4000`);
  const hints = announcedHints(loc, { tcpPort: 4000, onionHints: none, interfaceAddresses: () => ['192.168.1.5', '127.0.0.1'] });
  assert.deepEqual(hints.map((h) => (h.type === 'tcp' || h.type === 'tor' ? `${h.type}:${h.host}:${h.port}` : h.type)), [
    'tcp:example.net:3457', 'tcp:192.168.1.5:4000', 'tcp:127.0.0.1:4000', `tor:${ONION}:3457`,
  ]);
});

test('AUTO without a TCP listener, UNREACHABLE and disabled announce nothing', () => {
  assert.deepEqual(announcedHints(parseTubLocation('AUTO'), { onionHints: none }), []);
  assert.deepEqual(announcedHints(parseTubLocation('UNREACHABLE'), { tcpPort: 1, onionHints: none }), []);
  assert.deepEqual(announcedHints(parseTubLocation('disabled'), { tcpPort: 1, onionHints: none }), []);
});

test('an onion item announces the address its listener got', () => {
  const loc = parseTubLocation('onion:80:hiddenServiceDir=/var/lib/tor/x,AUTODETECT');
  if (loc.type !== 'items') throw new Error('items expected');
  const hints = announcedHints(loc, { tcpPort: 5000, onionHints: new Map([[loc.items[0], { kind: 'tor', host: ONION, port: 80 }]]), interfaceAddresses: () => ['127.0.0.1'] });
  assert.deepEqual(hints, [{ type: 'tor', host: ONION, port: 80 }, { type: 'tcp', host: '127.0.0.1', port: 5000 }]);
});

test('local addresses: IPv4 only, loopback last', () => {
  const all = localIpv4Addresses();
  assert.ok(all.includes('127.0.0.1'));
  assert.ok(all.every((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)));
  assert.equal(all.indexOf('127.0.0.1') >= all.filter((a) => !a.startsWith('127.')).length, true);
});
