/**
 * The introducer client: one `IntroducerClient` per introducer (petname) subscribes to
 * services with a long-poll and publishes this node's announcement; the
 * `AnnouncementHub` merges what every introducer says and feeds the grid client.
 *
 * Protocol: docs/introducer-protocol.md (protocol.ts). Announcement rules:
 * shared/specs/storage-protocol.md §7 — every announcement received is verified here
 * again (v0- Ed25519 signature over the exact bytes), whatever the introducer claims; an
 * older seqnum never replaces a newer one. Cache: `private/introducer_<petname>_cache.yaml`
 * (cache.ts) is read before the first connection, so a node whose introducer is down
 * still knows its servers, and written after every change.
 *
 * Connections go through the connection router (so they obey anonymize mode and reach
 * `pb+tor`/`pb+i2p` introducers through Tor/I2P), each introducer on its own isolated
 * circuit. Failures are retried with exponential backoff and jitter (1 s → 5 min); when
 * the introducer restarts (a new epoch) the view is resynchronised and the announcement
 * republished at once.
 */
import { TahoeError, asTahoeError, isTahoeError } from '../errors.js';
import { redact, silentLogger, type Logger } from '../log.js';
import type { ConnectionRouter } from '../net/router.js';
import type { TransportName } from '../net/transport.js';
import { verifyAnnouncement, type AnnouncementSigner, type SignedAnnouncement } from './announcement.js';
import type { KnownAnnouncement } from './cache.js';
import { introducerRequest, rejection, type IntroducerResponse } from './https-request.js';
import {
  LIMITS,
  PATHS,
  encodePublishRequest,
  formatPollQuery,
  parsePollResult,
  parsePublishResult,
  parseStale,
  type PollResult,
} from './protocol.js';
import { DEFAULT_CLIENT_TIMING, type IntroducerClientTiming } from './timing.js';
import { locationTarget, type IntroducerAddress } from './url.js';

/** Where a client keeps its view between runs (node/ implements it over the node directory). */
export interface AnnouncementCacheStore {
  load(): Promise<KnownAnnouncement[]>;
  save(entries: KnownAnnouncement[]): Promise<void>;
}

export interface IntroducerClientOptions {
  petname: string;
  /** The introducer's address (parseIntroducerLocation of its fURL or NURLs): secret. */
  address: IntroducerAddress;
  router: ConnectionRouter;
  /** Services to subscribe to (a client node: ["storage"]); none = publish only. */
  services?: readonly string[];
  /** Publish this node's announcement (storage servers). */
  publisher?: AnnouncementSigner;
  cache?: AnnouncementCacheStore;
  /** Called after the view changed (the hub recomputes). */
  onViewChange?: () => void;
  logger?: Logger;
  timing?: Partial<IntroducerClientTiming>;
  /** Jitter source in [0, 1) (tests). */
  random?: () => number;
}

/** One introducer connection, as the node's status and the welcome page show it. */
export interface IntroducerClientStatus {
  petname: string;
  connected: boolean;
  /** Epoch ms of the last change of `connected`. */
  since?: number;
  /** How the introducer is reached (from the route used). */
  transport?: TransportName;
  /** Announcements currently known from this introducer (or its cache). */
  announcements: number;
  /** Epoch ms of our last successful publish (publishing nodes only). */
  lastPublished?: number;
  /** Last failure, already redacted. */
  lastError?: string;
}

/** Sleep that a trigger or close can cut short. */
class Wakeable {
  private wakeUp: (() => void) | undefined;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.wakeUp = done;
    });
  }
  wake(): void {
    this.wakeUp?.();
  }
}

interface ServiceState {
  epoch?: string;
  version?: number;
  /** Whether the view is based on a complete snapshot of the current epoch. */
  complete: boolean;
  view: Map<string, KnownAnnouncement>;
}

export class IntroducerClient {
  readonly petname: string;
  private readonly address: IntroducerAddress;
  private readonly router: ConnectionRouter;
  private readonly timing: IntroducerClientTiming;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly services = new Map<string, ServiceState>();
  private readonly publisher: AnnouncementSigner | undefined;
  private readonly cache: AnnouncementCacheStore | undefined;
  private readonly onViewChange: (() => void) | undefined;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly publishWake = new Wakeable();
  private readonly pollWakes = new Set<Wakeable>();
  private refreshIntervalMs: number;
  /** The seqnum a 409 said the introducer holds for our key. */
  private staleSeqnum = 0;
  private lastEpoch: string | undefined;
  private started = false;
  private closed = false;
  private savePending: Promise<void> | undefined;
  private saveAgain = false;
  private state: { connected: boolean; since?: number; transport?: TransportName; lastError?: string; lastPublished?: number } = { connected: false };

  constructor(options: IntroducerClientOptions) {
    if (options.address.locations.length === 0) throw new TahoeError('ConfigInvalid', `introducer "${options.petname}" has no location`, { hint: 'copy the introducer\'s private/introducer.furl into private/introducers.yaml' });
    this.petname = options.petname;
    this.address = options.address;
    this.router = options.router;
    this.timing = { ...DEFAULT_CLIENT_TIMING, ...options.timing };
    this.log = (options.logger ?? silentLogger).child(`introducer:${options.petname}`);
    this.random = options.random ?? Math.random;
    this.publisher = options.publisher;
    this.cache = options.cache;
    this.onViewChange = options.onViewChange;
    this.refreshIntervalMs = this.timing.refreshIntervalMs;
    for (const s of options.services ?? []) this.services.set(s, { complete: false, view: new Map() });
  }

  /** Load the cache (so known servers are usable at once), then start talking to the introducer in the background. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.cache !== undefined && this.services.size > 0) {
      let cached: KnownAnnouncement[] = [];
      try {
        cached = await this.cache.load();
      } catch (e) {
        this.log.warn('cannot read the announcement cache; starting without it:', asTahoeError(e));
      }
      for (const entry of cached) {
        const state = this.services.get(entry.serviceName);
        if (state !== undefined) state.view.set(entry.key, entry);
      }
      if (cached.length > 0) {
        this.log.info(`${cached.length} announcement${cached.length === 1 ? '' : 's'} from the cache`);
        this.onViewChange?.();
      }
    }
    for (const service of this.services.keys()) this.loops.push(this.pollLoop(service));
    if (this.publisher !== undefined) this.loops.push(this.publishLoop(this.publisher));
  }

  /** The announcements known for a service (from the introducer or the cache). */
  view(service: string): ReadonlyMap<string, KnownAnnouncement> {
    return this.services.get(service)?.view ?? new Map();
  }

  status(): IntroducerClientStatus {
    let announcements = 0;
    for (const s of this.services.values()) announcements += s.view.size;
    return {
      petname: this.petname,
      connected: this.state.connected,
      ...(this.state.since === undefined ? {} : { since: this.state.since }),
      ...(this.state.transport === undefined ? {} : { transport: this.state.transport }),
      announcements,
      ...(this.state.lastPublished === undefined ? {} : { lastPublished: this.state.lastPublished }),
      ...(this.state.lastError === undefined ? {} : { lastError: this.state.lastError }),
    };
  }

  /** Publish now (e.g. the announcement changed) instead of at the next refresh. */
  publishNow(): void {
    this.publishWake.wake();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new TahoeError('Aborted', 'the introducer client is closing', { hint: 'the node is shutting down' }));
    this.publishWake.wake();
    for (const w of this.pollWakes) w.wake();
    await Promise.all(this.loops.map((l) => l.catch(() => undefined)));
    await this.savePending?.catch(() => undefined);
  }

  // ---------------------------------------------------------------- connection state

  private backoff(failures: number): number {
    const step = Math.min(this.timing.maxBackoffMs, this.timing.minBackoffMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
    return Math.max(1, Math.round(step * (0.5 + 0.5 * this.random())));
  }

  private markConnected(via: TransportName): void {
    this.state.transport = via;
    this.state.lastError = undefined;
    if (!this.state.connected) {
      this.state.connected = true;
      this.state.since = Date.now();
      this.log.info(`connected to the introducer via ${via}`);
    }
  }

  private markFailed(e: TahoeError): void {
    const text = redact(`${e.message} (hint: ${e.hint})`, this.log.revealsAddresses);
    const changed = this.state.lastError !== text || this.state.connected;
    this.state.lastError = text;
    if (this.state.connected || this.state.since === undefined) {
      this.state.connected = false;
      this.state.since = Date.now();
    }
    if (changed) this.log.warn(`introducer unreachable: ${text}`);
  }

  private async request(method: 'GET' | 'POST', path: string, options: { body?: Buffer; maxResponseBytes: number; extraTimeMs?: number }): Promise<IntroducerResponse> {
    const routes = this.router.routes(this.address.locations, locationTarget);
    let via: TransportName | undefined;
    const first = routes[0].target;
    const host = first.kind === 'i2p' ? first.address : first.host;
    const res = await introducerRequest({ pin: this.address.pin, swissnum: this.address.swissnum, host }, async (signal, timeoutMs) => {
      const { stream, route } = await this.router.dialFirst(routes, { signal, timeoutMs, isolationKey: `introducer:${this.petname}` });
      via = route.via;
      return stream;
    }, {
      method,
      path,
      body: options.body,
      maxResponseBytes: options.maxResponseBytes,
      timeoutMs: this.timing.requestTimeoutMs + (options.extraTimeMs ?? 0),
      connectTimeoutMs: this.timing.connectTimeoutMs,
      signal: this.abort.signal,
    });
    if (via !== undefined) this.markConnected(via);
    return res;
  }

  // ---------------------------------------------------------------- subscribing

  private async pollLoop(service: string): Promise<void> {
    const state = this.services.get(service) as ServiceState;
    const wake = new Wakeable();
    this.pollWakes.add(wake);
    let failures = 0;
    while (!this.closed) {
      const started = Date.now();
      try {
        const query = formatPollQuery({ service, epoch: state.epoch, since: state.epoch === undefined ? undefined : state.version, waitMs: this.timing.pollWaitMs });
        const res = await this.request('GET', query, { maxResponseBytes: LIMITS.pollResponse, extraTimeMs: this.timing.pollWaitMs });
        if (res.status !== 200) throw rejection(res, 'subscribing');
        this.apply(service, state, parsePollResult(res.body));
        failures = 0;
        // An introducer that answers at once every time must not make us spin.
        const elapsed = Date.now() - started;
        if (elapsed < 200) await wake.sleep(200 - elapsed);
      } catch (e) {
        if (this.closed) break;
        const err = asTahoeError(e, 'ServerUnreachable');
        failures++;
        this.markFailed(err);
        await wake.sleep(this.backoff(failures));
      }
    }
    this.pollWakes.delete(wake);
  }

  private apply(service: string, state: ServiceState, result: PollResult): void {
    if (state.epoch !== undefined && state.epoch !== result.epoch) {
      this.log.info('the introducer restarted (new epoch): resynchronising');
    }
    this.noticeEpoch(result.epoch);
    let changed = false;
    const incoming = new Map<string, KnownAnnouncement>();
    for (const signed of result.announcements) {
      const known = this.check(signed, service);
      if (known !== undefined) incoming.set(known.key, known);
    }
    if (result.full && result.complete) {
      for (const key of [...state.view.keys()]) {
        if (!incoming.has(key)) {
          state.view.delete(key);
          changed = true;
          this.log.info(`server ${key.slice(0, 12)}… is no longer announced`);
        }
      }
    }
    for (const [key, known] of incoming) {
      const old = state.view.get(key);
      if (old !== undefined) {
        if (known.seqnum < old.seqnum) {
          this.log.debug(`ignoring an older announcement of ${key.slice(0, 12)}… (seqnum ${known.seqnum} < ${old.seqnum})`);
          continue;
        }
        if (known.seqnum === old.seqnum && old.signed !== undefined && known.signed !== undefined && Buffer.compare(old.signed.msg, known.signed.msg) !== 0) {
          this.log.warn(`two different announcements of ${key.slice(0, 12)}… carry seqnum ${known.seqnum}; keeping the first`);
          continue;
        }
        if (old.signed !== undefined && known.signed !== undefined && Buffer.compare(old.signed.msg, known.signed.msg) === 0) continue;
      }
      state.view.set(key, known);
      changed = true;
    }
    if (!result.full) {
      for (const key of result.removed) {
        if (state.view.delete(key)) {
          changed = true;
          this.log.info(`server ${key.slice(0, 12)}… withdrew or expired at the introducer`);
        }
      }
    }
    state.epoch = result.epoch;
    state.version = result.version;
    if (result.full) state.complete = result.complete;
    if (changed) {
      this.onViewChange?.();
      this.scheduleSave();
    }
  }

  /** Verify one received announcement; undefined (logged) when it must be ignored. */
  private check(signed: SignedAnnouncement, service: string): KnownAnnouncement | undefined {
    try {
      const v = verifyAnnouncement(signed);
      if (v.serviceName !== service) {
        this.log.warn(`the introducer sent a "${v.serviceName.slice(0, 30)}" announcement for a "${service}" subscription; ignored`);
        return undefined;
      }
      return { key: v.key, serviceName: v.serviceName, seqnum: v.seqnum, ann: v.ann, signed: { msg: v.msg, sig: v.sig, key: v.key } };
    } catch (e) {
      const err = asTahoeError(e, 'BadInput');
      this.log.warn(`rejected an announcement from the introducer: ${err.message}`);
      return undefined;
    }
  }

  private noticeEpoch(epoch: string): void {
    if (this.lastEpoch !== undefined && this.lastEpoch !== epoch && this.publisher !== undefined) {
      this.log.info('the introducer restarted: republishing our announcement now');
      this.publishWake.wake();
    }
    this.lastEpoch = epoch;
  }

  private scheduleSave(): void {
    if (this.cache === undefined || this.closed) return;
    if (this.savePending !== undefined) {
      this.saveAgain = true;
      return;
    }
    const cache = this.cache;
    this.savePending = (async () => {
      do {
        this.saveAgain = false;
        const entries: KnownAnnouncement[] = [];
        for (const s of this.services.values()) entries.push(...s.view.values());
        try {
          await cache.save(entries);
        } catch (e) {
          this.log.warn('cannot write the announcement cache:', asTahoeError(e));
        }
      } while (this.saveAgain && !this.closed);
    })().finally(() => {
      this.savePending = undefined;
    });
  }

  // ---------------------------------------------------------------- publishing

  private async publishLoop(publisher: AnnouncementSigner): Promise<void> {
    let failures = 0;
    let lastEpochPublished: string | undefined;
    while (!this.closed) {
      try {
        let signed = await publisher.latest(this.refreshIntervalMs / 2);
        let result = await this.publishOnce(signed);
        if (result === 'stale') {
          // Our seqnum is behind what the introducer holds (e.g. announcement-seqnum was lost).
          signed = await publisher.sign(this.staleSeqnum);
          result = await this.publishOnce(signed);
          if (result === 'stale') throw new TahoeError('ServerRejected', 'the introducer keeps refusing our seqnum as stale', { hint: 'check that private/node.privkey is not shared by two nodes' });
        }
        if (result.status === 'duplicate' && lastEpochPublished === result.epoch) {
          // A refresh must carry a new signature, or the introducer does not count it.
          signed = await publisher.sign();
          const again = await this.publishOnce(signed);
          if (again === 'stale') continue;
          result = again;
        }
        if (lastEpochPublished !== undefined && lastEpochPublished !== result.epoch) this.log.info('republished to the restarted introducer');
        lastEpochPublished = result.epoch;
        this.noticeEpoch(result.epoch);
        this.refreshIntervalMs = Math.max(100, result.refreshIntervalMs);
        this.state.lastPublished = Date.now();
        failures = 0;
        await this.publishWake.sleep(this.refreshIntervalMs);
      } catch (e) {
        if (this.closed) break;
        failures++;
        this.markFailed(asTahoeError(e, 'ServerUnreachable'));
        await this.publishWake.sleep(this.backoff(failures));
      }
    }
  }

  private async publishOnce(signed: SignedAnnouncement): Promise<{ status: string; epoch: string; refreshIntervalMs: number } | 'stale'> {
    const res = await this.request('POST', PATHS.publish, { body: encodePublishRequest(signed), maxResponseBytes: LIMITS.smallResponse });
    if (res.status === 409) {
      try {
        this.staleSeqnum = parseStale(res.body).currentSeqnum;
      } catch (e) {
        if (!isTahoeError(e)) throw e;
        throw rejection(res, 'publishing');
      }
      return 'stale';
    }
    if (res.status !== 200) throw rejection(res, 'publishing');
    return parsePublishResult(res.body);
  }
}

/** What the hub feeds: the grid client's add/remove methods. */
export interface AnnouncementSink {
  add(serverId: string, ann: Record<string, unknown>): void;
  remove(serverId: string): void;
}

/**
 * Merges the views of every introducer for one service: a server is known while at least
 * one introducer (or its cache) announces it; the highest seqnum wins. Servers in
 * `private/servers.yaml` are configured statically and never replaced by an introducer's
 * announcement (as 1.20's storage broker does).
 */
export class AnnouncementHub {
  private readonly clients: IntroducerClient[] = [];
  private readonly forwarded = new Map<string, string>();

  constructor(
    private readonly sink: AnnouncementSink,
    private readonly options: { service?: string; isStatic?: (serverId: string) => boolean; logger?: Logger } = {},
  ) {}

  get service(): string {
    return this.options.service ?? 'storage';
  }

  attach(client: IntroducerClient): void {
    this.clients.push(client);
  }

  /** Recompute the merged view and tell the sink what changed. */
  update(): void {
    const best = new Map<string, KnownAnnouncement>();
    for (const client of this.clients) {
      for (const [key, known] of client.view(this.service)) {
        const current = best.get(key);
        if (current === undefined || known.seqnum > current.seqnum) best.set(key, known);
      }
    }
    const log = this.options.logger ?? silentLogger;
    for (const [key, known] of best) {
      if (this.options.isStatic?.(key) === true) continue;
      const fingerprint = known.signed !== undefined ? Buffer.from(known.signed.msg).toString('base64') : JSON.stringify(known.ann);
      if (this.forwarded.get(key) === fingerprint) continue;
      try {
        this.sink.add(key, known.ann);
        this.forwarded.set(key, fingerprint);
      } catch (e) {
        const err = asTahoeError(e, 'BadInput');
        log.warn(`announcement of ${key.slice(0, 12)}… is unusable: ${err.message}`);
        this.forwarded.set(key, fingerprint);
      }
    }
    for (const key of [...this.forwarded.keys()]) {
      if (!best.has(key)) {
        this.forwarded.delete(key);
        this.sink.remove(key);
      }
    }
  }
}
