/**
 * The egress choke point: every outbound socket tahoe-ts opens is opened here, after
 * the privacy policy's gate has approved the endpoint. Transports (direct TCP, the SOCKS
 * client, the Tor control client, the SAM client) call `openSocket`; nothing else in
 * the code base calls `net.connect`/`tls.connect` on a host name.
 *
 * Name resolution: when the gate forbids it (anonymize mode), a lookup function that
 * throws is installed, so even a host name slipping through cannot reach the resolver.
 */
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import { TahoeError, throwIfAborted } from '../errors.js';

export type SocketEndpoint = { host: string; port: number } | { path: string };

/** Why a socket is opened; the gate allows different endpoints for different purposes. */
export type EgressPurpose =
  | 'direct' // a direct TCP connection to a peer
  | 'tor-socks' // tor's SOCKS port
  | 'tor-control' // tor's control port
  | 'i2p-sam' // the I2P router's SAM bridge
  | 'local'; // loopback service of our own (tests, CLI to the node's gateway)

/** The purposes whose endpoints come from configuration or a daemon, never from a peer. */
export type DaemonPurpose = 'tor-socks' | 'tor-control' | 'i2p-sam';

export interface EgressGate {
  /** Throws a `PrivacyViolation` TahoeError when the endpoint may not be dialled. */
  check(endpoint: SocketEndpoint, purpose: EgressPurpose): void;
  /** False in anonymize mode: no local DNS resolution at all. */
  readonly allowNameResolution: boolean;
  /**
   * Name a Tor or I2P daemon endpoint as one this node may use: from the configuration, a
   * discovery candidate, or learned from a daemon we launched or authenticated to. While
   * hiding the IP address, the gate lets through no other daemon endpoint. Gates that do
   * not pin (tests, offline tools) leave it out.
   */
  admit?(endpoint: SocketEndpoint, purpose: DaemonPurpose, source: string): void;
}

/** A gate for code that runs without a node (tests, `tahoe-ts debug`): allows everything. */
export const OPEN_GATE: EgressGate = { check: () => undefined, allowNameResolution: true };

const forbiddenLookup: LookupFunction = (hostname, _options, callback) => {
  const err = new TahoeError('PrivacyViolation', `refusing to resolve "${hostname}" locally in anonymize mode`, {
    hint: 'in anonymize mode names are resolved by tor only; this is a bug if you see it',
  });
  (callback as (e: Error) => void)(err);
};

export interface OpenSocketOptions {
  gate: EgressGate;
  purpose: EgressPurpose;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Open a TCP or unix-socket connection through the egress gate. Resolves once connected. */
export function openSocket(endpoint: SocketEndpoint, options: OpenSocketOptions): Promise<net.Socket> {
  try {
    throwIfAborted(options.signal);
    options.gate.check(endpoint, options.purpose);
  } catch (e) {
    // Callers may not be async functions: report refusals as rejections, never as throws.
    return Promise.reject(e);
  }
  return new Promise<net.Socket>((resolve, reject) => {
    const socket =
      'path' in endpoint
        ? net.connect({ path: endpoint.path })
        : net.connect({
            host: endpoint.host,
            port: endpoint.port,
            ...(options.gate.allowNameResolution ? {} : { lookup: forbiddenLookup }),
          });
    let timer: NodeJS.Timeout | undefined;
    const describe = 'path' in endpoint ? `unix:${endpoint.path}` : `${endpoint.host}:${endpoint.port}`;
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
    };
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error) => {
      cleanup();
      socket.destroy();
      if (err instanceof TahoeError) return reject(err);
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        new TahoeError('ServerUnreachable', `cannot connect to ${describe}: ${code ?? err.message}`, {
          cause: err,
          details: { code, purpose: options.purpose },
          hint: hintFor(options.purpose, code),
        }),
      );
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(new TahoeError('Aborted', `connection to ${describe} aborted`));
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        cleanup();
        socket.destroy();
        reject(new TahoeError('Timeout', `connecting to ${describe} timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    }
  });
}

function hintFor(purpose: EgressPurpose, code: string | undefined): string | undefined {
  // The kernel never answers a TCP connect with EPERM on its own: a firewall rule or an
  // LD_PRELOAD wrapper refused it before any packet was sent (torsocks refuses loopback).
  if (code === 'EPERM') {
    return 'the connection was refused on this machine before it was made: by a firewall rule, or by torsocks (which refuses loopback connections). tahoe-ts reaches Tor and I2P by itself: run it without torsocks and set [tor] socks.port (see docs/anonymity.md)';
  }
  switch (purpose) {
    case 'tor-socks':
      return 'is tor running? set [tor] socks.port (e.g. tcp:127.0.0.1:9050) or [tor] launch = true';
    case 'tor-control':
      return code === 'EACCES'
        ? 'the control socket is not readable: add your user to the debian-tor group, or set [tor] control.port'
        : 'is tor running with a ControlPort? set [tor] control.port, or [tor] launch = true';
    case 'i2p-sam':
      return 'ensure an I2P router is running and its SAM bridge is enabled ([i2p] sam.port, default tcp:127.0.0.1:7656)';
    default:
      return undefined;
  }
}
