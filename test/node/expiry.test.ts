/**
 * `[storage] expire.*` in a running node: the node's lease-expiry crawler runs a pass at
 * start, deletes shares whose leases expired, and `stop()` ends a pass in progress
 * before it returns (nothing is deleted behind a stopped node's back).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { cp, readdir } from 'node:fs/promises';
import { ShareStore } from '../../src/storage/share-store.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { tempDir } from '../helpers/tmp.js';
import { clientDir, startNode, waitFor } from './helpers.js';

/** A storage server directory whose leases expire one second after they are granted. */
async function shortExpiryDir(root: string, name: string): Promise<string> {
  const { directory } = await clientDir(root, name, {
    edits: [
      { section: 'storage', key: 'expire.enabled', value: 'true' },
      { section: 'storage', key: 'expire.mode', value: 'age' },
      { section: 'storage', key: 'expire.override_lease_duration', value: '0 days' },
    ],
  });
  return directory;
}

/** Put one immutable share (one lease, granted now) into the node's storage directory. */
async function writeShare(storageDir: string, si: string): Promise<void> {
  const store = await ShareStore.open({ storageDir, nodeId: Buffer.alloc(20) });
  try {
    const upload = randomBytes(32);
    await store.allocate(si, { lease: { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) }, uploadSecret: upload, shareNumbers: [0], allocatedSize: 4 });
    await store.writeImmutable(si, 0, upload, 0, 4, (async function* () {
      yield Buffer.from('data');
    })());
  } finally {
    await store.close();
  }
}

function newStorageIndex(): string {
  return base32Encode(randomBytes(16));
}

/** Number of storage index directories under storage/shares. */
async function countStorageIndexes(storageDir: string): Promise<number> {
  const shares = path.join(storageDir, 'shares');
  let n = 0;
  for (const prefix of await readdir(shares)) {
    if (!/^[a-z2-7]{2}$/.test(prefix)) continue;
    // The crawler removes a prefix directory once its last storage index is gone.
    n += (await readdir(path.join(shares, prefix)).catch(() => [])).length;
  }
  return n;
}

test('a node with a short lease expiry deletes an expired share in the pass it runs at start', async (t) => {
  const root = tempDir(t);
  const directory = await shortExpiryDir(root, 'expiring');
  const storageDir = path.join(directory, 'storage');
  const si = newStorageIndex();
  await writeShare(storageDir, si);
  // override_lease_duration = 0 days: the lease is expired once a second has passed since its grant.
  await new Promise((r) => setTimeout(r, 1_100));
  const node = await startNode(t, directory);
  const expirer = node.services.expirer;
  assert.ok(expirer !== undefined, 'the node runs a lease expirer when expire.enabled = true');
  await waitFor(() => expirer.lastReport !== undefined, 10_000, 'the first expiry pass');
  assert.equal(expirer.lastReport?.deletedShares, 1);
  assert.equal(await countStorageIndexes(storageDir), 0);
});

test('no expirer without expire.enabled: an old lease survives', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'keeping');
  const storageDir = path.join(directory, 'storage');
  await writeShare(storageDir, newStorageIndex());
  const node = await startNode(t, directory);
  assert.equal(node.services.expirer, undefined);
  await node.stop();
  assert.equal(await countStorageIndexes(storageDir), 1);
});

test('stop() during an expiry pass ends the pass before it returns', async (t) => {
  const root = tempDir(t);
  const directory = await shortExpiryDir(root, 'stopping');
  const storageDir = path.join(directory, 'storage');
  const first = newStorageIndex();
  await writeShare(storageDir, first);
  // Enough storage indexes that a pass takes a while: copies of the one share file.
  const source = path.join(storageDir, 'shares', first.slice(0, 2), first);
  const total = 2_000;
  for (let i = 1; i < total; i++) {
    const si = newStorageIndex();
    await cp(source, path.join(storageDir, 'shares', si.slice(0, 2), si), { recursive: true });
  }
  await new Promise((r) => setTimeout(r, 1_100));
  const node = await startNode(t, directory);
  await waitFor(async () => (await countStorageIndexes(storageDir)) < total, 20_000, 'the pass to delete its first shares');
  const started = Date.now();
  await node.stop();
  const stopMs = Date.now() - started;
  const left = await countStorageIndexes(storageDir);
  assert.ok(left > 0, `the pass was still running when stop() was called (${left} of ${total} storage indexes left)`);
  assert.ok(stopMs < 5_000, `stop() returned in ${stopMs} ms`);
  // Nothing happens behind a stopped node's back.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await countStorageIndexes(storageDir), left);
  const report = node.services.expirer?.lastReport;
  assert.ok(report !== undefined && report.deletedShares === total - left, 'the interrupted pass reports what it deleted');
});
