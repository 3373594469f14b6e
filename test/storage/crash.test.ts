/**
 * Crash safety with a real process: a server killed (SIGKILL) in the middle of an upload
 * never serves the partial share after restart, and completed shares are intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { spkiHash } from '../../src/crypto/certificate.js';
import { newSwissnum } from '../../src/storage/identity.js';
import { StorageClient } from '../../src/storage/client.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { spawnTracked, killAndWait } from '../helpers/processes.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { testIdentity } from './helpers.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';

async function startChild(t: { after: (fn: () => unknown) => void }, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnTracked(t, process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/storage/server-child.ts'), ...args], { cwd: REPO_ROOT });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { child, port };
}

test('SIGKILL mid-upload: after restart the partial share is gone and complete shares are intact', async (t) => {
  const dir = tempDir(t);
  const identity = await testIdentity();
  const pem = path.join(dir, 'node.pem');
  writeFileSync(pem, identity.nodePem, { mode: 0o600 });
  const storageDir = path.join(dir, 'storage');
  const swissnum = newSwissnum();
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  t.after(() => tcp.close());
  const clientFor = (port: number) => {
    const c = new StorageClient({ spkiHash: spkiHash(identity.certificate), swissnum, connect: (signal) => tcp.dial({ kind: 'tcp', host: '127.0.0.1', port }, { signal }) });
    t.after(() => c.close());
    return c;
  };

  const first = await startChild(t, [storageDir, pem, swissnum]);
  const c1 = clientFor(first.port);
  const upload = randomBytes(32);
  const whole = randomBytes(200_000);
  await c1.allocateImmutable(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: upload, shareNumbers: [0, 1], allocatedSize: whole.length });
  await c1.uploadImmutableShare(SI, 0, upload, whole);
  await c1.writeImmutable(SI, 1, upload, 0, whole.subarray(0, 150_000));
  assert.deepEqual(await c1.listImmutableShares(SI), [0]);
  first.child.kill('SIGKILL');
  await killAndWait(first.child);

  const second = await startChild(t, [storageDir, pem, swissnum]);
  const c2 = clientFor(second.port);
  assert.deepEqual(await c2.listImmutableShares(SI), [0], 'the interrupted share is not served');
  assert.deepEqual(await c2.readImmutable(SI, 0, 0, whole.length), whole);
  assert.deepEqual(readdirSync(path.join(storageDir, 'shares', 'incoming')), [], 'incoming/ was emptied');
  // the interrupted share can be uploaded again from scratch
  const again = await c2.allocateImmutable(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: upload, shareNumbers: [1], allocatedSize: whole.length });
  assert.deepEqual(again, { alreadyHave: [0], allocated: [1] });
  await killAndWait(second.child);
});
