/**
 * `[i2p] launch = true` and `[i2p] dest = true` across a node restart (configuration.md §2,
 * §4 `--listen=i2p --i2p-launch`): a node made by `create-node --listen=i2p --i2p-launch`
 * starts its own i2pd under `private/i2pd/` (the offline single-router network here:
 * `TahoeNodeOptions.i2p.launchMode = 'offline'` — in production the same setting joins the
 * real I2P network), serves storage at the destination in `private/i2p_dest.privkey`, and
 * its own grid client reaches that storage server over I2P through the launched router.
 * After a stop the router is gone; the restarted node launches a fresh router, announces
 * the same `.b32.i2p` address and reads back the file stored before the restart.
 *
 * A restart against a long-running *attached* router is not tested here: on one offline
 * i2pd 2.45 a destination re-created after its session closed never receives streams
 * again (its own netDb keeps the old type-1 LeaseSet; see docs/i2p.md).
 *
 * The introducer is plain TCP on loopback (it only introduces; storage traffic is I2P).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bytesSource } from '../../../src/immutable/source.js';
import { TahoeNode } from '../../../src/node/node.js';
import { freePort } from '../../helpers/ports.js';
import { makeNode, waitFor } from '../tor/tor-grid.js';
import { B32, I2P_TEST_TIMING, hintsOfFurl, i2pdMissing, log } from './i2p-grid.js';
import { OFFLINE_SESSION_OPTIONS } from '../../../src/testnet/i2pd.js';
import { isAlive } from '../../helpers/processes.js';

const skip = i2pdMissing();
const root = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-i2p-launch-'));
const running: TahoeNode[] = [];
after(async () => {
  for (const node of running.reverse()) await node.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function launchedPid(directory: string): Promise<number> {
  const pid = Number((await readFile(path.join(directory, 'private', 'i2pd', 'i2pd.pid'), 'utf8')).trim());
  assert.ok(Number.isInteger(pid) && pid > 1, 'i2pd wrote its pid file');
  return pid;
}

async function start(directory: string): Promise<TahoeNode> {
  const t0 = Date.now();
  const node = await TahoeNode.start({ directory, logToStderr: false, timing: I2P_TEST_TIMING, i2p: { launchMode: 'offline' } });
  running.push(node);
  log(`${path.basename(directory)} started in ${Date.now() - t0} ms`);
  return node;
}

async function stop(node: TahoeNode): Promise<void> {
  await node.stop();
  running.splice(running.indexOf(node), 1);
}

async function waitForOwnServer(node: TahoeNode): Promise<void> {
  const grid = node.services.grid;
  assert.ok(grid);
  await waitFor(() => grid.serverStatuses().some((s) => s.connected), 180_000, () => JSON.stringify(grid.serverStatuses().map((s) => [s.nickname, s.connected, s.lastError])));
  assert.equal(grid.serverStatuses()[0].transport, 'i2p', 'the node reaches its own storage server over I2P');
}

test('[i2p] launch = true: a launched router per start, the same destination after a restart, stored data read back', { skip, timeout: 600_000 }, async () => {
  const introPort = await freePort();
  const introDir = await makeNode(path.join(root, 'introducer'), { command: 'create-introducer', port: `tcp:${introPort}:interface=127.0.0.1`, location: `tcp:127.0.0.1:${introPort}` }, [{ section: 'i2p', key: 'enabled', value: 'false' }, { section: 'tor', key: 'enabled', value: 'false' }]);
  const introducer = await start(introDir);
  const furl = introducer.introducerFurl as string;

  const dir = await makeNode(path.join(root, 'server'), { command: 'create-node', nickname: 'launcher', introducer: furl, listen: ['i2p'], i2pLaunch: true, sharesNeeded: 1, sharesHappy: 1, sharesTotal: 1 }, [
    { section: 'i2p', key: 'sam.options', value: Object.entries(OFFLINE_SESSION_OPTIONS).map(([k, v]) => `${k}=${v}`).join(' ') },
    { section: 'tor', key: 'enabled', value: 'false' },
  ]);
  const cfg = await readFile(path.join(dir, 'tahoe.cfg'), 'utf8');
  assert.match(cfg, /^launch = true$/m);
  assert.doesNotMatch(cfg, /^sam\.port/m, 'launch = true and sam.port exclude each other');
  const location = new RegExp(`^tub\\.location = i2p:(${B32}):3457$`, 'm').exec(cfg)?.[1];
  assert.ok(location, 'tub.location names the generated destination');

  // --- first start: our own router, our own destination, a file stored over I2P
  const first = await start(dir);
  const pid1 = await launchedPid(dir);
  assert.ok(isAlive(pid1));
  assert.ok(first.listenerInfo().some((l) => l.transport === 'i2p'));
  assert.deepEqual(hintsOfFurl((await readFile(path.join(dir, 'private', 'storage.furl'), 'utf8')).trim()), [`i2p:${location}:3457`]);
  assert.ok(first.storageNurls.length === 1 && first.storageNurls[0].includes(`@${location}:3457/`), 'the pb+i2p NURL names the same destination');
  await waitForOwnServer(first);
  const data = randomBytes(120_000);
  const grid = first.services.grid;
  assert.ok(grid);
  const { cap } = await grid.uploadImmutable(bytesSource(data), data.length);
  assert.equal((await stat(path.join(dir, 'private', 'i2p_dest.privkey'))).mode & 0o777, 0o600);
  assert.equal((await stat(path.join(dir, 'private', 'i2pd'))).mode & 0o777, 0o700);

  await stop(first);
  assert.equal(isAlive(pid1), false, 'the launched i2pd stopped with the node');

  // --- second start: a fresh router, the same address, the file is still there
  const second = await start(dir);
  const pid2 = await launchedPid(dir);
  assert.notEqual(pid2, pid1);
  assert.ok(second.storageNurls[0].includes(`@${location}:3457/`), 'the same destination after the restart');
  await waitForOwnServer(second);
  const parts: Buffer[] = [];
  const secondGrid = second.services.grid;
  assert.ok(secondGrid);
  for await (const chunk of (await secondGrid.downloadImmutable(cap)).stream) parts.push(Buffer.from(chunk));
  assert.ok(Buffer.concat(parts).equals(data), 'the file stored before the restart is read back over I2P');
  await stop(second);
  assert.equal(isAlive(pid2), false, 'the second launched i2pd stopped with the node');
});
