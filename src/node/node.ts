/**
 * The node runtime: `TahoeNode` reads a node directory, refuses bad permissions and
 * privacy violations before any socket is opened, builds the privacy policy, the
 * transports and the connection router, and then starts what the configuration enables:
 * the storage server, the introducer service (introducer nodes), the grid client fed by
 * introducers and `private/servers.yaml`, and the web gateway. `stop()` closes everything
 * in reverse order and may be called any number of times.
 *
 *   const node = await TahoeNode.start({ directory, webGateway: createWebGateway, onProgress });
 *   node.services.grid?.uploadImmutable(…);
 *   node.webUrl;                       // http://127.0.0.1:PORT/ (also written to node.url)
 *   await node.stop();
 *
 * Several nodes can run in one process (tests, `tahoe-ts demo`): nothing here is global.
 *
 * Specs: shared/specs/configuration.md §2 (keys), §3/§3a (privacy), §6 (node directory:
 * node.url, private/api_auth_token, announcement-seqnum, introducer caches),
 * storage-protocol.md §7 (announcements), architecture.md (node/ wires the rooms).
 *
 * The web gateway is another room (src/web/); it plugs in through `WebGatewayFactory`.
 * (Implementation follows in this file; these types are the contract.)
 */
import type { NodeConfig } from '../config/node-config.js';
import type { NodeType } from '../config/schema.js';
import { TahoeError } from '../errors.js';
import type { GridClient, GridTiming, ServerStatus } from '../grid/client.js';
import type { IntroducerClientTiming, IntroducerServerTiming } from '../introducer/timing.js';
import type { Logger } from '../log.js';
import type { ConnectionRouter } from '../net/router.js';
import type { TransportStatus } from '../net/transport.js';

/** Progress while the node starts (for the CLI and `demo`). */
export interface NodeProgress {
  phase: 'config' | 'tor' | 'onion' | 'i2p' | 'listen' | 'storage' | 'introducer' | 'grid' | 'web' | 'ready' | 'stopping';
  message: string;
  /** Tor bootstrap percentage, when phase = tor. */
  percent?: number;
}

/** What a web gateway gets from the node. */
export interface WebGatewayContext {
  node: TahoeNode;
  /** The `web.port` endpoint string, as written in tahoe.cfg. */
  webPort: string;
  /** Token the gateway accepts for state-changing requests (also in private/api_auth_token). */
  apiAuthToken: string;
  logger: Logger;
}

/** A running web gateway. */
export interface WebGateway {
  /** `http://127.0.0.1:PORT/` — written to `node.url`. */
  readonly url: string;
  close(): Promise<void>;
}

/** The web room exports one of these; `tahoe-ts run` and `demo` pass it to `TahoeNode.start`. */
export type WebGatewayFactory = (context: WebGatewayContext) => Promise<WebGateway>;

/** One listener of the node, for status and the CLI. */
export interface NodeListenerInfo {
  transport: 'tcp' | 'tor' | 'i2p';
  /** e.g. "tcp listener on 127.0.0.1:3457", "onion service <addr>:3457" (redact before printing). */
  description: string;
}

/** One introducer connection, for the welcome page. */
export interface IntroducerConnectionStatus {
  petname: string;
  connected: boolean;
  /** Epoch ms of the last change of `connected`. */
  since?: number;
  /** How the introducer is reached (from the route used). */
  transport?: 'tcp' | 'tor' | 'i2p';
  /** Announcements currently known from this introducer. */
  announcements: number;
  /** Epoch ms of our last successful publish (publishing nodes only). */
  lastPublished?: number;
  /** Last failure, already redacted. */
  lastError?: string;
}

export interface NodeStatus {
  nodeType: NodeType;
  nickname: string;
  /** `v0-…`: the node's Ed25519 server ID. */
  serverId: string;
  listeners: NodeListenerInfo[];
  transports: TransportStatus[];
  introducers: IntroducerConnectionStatus[];
  servers: ServerStatus[];
  /** Storage server state, when this node runs one. */
  storage?: { enabled: true; nurls: number };
  webUrl?: string;
}

/** Timings tests shorten; production uses the defaults. */
export interface NodeTiming {
  grid?: Partial<GridTiming>;
  introducer?: Partial<IntroducerServerTiming>;
  introducerClient?: Partial<IntroducerClientTiming>;
}

export interface TahoeNodeOptions {
  directory: string;
  /** Default: stderr plus `logs/tahoe-ts.log` in the node directory. */
  logger?: Logger;
  /** Write the log file under `logs/` (default true). */
  logFile?: boolean;
  onProgress?: (progress: NodeProgress) => void;
  /** Starts the web gateway when `web.port` is set. */
  webGateway?: WebGatewayFactory;
  timing?: NodeTiming;
  /** Abort a slow start (Tor bootstrap); the node cleans up what it started. */
  signal?: AbortSignal;
}

/** The services a node runs; absent ones are not enabled by its configuration. */
export interface NodeServices {
  grid?: GridClient;
  web?: WebGateway;
}

/** A running node. */
export interface TahoeNodeApi {
  readonly directory: string;
  readonly nodeType: NodeType;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly serverId: string;
  readonly router: ConnectionRouter;
  readonly services: NodeServices;
  readonly webUrl: string | undefined;
  /** Introducer nodes: the NURLs written to private/introducer.furl (secret). */
  readonly introducerNurls: readonly string[];
  /** Storage servers: the announced NURLs (secret). */
  readonly storageNurls: readonly string[];
  status(): NodeStatus;
  stop(): Promise<void>;
}

export class TahoeNode {
  private constructor() {}

  static async start(_options: TahoeNodeOptions): Promise<TahoeNode & TahoeNodeApi> {
    throw new TahoeError('Internal', 'the node runtime is being written', { hint: 'see git log for src/node/' });
  }
}
