/**
 * The I2P provider: decides, from the `[i2p]` section of tahoe.cfg (configuration.md §2),
 * which SAM bridge the node uses — an existing router (`sam.port`, or the SAM port read
 * from `i2p.configdir`, default `tcp:127.0.0.1:7656`) or our own i2pd (`launch = true`,
 * data under `private/i2pd/`) — and hands out the I2P transport on top of it.
 *
 * A launched router runs as long as the provider: `close()` closes the SAM sockets first
 * (i2pd hangs on SIGTERM while SAM clients are connected), then stops the router (SIGTERM,
 * SIGKILL after 5 s). If tahoe-ts dies without closing, the kernel signals the router
 * (router-process.ts: setpriv --pdeathsig).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { parseClientEndpoint } from '../hints.js';
import type { EgressGate } from '../socket.js';
import { launchI2pd, type I2pdProcess } from './router-process.js';
import { DEFAULT_SAM_ENDPOINT, SamClient, type SamEndpoint, type SamTimeouts } from './sam.js';
import { I2pTransport } from './transport.js';

/** The `[i2p]` keys the provider needs (already read from tahoe.cfg by config/). */
export interface I2pConfig {
  /** `[i2p] enabled` (default true). */
  enabled?: boolean;
  /** `[i2p] sam.port`, a client endpoint such as `tcp:127.0.0.1:7656`. */
  samPort?: string;
  /** `[i2p] launch`. */
  launch?: boolean;
  /** `[i2p] i2p.executable` (with launch). */
  executable?: string;
  /** `[i2p] i2p.configdir`: read the SAM port from this router's configuration. */
  configDir?: string;
}

export interface I2pProviderOptions {
  /** The node directory (a launched router keeps its state in `private/i2pd/`). */
  nodeDir: string;
  gate: EgressGate;
  logger?: Logger;
  onProgress?: (message: string) => void;
  /** Session options for every session (default: production options). */
  sessionOptions?: Readonly<Record<string, string>>;
  timeouts?: Partial<SamTimeouts>;
  /**
   * For tests and `demo --network i2p-local`: launch an offline single-router network
   * instead of joining the real I2P network.
   */
  launchMode?: 'network' | 'offline';
  /** Check that the bridge answers HELLO before returning (default true). */
  probe?: boolean;
}

export interface I2pProvider {
  readonly samEndpoint: SamEndpoint;
  readonly sam: SamClient;
  readonly transport: I2pTransport;
  /** Set when we launched the router. */
  readonly launched: { pid: number; dataDir: string } | undefined;
  /** One line for the status page. */
  describe(): string;
  /** Close the transport (all SAM sockets), then stop a launched router. */
  close(): Promise<void>;
}

/** `tcp:HOST:PORT` → SAM endpoint; SAM bridges listen on TCP only. */
export function parseSamPort(text: string): SamEndpoint {
  const ep = parseClientEndpoint(text, '[i2p] sam.port');
  if (ep.type !== 'tcp') {
    throw new TahoeError('ConfigInvalid', `[i2p] sam.port must be a tcp: endpoint, not ${ep.type}:`, {
      hint: 'SAM bridges listen on TCP: write e.g. sam.port = tcp:127.0.0.1:7656',
      details: { key: 'i2p.sam.port' },
    });
  }
  return { host: ep.host, port: ep.port };
}

function configError(message: string, hint: string): TahoeError {
  return new TahoeError('ConfigInvalid', message, { hint, details: { key: 'i2p.i2p.configdir' } });
}

/** Minimal INI reading for i2pd.conf: `[section]`, `key = value`, `#` comments. */
function iniSections(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>([['', new Map()]]);
  let current = sections.get('') as Map<string, string>;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1].trim()) ?? new Map();
      sections.set(section[1].trim(), current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return sections;
}

function validPort(value: string | undefined, what: string): number {
  const port = Number(value);
  if (!value || !/^\d+$/.test(value) || port < 1 || port > 65535) throw configError(`${what}: invalid SAM port ${JSON.stringify(value ?? '')}`, 'fix the router configuration, or set [i2p] sam.port instead');
  return port;
}

/**
 * The SAM endpoint configured in a router's config directory: i2pd (`i2pd.conf`, section
 * `[sam]`) or Java I2P (`clients.config` / `clients.config.d/*`, the SAMBridge client's
 * `args = <keyfile> <host> <port> …`).
 */
export async function samEndpointFromConfigDir(dir: string): Promise<SamEndpoint> {
  const read = async (file: string) => fs.readFile(path.join(dir, file), 'utf8').catch(() => undefined);
  const i2pdConf = await read('i2pd.conf');
  if (i2pdConf !== undefined) {
    const sam = iniSections(i2pdConf).get('sam') ?? new Map<string, string>();
    if ((sam.get('enabled') ?? 'true').toLowerCase() === 'false') {
      throw configError(`the SAM bridge is disabled in ${path.join(dir, 'i2pd.conf')}`, 'set enabled = true in the [sam] section of i2pd.conf and restart i2pd');
    }
    return { host: sam.get('address') || DEFAULT_SAM_ENDPOINT.host, port: sam.has('port') ? validPort(sam.get('port'), 'i2pd.conf [sam] port') : DEFAULT_SAM_ENDPOINT.port };
  }
  const javaFiles: string[] = [];
  const single = await read('clients.config');
  if (single !== undefined) javaFiles.push(single);
  const dDir = path.join(dir, 'clients.config.d');
  const entries = await fs.readdir(dDir).catch(() => [] as string[]);
  for (const name of entries.sort()) {
    const text = await read(path.join('clients.config.d', name));
    if (text !== undefined) javaFiles.push(text);
  }
  if (javaFiles.length === 0) {
    throw configError(`no i2pd.conf or clients.config in [i2p] i2p.configdir ${dir}`, 'point i2p.configdir at the router\'s configuration directory (e.g. /etc/i2pd or ~/.i2p), or set [i2p] sam.port');
  }
  for (const text of javaFiles) {
    const props = new Map<string, string>();
    for (const raw of text.split(/\r?\n/)) {
      const m = /^\s*([^#=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(raw);
      if (m) props.set(m[1], m[2]);
    }
    for (const [key, value] of props) {
      const m = /^clientApp\.(\d+)\.main$/.exec(key);
      if (!m || value !== 'net.i2p.sam.SAMBridge') continue;
      const n = m[1];
      if ((props.get(`clientApp.${n}.startOnLoad`) ?? 'true') === 'false') {
        throw configError('the SAM bridge is disabled in the Java I2P router (clients.config: startOnLoad=false)', 'enable "SAM application bridge" in the router console (http://127.0.0.1:7657/configclients) and start it');
      }
      const args = (props.get(`clientApp.${n}.args`) ?? '').split(/\s+/).filter(Boolean);
      // args: [keyfile] [host] [port] [options…]
      const hostPort = args.filter((a) => !a.includes('='));
      const port = hostPort.find((a) => /^\d+$/.test(a));
      const host = hostPort.find((a) => /^[\d.]+$|^localhost$/.test(a) && a !== port);
      return { host: host ?? DEFAULT_SAM_ENDPOINT.host, port: port ? validPort(port, 'clients.config SAMBridge args') : DEFAULT_SAM_ENDPOINT.port };
    }
  }
  throw configError(`no SAM bridge configured in the Java I2P router at ${dir}`, 'enable "SAM application bridge" in the router console (http://127.0.0.1:7657/configclients)');
}

/** The data directory of a launched router: `<node>/private/i2pd/`. */
export function launchedRouterDir(nodeDir: string): string {
  return path.join(nodeDir, 'private', 'i2pd');
}

/**
 * Start (or attach to) the I2P router the configuration asks for. Throws
 * `I2pUnavailable` with a hint when the bridge cannot be reached, `ConfigInvalid` for
 * contradictory settings.
 */
export async function startI2pProvider(config: I2pConfig, options: I2pProviderOptions): Promise<I2pProvider> {
  const logger = (options.logger ?? silentLogger).child('i2p');
  if (config.enabled === false) {
    throw new TahoeError('ConfigInvalid', 'I2P is disabled ([i2p] enabled = false)', { hint: 'set [i2p] enabled = true to use I2P', details: { key: 'i2p.enabled' } });
  }
  if (config.launch && (config.samPort !== undefined || config.configDir !== undefined)) {
    throw new TahoeError('ConfigInvalid', '[i2p] launch = true cannot be combined with sam.port or i2p.configdir', {
      hint: 'either let tahoe-ts launch its own router (launch = true) or name an existing one (sam.port / i2p.configdir), not both',
      details: { key: 'i2p.launch' },
    });
  }
  if (!config.launch && config.executable !== undefined) {
    throw new TahoeError('ConfigInvalid', '[i2p] i2p.executable is only used with launch = true', { hint: 'set [i2p] launch = true, or remove i2p.executable', details: { key: 'i2p.i2p.executable' } });
  }

  let router: I2pdProcess | undefined;
  let endpoint: SamEndpoint;
  if (config.launch) {
    const dataDir = launchedRouterDir(options.nodeDir);
    options.onProgress?.(`launching i2pd in ${dataDir}`);
    router = await launchI2pd({
      dataDir,
      mode: options.launchMode ?? 'network',
      executable: config.executable,
      onProgress: options.onProgress,
      logger,
    });
    endpoint = router.samEndpoint;
  } else if (config.samPort !== undefined) {
    endpoint = parseSamPort(config.samPort);
  } else if (config.configDir !== undefined) {
    endpoint = await samEndpointFromConfigDir(config.configDir);
  } else {
    endpoint = DEFAULT_SAM_ENDPOINT;
  }

  options.gate.admit?.(endpoint, 'i2p-sam', router !== undefined ? 'the i2pd tahoe-ts launched' : config.samPort !== undefined ? '[i2p] sam.port' : config.configDir !== undefined ? '[i2p] i2p.configdir' : 'the default SAM port');
  const sam = new SamClient({ endpoint, gate: options.gate, timeouts: options.timeouts, logger: options.logger });
  try {
    if (options.probe !== false) {
      const version = await sam.probe();
      logger.info(`I2P SAM ${version} at ${endpoint.host}:${endpoint.port}${router ? ` (launched i2pd, pid ${router.pid})` : ''}`);
    }
  } catch (e) {
    await router?.stop();
    throw e;
  }
  const transport = new I2pTransport({ sam, sessionOptions: options.sessionOptions, logger: options.logger });
  let closed = false;
  return {
    samEndpoint: endpoint,
    sam,
    transport,
    launched: router ? { pid: router.pid, dataDir: router.dataDir } : undefined,
    describe: () => `${transport.describe().summary}${router ? `; launched i2pd pid ${router.pid}` : ''}`,
    close: async () => {
      if (closed) return;
      closed = true;
      await transport.close();
      await router?.stop();
    },
  };
}
