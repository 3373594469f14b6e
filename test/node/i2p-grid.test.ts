/**
 * The introducer over I2P, end to end on one offline i2pd router (i2p.md §5; nothing
 * leaves 127.0.0.1): an introducer node made by `create-introducer --listen=i2p` serves
 * its destination through SAM and writes a fURL with an `i2p:` hint; a storage server
 * publishes to it and a client subscribes to it over I2P streams — the same plain HTTP/1.1
 * as over TCP. The client then finds the server (reached over TCP) and a file makes the
 * round trip.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import type { CfgEdit } from '../../src/config/cfg.js';
import { bytesSource } from '../../src/immutable/source.js';
import { startI2pRouter, type I2pRouter } from '../../src/testnet/i2pd.js';
import { fileScope, privateTempDir } from '../net/tor/offline-tor.js';
import { clientDir, startNode } from './helpers.js';

const scope = fileScope();
let router: I2pRouter;
let base: string;

before(async () => {
  base = privateTempDir(scope, 'tahoe-ts-node-i2p-');
  router = await startI2pRouter({ dir: path.join(base, 'i2pd') });
  scope.after(() => router.stop());
});
after(() => scope.run());

function i2pEdits(): CfgEdit[] {
  return [
    { section: 'i2p', key: 'sam.port', value: `tcp:127.0.0.1:${router.samPort}` },
    { section: 'i2p', key: 'sam.options', value: Object.entries(router.sessionOptions).map(([k, v]) => `${k}=${v}`).join(' ') },
    { section: 'tor', key: 'enabled', value: 'false' },
  ];
}

test('an I2P introducer: a storage server publishes and a client subscribes over I2P', { timeout: 600_000 }, async (t) => {
  const root = path.join(base, 'nodes');
  const introDirectory = path.join(root, 'introducer');
  await createNode({ directory: introDirectory, command: 'create-introducer', listen: ['i2p'], i2pSamPort: `tcp:127.0.0.1:${router.samPort}`, webport: 'none' });
  await editTahoeCfg(introDirectory, i2pEdits());
  const introducer = await startNode(t, introDirectory);
  const furl = introducer.introducerFurl as string;
  // An I2P-only introducer: private/introducer.furl is its one pb+i2p:// NURL.
  assert.match(furl, /^pb\+i2p:\/\/[A-Za-z0-9_-]{43}@[a-z2-7]{52}\.b32\.i2p:3457\/[a-z2-7]{32}#v=1$/);
  assert.deepEqual([furl], [...introducer.introducerNurls]);

  const [server, client] = await Promise.all([
    clientDir(root, 'server', { introducer: furl, shares: [1, 1, 1], edits: i2pEdits() }).then((d) => startNode(t, d.directory)),
    clientDir(root, 'client', { introducer: furl, storage: false, shares: [1, 1, 1], edits: i2pEdits() }).then((d) => startNode(t, d.directory)),
  ]);
  const grid = client.services.grid;
  assert.ok(grid !== undefined);
  await grid.waitForServers(1, { timeoutMs: 300_000 });
  assert.equal(grid.serverStatuses()[0].serverId, server.serverId);
  assert.equal(client.status().introducers[0].transport, 'i2p');
  assert.equal(server.status().introducers[0].transport, 'i2p');

  const data = randomBytes(20_000);
  const { cap } = await grid.uploadImmutable(bytesSource(data), data.length);
  const parts: Buffer[] = [];
  for await (const c of (await grid.downloadImmutable(cap)).stream) parts.push(Buffer.from(c));
  assert.ok(Buffer.concat(parts).equals(data));
});
