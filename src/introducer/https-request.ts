/**
 * One HTTPS request to an introducer over a stream the connection router opened (TCP, a
 * Tor SOCKS stream or an I2P SAM stream): TLS with the pin (the NURL's SPKI hash, or the
 * fURL form's TubID) checked before any byte of the request is written (net/tls.ts
 * `connectPinnedTls`), `Authorization: Tahoe-LAFS
 * <base64(swissnum)>` (shared/specs/storage-protocol.md §2–§3), plain HTTP/1.1, one
 * request per connection (`Connection: close`): requests are rare (a long-poll a minute,
 * a publish every few minutes), and a fresh stream never outlives a Tor circuit change.
 *
 * Response bodies are bounded; every failure is a TahoeError: `ServerRejected` with the
 * status in `details.status`, `ProtocolError` for oversized or truncated answers,
 * `Timeout`, `Aborted`, or whatever the dial or the TLS handshake reported.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TahoeError, abortReasonOf, asTahoeError, throwIfAborted } from '../errors.js';
import { connectPinnedTls } from '../net/tls.js';
import { LIMITS } from './protocol.js';
import type { IntroducerPin } from './url.js';

/** Who the request goes to: the pin checked before anything is sent, the secret, and a Host header value. */
export interface IntroducerPeer {
  pin: IntroducerPin;
  /** Secret: never log. */
  swissnum: string;
  /** For the Host header (the server ignores it). */
  host: string;
}

export interface IntroducerRequest {
  method: 'GET' | 'POST';
  /** Path and query. */
  path: string;
  body?: Buffer;
  /** Limit for the response body (2xx). */
  maxResponseBytes: number;
  /** Limit for the whole exchange after the connection is up. */
  timeoutMs: number;
  /** Limit for dialling plus the TLS handshake. */
  connectTimeoutMs: number;
  signal?: AbortSignal;
}

export interface IntroducerResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Opens a fresh stream to the introducer (the router's dial, isolated per introducer). */
export type Connect = (signal: AbortSignal, timeoutMs: number) => Promise<Duplex>;

function withTimeout(signal: AbortSignal | undefined, ms: number, what: string): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TahoeError('Timeout', `${what} timed out after ${ms} ms`, {
    hint: 'the introducer did not answer in time; over Tor or I2P this can happen while circuits are built — tahoe-ts retries with backoff',
  })), ms);
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    cancel: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}


export async function introducerRequest(peer: IntroducerPeer, connect: Connect, request: IntroducerRequest): Promise<IntroducerResponse> {
  throwIfAborted(request.signal);
  const connecting = withTimeout(request.signal, request.connectTimeoutMs, 'connecting to the introducer');
  let socket: Duplex;
  try {
    const stream = await connect(connecting.signal, request.connectTimeoutMs);
    const pin = peer.pin.kind === 'spki' ? { spkiHash: peer.pin.spkiHash } : { tubId: peer.pin.tubId };
    socket = await connectPinnedTls(stream, { ...pin, signal: connecting.signal, timeoutMs: request.connectTimeoutMs, peer: 'the introducer' });
  } catch (e) {
    if (connecting.signal.aborted) throw abortReasonOf(connecting.signal);
    throw asTahoeError(e, 'ServerUnreachable');
  } finally {
    connecting.cancel();
  }
  const exchange = withTimeout(request.signal, request.timeoutMs, 'the introducer request');
  try {
    return await new Promise<IntroducerResponse>((resolve, reject) => {
      const headers: Record<string, string> = {
        authorization: `Tahoe-LAFS ${Buffer.from(peer.swissnum, 'ascii').toString('base64')}`,
        accept: 'application/cbor',
        connection: 'close',
      };
      if (request.body !== undefined) {
        headers['content-type'] = 'application/cbor';
        headers['content-length'] = String(request.body.length);
      }
      const req = http.request({
        method: request.method,
        path: request.path,
        // The Host header names what the client dialled; the server ignores it.
        host: peer.host,
        headers,
        // No agent: with `agent: false` Node would make a private Agent that opens its own
        // TCP connection to host:port, bypassing the router and the egress gate.
        createConnection: () => socket as Socket,
      });
      let settled = false;
      const fail = (e: unknown): void => {
        if (settled) return;
        settled = true;
        exchange.signal.removeEventListener('abort', onAbort);
        req.destroy();
        socket.destroy();
        reject(e instanceof TahoeError ? e : asTahoeError(e, 'ServerUnreachable', 'the connection to the introducer broke; tahoe-ts retries with backoff'));
      };
      const onAbort = (): void => fail(abortReasonOf(exchange.signal));
      exchange.signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', fail);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const limit = status >= 200 && status < 300 ? request.maxResponseBytes : LIMITS.errorBody;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            if (status >= 200 && status < 300) {
              fail(new TahoeError('ProtocolError', `the introducer sent more than ${limit} bytes`, { hint: 'the introducer misbehaves or the grid is unusually large', details: { status } }));
            } else {
              // An oversized error body: keep what we have; the status says enough.
              if (!settled) finish();
            }
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => finish());
        res.on('aborted', () => fail(new TahoeError('ProtocolError', 'the introducer closed the connection mid-answer', { hint: 'tahoe-ts retries with backoff' })));
        function finish(): void {
          if (settled) return;
          if (!res.complete && size <= limit) {
            fail(new TahoeError('ProtocolError', 'the introducer\'s answer was cut short', { hint: 'tahoe-ts retries with backoff' }));
            return;
          }
          settled = true;
          exchange.signal.removeEventListener('abort', onAbort);
          socket.destroy();
          const ct = res.headers['content-type'];
          resolve({ status, contentType: ct, body: Buffer.concat(chunks) });
        }
      });
      req.end(request.body);
    });
  } finally {
    exchange.cancel();
  }
}

/** A non-2xx answer as a TahoeError (`ServerRejected`, with the status and a hint). */
export function rejection(res: IntroducerResponse, what: string): TahoeError {
  const text = res.contentType?.startsWith('text/') === true ? res.body.toString('utf8').replace(/[^\x20-\x7e]/g, '?').slice(0, 300) : '';
  const hints: Record<number, string> = {
    401: 'the introducer refused the swissnum: the NURL in private/introducers.yaml is wrong or out of date; copy it again from the introducer\'s private/introducer.furl',
    403: 'the introducer rejected our signature: is private/node.privkey intact?',
    404: 'this is not a tahoe-ts introducer (or a different version): check the NURL',
    413: 'the announcement is too large for the introducer',
    429: 'the introducer is rate-limiting us; tahoe-ts backs off',
    503: 'the introducer is overloaded; tahoe-ts backs off',
  };
  return new TahoeError('ServerRejected', `${what}: the introducer answered ${res.status}${text ? ` (${text})` : ''}`, {
    hint: hints[res.status] ?? 'the introducer refused the request; see its log',
    details: { status: res.status },
  });
}
