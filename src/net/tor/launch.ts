/**
 * Launch a private tor for this node (`[tor] launch = true`) and own it: it reads no system
 * torrc, keeps its state in a persistent 0700 DataDirectory, listens for control
 * connections on a unix socket in a 0700 directory, authenticates with SAFECOOKIE, and
 * exits when we do (__OwningControllerProcess, then TAKEOWNERSHIP).
 *
 * Spec: shared/specs/tor.md §4 ("Recommended argv for tahoe-ts"), anonymity-checklist
 * AN-6; torspec `control-spec.txt` §3.23 (TAKEOWNERSHIP), §5.5 (bootstrap phases).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { EgressGate, SocketEndpoint } from '../socket.js';
import { connectTorControl, type BootstrapStatus, type TorControlClient, type TorEvent } from './control.js';
import { checkPrivatePermissions } from './onion-key.js';
import { dialableListener } from './control-protocol.js';
import { spawnTor, stopTor, type TorChild } from './process.js';
import { waitForExit } from '../owned-process.js';

export interface LaunchTorOptions {
  gate: EgressGate;
  /** tor binary (default: `tor` on PATH). */
  executable?: string;
  /** Persistent DataDirectory, e.g. NODEDIR/private/tor-statedir (created 0700). */
  dataDir: string;
  /**
   * Unix control socket, e.g. NODEDIR/private/tor.control; its directory must be 0700.
   * Default: `control.socket` inside dataDir. Paths too long for a unix socket fall back
   * to a loopback TCP port written to a file.
   */
  controlSocketPath?: string;
  /** A torrc of extra defaults (`--defaults-torrc`), e.g. a private test network's options. */
  extraTorrc?: string;
  /** More options as `--Key value` pairs (tests: SafeSocks, TestSocks). */
  extraOptions?: Array<[string, string]>;
  /** Also open a unix SOCKS socket here (its directory must be 0700). */
  socksSocketPath?: string;
  /** Default 180 s. */
  bootstrapTimeoutMs?: number;
  onProgress?: (status: BootstrapStatus) => void;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface LaunchedTor {
  /** The owning control connection: closing it makes tor exit. */
  readonly control: TorControlClient;
  readonly controlEndpoint: SocketEndpoint;
  /** Every SOCKS listener tor reports (TCP and unix). */
  readonly socksEndpoints: SocketEndpoint[];
  /** The SOCKS listener to use (the unix socket when asked for, else the TCP port). */
  readonly socks: SocketEndpoint;
  readonly pid: number;
  readonly version: string;
  /** Milliseconds from spawn to 100 % bootstrap. */
  readonly bootstrapMs: number;
  readonly exited: Promise<unknown>;
  /** Shut tor down (close the owning connection; signals if it lingers). Idempotent. */
  stop(): Promise<void>;
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
const MAX_UNIX_PATH_BYTES = 107;
const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 180_000;
const ANOTHER_TOR = /another Tor process is running with the same data directory|Couldn't lock/i;

export async function launchTor(options: LaunchTorOptions): Promise<LaunchedTor> {
  throwIfAborted(options.signal);
  const logger = options.logger ?? silentLogger;
  const dataDir = path.resolve(options.dataDir);
  await ensurePrivateDir(dataDir);
  const controlSocketPath = path.resolve(options.controlSocketPath ?? path.join(dataDir, 'control.socket'));
  const controlPortFile = path.join(dataDir, 'controlport');
  const useUnixControl = Buffer.byteLength(controlSocketPath) <= MAX_UNIX_PATH_BYTES;
  if (useUnixControl) await ensurePrivateDir(path.dirname(controlSocketPath));
  if (options.socksSocketPath !== undefined) await ensurePrivateDir(path.dirname(path.resolve(options.socksSocketPath)));
  await fs.rm(controlPortFile, { force: true });

  const args = [
    '-f', '/dev/null', '--ignore-missing-torrc',
    // no system defaults either: only what we pass, plus the caller's defaults file
    '--defaults-torrc', options.extraTorrc ?? '/dev/null',
    '--DataDirectory', dataDir,
    '--CookieAuthentication', '1',
    '--SocksPort', 'auto ExtendedErrors',
    '--__OwningControllerProcess', String(process.pid),
    '--Log', 'notice stdout',
  ];
  if (useUnixControl) args.push('--ControlPort', `unix:${controlSocketPath}`);
  else args.push('--ControlPort', 'auto', '--ControlPortWriteToFile', controlPortFile);
  if (options.socksSocketPath !== undefined) args.push('--SocksPort', `unix:${path.resolve(options.socksSocketPath)}`);
  for (const [key, value] of options.extraOptions ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new TahoeError('BadInput', `not a tor option name: ${JSON.stringify(key)}`);
    args.push(`--${key}`, value);
  }

  logger.info(`launching ${options.executable ?? 'tor'} with DataDirectory ${dataDir}`);
  const started = Date.now();
  const tor = await spawnTor(args, { executable: options.executable, marker: dataDir, detached: true });
  let control: TorControlClient | undefined;
  try {
    const controlEndpoint = useUnixControl ? { path: controlSocketPath } : await readControlPortFile(controlPortFile, tor, options.signal);
    options.gate.admit?.(controlEndpoint, 'tor-control', 'the tor tahoe-ts launched');
    control = await connectWhenReady(tor, controlEndpoint, dataDir, options);
    // From here on tor lives exactly as long as this connection.
    await control.takeOwnership();
    await control.resetConf(['__OwningControllerProcess']);
    const version = await control.getVersion();
    logger.info(`tor ${version} started (pid ${tor.pid}); waiting for bootstrap`);
    await waitForBootstrap(control, tor, options, logger);
    const bootstrapMs = Date.now() - started;
    const socksEndpoints = (await control.getSocksListeners()).map(dialableListener);
    for (const endpoint of socksEndpoints) options.gate.admit?.(endpoint, 'tor-socks', 'the tor tahoe-ts launched');
    const socks = socksEndpoints.find((e) => 'path' in e) ?? socksEndpoints[0];
    if (socks === undefined) {
      throw new TahoeError('TorUnavailable', 'the launched tor reports no SOCKS listener', { hint: 'check the extra tor options: one of them may disable SocksPort' });
    }
    const owned = control;
    let stopping: Promise<void> | undefined;
    return {
      control: owned,
      controlEndpoint,
      socksEndpoints,
      socks,
      pid: tor.pid,
      version,
      bootstrapMs,
      exited: tor.exited,
      stop: () => (stopping ??= shutdown(owned, tor)),
    };
  } catch (e) {
    if (control) await shutdown(control, tor);
    else await stopTor(tor);
    throw explainLaunchFailure(e, tor, dataDir);
  }
}

async function shutdown(control: TorControlClient, tor: TorChild): Promise<void> {
  // Closing the owning connection makes tor exit within ~50 ms; signals only if it lingers.
  await control.close().catch(() => undefined);
  if (!(await waitForExit(tor.exited, 5000))) await stopTor(tor);
}

async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new TahoeError('NodeDirInvalid', `cannot create ${dir}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, {
      cause,
      hint: 'check that the node directory exists and belongs to you',
    });
  }
  // tor refuses group/world-accessible data and control-socket directories anyway; say why first.
  await checkPrivatePermissions(dir, 'directory');
}

async function readControlPortFile(file: string, tor: TorChild, signal: AbortSignal | undefined): Promise<SocketEndpoint> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    if (tor.hasExited()) throw new TahoeError('TorUnavailable', 'tor exited during start', { hint: 'see the tor output in the message' });
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    const m = /^PORT=(127\.0\.0\.1|\[::1\]):(\d+)$/m.exec(text);
    if (m) return { host: m[1] === '[::1]' ? '::1' : m[1], port: Number(m[2]) };
    await sleep(50);
  }
  throw new TahoeError('TorUnavailable', 'tor did not open its control port within 60 s', { hint: 'the machine may be overloaded; see the tor output' });
}

async function connectWhenReady(tor: TorChild, endpoint: SocketEndpoint, dataDir: string, options: LaunchTorOptions): Promise<TorControlClient> {
  const cookie = path.join(dataDir, 'control_auth_cookie');
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    throwIfAborted(options.signal);
    if (tor.hasExited()) throw new TahoeError('TorUnavailable', 'tor exited during start', { hint: 'see the tor output in the message' });
    // tor would wait 5 s for the other process before giving up; no need to wait with it
    if (ANOTHER_TOR.test(tor.output())) throw new TahoeError('TorUnavailable', 'another tor process holds the data directory', { hint: 'see below' });
    const ready = 'path' in endpoint ? await exists(endpoint.path) : true;
    if (ready && (await exists(cookie))) {
      try {
        return await connectTorControl(endpoint, { gate: options.gate, signal: options.signal, timeoutMs: 5000, logger: options.logger, cookiePath: cookie });
      } catch (e) {
        lastError = e;
        if (e instanceof TahoeError && (e.kind === 'PrivacyViolation' || e.kind === 'Aborted')) throw e;
      }
    }
    await sleep(50);
  }
  throw new TahoeError('TorUnavailable', 'could not connect to the control port of the tor we launched within 60 s', { cause: lastError, hint: 'see the tor output in the message' });
}

async function waitForBootstrap(control: TorControlClient, tor: TorChild, options: LaunchTorOptions, logger: Logger): Promise<void> {
  const timeoutMs = options.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS;
  let last: BootstrapStatus | undefined;
  let lastWarning: BootstrapStatus | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const report = (status: BootstrapStatus) => {
    if (status.warning !== undefined) lastWarning = status;
    if (last && last.progress === status.progress && last.summary === status.summary && status.warning === undefined) return;
    last = status;
    logger.info(`tor bootstrap ${status.progress}%: ${status.summary}${status.warning ? ` (warning: ${status.warning})` : ''}`);
    options.onProgress?.(status);
    if (status.progress >= 100) done();
  };
  const unsubscribe = control.onEvent((event: TorEvent) => {
    if (event.type === 'STATUS_CLIENT' && event.bootstrap) report(event.bootstrap);
  });
  let timer: NodeJS.Timeout | undefined;
  let poller: NodeJS.Timeout | undefined;
  const onAbort = () => done();
  try {
    // HS_DESC too: SETEVENTS replaces the subscription, and onion services need it later.
    await control.setEvents(['STATUS_CLIENT', 'HS_DESC']);
    report(await control.getBootstrapStatus());
    // Events can be missed between SETEVENTS and the first poll, so poll too (onionshare: 0.2 s).
    const poll = async () => {
      try {
        report(await control.getBootstrapStatus({ timeoutMs: 10_000 }));
      } catch {
        // the close/exit checks below report the real problem
      }
      if (!control.closed) poller = setTimeout(() => void poll(), 1000);
    };
    poller = setTimeout(() => void poll(), 1000);
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const torExited = tor.exited.then(() => 'exited' as const);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const outcome = await Promise.race([finished.then(() => 'done' as const), timedOut, torExited]);
    throwIfAborted(options.signal);
    if (outcome === 'exited') throw new TahoeError('TorUnavailable', 'tor exited while bootstrapping', { hint: 'see the tor output in the message' });
    if (outcome === 'timeout') {
      const where = last ? `stuck at ${last.progress}% (${last.summary})` : 'no progress reported';
      const warning = lastWarning?.warning ? `; tor says: ${lastWarning.warning}${lastWarning.recommendation ? ` (recommendation: ${lastWarning.recommendation})` : ''}` : '';
      throw new TahoeError('TorBootstrapTimeout', `tor did not finish bootstrapping within ${Math.round(timeoutMs / 1000)} s: ${where}${warning}`, {
        hint: 'check your network connection and that the system clock is right (tor refuses a consensus from the "future"); a censored network needs bridges; raise the bootstrap timeout if the network is just slow',
        details: { progress: last?.progress, tag: last?.tag, warning: lastWarning?.warning, timeoutMs },
      });
    }
  } finally {
    unsubscribe();
    if (timer) clearTimeout(timer);
    if (poller) clearTimeout(poller);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function explainLaunchFailure(e: unknown, tor: TorChild, dataDir: string): TahoeError {
  const output = tor.output();
  const tail = output.split('\n').filter((l) => l.trim()).slice(-12).join('\n');
  const base = e instanceof TahoeError ? e : new TahoeError('TorUnavailable', `launching tor failed: ${String(e)}`, { cause: e });
  if (base.kind === 'Aborted') return base;
  let hint = base.hint;
  if (ANOTHER_TOR.test(output)) {
    hint = `another tor already uses ${dataDir}: is another tahoe-ts (or a tor from an earlier run) still running? stop it, or wait ~15 s until it notices its owner is gone`;
  } else if (/Could not bind|Address already in use/i.test(output)) {
    hint = 'tor could not open one of its ports; see the tor output';
  } else if (/Failed to parse\/validate config|Unknown option/i.test(output)) {
    hint = 'tor refused its configuration: check the extra options / extra torrc';
  }
  return new TahoeError(base.kind, tail ? `${base.message}\n--- tor output ---\n${tail}` : base.message, { cause: e, hint, details: base.details });
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
