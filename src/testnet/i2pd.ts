/**
 * One offline i2pd router for tests and `tahoe-ts demo --network i2p-local`.
 *
 * Recipe and limits: shared/specs/i2p.md §5 (a single router on loopback is a complete SAM
 * backend: its sessions reach each other over zero-hop tunnels; several routers on
 * 127.0.0.0/8 cannot talk to each other with i2pd 2.45). The router uses a private network
 * id (99), no reseed and no transports beyond loopback, so it never touches the real I2P
 * network. Every SESSION CREATE on it takes ≈ 20 s: create sessions in parallel and reuse them.
 */
import { TahoeError } from '../errors.js';
import type { Logger } from '../log.js';
import { launchI2pd, type I2pdProcess } from '../net/i2p/router-process.js';
import type { SamEndpoint } from '../net/i2p/sam.js';
import { OFFLINE_SAM_TIMEOUTS, type SamTimeouts } from '../net/i2p/sam.js';

/**
 * Session options every SESSION CREATE on the offline router needs (i2p.md §5.3): zero-hop
 * tunnels (there are no other routers), LeaseSet type 1 (an i2pd 2.45 bug breaks LS2 from
 * its own netDb), and no ECIES LeaseSet key.
 */
export const OFFLINE_SESSION_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  'inbound.length': '0',
  'outbound.length': '0',
  'inbound.quantity': '1',
  'outbound.quantity': '1',
  'i2cp.leaseSetType': '1',
});

export { OFFLINE_SAM_TIMEOUTS };

export interface I2pRouterOptions {
  /** Data directory for the router (created; the caller removes it). */
  dir: string;
  onProgress?: (message: string) => void;
  executable?: string;
  logger?: Logger;
  /** i2pd log level (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Stop waiting for the router (it is stopped again) and throw `Aborted`. */
  signal?: AbortSignal;
}

export interface I2pRouter {
  samPort: number;
  samEndpoint: SamEndpoint;
  pid: number;
  dir: string;
  /** Options to pass to every SESSION CREATE on this router. */
  sessionOptions: Readonly<Record<string, string>>;
  /** Timeouts that fit this router. */
  timeouts: SamTimeouts;
  /** The router's log (for failure reports). */
  logTail(lines?: number): Promise<string>;
  /** Resolves when the router process exits. */
  exited: Promise<unknown>;
  /** Stop the router (SIGTERM, SIGKILL after `graceMs`, default 5 s). Close SAM sockets first: it stops faster. */
  stop(graceMs?: number): Promise<void>;
}

/** Start the offline router; on failure its log is in the error message and nothing is left running. */
export async function startI2pRouter(options: I2pRouterOptions): Promise<I2pRouter> {
  let proc: I2pdProcess;
  try {
    proc = await launchI2pd({
      dataDir: options.dir,
      mode: 'offline',
      executable: options.executable,
      logLevel: options.logLevel,
      onProgress: options.onProgress,
      logger: options.logger,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (e) {
    if (e instanceof TahoeError && e.kind !== 'Aborted') {
      throw new TahoeError(e.kind, `offline I2P router failed to start: ${e.message}`, {
        cause: e,
        hint: e.kind === 'I2pUnavailable' && e.message.includes('not found') ? e.hint : 'install i2pd 2.45+ (apt-get install i2pd); the router log is printed above',
        details: e.details,
      });
    }
    throw e;
  }
  return {
    samPort: proc.samEndpoint.port,
    samEndpoint: proc.samEndpoint,
    pid: proc.pid,
    dir: proc.dataDir,
    sessionOptions: OFFLINE_SESSION_OPTIONS,
    timeouts: OFFLINE_SAM_TIMEOUTS,
    logTail: (lines) => proc.logTail(lines),
    exited: proc.exited,
    stop: (graceMs) => proc.stop(graceMs),
  };
}
