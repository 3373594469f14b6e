/**
 * The tahoe-ts introducer service: nodes publish signed announcements, subscribers learn
 * them with a long-poll. Protocol: docs/introducer-protocol.md (wire formats in
 * protocol.ts); announcement rules: shared/specs/storage-protocol.md §7 and tahoe-lafs
 * `introducer/server.py` semantics — every announcement is verified (v0- Ed25519), indexed
 * by (service-name, key), and replaced only by a higher seqnum; an identical one is a
 * duplicate.
 *
 * Beyond Tahoe's Foolscap introducer (which drops an announcement when the publisher's
 * connection closes), announcements here expire: a publisher re-signs and re-publishes
 * every refresh interval, and what was not refreshed within `expiryMs` is dropped, so a
 * dead server disappears from every subscriber. A refresh that changes only seqnum and
 * nonce does not wake subscribers. The state is in memory: after a restart the introducer
 * answers with `complete = false` snapshots for `warmupMs`, so subscribers keep servers
 * that have not republished yet.
 *
 * Like the storage server, it is an HTTPS server that never listens by itself:
 * `acceptConnection(stream)` takes a TCP socket, an onion-service stream or an I2P stream.
 * Bad input gets a status code, never a crash: 400 malformed, 401 wrong swissnum, 403 bad
 * signature, 406/415 media types, 409 stale seqnum, 413 oversized, 429 publish flood,
 * 503 full. Secrets (the swissnum) are never logged.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TahoeError, asTahoeError, isTahoeError } from '../errors.js';
import { base32Encode } from '../crypto/base32.js';
import { silentLogger, type Logger } from '../log.js';
import { acceptTlsStream, dropFailedHandshakes, tlsServerOptions, type TlsServerIdentity } from '../net/tls.js';
import { readBodyWithin } from '../net/http-body.js';
import { APPLICATION_VERSION } from '../storage/version.js';
import { MAX_ANNOUNCEMENT_BYTES, sameBytes, sameContent, verifyAnnouncement, type SignedAnnouncement, type VerifiedAnnouncement } from './announcement.js';
import {
  LIMITS,
  PATHS,
  PROTOCOL_VERSION,
  encodePollResult,
  encodePublishResult,
  encodeStale,
  encodeVersion,
  parsePollQuery,
  parsePublishRequest,
  type PollQuery,
  type PollResult,
  type PublishStatus,
} from './protocol.js';
import { serverTiming, type IntroducerServerTiming } from './timing.js';

export interface IntroducerServerLimits {
  /** Announcements held at once, all services (default 10 000). */
  maxAnnouncements: number;
  /** Subscribers waiting in a long-poll at once (default 2 000). */
  maxWaiters: number;
  /** Publishes a key may send in a burst (default 20) … */
  publishBurst: number;
  /** … refilled at one per this many ms (default refresh interval / 10). */
  publishRefillMs: number;
  /** Expired/withdrawn entries remembered for delta polls (default 10 000). */
  maxTombstones: number;
}

export interface IntroducerServerOptions {
  identity: TlsServerIdentity;
  /** The introducer's secret (lowercase base32), the path of its NURLs. */
  swissnum: string;
  logger?: Logger;
  timing?: Partial<IntroducerServerTiming>;
  limits?: Partial<IntroducerServerLimits>;
  applicationVersion?: string;
  /** Clock (tests). */
  now?: () => number;
}

interface Entry {
  verified: VerifiedAnnouncement;
  /** Version at which subscribers last had to learn something new about it. */
  changedAt: number;
  lastSeen: number;
}

interface Tombstone {
  service: string;
  key: string;
  version: number;
}

interface Waiter {
  query: PollQuery;
  wake: () => void;
}

interface Bucket {
  tokens: number;
  updated: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
    /** A CBOR body sent instead of the text (the 409 answer says which seqnum is held). */
    readonly cbor?: Buffer,
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}

const CBOR = 'application/cbor';

function indexOf(service: string, key: string): string {
  return `${service}\u0000${key}`;
}

export class IntroducerServer {
  readonly https: https.Server;
  /** Random per start: a subscriber that sees a new epoch knows its view is from an older run. */
  readonly epoch: string;
  readonly timing: IntroducerServerTiming;
  private readonly limits: IntroducerServerLimits;
  private readonly expectedAuthorization: Buffer;
  private readonly log: Logger;
  private readonly applicationVersion: string;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly tombstones = new Map<string, Tombstone>();
  /** Highest version of a tombstone we forgot: a delta from before it must be a full snapshot. */
  private tombstoneFloor = 0;
  private readonly serviceChangedAt = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private readonly buckets = new Map<string, Bucket>();
  private versionCounter = 0;
  /** Snapshots are complete from this version on (Infinity while warming up). */
  private completeFrom = Number.POSITIVE_INFINITY;
  private readonly sweepTimer: NodeJS.Timeout;
  private warmupTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly started: number;

  constructor(options: IntroducerServerOptions) {
    if (!/^[a-z2-7]{16,64}$/.test(options.swissnum)) {
      throw new TahoeError('ConfigInvalid', 'the introducer swissnum must be 16–64 lowercase base32 characters', {
        hint: 'private/introducer.furl is damaged: restore it from backup, or delete it to create a new one (clients then need the new NURL)',
      });
    }
    this.timing = serverTiming(options.timing);
    this.limits = {
      maxAnnouncements: options.limits?.maxAnnouncements ?? 10_000,
      maxWaiters: options.limits?.maxWaiters ?? 2_000,
      publishBurst: options.limits?.publishBurst ?? 20,
      publishRefillMs: options.limits?.publishRefillMs ?? Math.max(1, Math.floor(this.timing.refreshIntervalMs / 10)),
      maxTombstones: options.limits?.maxTombstones ?? 10_000,
    };
    this.expectedAuthorization = Buffer.from(`Tahoe-LAFS ${Buffer.from(options.swissnum, 'ascii').toString('base64')}`, 'latin1');
    this.log = (options.logger ?? silentLogger).child('introducer');
    this.applicationVersion = options.applicationVersion ?? APPLICATION_VERSION;
    this.now = options.now ?? Date.now;
    this.epoch = base32Encode(randomBytes(10));
    this.started = this.now();
    const pollCeiling = this.timing.maxPollWaitMs + 30_000;
    this.https = https.createServer(
      {
        ...tlsServerOptions(options.identity),
        headersTimeout: 30_000,
        requestTimeout: pollCeiling,
        keepAliveTimeout: 65_000,
        connectionsCheckingInterval: 1_000,
        noDelay: true,
      },
      (req, res) => void this.handle(req, res),
    );
    // The socket idles while a long-poll waits: the idle limit must exceed the longest wait.
    this.https.timeout = pollCeiling;
    dropFailedHandshakes(this.https, (err) => this.log.debug('TLS handshake failed:', err.message));
    this.sweepTimer = setInterval(() => this.sweep(), this.timing.sweepIntervalMs);
    this.sweepTimer.unref();
    if (this.timing.warmupMs <= 0) this.completeFrom = 0;
    else {
      this.warmupTimer = setTimeout(() => this.endWarmup(), this.timing.warmupMs);
      this.warmupTimer.unref();
    }
  }

  /** Serve HTTPS on an already-open stream (TCP socket, onion or I2P stream). */
  acceptConnection(stream: Duplex): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    stream.on('error', () => undefined);
    acceptTlsStream(this.https, stream);
  }

  /** The current version (grows with every change subscribers must learn). */
  get version(): number {
    return this.versionCounter;
  }

  get warmingUp(): boolean {
    return this.completeFrom === Number.POSITIVE_INFINITY;
  }

  /** Verified announcements held now (for status pages and tests). */
  announcements(service?: string): VerifiedAnnouncement[] {
    return [...this.entries.values()].map((e) => e.verified).filter((v) => service === undefined || v.serviceName === service);
  }

  /** Counts for the status page. */
  stats(): { announcements: number; subscribersWaiting: number; epoch: string; version: number; uptimeMs: number; warmingUp: boolean } {
    return { announcements: this.entries.size, subscribersWaiting: this.waiters.size, epoch: this.epoch, version: this.versionCounter, uptimeMs: this.now() - this.started, warmingUp: this.warmingUp };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    if (this.warmupTimer !== undefined) clearTimeout(this.warmupTimer);
    for (const w of [...this.waiters]) w.wake();
    this.waiters.clear();
    this.https.closeAllConnections();
    await new Promise<void>((resolve) => this.https.close(() => resolve()));
  }

  // ---------------------------------------------------------------- state

  private bump(service: string): number {
    this.versionCounter++;
    this.serviceChangedAt.set(service, this.versionCounter);
    return this.versionCounter;
  }

  private endWarmup(): void {
    this.warmupTimer = undefined;
    if (this.closed) return;
    this.versionCounter++;
    this.completeFrom = this.versionCounter;
    this.log.info(`warm-up over: ${this.entries.size} announcement${this.entries.size === 1 ? '' : 's'} republished; snapshots are complete now`);
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) if (this.hasNews(w.query)) w.wake();
  }

  private sweep(): void {
    const cutoff = this.now() - this.timing.expiryMs;
    const expired: Entry[] = [];
    for (const [index, entry] of this.entries) {
      if (entry.lastSeen <= cutoff) {
        this.entries.delete(index);
        expired.push(entry);
      }
    }
    for (const e of expired) {
      const { serviceName, key } = e.verified;
      const version = this.bump(serviceName);
      this.addTombstone({ service: serviceName, key, version });
      this.log.info(`announcement of ${key.slice(0, 12)}… (${serviceName}) expired: not refreshed for ${Math.round(this.timing.expiryMs / 1000)} s`);
    }
    for (const [key, bucket] of this.buckets) {
      if (this.refill(bucket) >= this.limits.publishBurst) this.buckets.delete(key);
    }
    if (expired.length > 0) this.wakeAll();
  }

  private addTombstone(t: Tombstone): void {
    const index = indexOf(t.service, t.key);
    this.tombstones.delete(index);
    this.tombstones.set(index, t);
    while (this.tombstones.size > this.limits.maxTombstones) {
      const [oldestIndex, oldest] = this.tombstones.entries().next().value as [string, Tombstone];
      this.tombstones.delete(oldestIndex);
      this.tombstoneFloor = Math.max(this.tombstoneFloor, oldest.version);
    }
  }

  private refill(bucket: Bucket): number {
    const now = this.now();
    const gained = (now - bucket.updated) / this.limits.publishRefillMs;
    bucket.tokens = Math.min(this.limits.publishBurst, bucket.tokens + gained);
    bucket.updated = now;
    return bucket.tokens;
  }

  private takeToken(key: string): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.limits.publishBurst, updated: this.now() };
      this.buckets.set(key, bucket);
    }
    this.refill(bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Apply a verified publish. Throws HttpError for stale or refused announcements. */
  private publish(v: VerifiedAnnouncement): PublishStatus {
    const index = indexOf(v.serviceName, v.key);
    const existing = this.entries.get(index);
    const now = this.now();
    if (existing !== undefined) {
      const old = existing.verified;
      if (sameBytes(old.msg, v.msg)) return 'duplicate';
      if (v.seqnum <= old.seqnum) {
        throw new HttpError(409, 'stale announcement: the introducer holds this seqnum or a higher one', {}, encodeStale({ currentSeqnum: old.seqnum }));
      }
      existing.lastSeen = now;
      if (sameContent(old.ann, v.ann)) {
        existing.verified = v;
        return 'refreshed';
      }
      existing.verified = v;
      existing.changedAt = this.bump(v.serviceName);
      this.log.info(`announcement of ${v.key.slice(0, 12)}… (${v.serviceName}) updated (seqnum ${v.seqnum})`);
      this.wakeAll();
      return 'accepted';
    }
    if (this.entries.size >= this.limits.maxAnnouncements) {
      throw new HttpError(503, `the introducer holds ${this.entries.size} announcements, its limit`, { 'retry-after': String(Math.ceil(this.timing.refreshIntervalMs / 1000)) });
    }
    const changedAt = this.bump(v.serviceName);
    this.entries.set(index, { verified: v, changedAt, lastSeen: now });
    this.tombstones.delete(index);
    this.log.info(`new announcement of ${v.key.slice(0, 12)}… (${v.serviceName}, seqnum ${v.seqnum}); ${this.entries.size} held`);
    this.wakeAll();
    return 'accepted';
  }

  private hasNews(q: PollQuery): boolean {
    if (this.closed) return true;
    if (q.epoch !== this.epoch || q.since === undefined) return true;
    if (q.since > this.versionCounter || q.since < this.tombstoneFloor) return true;
    if (!this.warmingUp && q.since < this.completeFrom) return true;
    return (this.serviceChangedAt.get(q.service) ?? 0) > q.since;
  }

  private pollResult(q: PollQuery): PollResult {
    const complete = !this.warmingUp;
    const full = q.epoch !== this.epoch || q.since === undefined || q.since > this.versionCounter || q.since < this.tombstoneFloor || (complete && q.since < this.completeFrom);
    const announcements: SignedAnnouncement[] = [];
    const removed: string[] = [];
    for (const e of this.entries.values()) {
      if (e.verified.serviceName !== q.service) continue;
      if (full || e.changedAt > (q.since as number)) announcements.push({ msg: e.verified.msg, sig: e.verified.sig, key: e.verified.key });
    }
    if (!full) {
      for (const t of this.tombstones.values()) if (t.service === q.service && t.version > (q.since as number)) removed.push(t.key);
    }
    return { epoch: this.epoch, version: this.versionCounter, full, complete, announcements, removed };
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://introducer.invalid');
      const route = Object.values(PATHS).find((p) => p === url.pathname);
      if (route === undefined) throw new HttpError(404, 'no such introducer endpoint');
      const method = route === PATHS.publish ? 'POST' : 'GET';
      if (req.method !== method) throw new HttpError(405, `use ${method} for ${route}`, { allow: method });
      this.checkAuthorization(req);
      this.checkAccept(req);
      if (route === PATHS.version) {
        this.sendCbor(res, 200, encodeVersion({ applicationVersion: this.applicationVersion, protocol: PROTOCOL_VERSION, epoch: this.epoch, refreshIntervalMs: this.timing.refreshIntervalMs, maxAnnouncementBytes: MAX_ANNOUNCEMENT_BYTES }));
        return;
      }
      if (route === PATHS.publish) {
        await this.handlePublish(req, res);
        return;
      }
      await this.handlePoll(req, res, url.search);
    } catch (e) {
      this.sendError(req, res, e);
    }
  }

  private checkAuthorization(req: IncomingMessage): void {
    const raw = req.headers.authorization;
    const given = Buffer.from(typeof raw === 'string' ? raw : '', 'latin1');
    if (given.length !== this.expectedAuthorization.length || !timingSafeEqual(given, this.expectedAuthorization)) {
      throw new HttpError(401, 'Wrong Authorization header');
    }
  }

  private checkAccept(req: IncomingMessage): void {
    const accept = req.headers.accept;
    if (accept === undefined || accept.trim() === '') return;
    const types = accept.split(',').map((t) => t.split(';')[0].trim().toLowerCase());
    if (!types.some((t) => t === CBOR || t === '*/*' || t === 'application/*')) throw new HttpError(406, 'responses are application/cbor');
  }

  private async readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      req.resume();
      throw new HttpError(413, `request body larger than ${limit} bytes`);
    }
    // Not `for await` over req: leaving that loop destroys the socket before the 413 is read.
    const body = await readBodyWithin(req, limit);
    if (body === undefined) throw new HttpError(413, `request body larger than ${limit} bytes`);
    return body;
  }

  private async handlePublish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'];
    if (type !== undefined && type.split(';')[0].trim().toLowerCase() !== CBOR) {
      req.resume();
      throw new HttpError(415, 'the request body must be application/cbor');
    }
    const body = await this.readBody(req, LIMITS.publishBody);
    let verified: VerifiedAnnouncement;
    try {
      verified = verifyAnnouncement(parsePublishRequest(body));
    } catch (e) {
      if (isTahoeError(e, 'IntegrityError')) throw new HttpError(403, 'the announcement signature does not verify');
      if (isTahoeError(e)) throw new HttpError(400, e.message);
      throw e;
    }
    if (!this.takeToken(verified.key)) {
      throw new HttpError(429, 'too many publishes for this key; slow down', { 'retry-after': String(Math.max(1, Math.ceil(this.limits.publishRefillMs / 1000))) });
    }
    const status = this.publish(verified);
    this.sendCbor(res, 200, encodePublishResult({ status, epoch: this.epoch, refreshIntervalMs: this.timing.refreshIntervalMs }));
  }

  private async handlePoll(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    let query: PollQuery;
    try {
      query = parsePollQuery(search);
    } catch (e) {
      if (isTahoeError(e)) throw new HttpError(400, e.message);
      throw e;
    }
    req.resume();
    const waitMs = Math.min(query.waitMs, this.timing.maxPollWaitMs);
    if (!this.hasNews(query) && waitMs > 0) {
      if (this.waiters.size >= this.limits.maxWaiters) throw new HttpError(503, 'too many subscribers are waiting', { 'retry-after': '5' });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => done(), waitMs);
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          res.off('close', done);
          resolve();
        };
        const waiter: Waiter = { query, wake: done };
        this.waiters.add(waiter);
        res.once('close', done);
      });
      if (res.destroyed || res.writableEnded) return;
    }
    this.sendCbor(res, 200, encodePollResult(this.pollResult(query)));
  }

  private sendCbor(res: ServerResponse, status: number, body: Buffer): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': CBOR, 'content-length': String(body.length), 'cache-control': 'no-store' });
    res.end(body);
  }

  private sendError(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    let status = 500;
    let body = 'internal error';
    let headers: Record<string, string> = {};
    let cbor: Buffer | undefined;
    if (e instanceof HttpError) {
      status = e.status;
      body = e.body;
      headers = e.headers;
      cbor = e.cbor;
    } else {
      this.log.error(`request ${req.method ?? '?'} ${(req.url ?? '').split('?')[0]} failed:`, asTahoeError(e));
    }
    if (status >= 400 && status !== 401) this.log.debug(`${req.method ?? '?'} ${(req.url ?? '').split('?')[0]} → ${status}: ${body}`);
    if (cbor !== undefined) {
      res.writeHead(status, { ...headers, 'content-type': CBOR, 'content-length': String(cbor.length) });
      res.end(cbor);
    } else {
      const bytes = Buffer.from(body, 'utf8');
      res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(bytes.length) });
      res.end(bytes);
    }
    // A request we refused may still be sending its body: do not keep reading it.
    if (!req.complete) req.resume();
  }
}
