/**
 * The I2P Transport (src/net/transport.ts) over a SAM v3.1 bridge (sam.ts).
 *
 * Sessions: one long-lived SAM session per identity (anonymity-checklist AN-7). Dials share
 * one `TRANSIENT` client session — a fresh, unlinkable identity per run, never the server's
 * destination — created lazily on the first dial (or `warmUp()`), and re-created when the
 * router drops it. Each listener owns a session with its persistent destination.
 *
 * Confirming a dial: the router answers `STREAM STATUS RESULT=OK` before the peer has
 * accepted anything (i2p.md §5.5). Tahoe's protocols (TLS for GBS, Foolscap) have the
 * client speak first, so `dial` returns the stream right after OK, and the layer above
 * confirms it with its handshake timeout; in addition the stream is destroyed with a
 * `Timeout` if the peer sends no byte within `firstByteTimeoutMs` (default 120 s; covers a
 * caller without its own timeout).
 *
 * Listening: a STREAM ACCEPT loop, not FORWARD. FORWARD needs a local TCP listener that
 * any local process can connect to and that then trusts a peer line anyone could write;
 * ACCEPT keeps every byte on sockets we opened, needs no listening port, and its peer line
 * comes from the router. SAM 3.1 (i2pd < 2.50) allows one pending ACCEPT per session, so
 * the loop re-issues it at once after each connection; i2pd holds streams that arrive in
 * between (a CONNECT 3 s before the ACCEPT is still delivered).
 *
 * Ports: SAM 3.1 streams carry no ports; `port` in a target or listen spec only ends up in
 * the hints (Tahoe writes `i2p:<b32>.b32.i2p:3457`) and is ignored when dialling.
 */
import { promises as fs } from 'node:fs';
import type { Duplex } from 'node:stream';
import { TahoeError, abortReasonOf, asTahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { EgressGate } from '../socket.js';
import type {
  ConnectionHandler,
  DialOptions,
  DialTarget,
  ListenSpec,
  Listener,
  Transport,
  TransportStatus,
} from '../transport.js';
import { destinationToB32, i2pBase64Decode, parseI2pAddress } from './address.js';
import { loadOrCreateDestinationKey } from './destination.js';
import { PRODUCTION_SESSION_OPTIONS, SamClient, type SamEndpoint, type SamSession, type SamTimeouts } from './sam.js';

/**
 * i2pd keeps a destination ≈ 5 s after its session socket closed; a SESSION CREATE with the
 * same key inside that window shares the dying destination, which then breaks. Wait this
 * long before re-creating a session from the same key (measured on i2pd 2.45.1).
 */
export const SAME_KEY_REUSE_DELAY_MS = 6_000;

export interface I2pTransportOptions {
  /** The SAM bridge: a client, or how to make one. */
  sam: SamClient | { endpoint?: SamEndpoint; gate: EgressGate; timeouts?: Partial<SamTimeouts> };
  /** I2CP/streaming options for every session. Default PRODUCTION_SESSION_OPTIONS. */
  sessionOptions?: Readonly<Record<string, string>>;
  /** Destroy a dialled stream whose peer sent nothing this long (default 120 s; 0 = off). */
  firstByteTimeoutMs?: number;
  /** See SAME_KEY_REUSE_DELAY_MS. */
  sameKeyReuseDelayMs?: number;
  logger?: Logger;
}

/**
 * When each destination's last session closed, per router (a router-wide fact, so
 * module-wide; keyed `<SAM endpoint> <b32>`: a freshly launched router on another port has
 * no dying copy of the destination to wait for).
 */
const lastClosedAt = new Map<string, number>();

function reuseKey(sam: SamClient, b32: string): string {
  return `${sam.endpoint.host}:${sam.endpoint.port} ${b32}`;
}

/**
 * `<keyFile>.closed` ("<epoch ms> <SAM host:port>"): when a listener of this key last closed
 * its session, and on which router — so that a tahoe-ts restarted within seconds (systemd
 * `restart`) also waits out the dying destination. Garbage, a future time or another router
 * count as "no marker".
 */
function closedMarkerFile(keyFile: string): string {
  return `${keyFile}.closed`;
}

async function readClosedMarker(keyFile: string, sam: SamClient): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(closedMarkerFile(keyFile), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d{1,16}) (\S+)\n?$/.exec(text);
  if (m === null || m[2] !== `${sam.endpoint.host}:${sam.endpoint.port}`) return undefined;
  const at = Number(m[1]);
  return at <= Date.now() ? at : undefined;
}

async function writeClosedMarker(keyFile: string, sam: SamClient, at: number): Promise<void> {
  await fs.writeFile(closedMarkerFile(keyFile), `${at} ${sam.endpoint.host}:${sam.endpoint.port}\n`, { mode: 0o600 });
}

async function waitForKeyReuse(key: string, delayMs: number, signal?: AbortSignal): Promise<void> {
  const closedAt = lastClosedAt.get(key);
  if (closedAt === undefined) return;
  const wait = closedAt + delayMs - Date.now();
  if (wait <= 0) return;
  await sleep(wait, signal);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    throwIfAborted(signal);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new TahoeError('Aborted', 'aborted while waiting'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Wait for `promise`, but give up (without cancelling it) when `signal` fires. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function sessionIsGone(e: unknown): boolean {
  return e instanceof TahoeError && (e.details.result === 'INVALID_ID' || e.details.result === 'SESSION_CLOSED');
}

function peerDescription(peerDestination: string): string {
  try {
    return destinationToB32(i2pBase64Decode(peerDestination));
  } catch {
    return 'unknown I2P peer';
  }
}

export class I2pTransport implements Transport {
  readonly name = 'i2p' as const;
  readonly hidesIp = true;
  readonly sam: SamClient;
  private readonly sessionOptions: Readonly<Record<string, string>>;
  private readonly firstByteTimeoutMs: number;
  private readonly reuseDelayMs: number;
  private readonly logger: Logger;
  private clientSession: Promise<SamSession> | undefined;
  private readonly listeners = new Set<I2pListener>();
  /** Destinations (b32) a `listen` is setting up: taken before its first wait, so a second listen on the key is refused. */
  private readonly listening = new Set<string>();
  private closed = false;
  private lastError: string | undefined;

  constructor(options: I2pTransportOptions) {
    this.sam = options.sam instanceof SamClient ? options.sam : new SamClient({ ...options.sam, logger: options.logger });
    this.sessionOptions = options.sessionOptions ?? PRODUCTION_SESSION_OPTIONS;
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? 120_000;
    this.reuseDelayMs = options.sameKeyReuseDelayMs ?? SAME_KEY_REUSE_DELAY_MS;
    this.logger = (options.logger ?? silentLogger).child('i2p');
  }

  canDial(target: DialTarget): boolean {
    return target.kind === 'i2p';
  }

  /** Create the shared client session now instead of on the first dial. */
  async warmUp(signal?: AbortSignal): Promise<void> {
    await this.getClientSession(signal);
  }

  private getClientSession(signal?: AbortSignal, onCreating?: () => void): Promise<SamSession> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!this.clientSession) {
      onCreating?.();
      // Not tied to one dial's signal: the session is shared by every dial.
      const creating = this.sam.createSession({ destination: 'TRANSIENT', options: this.sessionOptions });
      this.clientSession = creating;
      creating.then(
        (session) => {
          if (this.closed) void session.close();
          void session.closed.then(() => {
            if (this.clientSession === creating) this.clientSession = undefined;
            this.logger.debug('client session closed');
          });
        },
        (e: unknown) => {
          this.lastError = asTahoeError(e).message;
          if (this.clientSession === creating) this.clientSession = undefined;
        },
      );
    }
    return raceSignal(this.clientSession, signal);
  }

  async dial(target: DialTarget, options: DialOptions = {}): Promise<Duplex> {
    if (target.kind !== 'i2p') {
      throw new TahoeError('Internal', `the I2P transport cannot dial a ${target.kind} target`, { hint: 'this is a bug in the transport router' });
    }
    const address = parseI2pAddress(target.address);
    const signals = [options.signal, options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const progress = (phase: string) => options.onProgress?.({ transport: 'i2p', phase });
    try {
      for (let attempt = 0; ; attempt++) {
        const session = await this.getClientSession(signal, () => progress('creating i2p session (building tunnels)'));
        try {
          let destination = address.address;
          if (address.kind === 'name') {
            progress('looking up i2p name');
            destination = await session.lookup(address.address, signal);
          }
          progress('connecting over i2p');
          const stream = await session.connect(destination, { signal, firstByteTimeoutMs: this.firstByteTimeoutMs || undefined });
          progress('connected');
          return stream;
        } catch (e) {
          // The router dropped our session (restart, idle cleanup): make a new one, once.
          if (attempt === 0 && sessionIsGone(e) && !this.closed) {
            this.logger.info('I2P client session is gone; creating a new one');
            if (this.clientSession && (await this.clientSession.catch(() => undefined)) === session) this.clientSession = undefined;
            continue;
          }
          throw e;
        }
      }
    } catch (e) {
      if (options.timeoutMs !== undefined && signal?.aborted && !options.signal?.aborted) {
        throw new TahoeError('Timeout', `connecting to ${address.kind === 'destination' ? address.b32 : address.address} over I2P took longer than ${options.timeoutMs} ms`, {
          cause: e,
          hint: 'I2P tunnels can be slow to build; retry, or raise the timeout',
          details: { timeoutMs: options.timeoutMs },
        });
      }
      throw e;
    }
  }

  async listen(spec: ListenSpec, onConnection: ConnectionHandler): Promise<Listener> {
    if (spec.kind !== 'i2p') {
      throw new TahoeError('Internal', `the I2P transport cannot listen on a ${spec.kind} spec`, { hint: 'this is a bug in the node wiring' });
    }
    if (this.closed) throw this.closedError();
    if (spec.keyFile === undefined) return this.startListener(spec, 'TRANSIENT', onConnection);
    const key = await loadOrCreateDestinationKey(spec.keyFile);
    if (key.created) this.logger.info(`created a new I2P destination in ${spec.keyFile}`);
    // Checked and taken with no await in between: two listens on one key, started
    // together, would otherwise both pass the check and both wait for the same session.
    if (this.listening.has(key.b32) || [...this.listeners].some((l) => l.b32 === key.b32)) {
      throw new TahoeError('BadInput', `already listening on the I2P destination of ${spec.keyFile}`, {
        hint: 'each I2P listener needs its own key file',
      });
    }
    this.listening.add(key.b32);
    try {
      const reuse = reuseKey(this.sam, key.b32);
      const marked = await readClosedMarker(spec.keyFile, this.sam);
      if (marked !== undefined && marked > (lastClosedAt.get(reuse) ?? 0)) lastClosedAt.set(reuse, marked);
      await waitForKeyReuse(reuse, this.reuseDelayMs);
      return await this.startListener(spec, key.privateKeyBase64, onConnection);
    } finally {
      // From here on the listener itself (in `listeners`) holds the key.
      this.listening.delete(key.b32);
    }
  }

  private async startListener(spec: Extract<ListenSpec, { kind: 'i2p' }>, privateKey: string, onConnection: ConnectionHandler): Promise<I2pListener> {
    const session = await this.sam.createSession({ destination: privateKey, options: this.sessionOptions });
    if (this.closed) {
      await session.close();
      throw this.closedError();
    }
    const listener = new I2pListener(this, session, spec.port, spec.keyFile, onConnection, this.logger, this.reuseDelayMs);
    this.listeners.add(listener);
    void listener.done.then(() => this.listeners.delete(listener));
    listener.start();
    return listener;
  }

  /** The shared client session, if one exists (status page, tests). */
  async currentClientSession(): Promise<SamSession | undefined> {
    return this.clientSession?.catch(() => undefined);
  }

  /** @internal used by listeners to re-create their session */
  createSession(privateKey: string, signal?: AbortSignal): Promise<SamSession> {
    return this.sam.createSession({ destination: privateKey, options: this.sessionOptions, signal });
  }

  describe(): TransportStatus {
    const listeners = this.listeners.size;
    const clientReady = this.clientSession !== undefined;
    return {
      name: 'i2p',
      ready: !this.closed && (clientReady || listeners > 0),
      summary:
        `I2P via ${this.sam.describe()}` +
        (this.closed ? ', closed' : `, client session ${clientReady ? 'up' : 'not yet created'}, ${listeners} listener${listeners === 1 ? '' : 's'}`) +
        (this.lastError ? ` (last error: ${this.lastError})` : ''),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.listeners].map((l) => l.close()));
    const pending = this.clientSession;
    this.clientSession = undefined;
    const session = await pending?.catch(() => undefined);
    // a TRANSIENT identity is never used again: no need to remember when it closed
    await session?.close();
  }

  private closedError(): TahoeError {
    return new TahoeError('Aborted', 'the I2P transport is closed', { hint: 'the node is shutting down' });
  }
}

class I2pListener implements Listener {
  readonly hints: DialTarget[];
  readonly b32: string;
  /** Resolves when the accept loop has ended (after close). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly abort = new AbortController();
  private closing = false;
  private accepted = 0;

  constructor(
    private readonly transport: I2pTransport,
    private session: SamSession,
    private readonly port: number | undefined,
    private readonly keyFile: string | undefined,
    private readonly onConnection: ConnectionHandler,
    private readonly logger: Logger,
    private readonly reuseDelayMs: number,
  ) {
    this.b32 = session.b32;
    this.hints = [port === undefined ? { kind: 'i2p', address: session.b32 } : { kind: 'i2p', address: session.b32, port }];
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  start(): void {
    void this.loop().finally(() => this.resolveDone());
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let backoffMs = 100;
    while (!this.closing) {
      try {
        if (!this.session.isAlive) await this.recreate(signal);
        const { socket, peerDestination } = await this.session.accept({ signal });
        backoffMs = 100;
        this.accepted++;
        try {
          this.onConnection(socket, { transport: 'i2p', peer: peerDescription(peerDestination) });
        } catch (e) {
          this.logger.warn('I2P connection handler failed:', asTahoeError(e));
          socket.destroy();
        }
      } catch (e) {
        if (this.closing) break;
        const err = asTahoeError(e);
        if (!this.session.isAlive || sessionIsGone(err)) this.logger.warn(`I2P listener session for ${this.b32} is gone; re-creating it:`, err);
        else this.logger.warn(`I2P accept failed (retrying in ${backoffMs} ms):`, err);
        // Back off on every failure, so a router that is down is not hammered.
        try {
          await sleep(backoffMs, signal);
        } catch {
          break;
        }
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  private async recreate(signal: AbortSignal): Promise<void> {
    const privateKey = this.session.revealPrivateKey();
    const key = reuseKey(this.transport.sam, this.b32);
    lastClosedAt.set(key, lastClosedAt.get(key) ?? Date.now());
    await waitForKeyReuse(key, this.reuseDelayMs, signal);
    this.session = await this.transport.createSession(privateKey, signal);
    lastClosedAt.delete(key);
    this.logger.info(`I2P listener session for ${this.b32} re-created`);
  }

  /** Number of streams accepted so far (status page, tests). */
  get acceptedCount(): number {
    return this.accepted;
  }

  /** The session currently serving this listener (tests). */
  get currentSession(): SamSession {
    return this.session;
  }

  describe(): string {
    return `I2P ${this.b32}${this.port === undefined ? '' : `:${this.port}`} (${this.session.isAlive ? 'up' : 're-creating'}, ${this.accepted} accepted)`;
  }

  async close(): Promise<void> {
    if (this.closing) return this.done;
    this.closing = true;
    this.abort.abort();
    await this.session.close();
    const closedAt = Date.now();
    lastClosedAt.set(reuseKey(this.transport.sam, this.b32), closedAt);
    if (this.keyFile !== undefined) {
      await writeClosedMarker(this.keyFile, this.transport.sam, closedAt).catch((e: unknown) => this.logger.debug(`could not note the close time next to ${this.keyFile}: ${(e as Error).message}`));
    }
    await this.done;
  }
}

export type { I2pListener };
