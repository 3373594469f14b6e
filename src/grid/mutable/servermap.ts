/**
 * The servermap of a mutable file: which server holds which share of which version
 * (spec: shared/specs/tahoe-formats.md §4, §7; storage-protocol.md §5; upstream
 * `docs/specifications/mutable.rst` "Server Map", `mutable/servermap.py`).
 *
 * Every connected server, in the permuted order of the storage index, is asked in
 * parallel for its shares (`GET /mutable/:si/shares`); each share's header, verification
 * key and signature are read with one ranged GET and checked against the cap (the pure
 * decoder's `inspectShare`). Valid shares are grouped by version (seqnum, root hash, …).
 *
 *   mode 'read'   returns once a version is recoverable and no other server has answered
 *                 for a short grace period (a stalled server cannot hold a read up, at
 *                 the price that a version only it holds may be missed);
 *   mode 'write'  waits for every server (each bounded by the query/read time limits):
 *                 a publisher must know every share it is about to replace, otherwise
 *                 its test vectors would miss a concurrent writer's shares.
 *
 * Shares that fail the checks are reported to their server (advise-corrupt) and kept as
 * "bad" records with the bytes that were read, so a publish replaces them. A server that
 * fails at the network level is left out of the map and reported to the broker.
 */
import { TahoeError, asTahoeError, throwIfAborted } from '../../errors.js';
import type { Logger } from '../../log.js';
import { inspectShare, groupVersions, bestRecoverableVersion, type InspectedShare, type MutableVersion, type ShareReader } from '../../mutable/decoder.js';
import type { MutableFileCap } from '../../mutable/caps.js';
import { SDMF_CHECKSTRING_LENGTH, MAX_MUTABLE_SHARES } from '../../mutable/layout.js';
import { isNetworkFailure, type StorageBroker, type StorageServer } from '../broker.js';
import type { GridTiming } from '../client.js';
import { mutableApiOf } from './storage.js';

export interface MutableGridContext {
  readonly broker: StorageBroker;
  readonly timing: GridTiming;
  readonly logger: Logger;
  /** `private/secret`: lease renew/cancel secrets are derived from it. */
  readonly leaseSecret: Uint8Array;
  /** Read mode: once a version is recoverable, how long a silence ends the wait for slower servers (default 1 s). */
  readonly graceMs?: number;
}

export type MapMode = 'read' | 'write';

/**
 * Reads one share of one server with ranged GETs, each bounded by the read time limit.
 * The first read at offset 0 is kept: later reads inside it (SDMF share data, MDMF hash
 * chains) cost no round trip, and a publish takes its test vector from it.
 */
export class GridShareReader implements ShareReader {
  readonly description: string;
  private head?: Buffer;
  /** The first read came back short: `head` is the whole share. */
  private headIsWhole = false;

  constructor(
    readonly server: StorageServer,
    private readonly storageIndex: Buffer,
    readonly shareNumber: number,
    private readonly ctx: MutableGridContext,
  ) {
    this.description = server.label;
  }

  /** The bytes read from offset 0, if any. */
  get prefix(): Buffer | undefined {
    return this.head;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const head = this.head;
    if (head !== undefined && (offset + length <= head.length || this.headIsWhole)) {
      return head.subarray(Math.min(offset, head.length), Math.min(offset + length, head.length));
    }
    const timeoutMs = this.ctx.timing.readTimeoutMs;
    const limit = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? limit : AbortSignal.any([limit, signal]);
    try {
      const got = Buffer.from(await mutableApiOf(this.server).readMutable(this.storageIndex, this.shareNumber, offset, length, { signal: combined, timeoutMs }));
      if (offset === 0 && (head === undefined || got.length > head.length)) {
        this.head = got;
        this.headIsWhole = got.length < length;
      }
      return got;
    } catch (e) {
      if (signal?.aborted === true) throw asTahoeError(signal.reason ?? e, 'Aborted');
      const error = limit.aborted
        ? new TahoeError('Timeout', `${this.server.label} did not deliver ${length} bytes of mutable share ${this.shareNumber} within ${timeoutMs} ms`, {
          hint: 'the server is stalling; tahoe-ts uses the other servers',
          cause: e,
        })
        : asTahoeError(e, 'ServerUnreachable');
      if (isNetworkFailure(error)) this.ctx.broker.reportFailure(this.server, error);
      throw error;
    }
  }
}

/** One share one server holds, as found while mapping. */
export interface ShareRecord {
  readonly server: StorageServer;
  readonly shareNumber: number;
  readonly reader: GridShareReader;
  /** Set when the share passed the header, key and signature checks. */
  readonly share?: InspectedShare;
  /** Set when it did not (`ShareCorrupt`). */
  readonly error?: TahoeError;
  /**
   * The share's first bytes as read: its checkstring, or for a bad share whatever of it
   * could be read. A publish tests against them, so it replaces exactly what it saw.
   */
  readonly seen?: Buffer;
}

export class Servermap {
  readonly versions: MutableVersion[];
  private readonly byShare = new Map<InspectedShare, ShareRecord>();

  constructor(
    readonly cap: MutableFileCap,
    readonly mode: MapMode,
    /** Every share found, valid or bad, from servers that answered. */
    readonly records: readonly ShareRecord[],
    /** Servers asked, in permuted order. */
    readonly queried: readonly StorageServer[],
    /** Servers that failed at the network level (left out of `records`). */
    readonly failedServers: ReadonlyMap<StorageServer, TahoeError>,
    /** False when a read-mode map stopped before every server had answered. */
    readonly complete: boolean,
  ) {
    for (const r of records) if (r.share !== undefined) this.byShare.set(r.share, r);
    this.versions = groupVersions(records.flatMap((r) => (r.share === undefined ? [] : [r.share])));
  }

  get storageIndex(): Buffer {
    return this.cap.storageIndex;
  }

  /** The version readers use: the recoverable one with the highest seqnum (then root hash). */
  get best(): MutableVersion | undefined {
    return bestRecoverableVersion(this.versions);
  }

  /** The highest seqnum of any valid share (a new version gets one more). */
  get highestSeqnum(): number {
    return this.versions.reduce((max, v) => Math.max(max, v.header.seqnum), 0);
  }

  /**
   * Versions newer than the best recoverable one that are not recoverable: another
   * writer is in the middle of a publish (or crashed in one).
   */
  get unfinishedVersions(): MutableVersion[] {
    const best = this.best;
    return this.versions.filter((v) => !v.recoverable && (best === undefined || v.header.seqnum > best.header.seqnum));
  }

  /**
   * True while another writer's publish seems to be in progress: a newer version that is
   * not recoverable yet, or the newest version still short of N shares beside shares of
   * an older one. A writer waits for it to settle rather than race it.
   */
  get settling(): boolean {
    if (this.unfinishedVersions.length > 0) return true;
    const best = this.best;
    if (best === undefined) return false;
    return best.shareNumbers.length < best.header.n && this.versions.some((v) => v.header.seqnum < best.header.seqnum);
  }

  /** Shares that failed verification. */
  get badShares(): ShareRecord[] {
    return this.records.filter((r) => r.error !== undefined);
  }

  recordOf(share: InspectedShare): ShareRecord | undefined {
    return this.byShare.get(share);
  }

  /** A version's shares ordered for parallel reads: the first of each share number, spread over servers. */
  orderedForRetrieval(version: MutableVersion): MutableVersion {
    const perServer = new Map<StorageServer, InspectedShare[]>();
    for (const share of version.shares) {
      const server = this.byShare.get(share)?.server;
      if (server === undefined) continue;
      const list = perServer.get(server);
      if (list === undefined) perServer.set(server, [share]);
      else list.push(share);
    }
    const order = this.queried.filter((s) => perServer.has(s));
    const roundRobin: InspectedShare[] = [];
    const depth = Math.max(0, ...[...perServer.values()].map((l) => l.length));
    for (let i = 0; i < depth; i++) {
      for (const s of order) {
        const share = (perServer.get(s) as InspectedShare[])[i];
        if (share !== undefined) roundRobin.push(share);
      }
    }
    const seen = new Set<number>();
    const first: InspectedShare[] = [];
    const rest: InspectedShare[] = [];
    for (const share of roundRobin) {
      (seen.has(share.shareNumber) ? rest : first).push(share);
      seen.add(share.shareNumber);
    }
    return { ...version, shares: [...first, ...rest] };
  }
}

function noServers(broker: StorageBroker): TahoeError {
  const known = broker.all().length;
  return new TahoeError('NotEnoughShares', `no storage server is connected (${known} known), so no share of the mutable file can be found`, {
    hint: known === 0 ? 'this client knows no servers: check the introducer connection or private/servers.yaml' : 'wait for servers to connect (see the welcome page for their errors)',
    details: { connected: 0, known },
  });
}

/** Tell a server one of its shares is bad (once per server and share; failures only logged). */
export function adviseCorrupt(ctx: MutableGridContext, server: StorageServer, storageIndex: Buffer, shareNumber: number, error: TahoeError, advised: Set<string>): void {
  const key = `${server.id}/${shareNumber}`;
  if (advised.has(key)) return;
  advised.add(key);
  ctx.logger.warn(`mutable share ${shareNumber} on ${server.label} is bad: ${error.message}`);
  let api;
  try {
    api = mutableApiOf(server);
  } catch {
    return;
  }
  const reason = `tahoe-ts: ${error.message}`.slice(0, 1000);
  api.adviseCorruptMutable(storageIndex, shareNumber, reason, { timeoutMs: ctx.timing.queryTimeoutMs }).catch((e: unknown) => {
    ctx.logger.debug(`corruption advice to ${server.label} failed:`, asTahoeError(e));
  });
}

export interface UpdateServermapOptions {
  readonly mode: MapMode;
  readonly signal?: AbortSignal;
  /** Shared with later steps of the same operation, so each bad share is reported once. */
  readonly advised?: Set<string>;
}

/** Ask the servers about the file's shares and check what they hold. */
export async function updateServermap(ctx: MutableGridContext, cap: MutableFileCap, options: UpdateServermapOptions): Promise<Servermap> {
  throwIfAborted(options.signal);
  const si = cap.storageIndex;
  const servers = ctx.broker.permuted(si);
  if (servers.length === 0) throw noServers(ctx.broker);
  const advised = options.advised ?? new Set<string>();
  const records: ShareRecord[] = [];
  const failed = new Map<StorageServer, TahoeError>();
  const log = ctx.logger.child('servermap');
  let answered = 0;
  let settle!: () => void;
  const enough = new Promise<void>((resolve) => (settle = resolve));
  let graceTimer: NodeJS.Timeout | undefined;

  const fail = (server: StorageServer, e: unknown): void => {
    const error = asTahoeError(e, 'ServerUnreachable');
    if (!failed.has(server)) failed.set(server, error);
    if (isNetworkFailure(error)) ctx.broker.reportFailure(server, error);
    log.info(`${server.label} left out of the map: ${error.kind}: ${error.message}`);
  };

  const queryServer = async (server: StorageServer): Promise<void> => {
    let shareNumbers: number[];
    try {
      shareNumbers = (await mutableApiOf(server).listMutableShares(si, { signal: options.signal, timeoutMs: ctx.timing.queryTimeoutMs }))
        .filter((n) => Number.isInteger(n) && n >= 0 && n < MAX_MUTABLE_SHARES);
    } catch (e) {
      fail(server, e);
      return;
    }
    const found: ShareRecord[] = [];
    let serverFailed = false;
    await Promise.all(shareNumbers.map(async (shareNumber) => {
      const reader = new GridShareReader(server, si, shareNumber, ctx);
      try {
        const share = await inspectShare(cap, reader, { signal: options.signal });
        found.push({ server, shareNumber, reader, share, seen: share.header.checkstring });
      } catch (e) {
        const error = asTahoeError(e, 'ShareCorrupt');
        if (error.kind === 'Aborted') return;
        if (error.kind === 'ShareCorrupt') {
          const prefix = reader.prefix;
          found.push({ server, shareNumber, reader, error, ...(prefix === undefined ? {} : { seen: prefix.subarray(0, SDMF_CHECKSTRING_LENGTH) }) });
          adviseCorrupt(ctx, server, si, shareNumber, error, advised);
        } else {
          serverFailed = true;
          fail(server, error);
        }
      }
    }));
    // A server that could not be read whole is left out: a publish must not guess what it holds.
    if (!serverFailed) records.push(...found);
  };

  const recoverable = (): boolean => groupVersions(records.flatMap((r) => (r.share === undefined ? [] : [r.share]))).some((v) => v.recoverable);
  const all = Promise.all(servers.map(async (server) => {
    try {
      await queryServer(server);
    } finally {
      answered++;
      if (answered === servers.length) {
        settle();
      } else if (options.mode === 'read' && recoverable()) {
        // Wait for a quiet spell: every answer restarts the grace period, so servers that
        // answer in a burst are all heard, and only a silent straggler is left behind.
        if (graceTimer !== undefined) clearTimeout(graceTimer);
        graceTimer = setTimeout(settle, ctx.graceMs ?? 1_000);
        graceTimer.unref?.();
      }
    }
  }));
  all.catch(() => undefined);
  const onAbort = (): void => settle();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await enough;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (graceTimer !== undefined) clearTimeout(graceTimer);
  }
  throwIfAborted(options.signal);
  // Later answers must not change the map the caller holds: take a snapshot.
  return new Servermap(cap, options.mode, [...records], servers, new Map(failed), answered === servers.length);
}
