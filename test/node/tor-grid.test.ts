/**
 * The introducer over Tor, end to end on a private loopback Tor network (tor.md §6;
 * nothing leaves 127.0.0.1): an introducer node made by `create-introducer --listen=tor
 * --tor-launch` launches its own tor, publishes its onion service and writes a fURL with a
 * `tor:` hint; a storage server publishes to it and a client subscribes to it through
 * the network's tor (control port for one, SOCKS port only for the other), both over the
 * same plain HTTP/1.1 the TCP tests use. The client then finds the server and a file
 * makes the round trip. Stopping the introducer removes its onion service (DEL_ONION) and
 * stops the tor it launched.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { bytesSource } from '../../src/immutable/source.js';
import { startTorNetwork, type TorNetwork } from '../../src/testnet/tor-network.js';
import { fileScope, privateTempDir } from '../net/tor/offline-tor.js';
import { clientDir, startNode } from './helpers.js';
import type { NodeProgress } from '../../src/node/node.js';

const scope = fileScope();
let network: TorNetwork;
let base: string;

before(async () => {
  base = privateTempDir(scope, 'tahoe-ts-node-tor-');
  network = await startTorNetwork({ dir: path.join(base, 'net'), onProgress: (m) => process.stderr.write(`# tor network ${m}\n`) });
  scope.after(() => network.stop());
});
after(() => scope.run());

test('an onion introducer: a storage server publishes and a client subscribes through Tor', { timeout: 600_000 }, async (t) => {
  const root = path.join(base, 'nodes');
  const introDirectory = path.join(root, 'introducer');
  await createNode({ directory: introDirectory, command: 'create-introducer', listen: ['tor'], torLaunch: true, webport: 'none' });
  await editTahoeCfg(introDirectory, [
    { section: 'tor', key: 'launch.extra_torrc', value: network.networkTorrc },
    { section: 'tor', key: 'bootstrap_timeout', value: '240' },
  ]);
  const progress: NodeProgress[] = [];
  const introducer = await startNode(t, introDirectory, { onProgress: (p) => progress.push(p), tor: { publishTimeoutMs: 240_000 } });
  const furl = introducer.introducerFurl as string;
  // An onion-only introducer: private/introducer.furl is its one pb+tor:// NURL.
  assert.match(furl, /^pb\+tor:\/\/[A-Za-z0-9_-]{43}@[a-z2-7]{56}\.onion:3457\/[a-z2-7]{32}#v=1$/);
  assert.deepEqual([furl], [...introducer.introducerNurls]);
  assert.ok(progress.some((p) => p.phase === 'tor' && p.percent === 100), 'tor bootstrap progress was reported');
  assert.ok(progress.some((p) => p.phase === 'onion'), 'onion publication progress was reported');

  const server = await startNode(t, (await clientDir(root, 'server', {
    introducer: furl,
    shares: [1, 1, 1],
    edits: [{ section: 'tor', key: 'control.port', value: `tcp:127.0.0.1:${network.controlPort}` }],
  })).directory, { tor: { publishTimeoutMs: 240_000 } });
  const client = await startNode(t, (await clientDir(root, 'client', {
    introducer: furl,
    storage: false,
    shares: [1, 1, 1],
    edits: [{ section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${network.socksPort}` }],
  })).directory);
  const grid = client.services.grid;
  assert.ok(grid !== undefined);
  await grid.waitForServers(1, { timeoutMs: 300_000 });
  assert.equal(grid.serverStatuses()[0].serverId, server.serverId);
  const intro = client.status().introducers[0];
  assert.equal(intro.connected, true);
  assert.equal(intro.transport, 'tor');
  assert.equal(server.status().introducers[0].transport, 'tor');
  assert.ok(server.status().introducers[0].lastPublished !== undefined);

  const data = randomBytes(20_000);
  const { cap } = await grid.uploadImmutable(bytesSource(data), data.length);
  const parts: Buffer[] = [];
  for await (const c of (await grid.downloadImmutable(cap)).stream) parts.push(Buffer.from(c));
  assert.ok(Buffer.concat(parts).equals(data));
  // stop() removes the onion service and stops the tor the introducer launched.
  const summary = introducer.status().transports.find((x) => x.name === 'tor')?.summary ?? '';
  const pid = Number(/pid (\d+)/.exec(summary)?.[1]);
  assert.ok(pid > 0, `launched tor pid in "${summary}"`);
  await introducer.stop();
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the launched tor is gone');
});

test('server use case 3 (anonymize, onion:PORT:hiddenServiceDir=… only): announced and reached through Tor alone', { timeout: 600_000 }, async (t) => {
  const root = path.join(base, 'nodes3');
  const control = `tcp:127.0.0.1:${network.controlPort}`;
  const introDirectory = path.join(root, 'introducer');
  await createNode({ directory: introDirectory, command: 'create-introducer', listen: ['tor'], torControlPort: control, webport: 'none' });
  const introducer = await startNode(t, introDirectory, { tor: { publishTimeoutMs: 240_000 } });
  const furl = introducer.introducerFurl as string;

  const hsDir = path.join(root, 'hidden-service');
  const { directory: serverDirectory } = await clientDir(root, 'server', {
    introducer: furl,
    shares: [1, 1, 1],
    edits: [
      { section: 'node', key: 'anonymize', value: 'true' },
      { section: 'node', key: 'reveal-ip-address', value: null },
      { section: 'node', key: 'tub.port', value: null },
      { section: 'node', key: 'tub.location', value: `onion:3457:hiddenServiceDir=${hsDir}` },
      { section: 'tor', key: 'control.port', value: control },
    ],
  });
  const server = await startNode(t, serverDirectory, { tor: { publishTimeoutMs: 240_000 } });
  // Everything it announces is an onion: the storage fURL's hints and its NURL.
  assert.equal(server.storageNurls.length, 1);
  assert.match(server.storageNurls[0], /^pb\+tor:\/\/[A-Za-z0-9_-]{43}@[a-z2-7]{56}\.onion:3457\//);
  const hostname = (await readFile(path.join(hsDir, 'hostname'), 'utf8')).trim();
  assert.ok(server.storageNurls[0].includes(hostname), 'the onion of the hiddenServiceDir key');
  assert.ok(server.status().listeners.some((l) => l.transport === 'tor'));

  const client = await startNode(t, (await clientDir(root, 'client', {
    introducer: furl,
    storage: false,
    shares: [1, 1, 1],
    edits: [{ section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${network.socksPort}` }],
  })).directory);
  const grid = client.services.grid;
  assert.ok(grid !== undefined);
  await grid.waitForServers(1, { timeoutMs: 300_000 });
  assert.equal(grid.serverStatuses()[0].transport, 'tor');
  const data = randomBytes(10_000);
  const { cap } = await grid.uploadImmutable(bytesSource(data), data.length);
  const parts: Buffer[] = [];
  for await (const c of (await grid.downloadImmutable(cap)).stream) parts.push(Buffer.from(c));
  assert.ok(Buffer.concat(parts).equals(data));
});
