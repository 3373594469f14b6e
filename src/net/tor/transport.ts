/**
 * The Tor transport: dials through tor's SOCKS port (per-server stream isolation, host
 * names resolved by tor only) and listens as an onion service (ADD_ONION with a persisted
 * key, forwarded to a loopback-only listener).
 *
 * When tor goes away (a system tor restarts, a launched tor crashes) the control
 * connection closes, and with it every onion service it created (tor.md §2.5). With a
 * `reconnect` function the transport then sets tor up again, with backoff, and re-adds
 * each onion service with the same key to the same loopback listener: the address stays,
 * clients find the server again once the new descriptor is published. Dials wait for the
 * new tor within their own time limit.
 *
 * Specs: src/net/transport.ts (the interface), shared/specs/tor.md §1 (SOCKS), §2.4–2.5
 * (HS_DESC events, ADD_ONION), anonymity-checklist AN-3 (names and numeric hosts), AN-4
 * (isolation), AN-5 (onion services: key 0600, re-added each start, never Detach or
 * NonAnonymous), AN-8 (publication progress).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { isNonPublicNumericAddress } from '../hints.js';
import type { EgressGate } from '../socket.js';
import type { ConnectionHandler, DialOptions, DialTarget, Listener, ListenSpec, Transport, TransportStatus } from '../transport.js';
import type { TorControlClient, TorEvent } from './control.js';
import { isOnionName, parseOnionAddress } from './onion-address.js';
import { generateOnionKey, loadOrCreateOnionKey, type OnionKey } from './onion-key.js';
import type { TorProvider } from './provider.js';
import { socks5Connect, StreamIsolation } from './socks5.js';

export interface OnionPublishProgress {
  /** `<56>.onion` of the service being published. */
  address: string;
  /** Descriptor uploads tor started, finished, and failed (tor tries up to 16 HSDirs). */
  uploads: number;
  uploaded: number;
  failed: number;
  lastFailureReason?: string;
}

export interface TorTransportOptions {
  /** The tor to use, or a function that sets it up on first use (connect once, lazily). */
  provider: TorProvider | (() => Promise<TorProvider>);
  /**
   * Set tor up again after the control connection is lost (tor restarted or died). Onion
   * services are re-added with their keys. Without it, a lost tor stays lost.
   */
  reconnect?: () => Promise<TorProvider>;
  /** Backoff between reconnection attempts (default 1 s, doubling up to 60 s). */
  reconnectBackoffMs?: { min: number; max: number };
  gate: EgressGate;
  logger?: Logger;
  /** Default limit for a dial when the caller gives none (default 120 s: onion circuits are slow). */
  dialTimeoutMs?: number;
  /** Wait for the first HS_DESC UPLOADED in listen() (default true). */
  waitForPublication?: boolean;
  /** Limit for the first descriptor upload (default 180 s). */
  publishTimeoutMs?: number;
  onPublishProgress?: (progress: OnionPublishProgress) => void;
  /**
   * Let numeric private/loopback hosts through to tor. Only for private test networks:
   * normally such hints are refused before tor is asked (AN-3.2).
   */
  allowNonPublicAddresses?: boolean;
}

const DEFAULT_DIAL_TIMEOUT_MS = 120_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 180_000;

/** What an onion listener needs to be re-created on a new tor. */
interface OnionRecord {
  key: OnionKey;
  serviceId: string;
  virtualPort: number;
  localPort: number;
}

export class TorTransport implements Transport {
  readonly name = 'tor' as const;
  readonly hidesIp = true;
  private providerPromise: Promise<TorProvider> | undefined;
  private resolvedProvider: TorProvider | undefined;
  private readonly isolation = new StreamIsolation();
  private readonly listeners = new Set<Listener>();
  private readonly onions = new Set<OnionRecord>();
  private readonly logger: Logger;
  private closed = false;
  /** Set while tor is lost and being set up again. */
  private reconnecting: { attempts: number; lastError?: string; wake?: () => void } | undefined;

  constructor(private readonly options: TorTransportOptions) {
    this.logger = options.logger ?? silentLogger;
    if (typeof options.provider !== 'function') {
      this.adopt(options.provider);
      this.providerPromise = Promise.resolve(options.provider);
    }
  }

  canDial(target: DialTarget): boolean {
    return target.kind === 'tor';
  }

  async dial(target: DialTarget, options: DialOptions = {}): Promise<Duplex> {
    throwIfAborted(options.signal);
    if (target.kind !== 'tor') {
      throw new TahoeError('Internal', `the tor transport cannot dial a ${target.kind} target`, { hint: 'this is a routing bug: only tor targets reach the tor transport' });
    }
    this.checkOpen();
    this.checkHost(target.host);
    const progress = (phase: string) => options.onProgress?.({ transport: 'tor', phase });
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? this.options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    if (!this.resolvedProvider) progress(this.reconnecting ? 'waiting for tor to come back' : 'setting up tor');
    const provider = await withinLimit(this.provider(), timeoutMs, options.signal);
    return socks5Connect({
      proxy: provider.socks,
      gate: this.options.gate,
      host: target.host,
      port: target.port,
      credentials: this.isolation.credentialsFor(options.isolationKey),
      signal: options.signal,
      timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
      onProgress: progress,
    });
  }

  async listen(spec: ListenSpec, onConnection: ConnectionHandler): Promise<Listener> {
    if (spec.kind !== 'onion') {
      throw new TahoeError('Internal', `the tor transport cannot listen on a ${spec.kind} endpoint`, { hint: 'this is a wiring bug: only onion listeners reach the tor transport' });
    }
    this.checkOpen();
    if (!Number.isInteger(spec.virtualPort) || spec.virtualPort < 1 || spec.virtualPort > 65535) {
      throw new TahoeError('EndpointInvalid', `onion virtual port must be 1–65535, not ${spec.virtualPort}`);
    }
    const provider = await this.provider();
    const control = provider.control;
    if (!control) {
      throw new TahoeError('TorUnavailable', 'an onion service needs tor\'s control port, but only a SOCKS port is configured', {
        hint: 'set [tor] control.port (e.g. unix:/var/run/tor/control) or [tor] launch = true',
      });
    }
    if (spec.keyFile !== undefined && spec.hiddenServiceDir !== undefined) {
      throw new TahoeError('ConfigInvalid', 'an onion listener takes either a key file or a hiddenServiceDir, not both', { hint: 'remove one of them' });
    }
    let key: OnionKey;
    if (spec.hiddenServiceDir !== undefined) key = (await loadOrCreateOnionKey({ hiddenServiceDir: spec.hiddenServiceDir })).key;
    else if (spec.keyFile !== undefined) key = (await loadOrCreateOnionKey({ keyFile: spec.keyFile })).key;
    else key = generateOnionKey();

    const server = await listenOnLoopback(spec.localPort ?? 0);
    const sockets = new Set<net.Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      try {
        onConnection(socket, { transport: 'tor', peer: 'onion service client' });
      } catch (e) {
        this.logger.warn('onion listener: connection handler failed:', e instanceof Error ? e : String(e));
        socket.destroy();
      }
    });
    const localPort = (server.address() as net.AddressInfo).port;
    const serviceId = key.address.slice(0, -'.onion'.length);

    const record: OnionRecord = { key, serviceId, virtualPort: spec.virtualPort, localPort };
    try {
      await this.addOnion(provider, record, this.options.waitForPublication ?? true);
    } catch (e) {
      await closeServer(server, sockets);
      throw e;
    }
    this.onions.add(record);

    let closing: Promise<void> | undefined;
    const listener: Listener = {
      hints: [{ kind: 'tor', host: key.address, port: spec.virtualPort }],
      describe: () => `onion service ${key.address}:${spec.virtualPort} → 127.0.0.1:${localPort}`,
      close: () =>
        (closing ??= (async () => {
          this.listeners.delete(listener);
          this.onions.delete(record);
          const current = this.resolvedProvider?.control;
          if (current && !current.closed) await current.delOnion(serviceId).catch((e: unknown) => this.logger.warn('DEL_ONION failed:', e instanceof Error ? e : String(e)));
          await closeServer(server, sockets);
        })()),
    };
    this.listeners.add(listener);
    return listener;
  }

  /** ADD_ONION on this provider's tor; optionally wait for the first descriptor upload. */
  private async addOnion(provider: TorProvider, record: OnionRecord, waitForUpload: boolean): Promise<void> {
    const control = provider.control as TorControlClient;
    const { key, serviceId, virtualPort, localPort } = record;
    const publication = this.trackPublication(control, key.address, serviceId);
    let added = false;
    try {
      await control.setEvents(['STATUS_CLIENT', 'HS_DESC']);
      const result = await control.addOnion({ key: key.blob, ports: [{ virtualPort, target: { host: '127.0.0.1', port: localPort } }] });
      added = true;
      if (result.serviceId !== serviceId) {
        throw new TahoeError('TorControlError', 'tor created the onion service under another address than its key stands for', {
          hint: 'the key file may be damaged; this should not happen with a key tor accepted',
        });
      }
      this.logger.info(`onion service ${key.address}:${virtualPort} → 127.0.0.1:${localPort} added; publishing its descriptor`);
      if (waitForUpload) await publication.firstUpload(this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
    } catch (e) {
      if (added) await control.delOnion(serviceId).catch(() => undefined);
      throw e;
    } finally {
      publication.stop();
    }
  }

  describe(): TransportStatus {
    const provider = this.resolvedProvider;
    if (this.reconnecting) {
      const r = this.reconnecting;
      return { name: 'tor', ready: false, summary: `lost the connection to tor; reconnecting (${r.attempts} attempt${r.attempts === 1 ? '' : 's'}${r.lastError ? `, last: ${r.lastError}` : ''})` };
    }
    return provider
      ? { name: 'tor', ready: !this.closed && (provider.control === undefined || !provider.control.closed), summary: provider.describe() }
      : { name: 'tor', ready: false, summary: 'tor not connected yet' };
  }

  /** Forget all isolation tokens: later streams to each server use new circuits. */
  rotateIsolation(): void {
    this.isolation.rotate();
  }

  /** Remove our onion services, close the listeners and the provider (a launched tor exits). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconnecting?.wake?.();
    await Promise.all([...this.listeners].map((l) => l.close()));
    const provider = this.resolvedProvider ?? (this.reconnecting ? undefined : await this.providerPromise?.catch(() => undefined));
    await provider?.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new TahoeError('Internal', 'the tor transport is closed', { hint: 'this is a bug: the transport was used after shutdown' });
  }

  private checkHost(host: string): void {
    if (isOnionName(host)) {
      parseOnionAddress(host);
      return;
    }
    if (!this.options.allowNonPublicAddresses && isNonPublicNumericAddress(host)) {
      throw new TahoeError('EndpointInvalid', `refusing to ask tor for the non-public address ${host}`, {
        hint: 'loopback, private, link-local and IPv6 address literals cannot be reached through tor exits; the peer published an unusable hint',
        details: { host },
      });
    }
  }

  private provider(): Promise<TorProvider> {
    if (!this.providerPromise) {
      const factory = this.options.provider as () => Promise<TorProvider>;
      this.providerPromise = factory().then(
        (provider) => {
          this.adopt(provider);
          return provider;
        },
        (e: unknown) => {
          // let the next dial try again (tor may have been started meanwhile)
          this.providerPromise = undefined;
          throw e;
        },
      );
    }
    return this.providerPromise;
  }

  /** Use this provider from now on, and notice when its control connection is lost. */
  private adopt(provider: TorProvider): void {
    this.resolvedProvider = provider;
    const control = provider.control;
    if (control === undefined) return;
    void control.whenClosed().then(() => {
      if (this.closed || this.resolvedProvider !== provider) return;
      this.onControlLost(provider);
    });
  }

  private onControlLost(lost: TorProvider): void {
    const onions = this.onions.size;
    const reconnect = this.options.reconnect;
    if (reconnect === undefined) {
      this.logger.error(`lost the connection to tor (${lost.describe()})${onions > 0 ? `: ${onions} onion service${onions === 1 ? ' is' : 's are'} gone` : ''}; restart the node once tor is back`);
      return;
    }
    this.logger.warn(`lost the connection to tor (${lost.describe()}); reconnecting${onions > 0 ? `, then re-adding ${onions} onion service${onions === 1 ? '' : 's'}` : ''}`);
    this.resolvedProvider = undefined;
    void lost.close().catch(() => undefined);
    const state: NonNullable<TorTransport['reconnecting']> = { attempts: 0 };
    this.reconnecting = state;
    const backoff = this.options.reconnectBackoffMs ?? { min: 1000, max: 60_000 };
    this.providerPromise = (async (): Promise<TorProvider> => {
      let delay = backoff.min;
      for (;;) {
        if (this.closed) throw new TahoeError('Aborted', 'the tor transport is closed', { hint: 'the node is shutting down' });
        state.attempts++;
        try {
          const provider = await reconnect();
          if (this.closed) {
            await provider.close().catch(() => undefined);
            throw new TahoeError('Aborted', 'the tor transport is closed', { hint: 'the node is shutting down' });
          }
          this.reconnecting = undefined;
          this.adopt(provider);
          this.logger.info(`connected to tor again: ${provider.describe()}`);
          if (provider.control !== undefined) void this.restoreOnions(provider);
          else if (this.onions.size > 0) this.logger.error('tor is back, but without a control port: the onion services cannot be re-added');
          return provider;
        } catch (e) {
          if (e instanceof TahoeError && e.kind === 'Aborted') throw e;
          state.lastError = e instanceof Error ? e.message.split('\n', 1)[0] : String(e);
          if (state.attempts === 1 || state.attempts % 10 === 0) this.logger.warn(`tor is still unreachable (attempt ${state.attempts}): ${state.lastError}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          state.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(backoff.max, delay * 2);
      }
    })();
    this.providerPromise.catch(() => undefined);
  }

  /** Re-add every onion service on a new tor; publication is awaited in the background. */
  private async restoreOnions(provider: TorProvider): Promise<void> {
    for (const record of [...this.onions]) {
      try {
        await this.addOnion(provider, record, this.options.waitForPublication ?? true);
        this.logger.info(`onion service ${record.key.address}:${record.virtualPort} is back`);
      } catch (e) {
        if (this.closed || !this.onions.has(record)) return;
        this.logger.error(`could not re-add onion service ${record.key.address}:${record.virtualPort}:`, e instanceof Error ? e : String(e));
      }
    }
  }

  /** Count HS_DESC events for one service; `firstUpload` resolves at the first UPLOADED. */
  private trackPublication(control: TorControlClient | undefined, address: string, serviceId: string): { firstUpload(timeoutMs: number): Promise<void>; stop(): void } {
    const progress: OnionPublishProgress = { address, uploads: 0, uploaded: 0, failed: 0 };
    let resolveUploaded!: () => void;
    const uploaded = new Promise<void>((resolve) => (resolveUploaded = resolve));
    const unsubscribe = control?.onEvent((event: TorEvent) => {
      if (event.type !== 'HS_DESC' || event.address !== serviceId) return;
      if (event.action === 'UPLOAD') progress.uploads++;
      else if (event.action === 'UPLOADED') progress.uploaded++;
      else if (event.action === 'FAILED') {
        progress.failed++;
        if (event.reason !== undefined) progress.lastFailureReason = event.reason;
      } else return;
      this.options.onPublishProgress?.({ ...progress });
      if (event.action === 'UPLOADED') resolveUploaded();
    });
    return {
      firstUpload: async (timeoutMs) => {
        let timer: NodeJS.Timeout | undefined;
        const closedEarly = control ? control.whenClosed().then(() => 'closed' as const) : Promise.resolve('closed' as const);
        const outcome = await Promise.race([
          uploaded.then(() => 'uploaded' as const),
          new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
          closedEarly,
        ]);
        if (timer) clearTimeout(timer);
        if (outcome === 'closed') {
          throw new TahoeError('TorUnavailable', 'the tor control connection closed while the onion service was being published', { hint: 'tor stopped or restarted; check its log' });
        }
        if (outcome === 'timeout') {
          throw new TahoeError('Timeout', `the onion service's descriptor was not uploaded within ${Math.round(timeoutMs / 1000)} s (${progress.uploads} uploads started, ${progress.failed} failed${progress.lastFailureReason ? `, last reason ${progress.lastFailureReason}` : ''})`, {
            hint: 'is tor bootstrapped and online? publishing takes ~40 s on the real network; raise the publication timeout if tor is just slow',
            details: { uploads: progress.uploads, failed: progress.failed, timeoutMs },
          });
        }
      },
      stop: () => unsubscribe?.(),
    };
  }
}

/** A promise, or Timeout/Aborted when the limit or the signal comes first. */
function withinLimit<T>(promise: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new TahoeError('Timeout', `tor was not available within ${Math.round(timeoutMs / 1000)} s`, { hint: 'tor is being set up or has restarted; check that it is running' }));
    }, timeoutMs);
    const onAbort = () => {
      finish();
      try {
        throwIfAborted(signal);
      } catch (e) {
        reject(e);
      }
    };
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        finish();
        resolve(v);
      },
      (e: unknown) => {
        finish();
        reject(e);
      },
    );
  });
}

function listenOnLoopback(port: number): Promise<net.Server> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.reject(new TahoeError('EndpointInvalid', `onion local port must be 0–65535, not ${port}`));
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new TahoeError('EndpointInvalid', `cannot listen on 127.0.0.1:${port} for the onion service: ${err.code ?? err.message}`, {
          cause: err,
          hint: err.code === 'EADDRINUSE' ? 'another program uses this port: change [tor] onion.local_port (tub.port)' : 'check the onion local port',
          details: { port, code: err.code },
        }),
      ),
    );
    // loopback only: the onion service is the one way in (AN-1.3)
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}
