/**
 * The storage broker: every storage server this client knows, how each is reached, and
 * whether it is alive (spec: shared/specs/storage-protocol.md §7–§8, tahoe-formats.md §7).
 *
 * Servers come from the introducer (`addAnnouncement`) and from `private/servers.yaml`
 * (`addStatic`). For each server the broker probes all announced NURLs in parallel —
 * `GET /storage/v1/version` over the route the connection router picks, each server on
 * its own Tor circuit (`isolationKey` = server id) — and keeps the first that answers, as
 * 1.20 does. Liveness: 1.20 polls `version` every second; over Tor that is a lot of
 * traffic for nothing, so connected servers are polled every `pollIntervalMs` (default
 * 20 s) and failing servers are retried with exponential backoff and jitter (1 s → 5 min).
 * The uploader and downloader report network failures back (`reportFailure`), so a dead
 * server is noticed at once rather than at the next poll.
 *
 * Per server the broker records connected/disconnected and since when, the route's
 * transport, the last round-trip time, the available space and the last error
 * (redacted), and emits events when servers appear, change, disappear, connect or
 * disconnect.
 */
import { TahoeError, asTahoeError, isTahoeError, type ErrorKind } from '../errors.js';
import { redact, silentLogger, type Logger } from '../log.js';
import { nurlToDialTarget, type Nurl } from '../net/hints.js';
import type { ConnectionRouter, Route } from '../net/router.js';
import type { TcpHandler } from '../net/policy.js';
import type { TransportName } from '../net/transport.js';
import { parseAnnouncement, type StorageAnnouncement } from './announcement.js';
import { permutedServers } from './permute.js';
import type { StorageApi, StorageApiFactory, StorageVersion } from './storage-api.js';
import type { AnnouncementSource, GridTiming, ServerEvent, ServerStatus, StaticServer } from './client.js';

export const DEFAULT_TIMING: GridTiming = {
  pollIntervalMs: 20_000,
  minBackoffMs: 1_000,
  maxBackoffMs: 300_000,
  probeTimeoutMs: 15_000,
  readTimeoutMs: 30_000,
  writeTimeoutMs: 120_000,
  queryTimeoutMs: 30_000,
};

/** Failures that say the server (or the way to it) is down, not that it refused one request. */
const NETWORK_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'ServerUnreachable', 'Timeout', 'ProxyRefused', 'ProxyProtocolError', 'OnionNotFound', 'OnionUnreachable',
  'TlsPinMismatch', 'TorUnavailable', 'I2pUnavailable', 'SamRefused', 'SamProtocolError',
]);

export function isNetworkFailure(e: unknown): boolean {
  return isTahoeError(e) && NETWORK_KINDS.has(e.kind);
}

export interface BrokerOptions {
  router: ConnectionRouter;
  routerFor?: (tcpHandler: TcpHandler) => ConnectionRouter;
  clientFactory: StorageApiFactory;
  timing?: Partial<GridTiming>;
  logger?: Logger;
  /** Jitter source in [0, 1) (tests make backoff deterministic). */
  random?: () => number;
}

/** One known storage server. Read-only to callers outside the broker. */
export class StorageServer {
  connected = false;
  since?: number;
  transport?: TransportName;
  lastRttMs?: number;
  version?: StorageVersion;
  lastError?: string;
  /** The client over the NURL that answered first; undefined while disconnected. */
  api?: StorageApi;
  /** @internal */ failures = 0;
  /** @internal */ timer?: NodeJS.Timeout;
  /** @internal */ generation = 0;
  /** @internal */ probing?: Promise<void>;
  /** @internal */ probeAbort?: AbortController;

  constructor(
    readonly announcement: StorageAnnouncement,
    readonly source: AnnouncementSource,
    readonly tcpHandler: TcpHandler | undefined,
  ) {}

  get id(): string {
    return this.announcement.serverId;
  }
  get nickname(): string {
    return this.announcement.nickname;
  }
  get permutationSeed(): Buffer {
    return this.announcement.permutationSeed;
  }
  get tubId(): Buffer {
    return this.announcement.tubId;
  }
  /** For messages: nickname and a short id (never a secret, never an address). */
  get label(): string {
    const shortId = this.id.slice(0, 10);
    return this.nickname === '' ? shortId : `${this.nickname} (${shortId})`;
  }
}

export class StorageBroker {
  private readonly servers = new Map<string, StorageServer>();
  private readonly listeners = new Set<(event: ServerEvent) => void>();
  private readonly timing: GridTiming;
  private readonly logger: Logger;
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly options: BrokerOptions) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.logger = (options.logger ?? silentLogger).child('broker');
    this.random = options.random ?? Math.random;
  }

  get timings(): Readonly<GridTiming> {
    return this.timing;
  }

  // ------------------------------------------------------------------ membership

  /** A verified announcement from the introducer (or any source). Throws BadInput when unusable. */
  addAnnouncement(serverId: string, announcement: Record<string, unknown>, source: AnnouncementSource = 'introducer', tcpHandler?: TcpHandler): StorageServer {
    this.checkOpen();
    const parsed = parseAnnouncement(serverId, announcement);
    const existing = this.servers.get(serverId);
    if (existing !== undefined) {
      // An older seqnum never replaces a newer one (the introducer may replay).
      const oldSeq = existing.announcement.seqnum;
      if (oldSeq !== undefined && parsed.seqnum !== undefined && parsed.seqnum < oldSeq) return existing;
      if (existing.announcement.connectionKey === parsed.connectionKey && existing.tcpHandler === tcpHandler) {
        // Same way to connect: keep the connection, take the new nickname/seqnum.
        const updated = new StorageServer(parsed, source, tcpHandler);
        this.transferState(existing, updated);
        // A fresh announcement from a server we cannot reach means it has (re)started:
        // retry from the shortest backoff step instead of minutes into the old series.
        if (!updated.connected && oldSeq !== undefined && parsed.seqnum !== undefined && parsed.seqnum > oldSeq) updated.failures = 0;
        this.servers.set(serverId, updated);
        if (existing.nickname !== updated.nickname) this.emit({ type: 'changed', serverId });
        return updated;
      }
      this.stopServer(existing);
      const replaced = new StorageServer(parsed, source, tcpHandler);
      this.servers.set(serverId, replaced);
      this.emit({ type: 'changed', serverId });
      this.logger.info(`server ${replaced.label} announced new connection details; reconnecting`);
      this.scheduleProbe(replaced, 0);
      return replaced;
    }
    const server = new StorageServer(parsed, source, tcpHandler);
    this.servers.set(serverId, server);
    this.emit({ type: 'added', serverId });
    this.logger.info(`server ${server.label} added (${source}, ${parsed.nurls.length} NURL${parsed.nurls.length === 1 ? '' : 's'})`);
    for (const why of parsed.skippedNurls) this.logger.warn(`server ${server.label}: skipped ${why}`);
    this.scheduleProbe(server, 0);
    return server;
  }

  addStatic(server: StaticServer): StorageServer {
    return this.addAnnouncement(server.serverId, server.announcement, 'servers.yaml', server.tcpHandler);
  }

  remove(serverId: string): void {
    const server = this.servers.get(serverId);
    if (server === undefined) return;
    this.stopServer(server);
    this.servers.delete(serverId);
    this.emit({ type: 'removed', serverId });
  }

  get(serverId: string): StorageServer | undefined {
    return this.servers.get(serverId);
  }

  all(): StorageServer[] {
    return [...this.servers.values()];
  }

  connected(): StorageServer[] {
    return this.all().filter((s) => s.connected && s.api !== undefined);
  }

  /** Servers in Tahoe's permuted order for this storage index (connected ones only by default). */
  permuted(storageIndex: Uint8Array, options: { includeDisconnected?: boolean } = {}): StorageServer[] {
    const pool = options.includeDisconnected === true ? this.all() : this.connected();
    return permutedServers(pool, storageIndex);
  }

  statuses(): ServerStatus[] {
    return this.all()
      .map((s): ServerStatus => ({
        serverId: s.id,
        nickname: s.nickname,
        ...(s.transport === undefined ? {} : { transport: s.transport }),
        connected: s.connected,
        ...(s.since === undefined ? {} : { since: s.since }),
        ...(s.lastRttMs === undefined ? {} : { lastRttMs: s.lastRttMs }),
        ...(s.version === undefined ? {} : { availableSpace: s.version.availableSpace }),
        ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
        announcedVia: s.source,
      }))
      .sort((a, b) => a.nickname.localeCompare(b.nickname) || a.serverId.localeCompare(b.serverId));
  }

  onEvent(listener: (event: ServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once `count` servers are connected; `Timeout` with how many are, otherwise. */
  waitForServers(count: number, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.connected().length >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (error?: TahoeError): void => {
        unsubscribe();
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const unsubscribe = this.onEvent(() => {
        if (this.connected().length >= count) finish();
      });
      const onAbort = (): void => finish(new TahoeError('Aborted', 'stopped waiting for storage servers'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const known = this.servers.size;
          const up = this.connected().length;
          finish(new TahoeError('Timeout', `only ${up} of the ${count} storage servers needed are connected after ${options.timeoutMs} ms (${known} known)`, {
            hint: known < count
              ? `this client knows only ${known} server${known === 1 ? '' : 's'}: check the introducer connection or add servers to private/servers.yaml`
              : 'some servers are not reachable; see their last errors on the welcome page (serverStatuses())',
            details: { needed: count, connected: up, known },
          }));
        }, options.timeoutMs);
        timer.unref?.();
      }
    });
  }

  /**
   * A request to this server failed. Network failures mark it disconnected at once and
   * schedule a reconnect; refusals (HTTP errors) say nothing about liveness.
   */
  reportFailure(server: StorageServer, error: unknown): void {
    if (!isNetworkFailure(error) || this.servers.get(server.id) !== server) return;
    if (!server.connected) return;
    this.markDisconnected(server, asTahoeError(error));
    this.scheduleProbe(server, this.backoffDelay(server));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const servers = this.all();
    this.servers.clear();
    for (const s of servers) this.stopServer(s);
    await Promise.all(servers.map((s) => s.probing?.catch(() => undefined)));
    this.listeners.clear();
  }

  // ------------------------------------------------------------------ connection state

  private checkOpen(): void {
    if (this.closed) throw new TahoeError('Aborted', 'the storage broker is closed', { hint: 'the node is shutting down' });
  }

  private emit(event: ServerEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (e) {
        this.logger.error('server event listener failed:', asTahoeError(e));
      }
    }
  }

  private transferState(from: StorageServer, to: StorageServer): void {
    if (from.timer !== undefined) clearTimeout(from.timer);
    from.generation++;
    from.probeAbort?.abort();
    to.connected = from.connected;
    to.since = from.since;
    to.transport = from.transport;
    to.lastRttMs = from.lastRttMs;
    to.version = from.version;
    to.lastError = from.lastError;
    to.api = from.api;
    to.failures = from.failures;
    from.api = undefined;
    this.scheduleProbe(to, to.connected ? this.pollDelay() : 0);
  }

  private stopServer(server: StorageServer): void {
    server.generation++;
    if (server.timer !== undefined) clearTimeout(server.timer);
    server.timer = undefined;
    server.probeAbort?.abort();
    const api = server.api;
    server.api = undefined;
    if (server.connected) {
      server.connected = false;
      server.since = Date.now();
    }
    void api?.close().catch(() => undefined);
  }

  private pollDelay(): number {
    // ±10 % so that many servers do not get polled in lockstep.
    return Math.round(this.timing.pollIntervalMs * (0.9 + 0.2 * this.random()));
  }

  private backoffDelay(server: StorageServer): number {
    const exp = Math.min(this.timing.maxBackoffMs, this.timing.minBackoffMs * 2 ** Math.min(30, Math.max(0, server.failures - 1)));
    // Full range 50–100 % of the step: spreads retries of servers that failed together.
    return Math.max(1, Math.round(exp * (0.5 + 0.5 * this.random())));
  }

  private scheduleProbe(server: StorageServer, delayMs: number): void {
    if (this.closed) return;
    if (server.timer !== undefined) clearTimeout(server.timer);
    const generation = server.generation;
    server.timer = setTimeout(() => {
      server.timer = undefined;
      if (generation !== server.generation || this.closed) return;
      server.probing = (server.connected && server.api !== undefined ? this.poll(server) : this.connect(server)).catch((e: unknown) => {
        this.logger.error(`probe of ${server.label} failed unexpectedly:`, asTahoeError(e));
      });
    }, delayMs);
    server.timer.unref?.();
  }

  private markConnected(server: StorageServer, api: StorageApi, via: TransportName, version: StorageVersion, rttMs: number): void {
    const wasConnected = server.connected;
    server.api = api;
    server.transport = via;
    server.version = version;
    server.lastRttMs = rttMs;
    server.failures = 0;
    server.lastError = undefined;
    if (!wasConnected) {
      server.connected = true;
      server.since = Date.now();
      this.logger.info(`connected to ${server.label} via ${via} (${rttMs} ms)`);
      this.emit({ type: 'connected', serverId: server.id });
    }
  }

  private markDisconnected(server: StorageServer, error: TahoeError): void {
    server.failures++;
    server.lastError = redact(`${error.message} (hint: ${error.hint})`, this.logger.revealsAddresses);
    const api = server.api;
    server.api = undefined;
    void api?.close().catch(() => undefined);
    if (server.connected || server.since === undefined) {
      const was = server.connected;
      server.connected = false;
      server.since = Date.now();
      if (was) {
        this.logger.warn(`lost ${server.label}: ${server.lastError}`);
        this.emit({ type: 'disconnected', serverId: server.id, error: server.lastError });
      }
    }
  }

  private routerOf(server: StorageServer): ConnectionRouter {
    return server.tcpHandler !== undefined && this.options.routerFor !== undefined ? this.options.routerFor(server.tcpHandler) : this.options.router;
  }

  /** Probe every route of every NURL in parallel; keep the first that answers `version`. */
  private async connect(server: StorageServer): Promise<void> {
    const generation = server.generation;
    const abort = new AbortController();
    server.probeAbort = abort;
    const router = this.routerOf(server);
    let routes: Route<Nurl>[];
    try {
      if (server.announcement.nurls.length === 0) {
        throw new TahoeError('ServerUnreachable', `${server.label} announces no usable HTTPS storage NURL${server.announcement.skippedNurls.length > 0 ? ` (${server.announcement.skippedNurls.join('; ')})` : ''}`, {
          hint: 'the server speaks only Foolscap, which tahoe-ts does not; upgrade it to Tahoe-LAFS 1.19+ or tahoe-ts (HTTPS storage)',
        });
      }
      routes = router.routes(server.announcement.nurls, nurlToDialTarget);
    } catch (e) {
      this.afterFailedConnect(server, generation, asTahoeError(e));
      return;
    }
    const candidates = routes.map((route) => {
      const api = this.options.clientFactory({
        nurl: route.item,
        peer: server.label,
        connect: (signal) => router.dial(route, { signal, isolationKey: server.id, timeoutMs: this.timing.probeTimeoutMs }),
      });
      return { route, api };
    });
    const started = performance.now();
    type Winner = { api: StorageApi; via: TransportName; version: StorageVersion; rttMs: number };
    let winner: Winner | undefined;
    const errors: TahoeError[] = [];
    // Settles at the first answer (the slower routes are not waited for) or when all failed.
    let decide!: () => void;
    const decided = new Promise<void>((resolve) => (decide = resolve));
    let pending = candidates.length;
    for (const { route, api } of candidates) {
      void (async () => {
        try {
          const version = await api.version({ signal: abort.signal, timeoutMs: this.timing.probeTimeoutMs });
          if (winner === undefined) {
            winner = { api, via: route.via, version, rttMs: Math.round(performance.now() - started) };
            abort.abort(); // the others may stop now
            decide();
            return;
          }
        } catch (e) {
          if (winner === undefined) errors.push(asTahoeError(e, 'ServerUnreachable'));
        }
        await api.close().catch(() => undefined);
      })().finally(() => {
        if (--pending === 0) decide();
      });
    }
    await decided;
    if (server.probeAbort === abort) server.probeAbort = undefined;
    const won = winner as Winner | undefined;
    if (generation !== server.generation || this.closed) {
      await won?.api.close().catch(() => undefined);
      return;
    }
    if (won === undefined) {
      const error = errors.find((e) => e.kind !== 'Aborted') ?? errors[0] ?? new TahoeError('ServerUnreachable', `${server.label} did not answer`);
      this.afterFailedConnect(server, generation, candidates.length > 1 ? new TahoeError(error.kind, `none of the ${candidates.length} NURLs of ${server.label} answered; first error: ${error.message}`, { hint: error.hint, cause: error }) : error);
      return;
    }
    this.markConnected(server, won.api, won.via, won.version, won.rttMs);
    this.scheduleProbe(server, this.pollDelay());
  }

  private afterFailedConnect(server: StorageServer, generation: number, error: TahoeError): void {
    if (generation !== server.generation || this.closed) return;
    const first = server.since === undefined;
    this.markDisconnected(server, error);
    if (first) this.emit({ type: 'disconnected', serverId: server.id, error: server.lastError });
    this.logger.debug(`cannot reach ${server.label}: ${server.lastError ?? ''}`);
    this.scheduleProbe(server, this.backoffDelay(server));
  }

  /** Liveness poll of a connected server over its chosen NURL. */
  private async poll(server: StorageServer): Promise<void> {
    const generation = server.generation;
    const api = server.api as StorageApi;
    const started = performance.now();
    try {
      const version = await api.version({ timeoutMs: this.timing.probeTimeoutMs });
      if (generation !== server.generation || this.closed) return;
      server.version = version;
      server.lastRttMs = Math.round(performance.now() - started);
      this.scheduleProbe(server, this.pollDelay());
    } catch (e) {
      if (generation !== server.generation || this.closed) return;
      this.markDisconnected(server, asTahoeError(e, 'ServerUnreachable'));
      // Reconnect soon: probing all NURLs again may find another way in.
      this.scheduleProbe(server, this.backoffDelay(server));
    }
  }
}
