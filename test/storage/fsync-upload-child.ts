/**
 * Run under strace by fsync.test.ts: a real storage server (HTTPS on 127.0.0.1) and a real
 * client in this one process upload an immutable share to completion. argv = storageDir
 * ackDir. Right after the client is told a share is complete it creates `<ackDir>/ack-<n>`,
 * so the trace shows (as an openat) the moment the upload counted as done for the client.
 * Then a read-test-write creates mutable share 0 of MUTABLE_SI (acknowledged as
 * `ack-mutable`): the same durability question for the other rename into shares/.
 * Prints one JSON line with what it did.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createNodeCertificate, spkiHash, tubIdBytes } from '../../src/crypto/certificate.js';
import { ShareStore } from '../../src/storage/share-store.js';
import { StorageServer } from '../../src/storage/server.js';
import { StorageClient } from '../../src/storage/client.js';
import { newSwissnum } from '../../src/storage/identity.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { OPEN_GATE } from '../../src/net/socket.js';

const SI = 'i5nhq74zw2crkop634ra4hrvzm';
const MUTABLE_SI = 'aeaqcaibaeaqcaibaeaqcaibae';
const SHARE_SIZE = 300_000;

const [storageDir, ackDir] = process.argv.slice(2);
const identity = await createNodeCertificate();
const store = await ShareStore.open({ storageDir, nodeId: tubIdBytes(identity.certificate) });
const swissnum = newSwissnum();
const server = new StorageServer({ store, identity, swissnum });
const listener = await server.listen('127.0.0.1', 0);
const tcp = new TcpTransport({ gate: OPEN_GATE });
const client = new StorageClient({
  spkiHash: spkiHash(identity.certificate),
  swissnum,
  connect: (signal) => tcp.dial({ kind: 'tcp', host: '127.0.0.1', port: listener.port }, { signal }),
});

const uploadSecret = randomBytes(32);
const shareNumbers = [0, 1];
const allocation = await client.allocateImmutable(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret, shareNumbers, allocatedSize: SHARE_SIZE });
const completed: number[] = [];
// One after the other: share 0's completion creates shares/<si[:2]>/<si>/, share 1's finds it.
for (const shnum of allocation.allocated) {
  const data = randomBytes(SHARE_SIZE);
  // Two writes, so the completing request is not also the first one.
  await client.writeImmutable(SI, shnum, uploadSecret, 0, data.subarray(0, SHARE_SIZE / 2));
  const r = await client.writeImmutable(SI, shnum, uploadSecret, SHARE_SIZE / 2, data.subarray(SHARE_SIZE / 2));
  if (r.complete) {
    writeFileSync(path.join(ackDir, `ack-${shnum}`), '');
    completed.push(shnum);
  }
}
const listed = await client.listImmutableShares(SI);
const mutable = await client.readTestWrite(
  MUTABLE_SI,
  { writeEnabler: randomBytes(32), renewSecret: randomBytes(32), cancelSecret: randomBytes(32) },
  { testWriteVectors: new Map([[0, { test: [], write: [{ offset: 0, data: randomBytes(1000) }], newLength: null }]]), readVector: [] },
);
if (mutable.success) writeFileSync(path.join(ackDir, 'ack-mutable'), '');
await client.close();
await server.close();
await store.close();
await tcp.close();
process.stdout.write(`${JSON.stringify({ si: SI, allocated: allocation.allocated, completed, listed, mutableSi: MUTABLE_SI, mutableWritten: mutable.success })}\n`);
