import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ShareStore } from '../../src/storage/share-store.js';
import { LeaseExpirer, expiryPolicyFromSettings } from '../../src/storage/expirer.js';
import { tempDir } from '../helpers/tmp.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';

test('expiryPolicyFromSettings maps [storage] expire.* settings', () => {
  assert.equal(expiryPolicyFromSettings({ expireEnabled: false, expireMode: 'age', expireOverrideLeaseDuration: undefined, expireCutoffDate: undefined, expireImmutable: true, expireMutable: true }), undefined);
  const p = expiryPolicyFromSettings({ expireEnabled: true, expireMode: 'cutoff-date', expireOverrideLeaseDuration: undefined, expireCutoffDate: new Date('2030-01-02T00:00:00Z'), expireImmutable: false, expireMutable: true });
  assert.deepEqual(p, { mode: 'cutoff-date', overrideLeaseDurationSeconds: undefined, cutoffDate: Date.UTC(2030, 0, 2) / 1000, shareTypes: new Set(['mutable']) });
});

test('the periodic crawler deletes a share once its only lease expires, and stops cleanly', async (t) => {
  const store = await ShareStore.open({ storageDir: path.join(tempDir(t), 'storage'), nodeId: Buffer.alloc(20), leaseDurationSeconds: 1 });
  t.after(() => store.close());
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) }, uploadSecret: upload, shareNumbers: [0], allocatedSize: 4 });
  await store.writeImmutable(SI, 0, upload, 0, 4, (async function* () {
    yield Buffer.from('data');
  })());
  const expirer = new LeaseExpirer(store, { policy: { mode: 'age', shareTypes: new Set(['immutable', 'mutable']) }, intervalMs: 100 });
  expirer.start();
  t.after(() => expirer.stop());
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(await store.listImmutable(SI), [0], 'lease still valid during its second');
  const deadline = Date.now() + 4000;
  while ((await store.listImmutable(SI)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await store.listImmutable(SI), []);
  assert.ok(expirer.lastReport !== undefined);
  await expirer.stop();
  const report = await expirer.runOnce();
  assert.equal(report.deletedShares, 0);
});
