/**
 * AN-2.2: no local name resolution ever happens in anonymize mode. Every resolver entry
 * point of Node is replaced by a trap that records the call and fails (resolver-trap.ts);
 * then a full anonymized session runs in this process over the private Tor network: an
 * introducer and two storage servers that are onion services only (server use case 3,
 * 1.20 spelling), and a client with `anonymize = true` (client use case 3, original
 * spelling) that subscribes, uploads through its web gateway and downloads again. The
 * trap must have seen nothing. A control step proves the trap is armed: a direct
 * `net.connect` to a host name is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dns from 'node:dns';
import net from 'node:net';
import path from 'node:path';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { TahoeNode } from '../../src/node/node.js';
import { startTorNetwork } from '../../src/testnet/tor-network.js';
import { createWebGateway } from '../../src/web/gateway.js';
import { GatewayClient } from '../../src/web/client.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { GRID_TIMING, startAnonGrid } from './grid.js';
import { installResolverTrap } from './resolver-trap.js';

test('anonymize mode: a whole session (introducer, upload, download over Tor) never calls the resolver', { timeout: 300_000 }, async (t) => {
  const root = tempDir(t, 'tahoe-ts-nodns-');
  const tor = await startTorNetwork({ dir: path.join(root, 'tor') });
  t.after(() => tor.stop());

  // Armed from here on: the private network is test infrastructure, the nodes are not.
  const trap = installResolverTrap();
  t.after(() => trap.restore());
  await assert.rejects(
    new Promise((resolve, reject) => net.connect({ host: 'trap-check.invalid', port: 9 }).once('connect', resolve).once('error', reject)),
    /resolver trap: dns\.lookup\("trap-check\.invalid"/,
    'the trap catches the implicit lookup of net.connect',
  );
  await assert.rejects(dns.promises.resolve4('trap-check.invalid'), /resolver trap/);
  assert.equal(trap.calls.length, 2);
  const armedCalls = trap.calls.length;

  const grid = await startAnonGrid(t, { root, network: { kind: 'tor', tor }, servers: 2, hideServers: true });
  const clientDir = path.join(root, 'client');
  const webPort = await freePort();
  await createNode({ directory: clientDir, command: 'create-client', nickname: 'client', introducer: grid.introducerFurl, webport: `tcp:${webPort}:interface=127.0.0.1`, sharesNeeded: 1, sharesHappy: 2, sharesTotal: 2 });
  // The original design's spelling: anonymize = true alone (tub.port/tub.location absent: listen nowhere, announce nothing).
  await editTahoeCfg(clientDir, [
    { section: 'node', key: 'reveal-IP-address', value: null },
    { section: 'node', key: 'tub.port', value: null },
    { section: 'node', key: 'tub.location', value: null },
    { section: 'node', key: 'anonymize', value: 'true' },
    { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${tor.socksPort}` },
    { section: 'i2p', key: 'enabled', value: 'false' },
  ]);
  const client = await TahoeNode.start({ directory: clientDir, logToStderr: false, timing: GRID_TIMING, webGateway: createWebGateway });
  t.after(() => client.stop());
  assert.equal(client.policy.hideIp, true);

  const grid0 = client.services.grid;
  assert.ok(grid0);
  await grid0.waitForServers(2, { timeoutMs: 150_000 });
  assert.deepEqual(grid0.serverStatuses().map((s) => s.transport), ['tor', 'tor']);

  const gateway = new GatewayClient(new URL(client.webUrl as string));
  const data = randomBytes(300_000);
  const cap = await gateway.putFile((async function* () {
    yield data;
  })(), data.length);
  assert.match(cap, /^URI:CHK:/);
  const { body } = await gateway.getFile(cap);
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) parts.push(chunk);
  assert.equal(createHash('sha256').update(Buffer.concat(parts)).digest('hex'), createHash('sha256').update(data).digest('hex'));

  await client.stop();
  await grid.close();
  const leaks = trap.calls.slice(armedCalls);
  assert.deepEqual(leaks.map((c) => `${c.api}(${c.args})\n${c.stack}`), [], 'no resolver call during the anonymized session');
});
