/**
 * Immutable (CHK) upload to the grid (spec: shared/specs/tahoe-formats.md §3, §6, §7;
 * storage-protocol.md §5; upstream `immutable/upload.py`, servers-of-happiness.rst).
 *
 *   1. LIT for ≤ 55 bytes: the data goes into the cap, no server is contacted.
 *   2. Plan: the key (convergent: one hashing pass over the source; or random), storage
 *      index, share size.
 *   3. Place: the first 2N connected servers in permuted order are asked which shares
 *      they already hold; servers whose announced limits are below the share size are
 *      read-only; `placeShares` computes a maximum matching (existing shares first); the
 *      new shares are allocated (`POST /immutable/:si` with per-server lease secrets and a
 *      random upload secret). Refusals mark a server read-only, errors drop it, and the
 *      placement is recomputed until every planned share has a bucket or happiness can no
 *      longer reach `shares.happy` (`UploadUnhappy`, before any data is sent). Leases of
 *      reused shares are renewed.
 *   4. Stream: the encoder's output goes to one `ShareWriter` per share (≈1 MB PATCHes,
 *      bounded queues: the encoder runs at the pace of the slowest live server). A server
 *      that fails is dropped with all its shares; if the rest still meets `shares.happy`
 *      the upload carries on, otherwise it stops at once.
 *   5. Commit: happiness is checked again with the shares' tails (hash trees, UEB) still
 *      held back, then the tails are sent, which completes the shares. A failed upload
 *      aborts every share still in progress (`PUT …/abort`), so it leaves no readable file.
 */
import { randomBytes } from 'node:crypto';
import { TahoeError, asTahoeError, isTahoeError, throwIfAborted } from '../errors.js';
import type { Logger } from '../log.js';
import { base32Encode } from '../crypto/base32.js';
import { leaseSecretsFor, type LeaseSecrets } from '../crypto/lease-secrets.js';
import { encodeChk, planChkUpload, type ChkUploadPlan } from '../immutable/encoder.js';
import { LIT_SIZE_THRESHOLD, checkEncodingParameters, checkFileSize, DEFAULT_MAX_SEGMENT_SIZE, type EncodingParameters } from '../immutable/params.js';
import { ExactReader, type ByteSource } from '../immutable/source.js';
import { litCapString } from '../immutable/lit.js';
import { happinessOf, placeShares, type Placement } from './placement.js';
import { isNetworkFailure, type StorageBroker, type StorageServer } from './broker.js';
import { RETRYABLE_WRITE_KINDS, ShareWriter } from './share-writer.js';
import type { GridEncoding, GridTiming, TransferProgress, UploadOptions, UploadResult } from './client.js';

export interface UploaderContext {
  broker: StorageBroker;
  leaseSecret: Uint8Array;
  convergenceSecret: Uint8Array;
  encoding: GridEncoding;
  timing: GridTiming;
  logger: Logger;
  /** PATCH batch size (default 1 000 000 bytes, as 1.20). */
  batchBytes?: number;
  /** How long to wait for slower servers once N have answered the share query (default 1 s). */
  stragglerGraceMs?: number;
  /** How far the encoder may run ahead of a server, per share (default 1 batch: one queued while one is in flight). */
  maxQueuedBytesPerShare?: number;
}

const DEFAULT_BATCH_BYTES = 1_000_000;

/** Per-server facts the placement rounds keep. */
interface Candidate {
  server: StorageServer;
  existing: Set<number>;
  writable: boolean;
  /** Buckets this upload holds on the server (allocated, not yet complete). */
  allocated: Set<number>;
  lease: LeaseSecrets;
  uploadSecret: Buffer;
  /** The server was sent an allocate request: its `already-have` leases are renewed. */
  askedToAllocate: boolean;
  leaseRenewed: boolean;
  dead: boolean;
}

function unhappy(happiness: number, happy: number, detail: string, reachable: number, cause?: unknown): TahoeError {
  return new TahoeError('UploadUnhappy', `the upload could reach a happiness of only ${happiness}, below shares.happy = ${happy}: ${detail}`, {
    hint: `${reachable} storage server${reachable === 1 ? ' was' : 's were'} usable, at least ${happy} are needed: connect to more servers (check the welcome page / introducer), or lower [client] shares.happy`,
    details: { happiness, happy, reachable },
    cause,
  });
}

function progressReporter(options: UploadOptions): (p: TransferProgress) => void {
  const callback = options.onProgress;
  if (callback === undefined) return () => undefined;
  return (p) => {
    try {
      callback(p);
    } catch {
      // A broken progress display must not break the upload.
    }
  };
}

/** A pass over the source that reports how far it got. */
function countingSource(source: ByteSource, onBytes: (n: number) => void): ByteSource {
  return () => {
    const chunks = source();
    return (async function* () {
      for await (const chunk of chunks) {
        onBytes(chunk.length);
        yield chunk;
      }
    })();
  };
}

async function readLiteral(source: ByteSource, size: number): Promise<Buffer> {
  const reader = new ExactReader(source(), size);
  try {
    const data = Buffer.from(await reader.read(size));
    await reader.expectEnd();
    return data;
  } finally {
    await reader.close();
  }
}

export async function uploadImmutable(ctx: UploaderContext, source: ByteSource, size: number, options: UploadOptions = {}): Promise<UploadResult> {
  const started = performance.now();
  const report = progressReporter(options);
  checkFileSize(size);
  throwIfAborted(options.signal);
  if (size <= LIT_SIZE_THRESHOLD) {
    const data = await readLiteral(source, size);
    report({ phase: 'done', bytesDone: size, bytesTotal: size });
    return { cap: litCapString(data), size, happiness: 0, sharesPlaced: 0, servers: 0, elapsedMs: Math.round(performance.now() - started) };
  }
  const { k, n, happy } = ctx.encoding;
  const params: EncodingParameters = { k, n, maxSegmentSize: ctx.encoding.maxSegmentSize ?? DEFAULT_MAX_SEGMENT_SIZE };
  checkEncodingParameters(params);
  if (!Number.isInteger(happy) || happy < 1 || happy > n || happy < k) {
    throw new TahoeError('ConfigInvalid', `shares.happy = ${String(happy)} is outside ${k}..${n} (shares.needed..shares.total)`, {
      hint: 'set [client] shares.happy between shares.needed and shares.total (default 7 for 3-of-10)',
    });
  }

  let hashed = 0;
  const plan = await planChkUpload({
    params,
    size,
    source: countingSource(source, (bytes) => {
      hashed += bytes;
      report({ phase: 'hashing', bytesDone: Math.min(hashed, size), bytesTotal: size });
    }),
    ...(options.randomKey === true ? {} : { convergenceSecret: ctx.convergenceSecret }),
    signal: options.signal,
  });
  const upload = new ChkUpload(ctx, plan, options, report);
  try {
    return await upload.run(source, started);
  } finally {
    await upload.cleanup();
  }
}

class ChkUpload {
  private readonly si: Buffer;
  private readonly siText: string;
  private readonly happy: number;
  private readonly log: Logger;
  private candidates: Candidate[] = [];
  private readonly writers = new Map<number, { writer: ShareWriter; candidate: Candidate }>();
  private readonly stop = new AbortController();
  private readonly signal: AbortSignal;
  private placement?: Placement;
  private sentBytes = 0;
  private totalBytes = 0;
  private succeeded = false;

  constructor(
    private readonly ctx: UploaderContext,
    private readonly plan: ChkUploadPlan,
    private readonly options: UploadOptions,
    private readonly report: (p: TransferProgress) => void,
  ) {
    this.si = plan.storageIndex;
    this.siText = base32Encode(plan.storageIndex);
    this.happy = ctx.encoding.happy;
    this.log = ctx.logger.child('upload');
    this.signal = options.signal === undefined ? this.stop.signal : AbortSignal.any([options.signal, this.stop.signal]);
  }

  async run(source: ByteSource, started: number): Promise<UploadResult> {
    const { plan } = this;
    this.report({ phase: 'placing', bytesDone: 0, bytesTotal: plan.plan.size });
    await this.findCandidates();
    const placement = await this.place();
    this.placement = placement;
    this.startWriters(placement);

    this.report({ phase: 'uploading', bytesDone: 0, bytesTotal: plan.plan.size });
    const sink = {
      writeShare: async (shareNumber: number, offset: number, bytes: Uint8Array): Promise<void> => {
        const entry = this.writers.get(shareNumber);
        if (entry !== undefined) await entry.writer.write(offset, bytes);
      },
    };
    let result;
    try {
      result = await encodeChk(plan, source, sink, { shareNumbers: [...placement.uploads.keys()].sort((a, b) => a - b), signal: this.signal });
    } catch (e) {
      throw this.stopReason(e);
    }
    // Everything but the shares' tails is sent; happiness once more before completing any share.
    await Promise.all([...this.writers.values()].map(({ writer }) => writer.flush()));
    this.checkLiveHappiness('after sending the share data');
    throwIfAborted(this.signal);
    await Promise.all([...this.writers.values()].map(({ writer }) => writer.commit()));
    const final = this.liveMap(true);
    const happiness = happinessOf(final);
    if (happiness < this.happy) throw unhappy(happiness, this.happy, 'servers failed while the shares were completed', this.liveServerCount());
    this.succeeded = true;
    const sharesPlaced = new Set([...final.values()].flatMap((s) => [...s])).size;
    const servers = [...final.values()].filter((s) => s.size > 0).length;
    this.report({ phase: 'done', bytesDone: plan.plan.size, bytesTotal: plan.plan.size });
    this.log.info(`uploaded ${plan.plan.size} bytes as ${plan.plan.k}-of-${plan.plan.n}: ${placement.uploads.size} new share(s), ${placement.reused.size} reused, happiness ${happiness}`);
    return {
      cap: result.capString,
      storageIndex: this.siText,
      size: plan.plan.size,
      happiness,
      sharesPlaced,
      servers,
      elapsedMs: Math.round(performance.now() - started),
    };
  }

  /** After a failure (or success): abort every share still in progress, best effort. */
  async cleanup(): Promise<void> {
    const reason = new TahoeError('Aborted', 'upload finished');
    this.stop.abort(reason);
    const pending: Promise<void>[] = [];
    for (const c of this.candidates) {
      const unfinished = [...c.allocated].filter((shnum) => {
        const w = this.writers.get(shnum);
        return !(w !== undefined && w.candidate === c && w.writer.state === 'complete');
      });
      for (const shnum of unfinished) {
        this.writers.get(shnum)?.writer.cancel(reason);
        if (this.succeeded && !c.dead) this.log.warn(`share ${shnum} on ${c.server.label} was not completed; aborting it`);
        pending.push(this.abortBucket(c, shnum));
      }
    }
    await Promise.all(pending);
  }

  private async abortBucket(c: Candidate, shnum: number): Promise<void> {
    c.allocated.delete(shnum);
    const api = c.server.api;
    if (api === undefined) return;
    try {
      await api.abortImmutable(this.si, shnum, c.uploadSecret, { timeoutMs: this.ctx.timing.queryTimeoutMs });
    } catch (e) {
      // A dead server drops in-progress uploads itself after 30 minutes; nothing readable remains.
      this.log.debug(`abort of share ${shnum} on ${c.server.label} failed:`, asTahoeError(e));
    }
  }

  // ------------------------------------------------------------------ placement

  private async findCandidates(): Promise<void> {
    const { n } = this.plan.plan;
    const servers = this.ctx.broker.permuted(this.si).slice(0, 2 * n);
    if (servers.length < this.happy) {
      const known = this.ctx.broker.all().length;
      throw new TahoeError('UploadUnhappy', `only ${servers.length} storage server${servers.length === 1 ? ' is' : 's are'} connected, shares.happy = ${this.happy} needs at least ${this.happy}`, {
        hint: known < this.happy
          ? `this client knows only ${known} server${known === 1 ? '' : 's'} and shares.happy = ${this.happy} needs at least ${this.happy}: check the introducer connection or add servers to private/servers.yaml, or lower [client] shares.happy`
          : `${known - servers.length} known server${known - servers.length === 1 ? ' is' : 's are'} not connected (see the welcome page for why); wait for them or lower [client] shares.happy`,
        details: { connected: servers.length, known, happy: this.happy },
      });
    }
    const shareSize = BigInt(this.plan.shareSize);
    const results: Array<Candidate | undefined> = new Array<Candidate | undefined>(servers.length);
    // Stragglers must not hold the upload up: once N servers have answered, the rest get a
    // short grace period and are then left out of this upload.
    const stragglers = new AbortController();
    const querySignal = AbortSignal.any([this.signal, stragglers.signal]);
    let answered = 0;
    let settle!: () => void;
    const enough = new Promise<void>((resolve) => (settle = resolve));
    let graceTimer: NodeJS.Timeout | undefined;
    const queries = servers.map(async (server, index): Promise<void> => {
      const api = server.api;
      try {
        if (api === undefined) return;
        const shares = await api.listImmutableShares(this.si, { signal: querySignal, timeoutMs: this.ctx.timing.queryTimeoutMs });
        const version = server.version;
        const writable = version === undefined || (version.maximumImmutableShareSize >= shareSize && version.availableSpace >= shareSize);
        results[index] = {
          server,
          existing: new Set(shares),
          writable,
          allocated: new Set(),
          lease: leaseSecretsFor(this.ctx.leaseSecret, this.si, server.tubId),
          uploadSecret: randomBytes(32),
          askedToAllocate: false,
          leaseRenewed: false,
          dead: false,
        };
      } catch (e) {
        if (stragglers.signal.aborted || this.signal.aborted) return;
        this.log.info(`${server.label} did not answer the share query:`, asTahoeError(e));
        this.ctx.broker.reportFailure(server, e);
      } finally {
        answered++;
        if (answered === servers.length) settle();
        else if (answered >= n && graceTimer === undefined) {
          graceTimer = setTimeout(settle, this.ctx.stragglerGraceMs ?? 1_000);
          graceTimer.unref?.();
        }
      }
    });
    await enough;
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    stragglers.abort(new TahoeError('Aborted', 'left behind: other servers answered first'));
    throwIfAborted(this.options.signal);
    // Snapshot now: a straggler that answers after the abort is not part of this upload.
    this.candidates = results.filter((c): c is Candidate => c !== undefined);
    void Promise.all(queries);
  }

  private async place(): Promise<Placement> {
    const { n } = this.plan.plan;
    for (let round = 0; round < 4 * n + 8; round++) {
      throwIfAborted(this.signal);
      const live = this.candidates.filter((c) => !c.dead);
      const placement = placeShares(live.map((c) => ({ id: c.server.id, writable: c.writable, existingShares: c.existing })), n);
      if (placement.happiness < this.happy) {
        const writable = live.filter((c) => c.writable).length;
        throw unhappy(placement.happiness, this.happy, `${live.length} server${live.length === 1 ? '' : 's'} answered, ${writable} accepted new shares`, live.length);
      }
      const byId = new Map(live.map((c) => [c.server.id, c]));
      // Buckets the new placement no longer wants are given back.
      const releases: Promise<void>[] = [];
      for (const c of live) {
        for (const shnum of c.allocated) if (placement.uploads.get(shnum) !== c.server.id) releases.push(this.abortBucket(c, shnum));
      }
      await Promise.all(releases);
      const requests = new Map<Candidate, number[]>();
      for (const [shnum, id] of placement.uploads) {
        const c = byId.get(id) as Candidate;
        if (!c.allocated.has(shnum)) requests.set(c, [...(requests.get(c) ?? []), shnum]);
      }
      const renewals = [...placement.reused.values()].map((id) => byId.get(id) as Candidate).filter((c) => !c.askedToAllocate && !c.leaseRenewed && !requests.has(c));
      if (requests.size === 0 && renewals.length === 0) return placement;
      await Promise.all([
        ...[...requests].map(([c, shares]) => this.allocate(c, shares)),
        ...[...new Set(renewals)].map((c) => this.renew(c)),
      ]);
    }
    throw new TahoeError('Internal', 'share placement did not settle', { hint: 'this is a bug in tahoe-ts: please report it with the log' });
  }

  private async allocate(c: Candidate, shares: number[]): Promise<void> {
    const api = c.server.api;
    if (api === undefined) {
      c.dead = true;
      return;
    }
    try {
      c.askedToAllocate = true;
      const answer = await api.allocateImmutable(this.si, {
        shareNumbers: shares,
        allocatedSize: this.plan.shareSize,
        renewSecret: c.lease.renew,
        cancelSecret: c.lease.cancel,
        uploadSecret: c.uploadSecret,
      }, { signal: this.signal, timeoutMs: this.ctx.timing.queryTimeoutMs });
      for (const shnum of answer.alreadyHave) if (shnum < this.plan.plan.n) c.existing.add(shnum);
      for (const shnum of answer.allocated) if (shares.includes(shnum)) c.allocated.add(shnum);
      const refused = shares.filter((s) => !c.allocated.has(s) && !c.existing.has(s));
      if (refused.length > 0) {
        // Full, read-only, or another upload of the same share is in progress there.
        c.writable = false;
        this.log.info(`${c.server.label} refused share(s) ${refused.join(',')}; placing them elsewhere`);
      }
    } catch (e) {
      throwIfAborted(this.options.signal);
      const error = asTahoeError(e);
      if (isNetworkFailure(error)) {
        c.dead = true;
        this.ctx.broker.reportFailure(c.server, error);
      } else {
        c.writable = false;
      }
      this.log.info(`allocation on ${c.server.label} failed; placing its shares elsewhere:`, error);
    }
  }

  private async renew(c: Candidate): Promise<void> {
    const api = c.server.api;
    try {
      if (api === undefined) throw new TahoeError('ServerUnreachable', `${c.server.label} disconnected`);
      await api.renewLease(this.si, c.lease.renew, c.lease.cancel, { signal: this.signal, timeoutMs: this.ctx.timing.queryTimeoutMs });
      c.leaseRenewed = true;
    } catch (e) {
      throwIfAborted(this.options.signal);
      const error = asTahoeError(e);
      // Without a lease the share would expire: do not count on it.
      this.log.info(`lease renewal on ${c.server.label} failed:`, error);
      if (isNetworkFailure(error)) {
        c.dead = true;
        this.ctx.broker.reportFailure(c.server, error);
      } else {
        c.existing.clear();
        c.writable = false;
      }
    }
  }

  // ------------------------------------------------------------------ streaming

  private startWriters(placement: Placement): void {
    const byId = new Map(this.candidates.map((c) => [c.server.id, c]));
    const batchBytes = this.ctx.batchBytes ?? DEFAULT_BATCH_BYTES;
    const maxQueued = this.ctx.maxQueuedBytesPerShare ?? batchBytes;
    const holdFrom = this.plan.layout.offsets.plaintextHashTree;
    this.totalBytes = placement.uploads.size * this.plan.shareSize;
    for (const [shnum, id] of placement.uploads) {
      const candidate = byId.get(id) as Candidate;
      const api = candidate.server.api;
      if (api === undefined) {
        candidate.dead = true;
        continue;
      }
      const writer = new ShareWriter({
        api,
        storageIndex: this.si,
        shareNumber: shnum,
        uploadSecret: candidate.uploadSecret,
        shareSize: this.plan.shareSize,
        holdFrom,
        batchBytes,
        maxQueuedBytes: Math.max(maxQueued, batchBytes),
        timeoutMs: this.ctx.timing.writeTimeoutMs,
        retries: 2,
        retryDelayMs: 500,
        signal: this.signal,
        isRetryable: (error) => RETRYABLE_WRITE_KINDS.has(error.kind) && !candidate.dead,
        onFailure: (error) => this.writerFailed(candidate, shnum, error),
        onAcked: (bytes) => {
          this.sentBytes += bytes;
          const done = this.totalBytes === 0 ? 0 : Math.floor((this.sentBytes / this.totalBytes) * this.plan.plan.size);
          this.report({ phase: 'uploading', bytesDone: Math.min(done, this.plan.plan.size), bytesTotal: this.plan.plan.size });
        },
      });
      this.writers.set(shnum, { writer, candidate });
    }
    this.checkLiveHappiness('at the start of the upload');
  }

  private writerFailed(c: Candidate, shnum: number, error: TahoeError): void {
    if (this.signal.aborted) return;
    if (isNetworkFailure(error) && !c.dead) {
      // The server is gone: every share it was taking is lost to this upload.
      c.dead = true;
      this.ctx.broker.reportFailure(c.server, error);
      this.log.warn(`${c.server.label} failed during the upload; dropping its share(s):`, error);
      for (const { writer, candidate } of this.writers.values()) if (candidate === c) writer.cancel(error);
    } else {
      this.log.warn(`share ${shnum} on ${c.server.label} failed:`, error);
    }
    try {
      this.checkLiveHappiness(`after losing ${c.server.label}`, error);
    } catch (e) {
      this.stop.abort(e);
    }
  }

  /** server id → shares it holds or is still receiving. `completedOnly` counts finished uploads only. */
  private liveMap(completedOnly = false): Map<string, Set<number>> {
    const map = new Map<string, Set<number>>();
    const add = (id: string, shnum: number): void => {
      const set = map.get(id) ?? new Set<number>();
      set.add(shnum);
      map.set(id, set);
    };
    for (const c of this.candidates) {
      if (c.dead || !(c.askedToAllocate || c.leaseRenewed)) continue;
      for (const shnum of c.existing) if (shnum < this.plan.plan.n) add(c.server.id, shnum);
    }
    for (const [shnum, { writer, candidate }] of this.writers) {
      if (candidate.dead || writer.state === 'failed') continue;
      if (completedOnly && writer.state !== 'complete') continue;
      add(candidate.server.id, shnum);
    }
    return map;
  }

  private liveServerCount(): number {
    return this.candidates.filter((c) => !c.dead).length;
  }

  private checkLiveHappiness(when: string, cause?: unknown): void {
    const happiness = happinessOf(this.liveMap());
    if (happiness < this.happy) throw unhappy(happiness, this.happy, `servers failed ${when}`, this.liveServerCount(), cause);
  }

  /** What to report when the encoder stopped: our own unhappiness beats the encoder's "aborted". */
  private stopReason(e: unknown): TahoeError {
    const reason: unknown = this.stop.signal.reason;
    if (this.stop.signal.aborted && isTahoeError(reason)) return reason;
    return asTahoeError(e);
  }
}
