/**
 * Where this node's Tor comes from: a tor we launch, a system tor reached through its
 * control port, a SOCKS port alone, or one found at the usual places. The result is a
 * SOCKS endpoint (all dialling needs, G-2) and, when available, an authenticated control
 * connection (needed for onion services).
 *
 * Spec: shared/specs/configuration.md §2 `[tor]` (the five valid combinations) and §5
 * (discovery order), tor.md §4 ("Connecting to an existing tor"), anonymity-checklist AN-6,
 * G-2, G-6, G-9.
 */
import { TahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { clientEndpointToSocketEndpoint, parseClientEndpoint } from '../hints.js';
import { openSocket, type EgressGate, type SocketEndpoint } from '../socket.js';
import { connectTorControl, type AuthenticateOptions, type BootstrapStatus, type TorControlClient } from './control.js';
import { dialableListener } from './control-protocol.js';
import { launchTor, type LaunchedTor } from './launch.js';

export { dialableListener };

export interface TorProviderOptions {
  gate: EgressGate;
  /** `[tor] launch`: start our own tor (needs `dataDir`). */
  launch?: boolean;
  /** `[tor] tor.executable` */
  executable?: string;
  /** Launch: persistent DataDirectory (NODEDIR/private/tor-statedir). */
  dataDir?: string;
  /** Launch: unix control socket (NODEDIR/private/tor.control). */
  controlSocketPath?: string;
  /** Launch: `--defaults-torrc` file, e.g. a private test network's options. */
  extraTorrc?: string;
  /** Launch: more `--Key value` options. */
  extraOptions?: Array<[string, string]>;
  /** `[tor] control.port`: `tcp:HOST:PORT` / `unix:PATH`, or a parsed endpoint. */
  controlPort?: string | SocketEndpoint;
  /** `[tor] socks.port`: SOCKS only; enough for dialling (G-2), not for onion services. */
  socksPort?: string | SocketEndpoint;
  /** For a control port that wants HASHEDPASSWORD. */
  controlPassword?: AuthenticateOptions['password'];
  /** Launch: default 180 s. Attach: how long to wait for an attached tor to be bootstrapped (default 0 = do not wait). */
  bootstrapTimeoutMs?: number;
  onProgress?: (status: BootstrapStatus) => void;
  signal?: AbortSignal;
  logger?: Logger;
  /** Where to look when nothing is configured (tests inject their own; defaults per configuration.md §5). */
  discovery?: { control: SocketEndpoint[]; socks: SocketEndpoint[] };
  /** Per attempt when probing candidates (default 3 s). */
  probeTimeoutMs?: number;
}

export type TorProviderMode = 'launched' | 'control-port' | 'socks-port' | 'discovered-control' | 'discovered-socks';

export interface TorProvider {
  readonly mode: TorProviderMode;
  /** Tor's SOCKS listener to dial through. */
  readonly socks: SocketEndpoint;
  /** Authenticated control connection (absent in SOCKS-only modes). */
  readonly control: TorControlClient | undefined;
  /** The control endpoint that worked (what create-node writes as `control.port`). */
  readonly controlEndpoint: SocketEndpoint | undefined;
  readonly version: string | undefined;
  /** For logs and the status page (addresses are loopback or local paths). */
  describe(): string;
  /** Close the control connection; a launched tor exits with it. */
  close(): Promise<void>;
}

/** Discovery order of configuration.md §5. */
export const DEFAULT_DISCOVERY: { control: SocketEndpoint[]; socks: SocketEndpoint[] } = {
  control: [{ path: '/var/run/tor/control' }, { host: '127.0.0.1', port: 9051 }, { host: '127.0.0.1', port: 9151 }],
  socks: [{ host: '127.0.0.1', port: 9050 }, { host: '127.0.0.1', port: 9150 }],
};

export function describeEndpoint(endpoint: SocketEndpoint): string {
  return 'path' in endpoint ? `unix:${endpoint.path}` : `tcp:${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

function toEndpoint(value: string | SocketEndpoint, what: string): SocketEndpoint {
  return typeof value === 'string' ? clientEndpointToSocketEndpoint(parseClientEndpoint(value, what)) : value;
}

/** Set up Tor as the options say; every failure is a TahoeError saying what to change. */
export async function connectTorProvider(options: TorProviderOptions): Promise<TorProvider> {
  throwIfAborted(options.signal);
  const logger = options.logger ?? silentLogger;
  if (options.launch) {
    if (options.controlPort !== undefined || options.socksPort !== undefined) {
      throw new TahoeError('ConfigInvalid', '[tor] launch = true cannot be combined with control.port or socks.port', {
        hint: 'either launch a private tor (launch = true) or use an existing one (control.port / socks.port), not both',
        details: { key: 'tor.launch' },
      });
    }
    if (options.dataDir === undefined) throw new TahoeError('Internal', 'launching tor needs a data directory');
    const launched = await launchTor({
      gate: options.gate,
      executable: options.executable,
      dataDir: options.dataDir,
      controlSocketPath: options.controlSocketPath,
      extraTorrc: options.extraTorrc,
      extraOptions: options.extraOptions,
      bootstrapTimeoutMs: options.bootstrapTimeoutMs,
      onProgress: options.onProgress,
      signal: options.signal,
      logger,
    });
    return launchedProvider(launched);
  }

  if (options.controlPort !== undefined) {
    const endpoint = toEndpoint(options.controlPort, '[tor] control.port');
    options.gate.admit?.(endpoint, 'tor-control', '[tor] control.port');
    const control = await connectTorControl(endpoint, { gate: options.gate, signal: options.signal, logger, password: options.controlPassword }).catch((e: unknown) => {
      throw explainControlFailure(e, endpoint, 'configured');
    });
    try {
      return await attachedProvider(control, endpoint, 'control-port', options, options.socksPort);
    } catch (e) {
      await control.close();
      throw e;
    }
  }

  if (options.socksPort !== undefined) {
    const socks = toEndpoint(options.socksPort, '[tor] socks.port');
    options.gate.admit?.(socks, 'tor-socks', '[tor] socks.port');
    // Opened once to fail early with a clear message; tor itself is asked nothing.
    await probeSocks(socks, options).catch((e: unknown) => {
      // EPERM: refused on this machine before any packet (a firewall, or torsocks): openSocket's hint says so.
      const refusedLocally = e instanceof TahoeError && e.details.code === 'EPERM';
      throw new TahoeError('TorUnavailable', `${refusedLocally ? 'not allowed to connect to' : 'nothing answers at'} [tor] socks.port = ${describeEndpoint(socks)}${refusedLocally ? ' (EPERM)' : ''}`, {
        cause: e,
        hint: refusedLocally ? e.hint : 'is tor running with that SocksPort? check the address, start tor, or set [tor] launch = true',
        details: { endpoint: describeEndpoint(socks) },
      });
    });
    return socksOnlyProvider(socks, 'socks-port');
  }

  return discover(options, logger);
}

async function discover(options: TorProviderOptions, logger: Logger): Promise<TorProvider> {
  const candidates = options.discovery ?? DEFAULT_DISCOVERY;
  const problems: string[] = [];
  let permissionProblem: TahoeError | undefined;
  let privacyProblem: TahoeError | undefined;
  for (const endpoint of candidates.control) {
    throwIfAborted(options.signal);
    options.gate.admit?.(endpoint, 'tor-control', 'tor discovery');
    try {
      const control = await connectTorControl(endpoint, {
        gate: options.gate,
        signal: options.signal,
        timeoutMs: options.probeTimeoutMs ?? 3000,
        logger,
        password: options.controlPassword,
      });
      try {
        return await attachedProvider(control, endpoint, 'discovered-control', options, undefined);
      } catch (e) {
        await control.close();
        throw e;
      }
    } catch (e) {
      const error = explainControlFailure(e, endpoint, 'discovered');
      if (error.kind === 'Aborted') throw error;
      if (error.kind === 'PrivacyViolation') privacyProblem ??= error;
      if (error.details.code === 'EACCES' || error.kind === 'TorAuthFailed') permissionProblem ??= error;
      problems.push(`control ${describeEndpoint(endpoint)}: ${firstLine(error.message)}`);
      logger.debug(`tor discovery: ${problems[problems.length - 1]}`);
    }
  }
  for (const endpoint of candidates.socks) {
    throwIfAborted(options.signal);
    options.gate.admit?.(endpoint, 'tor-socks', 'tor discovery');
    try {
      await probeSocks(endpoint, options);
      logger.info(`using tor's SOCKS port at ${describeEndpoint(endpoint)} (no control port: onion services unavailable)`);
      return socksOnlyProvider(endpoint, 'discovered-socks');
    } catch (e) {
      const error = e instanceof TahoeError ? e : new TahoeError('TorUnavailable', String(e));
      if (error.kind === 'Aborted') throw error;
      if (error.kind === 'PrivacyViolation') privacyProblem ??= error;
      problems.push(`socks ${describeEndpoint(endpoint)}: ${firstLine(error.message)}`);
    }
  }
  const tried = problems.map((p) => `  ${p}`).join('\n');
  if (permissionProblem) {
    throw new TahoeError(permissionProblem.kind, `found tor's control port but cannot use it:\n${tried}`, {
      cause: permissionProblem,
      hint: permissionProblem.hint,
      details: { tried: problems.length },
    });
  }
  if (privacyProblem) {
    throw new TahoeError('PrivacyViolation', `the privacy policy refused every place where tor could be:\n${tried}`, {
      cause: privacyProblem,
      hint: privacyProblem.hint,
    });
  }
  throw new TahoeError('TorUnavailable', `no tor found:\n${tried}`, {
    hint: 'install and start tor (Debian: apt install tor), or set [tor] launch = true to let tahoe-ts start its own, or point [tor] control.port / socks.port at a running tor',
    details: { tried: problems.length },
  });
}

async function attachedProvider(
  control: TorControlClient,
  endpoint: SocketEndpoint,
  mode: TorProviderMode,
  options: TorProviderOptions,
  socksOverride: string | SocketEndpoint | undefined,
): Promise<TorProvider> {
  const version = await control.getVersion();
  await control.setEvents(['STATUS_CLIENT', 'HS_DESC']);
  if ((options.bootstrapTimeoutMs ?? 0) > 0) await waitAttachedBootstrap(control, options);
  let socks: SocketEndpoint | undefined;
  if (socksOverride !== undefined) {
    socks = toEndpoint(socksOverride, '[tor] socks.port');
    options.gate.admit?.(socks, 'tor-socks', '[tor] socks.port');
  } else {
    const listeners = (await control.getSocksListeners()).map(dialableListener);
    // Learned from the tor we authenticated to: its own SOCKS listeners.
    for (const listener of listeners) options.gate.admit?.(listener, 'tor-socks', `tor's SOCKS listener (via ${describeEndpoint(endpoint)})`);
    socks = listeners.find((l) => 'path' in l) ?? listeners[0];
    if (socks === undefined) {
      throw new TahoeError('TorUnavailable', `the tor at ${describeEndpoint(endpoint)} has no SOCKS listener`, {
        hint: 'tor opens no SocksPort (SocksPort 0, or DisableNetwork 1): enable one in its torrc, or set [tor] socks.port',
        details: { endpoint: describeEndpoint(endpoint) },
      });
    }
  }
  const chosen = socks;
  return {
    mode,
    socks: chosen,
    control,
    controlEndpoint: endpoint,
    version,
    describe: () => `tor ${version} via control ${describeEndpoint(endpoint)}, SOCKS ${describeEndpoint(chosen)}`,
    close: () => control.close(),
  };
}

async function waitAttachedBootstrap(control: TorControlClient, options: TorProviderOptions): Promise<void> {
  const deadline = Date.now() + (options.bootstrapTimeoutMs ?? 0);
  let last: BootstrapStatus | undefined;
  for (;;) {
    throwIfAborted(options.signal);
    const status = await control.getBootstrapStatus();
    if (!last || last.progress !== status.progress) options.onProgress?.(status);
    last = status;
    if (status.progress >= 100) return;
    if (Date.now() > deadline) {
      throw new TahoeError('TorBootstrapTimeout', `the running tor is not bootstrapped (${status.progress}%: ${status.summary})`, {
        hint: 'check that tor has network access and a correct system clock; see its log',
        details: { progress: status.progress },
      });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function launchedProvider(launched: LaunchedTor): TorProvider {
  return {
    mode: 'launched',
    socks: launched.socks,
    control: launched.control,
    controlEndpoint: launched.controlEndpoint,
    version: launched.version,
    describe: () => `tor ${launched.version} launched by tahoe-ts (pid ${launched.pid}), SOCKS ${describeEndpoint(launched.socks)}`,
    close: () => launched.stop(),
  };
}

function socksOnlyProvider(socks: SocketEndpoint, mode: TorProviderMode): TorProvider {
  return {
    mode,
    socks,
    control: undefined,
    controlEndpoint: undefined,
    version: undefined,
    describe: () => `tor SOCKS ${describeEndpoint(socks)} (no control port)`,
    close: async () => undefined,
  };
}

/**
 * Is something listening there? Only a TCP/unix connect, closed at once: nothing is sent,
 * so a non-tor service learns nothing, and the egress gate decides first.
 */
async function probeSocks(endpoint: SocketEndpoint, options: TorProviderOptions): Promise<void> {
  const socket = await openSocket(endpoint, { gate: options.gate, purpose: 'tor-socks', signal: options.signal, timeoutMs: options.probeTimeoutMs ?? 3000 });
  socket.destroy();
}

function explainControlFailure(e: unknown, endpoint: SocketEndpoint, how: 'configured' | 'discovered'): TahoeError {
  const error = e instanceof TahoeError ? e : new TahoeError('TorUnavailable', String(e), { cause: e });
  if (error.kind === 'ServerUnreachable') {
    const code = error.details.code;
    const where = describeEndpoint(endpoint);
    if (code === 'EACCES') {
      return new TahoeError('TorUnavailable', `permission denied on tor's control socket ${where}`, {
        cause: e,
        hint: 'add your user to the group that owns the socket (Debian: `sudo adduser $USER debian-tor`, then log in again), or set [tor] control.port to a port you may use',
        details: { code, endpoint: where },
      });
    }
    return new TahoeError('TorUnavailable', `no tor control port at ${where} (${code ?? 'unreachable'})`, {
      cause: e,
      hint:
        how === 'configured'
          ? 'is tor running with that ControlPort? check [tor] control.port, enable ControlPort in the torrc, or set [tor] launch = true'
          : 'enable a ControlPort in tor\'s torrc, set [tor] control.port, or set [tor] launch = true',
      details: { code, endpoint: where },
    });
  }
  return error;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}
