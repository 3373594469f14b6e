/**
 * A grid of real storage servers for tests: N `StorageServer`s (storage room) over real
 * TLS on 127.0.0.1, each with its own certificate, node key and share store in a temp
 * directory, and grid clients connected to them through the real TCP transport and
 * connection router.
 *
 *   const grid = await startGrid(t, { servers: 10 });
 *   const client = await grid.client();                 // connected to every running server
 *   await grid.nodes[3].kill();                         // crash: listener and connections gone
 *   await grid.nodes[3].restart();                      // same identity, port and shares
 *   await grid.nodes[0].listShares(si);                 // complete shares on disk
 *
 * Everything is cleaned up in `t.after`, also when the test fails.
 */
import path from 'node:path';
import net from 'node:net';
import { openSocket, OPEN_GATE } from '../../src/net/socket.js';
import { StorageClient } from '../../src/storage/client.js';
import { readdir } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { createNodeCertificate, spkiHash, tubIdBytes, tubIdOf, type NodeCertificate } from '../../src/crypto/certificate.js';
import { NodeKey, permutationSeedOf } from '../../src/crypto/node-key.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { ShareStore } from '../../src/storage/share-store.js';
import { StorageServer } from '../../src/storage/server.js';
import { createPolicy } from '../../src/net/policy.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { ConnectionRouter } from '../../src/net/router.js';
import type { Transport, TransportName } from '../../src/net/transport.js';
import { createGridClient, defaultStorageApiFactory, type GridClient, type GridClientOptions, type GridTiming, type StaticServer } from '../../src/grid/client.js';
import type { CallOptions, StorageApi, StorageApiFactory } from '../../src/grid/storage-api.js';
import { tempDir } from '../helpers/tmp.js';
import { randomBytes } from 'node:crypto';

/** RSA key generation is slow: one certificate per server index, shared by the grids of a test process. */
const certificates: Array<Promise<NodeCertificate>> = [];
function certificateFor(index: number): Promise<NodeCertificate> {
  certificates[index] ??= createNodeCertificate();
  return certificates[index];
}

export interface GridNode {
  readonly index: number;
  readonly nickname: string;
  readonly serverId: string;
  /** The 20 TubID bytes (lease secrets are derived from them). */
  readonly tubId: Buffer;
  readonly storageDir: string;
  readonly port: number;
  readonly store: ShareStore;
  /** The announcement as `private/servers.yaml` holds it. */
  readonly staticServer: StaticServer;
  readonly running: boolean;
  /** Crash: stop listening and destroy every connection (in-flight requests die). */
  kill(): Promise<void>;
  /** Start again with the same identity, port and share store. */
  restart(): Promise<void>;
  /** Complete immutable shares of `si` (base32) on disk. */
  listShares(si: string): Promise<number[]>;
  /** Uploads of `si` still in incoming/ (not readable). */
  listIncoming(si: string): Promise<number[]>;
  /** Path of a complete share file. */
  sharePath(si: string, shareNumber: number): string;
  /** Corruption advisories the server has received. */
  advisoryCount(): Promise<number>;
  /**
   * Stall: the port keeps accepting connections but never answers a byte (existing
   * connections are dropped, so clients must reconnect into the silence). `restart()` ends it.
   */
  stall(): Promise<void>;
  /** A storage client straight to this server (no broker), for setting up test situations. */
  storageClient(): StorageClient;
}

export interface StartGridOptions {
  servers: number;
  /** Servers made read-only ([storage] readonly = true: they announce no space). */
  readonly?: readonly number[];
  /** `[storage] reserved_space` per server index. */
  reservedSpace?: (index: number) => number | undefined;
}

export interface TestGrid {
  readonly nodes: readonly GridNode[];
  staticServers(): StaticServer[];
  /**
   * A grid client that knows every server (as servers.yaml entries) and has connected to
   * every running one. Closed in `t.after`.
   */
  client(options?: Partial<Omit<GridClientOptions, 'router'>> & { waitFor?: number }): Promise<GridClient>;
}

/** Short timings: tests see failures in seconds, not minutes. */
export const TEST_TIMING: Partial<GridTiming> = {
  pollIntervalMs: 2_000,
  minBackoffMs: 100,
  maxBackoffMs: 1_000,
  probeTimeoutMs: 5_000,
  readTimeoutMs: 5_000,
  writeTimeoutMs: 10_000,
  queryTimeoutMs: 5_000,
};

export function testRouter(): ConnectionRouter {
  const policy = createPolicy({ torEnabled: false, i2pEnabled: false });
  const transports = new Map<TransportName, Transport>([['tcp', new TcpTransport({ gate: policy.gate })]]);
  return new ConnectionRouter({ policy, transports });
}

export async function startGrid(t: Pick<TestContext, 'after'>, options: StartGridOptions): Promise<TestGrid> {
  const root = tempDir(t, 'tahoe-ts-grid-');
  const nodes: GridNode[] = [];
  const clients: GridClient[] = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((n) => n.kill()));
    await Promise.all(nodes.map((n) => n.store.close()));
  });
  const readonly = new Set(options.readonly ?? []);
  for (let index = 0; index < options.servers; index++) {
    nodes.push(await startNode(root, index, readonly.has(index), options.reservedSpace?.(index)));
  }
  return {
    nodes,
    staticServers: () => nodes.map((n) => n.staticServer),
    async client(clientOptions = {}) {
      const { waitFor, ...rest } = clientOptions;
      const client = createGridClient({
        router: testRouter(),
        leaseSecret: randomBytes(32),
        convergenceSecret: randomBytes(32),
        encoding: { k: 3, happy: 7, n: 10, maxSegmentSize: 128 * 1024 },
        ...rest,
        timing: { ...TEST_TIMING, ...rest.timing },
      });
      clients.push(client);
      for (const n of nodes) client.addStaticServer(n.staticServer);
      await client.waitForServers(waitFor ?? nodes.filter((n) => n.running).length, { timeoutMs: 20_000 });
      return client;
    },
  };
}

async function startNode(root: string, index: number, readonly: boolean, reservedSpace: number | undefined): Promise<GridNode> {
  const cert = await certificateFor(index);
  const key = NodeKey.generate();
  const storageDir = path.join(root, `server-${index}`, 'storage');
  const store = await ShareStore.open({ storageDir, nodeId: tubIdBytes(cert.certificate), readonly, ...(reservedSpace === undefined ? {} : { reservedSpace }) });
  const swissnum = base32Encode(randomBytes(20));
  const nickname = `server-${index}`;
  let server: StorageServer | undefined;
  let staller: net.Server | undefined;
  const stalled = new Set<net.Socket>();
  let port = 0;
  const stopStalling = async (): Promise<void> => {
    const s = staller;
    staller = undefined;
    for (const socket of stalled) socket.destroy();
    stalled.clear();
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const start = async (): Promise<void> => {
    await stopStalling();
    const s = new StorageServer({ store, identity: { certPem: cert.certPem, keyPem: cert.keyPem }, swissnum });
    const listener = await s.listen('127.0.0.1', port);
    port = listener.port;
    server = s;
  };
  await start();
  const announcement: Record<string, unknown> = {
    'anonymous-storage-FURL': `pb://${tubIdOf(cert.certificate)}@tcp:127.0.0.1:${port}/${swissnum}`,
    'anonymous-storage-NURLs': [`pb://${spkiHash(cert.certificate)}@127.0.0.1:${port}/${swissnum}#v=1`],
    nickname,
    'permutation-seed-base32': permutationSeedOf(key.publicKey),
  };
  const sharesOf = async (dir: string): Promise<number[]> => {
    try {
      return (await readdir(dir)).filter((f) => /^\d+$/.test(f)).map(Number).sort((a, b) => a - b);
    } catch {
      return [];
    }
  };
  const node: GridNode = {
    index,
    nickname,
    serverId: key.serverId(),
    tubId: tubIdBytes(cert.certificate),
    storageDir,
    get port() {
      return port;
    },
    store,
    staticServer: { serverId: key.serverId(), announcement },
    get running() {
      return server !== undefined;
    },
    async kill() {
      const s = server;
      server = undefined;
      await s?.close();
      await stopStalling();
    },
    async stall() {
      await node.kill();
      staller = net.createServer((socket) => {
        stalled.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => stalled.delete(socket));
      });
      const s = staller;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
    },
    storageClient() {
      const nurl = (announcement['anonymous-storage-NURLs'] as string[])[0];
      return StorageClient.fromNurl(nurl, (signal) => openSocket({ host: '127.0.0.1', port }, { gate: OPEN_GATE, purpose: 'direct', signal }), { peer: nickname });
    },
    async restart() {
      if (server === undefined) await start();
    },
    listShares: (si) => sharesOf(path.join(store.sharesDir, si.slice(0, 2), si)),
    listIncoming: (si) => sharesOf(path.join(store.incomingDir, si.slice(0, 2), si)),
    sharePath: (si, shnum) => path.join(store.sharesDir, si.slice(0, 2), si, String(shnum)),
    async advisoryCount() {
      try {
        return (await readdir(store.advisoryDir)).length;
      } catch {
        return 0;
      }
    },
  };
  return node;
}

export type ApiMethod = Exclude<keyof StorageApi, 'close'>;
export interface ApiCall {
  method: ApiMethod;
  /** The server's label: `server-<index> (v0-…)`. */
  peer: string;
  /** The call's options (its abort signal is there). */
  options: CallOptions | undefined;
}

/**
 * The real storage client with a hook before every call, for observing traffic and for
 * fault injection (throw to fail a call, await to delay or stall it).
 */
export function hookedFactory(hook: (call: ApiCall) => Promise<void> | void, timing: Partial<GridTiming> = TEST_TIMING): StorageApiFactory {
  const real = defaultStorageApiFactory(timing);
  return (params) => {
    const api = real(params);
    const run = async <T>(method: ApiMethod, options: CallOptions | undefined, fn: () => Promise<T>): Promise<T> => {
      await hook({ method, peer: params.peer, options });
      return fn();
    };
    return {
      version: (o) => run('version', o, () => api.version(o)),
      listImmutableShares: (si, o) => run('listImmutableShares', o, () => api.listImmutableShares(si, o)),
      allocateImmutable: (si, r, o) => run('allocateImmutable', o, () => api.allocateImmutable(si, r, o)),
      writeImmutable: (si, sh, s, off, d, o) => run('writeImmutable', o, () => api.writeImmutable(si, sh, s, off, d, o)),
      abortImmutable: (si, sh, s, o) => run('abortImmutable', o, () => api.abortImmutable(si, sh, s, o)),
      readImmutable: (si, sh, off, len, o) => run('readImmutable', o, () => api.readImmutable(si, sh, off, len, o)),
      adviseCorruptImmutable: (si, sh, r, o) => run('adviseCorruptImmutable', o, () => api.adviseCorruptImmutable(si, sh, r, o)),
      renewLease: (si, r, c, o) => run('renewLease', o, () => api.renewLease(si, r, c, o)),
      close: () => api.close(),
    };
  };
}

/** Resolves when `signal` aborts (a stalled call that only an abort ends). */
export function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal === undefined) return;
    if (signal.aborted) reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/** The whole stream in one buffer (tests only: the point of streams is not to do this). */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
