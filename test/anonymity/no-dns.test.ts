/**
 * AN-2.2: no local name resolution ever happens in anonymize mode. Every resolver entry
 * point of Node is replaced by a trap that records the call and fails (resolver-trap.ts);
 * then a full anonymized session runs in this process over the private Tor network: an
 * introducer and two storage servers that are onion services only (server use case 3,
 * 1.20 spelling), and a client with `anonymize = true` (client use case 3, original
 * spelling) that subscribes, uploads through its web gateway and downloads again. The
 * trap must have seen nothing. Then the same over I2P alone (offline i2pd; I2P-only
 * servers and introducer; a client with reveal-IP-address = false and tcp = disabled). A control step proves the trap is armed: a direct
 * `net.connect` to a host name is caught.
 */
import { test, type TestContext } from 'node:test';
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
import { GRID_TIMING, startAnonGrid, type AnonGrid } from './grid.js';
import type { CfgEdit } from '../../src/config/cfg.js';
import { startI2pRouter } from '../../src/testnet/i2pd.js';
import { i2pdMissing } from '../e2e/i2p/i2p-grid.js';
import { installResolverTrap, type ResolverTrap } from './resolver-trap.js';

/** Arm the trap, check it is armed, and return the index after the check's own calls. */
async function armTrap(t: TestContext): Promise<{ trap: ResolverTrap; armedCalls: number }> {
  const trap = installResolverTrap();
  t.after(() => trap.restore());
  await assert.rejects(
    new Promise((resolve, reject) => net.connect({ host: 'trap-check.invalid', port: 9 }).once('connect', resolve).once('error', reject)),
    /resolver trap: dns\.lookup\("trap-check\.invalid"/,
    'the trap catches the implicit lookup of net.connect',
  );
  await assert.rejects(dns.promises.resolve4('trap-check.invalid'), /resolver trap/);
  assert.equal(trap.calls.length, 2);
  return { trap, armedCalls: trap.calls.length };
}

/**
 * An anonymized client (`edits` make it so) on `grid`: subscribes, waits for both servers
 * over `transport`, uploads through its web gateway and downloads again; then everything
 * stops and the trap must have seen nothing since `armedCalls`.
 */
async function anonymizedSession(t: TestContext, root: string, grid: AnonGrid, edits: CfgEdit[], transport: string, trap: ResolverTrap, armedCalls: number): Promise<void> {
  const clientDir = path.join(root, 'client');
  const webPort = await freePort();
  await createNode({ directory: clientDir, command: 'create-client', nickname: 'client', introducer: grid.introducerFurl, webport: `tcp:${webPort}:interface=127.0.0.1`, sharesNeeded: 1, sharesHappy: 2, sharesTotal: 2 });
  await editTahoeCfg(clientDir, edits);
  const client = await TahoeNode.start({ directory: clientDir, logToStderr: false, timing: GRID_TIMING, webGateway: createWebGateway });
  t.after(() => client.stop());
  assert.equal(client.policy.hideIp, true);

  const grid0 = client.services.grid;
  assert.ok(grid0);
  await grid0.waitForServers(2, { timeoutMs: 150_000 });
  assert.deepEqual(grid0.serverStatuses().map((s) => s.transport), [transport, transport]);

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
  assert.deepEqual(leaks.map((c) => `${c.api}(${c.args})\n${c.stack ?? ''}`), [], 'no resolver call during the anonymized session');
}

test('anonymize mode: a whole session (introducer, upload, download over Tor) never calls the resolver', { timeout: 300_000 }, async (t) => {
  const root = tempDir(t, 'tahoe-ts-nodns-');
  const tor = await startTorNetwork({ dir: path.join(root, 'tor') });
  t.after(() => tor.stop());
  // Armed from here on: the private network is test infrastructure, the nodes are not.
  const { trap, armedCalls } = await armTrap(t);
  const grid = await startAnonGrid(t, { root, network: { kind: 'tor', tor }, servers: 2, hideServers: true });
  // The original design's spelling: anonymize = true alone (tub.port/tub.location absent: listen nowhere, announce nothing).
  await anonymizedSession(t, root, grid, [
    { section: 'node', key: 'reveal-IP-address', value: null },
    { section: 'node', key: 'tub.port', value: null },
    { section: 'node', key: 'tub.location', value: null },
    { section: 'node', key: 'anonymize', value: 'true' },
    { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${tor.socksPort}` },
    { section: 'i2p', key: 'enabled', value: 'false' },
  ], 'tor', trap, armedCalls);
});

test('anonymize mode over I2P only: introducer, upload and download through the SAM bridge never call the resolver', { skip: i2pdMissing(), timeout: 300_000 }, async (t) => {
  const root = tempDir(t, 'tahoe-ts-nodns-i2p-');
  const i2p = await startI2pRouter({ dir: path.join(root, 'i2pd') });
  t.after(() => i2p.stop());
  const { trap, armedCalls } = await armTrap(t);
  const grid = await startAnonGrid(t, { root, network: { kind: 'i2p', i2p }, servers: 2, hideServers: true });
  // Tahoe 1.20's spelling, I2P only: no TCP at all, no Tor.
  await anonymizedSession(t, root, grid, [
    { section: 'node', key: 'reveal-IP-address', value: 'false' },
    { section: 'node', key: 'tub.port', value: 'disabled' },
    { section: 'node', key: 'tub.location', value: 'disabled' },
    { section: 'connections', key: 'tcp', value: 'disabled' },
    { section: 'tor', key: 'enabled', value: 'false' },
    { section: 'i2p', key: 'sam.port', value: `tcp:127.0.0.1:${i2p.samPort}` },
    { section: 'i2p', key: 'sam.options', value: Object.entries(i2p.sessionOptions).map(([k, v]) => `${k}=${v}`).join(' ') },
  ], 'i2p', trap, armedCalls);
});
