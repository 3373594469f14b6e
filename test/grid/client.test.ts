import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createGridClient } from '../../src/grid/client.js';
import { bytesSource } from '../../src/immutable/source.js';
import { isTahoeError } from '../../src/errors.js';
import { testRouter } from './fixture.js';

const base = () => ({ router: testRouter(), leaseSecret: randomBytes(32), convergenceSecret: randomBytes(32), encoding: { k: 3, happy: 7, n: 10 } });

test('impossible encodings and empty secrets are refused with a hint', () => {
  for (const encoding of [{ k: 0, happy: 1, n: 1 }, { k: 3, happy: 2, n: 10 }, { k: 3, happy: 11, n: 10 }, { k: 5, happy: 5, n: 4 }, { k: 3, happy: 7, n: 300 }]) {
    assert.throws(() => createGridClient({ ...base(), encoding }), (e: unknown) => {
      assert.ok(isTahoeError(e, 'ConfigInvalid') || isTahoeError(e, 'BadInput'), String(e));
      assert.ok(e.hint.length > 10);
      return true;
    });
  }
  assert.throws(() => createGridClient({ ...base(), leaseSecret: new Uint8Array(0) }), (e: unknown) => isTahoeError(e, 'NodeDirInvalid'));
});

test('a client with no servers explains itself; a closed client refuses work', async () => {
  const client = createGridClient(base());
  assert.deepEqual(client.serverStatuses(), []);
  await assert.rejects(client.uploadImmutable(bytesSource(randomBytes(1000)), 1000), (e: unknown) => {
    assert.ok(isTahoeError(e, 'UploadUnhappy'));
    assert.match(e.hint, /knows only 0 servers/);
    return true;
  });
  const lit = await client.uploadImmutable(bytesSource(Buffer.from('small')), 5);
  assert.match(lit.cap, /^URI:LIT:/);
  await assert.rejects(client.downloadImmutable('URI:CHK:aaaaaaaaaaaaaaaaaaaaaaaaaa:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:3:10:1000'), (e: unknown) => {
    assert.ok(isTahoeError(e, 'NotEnoughShares'), String(e));
    assert.match(e.hint, /knows no servers/);
    return true;
  });
  const waiting = new AbortController();
  const wait = client.waitForServers(1, { signal: waiting.signal });
  waiting.abort();
  await assert.rejects(wait, (e: unknown) => isTahoeError(e, 'Aborted'));
  await client.close();
  await assert.rejects(client.uploadImmutable(bytesSource(Buffer.from('x')), 1), (e: unknown) => isTahoeError(e, 'Aborted'));
  assert.throws(() => client.addAnnouncement('v0-x', {}), (e: unknown) => isTahoeError(e, 'Aborted'));
});
