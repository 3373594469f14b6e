/**
 * A client for a node's own web gateway, as Tahoe-LAFS's CLI works: `tahoe-ts put` and
 * `get` read the gateway's address from `node.url` in the node directory and speak the
 * web-API (docs/frontends/webapi.rst: `PUT /uri`, `GET /uri/$FILECAP`,
 * `GET /status/?t=json`).
 *
 * Loopback only: the gateway is local by design, so a `node.url` naming another machine
 * is refused, and every socket is opened through net/socket.ts `openSocket` (purpose
 * `local`) behind a gate that admits numeric loopback addresses only. No HTTP agent: a
 * pooled socket could be reused where the gate was not consulted.
 *
 * Gateway errors come back as the TahoeError the gateway reported (its `kind:` and
 * `hint:` lines), so the CLI prints the same hint and picks the exit code for the kind.
 */
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { TahoeError, ERROR_KINDS, type ErrorKind } from '../errors.js';
import { openSocket, type EgressGate } from '../net/socket.js';
import { isLoopbackAddress } from '../net/hints/host.js';
import { readNodeFile } from '../config/keys.js';
import type { OperationJson } from './operations.js';

/** Admits numeric loopback addresses only, and never resolves a name. */
export const LOOPBACK_GATE: EgressGate = {
  allowNameResolution: false,
  check(endpoint) {
    if ('path' in endpoint || isLoopbackAddress(endpoint.host)) return;
    throw new TahoeError('PrivacyViolation', `refusing to reach the web gateway at ${endpoint.host}: it is not on this machine`, {
      hint: 'the CLI talks to a node on this machine only; node.url must name 127.0.0.1 or ::1',
    });
  },
};

const NOT_RUNNING_HINT = (dir: string) => `start the node with \`tahoe-ts run -d ${dir}\` (or pass -d for another node directory)`;

/** The gateway URL a running node wrote to `node.url`. */
export async function readNodeUrl(nodeDirectory: string): Promise<URL> {
  let text: string | undefined;
  try {
    text = await readNodeFile(nodeDirectory, 'node.url');
  } catch (e) {
    throw new TahoeError('NodeNotRunning', `cannot read node.url in ${nodeDirectory}`, { cause: e, hint: NOT_RUNNING_HINT(nodeDirectory) });
  }
  if (text === undefined) {
    throw new TahoeError('NodeNotRunning', `no node.url in ${nodeDirectory}: the node has not been started (or it has no web gateway)`, {
      hint: `${NOT_RUNNING_HINT(nodeDirectory)}; its tahoe.cfg needs [node] web.port (e.g. tcp:3456:interface=127.0.0.1)`,
    });
  }
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new TahoeError('NodeDirInvalid', `node.url in ${nodeDirectory} does not hold a URL`, { hint: `delete node.url and ${NOT_RUNNING_HINT(nodeDirectory)}` });
  }
  if (url.protocol !== 'http:') {
    throw new TahoeError('NodeDirInvalid', `node.url in ${nodeDirectory} is not an http:// URL`, { hint: 'the web gateway speaks plain HTTP on loopback; delete node.url and restart the node' });
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host !== 'localhost' && !isLoopbackAddress(host)) {
    throw new TahoeError('PrivacyViolation', `node.url in ${nodeDirectory} names ${host}, not this machine`, {
      hint: 'the CLI only talks to a gateway on 127.0.0.1 or ::1: set [node] web.port = tcp:3456:interface=127.0.0.1 and restart the node',
    });
  }
  return url;
}

export interface GatewayReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The response body, to be consumed (or destroyed) by the caller. */
  body: IncomingMessage;
}

export interface GatewayRequestOptions {
  headers?: Record<string, string | number>;
  /** Streamed request body; writes wait for the socket (backpressure). */
  body?: AsyncIterable<Uint8Array> | Uint8Array;
  signal?: AbortSignal;
  /** Called with the request body bytes written so far. */
  onSent?: (bytes: number) => void;
}

export class GatewayClient {
  private readonly host: string;
  private readonly port: number;

  constructor(readonly base: URL, private readonly nodeDirectory?: string) {
    const host = base.hostname.replace(/^\[|\]$/g, '');
    this.host = host === 'localhost' ? '127.0.0.1' : host;
    this.port = base.port === '' ? 80 : Number(base.port);
  }

  static async forNodeDirectory(nodeDirectory: string): Promise<GatewayClient> {
    return new GatewayClient(await readNodeUrl(nodeDirectory), nodeDirectory);
  }

  /** One request on its own connection; resolves when the response headers arrive. */
  request(method: string, pathAndQuery: string, options: GatewayRequestOptions = {}): Promise<GatewayReply> {
    return new Promise<GatewayReply>((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        reject(this.describeFailure(e));
      };
      const req = http.request({
        method,
        host: this.host,
        port: this.port,
        path: pathAndQuery,
        headers: { Host: `${this.base.host}`, ...options.headers },
        signal: options.signal,
        createConnection: (_opts: unknown, done: (err: Error | null, socket?: Socket) => void) => {
          openSocket({ host: this.host, port: this.port }, { gate: LOOPBACK_GATE, purpose: 'local', signal: options.signal, timeoutMs: 10_000 }).then(
            (socket) => done(null, socket),
            (e: unknown) => done(e as Error),
          );
          return undefined;
        },
      } as http.RequestOptions, (res) => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      req.on('error', fail);
      const body = options.body;
      if (body === undefined) {
        req.end();
        return;
      }
      if (body instanceof Uint8Array) {
        req.end(body);
        options.onSent?.(body.length);
        return;
      }
      void (async () => {
        let sent = 0;
        try {
          for await (const chunk of body) {
            if (settled) return; // the gateway answered early (an error): stop sending
            if (!req.write(chunk)) await drainOrClose(req);
            sent += chunk.length;
            options.onSent?.(sent);
          }
          req.end();
        } catch (e) {
          req.destroy(e as Error);
          // Not a TahoeError: the body itself failed (a local file), not the connection.
          fail(e instanceof TahoeError ? e : sourceFailure(e));
        }
      })();
    });
  }

  private describeFailure(e: unknown): TahoeError {
    if (e instanceof TahoeError && e.kind === 'ServerUnreachable' && (e.details.code === 'ECONNREFUSED' || e.details.code === 'ECONNRESET')) {
      return new TahoeError('NodeNotRunning', `the node's web gateway at ${this.base.href} is not answering (${String(e.details.code)}): the node is not running`, {
        cause: e,
        hint: this.nodeDirectory === undefined ? 'start the node with `tahoe-ts run`' : NOT_RUNNING_HINT(this.nodeDirectory),
      });
    }
    if (e instanceof TahoeError) return e;
    const err = e as NodeJS.ErrnoException;
    if (err.name === 'AbortError') return new TahoeError('Aborted', 'the request to the node was cancelled', { cause: e });
    return new TahoeError('ServerUnreachable', `the connection to the node's web gateway failed: ${err.code ?? err.message}`, { cause: e, hint: 'see the node\'s log (logs/tahoe-ts.log in the node directory)' });
  }

  /** Throw the gateway's error for a non-2xx reply (reads the short error body). */
  async expectOk(reply: GatewayReply, what: string): Promise<void> {
    if (reply.status >= 200 && reply.status < 300) return;
    const text = (await readAll(reply.body, 64 * 1024)).toString('utf8');
    throw errorFromReply(reply.status, text, what);
  }

  /** `PUT /uri`: returns the cap. */
  async putFile(body: AsyncIterable<Uint8Array>, size: number | undefined, options: { signal?: AbortSignal; onSent?: (bytes: number) => void } = {}): Promise<string> {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', Accept: 'text/plain' };
    if (size !== undefined) headers['Content-Length'] = size;
    const reply = await this.request('PUT', '/uri', { headers, body, ...options });
    await this.expectOk(reply, 'upload');
    const cap = (await readAll(reply.body, 1024 * 1024)).toString('utf8').trim();
    if (!cap.startsWith('URI:')) throw new TahoeError('ProtocolError', 'the gateway answered the upload without a cap', { hint: 'is node.url really a tahoe-ts or Tahoe-LAFS web gateway?' });
    return cap;
  }

  /** `GET /uri/$CAP`: the response, status checked (200 or 206). */
  async getFile(cap: string, options: { signal?: AbortSignal; range?: string } = {}): Promise<{ size: number; body: IncomingMessage }> {
    return this.download(`/uri/${encodeURIComponent(cap)}`, options);
  }

  /** `GET` of a file at any gateway path (`/uri/$DIRCAP/NAME` too): status (200 or 206) and Content-Length checked. */
  async download(pathAndQuery: string, options: { signal?: AbortSignal; range?: string } = {}): Promise<{ size: number; body: IncomingMessage }> {
    const headers: Record<string, string> = { Accept: '*/*' };
    if (options.range !== undefined) headers.Range = options.range;
    const reply = await this.request('GET', pathAndQuery, { headers, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    await this.expectOk(reply, 'download');
    const length = Number(reply.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) {
      reply.body.destroy();
      throw new TahoeError('ProtocolError', 'the gateway sent the file without a Content-Length', { hint: 'is node.url really a tahoe-ts or Tahoe-LAFS web gateway?' });
    }
    return { size: length, body: reply.body };
  }

  /** `GET /status/?t=json`: active operations (empty when the gateway has no such page). */
  async activeOperations(signal?: AbortSignal): Promise<OperationJson[]> {
    const reply = await this.request('GET', '/status/?t=json', signal === undefined ? {} : { signal });
    if (reply.status !== 200) {
      reply.body.resume();
      return [];
    }
    try {
      const json = JSON.parse((await readAll(reply.body, 1024 * 1024)).toString('utf8')) as { active?: OperationJson[] };
      return Array.isArray(json.active) ? json.active : [];
    } catch {
      return [];
    }
  }
}

/** Reading the data being sent failed (a file that became unreadable or vanished, a broken stdin). */
function sourceFailure(e: unknown): TahoeError {
  const code = (e as NodeJS.ErrnoException).code;
  return new TahoeError('DiskError', `cannot read the data being uploaded: ${code ?? (e instanceof Error ? e.message : String(e))}`, {
    cause: e,
    details: { code },
    hint: code === 'ENOENT' ? 'the file went away while it was being sent' : code === 'EACCES' || code === 'EPERM' ? 'check the file\'s permissions' : 'check the file (or what feeds stdin) and retry',
  });
}

/** Rebuild the gateway's TahoeError from its plain-text error body. */
export function errorFromReply(status: number, text: string, what: string): TahoeError {
  const lines = text.split('\n');
  const kindLine = lines.find((l) => l.startsWith('kind: '))?.slice(6).trim();
  const hintLine = lines.find((l) => l.startsWith('hint: '))?.slice(6).trim();
  const first = (lines[0] ?? '').trim().slice(0, 500);
  const kind = ERROR_KINDS.includes(kindLine as ErrorKind) ? (kindLine as ErrorKind) : status === 410 ? 'NotEnoughShares' : status === 400 ? 'BadInput' : 'ProtocolError';
  const message = first === '' ? `the ${what} failed with HTTP ${status}` : first;
  return new TahoeError(kind, message, { hint: hintLine ?? `the node answered HTTP ${status}; see its log (logs/tahoe-ts.log)`, details: { httpStatus: status } });
}

/** A whole (short) answer body; more than `limit` bytes is a `ProtocolError`. */
export async function readAll(stream: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > limit) throw new TahoeError('ProtocolError', `the gateway's answer is longer than ${limit} bytes`, { hint: 'is node.url really a tahoe-ts or Tahoe-LAFS web gateway?' });
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Wait for `drain`, failing if the connection closes first; leaves no listener behind (one wait per full buffer). */
function drainOrClose(req: http.ClientRequest): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      req.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      req.off('drain', onDrain);
      reject(new TahoeError('Aborted', 'the connection to the node closed while sending', { hint: 'see the node\'s log' }));
    };
    req.once('drain', onDrain);
    req.once('close', onClose);
  });
}
