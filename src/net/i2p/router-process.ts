/**
 * Launching our own i2pd: its configuration file, the process (which must never outlive
 * us), readiness (SAM answers HELLO), and stopping it.
 *
 * Reference: i2pd's documented options (docs/configuration.md in PurpleI2P/i2pd, version
 * 2.45.1) and the verified offline recipe of shared/specs/i2p.md §5. Facts that shaped this
 * file: i2pd takes only path flags on the command line reliably (boolean options are
 * switches that cannot be turned off there), so everything else goes into `i2pd.conf`;
 * SAM binds tcp P and udp P−1; with SAM sockets still open SIGTERM can hang for > 10 s, so
 * we SIGKILL after a grace period; SIGINT means a graceful stop of up to 10 minutes.
 *
 * i2pd has no "owning controller" option (tor's __OwningControllerProcess). We start it
 * through util-linux `setpriv --pdeathsig SIGTERM`, so the kernel signals it the moment
 * the process that spawned it dies — also on SIGKILL, where no exit handler of ours runs.
 * Without setpriv (non-Linux) an exit handler is the only guard, which a SIGKILL skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, promises as fs, openSync, closeSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TahoeError, asTahoeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { OPEN_GATE } from '../socket.js';
import { stopOwnedProcess } from '../owned-process.js';
import { SamClient, type SamEndpoint } from './sam.js';

export const DEFAULT_CERTS_DIR = '/usr/share/i2pd/certificates';

export interface I2pdConfSettings {
  dataDir: string;
  samPort: number;
  /** Offline single-router network for tests (i2p.md §5.2) vs. the real I2P network. */
  mode: 'offline' | 'network';
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'none';
  /** Enable the web console on 127.0.0.1:<port> (debugging only). */
  webConsolePort?: number;
}

/**
 * The i2pd.conf text. Values are literal (i2pd does not expand variables); comments only
 * on their own lines (i2pd's parser does not strip trailing comments).
 */
export function renderI2pdConf(s: I2pdConfSettings): string {
  const log = [`log = file`, `logfile = ${path.join(s.dataDir, 'i2pd.log')}`, `loglevel = ${s.logLevel ?? 'warn'}`];
  const web = s.webConsolePort
    ? ['[http]', 'enabled = true', 'address = 127.0.0.1', `port = ${s.webConsolePort}`]
    : ['[http]', 'enabled = false'];
  const common = [
    '[sam]',
    'enabled = true',
    'address = 127.0.0.1',
    `port = ${s.samPort}`,
    '',
    ...web,
    '',
    '# tahoe-ts talks to the router over SAM only: no proxies, no other client APIs',
    '[httpproxy]',
    'enabled = false',
    '',
    '[socksproxy]',
    'enabled = false',
    '',
    '[bob]',
    'enabled = false',
    '',
    '[i2cp]',
    'enabled = false',
    '',
    '[i2pcontrol]',
    'enabled = false',
    '',
    '[upnp]',
    'enabled = false',
  ];
  if (s.mode === 'offline') {
    return [
      '# tahoe-ts offline test router: one router on loopback, private network id,',
      '# no reseed, no outbound connections (shared/specs/i2p.md section 5.2)',
      ...log,
      'ipv4 = true',
      'ipv6 = false',
      'nat = false',
      'host = 127.0.0.1',
      'address4 = 127.0.0.1',
      '# the router must store the LeaseSets of its own sessions',
      'floodfill = true',
      'notransit = true',
      'netid = 99',
      '',
      '[ntcp2]',
      '# required: without any transport i2pd aborts; unpublished => CANT_REACH_PEER',
      'enabled = true',
      'published = true',
      `port = ${s.samPort + 1}`,
      '',
      '[ssu2]',
      'enabled = false',
      '',
      '[nettime]',
      'enabled = false',
      '',
      '[reseed]',
      'urls =',
      'threshold = 0',
      '',
      '[exploratory]',
      'inbound.length = 0',
      'outbound.length = 0',
      'inbound.quantity = 1',
      'outbound.quantity = 1',
      '',
      ...common,
      '',
    ].join('\n');
  }
  return [
    '# tahoe-ts launched router for the real I2P network (private/i2pd/)',
    ...log,
    'ipv4 = true',
    'ipv6 = false',
    '# relay a little transit traffic (cover for our own), capped low',
    'bandwidth = L',
    '',
    '[ntcp2]',
    'enabled = true',
    'published = true',
    '',
    '[ssu2]',
    'enabled = true',
    'published = true',
    '',
    ...common,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// Ports

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A SAM port P with udp P−1 and tcp P+1 (NTCP2 in offline mode) free too. */
export async function pickSamPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await kernelPort();
    if (p < 1025 || p > 65533) continue;
    if ((await udpPortFree(p - 1)) && (await tcpPortFree(p + 1)) && (await tcpPortFree(p))) return p;
  }
  throw new TahoeError('I2pUnavailable', 'could not find three free loopback ports for the I2P router', {
    hint: 'too many ports in use on 127.0.0.1; free some or set [i2p] sam.port to an existing router',
  });
}

// ---------------------------------------------------------------------------------------
// Process

/** Resolves after `ms`, or at once when `signal` fires (the caller checks it). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The first existing i2pd: the configured one, then $PATH, then the usual sbin dirs. */
export function findI2pdExecutable(configured?: string): string {
  if (configured) {
    if (!existsSync(configured)) {
      throw new TahoeError('ConfigInvalid', `[i2p] i2p.executable ${configured} does not exist`, { hint: 'install i2pd (apt-get install i2pd) or fix [i2p] i2p.executable' });
    }
    return configured;
  }
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'i2pd');
    if (existsSync(candidate)) return candidate;
  }
  throw new TahoeError('I2pUnavailable', 'i2pd not found', {
    hint: 'install i2pd (Debian/Ubuntu: apt-get install i2pd) or set [i2p] i2p.executable; or run your own router and set [i2p] sam.port',
  });
}

function findSetpriv(): string | undefined {
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv']) if (existsSync(p)) return p;
  return undefined;
}

export interface LaunchI2pdOptions {
  dataDir: string;
  mode: 'offline' | 'network';
  executable?: string;
  certsDir?: string;
  /** SAM port; default: a free one (with P−1 udp and P+1 tcp free). */
  samPort?: number;
  logLevel?: I2pdConfSettings['logLevel'];
  /** How long to wait for SAM to answer after start. */
  readyTimeoutMs?: number;
  onProgress?: (message: string) => void;
  logger?: Logger;
  /** Give up waiting for the router (Ctrl-C): it is stopped and `Aborted` thrown. */
  signal?: AbortSignal;
}

export interface I2pdProcess {
  readonly pid: number;
  readonly samEndpoint: SamEndpoint;
  readonly dataDir: string;
  /** Resolves with the exit code/signal when the router exits (for any reason). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of i2pd.log and of its stdout/stderr. */
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); resolves once the process is gone (at most 2 s after SIGKILL). */
  stop(graceMs?: number): Promise<void>;
}

async function tailFile(file: string, lines: number): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

/**
 * Start i2pd with its own data directory and a generated config; resolves once its SAM
 * bridge answers HELLO. On failure the process is killed and the error carries the log.
 */
export async function launchI2pd(options: LaunchI2pdOptions): Promise<I2pdProcess> {
  const logger = (options.logger ?? silentLogger).child('i2pd');
  const executable = findI2pdExecutable(options.executable);
  const certsDir = options.certsDir ?? DEFAULT_CERTS_DIR;
  const dataDir = path.resolve(options.dataDir);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(dataDir, 'tunnels.d'), { recursive: true, mode: 0o700 });
  const samPort = options.samPort ?? (await pickSamPort());
  const confFile = path.join(dataDir, 'i2pd.conf');
  await fs.writeFile(confFile, renderI2pdConf({ dataDir, samPort, mode: options.mode, logLevel: options.logLevel }), { mode: 0o600 });
  await fs.writeFile(path.join(dataDir, 'tunnels.conf'), '', { mode: 0o600 });
  const outFile = path.join(dataDir, 'i2pd.stdout.log');
  const logFile = path.join(dataDir, 'i2pd.log');

  const args = [
    `--datadir=${dataDir}`,
    `--conf=${confFile}`,
    `--tunconf=${path.join(dataDir, 'tunnels.conf')}`,
    `--tunnelsdir=${path.join(dataDir, 'tunnels.d')}`,
    `--pidfile=${path.join(dataDir, 'i2pd.pid')}`,
    ...(existsSync(certsDir) ? [`--certsdir=${certsDir}`] : []),
  ];
  const setpriv = findSetpriv();
  const [cmd, cmdArgs] = setpriv ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', executable, ...args]] : [executable, args];
  if (!setpriv) logger.warn('setpriv not found: a launched i2pd may outlive tahoe-ts if tahoe-ts is killed with SIGKILL');

  const outFd = openSync(outFile, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o600);
  let child: ChildProcess;
  try {
    child = spawn(cmd, cmdArgs, { stdio: ['ignore', outFd, outFd], detached: false, cwd: dataDir });
  } finally {
    closeSync(outFd);
  }
  const pid = child.pid;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  // Last resort for ordinary exits (also where setpriv is missing). SIGKILL: no time to wait.
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  void exited.then(() => process.off('exit', onExit));

  const logTail = async (lines = 40) => {
    const a = await tailFile(logFile, lines);
    const b = await tailFile(outFile, lines);
    return [a && `--- ${logFile}\n${a}`, b.trim() && `--- ${outFile}\n${b}`].filter(Boolean).join('\n');
  };
  const stop = (graceMs = 5_000): Promise<void> =>
    stopOwnedProcess({ child, exited, marker: dataDir }, {
      graceMs,
      onKill: () => logger.debug(`i2pd (pid ${pid}) did not stop within ${graceMs} ms; SIGKILL`),
    });

  const samEndpoint = { host: '127.0.0.1', port: samPort };
  const fail = async (message: string, cause?: unknown): Promise<never> => {
    await stop(1_000);
    const tail = await logTail();
    throw new TahoeError('I2pUnavailable', `${message}${tail ? `\n${tail}` : ''}`, {
      cause,
      hint: `could not start i2pd (${executable}); see the log above and ${dataDir}`,
    });
  };
  if (pid === undefined) {
    return fail(`i2pd could not be started: ${(await Promise.race([spawnError, new Promise<Error>((r) => setTimeout(() => r(new Error('no pid')), 100))])).message}`);
  }
  options.onProgress?.(`i2pd started (pid ${pid}), waiting for SAM on 127.0.0.1:${samPort}`);
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeoutMs;
  const probe = new SamClient({ endpoint: samEndpoint, gate: OPEN_GATE, timeouts: { helloMs: 2_000 } });
  let gone = false;
  void exited.then(() => (gone = true));
  const signal = options.signal;
  const aborted = async (): Promise<never> => {
    await stop(1_000);
    throw asTahoeError(signal?.reason, 'Aborted');
  };
  for (;;) {
    if (signal?.aborted) return aborted();
    if (gone) return fail(`i2pd exited during startup (${JSON.stringify(await exited)})`);
    try {
      await probe.probe(signal);
      break;
    } catch (e) {
      if (signal?.aborted) return aborted();
      if (Date.now() > deadline) return fail(`i2pd's SAM bridge did not answer within ${readyTimeoutMs} ms`, e);
      await sleep(100, signal);
    }
  }
  options.onProgress?.(`i2pd ready: SAM ${probe.version ?? '3.1'} on 127.0.0.1:${samPort}`);
  logger.debug(`i2pd pid ${pid} ready on SAM port ${samPort}`);
  return { pid, samEndpoint, dataDir, exited, logTail, stop };
}
