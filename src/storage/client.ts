/**
 * A typed client for the HTTPS storage protocol, over whatever stream the transport
 * layer supplies (TCP now; Tor SOCKS and I2P SAM streams later — nothing here assumes
 * TCP).
 *
 * Spec: shared/specs/storage-protocol.md §2–§6 and §8 (the 1.20 client's behaviour:
 * `Authorization: Tahoe-LAFS <base64 swissnum>`, one `X-Tahoe-Authorization` header per
 * secret, `Accept: application/cbor`, reads with one closed `Range`, PATCH batches of
 * about 1 MB with `Content-Range: bytes a-b/*`, 30 MiB response cap, 10 000 B error
 * bodies, 60 s to the headers, 60 s of body silence, 5 s for the version probe).
 *
 * Every connection is TLS pinned to the NURL's SPKI hash *before* the first request byte
 * is written (net/tls.ts). Connections are kept alive in a small per-server pool: one
 * `http.Agent` per client whose `createConnection` dials through the supplied `connect`
 * function — never a global agent, so no socket is ever opened behind the router's back.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { TahoeError, asTahoeError, throwIfAborted } from '../errors.js';
import { base32Encode } from '../crypto/base32.js';
import { connectPinnedTls } from '../net/tls.js';
import { parseNurl } from '../net/hints.js';
import type { Nurl } from '../net/hints.js';
import { CBOR_MIME_TYPE } from './cbor.js';
import {
  asProtocolError,
  buildAllocateRequest,
  buildCorruptRequest,
  buildReadTestWriteRequest,
  parseAllocateResponse,
  parseReadTestWriteResponse,
  parseShareSet,
  parseVersionResponse,
  parseWriteResponse,
} from './messages.js';
import type { AllocateResponse, ReadTestWriteRequest, ReadTestWriteResponse, VersionInfo } from './messages.js';
import { formatContentRange, parseResponseContentRange } from './ranges.js';
import type { ByteRange } from './ranges.js';

export interface StorageClientTimeouts {
  /** Dial plus TLS handshake. Default 60 s. */
  connectMs?: number;
  /** From sending a request until its response headers arrive. Default 60 s. */
  headersMs?: number;
  /** Longest silence while a response body streams in. Default 60 s. */
  bodySilenceMs?: number;
  /** The whole version probe. Default 5 s. */
  versionMs?: number;
}

export interface StorageClientOptions {
  /** The NURL's 43-character SPKI hash: the only certificate accepted. */
  spkiHash: string;
  /** The storage swissnum (secret; never logged). */
  swissnum: string;
  /** Opens a fresh stream to the server; supplied by the transport layer. */
  connect: (signal?: AbortSignal) => Promise<Duplex>;
  /** Printable peer name for error messages (no secrets). */
  peer?: string;
  /** `Host` header value; the NURL's host:port. */
  hostHeader?: string;
  /** Pool size (1.20: 10 persistent connections per server). */
  maxSockets?: number;
  /** Drop pooled connections idle this long (below the server's keep-alive). Default 30 s. */
  idleSocketMs?: number;
  timeouts?: StorageClientTimeouts;
  /** Largest success body accepted (1.20: 30 MiB). */
  maxResponseBytes?: number;
  /** Largest error body read (1.20: 10 000 B). */
  maxErrorBodyBytes?: number;
  /** PATCH batch size for uploads (1.20: 1 000 000 bytes). */
  uploadBatchBytes?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface LeaseSecrets {
  renewSecret: Uint8Array;
  cancelSecret: Uint8Array;
}

export type StorageIndexArg = Uint8Array | string;

type Expect = 'cbor' | 'bytes' | 'empty';

interface RequestSpec {
  method: string;
  path: string;
  secrets?: Array<[string, Uint8Array]>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  expect: Expect;
  okStatuses: readonly number[];
  call?: CallOptions;
  /** Overall time limit (the version probe). */
  totalTimeoutMs?: number;
  /**
   * Safe to send again after a pooled connection died under it (GET requests always
   * are). The server may have acted on the first copy: only requests whose repetition
   * changes nothing and is answered the same qualify.
   */
  resendable?: true;
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Request bodies at least this large are written apart from the headers (see requestOnce). */
const SEPARATE_HEADERS_BYTES = 64 * 1024;

const DEFAULTS = {
  connectMs: 60_000,
  headersMs: 60_000,
  bodySilenceMs: 60_000,
  versionMs: 5_000,
  maxResponseBytes: 30 * 1024 * 1024,
  maxErrorBodyBytes: 10_000,
  uploadBatchBytes: 1_000_000,
  maxSockets: 10,
  idleSocketMs: 30_000,
};

/** An http.Agent whose connections are the caller's streams, TLS-pinned. */
class PinnedAgent extends http.Agent {
  constructor(
    private readonly dial: (signal?: AbortSignal) => Promise<Duplex>,
    private readonly spkiHash: string,
    private readonly connectMs: number,
    private readonly peer: string,
    agentOptions: http.AgentOptions,
  ) {
    super(agentOptions);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const done = callback ?? (() => undefined);
    const controller = new AbortController();
    const outer = options.signal;
    const onOuterAbort = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new TahoeError('Timeout', `connecting to ${this.peer} timed out after ${this.connectMs} ms`)), this.connectMs);
    (async () => {
      const stream = await this.dial(controller.signal);
      return connectPinnedTls(stream, { spkiHash: this.spkiHash, signal: controller.signal, timeoutMs: this.connectMs, peer: this.peer });
    })()
      .then(
        (socket) => done(null, socket),
        (err: unknown) => done(err instanceof Error ? err : new Error(String(err)), undefined as unknown as Duplex),
      )
      .finally(() => {
        clearTimeout(timer);
        outer?.removeEventListener('abort', onOuterAbort);
      });
    return undefined;
  }
}

function siText(si: StorageIndexArg): string {
  if (typeof si === 'string') {
    if (!/^[a-z2-7]{26}$/.test(si)) throw new TahoeError('BadInput', 'a storage index is 26 lowercase base32 characters', { hint: 'pass the 16-byte storage index or its base32 form' });
    return si;
  }
  if (si.length !== 16) throw new TahoeError('BadInput', `a storage index is 16 bytes, not ${si.length}`, { hint: 'pass the 16-byte storage index' });
  return base32Encode(si);
}

function shareNumberText(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new TahoeError('BadInput', `invalid share number ${n}`, { hint: 'share numbers are non-negative integers' });
  return String(n);
}

/**
 * One signal for a request: the caller's signal and the time limit. A plain controller
 * with a cleared timer and a removed listener, not `AbortSignal.any`/`AbortSignal.timeout`:
 * those leave a WeakRef on the caller's long-lived signal and an uncancellable timer per
 * request, thousands of live objects during a large transfer (more GC work, more heap).
 */
function combinedSignal(call: CallOptions | undefined, totalMs: number | undefined): { signal: AbortSignal | undefined; cleanup: () => void } {
  const outer = call?.signal;
  const limit = call?.timeoutMs ?? totalMs;
  if (limit === undefined && outer === undefined) return { signal: undefined, cleanup: () => undefined };
  // Even without a time limit the request gets its own signal: handing the caller's to
  // http.request would add one listener per request to it (see whenAborted).
  const controller = new AbortController();
  const timer = limit === undefined ? undefined : setTimeout(() => controller.abort(new TahoeError('Timeout', `the storage request took longer than ${limit} ms`)), limit);
  const onAbort = (): void => controller.abort(outer?.reason);
  let forget = (): void => undefined;
  if (outer !== undefined) {
    if (outer.aborted) onAbort();
    else forget = whenAborted(outer, onAbort);
  }
  const cleanup = (): void => {
    clearTimeout(timer);
    forget();
  };
  return { signal: controller.signal, cleanup };
}

const abortWaiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Run `fn` when `signal` aborts; returns the way to take it back. One listener per signal
 * however many requests wait on it: an upload or download asks every server at once under
 * the caller's one signal, and a listener each went past Node's limit of 10 on a grid of
 * ten or more servers (MaxListenersExceededWarning).
 */
function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  let waiters = abortWaiters.get(signal);
  if (waiters === undefined) {
    const created = new Set<() => void>();
    waiters = created;
    abortWaiters.set(signal, created);
    signal.addEventListener('abort', () => {
      abortWaiters.delete(signal);
      for (const waiter of [...created]) waiter();
    }, { once: true });
  }
  const set = waiters;
  set.add(fn);
  return () => void set.delete(fn);
}

export class StorageClient {
  private readonly agent: PinnedAgent;
  private readonly authorization: string;
  private readonly peer: string;
  private readonly hostHeader: string;
  private readonly timeouts: Required<StorageClientTimeouts>;
  private readonly maxResponseBytes: number;
  private readonly maxErrorBodyBytes: number;
  readonly uploadBatchBytes: number;

  constructor(options: StorageClientOptions) {
    this.peer = options.peer ?? 'the storage server';
    this.hostHeader = options.hostHeader ?? 'storage';
    this.timeouts = {
      connectMs: options.timeouts?.connectMs ?? DEFAULTS.connectMs,
      headersMs: options.timeouts?.headersMs ?? DEFAULTS.headersMs,
      bodySilenceMs: options.timeouts?.bodySilenceMs ?? DEFAULTS.bodySilenceMs,
      versionMs: options.timeouts?.versionMs ?? DEFAULTS.versionMs,
    };
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULTS.maxResponseBytes;
    this.maxErrorBodyBytes = options.maxErrorBodyBytes ?? DEFAULTS.maxErrorBodyBytes;
    this.uploadBatchBytes = options.uploadBatchBytes ?? DEFAULTS.uploadBatchBytes;
    this.authorization = `Tahoe-LAFS ${Buffer.from(options.swissnum, 'ascii').toString('base64')}`;
    this.agent = new PinnedAgent(options.connect, options.spkiHash, this.timeouts.connectMs, this.peer, {
      keepAlive: true,
      maxSockets: options.maxSockets ?? DEFAULTS.maxSockets,
      maxFreeSockets: options.maxSockets ?? DEFAULTS.maxSockets,
      timeout: options.idleSocketMs ?? DEFAULTS.idleSocketMs,
      scheduling: 'lifo',
    });
  }

  /** A client for a NURL (`pb://HASH@HOST:PORT/SWISSNUM#v=1`), dialling through `connect`. */
  static fromNurl(nurl: string | Nurl, connect: (signal?: AbortSignal) => Promise<Duplex>, options: Partial<StorageClientOptions> = {}): StorageClient {
    const parsed = typeof nurl === 'string' ? parseNurl(nurl) : nurl;
    const hostHeader = parsed.port === undefined ? parsed.host : `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;
    return new StorageClient({ hostHeader, ...options, spkiHash: parsed.spkiHash, swissnum: parsed.swissnum, connect });
  }

  /** Close pooled connections. */
  async close(): Promise<void> {
    this.agent.destroy();
  }

  // ---------------------------------------------------------------- transport

  private request(spec: RequestSpec): Promise<Response> {
    return this.requestOnce(spec).catch((e: unknown) => {
      // A pooled connection the server closed while idle fails the next request at once,
      // but so does one that died after the server processed the request. Only requests
      // that may run twice get one retry on a fresh connection: an allocation or a
      // read-test-write would be answered differently (the upload secret already holds
      // the shares: empty sets; the test now fails), an abort with 404, advice twice.
      if (e instanceof StaleConnection && (spec.method === 'GET' || spec.resendable === true)) return this.requestOnce(spec);
      throw e;
    });
  }

  private requestOnce(spec: RequestSpec): Promise<Response> {
    throwIfAborted(spec.call?.signal);
    const { signal, cleanup } = combinedSignal(spec.call, spec.totalTimeoutMs);
    const headers: http.OutgoingHttpHeaders = {
      Host: this.hostHeader,
      Authorization: this.authorization,
      ...(spec.expect === 'cbor' ? { Accept: CBOR_MIME_TYPE } : {}),
      ...spec.headers,
    };
    if (spec.body !== undefined) headers['Content-Length'] = String(spec.body.length);
    // One header line per secret: 1.20 rejects a comma-joined header.
    const rawHeaders: string[] = [];
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) rawHeaders.push(k, String(v));
    for (const [name, value] of spec.secrets ?? []) rawHeaders.push('X-Tahoe-Authorization', `${name} ${Buffer.from(value).toString('base64')}`);

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const req = http.request({
        agent: this.agent,
        method: spec.method,
        path: spec.path,
        host: 'storage.invalid',
        headers: rawHeaders,
        signal,
        setHost: false,
      });
      const finish = (err: unknown, value?: Response) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        cleanup();
        if (err !== undefined) {
          req.destroy();
          reject(this.classify(err, signal, req.reusedSocket));
        } else resolve(value as Response);
      };
      const arm = (ms: number, what: string) => {
        if (timer) clearTimeout(timer);
        // A truncated error body keeps streaming after we settled: no new timer for it.
        if (settled) return;
        timer = setTimeout(() => finish(new TahoeError('Timeout', `${this.peer} sent no ${what} for ${ms} ms`, {
          hint: 'the server is slow or stalled; over Tor or I2P raise the storage timeouts',
        })), ms);
      };
      arm(this.timeouts.headersMs, 'response');
      req.on('error', (e) => finish(e));
      req.on('response', (res) => {
        const ok = spec.okStatuses.includes(res.statusCode ?? 0);
        const limit = ok ? this.maxResponseBytes : this.maxErrorBodyBytes;
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (ok && Number.isFinite(declared) && declared > limit) {
          return finish(new TahoeError('ProtocolError', `${this.peer} announced a ${declared}-byte response, more than the ${limit}-byte limit`));
        }
        const parts: Buffer[] = [];
        let size = 0;
        // A successful body of announced length is copied into its final buffer as it
        // arrives: the TLS layer's small chunks then die young instead of being held (and
        // promoted by the GC) until the end, and no concatenation follows.
        const known = ok && Number.isSafeInteger(declared) && declared > 0 ? declared : undefined;
        let whole: Buffer | undefined;
        arm(this.timeouts.bodySilenceMs, 'data');
        res.on('data', (chunk: Buffer) => {
          arm(this.timeouts.bodySilenceMs, 'data');
          if (size + chunk.length > limit) {
            if (!ok) {
              // Enough of an error message: keep what fits and stop reading.
              parts.push(chunk.subarray(0, limit - size));
              size = limit;
              return finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
            }
            return finish(new TahoeError('ProtocolError', `${this.peer} sent a response larger than ${limit} bytes`, {
              hint: 'the server misbehaves or the request asked for too much at once',
            }));
          }
          if (known !== undefined && size + chunk.length <= known) {
            // Allocated at the first byte, not at the headers: a server that announces a
            // large body and then stalls costs nothing.
            whole ??= Buffer.allocUnsafe(known);
            chunk.copy(whole, size);
          } else {
            if (whole !== undefined) {
              // More than announced (the HTTP parser should not let this happen): keep it all.
              parts.push(whole.subarray(0, size));
              whole = undefined;
            }
            parts.push(chunk);
          }
          size += chunk.length;
        });
        res.on('error', (e) => finish(e));
        res.on('aborted', () => finish(new TahoeError('ServerUnreachable', `${this.peer} closed the connection mid-response`)));
        res.on('end', () => {
          const body = whole !== undefined ? whole.subarray(0, size) : parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      const body = spec.body;
      if (body === undefined) req.end();
      else if (body.length < SEPARATE_HEADERS_BYTES) req.end(body);
      else {
        // Header and body written together (before the request has its socket, or corked
        // by end()) reach the TLS layer as one gathered write, which copies both into a
        // new buffer first — a copy of every PATCH. Once the socket is assigned, headers
        // flushed alone and then the body go out as two writes and the body is encrypted
        // straight from our buffer.
        req.once('socket', () => {
          if (settled || req.destroyed) return;
          req.flushHeaders();
          req.end(body);
        });
      }
    }).then((response) => this.check(spec, response));
  }

  private classify(err: unknown, signal: AbortSignal | undefined, reusedSocket: boolean): TahoeError {
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      if (reason instanceof TahoeError) return reason;
      return new TahoeError('Aborted', `request to ${this.peer} aborted`, { cause: reason });
    }
    if (err instanceof TahoeError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/.test(String((err as Error).message)))) {
      return new StaleConnection(`pooled connection to ${this.peer} was closed`);
    }
    if (code === 'HPE_INVALID_CONSTANT' || (typeof code === 'string' && code.startsWith('HPE_'))) {
      return new TahoeError('ProtocolError', `${this.peer} sent an invalid HTTP response (${code})`, { cause: err });
    }
    return asTahoeError(err, 'ServerUnreachable', 'the server may be offline; tahoe-ts retries with backoff');
  }

  private check(spec: RequestSpec, r: Response): Response {
    if (!spec.okStatuses.includes(r.status)) {
      const text = r.body.toString('utf8').replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
      throw new TahoeError('ServerRejected', `${this.peer} answered ${spec.method} ${routeName(spec.path)} with HTTP ${r.status}${text ? `: ${text}` : ''}`, {
        details: { status: r.status, body: text || undefined },
        hint: rejectionHint(r.status),
      });
    }
    if (spec.expect === 'cbor') {
      const type = (r.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
      if (type !== CBOR_MIME_TYPE) {
        throw new TahoeError('ProtocolError', `${this.peer} answered with Content-Type "${type}", not ${CBOR_MIME_TYPE}`);
      }
    }
    return r;
  }

  private parse<T>(fn: (b: Uint8Array) => T, body: Uint8Array, what: string): T {
    try {
      return fn(body);
    } catch (e) {
      throw asProtocolError(e, what);
    }
  }

  // ---------------------------------------------------------------- generic

  /** `GET /storage/v1/version`, with the probe's short overall timeout. */
  async version(call?: CallOptions): Promise<VersionInfo> {
    const r = await this.request({ method: 'GET', path: '/storage/v1/version', expect: 'cbor', okStatuses: [200], call, totalTimeoutMs: this.timeouts.versionMs });
    return this.parse(parseVersionResponse, r.body, 'version response');
  }

  /** `PUT /storage/v1/lease/:si`: add or renew a lease on every share of the storage index. */
  async renewLease(si: StorageIndexArg, renewSecret: Uint8Array, cancelSecret: Uint8Array, call?: CallOptions): Promise<void> {
    await this.request({
      method: 'PUT',
      path: `/storage/v1/lease/${siText(si)}`,
      secrets: [['lease-renew-secret', renewSecret], ['lease-cancel-secret', cancelSecret]],
      expect: 'empty',
      okStatuses: [204],
      call,
      // Renewing twice renews the same lease (same renew secret).
      resendable: true,
    });
  }

  // ---------------------------------------------------------------- immutable

  async allocateImmutable(
    si: StorageIndexArg,
    request: { shareNumbers: readonly number[]; allocatedSize: number | bigint; renewSecret: Uint8Array; cancelSecret: Uint8Array; uploadSecret: Uint8Array },
    call?: CallOptions,
  ): Promise<AllocateResponse> {
    const r = await this.request({
      method: 'POST',
      path: `/storage/v1/immutable/${siText(si)}`,
      secrets: [['lease-renew-secret', request.renewSecret], ['lease-cancel-secret', request.cancelSecret], ['upload-secret', request.uploadSecret]],
      headers: { 'Content-Type': CBOR_MIME_TYPE },
      body: buildAllocateRequest({ shareNumbers: request.shareNumbers, allocatedSize: request.allocatedSize }),
      expect: 'cbor',
      okStatuses: [200],
      call,
    });
    return this.parse(parseAllocateResponse, r.body, 'allocate response');
  }

  /** One PATCH: `data` at `offset`. `complete` once the server has the whole share (201). */
  async writeImmutable(si: StorageIndexArg, shareNumber: number, uploadSecret: Uint8Array, offset: number, data: Uint8Array, call?: CallOptions): Promise<{ complete: boolean; required: ByteRange[] }> {
    if (data.length === 0) throw new TahoeError('BadInput', 'cannot write an empty range', { hint: 'a Content-Range cannot describe zero bytes; skip empty writes' });
    const r = await this.request({
      method: 'PATCH',
      path: `/storage/v1/immutable/${siText(si)}/${shareNumberText(shareNumber)}`,
      secrets: [['upload-secret', uploadSecret]],
      headers: { 'Content-Range': formatContentRange(offset, offset + data.length - 1), 'Content-Type': 'application/octet-stream' },
      body: data,
      expect: 'cbor',
      okStatuses: [200, 201],
      call,
      // Identical bytes over a written range are accepted again (storage-protocol.md §5).
      // Only if the first copy completed the share does the second get a 404.
      resendable: true,
    });
    const required = this.parse(parseWriteResponse, r.body, 'write response');
    return { complete: r.status === 201, required };
  }

  /**
   * Upload a whole share from a buffer or a stream, in PATCH batches of about
   * `uploadBatchBytes` (memory holds one batch, whatever the share size).
   */
  async uploadImmutableShare(
    si: StorageIndexArg,
    shareNumber: number,
    uploadSecret: Uint8Array,
    source: Uint8Array | AsyncIterable<Uint8Array>,
    call?: CallOptions & { offset?: number },
  ): Promise<{ complete: boolean; bytes: number }> {
    let offset = call?.offset ?? 0;
    const start = offset;
    let complete = false;
    const batch = this.uploadBatchBytes;
    if (source instanceof Uint8Array) {
      for (let i = 0; i < source.length; i += batch) {
        const piece = source.subarray(i, Math.min(source.length, i + batch));
        complete = (await this.writeImmutable(si, shareNumber, uploadSecret, offset, piece, call)).complete;
        offset += piece.length;
      }
      return { complete, bytes: offset - start };
    }
    let pending: Buffer[] = [];
    let pendingSize = 0;
    const flush = async () => {
      if (pendingSize === 0) return;
      const piece = Buffer.concat(pending, pendingSize);
      pending = [];
      pendingSize = 0;
      complete = (await this.writeImmutable(si, shareNumber, uploadSecret, offset, piece, call)).complete;
      offset += piece.length;
    };
    for await (const chunk of source) {
      let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      while (pendingSize + c.length >= batch) {
        const take = batch - pendingSize;
        pending.push(c.subarray(0, take));
        pendingSize += take;
        c = c.subarray(take);
        await flush();
      }
      if (c.length > 0) {
        pending.push(Buffer.from(c)); // copy: the producer may reuse its buffer
        pendingSize += c.length;
      }
    }
    await flush();
    return { complete, bytes: offset - start };
  }

  async abortImmutable(si: StorageIndexArg, shareNumber: number, uploadSecret: Uint8Array, call?: CallOptions): Promise<void> {
    await this.request({
      method: 'PUT',
      path: `/storage/v1/immutable/${siText(si)}/${shareNumberText(shareNumber)}/abort`,
      secrets: [['upload-secret', uploadSecret]],
      expect: 'empty',
      okStatuses: [200],
      call,
    });
  }

  async listImmutableShares(si: StorageIndexArg, call?: CallOptions): Promise<number[]> {
    const r = await this.request({ method: 'GET', path: `/storage/v1/immutable/${siText(si)}/shares`, expect: 'cbor', okStatuses: [200], call });
    return this.parse((b) => parseShareSet(b), r.body, 'share list');
  }

  /**
   * Read `length` bytes at `offset`; fewer only where the share ends. Large reads are
   * split so no single response exceeds the response cap.
   */
  async readImmutable(si: StorageIndexArg, shareNumber: number, offset: number, length: number, call?: CallOptions): Promise<Buffer> {
    return this.readShare('immutable', si, shareNumber, offset, length, call);
  }

  async adviseCorruptImmutable(si: StorageIndexArg, shareNumber: number, reason: string, call?: CallOptions): Promise<void> {
    await this.adviseCorrupt('immutable', si, shareNumber, reason, call);
  }

  // ---------------------------------------------------------------- mutable

  async readTestWrite(
    si: StorageIndexArg,
    secrets: { writeEnabler: Uint8Array; renewSecret: Uint8Array; cancelSecret: Uint8Array },
    request: ReadTestWriteRequest,
    call?: CallOptions,
  ): Promise<ReadTestWriteResponse> {
    const r = await this.request({
      method: 'POST',
      path: `/storage/v1/mutable/${siText(si)}/read-test-write`,
      secrets: [['write-enabler', secrets.writeEnabler], ['lease-renew-secret', secrets.renewSecret], ['lease-cancel-secret', secrets.cancelSecret]],
      headers: { 'Content-Type': CBOR_MIME_TYPE },
      body: buildReadTestWriteRequest(request),
      expect: 'cbor',
      okStatuses: [200],
      call,
    });
    return this.parse(parseReadTestWriteResponse, r.body, 'read-test-write response');
  }

  async listMutableShares(si: StorageIndexArg, call?: CallOptions): Promise<number[]> {
    const r = await this.request({ method: 'GET', path: `/storage/v1/mutable/${siText(si)}/shares`, expect: 'cbor', okStatuses: [200], call });
    return this.parse((b) => parseShareSet(b), r.body, 'share list');
  }

  async readMutable(si: StorageIndexArg, shareNumber: number, offset: number, length: number, call?: CallOptions): Promise<Buffer> {
    return this.readShare('mutable', si, shareNumber, offset, length, call);
  }

  async adviseCorruptMutable(si: StorageIndexArg, shareNumber: number, reason: string, call?: CallOptions): Promise<void> {
    await this.adviseCorrupt('mutable', si, shareNumber, reason, call);
  }

  // ---------------------------------------------------------------- shared

  private async adviseCorrupt(kind: 'immutable' | 'mutable', si: StorageIndexArg, shareNumber: number, reason: string, call?: CallOptions): Promise<void> {
    await this.request({
      method: 'POST',
      path: `/storage/v1/${kind}/${siText(si)}/${shareNumberText(shareNumber)}/corrupt`,
      headers: { 'Content-Type': CBOR_MIME_TYPE },
      body: buildCorruptRequest(reason),
      expect: 'empty',
      okStatuses: [200],
      call,
    });
  }

  private async readShare(kind: 'immutable' | 'mutable', si: StorageIndexArg, shareNumber: number, offset: number, length: number, call?: CallOptions): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new TahoeError('BadInput', `invalid read range offset ${offset} length ${length}`, { hint: 'offsets and lengths are non-negative integers' });
    }
    const path = `/storage/v1/${kind}/${siText(si)}/${shareNumberText(shareNumber)}`;
    const parts: Buffer[] = [];
    let position = offset;
    let remaining = length;
    while (remaining > 0) {
      const want = Math.min(remaining, this.maxResponseBytes);
      const r = await this.request({
        method: 'GET',
        path,
        headers: { Range: `bytes=${position}-${position + want - 1}` },
        expect: 'bytes',
        okStatuses: [200, 204, 206],
        call,
      });
      if (r.status === 204) break; // the range starts at or after the end of the share
      let got: Buffer;
      if (r.status === 206) {
        const type = (r.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
        const cr = parseResponseContentRange(r.headers['content-range']);
        if (type !== 'application/octet-stream' || cr === undefined || cr.first !== position || cr.last - cr.first + 1 !== r.body.length || r.body.length > want) {
          throw new TahoeError('ProtocolError', `${this.peer} sent a malformed partial response (Content-Range ${String(r.headers['content-range'])}, ${r.body.length} bytes)`);
        }
        got = r.body;
      } else {
        // 200: the whole share despite our Range; take our slice of it
        got = r.body.subarray(position, position + want);
      }
      parts.push(got);
      position += got.length;
      remaining -= got.length;
      if (got.length < want) break; // the share ended
    }
    // Buffer.concat copies even a single part: a read that fits one response is returned as it is.
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}

/** Internal: a request failed because a pooled connection had gone stale. */
class StaleConnection extends TahoeError {
  constructor(message: string) {
    super('ServerUnreachable', message);
  }
}

function routeName(path: string): string {
  // Paths hold storage indexes, which are not secret, but keep messages short.
  return path.replace(/[a-z2-7]{26}/, ':si');
}

function rejectionHint(status: number): string {
  switch (status) {
    case 401:
      return 'the server refused our credentials: the NURL\'s swissnum, the upload secret or the write enabler is wrong';
    case 404:
      return 'the server has no such share or upload (an idle upload is aborted after 30 minutes)';
    case 405:
      return 'the share is already complete';
    case 409:
      return 'the server already holds different bytes for this range';
    case 413:
      return 'the request body is too large for the server';
    case 507:
      return 'the server is out of space';
    default:
      return status >= 500 ? 'the server failed; it may be overloaded or out of space' : 'the server refused the request';
  }
}
