/**
 * Mutable files on the grid: create, read (whole or a byte range), overwrite, MDMF
 * in-place updates and read-modify-write with conflict retries (spec:
 * shared/specs/tahoe-formats.md §4, §6; storage-protocol.md §5; upstream
 * `docs/specifications/mutable.rst`, `mutable/filenode.py`, `servermap.py`,
 * `retrieve.py`, `publish.py`).
 *
 *   const files = createMutableGridClient({ broker, leaseSecret, encoding: { k: 3, n: 10 } });
 *   const { cap } = await files.createMutableFile(bytes, { format: 'MDMF' });
 *   const { data } = await files.readMutableFile(cap, { offset, length });
 *   await files.overwriteMutableFile(cap, newBytes);          // WriteConflict if someone else wrote first
 *   await files.updateMutableFile(cap, offset, patch);        // MDMF: only the touched segments
 *   await files.modifyMutableFile(cap, (old) => change(old)); // re-applied after conflicts
 *
 * The pure work (keys, encoding, verification, write plans) is in src/mutable/; this
 * module maps the servers (servermap.ts), fetches verified blocks through ranged reads,
 * and publishes (publish.ts). Mutable files are held in memory, as in Tahoe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TahoeError, asTahoeError, isTahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { base32Encode } from '../../crypto/base32.js';
import {
  formatMutableCap, parseMutableCap, readCapOf, requireReadCap, requireWriteCap, verifyCapOf,
  type MutableFileCap, type MutableFormat, type MutableReadCap, type MutableWriteCap,
} from '../../mutable/caps.js';
import { checkMutableParameters, encodeMutableVersion } from '../../mutable/encoder.js';
import { generateSigningKey, keyMaterialOf, type MutableSigningKey } from '../../mutable/keys.js';
import { mutableWriteCap } from '../../mutable/caps.js';
import { retrieveVersion, type MutableVersion, type ShareFailure } from '../../mutable/decoder.js';
import { signingKeyFromVersion } from '../../mutable/filenode.js';
import { planMdmfUpdate, planPublish, type MdmfUpdatePlan } from '../../mutable/update.js';
import { DEFAULT_TIMING, type StorageBroker } from '../broker.js';
import type { GridTiming } from '../client.js';
import { adviseCorrupt, GridShareReader, updateServermap, type MapMode, type MutableGridContext, type Servermap } from './servermap.js';
import { publishShares, type PublishProblem, type PublishResult } from './publish.js';

export interface MutableGridClientOptions {
  readonly broker: StorageBroker;
  /** `private/secret` (32 bytes): lease secrets per file and server come from it. */
  readonly leaseSecret: Uint8Array;
  /** `[client] shares.needed` / `shares.total` for new mutable files (N ≤ 255). */
  readonly encoding: { readonly k: number; readonly n: number };
  /** `[client] mutable.format` (default SDMF, as Tahoe). */
  readonly defaultFormat?: MutableFormat;
  /** Defaults: the broker's timings. */
  readonly timing?: Partial<GridTiming>;
  readonly logger?: Logger;
  /** Reads: once a version is recoverable, how long a silence ends the wait for slower servers (default 1 s). */
  readonly graceMs?: number;
  /** Read-modify-write: attempts before a conflict is reported (default 6). */
  readonly maxAttempts?: number;
  /** First retry delay after a conflict (default 100 ms; doubles, with jitter). */
  readonly retryDelayMs?: number;
  /**
   * How long a write waits while the servers show another writer's publish in progress
   * (a newer version not yet recoverable, or the newest version still beside older
   * shares) before writing anyway, and a read that finds no recoverable version during
   * such a publish waits before failing (default 10 s).
   */
  readonly unfinishedPatienceMs?: number;
  /** Jitter source in [0, 1) (tests make retries deterministic). */
  readonly random?: () => number;
}

/** Facts from the cap alone. */
export interface MutableFileInfo {
  readonly format: MutableFormat;
  readonly access: 'write' | 'read' | 'verify';
  /** base32 */
  readonly storageIndex: string;
  readonly writeCap?: string;
  readonly readCap?: string;
  readonly verifyCap: string;
}

export interface MutableStat {
  readonly size: number;
  readonly seqnum: number;
  readonly format: MutableFormat;
  readonly k: number;
  readonly n: number;
  readonly segmentSize: number;
  /** Distinct share numbers of the current version that were found. */
  readonly sharesFound: number;
  /** Versions seen on the servers (more than one: an update is in progress, or repair is due). */
  readonly versions: number;
}

export interface MutableReadResult extends MutableStat {
  /** The requested range of the current version. */
  readonly data: Buffer;
}

export interface MutableWriteResult extends PublishResult {
  /** The file's write cap (unchanged by writes). Secret: never log it. */
  readonly cap: string;
  readonly seqnum: number;
  readonly size: number;
  readonly format: MutableFormat;
}

export interface CreatedMutableFile extends MutableWriteResult {
  readonly readCap: string;
  readonly verifyCap: string;
  /** base32 */
  readonly storageIndex: string;
}

export interface ModifyContext {
  /** Seqnum of the version being modified. */
  readonly seqnum: number;
  /** 1 for the first try, more after conflicts. */
  readonly attempt: number;
}

/** Return the new contents, or undefined to leave the file as it is. Throwing stops the modification. */
export type MutableModifier = (current: Buffer, context: ModifyContext) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

export interface ModifyResult extends MutableWriteResult {
  /** False when the modifier returned undefined or the same bytes: nothing was written. */
  readonly changed: boolean;
  readonly attempts: number;
}

export interface UpdateResult extends MutableWriteResult {
  /** True when only the touched MDMF segments were sent; false after a whole re-publish. */
  readonly inPlace: boolean;
}

export interface SignalOptions {
  readonly signal?: AbortSignal;
}

export interface MutableGridClient {
  createMutableFile(data: Uint8Array, options?: SignalOptions & { format?: MutableFormat; k?: number; n?: number; key?: MutableSigningKey }): Promise<CreatedMutableFile>;
  readMutableFile(cap: string, options?: SignalOptions & { offset?: number; length?: number }): Promise<MutableReadResult>;
  statMutableFile(cap: string, options?: SignalOptions): Promise<MutableStat>;
  overwriteMutableFile(cap: string, data: Uint8Array, options?: SignalOptions): Promise<MutableWriteResult>;
  updateMutableFile(cap: string, offset: number, data: Uint8Array, options?: SignalOptions): Promise<UpdateResult>;
  modifyMutableFile(cap: string, modifier: MutableModifier, options?: SignalOptions & { maxAttempts?: number }): Promise<ModifyResult>;
  mutableFileInfo(cap: string): MutableFileInfo;
  /** The servermap itself (checks, tests, status pages). */
  mapMutableFile(cap: string, options?: SignalOptions & { mode?: MapMode }): Promise<Servermap>;
}

const KEY_CACHE_SIZE = 256;

export function createMutableGridClient(options: MutableGridClientOptions): MutableGridClient {
  return new GridMutableFiles(options);
}

class GridMutableFiles implements MutableGridClient {
  private readonly ctx: MutableGridContext;
  private readonly log: Logger;
  private readonly keys = new Map<string, MutableSigningKey>();
  private readonly random: () => number;

  constructor(private readonly options: MutableGridClientOptions) {
    // k and N are checked when a file is created: a grid configured with N = 256 (fine for
    // immutable files) can still read and change mutable files made elsewhere.
    if (options.leaseSecret.length === 0) {
      throw new TahoeError('NodeDirInvalid', 'the lease secret is empty', { hint: 'private/secret must hold a base32 secret; delete an empty one to have a new one created' });
    }
    this.log = (options.logger ?? silentLogger).child('mutable');
    this.ctx = {
      broker: options.broker,
      timing: { ...DEFAULT_TIMING, ...options.broker.timings, ...options.timing },
      logger: this.log,
      leaseSecret: options.leaseSecret,
      ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
    };
    this.random = options.random ?? Math.random;
  }

  mutableFileInfo(capText: string): MutableFileInfo {
    const cap = parseMutableCap(capText);
    return {
      format: cap.format,
      access: cap.access,
      storageIndex: base32Encode(cap.storageIndex),
      ...(cap.access === 'write' ? { writeCap: formatMutableCap(cap) } : {}),
      ...(cap.access !== 'verify' ? { readCap: formatMutableCap(readCapOf(cap)) } : {}),
      verifyCap: formatMutableCap(verifyCapOf(cap)),
    };
  }

  async mapMutableFile(capText: string, options: SignalOptions & { mode?: MapMode } = {}): Promise<Servermap> {
    return updateServermap(this.ctx, parseMutableCap(capText), { mode: options.mode ?? 'write', ...(options.signal === undefined ? {} : { signal: options.signal }) });
  }

  // ------------------------------------------------------------------ create

  async createMutableFile(data: Uint8Array, options: SignalOptions & { format?: MutableFormat; k?: number; n?: number; key?: MutableSigningKey } = {}): Promise<CreatedMutableFile> {
    throwIfAborted(options.signal);
    const format = options.format ?? this.options.defaultFormat ?? 'SDMF';
    const k = options.k ?? this.options.encoding.k;
    const n = options.n ?? this.options.encoding.n;
    checkMutableParameters({ format, k, n });
    const key = options.key ?? await generateSigningKey();
    const material = keyMaterialOf(key);
    const cap = mutableWriteCap(format, material.writekey, material.fingerprint);
    const version = encodeMutableVersion(cap, key, data, { format, k, n, seqnum: 1 });
    // A fresh key means a fresh storage index: nothing to map, nobody to race with.
    const published = await publishShares(this.ctx, {
      cap, k, n, newCheckstring: version.checkstring, canPlaceNew: true,
      planFor: (shareNumber, seen) => planPublish(version, new Map([[shareNumber, seen]]), [shareNumber])[0],
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    this.rememberKey(cap, key);
    const text = formatMutableCap(cap);
    return {
      ...published, cap: text, seqnum: 1, size: data.length, format,
      readCap: formatMutableCap(readCapOf(cap)), verifyCap: formatMutableCap(verifyCapOf(cap)), storageIndex: base32Encode(cap.storageIndex),
    };
  }

  // ------------------------------------------------------------------ read

  async statMutableFile(capText: string, options: SignalOptions = {}): Promise<MutableStat> {
    const cap = parseMutableCap(capText);
    const map = await this.settledMap(cap, 'read', options.signal, new Set());
    return statOf(map, requireBest(map));
  }

  async readMutableFile(capText: string, options: SignalOptions & { offset?: number; length?: number } = {}): Promise<MutableReadResult> {
    const cap = requireReadCap(parseMutableCap(capText));
    const advised = new Set<string>();
    const map = await this.settledMap(cap, 'read', options.signal, advised);
    const best = requireBest(map);
    const size = best.header.dataLength;
    const offset = options.offset ?? 0;
    const length = options.length ?? size - offset;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new TahoeError('BadInput', `byte range ${String(offset)}+${String(length)} is outside the ${size}-byte mutable file`, {
        hint: size === 0 ? 'the file is empty' : `ask for bytes within 0..${size - 1}`,
        details: { offset: String(offset), length: String(length), size },
      });
    }
    const data = await this.retrieve(cap, map, best, { offset, length, advised, signal: options.signal });
    return { ...statOf(map, best), data };
  }

  // ------------------------------------------------------------------ write

  async overwriteMutableFile(capText: string, data: Uint8Array, options: SignalOptions = {}): Promise<MutableWriteResult> {
    const cap = requireWriteCap(parseMutableCap(capText), 'overwrite a mutable file');
    const map = await this.settledMap(cap, 'write', options.signal, new Set());
    const base = baseVersion(map);
    const key = await this.signingKey(cap, base, options.signal);
    return this.publishWhole(cap, key, map, data, base, options.signal);
  }

  async updateMutableFile(capText: string, offset: number, data: Uint8Array, options: SignalOptions = {}): Promise<UpdateResult> {
    const cap = requireWriteCap(parseMutableCap(capText), 'update a mutable file');
    const advised = new Set<string>();
    const map = await this.settledMap(cap, 'write', options.signal, advised);
    const best = requireBest(map);
    const size = best.header.dataLength;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw new TahoeError('BadInput', `update offset ${String(offset)} is outside 0..${size}`, { hint: 'a mutable file can be written inside or appended to at its end, but not past it' });
    }
    const key = await this.signingKey(cap, best, options.signal);
    if (best.header.format === 'MDMF' && inPlacePossible(map, best)) {
      let plan: MdmfUpdatePlan | undefined;
      try {
        plan = await planMdmfUpdate({
          cap, key, version: map.orderedForRetrieval(best), offset, data, seqnum: map.highestSeqnum + 1,
          onShareFailure: (f) => this.onShareFailure(map, f, advised),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      } catch (e) {
        if (!isTahoeError(e, 'ShareCorrupt') && !isTahoeError(e, 'NotEnoughShares')) throw e;
        this.log.info(`in-place update not possible (${e.message}); publishing the whole file`);
      }
      if (plan !== undefined) {
        const chosen = plan;
        if (chosen.plans.length === 0) {
          return { cap: capText.trim(), seqnum: best.header.seqnum, size, format: cap.format, sharesPlaced: 0, servers: 0, placements: [], problems: [], inPlace: true };
        }
        const byNumber = new Map(chosen.plans.map((p) => [p.shareNumber, p] as const));
        const published = await publishShares(this.ctx, {
          cap, k: best.header.k, n: best.header.n, newCheckstring: chosen.checkstring, canPlaceNew: false, map,
          planFor: (shareNumber) => {
            const p = byNumber.get(shareNumber);
            if (p === undefined) throw new TahoeError('Internal', `no update plan for share ${shareNumber}`);
            return p;
          },
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        return { ...published, cap: formatMutableCap(cap), seqnum: chosen.seqnum, size: chosen.dataLength, format: cap.format, inPlace: true };
      }
    }
    const current = await this.retrieve(cap, map, best, { advised, signal: options.signal });
    const patched = Buffer.alloc(Math.max(current.length, offset + data.length));
    current.copy(patched);
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(patched, offset);
    return { ...(await this.publishWhole(cap, key, map, patched, best, options.signal)), inPlace: false };
  }

  async modifyMutableFile(capText: string, modifier: MutableModifier, options: SignalOptions & { maxAttempts?: number } = {}): Promise<ModifyResult> {
    const cap = requireWriteCap(parseMutableCap(capText), 'modify a mutable file');
    const maxAttempts = options.maxAttempts ?? this.options.maxAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      const advised = new Set<string>();
      const map = await this.settledMap(cap, 'write', options.signal, advised);
      const best = requireBest(map);
      const current = await this.retrieve(cap, map, best, { advised, signal: options.signal });
      const next = await modifier(current, { seqnum: best.header.seqnum, attempt });
      throwIfAborted(options.signal);
      if (next === undefined || Buffer.from(next.buffer, next.byteOffset, next.byteLength).equals(current)) {
        return { cap: formatMutableCap(cap), seqnum: best.header.seqnum, size: current.length, format: cap.format, sharesPlaced: 0, servers: 0, placements: [], problems: [], changed: false, attempts: attempt };
      }
      try {
        const key = await this.signingKey(cap, best, options.signal);
        const written = await this.publishWhole(cap, key, map, next, best, options.signal);
        return { ...written, changed: true, attempts: attempt };
      } catch (e) {
        if (!isTahoeError(e, 'WriteConflict')) throw e;
        if (attempt >= maxAttempts) {
          throw new TahoeError('WriteConflict', `gave up after ${attempt} attempts: other clients kept changing this mutable file (${e.message})`, {
            hint: 'another client is writing this file or directory continuously; try again later',
            details: { ...e.details, attempts: attempt },
            cause: e,
          });
        }
        this.log.info(`conflict on attempt ${attempt}; reading the file again`);
        await this.backoff(attempt, options.signal);
      }
    }
  }

  // ------------------------------------------------------------------ internals

  /**
   * A map to work from, mapped again while another writer's publish is half-way (up to
   * `unfinishedPatienceMs`; what stays unsettled that long, a writer that crashed, is used
   * as it is).
   *
   * A writer waits whenever a publish seems in progress, so that its write builds on that
   * publish's result instead of racing it. A reader takes the newest recoverable version
   * and never waits for a newer one; it waits only when no version is recoverable while a
   * publish is in progress (with N close to k, nothing old is left whole half-way through
   * replacing every share), where failing would be wrong a moment later.
   */
  private async settledMap(cap: MutableFileCap, mode: 'read' | 'write', signal: AbortSignal | undefined, advised: Set<string>): Promise<Servermap> {
    const patience = this.options.unfinishedPatienceMs ?? 10_000;
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const map = await updateServermap(this.ctx, cap, { mode, advised, ...(signal === undefined ? {} : { signal }) });
      if (!map.settling || (mode === 'read' && map.best !== undefined)) return map;
      const waited = performance.now() - started;
      if (waited >= patience) {
        this.log.warn(`the file's shares have not settled on one version after ${Math.round(waited)} ms; going on with what is there`);
        return map;
      }
      await this.backoff(attempt, signal, patience - waited);
    }
  }

  private async backoff(attempt: number, signal: AbortSignal | undefined, atMostMs = Infinity): Promise<void> {
    const base = this.options.retryDelayMs ?? 100;
    const delay = Math.min(atMostMs, base * 2 ** Math.min(attempt - 1, 6) * (0.5 + this.random()));
    try {
      await sleep(delay, undefined, signal === undefined ? {} : { signal });
    } catch (e) {
      throw asTahoeError(signal?.reason ?? e, 'Aborted');
    }
  }

  private rememberKey(cap: MutableWriteCap, key: MutableSigningKey): void {
    const id = cap.storageIndex.toString('hex');
    this.keys.delete(id);
    this.keys.set(id, key);
    if (this.keys.size > KEY_CACHE_SIZE) this.keys.delete(this.keys.keys().next().value as string);
  }

  private async signingKey(cap: MutableWriteCap, version: MutableVersion, signal: AbortSignal | undefined): Promise<MutableSigningKey> {
    const cached = this.keys.get(cap.storageIndex.toString('hex'));
    if (cached !== undefined) return cached;
    const key = await signingKeyFromVersion(cap, version, signal);
    this.rememberKey(cap, key);
    return key;
  }

  private onShareFailure(map: Servermap, failure: ShareFailure, advised: Set<string>): void {
    const reader = failure.reader;
    if (!(reader instanceof GridShareReader)) return;
    this.log.warn(`mutable share ${failure.shareNumber} on ${reader.server.label} dropped: ${failure.error.kind}: ${failure.error.message}`);
    if (failure.error.kind === 'ShareCorrupt') adviseCorrupt(this.ctx, reader.server, map.storageIndex, failure.shareNumber, failure.error, advised);
  }

  private async retrieve(
    cap: MutableWriteCap | MutableReadCap,
    map: Servermap,
    version: MutableVersion,
    options: { offset?: number; length?: number; advised: Set<string>; signal?: AbortSignal | undefined },
  ): Promise<Buffer> {
    return retrieveVersion(cap, map.orderedForRetrieval(version), {
      ...(options.offset === undefined ? {} : { offset: options.offset }),
      ...(options.length === undefined ? {} : { length: options.length }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onShareFailure: (f) => this.onShareFailure(map, f, options.advised),
    });
  }

  /** Encode `plaintext` as the next version (seqnum = highest seen + 1, the base's k and N) and publish it. */
  private async publishWhole(cap: MutableWriteCap, key: MutableSigningKey, map: Servermap, plaintext: Uint8Array, base: MutableVersion, signal: AbortSignal | undefined): Promise<MutableWriteResult> {
    const { k, n } = base.header;
    const seqnum = map.highestSeqnum + 1;
    const version = encodeMutableVersion(cap, key, plaintext, { format: cap.format, k, n, seqnum });
    const published = await publishShares(this.ctx, {
      cap, k, n, newCheckstring: version.checkstring, canPlaceNew: true, map,
      planFor: (shareNumber, seen) => planPublish(version, new Map([[shareNumber, seen]]), [shareNumber])[0],
      ...(signal === undefined ? {} : { signal }),
    });
    return { ...published, cap: formatMutableCap(cap), seqnum, size: plaintext.length, format: cap.format };
  }
}

function requireBest(map: Servermap): MutableVersion {
  const best = map.best;
  if (best !== undefined) return best;
  throw notRecoverable(map);
}

/** The version a whole overwrite builds on: the best recoverable, else the newest seen (its key and k/N). */
function baseVersion(map: Servermap): MutableVersion {
  const base = map.best ?? map.versions[0];
  if (base !== undefined) return base;
  throw notRecoverable(map);
}

function notRecoverable(map: Servermap): TahoeError {
  const asked = map.queried.length;
  const failed = map.failedServers.size;
  const bad = map.badShares.length;
  if (map.versions.length === 0) {
    return new TahoeError('NotEnoughShares', `no valid share of this mutable file was found on the ${asked} connected server${asked === 1 ? '' : 's'}${failed > 0 ? ` (${failed} did not answer)` : ''}${bad > 0 ? ` (${bad} bad share${bad === 1 ? '' : 's'})` : ''}`, {
      hint: failed > 0
        ? 'the file may be on the servers that did not answer: retry when they are back (see the welcome page)'
        : 'check that the cap belongs to this grid, or wait for more servers to connect',
      details: { connected: asked, failed, bad },
    });
  }
  const v = map.versions[0];
  return new TahoeError('NotEnoughShares', `no version of this mutable file is recoverable: the newest (seqnum ${v.header.seqnum}) has ${v.shareNumbers.length} of the ${v.header.k} shares needed`, {
    hint: 'more servers need to be reachable; if they stay gone the file must be repaired from the shares left',
    details: { seqnum: v.header.seqnum, have: v.shareNumbers.length, need: v.header.k, versions: map.versions.length, failed },
  });
}

function statOf(map: Servermap, best: MutableVersion): MutableStat {
  const h = best.header;
  return { size: h.dataLength, seqnum: h.seqnum, format: h.format, k: h.k, n: h.n, segmentSize: h.segmentSize, sharesFound: best.shareNumbers.length, versions: map.versions.length };
}

/**
 * An in-place MDMF update patches shares of one version: possible only when every share
 * the map found belongs to that version and all N share numbers are there. Otherwise the
 * whole file is published again (which also repairs it).
 */
function inPlacePossible(map: Servermap, best: MutableVersion): boolean {
  if (best.shareNumbers.length !== best.header.n) return false;
  return map.records.every((r) => r.share !== undefined && r.share.versionId === best.id);
}

export type { PublishProblem, PublishResult };
