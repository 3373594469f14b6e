/**
 * The HTTPS storage server ("Great Black Swamp"), interoperable with Tahoe-LAFS 1.20
 * clients.
 *
 * Spec: shared/specs/storage-protocol.md §2–§6 and §9 (where the written spec and the
 * real 1.20 server differ, this server behaves like the real one), tahoe-lafs
 * `docs/specifications/http-storage-node-protocol.rst`.
 *
 * Shape: one `https.Server` that never listens by itself; `acceptConnection(stream)`
 * feeds it any duplex (a TCP socket from `listen()`, a Tor onion-service stream, an I2P
 * stream). Request handling order follows 1.20: route (404/405) → `Authorization` (401)
 * → `X-Tahoe-Authorization` secrets (400) → the endpoint. Responses are chunked, errors
 * carry no Content-Type, and `GET /storage/v1/version` never waits for disk locks.
 * Secrets and the swissnum are never logged.
 */
import https from 'node:https';
import type tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { TahoeError, asTahoeError } from '../errors.js';
import { silentLogger } from '../log.js';
import type { Logger } from '../log.js';
import { acceptTlsStream, dropFailedHandshakes, listenTcp, tlsServerOptions } from '../net/tls.js';
import { readBodyWithin, requestChunks } from '../net/http-body.js';
import type { TcpListenerHandle, TlsServerIdentity } from '../net/tls.js';
import { CBOR_MIME_TYPE } from './cbor.js';
import {
  MAX_MUTABLE_SHARE_SIZE,
  buildAllocateResponse,
  buildReadTestWriteResponse,
  buildShareSet,
  buildVersionResponse,
  buildWriteResponse,
  parseAllocateRequest,
  parseCorruptRequest,
  parseReadTestWriteRequest,
} from './messages.js';
import { formatContentRange, parseContentRange, parseRangeHeader } from './ranges.js';
import { isStorageIndex, rejectionReason } from './share-store.js';
import type { RejectionReason, ShareReader, ShareStore } from './share-store.js';
import type { ShareKind } from './containers.js';
import { APPLICATION_VERSION } from './version.js';

export type SecretName = 'lease-renew-secret' | 'lease-cancel-secret' | 'upload-secret' | 'write-enabler';
const SECRET_NAMES: ReadonlySet<string> = new Set<SecretName>(['lease-renew-secret', 'lease-cancel-secret', 'upload-secret', 'write-enabler']);

/** Body limits of the 1.20 server, plus a bound for read-test-write (1.20: 2^48). */
export const BODY_LIMITS = {
  allocate: 8192,
  corrupt: 32_768,
  defaultCbor: 1024 * 1024,
} as const;

export interface StorageServerLimits {
  /** Time to receive the request headers (slowloris). Default 30 s. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request. Default 300 s. */
  requestTimeoutMs?: number;
  /** Close a connection silent this long while a request is in progress. Default 120 s. */
  idleTimeoutMs?: number;
  /** Close a connection with no request in progress after this long (1.20 clients pool connections). Default 65 s. */
  keepAliveTimeoutMs?: number;
  /** TLS handshake limit. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Largest read-test-write body accepted (1.20 nominally allows 2^48). Default 64 MiB. */
  maxReadTestWriteBody?: number;
}

export interface StorageServerOptions {
  store: ShareStore;
  identity: TlsServerIdentity;
  /** The storage swissnum (32 base32 characters): the secret path of the fURL/NURL. */
  swissnum: string;
  applicationVersion?: string;
  logger?: Logger;
  limits?: StorageServerLimits;
}

interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  secrets: readonly SecretName[];
  handler: (ctx: RequestContext) => Promise<void>;
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  si: string;
  shnum: number;
  secrets: Map<SecretName, Buffer>;
}

/** An HTTP answer decided by the handlers (status and an optional text body). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body = '',
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(`HTTP ${status}${body ? `: ${body}` : ''}`);
  }
}

const SI = '([a-z2-7]{26})';
const SH = '(0|[1-9][0-9]{0,14})';

const STATUS_FOR_REJECTION: Record<RejectionReason, number> = {
  'not-found': 404,
  'upload-secret-mismatch': 401,
  'write-enabler-mismatch': 401,
  conflict: 409,
  'already-complete': 405,
  // 1.20 fails such writes with an internal error as well
  'beyond-allocation': 500,
  'short-body': 400,
  'too-large': 400,
  'no-space': 507,
};

export class StorageServer {
  readonly https: https.Server;
  private readonly store: ShareStore;
  private readonly expectedAuthorization: Buffer;
  private readonly applicationVersion: string;
  private readonly log: Logger;
  private readonly limits: Required<StorageServerLimits>;
  private readonly routes: Route[];
  private readonly listeners: TcpListenerHandle[] = [];
  private readonly watched = new Map<tls.TLSSocket, { lastActivity: number; bytes: number; active: number }>();
  private readonly watchdog: NodeJS.Timeout;

  constructor(options: StorageServerOptions) {
    if (!/^[a-z2-7]{1,64}$/.test(options.swissnum)) {
      throw new TahoeError('ConfigInvalid', 'the storage swissnum must be lowercase base32', {
        hint: 'private/storage.furl is damaged: restore it from backup, or delete it to create a new one (clients then need the new announcement)',
      });
    }
    this.store = options.store;
    this.expectedAuthorization = Buffer.from(`Tahoe-LAFS ${Buffer.from(options.swissnum, 'ascii').toString('base64')}`, 'latin1');
    this.applicationVersion = options.applicationVersion ?? APPLICATION_VERSION;
    this.log = options.logger ?? silentLogger;
    this.limits = {
      headersTimeoutMs: options.limits?.headersTimeoutMs ?? 30_000,
      requestTimeoutMs: options.limits?.requestTimeoutMs ?? 300_000,
      idleTimeoutMs: options.limits?.idleTimeoutMs ?? 120_000,
      keepAliveTimeoutMs: options.limits?.keepAliveTimeoutMs ?? 65_000,
      handshakeTimeoutMs: options.limits?.handshakeTimeoutMs ?? 30_000,
      maxReadTestWriteBody: options.limits?.maxReadTestWriteBody ?? 64 * 1024 * 1024,
    };
    this.routes = this.buildRoutes();
    this.https = https.createServer(
      {
        ...tlsServerOptions(options.identity, { handshakeTimeoutMs: this.limits.handshakeTimeoutMs }),
        headersTimeout: this.limits.headersTimeoutMs,
        requestTimeout: this.limits.requestTimeoutMs,
        keepAliveTimeout: this.limits.keepAliveTimeoutMs,
        // Node checks header/request deadlines on this interval.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(this.limits.headersTimeoutMs / 4))),
        noDelay: true,
        // HTTP/1.1 wants a Host header; its value means nothing here, so do not insist.
        requireHostHeader: false,
      },
      (req, res) => void this.handle(req, res),
    );
    // Node starts enforcing headersTimeout/requestTimeout when the server emits
    // 'listening'; this server is fed streams and never listens itself.
    this.https.emit('listening');
    // Node's socket idle timeouts do not fire reliably on TLS sockets fed through
    // 'connection', so idle and keep-alive limits are enforced by a watchdog that looks
    // at the byte counters (it works the same for TCP, Tor and I2P streams).
    this.https.on('secureConnection', (socket: tls.TLSSocket) => {
      this.watched.set(socket, { lastActivity: Date.now(), bytes: -1, active: 0 });
      socket.once('close', () => this.watched.delete(socket));
    });
    const period = Math.max(25, Math.min(1000, Math.floor(Math.min(this.limits.idleTimeoutMs, this.limits.keepAliveTimeoutMs) / 4)));
    this.watchdog = setInterval(() => this.checkIdle(), period);
    this.watchdog.unref();
    dropFailedHandshakes(this.https, (err) => this.log.debug('TLS handshake failed:', err.message));
  }

  /** Serve HTTPS on an already-open stream (TCP socket, Tor or I2P stream). */
  acceptConnection(stream: Duplex): void {
    stream.on('error', () => undefined); // the TLS layer reports and closes
    acceptTlsStream(this.https, stream);
  }

  /** Convenience: a dedicated TCP port (port 0 picks a free one). */
  async listen(host: string, port: number): Promise<TcpListenerHandle> {
    const listener = await listenTcp(host, port, (socket) => this.acceptConnection(socket));
    this.listeners.push(listener);
    this.log.info(`storage server listening on ${host}:${listener.port}`);
    return listener;
  }

  private checkIdle(): void {
    const now = Date.now();
    for (const [socket, state] of this.watched) {
      const bytes = socket.bytesRead + socket.bytesWritten;
      if (bytes !== state.bytes) {
        state.bytes = bytes;
        state.lastActivity = now;
        continue;
      }
      const limit = state.active > 0 ? this.limits.idleTimeoutMs : this.limits.keepAliveTimeoutMs;
      if (now - state.lastActivity > limit) {
        this.log.debug(`closing a connection silent for ${now - state.lastActivity} ms`);
        this.watched.delete(socket);
        socket.destroy();
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
    this.https.closeAllConnections();
    await new Promise<void>((resolve) => this.https.close(() => resolve()));
  }

  // ---------------------------------------------------------------- routing

  private buildRoutes(): Route[] {
    const r = (name: string, method: string, path: string, secrets: readonly SecretName[], handler: Route['handler']): Route => ({
      name,
      method,
      pattern: new RegExp(`^${path}$`),
      secrets,
      handler,
    });
    return [
      r('version', 'GET', '/storage/v1/version', [], (c) => this.version(c)),
      r('renew-lease', 'PUT', `/storage/v1/lease/${SI}`, ['lease-renew-secret', 'lease-cancel-secret'], (c) => this.renewLease(c)),
      r('allocate', 'POST', `/storage/v1/immutable/${SI}`, ['lease-renew-secret', 'lease-cancel-secret', 'upload-secret'], (c) => this.allocate(c)),
      r('write', 'PATCH', `/storage/v1/immutable/${SI}/${SH}`, ['upload-secret'], (c) => this.write(c)),
      r('abort', 'PUT', `/storage/v1/immutable/${SI}/${SH}/abort`, ['upload-secret'], (c) => this.abort(c)),
      r('corrupt-immutable', 'POST', `/storage/v1/immutable/${SI}/${SH}/corrupt`, [], (c) => this.adviseCorrupt(c, 'immutable')),
      r('list-immutable', 'GET', `/storage/v1/immutable/${SI}/shares`, [], (c) => this.listShares(c, 'immutable')),
      r('read-immutable', 'GET', `/storage/v1/immutable/${SI}/${SH}`, [], (c) => this.read(c, 'immutable')),
      r('read-test-write', 'POST', `/storage/v1/mutable/${SI}/read-test-write`, ['write-enabler', 'lease-renew-secret', 'lease-cancel-secret'], (c) => this.readTestWrite(c)),
      r('list-mutable', 'GET', `/storage/v1/mutable/${SI}/shares`, [], (c) => this.listShares(c, 'mutable')),
      r('read-mutable', 'GET', `/storage/v1/mutable/${SI}/${SH}`, [], (c) => this.read(c, 'mutable')),
      r('corrupt-mutable', 'POST', `/storage/v1/mutable/${SI}/${SH}/corrupt`, [], (c) => this.adviseCorrupt(c, 'mutable')),
    ];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const watch = this.watched.get(req.socket as tls.TLSSocket);
    if (watch) {
      watch.active++;
      res.once('close', () => {
        watch.active--;
        watch.lastActivity = Date.now();
      });
    }
    let routeName = '?';
    res.on('error', () => undefined);
    try {
      const target = req.url ?? '/';
      const path = target.split('?', 1)[0];
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
      const candidates = this.routes.map((route) => ({ route, m: route.pattern.exec(path) })).filter((x) => x.m !== null);
      if (candidates.length === 0) throw new HttpError(404);
      const chosen = candidates.find((x) => x.route.method === method);
      if (chosen === undefined || chosen.m === null) {
        const allow = [...new Set(candidates.flatMap((x) => (x.route.method === 'GET' ? ['GET', 'HEAD'] : [x.route.method])))].join(', ');
        throw new HttpError(405, '', { Allow: allow });
      }
      routeName = chosen.route.name;
      const si = chosen.m[1] ?? '';
      // The route regex admits 26 base32 characters; a non-canonical last character is
      // not a storage index either (1.20's converter rejects it: 404).
      if (si !== '' && !isStorageIndex(si)) throw new HttpError(404);
      const shnum = chosen.m[2] === undefined ? -1 : Number(chosen.m[2]);
      this.checkAuthorization(req);
      const secrets = extractSecrets(req.rawHeaders, chosen.route.secrets);
      await chosen.route.handler({ req, res, si, shnum, secrets });
    } catch (e) {
      try {
        this.sendError(req, res, e);
      } catch (inner) {
        this.log.error('cannot send an error response:', inner instanceof Error ? inner : String(inner));
        res.destroy();
      }
    } finally {
      if (routeName !== 'version' || res.statusCode !== 200) {
        this.log.debug(`${req.method ?? '?'} ${routeName} -> ${res.statusCode} (${Date.now() - started} ms)`);
      }
    }
  }

  private checkAuthorization(req: IncomingMessage): void {
    const value = firstRawHeader(req.rawHeaders, 'authorization') ?? '';
    if (/[^\x20-\x7e]/.test(value)) throw new HttpError(400, 'Bad Authorization header');
    const presented = Buffer.from(value, 'latin1');
    const ok = presented.length === this.expectedAuthorization.length && timingSafeEqual(presented, this.expectedAuthorization);
    if (!ok) throw new HttpError(401, 'Wrong Authorization header');
  }

  private sendError(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      // The client went away (or was timed out) mid-request: nobody to answer.
      this.log.debug(`request abandoned by the client: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    let status: number;
    let body: string;
    let headers: Record<string, string> = {};
    if (e instanceof HttpError) {
      status = e.status;
      body = e.body;
      headers = e.extraHeaders;
    } else {
      const reason = rejectionReason(e);
      const err = asTahoeError(e);
      if (reason !== undefined) {
        status = STATUS_FOR_REJECTION[reason];
        // 1.20 sends these without a body; a short reason helps people reading logs
        body = reason === 'not-found' || reason === 'conflict' ? '' : err.message;
      } else if (err.kind === 'BadInput') {
        status = 400;
        body = err.message;
      } else {
        status = 500;
        body = 'internal server error';
        this.log.error(`storage request failed: ${err.message}`);
      }
    }
    if (res.headersSent) {
      // Too late for a status line: cut the response so the client notices.
      res.destroy();
      return;
    }
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    // An unread request body would be parsed as the next request: close instead.
    if (!req.complete) res.setHeader('Connection', 'close');
    if (body && status !== 204) res.write(body);
    res.end();
  }

  // ---------------------------------------------------------------- helpers

  /** 1.20 looks at the first Accept header only and needs its best match to be CBOR. */
  private requireCborAccept(req: IncomingMessage): void {
    const accept = firstRawHeader(req.rawHeaders, 'accept');
    if (accept === undefined) return;
    if (bestAccept(accept) !== CBOR_MIME_TYPE) throw new HttpError(406);
  }

  private async readCborBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const type = req.headers['content-type'];
    if (type !== undefined && type.split(';', 1)[0].trim().toLowerCase() !== CBOR_MIME_TYPE) throw new HttpError(415);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) throw new HttpError(413);
    const body = await readBodyWithin(req, limit);
    if (body === undefined) throw new HttpError(413);
    return body;
  }

  /** Send a CBOR body the way 1.20 does: Content-Type application/cbor, chunked. */
  private sendCbor(res: ServerResponse, status: number, body: Buffer): void {
    res.statusCode = status;
    res.setHeader('Content-Type', CBOR_MIME_TYPE);
    res.write(body);
    res.end();
  }

  private sendEmpty(res: ServerResponse, status: number): void {
    res.statusCode = status;
    res.end();
  }

  private leaseSecrets(c: RequestContext): { renewSecret: Buffer; cancelSecret: Buffer } {
    return { renewSecret: c.secrets.get('lease-renew-secret') as Buffer, cancelSecret: c.secrets.get('lease-cancel-secret') as Buffer };
  }

  // ---------------------------------------------------------------- endpoints

  private async version(c: RequestContext): Promise<void> {
    this.requireCborAccept(c.req);
    const available = await this.store.availableSpace();
    this.sendCbor(
      c.res,
      200,
      buildVersionResponse({
        maximumImmutableShareSize: available,
        maximumMutableShareSize: MAX_MUTABLE_SHARE_SIZE,
        availableSpace: available,
        applicationVersion: this.applicationVersion,
      }),
    );
  }

  private async renewLease(c: RequestContext): Promise<void> {
    const found = await this.store.addOrRenewLease(c.si, this.leaseSecrets(c));
    if (!found) throw new HttpError(404);
    this.sendEmpty(c.res, 204);
  }

  private async allocate(c: RequestContext): Promise<void> {
    this.requireCborAccept(c.req);
    const request = parseAllocateRequest(await this.readCborBody(c.req, BODY_LIMITS.allocate));
    const result = await this.store.allocate(c.si, {
      lease: this.leaseSecrets(c),
      uploadSecret: c.secrets.get('upload-secret') as Buffer,
      shareNumbers: request.shareNumbers,
      allocatedSize: request.allocatedSize,
    });
    this.sendCbor(c.res, 200, buildAllocateResponse(result));
  }

  private async write(c: RequestContext): Promise<void> {
    const range = parseContentRange(firstRawHeader(c.req.rawHeaders, 'content-range'));
    if (range === undefined) throw new HttpError(416);
    this.requireCborAccept(c.req);
    const result = await this.store.writeImmutable(c.si, c.shnum, c.secrets.get('upload-secret') as Buffer, range.first, range.last - range.first + 1, requestChunks(c.req));
    this.sendCbor(c.res, result.complete ? 201 : 200, buildWriteResponse(result.required));
  }

  private async abort(c: RequestContext): Promise<void> {
    await this.store.abortImmutable(c.si, c.shnum, c.secrets.get('upload-secret') as Buffer);
    this.sendEmpty(c.res, 200);
  }

  private async adviseCorrupt(c: RequestContext, kind: ShareKind): Promise<void> {
    const present = kind === 'immutable' ? await this.store.listImmutable(c.si) : await this.store.listMutable(c.si);
    if (!present.includes(c.shnum)) throw new HttpError(404);
    const reason = parseCorruptRequest(await this.readCborBody(c.req, BODY_LIMITS.corrupt));
    await this.store.adviseCorrupt(kind, c.si, c.shnum, reason);
    this.sendEmpty(c.res, 200);
  }

  private async listShares(c: RequestContext, kind: ShareKind): Promise<void> {
    this.requireCborAccept(c.req);
    const shares = kind === 'immutable' ? await this.store.listImmutable(c.si) : await this.store.listMutable(c.si);
    this.sendCbor(c.res, 200, buildShareSet(shares));
  }

  private async readTestWrite(c: RequestContext): Promise<void> {
    this.requireCborAccept(c.req);
    const request = parseReadTestWriteRequest(await this.readCborBody(c.req, this.limits.maxReadTestWriteBody));
    const result = await this.store.readTestWrite(
      c.si,
      { writeEnabler: c.secrets.get('write-enabler') as Buffer, lease: this.leaseSecrets(c) },
      request,
    );
    this.sendCbor(c.res, 200, buildReadTestWriteResponse(result));
  }

  private async read(c: RequestContext, kind: ShareKind): Promise<void> {
    const reader = await this.store.openShare(c.si, c.shnum, kind);
    if (reader === undefined) throw new HttpError(404);
    try {
      const rangeHeader = firstRawHeader(c.req.rawHeaders, 'range');
      let offset = 0;
      let end = reader.length;
      c.res.setHeader('Content-Type', 'application/octet-stream');
      if (rangeHeader === undefined) {
        c.res.statusCode = 200;
      } else {
        const range = parseRangeHeader(rangeHeader);
        if (range === undefined) throw new HttpError(416);
        offset = range.first;
        end = Math.min(range.last + 1, reader.length);
        // An empty range cannot be written as a Content-Range: 1.20 answers 204.
        if (offset >= end) {
          c.res.removeHeader('Content-Type');
          return this.sendEmpty(c.res, 204);
        }
        c.res.statusCode = 206;
        c.res.setHeader('Content-Range', formatContentRange(offset, end - 1));
      }
      await streamShare(c.res, reader, offset, end, c.req.method === 'HEAD');
    } finally {
      await reader.close();
    }
  }
}

/** Write share bytes `[offset, end)` in 256 KiB pieces, respecting backpressure. */
async function streamShare(res: ServerResponse, reader: ShareReader, offset: number, end: number, headOnly: boolean): Promise<void> {
  let position = offset;
  if (headOnly) position = end;
  while (position < end) {
    if (res.destroyed) return;
    const chunk = await reader.read(position, Math.min(256 * 1024, end - position));
    if (chunk.length === 0) break;
    position += chunk.length;
    if (!res.write(chunk)) await drainedOrClosed(res);
  }
  res.end();
}

/** Wait until a response can take more data (or is gone), leaving no listeners behind. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function firstRawHeader(raw: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].toLowerCase() === name) return raw[i + 1];
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parse the `X-Tahoe-Authorization` headers: one `<name> <base64>` per header line,
 * each name at most once, lease secrets exactly 32 bytes, no empty secret, and exactly
 * the endpoint's set of names. Anything else is a 400.
 */
export function extractSecrets(rawHeaders: string[], required: readonly SecretName[]): Map<SecretName, Buffer> {
  const found = new Map<SecretName, Buffer>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'x-tahoe-authorization') continue;
    const value = rawHeaders[i + 1].trim();
    const space = value.indexOf(' ');
    if (space < 0) throw new HttpError(400, 'Bad header value(s) in X-Tahoe-Authorization');
    const name = value.slice(0, space);
    const encoded = value.slice(space + 1).trim();
    if (!SECRET_NAMES.has(name) || !BASE64.test(encoded)) throw new HttpError(400, 'Bad header value(s) in X-Tahoe-Authorization');
    const secretName = name as SecretName;
    if (found.has(secretName)) throw new HttpError(400, `Secret ${name} sent more than once`);
    const bytes = Buffer.from(encoded, 'base64');
    if (bytes.length === 0) throw new HttpError(400, `Failed to decode secret ${name}`);
    if ((secretName === 'lease-renew-secret' || secretName === 'lease-cancel-secret') && bytes.length !== 32) {
      throw new HttpError(400, 'Lease secrets must be 32 bytes long');
    }
    found.set(secretName, bytes);
  }
  const wanted = new Set(required);
  if (found.size !== wanted.size || [...found.keys()].some((k) => !wanted.has(k))) {
    throw new HttpError(400, `Expected ${JSON.stringify([...wanted])} in X-Tahoe-Authorization headers, got ${JSON.stringify([...found.keys()])}`);
  }
  return found;
}

/** The media type with the highest quality in an Accept header (first wins ties). */
export function bestAccept(header: string): string | undefined {
  let best: string | undefined;
  let bestQ = -1;
  for (const part of header.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (Number.isFinite(q) && q > bestQ && q > 0) {
      best = type.toLowerCase();
      bestQ = q;
    }
  }
  return best;
}
