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
 * storage-protocol.md §7 (announcements), anonymity-checklist.md AN-1 (fail closed at
 * startup: Tor required but unavailable ⇒ no start), architecture.md (node/ wires the rooms).
 *
 * Listeners: a node listens only when it serves something (a storage server or an
 * introducer); a client-only node opens no listener even if `tub.port` is set. Tahoe-LAFS
 * 1.20's onion layout (`tub.port = tcp:L:interface=127.0.0.1` + `[tor] onion = true`,
 * `onion.local_port = L`) makes the onion listener own port L.
 *
 * Tor is set up lazily (the first dial to an onion finds a running tor: client use case 2)
 * unless the configuration needs it at once: `[tor] launch`, an onion listener, or a node
 * that hides its IP and reaches every `tcp:` hint through Tor.
 */
import path from 'node:path';
import { TahoeError, asTahoeError, isTahoeError } from '../errors.js';
import { Logger, redact, type LogSink } from '../log.js';
import { loadNodeDirectory } from '../config/node-dir.js';
import { acquireNodeLock, type NodeLock } from '../config/node-lock.js';
import type { NodeConfig } from '../config/node-config.js';
import type { NodeType } from '../config/schema.js';
import { loadOrCreateNodeCertificate, loadOrCreateNodeKey, loadOrCreateSecret, readIntroducers, readNodeFile, writePermutationSeed } from '../config/keys.js';
import { spkiHash, tubIdBytes, tubIdOf, type NodeCertificate } from '../crypto/certificate.js';
import { permutationSeedOf, type NodeKey } from '../crypto/node-key.js';
import { createGridClient, type GridClient, type GridTiming, type ServerStatus } from '../grid/client.js';
import { parseServersYaml } from '../grid/servers-yaml.js';
import { AnnouncementSigner, type AnnouncementValue } from '../introducer/announcement.js';
import { AnnouncementHub, IntroducerClient, type IntroducerClientStatus } from '../introducer/client.js';
import { IntroducerServer } from '../introducer/server.js';
import type { IntroducerClientTiming, IntroducerServerTiming } from '../introducer/timing.js';
import { introducerFileContent, parseIntroducerLocation, type IntroducerAddress } from '../introducer/url.js';
import { formatHint, formatNurl, type LocationItem, type Nurl, type ServerEndpoint, type TubLocation } from '../net/hints.js';
import { createPolicy, tubDefaults, type Policy, type TcpHandler } from '../net/policy.js';
import { ConnectionRouter } from '../net/router.js';
import { TcpTransport } from '../net/tcp.js';
import { connectTorProvider, type TorProvider, type TorProviderOptions } from '../net/tor/provider.js';
import { TorTransport } from '../net/tor/transport.js';
import { startI2pProvider, type I2pProvider } from '../net/i2p/provider.js';
import type { SamTimeouts } from '../net/i2p/sam.js';
import type { DialTarget, Listener, ListenSpec, Transport, TransportName, TransportStatus } from '../net/transport.js';
import type { Duplex } from 'node:stream';
import { loadStorageIdentity, newSwissnum, type StorageIdentity } from '../storage/identity.js';
import { ShareStore } from '../storage/share-store.js';
import { LeaseExpirer, expiryPolicyFromSettings } from '../storage/expirer.js';
import { StorageServer } from '../storage/server.js';
import { buildStorageAnnouncement } from '../storage/announcement.js';
import { announcedHints } from './location.js';
import { announcementCacheStore, readClientPort, readIntroducerSwissnum, readServersYamlText, seqnumStore, writeApiAuthToken, writeClientPort, writeIntroducerFile, writeMyNodeid, hasStaleIntroducerNurls, writeNodeUrl } from './files.js';
import { openLogFile, stderrSink, teeSink, type FileSink } from './log-file.js';

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
  /**
   * The token written to private/api_auth_token, as Tahoe does at every start. Tahoe needs
   * it only for `/private/…`, which tahoe-ts does not serve: no gateway path asks for it.
   */
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
  transport: TransportName;
  /** e.g. "tcp listener on 127.0.0.1:3457", "onion service <addr>:3457" (redact before printing). */
  description: string;
}

/** One introducer connection, for the welcome page (the introducer client's own status). */
export type IntroducerConnectionStatus = IntroducerClientStatus;

export interface NodeStatus {
  nodeType: NodeType;
  nickname: string;
  /** `v0-…`: the node's Ed25519 server ID. */
  serverId: string;
  listeners: NodeListenerInfo[];
  transports: TransportStatus[];
  introducers: IntroducerConnectionStatus[];
  servers: ServerStatus[];
  /** Storage server facts, when this node runs one. */
  storage?: { nurls: number; announced: boolean };
  /** Introducer service facts, when this node is an introducer. */
  introducer?: { announcements: number; subscribersWaiting: number; warmingUp: boolean };
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
  /** Write the log file under `logs/` (default true; ignored when `logger` is given). */
  logFile?: boolean;
  /** Also log to stderr (default true; ignored when `logger` is given). */
  logToStderr?: boolean;
  onProgress?: (progress: NodeProgress) => void;
  /** Starts the web gateway when `web.port` is set. */
  webGateway?: WebGatewayFactory;
  timing?: NodeTiming;
  /**
   * Tor details that are not tahoe.cfg settings (private test networks): `discovery`
   * replaces the places where a node with an empty `[tor]` section looks for tor
   * (configuration.md §5), so tests and `demo` never touch a real 9050/9051.
   */
  tor?: { allowNonPublicAddresses?: boolean; publishTimeoutMs?: number; discovery?: TorProviderOptions['discovery'] };
  /**
   * I2P details that are not tahoe.cfg settings: `launchMode: 'offline'` makes `[i2p] launch
   * = true` start the single-router offline network of the tests and `demo` (never the real
   * I2P network); `timeouts` replace the SAM timeouts (e.g. OFFLINE_SAM_TIMEOUTS).
   */
  i2p?: { launchMode?: 'network' | 'offline'; timeouts?: Partial<SamTimeouts> };
  /** Abort a slow start (Tor bootstrap); the node cleans up what it started. */
  signal?: AbortSignal;
}

/** The services a node runs; absent ones are not enabled by its configuration. */
export interface NodeServices {
  grid?: GridClient;
  web?: WebGateway;
  storage?: StorageServer;
  introducer?: IntroducerServer;
  /** The lease-expiry crawler, when `[storage] expire.enabled = true`. */
  expirer?: LeaseExpirer;
  introducerClients: IntroducerClient[];
}

/** A running node, as other rooms see it (`TahoeNode` implements it). */
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
  /**
   * Introducer nodes: what private/introducer.furl holds, its lines joined by a space — a
   * value clients take as it is (create-node --introducer, introducers.yaml). The NURLs, or
   * the fURL form when no location hint can be a NURL (secret).
   */
  readonly introducerFurl: string | undefined;
  /** Storage servers: the announced NURLs (secret). */
  readonly storageNurls: readonly string[];
  status(): NodeStatus;
  stop(): Promise<void>;
}

interface ListenPlan {
  spec: ListenSpec;
  transport: 'tcp' | 'tor' | 'i2p';
  /** The `onion:` location item this listener announces (original design). */
  locationItem?: LocationItem;
  /** Remember the kernel-chosen port in client.port (unset tub.port). */
  rememberPort?: boolean;
}

/** A running node. */
export class TahoeNode implements TahoeNodeApi {
  readonly directory: string;
  readonly services: NodeServices = { introducerClients: [] };
  private cfg: NodeConfig | undefined;
  private type: NodeType = 'client';
  private log: Logger;
  private fileSink: FileSink | undefined;
  private key: NodeKey | undefined;
  private policyValue: Policy | undefined;
  private routerValue: ConnectionRouter | undefined;
  private readonly transports = new Map<TransportName, Transport>();
  private readonly listeners: Listener[] = [];
  private i2pProvider: I2pProvider | undefined;
  private store: ShareStore | undefined;
  private storageIdentity: StorageIdentity | undefined;
  private introducerNurlList: Nurl[] = [];
  private introducerFileLines: readonly string[] | undefined;
  private streamHandler: ((stream: Duplex) => void) | undefined;
  private signer: AnnouncementSigner | undefined;
  private webUrlValue: string | undefined;
  private routedTransports: ReadonlyMap<TransportName, Transport> = new Map();
  private routerDisabled: Partial<Record<'tor' | 'i2p', string>> = {};
  private stopping: Promise<void> | undefined;
  private lock: NodeLock | undefined;

  private constructor(private readonly options: TahoeNodeOptions) {
    this.directory = path.resolve(options.directory);
    this.log = options.logger ?? new Logger({ sink: stderrSink });
  }

  /** Start a node; on failure everything already started is stopped again before the error is thrown. */
  static async start(options: TahoeNodeOptions): Promise<TahoeNode> {
    const node = new TahoeNode(options);
    try {
      await node.boot();
    } catch (e) {
      await node.stop().catch(() => undefined);
      throw asTahoeError(e);
    }
    return node;
  }

  get config(): NodeConfig {
    if (this.cfg === undefined) throw new TahoeError('Internal', 'the node has not read its configuration yet');
    return this.cfg;
  }

  get nodeType(): NodeType {
    return this.type;
  }

  get logger(): Logger {
    return this.log;
  }

  get serverId(): string {
    return this.key?.serverId() ?? '';
  }

  get policy(): Policy {
    if (this.policyValue === undefined) throw new TahoeError('Internal', 'the node has no policy yet');
    return this.policyValue;
  }

  get router(): ConnectionRouter {
    if (this.routerValue === undefined) throw new TahoeError('Internal', 'the node has no router yet');
    return this.routerValue;
  }

  get webUrl(): string | undefined {
    return this.webUrlValue;
  }

  /** Introducer nodes: the NURLs written to private/introducer.furl (secret). */
  get introducerNurls(): readonly string[] {
    return this.introducerNurlList.map(formatNurl);
  }

  /** Introducer nodes: private/introducer.furl's lines joined by a space, to hand to clients as it is (secret). */
  get introducerFurl(): string | undefined {
    return this.introducerFileLines?.join(' ');
  }

  /** Storage servers: the announced NURLs (secret). */
  get storageNurls(): readonly string[] {
    return this.storageIdentity?.nurls ?? [];
  }

  /** Listener descriptions (addresses included: redact before printing). */
  listenerInfo(): NodeListenerInfo[] {
    return this.listeners.map((l) => ({ transport: l.hints[0]?.kind === 'tor' ? 'tor' : l.hints[0]?.kind === 'i2p' ? 'i2p' : 'tcp', description: l.describe() }));
  }

  status(): NodeStatus {
    const intro = this.services.introducer?.stats();
    return {
      nodeType: this.type,
      nickname: this.cfg?.node.nickname ?? '',
      serverId: this.serverId,
      listeners: this.listenerInfo(),
      transports: [...this.transports.values()].map((t) => t.describe()),
      introducers: this.services.introducerClients.map((c) => c.status()),
      servers: this.services.grid?.serverStatuses() ?? [],
      ...(this.services.storage === undefined ? {} : { storage: { nurls: this.storageNurls.length, announced: this.signer !== undefined && this.services.introducerClients.length > 0 } }),
      ...(intro === undefined ? {} : { introducer: { announcements: intro.announcements, subscribersWaiting: intro.subscribersWaiting, warmingUp: intro.warmingUp } }),
      ...(this.webUrlValue === undefined ? {} : { webUrl: this.webUrlValue }),
    };
  }

  private progress(phase: NodeProgress['phase'], message: string, percent?: number): void {
    this.log.info(message);
    try {
      this.options.onProgress?.(percent === undefined ? { phase, message } : { phase, message, percent });
    } catch (e) {
      this.log.warn('progress listener failed:', asTahoeError(e));
    }
  }

  private checkAborted(): void {
    const signal = this.options.signal;
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      throw reason instanceof TahoeError ? reason : new TahoeError('Aborted', 'node start aborted', { hint: 'the start was cancelled (Ctrl-C)' });
    }
  }

  // ------------------------------------------------------------------ boot

  private async boot(): Promise<void> {
    // 1. Configuration, permissions and privacy: all checked before any socket exists.
    const loaded = await loadNodeDirectory(this.directory);
    // Before anything writes to the directory: a second node on it would empty the first
    // one's storage/shares/incoming and race it on every file.
    this.lock = await acquireNodeLock(this.directory);
    const config = loaded.config;
    this.cfg = config;
    this.type = loaded.nodeType;
    if (this.options.logger === undefined) {
      const sinks: LogSink[] = [];
      if (this.options.logToStderr !== false) sinks.push(stderrSink);
      if (this.options.logFile !== false) {
        this.fileSink = openLogFile(this.directory);
        sinks.push(this.fileSink);
      }
      this.log = new Logger({ logSensitive: config.node.logSensitive, sink: teeSink(...sinks) });
    }
    this.progress('config', `starting ${this.type} node in ${this.directory}`);
    for (const w of loaded.warnings) if (w.severity !== 'error') this.log.warn(`${w.message} (hint: ${w.hint})`);
    const policy = createPolicy(config.privacySettings());
    this.policyValue = policy;
    this.key = await loadOrCreateNodeKey(this.directory);
    this.checkAborted();

    // 2. Transports and the router.
    await this.startTransports(config, policy);
    this.checkAborted();

    // 3. What this node serves.
    const serving = this.type === 'introducer' || config.storage.enabled;
    let cert: NodeCertificate | undefined;
    if (serving) {
      cert = await loadOrCreateNodeCertificate(this.directory);
      await writeMyNodeid(this.directory, tubIdOf(cert.certificate));
      // Parsed once: onion location items are matched to their listeners by identity.
      const location = config.node.tubLocation;
      const { onionHints, tcpPort } = await this.startListeners(config, location);
      const hints = announcedHints(location, { tcpPort, onionHints });
      if (this.type === 'introducer') await this.startIntroducerService(cert, hints);
      else await this.startStorage(config, cert, hints);
    }
    this.checkAborted();

    // 4. The grid client (client nodes).
    if (this.type === 'client') await this.startGridClient(config);

    // 5. The web gateway.
    const token = await writeApiAuthToken(this.directory);
    const webPort = config.node.webPort;
    if (webPort !== undefined) {
      if (this.options.webGateway === undefined) {
        this.log.warn('web.port is set, but this build has no web gateway to start; the node runs without one');
      } else {
        this.progress('web', 'starting the web gateway');
        const raw = config.cfg.get('node', 'web.port') ?? '';
        const web = await this.options.webGateway({ node: this, webPort: raw.trim(), apiAuthToken: token, logger: this.log });
        this.services.web = web;
        this.webUrlValue = web.url;
        await writeNodeUrl(this.directory, web.url);
      }
    }
    this.progress('ready', `node ready${this.webUrlValue !== undefined ? `: web gateway at ${this.webUrlValue}` : ''}`);
  }

  private async startTransports(config: NodeConfig, policy: Policy): Promise<void> {
    const tcp = new TcpTransport({ gate: policy.gate });
    // Kept for listening in every mode; dialled through only when the IP may show.
    this.transports.set('tcp', tcp);
    const routed = new Map<TransportName, Transport>();
    if (!policy.hideIp) routed.set('tcp', tcp);

    if (config.tor.enabled) {
      const torOptions: TorProviderOptions = {
        gate: policy.gate,
        launch: config.tor.launch,
        executable: config.tor.executable,
        dataDir: path.join(this.directory, 'private', 'tor-statedir'),
        controlSocketPath: path.join(this.directory, 'private', 'tor.control'),
        extraTorrc: config.tor.launchExtraTorrc,
        controlPort: config.cfg.get('tor', 'control.port')?.trim() || undefined,
        socksPort: config.cfg.get('tor', 'socks.port')?.trim() || undefined,
        bootstrapTimeoutMs: config.tor.launch ? config.tor.bootstrapTimeout * 1000 : undefined,
        onProgress: (s) => this.progress('tor', `tor bootstrapped ${s.progress}%: ${s.summary}`, s.progress),
        signal: this.options.signal,
        logger: this.log.child('tor'),
        ...(this.options.tor?.discovery === undefined ? {} : { discovery: this.options.tor.discovery }),
      };
      const needsTorNow = config.tor.launch || this.needsOnionListener(config) || (policy.hideIp && policy.tcpHandler === 'tor');
      let provider: TorProvider | (() => Promise<TorProvider>);
      if (needsTorNow) {
        this.progress('tor', config.tor.launch ? 'launching tor' : 'connecting to tor');
        provider = await connectTorProvider(torOptions);
        this.progress('tor', `using ${provider.describe()}`);
      } else {
        // Found on first use (client use case 2); the signal of the start does not apply later.
        provider = () => connectTorProvider({ ...torOptions, signal: undefined, onProgress: undefined });
      }
      const tor = new TorTransport({
        provider,
        // tor restarted (or a launched tor died): set it up again and re-add the onion services
        reconnect: () => connectTorProvider({ ...torOptions, signal: undefined, onProgress: undefined }),
        gate: policy.gate,
        logger: this.log.child('tor'),
        allowNonPublicAddresses: this.options.tor?.allowNonPublicAddresses,
        publishTimeoutMs: this.options.tor?.publishTimeoutMs,
        onPublishProgress: (p) => this.progress('onion', `publishing onion service: ${p.uploaded} descriptor upload${p.uploaded === 1 ? '' : 's'} done, ${p.uploads} started, ${p.failed} failed`),
      });
      this.transports.set('tor', tor);
      routed.set('tor', tor);
    }

    if (config.i2p.enabled) {
      const needsI2pNow = config.i2p.launch || this.needsI2pListener(config);
      if (needsI2pNow) this.progress('i2p', config.i2p.launch ? 'launching i2pd' : 'connecting to the I2P router');
      const samOptions = config.i2p.samOptions;
      // Found lazily otherwise: no socket until the first I2P dial (client use case 2).
      const provider = await startI2pProvider(
        {
          samPort: config.cfg.get('i2p', 'sam.port')?.trim() || undefined,
          launch: config.i2p.launch,
          executable: config.i2p.executable,
          configDir: config.i2p.configdir,
        },
        {
          nodeDir: this.directory,
          gate: policy.gate,
          logger: this.log.child('i2p'),
          onProgress: (m) => this.progress('i2p', m),
          // [i2p] sam.options, when set, are the session options (tests need the production set gone).
          ...(Object.keys(samOptions).length > 0 ? { sessionOptions: samOptions } : {}),
          probe: needsI2pNow,
          ...(this.options.i2p?.launchMode === undefined ? {} : { launchMode: this.options.i2p.launchMode }),
          ...(this.options.i2p?.timeouts === undefined ? {} : { timeouts: this.options.i2p.timeouts }),
        },
      );
      this.i2pProvider = provider;
      this.transports.set('i2p', provider.transport);
      routed.set('i2p', provider.transport);
      // A node builds its destination's session before its grid client dials anything. When
      // it will dial over I2P right after — its own I2P storage server (the broker tries every
      // announced route at once), an I2P introducer or servers.yaml entry — build the client
      // session now, in parallel (each session takes 20 s to minutes to build).
      if (needsI2pNow && this.type === 'client' && (this.needsI2pListener(config) || (await this.dialsI2pAtStart(config)))) {
        provider.transport.warmUp().catch((e: unknown) => this.log.debug(`I2P client session warm-up failed (the first dial retries): ${asTahoeError(e).message}`));
      }
    }
    this.routedTransports = routed;
    this.routerDisabled = {
      ...(config.tor.enabled ? {} : { tor: '[tor] enabled = false' }),
      ...(config.i2p.enabled ? {} : { i2p: '[i2p] enabled = false' }),
    };
    this.routerValue = new ConnectionRouter({ policy, transports: routed, disabled: this.routerDisabled });
  }

  private routerFor(tcpHandler: TcpHandler): ConnectionRouter {
    return new ConnectionRouter({ policy: this.policy, transports: this.routedTransports, tcpHandler, disabled: this.routerDisabled });
  }

  /** Whether an introducer or a private/servers.yaml entry names an I2P address. */
  private async dialsI2pAtStart(config: NodeConfig): Promise<boolean> {
    if (this.type === 'introducer') return false;
    const texts = [...Object.values(await readIntroducers(this.directory)), config.client.introducerFurl ?? '', (await readServersYamlText(this.directory)) ?? ''];
    return texts.some((t) => /\.i2p\b/i.test(t));
  }

  private needsI2pListener(config: NodeConfig): boolean {
    if (!(this.type === 'introducer' || config.storage.enabled)) return false;
    if (config.i2p.dest) return true;
    const port = config.node.tubPort;
    return port?.type === 'endpoints' && port.endpoints.some((e) => e.type === 'i2p' || (e.type === 'listen' && e.transport === 'i2p'));
  }

  private needsOnionListener(config: NodeConfig): boolean {
    if (!(this.type === 'introducer' || config.storage.enabled)) return false;
    if (config.tor.onion) return true;
    const port = config.node.tubPort;
    if (port?.type === 'endpoints' && port.endpoints.some((e) => e.type === 'onion' || (e.type === 'listen' && e.transport === 'tor'))) return true;
    const location = config.node.tubLocation;
    return location.type === 'items' && location.items.some((i) => i.type === 'onion');
  }

  /** Turn tub.port, [tor] onion, [i2p] dest and onion location items into listeners. */
  private async planListeners(config: NodeConfig, location: TubLocation): Promise<ListenPlan[]> {
    const plans: ListenPlan[] = [];
    const tor = config.tor;
    const onionLocal = tor.onion ? tor.onionLocalPort : undefined;
    let torOnionPlanned = false;
    let i2pDestPlanned = false;
    const torOnionSpec = (): ListenSpec => ({ kind: 'onion', virtualPort: tor.onionExternalPort as number, localPort: tor.onionLocalPort, keyFile: tor.onionPrivateKeyFile });
    const i2pDestSpec = (): ListenSpec => {
      const spec: ListenSpec = { kind: 'i2p', keyFile: config.i2p.destPrivateKeyFile };
      if (config.i2p.destPort !== undefined) spec.port = config.i2p.destPort;
      return spec;
    };
    const port = config.node.tubPort;
    const endpoints: ServerEndpoint[] = port?.type === 'endpoints' ? port.endpoints : [];
    for (const ep of endpoints) {
      switch (ep.type) {
        case 'tcp':
        case 'tcp6':
          // Tahoe 1.20's onion layout: the onion listener itself binds onion.local_port.
          if (onionLocal !== undefined && ep.port === onionLocal) break;
          plans.push({ spec: { kind: 'tcp', host: ep.interface ?? (ep.type === 'tcp6' ? '::' : '0.0.0.0'), port: ep.port }, transport: 'tcp' });
          break;
        case 'listen':
          if (ep.transport === 'tor' && !torOnionPlanned) {
            plans.push({ spec: torOnionSpec(), transport: 'tor' });
            torOnionPlanned = true;
          } else if (ep.transport === 'i2p' && !i2pDestPlanned) {
            plans.push({ spec: i2pDestSpec(), transport: 'i2p' });
            i2pDestPlanned = true;
          }
          break;
        case 'onion': {
          const spec: ListenSpec = { kind: 'onion', virtualPort: ep.virtualPort };
          if (ep.localPort !== undefined) spec.localPort = ep.localPort;
          if (ep.hiddenServiceDir !== undefined) spec.hiddenServiceDir = ep.hiddenServiceDir;
          if (ep.privateKeyFile !== undefined) spec.keyFile = ep.privateKeyFile;
          plans.push({ spec, transport: 'tor' });
          break;
        }
        case 'i2p': {
          const spec: ListenSpec = { kind: 'i2p', keyFile: ep.keyFile };
          if (ep.port !== undefined) spec.port = ep.port;
          plans.push({ spec, transport: 'i2p' });
          break;
        }
        case 'unix':
          throw new TahoeError('ConfigInvalid', 'tub.port lists a unix: listener, which tahoe-ts does not serve', { hint: 'use tcp:PORT:interface=127.0.0.1 (and an onion service in front of it if needed)' });
        case 'disabled':
          break;
      }
    }
    if (tor.onion && !torOnionPlanned) plans.push({ spec: torOnionSpec(), transport: 'tor' });
    if (config.i2p.dest && !i2pDestPlanned) plans.push({ spec: i2pDestSpec(), transport: 'i2p' });
    if (location.type === 'items') {
      for (const item of location.items) {
        if (item.type !== 'onion') continue;
        const ep = item.endpoint;
        const spec: ListenSpec = { kind: 'onion', virtualPort: ep.virtualPort };
        if (ep.localPort !== undefined) spec.localPort = ep.localPort;
        if (ep.hiddenServiceDir !== undefined) spec.hiddenServiceDir = ep.hiddenServiceDir;
        if (ep.privateKeyFile !== undefined) spec.keyFile = ep.privateKeyFile;
        plans.push({ spec, transport: 'tor', locationItem: item });
      }
    }
    if (port === undefined) {
      // tub.port unset: 1.20 listens on a kernel-chosen port remembered in client.port.
      const defaults = tubDefaults(config.privacySettings());
      if (defaults.portInterface !== null) {
        const remembered = await readClientPort(this.directory);
        plans.push({ spec: { kind: 'tcp', host: defaults.portInterface === '' ? '0.0.0.0' : defaults.portInterface, port: remembered ?? 0 }, transport: 'tcp', rememberPort: remembered === undefined });
      }
    }
    return plans;
  }

  private async startListeners(config: NodeConfig, location: TubLocation): Promise<{ onionHints: Map<LocationItem, DialTarget>; tcpPort?: number }> {
    const plans = await this.planListeners(config, location);
    const onionHints = new Map<LocationItem, DialTarget>();
    let tcpPort: number | undefined;
    const accept = (stream: Duplex): void => {
      const handler = this.streamHandler;
      if (handler === undefined || this.stopping !== undefined) {
        stream.destroy();
        return;
      }
      handler(stream);
    };
    for (const plan of plans) {
      this.checkAborted();
      const transport = this.transports.get(plan.transport);
      if (transport === undefined) {
        throw new TahoeError(plan.transport === 'tor' ? 'TorUnavailable' : 'I2pUnavailable', `a ${plan.spec.kind} listener is configured, but ${plan.transport} is disabled`, {
          hint: plan.transport === 'tor' ? 'set [tor] enabled = true, or remove the onion listener' : 'set [i2p] enabled = true, or remove the I2P listener',
        });
      }
      if (plan.spec.kind === 'onion') this.progress('onion', `starting onion service (virtual port ${plan.spec.virtualPort})`);
      else if (plan.spec.kind === 'i2p') this.progress('i2p', 'creating the I2P destination session (building tunnels)');
      const listener = await transport.listen(plan.spec, (stream) => accept(stream));
      this.listeners.push(listener);
      this.progress('listen', `listening: ${listener.describe()}`);
      const hint = listener.hints[0];
      if (plan.locationItem !== undefined && hint !== undefined) onionHints.set(plan.locationItem, hint);
      if (plan.spec.kind === 'tcp' && hint?.kind === 'tcp') {
        tcpPort ??= hint.port;
        if (plan.rememberPort === true) await writeClientPort(this.directory, hint.port);
      }
    }
    return { onionHints, tcpPort };
  }

  private async startIntroducerService(cert: NodeCertificate, hints: ReturnType<typeof announcedHints>): Promise<void> {
    this.progress('introducer', 'starting the introducer service');
    const swissnum = (await readIntroducerSwissnum(this.directory)) ?? newSwissnum();
    const server = new IntroducerServer({ identity: { certPem: cert.certPem, keyPem: cert.keyPem }, swissnum, logger: this.log, timing: this.options.timing?.introducer });
    this.services.introducer = server;
    this.streamHandler = (stream) => server.acceptConnection(stream);
    const file = introducerFileContent({ spkiHash: spkiHash(cert.certificate), tubId: tubIdOf(cert.certificate) }, swissnum, hints);
    this.introducerNurlList = file.nurls;
    this.introducerFileLines = file.lines;
    await writeIntroducerFile(this.directory, file.lines);
    if (hints.length === 0) {
      this.log.warn('the introducer announces no location (tub.location gives no hint): nobody can reach it');
    } else if (file.hintsWithoutNurl.length > 0) {
      const which = file.hintsWithoutNurl.map(formatHint).join(', ');
      const fallback = file.nurls.length === 0 ? '; private/introducer.furl holds the older fURL form instead (clients still accept it)' : ', so clients given private/introducer.furl do not use them';
      this.log.warn(`tub.location hints without a NURL (legacy HOST:PORT or an unknown type): ${which}${fallback}; write a legacy HOST:PORT as tcp:HOST:PORT`);
    }
    if (file.nurls.length > 16) {
      this.log.warn(`the introducer has ${file.nurls.length} NURLs and clients accept at most 16: list fewer hints in tub.location`);
    }
    if (await hasStaleIntroducerNurls(this.directory)) {
      this.log.warn('private/introducer.nurls was written by an older tahoe-ts and is no longer updated: the NURLs are in private/introducer.furl now; delete private/introducer.nurls');
    }
    const what = file.nurls.length > 0 ? `its ${file.nurls.length} NURL${file.nurls.length === 1 ? ' is' : 's are'} in private/introducer.furl` : 'its address is in private/introducer.furl (fURL form: no hint can be a NURL)';
    this.progress('introducer', `introducer ready: ${what}`);
  }

  private async startStorage(config: NodeConfig, cert: NodeCertificate, hints: ReturnType<typeof announcedHints>): Promise<void> {
    this.progress('storage', 'starting the storage server');
    const identity = await loadStorageIdentity(this.directory, { hints, createCertificate: true });
    this.storageIdentity = identity;
    const store = await ShareStore.open({
      storageDir: config.storage.storageDir,
      nodeId: tubIdBytes(cert.certificate),
      reservedSpace: config.storage.reservedSpace,
      readonly: config.storage.readonly,
      logger: this.log.child('storage'),
    });
    this.store = store;
    const server = new StorageServer({ store, identity: { certPem: cert.certPem, keyPem: cert.keyPem }, swissnum: identity.swissnum, logger: this.log.child('storage') });
    this.services.storage = server;
    this.streamHandler = (stream) => server.acceptConnection(stream);
    this.startExpirer(config, store);

    const key = this.key as NodeKey;
    let seed = (await readNodeFile(this.directory, 'permutation-seed'))?.trim();
    if (seed === undefined || seed === '') {
      await writePermutationSeed(this.directory, key);
      seed = permutationSeedOf(key.publicKey);
    }
    // The storage room's announcement dict; the signer adds seqnum and nonce at each signing.
    const { seqnum: _seqnum, nonce: _nonce, ...dict } = buildStorageAnnouncement({ nickname: config.node.nickname, furl: identity.furl, nurls: identity.nurls, permutationSeedBase32: seed });
    const body = JSON.parse(JSON.stringify(dict)) as Record<string, AnnouncementValue>;
    this.signer = new AnnouncementSigner(key, body, seqnumStore(this.directory));
    this.progress('storage', `storage server ready: ${identity.nurls.length} NURL${identity.nurls.length === 1 ? '' : 's'} announced`);
  }

  /** `[storage] expire.*`: a pass now, then one every hour (LeaseExpirer's default). */
  private startExpirer(config: NodeConfig, store: ShareStore): void {
    const policy = expiryPolicyFromSettings(config.storage);
    if (policy === undefined) return;
    const expirer = new LeaseExpirer(store, { policy, logger: this.log.child('storage') });
    this.services.expirer = expirer;
    expirer.start();
    expirer.runOnce().catch((e: unknown) => this.log.warn('lease expiry pass failed:', asTahoeError(e)));
  }

  private async startGridClient(config: NodeConfig): Promise<void> {
    this.progress('grid', 'starting the grid client');
    const shares = config.client.shares;
    const grid = createGridClient({
      router: this.router,
      routerFor: (h) => this.routerFor(h),
      leaseSecret: await loadOrCreateSecret(this.directory, 'secret'),
      convergenceSecret: await loadOrCreateSecret(this.directory, 'convergence'),
      encoding: { k: shares.needed, happy: shares.happy, n: shares.total, maxSegmentSize: config.client.maxSegmentSize },
      mutableFormat: config.client.mutableFormat === 'mdmf' ? 'MDMF' : 'SDMF',
      logger: this.log,
      timing: this.options.timing?.grid,
    });
    this.services.grid = grid;

    const staticIds = new Set<string>();
    const serversText = await readServersYamlText(this.directory);
    if (serversText !== undefined) {
      const { servers } = parseServersYaml(serversText, path.join(this.directory, 'private', 'servers.yaml'));
      for (const s of servers) {
        grid.addStaticServer(s);
        staticIds.add(s.serverId);
      }
      this.log.info(`${servers.length} server${servers.length === 1 ? '' : 's'} from private/servers.yaml`);
    }

    const introducers: Array<[string, string]> = Object.entries(await readIntroducers(this.directory));
    const deprecated = config.client.introducerFurl;
    if (deprecated !== undefined) introducers.push(['default', deprecated]);
    if (introducers.length === 0 && staticIds.size === 0) {
      this.log.warn('no introducer (private/introducers.yaml) and no private/servers.yaml: this node knows no storage servers');
    }
    const hub = new AnnouncementHub(
      {
        add: (id, ann) => grid.addAnnouncement(id, ann, 'introducer'),
        remove: (id) => grid.removeServer(id),
      },
      { isStatic: (id) => staticIds.has(id), logger: this.log },
    );
    for (const [petname, text] of introducers) {
      let address: IntroducerAddress;
      try {
        address = parseIntroducerLocation(text);
      } catch (e) {
        if (!isTahoeError(e)) throw e;
        throw new TahoeError('ConfigInvalid', `introducer "${petname}": ${e.message}`, { hint: e.hint, cause: e });
      }
      const client = new IntroducerClient({
        petname,
        address,
        router: this.router,
        services: ['storage'],
        publisher: this.signer,
        cache: announcementCacheStore(this.directory, petname, this.log),
        onViewChange: () => hub.update(),
        logger: this.log,
        timing: this.options.timing?.introducerClient,
      });
      hub.attach(client);
      this.services.introducerClients.push(client);
    }
    // Caches first (servers known at once even when an introducer is down), then the network.
    for (const client of this.services.introducerClients) await client.start();
    if (introducers.length > 0) this.progress('introducer', `subscribed to ${introducers.length} introducer${introducers.length === 1 ? '' : 's'}`);
    if (this.signer !== undefined && introducers.length === 0) {
      this.log.warn('this storage server has no introducer to announce itself to; clients must list it in their private/servers.yaml (tahoe-ts admin storage-announcement prints the entry)');
    }
  }

  // ------------------------------------------------------------------ stop

  /** Close everything in reverse order. Idempotent; concurrent calls share one shutdown. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const step = async (what: string, run: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await run();
      } catch (e) {
        this.log.warn(`stopping: ${what} failed:`, asTahoeError(e));
      }
    };
    if (this.cfg !== undefined) this.progress('stopping', 'stopping the node');
    // A pass in progress ends at its next storage index; nothing is deleted after stop().
    await step('lease expirer', () => this.services.expirer?.stop());
    await step('web gateway', () => this.services.web?.close());
    await Promise.all(this.services.introducerClients.map((c) => step('introducer client', () => c.close())));
    await step('grid client', () => this.services.grid?.close());
    // Listeners (onion services are removed from tor with DEL_ONION here), then the servers.
    await Promise.all(this.listeners.map((l) => step('listener', () => l.close())));
    await step('introducer service', () => this.services.introducer?.close());
    await step('storage server', () => this.services.storage?.close());
    await step('share store', () => this.store?.close());
    // Transports: tor closes its control connection (a launched tor exits), i2p its sessions.
    // The I2P provider closes its transport, then stops a router it launched.
    await step('i2p', () => this.i2pProvider?.close());
    for (const name of ['tor', 'tcp'] as const) await step(`${name} transport`, () => this.transports.get(name)?.close());
    if (this.cfg !== undefined) this.log.info('node stopped');
    await this.fileSink?.close();
    await step('node lock', () => this.lock?.release());
  }
}

/** For printing: redact an address-bearing line as the node's logger would. */
export function redactForNode(node: TahoeNode, text: string): string {
  return redact(text, node.logger.revealsAddresses);
}
