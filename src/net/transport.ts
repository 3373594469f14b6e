/**
 * The one narrow transport interface (modelled on js-libp2p's `Transport`): tcp, tor and
 * i2p implement it, and one compliance suite (test/net/transport-compliance.ts) runs
 * against each. Everything above net/ talks to peers only through a Transport.
 */
import type { Duplex } from 'node:stream';

/** Where to connect, as parsed from a fURL hint or a NURL by net/hints.ts. */
export type DialTarget =
  | { kind: 'tcp'; host: string; port: number }
  /** Through Tor: a v3 .onion name, or (anonymize mode) a clearnet name via an exit. */
  | { kind: 'tor'; host: string; port: number }
  /** Through I2P: `<52>.b32.i2p`, `name.i2p`, or an I2P-base64 destination. */
  | { kind: 'i2p'; address: string; port?: number };

export type TransportName = 'tcp' | 'tor' | 'i2p';

export interface DialProgress {
  transport: TransportName;
  /** e.g. "connecting to tor", "socks handshake", "waiting for i2p tunnel", "connected" */
  phase: string;
}

export interface DialOptions {
  signal?: AbortSignal;
  onProgress?: (progress: DialProgress) => void;
  /**
   * Stream-isolation key: connections with different keys never share a Tor circuit
   * (SOCKS username/password). The storage broker uses one key per storage server.
   */
  isolationKey?: string;
  /** Overall time limit for establishing the stream. */
  timeoutMs?: number;
}

/** What to listen on. */
export type ListenSpec =
  | { kind: 'tcp'; host: string; port: number }
  /** An onion service: Tor forwards `virtualPort` to a loopback listener we create. */
  | { kind: 'onion'; virtualPort: number; localPort?: number; keyFile?: string; hiddenServiceDir?: string }
  /** An I2P destination kept in `keyFile` (created when missing). */
  | { kind: 'i2p'; keyFile?: string; port?: number };

export interface RemoteInfo {
  transport: TransportName;
  /** Printable peer description (already safe to log: redact() is applied by loggers). */
  peer: string;
}

export type ConnectionHandler = (stream: Duplex, remote: RemoteInfo) => void;

export interface Listener {
  /** Hints peers should use to reach this listener (what goes into tub.location / NURLs). */
  readonly hints: DialTarget[];
  /** For logs and the status page. */
  describe(): string;
  close(): Promise<void>;
}

export interface TransportStatus {
  name: TransportName;
  ready: boolean;
  /** e.g. "tor 0.4.9.11 via unix:/run/tor/socks, bootstrapped 100%" */
  summary: string;
}

export interface Transport {
  readonly name: TransportName;
  /** True when dialling through this transport does not reveal our IP to the peer. */
  readonly hidesIp: boolean;
  canDial(target: DialTarget): boolean;
  dial(target: DialTarget, options?: DialOptions): Promise<Duplex>;
  listen(spec: ListenSpec, onConnection: ConnectionHandler): Promise<Listener>;
  describe(): TransportStatus;
  close(): Promise<void>;
}
