/**
 * A private Tor network on loopback: 3 directory authorities + 1 relay + 1 client by
 * default, built from plain `tor` and `tor-gencert`, for tests and
 * `tahoe-ts demo --network tor-testnet`. No traffic leaves 127.0.0.1: the authorities are
 * all local, relays never touch the system resolver, exits accept only 127.0.0.0/8.
 *
 * Recipe, readiness order and lessons: shared/specs/tor.md §6 (topology §6.1, shared
 * options §6.2, per-node torrc §6.3, authority keys §6.4, start order §6.5, stopping
 * §6.7, timing §6.8, lessons §6.9).
 *
 * Exits resolve host names with a loopback name server that knows only `localhost` and
 * `*.localhost` (exit-dns.ts), so a client can reach a loopback server *by name* through
 * Tor (the name travels unresolved to the exit, as on the real network). Their exit policy
 * accepts 127.0.0.0/8 and rejects every other IPv4 address; it ends in `accept *:*` only
 * so that clients predict "probably accepted" for a stream to a host name — with a final
 * `reject *:*` a client refuses every name at once ("No Tor server allows exit to …").
 * That last rule matches no IPv4 address, and IPv6 exits are off (IPv6Exit 0). The exits'
 * name queries are UDP datagrams to 127.0.0.1 (tor's resolver socket is bound to an
 * ephemeral port on 0.0.0.0, which OutboundBindAddress does not change; it only ever
 * sends to the loopback name server).
 *
 * Every node runs in the foreground as our child, in its own process group, with
 * `__OwningControllerProcess` set to our PID: if this process dies without calling
 * stop(), the tors notice and exit on their own.
 */
import { execFile } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { TahoeError, throwIfAborted } from '../errors.js';
import { OPEN_GATE, type SocketEndpoint } from '../net/socket.js';
import { connectTorControl, type TorControlClient } from '../net/tor/control.js';
import { spawnTor, stopTor, type TorChild } from '../net/tor/process.js';
import { startExitDns, type ExitDnsQuery, type ExitDnsServer } from './exit-dns.js';

const execFileAsync = promisify(execFile);

export interface TorNetworkOptions {
  /** A fresh directory for this network (created 0700; must not exist or be empty). */
  dir: string;
  /** Directory authorities (≥ 2; default 3). They are relays and HSDirs as well. */
  authorities?: number;
  /** Extra relays (default 1). Onion services need ≥ 4 relays in total (tor.md §6.9). */
  relays?: number;
  executable?: string;
  gencertExecutable?: string;
  /** Whole start, keys to bootstrapped client (default 120 s). */
  timeoutMs?: number;
  /** Human-readable progress lines, with timings. */
  onProgress?: (message: string) => void;
  /** First voting interval of the authorities (tor.md §6.8, default 5 s). */
  initialVotingIntervalSeconds?: number;
  /** Abort the start: every tor started so far is stopped, then `Aborted` is thrown. */
  signal?: AbortSignal;
}

export interface TorNetworkNode {
  name: string;
  role: 'authority' | 'relay' | 'client';
  dataDir: string;
  pid: number;
  orPort?: number;
  dirPort?: number;
}

/** What a benchmark or a demo wants to know about the start (milliseconds since start). */
export interface TorNetworkTimings {
  keysMs: number;
  nodesStartedMs: number;
  consensusMs: number;
  clientBootstrappedMs: number;
  totalMs: number;
}

export interface TorNetwork {
  dir: string;
  /** The client's SOCKS port on 127.0.0.1 (with ExtendedErrors). */
  socksPort: number;
  socksEndpoint: SocketEndpoint;
  /** The client's control port on 127.0.0.1 (cookie authentication). */
  controlPort: number;
  controlEndpoint: SocketEndpoint;
  cookiePath: string;
  /**
   * The options every tor of this network needs. A tor started by the program under test
   * joins with `--defaults-torrc <networkTorrc>` (launch option `extraTorrc`).
   */
  networkTorrc: string;
  nodes: TorNetworkNode[];
  timings: TorNetworkTimings;
  /** Names the exits asked their loopback name server for (proof of exit-side resolution). */
  exitDnsQueries(): readonly ExitDnsQuery[];
  /** The last lines of a node's notice.log (default: every node's). */
  logTail(node?: string, lines?: number): Promise<string>;
  /** Stop every node (SIGTERM, SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

interface NodePlan {
  name: string;
  role: TorNetworkNode['role'];
  dataDir: string;
  torrc: string;
  orPort?: number;
  dirPort?: number;
  socksPort?: number;
  controlPort?: number;
  relayFingerprint?: string;
  v3Identity?: string;
}

/** Start a private network; on failure everything started is stopped and the logs are in the error. */
export async function startTorNetwork(options: TorNetworkOptions): Promise<TorNetwork> {
  const authorities = options.authorities ?? 3;
  const relays = options.relays ?? 1;
  if (authorities < 2 || relays < 0 || authorities + relays < 4) {
    throw new TahoeError('BadInput', `a private tor network needs ≥ 2 authorities and ≥ 4 relays in total (asked for ${authorities} + ${relays})`, {
      hint: 'onion circuits need 4 distinct relays; one authority alone is fragile (tor.md §6.9)',
    });
  }
  const timeoutMs = options.timeoutMs ?? 120_000;
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const progress = (message: string) => options.onProgress?.(`[${(elapsed() / 1000).toFixed(1)} s] ${message}`);
  const deadline = started + timeoutMs;
  const dir = path.resolve(options.dir);
  await prepareDirectory(dir);

  const children: TorChild[] = [];
  const plans: NodePlan[] = [];
  let exitDns: ExitDnsServer | undefined;
  const stopAll = async () => {
    await Promise.all(children.map((c) => stopTor(c)));
    await exitDns?.close();
  };
  const logTail = async (node?: string, lines = 30): Promise<string> => {
    const chosen = node === undefined ? plans : plans.filter((p) => p.name === node);
    const parts = await Promise.all(
      chosen.map(async (p) => {
        const text = await fs.readFile(path.join(p.dataDir, 'notice.log'), 'utf8').catch(() => '(no log)');
        return `--- ${p.name} notice.log ---\n${text.split('\n').slice(-lines - 1).join('\n')}`;
      }),
    );
    return parts.join('\n');
  };

  try {
    const ports = await freePorts(2 * authorities + relays + 2);
    for (let i = 1; i <= authorities; i++) {
      plans.push({ name: `auth${i}`, role: 'authority', dataDir: path.join(dir, `auth${i}`), torrc: path.join(dir, `auth${i}`, 'torrc'), orPort: ports.pop(), dirPort: ports.pop() });
    }
    for (let i = 1; i <= relays; i++) {
      plans.push({ name: `relay${i}`, role: 'relay', dataDir: path.join(dir, `relay${i}`), torrc: path.join(dir, `relay${i}`, 'torrc'), orPort: ports.pop() });
    }
    const client: NodePlan = { name: 'client', role: 'client', dataDir: path.join(dir, 'client'), torrc: path.join(dir, 'client', 'torrc'), socksPort: ports.pop(), controlPort: ports.pop() };
    plans.push(client);
    for (const plan of plans) await fs.mkdir(plan.dataDir, { mode: 0o700 });

    throwIfAborted(options.signal);
    progress(`generating keys for ${authorities} authorities`);
    const authorityPlans = plans.filter((p) => p.role === 'authority');
    await Promise.all(authorityPlans.map((plan) => createAuthorityKeys(plan, options)));
    throwIfAborted(options.signal);
    const keysMs = elapsed();
    progress(`keys ready (${(keysMs / 1000).toFixed(1)} s)`);

    const networkTorrc = path.join(dir, 'network.torrc');
    await fs.writeFile(networkTorrc, networkOptions(authorityPlans), { mode: 0o600 });
    exitDns = await startExitDns();
    const resolvConf = path.join(dir, 'exit-resolv.conf');
    await fs.writeFile(resolvConf, exitDns.resolvConf, { mode: 0o600 });
    for (const plan of plans) await fs.writeFile(plan.torrc, nodeOptions(plan, networkTorrc, authorityPlans, options, resolvConf), { mode: 0o600 });

    const relayPlans = plans.filter((p) => p.role !== 'client');
    for (const plan of relayPlans) children.push(await startNode(plan, options));
    await Promise.all(relayPlans.map((plan, i) => waitForPidFile(plan, children[i], deadline, options.signal)));
    const nodesStartedMs = elapsed();
    progress(`${relayPlans.length} relays running (${authorities} of them authorities); waiting for a consensus that lists them all`);

    await waitForConsensus(authorityPlans, relayPlans.length, children, deadline, progress, options.signal);
    const consensusMs = elapsed();
    progress(`consensus with all ${relayPlans.length} relays running (${(consensusMs / 1000).toFixed(1)} s)`);

    children.push(await startNode(client, options));
    const clientChild = children[children.length - 1];
    await waitForPidFile(client, clientChild, deadline, options.signal);
    await waitForBootstrap(client, clientChild, deadline, progress, options.signal);
    const clientBootstrappedMs = elapsed();
    progress(`client bootstrapped (${(clientBootstrappedMs / 1000).toFixed(1)} s)`);

    const nodes: TorNetworkNode[] = plans.map((plan, i) => ({
      name: plan.name,
      role: plan.role,
      dataDir: plan.dataDir,
      pid: children[i].pid,
      ...(plan.orPort !== undefined ? { orPort: plan.orPort } : {}),
      ...(plan.dirPort !== undefined ? { dirPort: plan.dirPort } : {}),
    }));
    let stopping: Promise<void> | undefined;
    const dns = exitDns;
    return {
      dir,
      socksPort: client.socksPort as number,
      socksEndpoint: { host: '127.0.0.1', port: client.socksPort as number },
      controlPort: client.controlPort as number,
      controlEndpoint: { host: '127.0.0.1', port: client.controlPort as number },
      cookiePath: path.join(client.dataDir, 'control_auth_cookie'),
      networkTorrc,
      nodes,
      timings: { keysMs, nodesStartedMs, consensusMs, clientBootstrappedMs, totalMs: elapsed() },
      exitDnsQueries: () => dns.queries(),
      logTail,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (e) {
    if (options.signal?.aborted) {
      await stopAll();
      throw e;
    }
    const logs = await logTail(undefined, 15).catch(() => '');
    await stopAll();
    const base = e instanceof TahoeError ? e : new TahoeError('TorUnavailable', `private tor network failed to start: ${String(e)}`, { cause: e });
    throw new TahoeError(base.kind, `${base.message}\n${logs}`, {
      cause: e,
      hint: base.hint,
      details: { ...base.details, dir },
    });
  }
}

async function prepareDirectory(dir: string): Promise<void> {
  const entries = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (entries !== undefined && entries.length > 0) {
    throw new TahoeError('BadInput', `${dir} is not empty`, {
      hint: 'give every private tor network a fresh directory: a tor that exits deletes its PidFile and cookie even when another tor reuses the directory',
      details: { dir },
    });
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
}

/** Distinct free loopback ports: all listeners are open at once, so no port comes twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function createAuthorityKeys(plan: NodePlan, options: TorNetworkOptions): Promise<void> {
  const keys = path.join(plan.dataDir, 'keys');
  await fs.mkdir(keys, { mode: 0o700 });
  const gencert = options.gencertExecutable ?? 'tor-gencert';
  try {
    await runWithInput(gencert, [
      '--create-identity-key', '--passphrase-fd', '0', '-m', '12', '-a', `127.0.0.1:${plan.dirPort}`,
      '-i', path.join(keys, 'authority_identity_key'), '-s', path.join(keys, 'authority_signing_key'), '-c', path.join(keys, 'authority_certificate'),
    ]);
    await execFileAsync(options.executable ?? 'tor', ['--list-fingerprint', '--DataDirectory', plan.dataDir, '--ORPort', '1', '-f', '/dev/null', '--ignore-missing-torrc'], { timeout: 30_000 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TahoeError('TorUnavailable', `cannot create the keys of ${plan.name}: ${code ?? (cause as Error).message}`, {
      cause,
      hint: code === 'ENOENT' ? 'install tor (Debian: apt install tor; it includes tor-gencert)' : 'see the message above',
    });
  }
  const certificate = await fs.readFile(path.join(keys, 'authority_certificate'), 'utf8');
  const v3 = /^fingerprint ([0-9A-F]{40})$/m.exec(certificate);
  const relay = /^\S+ ([0-9A-F]{40})\s*$/m.exec(await fs.readFile(path.join(plan.dataDir, 'fingerprint'), 'utf8'));
  if (!v3 || !relay) throw new TahoeError('TorUnavailable', `unexpected key files for ${plan.name}`, { hint: 'is this tor 0.4.x? check tor-gencert and tor --list-fingerprint' });
  plan.v3Identity = v3[1];
  plan.relayFingerprint = relay[1];
}

function runWithInput(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 60_000 }, (error) => (error ? reject(error) : resolve()));
    // an empty passphrase
    child.stdin?.end('\n');
  });
}

function networkOptions(authorities: NodePlan[]): string {
  return [
    'TestingTorNetwork 1',
    'PathsNeededToBuildCircuits 0.67',
    // a microdescriptor's exit-policy summary turns "accept 127.0.0.0/8" into "reject all"
    'UseMicrodescriptors 0',
    'GeoIPFile ""',
    'GeoIPv6File ""',
    'SafeLogging 0',
    'LogTimeGranularity 1',
    // otherwise clients retry a conflux circuit every second for nothing
    'ConfluxEnabled 0',
    // Relays here publish a new descriptor each time their observed bandwidth doubles, so
    // early consensuses name descriptors a client does not have yet: "no exit nodes", and
    // new exit streams wait. A client fetches them only every 60 s by default (CI saw
    // 56 s windows); fetching like a directory cache closes the gap within the same
    // consensus (measured: windows of 50 ms instead of 8–13 s, worst probe 83 ms instead of 2.9 s).
    'FetchDirInfoEarly 1',
    'FetchDirInfoExtraEarly 1',
    ...authorities.map((a) => `DirAuthority ${a.name} orport=${a.orPort} no-v2 v3ident=${a.v3Identity} 127.0.0.1:${a.dirPort} ${a.relayFingerprint}`),
    '',
  ].join('\n');
}

function nodeOptions(plan: NodePlan, networkTorrc: string, authorities: NodePlan[], options: TorNetworkOptions, resolvConf: string): string {
  const lines = [
    `%include ${networkTorrc}`,
    `DataDirectory ${plan.dataDir}`,
    `PidFile ${path.join(plan.dataDir, 'pid')}`,
    `Log notice file ${path.join(plan.dataDir, 'notice.log')}`,
    `__OwningControllerProcess ${process.pid}`,
  ];
  if (plan.role === 'client') {
    lines.push(`SocksPort 127.0.0.1:${plan.socksPort} ExtendedErrors`, `ControlPort 127.0.0.1:${plan.controlPort}`, 'CookieAuthentication 1');
    return lines.join('\n') + '\n';
  }
  lines.push(
    `Nickname ${plan.name}`,
    'Address 127.0.0.1',
    `ORPort 127.0.0.1:${plan.orPort}`,
    'SocksPort 0',
    'AssumeReachable 1',
    'ExitRelay 1',
    'ExitPolicyRejectPrivate 0',
    // see the module comment: the final accept matches nothing (every IPv4 address is covered before it, IPv6Exit is 0)
    'ExitPolicy accept 127.0.0.0/8:*,reject 0.0.0.0/1:*,reject 128.0.0.0/1:*,accept *:*',
    'IPv6Exit 0',
    'RefuseUnknownExits 0',
    // keep relays away from the system resolver and from DNS probes on the Internet
    `ServerDNSResolvConfFile ${resolvConf}`,
    'ServerDNSDetectHijacking 0',
    'ServerDNSTestAddresses',
  );
  if (plan.role === 'relay') {
    // only directory caches can be HSDirs; clients then fetch everything from the authorities
    lines.push('DirCache 0');
    return lines.join('\n') + '\n';
  }
  lines.push(
    `DirPort 127.0.0.1:${plan.dirPort}`,
    'AuthoritativeDirectory 1',
    'V3AuthoritativeDirectory 1',
    `ContactInfo ${plan.name}@test.invalid`,
    `TestingV3AuthInitialVotingInterval ${options.initialVotingIntervalSeconds ?? 5}`,
    'TestingV3AuthInitialVoteDelay 2',
    'TestingV3AuthInitialDistDelay 2',
    'V3AuthVotingInterval 10',
    'V3AuthVoteDelay 2',
    'V3AuthDistDelay 2',
    'V3AuthNIntervalsValid 2',
    'TestingDirAuthVoteExit *',
    'TestingDirAuthVoteGuard *',
    'TestingMinExitFlagThreshold 0',
    `TestingDirAuthVoteHSDir ${authorities.map((a) => `$${a.relayFingerprint}`).join(',')}`,
    // otherwise authority CPU triples while they diff each consensus against older ones
    'MaxConsensusAgeForDiffs 1 minutes',
  );
  return lines.join('\n') + '\n';
}

async function startNode(plan: NodePlan, options: TorNetworkOptions): Promise<TorChild> {
  return spawnTor(['-f', plan.torrc, '--hush'], { executable: options.executable, marker: plan.torrc, detached: true, unref: true });
}

async function waitForPidFile(plan: NodePlan, child: TorChild, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  const pidFile = path.join(plan.dataDir, 'pid');
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    if (child.hasExited()) throw nodeExited(plan, child);
    const text = await fs.readFile(pidFile, 'utf8').catch(() => '');
    if (text.trim().length > 0) return;
    await sleep(50);
  }
  throw new TahoeError('Timeout', `${plan.name} did not write its PidFile in time`, { hint: 'see its notice.log below' });
}

function nodeExited(plan: NodePlan, child: TorChild): TahoeError {
  return new TahoeError('TorUnavailable', `${plan.name} exited during start:\n${child.output().slice(-2000)}`, {
    hint: 'see the tor output and notice.log; a port may have been taken by another program in the meantime (retry)',
    details: { node: plan.name },
  });
}

/**
 * Every authority must hold a consensus listing all relays as Running and descriptors of
 * all relays before the client starts; otherwise it fetches an early, incomplete consensus
 * and waits 10–20 s for the next one (tor.md §6.5).
 */
async function waitForConsensus(authorities: NodePlan[], relayCount: number, children: TorChild[], deadline: number, progress: (m: string) => void, signal: AbortSignal | undefined): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    const exited = children.findIndex((c) => c.hasExited());
    if (exited >= 0) throw new TahoeError('TorUnavailable', `a tor of the network exited (pid ${children[exited].pid})`, { hint: 'see notice.log below' });
    const states = await Promise.all(
      authorities.map(async (a) => {
        const consensus = await fs.readFile(path.join(a.dataDir, 'cached-consensus'), 'utf8').catch(() => '');
        const running = (consensus.match(/^s .*\bRunning\b/gm) ?? []).length;
        const routers = new Set<string>();
        for (const file of ['cached-descriptors', 'cached-descriptors.new']) {
          const text = await fs.readFile(path.join(a.dataDir, file), 'utf8').catch(() => '');
          for (const m of text.matchAll(/^router (\S+) /gm)) routers.add(m[1]);
        }
        return { running, descriptors: routers.size };
      }),
    );
    const summary = states.map((s, i) => `${authorities[i].name}: ${s.running}/${relayCount} running, ${s.descriptors} descriptors`).join('; ');
    if (summary !== last) {
      progress(summary);
      last = summary;
    }
    if (states.every((s) => s.running >= relayCount && s.descriptors >= relayCount)) return;
    await sleep(250);
  }
  throw new TahoeError('Timeout', 'the authorities did not agree on a consensus listing every relay in time', {
    hint: 'the machine may be overloaded (each authority needs some CPU); see notice.log below',
  });
}

async function waitForBootstrap(plan: NodePlan, child: TorChild, deadline: number, progress: (m: string) => void, signal: AbortSignal | undefined): Promise<void> {
  const cookie = path.join(plan.dataDir, 'control_auth_cookie');
  let control: TorControlClient | undefined;
  try {
    while (!control) {
      throwIfAborted(signal);
      if (child.hasExited()) throw nodeExited(plan, child);
      if (Date.now() > deadline) throw new TahoeError('Timeout', 'the client did not open its control port in time', { hint: 'see notice.log below' });
      if (existsSync(cookie)) {
        control = await connectTorControl({ host: '127.0.0.1', port: plan.controlPort as number }, { gate: OPEN_GATE, timeoutMs: 2000 }).catch(() => undefined);
      }
      if (!control) await sleep(100);
    }
    let lastProgress = -1;
    while (Date.now() < deadline) {
      throwIfAborted(signal);
      const status = await control.getBootstrapStatus({ timeoutMs: 5000 });
      if (status.progress !== lastProgress) {
        progress(`client bootstrap ${status.progress}%: ${status.summary}`);
        lastProgress = status.progress;
      }
      if (status.progress >= 100) return;
      await sleep(200);
    }
    throw new TahoeError('TorBootstrapTimeout', `the client of the private network did not bootstrap in time (stuck at ${lastProgress}%)`, {
      hint: 'see notice.log below; the machine may be overloaded',
    });
  } finally {
    await control?.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
