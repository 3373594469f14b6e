/**
 * Welcome page rendering (src/web/welcome.ts) from a hand-made node status: Tahoe's JSON
 * keys, HTML escaping of what peers send (nicknames, errors), address redaction and its
 * opt-in, secrets never shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeStatus } from '../../src/node/node.js';
import { welcomeHtml, welcomeJson } from '../../src/web/welcome.js';
import { abbreviateSize, describeDuration } from '../../src/web/html.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

const STATUS: NodeStatus = {
  nodeType: 'client',
  nickname: 'alice <b>',
  serverId: 'v0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  listeners: [{ transport: 'tor', description: `onion service ${ONION}:3457` }],
  transports: [{ name: 'tor', ready: true, summary: 'tor 0.4.9 via 10.1.2.3:9050' }],
  introducers: [
    { petname: 'default', connected: true, since: NOW - 60_000, transport: 'tor', announcements: 2 },
    { petname: 'backup', connected: false, since: NOW - 5_000, announcements: 0, lastError: `cannot reach ${ONION}: timeout` },
  ],
  servers: [
    { serverId: 'v0-bbbb', nickname: '<script>alert(1)</script>', transport: 'tor', connected: true, since: NOW - 3_600_000, lastRttMs: 812, availableSpace: 1_500_000_000n, announcedVia: 'introducer' },
    { serverId: 'v0-cccc', nickname: 'down', connected: false, since: NOW - 10_000, lastError: 'connect to 192.0.2.7:443 refused; URI:CHK:aaaa:bbbb:3:10:99 leaked?', announcedVia: 'servers.yaml' },
    { serverId: 'v0-dddd', nickname: 'i2p one', transport: 'i2p', connected: true, since: NOW - 1_000, announcedVia: 'introducer' },
  ],
  storage: { nurls: 1, announced: true },
};

test('welcome JSON: Tahoe keys plus tahoe-ts extras, connected servers first', () => {
  const j = welcomeJson(STATUS, { revealAddresses: false });
  assert.deepEqual(j.introducers.statuses, ['Connected to introducer "default" via tor', 'No connection to introducer "backup": cannot reach [onion]: timeout']);
  assert.deepEqual(j.servers.map((s) => s.nickname), ['<script>alert(1)</script>', 'i2p one', 'down']);
  const [first, , down] = j.servers;
  assert.deepEqual(Object.keys(first).slice(0, 6), ['nodeid', 'connection_status', 'available_space', 'nickname', 'version', 'last_received_data']);
  assert.equal(first.connection_status, 'Connected via tor');
  assert.equal(first.available_space, 1_500_000_000);
  assert.equal(first.since, (NOW - 3_600_000) / 1000);
  assert.equal(first.last_rtt_ms, 812);
  assert.equal(down.connected, false);
  assert.equal(down.transport, null);
  assert.equal(down.connection_status, 'Connection failed: connect to [ip]:443 refused; URI:[cap] leaked?');
  assert.equal(down.announced_via, 'servers.yaml');
  assert.deepEqual(j.node.listeners, [{ transport: 'tor', description: 'onion service [onion]:3457' }]);
  const revealed = welcomeJson(STATUS, { revealAddresses: true });
  assert.equal(revealed.servers[2].last_error, 'connect to 192.0.2.7:443 refused; URI:[cap] leaked?', 'addresses shown, caps never');
  assert.ok(revealed.node.listeners[0].description.includes(ONION));
});

test('welcome HTML: every server row, escaped, redacted unless asked', () => {
  const page = welcomeHtml(STATUS, { revealAddresses: false, offerReveal: true, now: NOW, canUpload: true });
  assert.ok(!page.includes('<script>alert'), 'peer nicknames are escaped');
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(page.includes('alice &lt;b&gt;'));
  assert.equal((page.match(/<tr class="server /g) ?? []).length, 3);
  assert.match(page, /<tr class="server connected" data-nodeid="v0-bbbb">[\s\S]*?<td class="transport">tor<\/td>[\s\S]*?data-connected="true">Connected[\s\S]*?\(1 h 0 min ago\)[\s\S]*?812 ms[\s\S]*?1\.50 GB/);
  assert.match(page, /<tr class="server disconnected" data-nodeid="v0-cccc">[\s\S]*?<td class="transport">–<\/td>[\s\S]*?Disconnected<div class="error">connect to \[ip\]:443 refused/);
  assert.ok(!page.includes(ONION) && !page.includes('10.1.2.3') && !page.includes('192.0.2.7'));
  assert.ok(!page.includes('URI:CHK:aaaa'));
  assert.ok(page.includes('href="/?show_addresses=1"'));
  assert.ok(page.includes('id="upload-form"'));
  assert.match(page, /\(2 of 3 connected\)/);
  const shown = welcomeHtml(STATUS, { revealAddresses: true, offerReveal: true, now: NOW, canUpload: false });
  assert.ok(shown.includes(ONION) && shown.includes('192.0.2.7'));
  assert.ok(!shown.includes('URI:CHK:aaaa'));
  assert.ok(!shown.includes('upload-form'));
  const empty = welcomeHtml({ ...STATUS, servers: [], introducers: [], listeners: [] }, { revealAddresses: false, offerReveal: false, now: NOW, canUpload: true });
  assert.ok(empty.includes('id="no-servers"'));
  assert.ok(!empty.includes('show_addresses'));
});

test('sizes and durations as people read them', () => {
  assert.equal(abbreviateSize(999), '999 B');
  assert.equal(abbreviateSize(1_500_000_000n), '1.50 GB');
  assert.equal(abbreviateSize(undefined), '?');
  assert.equal(describeDuration(4_400), '4 s');
  assert.equal(describeDuration(3 * 60_000), '3 min');
  assert.equal(describeDuration(125 * 60_000), '2 h 5 min');
  assert.equal(describeDuration(5 * 24 * 3_600_000), '5 days');
});
