/** Shared setup for storage tests: a real server on 127.0.0.1 with a real TLS identity. */
import https from 'node:https';
import path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import type { TestContext } from 'node:test';
import { createNodeCertificate, spkiHash } from '../../src/crypto/certificate.js';
import type { NodeCertificate } from '../../src/crypto/certificate.js';
import { tubIdBytes } from '../../src/crypto/certificate.js';
import { ShareStore } from '../../src/storage/share-store.js';
import type { ShareStoreOptions } from '../../src/storage/share-store.js';
import { StorageServer } from '../../src/storage/server.js';
import type { StorageServerLimits } from '../../src/storage/server.js';
import { StorageClient } from '../../src/storage/client.js';
import type { StorageClientOptions } from '../../src/storage/client.js';
import { newSwissnum } from '../../src/storage/identity.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { Logger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';

let sharedIdentity: Promise<NodeCertificate> | undefined;
/** One RSA identity per test file: key generation is the slow part. */
export function testIdentity(): Promise<NodeCertificate> {
  sharedIdentity ??= createNodeCertificate();
  return sharedIdentity;
}

export interface TestServer {
  server: StorageServer;
  store: ShareStore;
  port: number;
  swissnum: string;
  pin: string;
  nurl: string;
  storageDir: string;
  logLines: string[];
  client(options?: Partial<StorageClientOptions>): StorageClient;
  /** Number of streams the clients made. */
  dials: { count: number };
}

export async function startTestServer(
  t: Pick<TestContext, 'after'>,
  options: { store?: Partial<ShareStoreOptions>; limits?: StorageServerLimits; storageDir?: string } = {},
): Promise<TestServer> {
  const identity = await testIdentity();
  const storageDir = options.storageDir ?? path.join(tempDir(t), 'storage');
  const store = await ShareStore.open({ storageDir, nodeId: tubIdBytes(identity.certificate), ...options.store });
  const swissnum = newSwissnum();
  const logLines: string[] = [];
  const logger = new Logger({ level: 'debug', sink: { write: (l) => logLines.push(l) } });
  const server = new StorageServer({ store, identity, swissnum, logger, limits: options.limits });
  const listener = await server.listen('127.0.0.1', 0);
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  const clients: StorageClient[] = [];
  const dials = { count: 0 };
  t.after(async () => {
    for (const c of clients) await c.close();
    await server.close();
    await store.close();
    await tcp.close();
  });
  const pin = spkiHash(identity.certificate);
  const nurl = `pb://${pin}@127.0.0.1:${listener.port}/${swissnum}#v=1`;
  return {
    server,
    store,
    port: listener.port,
    swissnum,
    pin,
    nurl,
    storageDir,
    logLines,
    dials,
    client: (extra = {}) => {
      const c = new StorageClient({
        spkiHash: pin,
        swissnum,
        connect: (signal) => {
          dials.count++;
          return tcp.dial({ kind: 'tcp', host: '127.0.0.1', port: listener.port }, { signal });
        },
        peer: 'test server',
        hostHeader: `127.0.0.1:${listener.port}`,
        ...extra,
      });
      clients.push(c);
      return c;
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** A plain HTTPS request with full control of headers (flat [name, value, ...] list). */
export function rawRequest(
  port: number,
  req: { method: string; path: string; headers?: string[]; body?: Uint8Array | string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = https.request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers ?? [], rejectUnauthorized: false, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}

export function authHeader(swissnum: string): string[] {
  return ['Authorization', `Tahoe-LAFS ${Buffer.from(swissnum).toString('base64')}`];
}

export function secretHeader(name: string, value: Uint8Array): string[] {
  return ['X-Tahoe-Authorization', `${name} ${Buffer.from(value).toString('base64')}`];
}
