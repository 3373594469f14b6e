/**
 * A mixed grid at the same time: one storage server on plain TCP, one that is an onion
 * service only (on a private Tor network, src/testnet/tor-network.ts), one that is an I2P
 * destination only (on one offline i2pd), all announcing to one TCP introducer (issue
 * "Native I2P" item 3; anonymity-checklist G-1; router.ts ordering).
 *
 * Two clients with Tor and I2P both available, each uploading with k = happy = N = 3 — so
 * one upload puts a share on every kind of server and one download reads a share from
 * every kind:
 *   M-reveal   no privacy setting: TCP server directly, onion service through Tor, I2P
 *              destination through SAM;
 *   M-hide-ip  reveal-IP-address = false, [connections] tcp = tor: the TCP server through a
 *              Tor exit (by host name), the onion service through Tor, the I2P destination
 *              through SAM — nothing direct.
 * The status and the welcome JSON name the transport per server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { CfgEdit } from '../../../src/config/cfg.js';
import type { TahoeNode } from '../../../src/node/node.js';
import { createWebGateway } from '../../../src/web/gateway.js';
import { freePort } from '../../helpers/ports.js';
import { makeNode, roundTrip, sharesHeld, statusesByNickname, waitFor } from '../tor/tor-grid.js';
import { i2pdMissing, log, openI2pGrid, type I2pGridScope } from './i2p-grid.js';

const skip = i2pdMissing();
let scope: I2pGridScope | undefined;

before(async () => {
  if (skip === undefined) scope = await openI2pGrid('tahoe-ts-i2p-mixed-', { tor: true });
});
after(async () => {
  await scope?.close();
});

const EXPECT: Record<string, Record<string, 'tcp' | 'tor' | 'i2p'>> = {
  'M-reveal': { 'T-tcp': 'tcp', 'O-onion': 'tor', 'I-i2p': 'i2p' },
  'M-hide-ip': { 'T-tcp': 'tor', 'O-onion': 'tor', 'I-i2p': 'i2p' },
};

function welcomeServers(url: string): Promise<Array<{ nickname: string; transport: string | null; connection_status: string }>> {
  return new Promise((resolve, reject) => {
    http
      .get(new URL('/?t=json', url), { agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          try {
            resolve((JSON.parse(Buffer.concat(parts).toString('utf8')) as { servers: Array<{ nickname: string; transport: string | null; connection_status: string }> }).servers);
          } catch (e) {
            reject(e as Error);
          }
        });
      })
      .on('error', reject);
  });
}

test('a mixed grid: TCP, onion and I2P servers at once; one upload spreads over all three kinds, one download reads from all three', { skip, timeout: 600_000 }, async (t) => {
  const s = scope as I2pGridScope;
  const tor = s.tor;
  assert.ok(tor);
  let passed = false;
  t.after(async () => {
    if (!passed) await s.dumpRouterLog();
  });
  const socksPort: CfgEdit = { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${tor.socksPort}` };
  const controlPort = `tcp:127.0.0.1:${tor.controlPort}`;

  // --- a TCP introducer (a client that hides its IP reaches it through a Tor exit)
  const introDir = await makeNode(path.join(s.root, 'introducer'), { command: 'create-introducer', listen: ['tcp'], hostname: 'localhost' }, [{ section: 'i2p', key: 'enabled', value: 'false' }, { section: 'tor', key: 'enabled', value: 'false' }]);
  const introducer = await s.start(introDir);
  const furl = introducer.introducerFurl as string;

  // --- one server of each kind, started at once
  const base = { command: 'create-node' as const, introducer: furl };
  const servers: Array<[string, () => Promise<string>]> = [
    ['T-tcp', () => makeNode(path.join(s.root, 'T-tcp'), { ...base, nickname: 'T-tcp', listen: ['tcp'], hostname: 'localhost' }, [{ section: 'i2p', key: 'enabled', value: 'false' }, { section: 'tor', key: 'enabled', value: 'false' }])],
    ['O-onion', () => makeNode(path.join(s.root, 'O-onion'), { ...base, nickname: 'O-onion', listen: ['tor'], hideIp: true, torControlPort: controlPort }, [{ section: 'i2p', key: 'enabled', value: 'false' }])],
    ['I-i2p', () => makeNode(path.join(s.root, 'I-i2p'), { ...base, nickname: 'I-i2p', listen: ['i2p'], hideIp: true, i2pSamPort: s.samPort }, [...s.i2pEdits(), socksPort])],
  ];
  const serverNodes = new Map<string, TahoeNode>();
  const started = Date.now();
  await Promise.all(servers.map(async ([name, make]) => serverNodes.set(name, await s.start(await make()))));
  log(`servers up in ${Date.now() - started} ms`);

  // --- two clients with Tor and I2P available
  const shares = { sharesNeeded: 3, sharesHappy: 3, sharesTotal: 3 };
  const webPort = await freePort();
  const revealDir = await makeNode(path.join(s.root, 'M-reveal'), { command: 'create-client', nickname: 'M-reveal', introducer: furl, webport: `tcp:${webPort}:interface=127.0.0.1`, ...shares }, [...s.i2pEdits(), socksPort]);
  const hideDir = await makeNode(path.join(s.root, 'M-hide-ip'), { command: 'create-client', nickname: 'M-hide-ip', introducer: furl, hideIp: true, ...shares }, [...s.i2pEdits(), socksPort]);
  const clients = new Map<string, TahoeNode>([
    ['M-reveal', await s.start(revealDir, { webGateway: createWebGateway })],
    ['M-hide-ip', await s.start(hideDir)],
  ]);
  assert.match(await readFile(path.join(hideDir, 'tahoe.cfg'), 'utf8'), /^tcp = tor$/m);

  await Promise.all(
    [...clients].map(async ([name, node]) => {
      const want = EXPECT[name];
      await waitFor(() => Object.keys(want).every((server) => statusesByNickname(node).get(server)?.connected === true), 240_000, () => `${name}: ${JSON.stringify([...statusesByNickname(node).values()].map((x) => [x.nickname, x.connected, x.transport, x.lastError]))}`);
      const statuses = statusesByNickname(node);
      for (const [server, via] of Object.entries(want)) assert.equal(statuses.get(server)?.transport, via, `${name} reaches ${server} via ${via}`);
      assert.equal(node.status().introducers[0].transport, name === 'M-reveal' ? 'tcp' : 'tor');
      const up = await roundTrip(node, 300_000);
      log(`${name}: 300 kB up in ${up.uploadMs} ms, down in ${up.downloadMs} ms over ${up.servers} servers (tcp/onion/i2p)`);
      assert.equal(up.servers, 3);
      for (const server of Object.keys(want)) assert.equal(await sharesHeld(path.join(s.root, server), up.storageIndex), 1, `${server} holds one share of ${name}'s file`);
    }),
  );
  log(`both clients done ${Date.now() - started} ms after the servers started`);

  // --- the welcome page shows how each server is reached
  const welcome = await welcomeServers(clients.get('M-reveal')?.webUrl as string);
  assert.deepEqual(Object.fromEntries(welcome.map((w) => [w.nickname, w.transport])), EXPECT['M-reveal']);
  for (const w of welcome) assert.equal(w.connection_status, `Connected via ${w.transport as string}`);
  assert.deepEqual(serverNodes.get('I-i2p')?.listenerInfo().map((l) => l.transport), ['i2p']);
  passed = true;
});
