/**
 * Immutable (CHK/LIT) download from the grid (spec: shared/specs/tahoe-formats.md §3,
 * §7; storage-protocol.md §5; upstream `immutable/downloader/`).
 *
 *   1. LIT: the data is in the cap.
 *   2. Locate: every connected server, in permuted order, is asked in parallel which
 *      shares it holds (`GET /immutable/:si/shares`). Once k distinct shares are known,
 *      stragglers get a short grace period and are then left behind — a stalling server
 *      cannot hold the download up; if the decoder later runs out of shares, their
 *      late answers are used for a second attempt.
 *   3. Decode: one `ShareReader` per (server, share) over `GET /immutable/:si/:sh` with
 *      `Range`, each read bounded by `readTimeoutMs`. Readers are ordered so the first k
 *      distinct shares sit on distinct servers (parallel fetches hit different servers).
 *      The formats room's verifying decoder fetches k blocks per segment in parallel,
 *      drops shares that fail, stall or fail verification and takes the next candidate;
 *      corrupt shares are reported to their server (`POST …/corrupt`). A server with a
 *      network failure fails its other readers at once instead of timing each out.
 *   4. Stream: plaintext comes out segment by segment (at most two segments in memory);
 *      a byte range reads only the segments that cover it.
 */
import { TahoeError, asTahoeError, isTahoeError, throwIfAborted } from '../errors.js';
import type { Logger } from '../log.js';
import { base32Encode } from '../crypto/base32.js';
import { chkStorageIndex, chkVerifierOf, formatCap, parseImmutableFileCap, type ChkCap } from '../caps/caps.js';
import { ChkFileReader, type ShareFailure, type ShareReader } from '../immutable/decoder.js';
import { isNetworkFailure, type StorageBroker, type StorageServer } from './broker.js';
import type { DownloadHandle, DownloadOptions, FileInfo, GridTiming, TransferProgress } from './client.js';

export interface DownloaderContext {
  broker: StorageBroker;
  timing: GridTiming;
  logger: Logger;
  /** How long to wait for other servers once k shares are located (default 1 s). */
  locateGraceMs?: number;
}

interface Located {
  server: StorageServer;
  shares: number[];
}

function checkRange(size: number, options: DownloadOptions): { offset: number; length: number } {
  const offset = options.offset ?? 0;
  const length = options.length ?? size - offset;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new TahoeError('BadInput', `byte range ${String(offset)}+${String(length)} is outside the ${size}-byte file`, {
      hint: size === 0 ? 'the file is empty' : `ask for bytes within 0..${size - 1}`,
      details: { offset: String(offset), length: String(length), size },
    });
  }
  return { offset, length };
}

export function fileInfo(capText: string): FileInfo {
  const cap = parseImmutableFileCap(capText);
  if (cap.type === 'LIT') return { size: cap.data.length, format: 'LIT' };
  const verifier = cap.type === 'CHK' ? chkVerifierOf(cap) : cap;
  return { size: cap.size, format: 'CHK', verifyCap: formatCap(verifier), storageIndex: base32Encode(chkStorageIndex(cap)) };
}

export async function downloadImmutable(ctx: DownloaderContext, capText: string, options: DownloadOptions = {}): Promise<DownloadHandle> {
  throwIfAborted(options.signal);
  const cap = parseImmutableFileCap(capText);
  if (cap.type === 'CHK-Verifier') {
    throw new TahoeError('CapInvalid', 'a verify cap (URI:CHK-Verifier:) can check shares but cannot decrypt the file', { hint: 'download with the read cap (URI:CHK:…)' });
  }
  if (cap.type === 'LIT') {
    const { offset, length } = checkRange(cap.data.length, options);
    const data = cap.data.subarray(offset, offset + length);
    options.onProgress?.({ phase: 'done', bytesDone: length, bytesTotal: length });
    return { size: cap.data.length, stream: (async function* () { if (data.length > 0) yield Buffer.from(data); })() };
  }
  const range = checkRange(cap.size, options);
  const download = new ChkDownload(ctx, cap, options);
  const file = await download.open();
  return { size: cap.size, stream: download.stream(file, range) };
}

class ChkDownload {
  private readonly si: Buffer;
  private readonly log: Logger;
  /** Servers that failed at the network level during this download. */
  private readonly failedServers = new Set<StorageServer>();
  private readonly advised = new Set<string>();
  private located: Located[] = [];
  private late?: Promise<Located[]>;

  constructor(private readonly ctx: DownloaderContext, private readonly cap: ChkCap, private readonly options: DownloadOptions) {
    this.si = chkStorageIndex(cap);
    this.log = ctx.logger.child('download');
  }

  async open(): Promise<ChkFileReader> {
    const servers = this.ctx.broker.permuted(this.si);
    if (servers.length === 0) {
      const known = this.ctx.broker.all().length;
      throw new TahoeError('NotEnoughShares', `no storage server is connected (${known} known), so no share of the file can be found`, {
        hint: known === 0 ? 'this client knows no servers: check the introducer connection or private/servers.yaml' : 'wait for servers to connect (see the welcome page for their errors)',
        details: { needed: this.cap.needed, usable: 0, connected: 0, known },
      });
    }
    await this.locate(servers);
    try {
      return await this.openWith(this.located);
    } catch (e) {
      if (!isTahoeError(e, 'NotEnoughShares') || this.late === undefined) throw e;
      // Servers that were slow to answer may hold the missing shares.
      const all = await this.late;
      throwIfAborted(this.options.signal);
      const known = new Set(this.located.map((l) => l.server));
      if (!all.some((l) => !known.has(l.server))) throw e;
      this.log.info('retrying with shares located on slower servers');
      this.located = all;
      return this.openWith(all);
    }
  }

  /** Ask servers for their shares; returns once k distinct shares are known (plus grace) or all answered. */
  private async locate(servers: StorageServer[]): Promise<void> {
    const results: Located[] = [];
    const errors: TahoeError[] = [];
    const grace = this.ctx.locateGraceMs ?? 1_000;
    let settle!: () => void;
    const enough = new Promise<void>((resolve) => (settle = resolve));
    let graceTimer: NodeJS.Timeout | undefined;
    let answered = 0;
    const distinct = (): number => new Set(results.flatMap((r) => r.shares)).size;
    const queries = servers.map(async (server) => {
      const api = server.api;
      try {
        if (api === undefined) throw new TahoeError('ServerUnreachable', `${server.label} disconnected`);
        const shares = (await api.listImmutableShares(this.si, { signal: this.options.signal, timeoutMs: this.ctx.timing.queryTimeoutMs }))
          .filter((s) => Number.isInteger(s) && s >= 0 && s < this.cap.total);
        if (shares.length > 0) results.push({ server, shares });
      } catch (e) {
        const error = asTahoeError(e, 'ServerUnreachable');
        errors.push(error);
        this.noteFailure(server, error);
      } finally {
        answered++;
        if (answered === servers.length) settle();
        else if (distinct() >= this.cap.needed && graceTimer === undefined) {
          graceTimer = setTimeout(settle, grace);
          graceTimer.unref?.();
        }
      }
    });
    const all = Promise.all(queries).then(() => [...results]);
    await enough;
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    throwIfAborted(this.options.signal);
    this.located = [...results];
    if (answered < servers.length) this.late = all;
    if (distinct() === 0 && answered === servers.length) {
      const failed = errors.length;
      throw new TahoeError('NotEnoughShares', `none of the ${servers.length} connected server${servers.length === 1 ? '' : 's'} holds a share of this file${failed > 0 ? ` (${failed} did not answer: ${errors[0].message})` : ''}`, {
        hint: failed > 0
          ? `${failed} server${failed === 1 ? '' : 's'} could not be asked; the file may be on them — retry when they are back (see the welcome page)`
          : 'the file is not on the servers this client is connected to: check that the cap is from this grid, or wait for more servers to connect',
        details: { needed: this.cap.needed, usable: 0, connected: servers.length, failed },
      });
    }
  }

  private noteFailure(server: StorageServer, error: TahoeError): void {
    if (isNetworkFailure(error)) {
      this.failedServers.add(server);
      this.ctx.broker.reportFailure(server, error);
    }
  }

  /** Readers ordered round-robin over servers (first share of every server, then second, …). */
  private readersFor(located: Located[]): ShareReader[] {
    const readers: ShareReader[] = [];
    const depth = Math.max(0, ...located.map((l) => l.shares.length));
    for (let i = 0; i < depth; i++) {
      for (const l of located) if (i < l.shares.length) readers.push(this.reader(l.server, l.shares[i]));
    }
    // Distinct share numbers first, so the decoder's first k picks are distinct shares on distinct servers.
    const seen = new Set<number>();
    const first: ShareReader[] = [];
    const rest: ShareReader[] = [];
    for (const r of readers) {
      (seen.has(r.shareNumber) ? rest : first).push(r);
      seen.add(r.shareNumber);
    }
    return [...first, ...rest];
  }

  private reader(server: StorageServer, shareNumber: number): ShareReader {
    const api = server.api;
    const timeoutMs = this.ctx.timing.readTimeoutMs;
    return {
      shareNumber,
      description: server.label,
      read: async (offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> => {
        if (this.failedServers.has(server) || api === undefined) {
          throw new TahoeError('ServerUnreachable', `${server.label} failed earlier in this download`, { hint: 'tahoe-ts reads the share from another server' });
        }
        // A controller with a cleared timer rather than AbortSignal.timeout/any: those keep a
        // 30-second timer and a WeakRef alive per block read, thousands during a large download.
        const limit = new AbortController();
        const timer = setTimeout(() => limit.abort(new TahoeError('Timeout', `read timed out after ${timeoutMs} ms`)), timeoutMs);
        const onAbort = (): void => limit.abort(signal?.reason);
        if (signal?.aborted === true) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
        try {
          return await api.readImmutable(this.si, shareNumber, offset, length, { signal: limit.signal, timeoutMs });
        } catch (e) {
          if (signal?.aborted === true) throw asTahoeError(signal.reason ?? e, 'Aborted');
          const timedOut = limit.signal.aborted || asTahoeError(e, 'ServerUnreachable').kind === 'Timeout';
          const error = timedOut
            ? new TahoeError('Timeout', `${server.label} did not deliver ${length} bytes of share ${shareNumber} within ${timeoutMs} ms`, {
              hint: 'the server is stalling; tahoe-ts reads another share',
              cause: e,
            })
            : asTahoeError(e, 'ServerUnreachable');
          // A stalling server is as good as gone for this download.
          if (error.kind === 'Timeout') this.failedServers.add(server);
          this.noteFailure(server, error);
          throw error;
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        }
      },
    };
  }

  private onShareFailure(failure: ShareFailure): void {
    const located = this.located.find((l) => l.server.label === failure.reader.description && l.shares.includes(failure.shareNumber));
    this.log.warn(`share ${failure.shareNumber} on ${failure.reader.description ?? '?'} dropped: ${failure.error.kind}: ${failure.error.message}`);
    if (failure.error.kind !== 'ShareCorrupt' || located === undefined) return;
    const key = `${located.server.id}/${failure.shareNumber}`;
    if (this.advised.has(key)) return;
    this.advised.add(key);
    const api = located.server.api;
    if (api === undefined) return;
    const reason = `tahoe-ts: ${failure.error.message}`.slice(0, 1000);
    api.adviseCorruptImmutable(this.si, failure.shareNumber, reason, { timeoutMs: this.ctx.timing.queryTimeoutMs }).catch((e: unknown) => {
      this.log.debug(`corruption advice to ${located.server.label} failed:`, asTahoeError(e));
    });
  }

  private openWith(located: Located[]): Promise<ChkFileReader> {
    return ChkFileReader.open(this.cap, this.readersFor(located), {
      signal: this.options.signal,
      onShareFailure: (f) => this.onShareFailure(f),
    });
  }

  async *stream(file: ChkFileReader, range: { offset: number; length: number }): AsyncGenerator<Uint8Array, void, undefined> {
    const report = (p: TransferProgress): void => {
      try {
        this.options.onProgress?.(p);
      } catch {
        // A broken progress display must not break the download.
      }
    };
    let done = 0;
    report({ phase: 'downloading', bytesDone: 0, bytesTotal: range.length });
    for await (const chunk of file.read({ offset: range.offset, length: range.length, signal: this.options.signal })) {
      done += chunk.length;
      report({ phase: 'downloading', bytesDone: done, bytesTotal: range.length });
      yield chunk;
    }
    report({ phase: 'done', bytesDone: done, bytesTotal: range.length });
  }
}
