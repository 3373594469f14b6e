/**
 * The grid client: the one small facade the node runtime, the web gateway and the CLI
 * use to store and fetch immutable files on a Tahoe-LAFS grid.
 *
 *   const grid = createGridClient({ router, leaseSecret, convergenceSecret, encoding: { k: 3, happy: 7, n: 10 } });
 *   grid.addAnnouncement(serverId, ann, 'introducer');            // introducer client feeds servers in
 *   for (const s of parseServersYaml(text).servers) grid.addStaticServer(s);   // private/servers.yaml
 *   await grid.waitForServers(7, { timeoutMs: 30_000 });
 *   const { cap } = await grid.uploadImmutable(source, size, { onProgress });
 *   const { size, stream } = await grid.downloadImmutable(cap, { offset, length });
 *   for await (const chunk of stream) …
 *   grid.serverStatuses();                                          // welcome page
 *   await grid.close();
 *
 * Behind it: the storage broker (known servers, one `StorageClient` per server over the
 * connection router, liveness polling with backoff, Tahoe's permuted order), the
 * uploader (servers-of-happiness placement, allocation with lease secrets, streamed
 * PATCHes with backpressure) and the downloader (parallel share location, verified
 * streaming decode, moving on from failing, stalling or corrupt servers). Specs:
 * shared/specs/storage-protocol.md §5, §7, §8; tahoe-formats.md §6, §7.
 *
 * Nothing here touches the node directory: the node runtime reads `private/secret`,
 * `private/convergence` and `private/servers.yaml` (config/) and hands the contents in.
 */
import type { ByteSource } from '../immutable/source.js';
import type { ConnectionRouter } from '../net/router.js';
import type { TcpHandler } from '../net/policy.js';
import type { Logger } from '../log.js';
import { TahoeError } from '../errors.js';
import { silentLogger } from '../log.js';
import { checkEncodingParameters, DEFAULT_MAX_SEGMENT_SIZE } from '../immutable/params.js';
import { StorageClient } from '../storage/client.js';
import { DEFAULT_TIMING, StorageBroker } from './broker.js';
import { uploadImmutable, type UploaderContext } from './uploader.js';
import { downloadImmutable, fileInfo } from './downloader.js';
import type { StorageApiFactory } from './storage-api.js';
import { createMutableServices, immutableStoreOf, type DirectoryGridClient, type MutableGridClient } from './mutable/index.js';

export interface TransferProgress {
  phase: 'hashing' | 'placing' | 'uploading' | 'downloading' | 'done';
  bytesDone: number;
  bytesTotal: number;
}

export interface UploadResult {
  /** The read cap (URI:CHK:… or URI:LIT:…). Secret: never log it. */
  cap: string;
  /** base32 storage index (absent for LIT). */
  storageIndex?: string;
  size: number;
  /** Servers-of-happiness of the final placement (0 for LIT). */
  happiness: number;
  /** Shares that ended up on servers, new or reused. */
  sharesPlaced: number;
  /** Distinct servers holding shares. */
  servers: number;
  elapsedMs: number;
}

export interface DownloadHandle {
  /** Size of the whole file. */
  size: number;
  /** Plaintext of the requested range, in order. Abandoning the iteration cancels the download. */
  stream: AsyncIterable<Uint8Array>;
}

export type AnnouncementSource = 'introducer' | 'servers.yaml';

export interface ServerStatus {
  serverId: string;
  nickname: string;
  /** How the server is reached, from the route actually used (absent until a connection worked). */
  transport?: 'tcp' | 'tor' | 'i2p';
  connected: boolean;
  /** Epoch ms of the last change of `connected`. */
  since?: number;
  lastRttMs?: number;
  availableSpace?: bigint;
  /** Last failure, already redacted for display. */
  lastError?: string;
  announcedVia: AnnouncementSource;
}

/** A server's announcement as `private/servers.yaml` holds it (see servers-yaml.ts). */
export interface StaticServer {
  serverId: string;
  /** The announcement dict (`ann:`). */
  announcement: Record<string, unknown>;
  /** Per-server `connections: {tcp: …}` override, when present. */
  tcpHandler?: TcpHandler;
}

export type ServerEvent =
  | { type: 'added'; serverId: string }
  | { type: 'changed'; serverId: string }
  | { type: 'removed'; serverId: string }
  | { type: 'connected'; serverId: string }
  | { type: 'disconnected'; serverId: string; error?: string };

export interface GridEncoding {
  /** shares.needed */
  k: number;
  /** shares.happy */
  happy: number;
  /** shares.total */
  n: number;
  /** Default 1 MiB (Tahoe's); tests use smaller. */
  maxSegmentSize?: number;
}

/** Liveness polling and time limits; defaults suit Tor (gentler than 1.20's 1 s poll). */
export interface GridTiming {
  /** Poll `version` on connected servers this often (default 20 s). */
  pollIntervalMs: number;
  /** First retry delay after a failure (default 1 s); doubles up to `maxBackoffMs`. */
  minBackoffMs: number;
  /** Longest delay between retries of a failing server (default 5 min). */
  maxBackoffMs: number;
  /** Time limit of one `version` probe (default 15 s: Tor circuits are slow to build). */
  probeTimeoutMs: number;
  /** Time limit of one share read before the downloader moves on (default 30 s). */
  readTimeoutMs: number;
  /** Time limit of one write batch (default 120 s). */
  writeTimeoutMs: number;
  /** Time limit of share-location and allocation queries (default 30 s). */
  queryTimeoutMs: number;
}

export interface GridClientOptions {
  router: ConnectionRouter;
  /** A router with another `[connections] tcp` (servers.yaml per-server override); without it overrides are ignored. */
  routerFor?: (tcpHandler: TcpHandler) => ConnectionRouter;
  /** `private/secret`, 32 raw bytes: seeds lease renew/cancel secrets. */
  leaseSecret: Uint8Array;
  /** `private/convergence`, raw bytes: convergent encryption keys. */
  convergenceSecret: Uint8Array;
  encoding: GridEncoding;
  logger?: Logger;
  timing?: Partial<GridTiming>;
  /** How each server's storage client is made (default: the storage room's `StorageClient`); tests wrap it to inject faults. */
  storageApiFactory?: StorageApiFactory;
  /** PATCH batch size (default 1 000 000 bytes, as 1.20). */
  uploadBatchBytes?: number;
  /** Download: how long to wait for slower servers once k shares are located (default 1 s). */
  locateGraceMs?: number;
  /** `[client] mutable.format`: format of new mutable files and directories (default SDMF). */
  mutableFormat?: 'SDMF' | 'MDMF';
}

export interface UploadOptions {
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
  /** Use a random key instead of the convergent one (no deduplication). */
  randomKey?: boolean;
}

export interface DownloadOptions {
  offset?: number;
  length?: number;
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

export interface FileInfo {
  size: number;
  format: 'CHK' | 'LIT';
  /** URI:CHK-Verifier:… (CHK only). */
  verifyCap?: string;
  /** base32 (CHK only). */
  storageIndex?: string;
}

export interface GridClient {
  /**
   * `source` is read once or twice (convergent keys); each chunk is hashed or copied before
   * the next is asked for, so a source may reuse one buffer for all its chunks.
   */
  uploadImmutable(source: ByteSource, size: number, options?: UploadOptions): Promise<UploadResult>;
  downloadImmutable(cap: string, options?: DownloadOptions): Promise<DownloadHandle>;
  /** Facts from the cap alone (no network). */
  fileInfo(cap: string, options?: { signal?: AbortSignal }): Promise<FileInfo>;
  serverStatuses(): ServerStatus[];
  /**
   * A verified announcement (the introducer client checks the signature; `serverId` is
   * the `v0-…` key it was signed with). A newer announcement of the same server replaces
   * the old one. Throws `BadInput` for an announcement that cannot be used.
   */
  addAnnouncement(serverId: string, announcement: Record<string, unknown>, source?: AnnouncementSource): void;
  /** A `private/servers.yaml` entry. */
  addStaticServer(server: StaticServer): void;
  removeServer(serverId: string): void;
  /** Subscribe to server events; returns the unsubscribe function. */
  onServerEvent(listener: (event: ServerEvent) => void): () => void;
  /** Resolves when at least `count` servers are connected. */
  waitForServers(count: number, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  /** Mutable files (SDMF, MDMF) on the same servers: src/grid/mutable/client.ts. */
  readonly mutable: MutableGridClient;
  /** Directories (mutable and immutable): src/grid/mutable/directory.ts. */
  readonly directories: DirectoryGridClient;
  close(): Promise<void>;
}

/** Build a grid client. Servers are added afterwards (`addAnnouncement`, `addStaticServer`). */
export function createGridClient(options: GridClientOptions): GridClient {
  const { k, happy, n } = options.encoding;
  checkEncodingParameters({ k, n, maxSegmentSize: options.encoding.maxSegmentSize ?? DEFAULT_MAX_SEGMENT_SIZE });
  if (!Number.isInteger(happy) || happy < k || happy > n) {
    throw new TahoeError('ConfigInvalid', `shares.happy = ${String(happy)} must lie between shares.needed (${k}) and shares.total (${n})`, {
      hint: 'set [client] shares.happy between shares.needed and shares.total (default 7 for 3-of-10)',
    });
  }
  if (options.leaseSecret.length === 0 || options.convergenceSecret.length === 0) {
    throw new TahoeError('NodeDirInvalid', 'the lease secret or the convergence secret is empty', {
      hint: 'private/secret and private/convergence must hold base32 secrets; delete an empty one to have a new one created',
    });
  }
  const logger = (options.logger ?? silentLogger).child('grid');
  const broker = new StorageBroker({
    router: options.router,
    ...(options.routerFor === undefined ? {} : { routerFor: options.routerFor }),
    clientFactory: options.storageApiFactory ?? defaultStorageApiFactory(options.timing),
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    logger,
  });
  const timing = broker.timings;
  const encoding: GridEncoding = { ...options.encoding };
  const uploaderContext = (): UploaderContext => ({
    broker, timing, logger, encoding,
    leaseSecret: options.leaseSecret,
    convergenceSecret: options.convergenceSecret,
    ...(options.uploadBatchBytes === undefined ? {} : { batchBytes: options.uploadBatchBytes }),
  });
  let closed = false;
  const open = (): void => {
    if (closed) throw new TahoeError('Aborted', 'the grid client is closed', { hint: 'the node is shutting down' });
  };
  const grid: GridClient = {
    async uploadImmutable(source, size, uploadOptions) {
      open();
      return uploadImmutable(uploaderContext(), source, size, uploadOptions);
    },
    async downloadImmutable(cap, downloadOptions) {
      open();
      return downloadImmutable({ broker, timing, logger, ...(options.locateGraceMs === undefined ? {} : { locateGraceMs: options.locateGraceMs }) }, cap, downloadOptions);
    },
    async fileInfo(cap) {
      return fileInfo(cap);
    },
    serverStatuses: () => broker.statuses(),
    addAnnouncement(serverId, announcement, source = 'introducer') {
      open();
      broker.addAnnouncement(serverId, announcement, source);
    },
    addStaticServer(server) {
      open();
      broker.addStatic(server);
    },
    removeServer: (serverId) => broker.remove(serverId),
    onServerEvent: (listener) => broker.onEvent(listener),
    waitForServers: (count, waitOptions) => broker.waitForServers(count, waitOptions),
    get mutable() {
      return mutable.files;
    },
    get directories() {
      return mutable.directories;
    },
    async close() {
      closed = true;
      await broker.close();
    },
  };
  // Mutable files use the same broker (servers, connections, permuted order).
  const mutable = createMutableServices({
    broker, leaseSecret: options.leaseSecret, encoding: { k, n }, logger,
    immutable: immutableStoreOf(grid),
    ...(options.mutableFormat === undefined ? {} : { defaultFormat: options.mutableFormat }),
    ...(options.timing === undefined ? {} : { timing: options.timing }),
  });
  return grid;
}

/** `StorageClient` (storage room) per NURL; its timeouts follow the grid's. */
export function defaultStorageApiFactory(timing: Partial<GridTiming> = {}): StorageApiFactory {
  const t = { ...DEFAULT_TIMING, ...timing };
  return ({ nurl, connect, peer }) => StorageClient.fromNurl(nurl, connect, {
    peer,
    timeouts: { connectMs: t.probeTimeoutMs, versionMs: t.probeTimeoutMs, headersMs: Math.max(t.readTimeoutMs, t.writeTimeoutMs), bodySilenceMs: Math.max(t.readTimeoutMs, t.writeTimeoutMs) },
  });
}
