/**
 * A storage server in a child process, for crash tests: argv = storageDir nodePemFile swissnum.
 * Prints "PORT <n>" when listening.
 */
import { readFileSync } from 'node:fs';
import { parseNodePem, tubIdBytes } from '../../src/crypto/certificate.js';
import { ShareStore } from '../../src/storage/share-store.js';
import { StorageServer } from '../../src/storage/server.js';

const [storageDir, pemFile, swissnum] = process.argv.slice(2);
const identity = parseNodePem(readFileSync(pemFile, 'utf8'));
const store = await ShareStore.open({ storageDir, nodeId: tubIdBytes(identity.certificate) });
const server = new StorageServer({ store, identity, swissnum });
const listener = await server.listen('127.0.0.1', 0);
process.stdout.write(`PORT ${listener.port}\n`);
