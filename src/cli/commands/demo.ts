/**
 * `tahoe-ts demo [--network tcp] [--servers 10] [--size 50MiB] [--once]`: a throwaway grid
 * in a temporary directory — one introducer, N storage servers and one client, made with
 * the real `create-*` code (config/create.ts) and run by the real node runtime
 * (node/node.ts, in this process) — then a generated file is uploaded through the
 * client's web gateway (`PUT /uri`, as `tahoe-ts put` does), downloaded back
 * (`GET /uri/$CAP`) and checked with SHA-256. Prints the cap (this is a demo: the cap
 * is the point), timings, MB/s and the web address. Without `--once` the grid stays up
 * until Ctrl-C; either way everything is stopped and the directory removed at the end,
 * also after an error (`--keep` keeps the directory for a look at the node logs).
 *
 * Networks are pluggable: a `DemoNetwork` prepares what it needs (a private Tor network,
 * a local i2pd, nothing for tcp), says which create-* options and node options each
 * role gets, and tears it down. Adding one = writing one object and one line in
 * `DEMO_NETWORKS` below. See docs/demo.md.
 */
import { Command, Option } from 'commander';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { TahoeError, asTahoeError } from '../../errors.js';
import { allocateTcpPort, createNode, type CreateNodeOptions } from '../../config/create.js';
import { TahoeNode, type TahoeNodeOptions, type NodeTiming } from '../../node/node.js';
import { createWebGateway } from '../../web/gateway.js';
import { GatewayClient } from '../../web/client.js';
import { EXIT } from '../exit-codes.js';
import { ProgressLine, formatBytes } from '../progress.js';
import { TOR_TESTNET_DEMO_NETWORK } from '../../testnet/demo-tor.js';
import { I2P_LOCAL_DEMO_NETWORK } from '../../testnet/demo-i2p.js';
import { editTahoeCfg } from '../../config/keys.js';
import type { CfgEdit } from '../../config/cfg.js';

// ------------------------------------------------------------------ networks

export type DemoRole = 'introducer' | 'server' | 'client';

export interface DemoStatus {
  /** One line on what is happening ("starting tor network: 40%"). */
  (message: string): void;
}

export interface DemoNetworkContext {
  /** The demo's temporary directory (the network may put its own state under it). */
  root: string;
  signal: AbortSignal;
  status: DemoStatus;
}

/** A network made ready for the demo's nodes. */
export interface PreparedDemoNetwork {
  /**
   * The create-* options of one node: how it listens (`port`/`location`, `listen`,
   * `torControlPort`, `hideIp`, …). The demo adds directory, nickname, introducer,
   * web port and encoding itself.
   */
  createOptions(role: DemoRole, index: number): Promise<Partial<CreateNodeOptions>>;
  /** Extra `TahoeNode.start` options per node (e.g. `tor: { allowNonPublicAddresses: true }`, timings). */
  nodeOptions?(role: DemoRole, index: number): Partial<TahoeNodeOptions>;
  /** tahoe.cfg edits after create-* (settings create-* has no option for, e.g. `[i2p] sam.options`). */
  cfgEdits?(role: DemoRole, index: number): CfgEdit[];
  /** Storage servers started at once (default 2: key generation and TLS setup are CPU work; a network whose start is mostly waiting raises it). */
  startConcurrency?: number;
  /** How long the client may take to connect to every server (default 60 s). */
  connectTimeoutMs?: number;
  /** Stop what `prepare` started; called once, also after failures. */
  teardown(): Promise<void>;
}

export interface DemoNetwork {
  /** The `--network` value. */
  readonly name: string;
  /** One line for `--help` and the banner. */
  readonly description: string;
  prepare(context: DemoNetworkContext): Promise<PreparedDemoNetwork>;
}

/** Plain TCP on 127.0.0.1: every node listens on a free loopback port. */
export const TCP_DEMO_NETWORK: DemoNetwork = {
  name: 'tcp',
  description: 'plain TCP on 127.0.0.1',
  async prepare() {
    return {
      async createOptions(role) {
        if (role === 'client') return { listen: ['none'] };
        const port = await allocateTcpPort('127.0.0.1');
        return { port: `tcp:${port}:interface=127.0.0.1`, location: `tcp:127.0.0.1:${port}` };
      },
      connectTimeoutMs: 30_000,
      async teardown() {
        // nothing was started
      },
    };
  },
};

/** `--network` choices. The Tor and I2P demos add their networks here (one line each). */
export const DEMO_NETWORKS: DemoNetwork[] = [TCP_DEMO_NETWORK, TOR_TESTNET_DEMO_NETWORK, I2P_LOCAL_DEMO_NETWORK];

// ------------------------------------------------------------------ the grid

export interface DemoGridOptions {
  network: DemoNetwork;
  servers: number;
  /** Under this directory (default: a new one in the OS temp directory). */
  root?: string;
  /** Start the client node in this process (default true); false leaves its directory ready for `tahoe-ts run`. */
  startClient?: boolean;
  /** Encoding of the client (default 3/7/10, capped by the number of servers). */
  encoding?: { needed: number; happy: number; total: number };
  /** Keep `root` when the start fails (for a look at the logs). */
  keepOnFailure?: boolean;
  /** Node logs also to stderr (default: only to each node's logs/tahoe-ts.log). */
  verbose?: boolean;
  timing?: NodeTiming;
  signal?: AbortSignal;
  status?: DemoStatus;
}

export interface DemoGrid {
  readonly root: string;
  readonly network: DemoNetwork;
  readonly introducer: TahoeNode;
  readonly servers: readonly TahoeNode[];
  /** The client node, when started here. */
  readonly client: TahoeNode | undefined;
  readonly clientDirectory: string;
  readonly encoding: { needed: number; happy: number; total: number };
  /** Stop every node (client first), tear the network down; remove `root` unless `keep`. Idempotent. */
  close(options?: { keep?: boolean }): Promise<void>;
}

/** The default encoding for a grid of `servers`: Tahoe's 3-of-10 with happy 7, capped. */
export function demoEncoding(servers: number): { needed: number; happy: number; total: number } {
  const total = Math.min(10, servers);
  return { needed: Math.min(3, total), happy: Math.min(7, total), total };
}

/** Build and start a grid; on failure everything started so far is stopped and removed. */
export async function startDemoGrid(options: DemoGridOptions): Promise<DemoGrid> {
  const status: DemoStatus = options.status ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  const root = options.root ?? (await mkdtemp(path.join(os.tmpdir(), 'tahoe-ts-demo-')));
  const encoding = options.encoding ?? demoEncoding(options.servers);
  const started: TahoeNode[] = [];
  let prepared: PreparedDemoNetwork | undefined;
  let tornDown: Promise<void> | undefined;
  const teardown = (): Promise<void> => {
    if (prepared === undefined) return Promise.resolve();
    tornDown ??= prepared.teardown().catch(() => undefined);
    return tornDown;
  };
  let closed: Promise<void> | undefined;
  const close = (keep = false): Promise<void> => {
    closed ??= (async () => {
      for (const node of [...started].reverse()) await node.stop().catch(() => undefined);
      await teardown();
      if (!keep) await rm(root, { recursive: true, force: true }).catch(() => undefined);
    })();
    return closed;
  };
  // Ctrl-C while the grid comes up: stop the network at once. A node start waiting on it
  // (an I2P session wave of 20 s, an onion service being published) then fails at once
  // instead of running to its end before the abort is noticed.
  const stopNetworkNow = (): void => void teardown();
  signal.addEventListener('abort', stopNetworkNow, { once: true });
  const nodeOptions = (role: DemoRole, index: number, directory: string): TahoeNodeOptions => ({
    directory,
    webGateway: createWebGateway,
    logToStderr: options.verbose === true,
    signal,
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...prepared?.nodeOptions?.(role, index),
  });
  try {
    await mkdir(root, { recursive: true });
    status(`preparing the ${options.network.name} network`);
    prepared = await options.network.prepare({ root, signal, status });
    if (signal.aborted) throw asTahoeError(signal.reason, 'Aborted');
    const net = prepared;

    status('creating the introducer');
    const introducerDir = path.join(root, 'introducer');
    await createNode({ command: 'create-introducer', directory: introducerDir, nickname: 'demo-introducer', webport: 'none', ...(await net.createOptions('introducer', 0)) });
    await applyEdits(net, 'introducer', 0, introducerDir);
    const introducer = await TahoeNode.start(nodeOptions('introducer', 0, introducerDir));
    started.push(introducer);
    const furl = introducer.introducerFurl;
    if (furl === undefined) throw new TahoeError('Internal', 'the introducer started without a fURL', { hint: 'see the introducer\'s log in the demo directory' });

    const servers: TahoeNode[] = [];
    let up = 0;
    status(`starting ${options.servers} storage servers: 0/${options.servers}`);
    // Two at a time by default: key generation and TLS setup are CPU-bound.
    await mapLimit(Array.from({ length: options.servers }, (_, i) => i), net.startConcurrency ?? 2, async (i) => {
      const dir = path.join(root, `server-${String(i).padStart(2, '0')}`);
      await createNode({ command: 'create-node', directory: dir, nickname: `demo-server-${i}`, introducer: furl, webport: 'none', ...(await net.createOptions('server', i)) });
      await applyEdits(net, 'server', i, dir);
      const node = await TahoeNode.start(nodeOptions('server', i, dir));
      started.push(node);
      servers[i] = node;
      status(`starting ${options.servers} storage servers: ${++up}/${options.servers}`);
    });

    const clientDirectory = path.join(root, 'client');
    const webPort = await allocateTcpPort('127.0.0.1');
    await createNode({
      command: 'create-client',
      directory: clientDirectory,
      nickname: 'demo-client',
      introducer: furl,
      webport: `tcp:${webPort}:interface=127.0.0.1`,
      sharesNeeded: encoding.needed,
      sharesHappy: encoding.happy,
      sharesTotal: encoding.total,
      ...(await net.createOptions('client', 0)),
    });
    await applyEdits(net, 'client', 0, clientDirectory);
    let client: TahoeNode | undefined;
    if (options.startClient !== false) {
      status('starting the client');
      client = await TahoeNode.start(nodeOptions('client', 0, clientDirectory));
      started.push(client);
      const grid = client.services.grid;
      if (grid === undefined) throw new TahoeError('Internal', 'the demo client has no grid client', { hint: 'see the client\'s log in the demo directory' });
      const connected = () => grid.serverStatuses().filter((s) => s.connected).length;
      const timer = setInterval(() => status(`client connecting to storage servers: ${connected()}/${options.servers}`), 250);
      try {
        await grid.waitForServers(options.servers, { timeoutMs: net.connectTimeoutMs ?? 60_000, signal });
      } finally {
        clearInterval(timer);
      }
    }
    if (signal.aborted) throw asTahoeError(signal.reason, 'Aborted');
    return { root, network: options.network, introducer, servers, client, clientDirectory, encoding, close: (o) => close(o?.keep ?? false) };
  } catch (e) {
    await close(options.keepOnFailure === true);
    throw asTahoeError(e);
  } finally {
    signal.removeEventListener('abort', stopNetworkNow);
  }
}

async function applyEdits(net: PreparedDemoNetwork, role: DemoRole, index: number, directory: string): Promise<void> {
  const edits = net.cfgEdits?.(role, index) ?? [];
  if (edits.length > 0) await editTahoeCfg(directory, edits);
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

// ------------------------------------------------------------------ the transfer

export interface DemoTransfer {
  cap: string;
  size: number;
  sha256: string;
  uploadMs: number;
  downloadMs: number;
}

/** Upload `size` generated bytes through the gateway, download them, compare SHA-256. `signal` stops either transfer at once. */
export async function demoTransfer(gateway: GatewayClient, size: number, onProgress?: (phase: 'upload' | 'download', bytes: number) => void, signal?: AbortSignal): Promise<DemoTransfer> {
  const sent = createHash('sha256');
  const chunk = 1024 * 1024;
  async function* generate(): AsyncGenerator<Uint8Array> {
    for (let done = 0; done < size; done += chunk) {
      const piece = randomBytes(Math.min(chunk, size - done));
      sent.update(piece);
      yield piece;
    }
  }
  const t0 = performance.now();
  const cap = await gateway.putFile(generate(), size, { onSent: (n) => onProgress?.('upload', n), ...(signal === undefined ? {} : { signal }) });
  const uploadMs = performance.now() - t0;
  const want = sent.digest('hex');
  const t1 = performance.now();
  const { size: got, body } = await gateway.getFile(cap, signal === undefined ? {} : { signal });
  const received = createHash('sha256');
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    received.update(c);
    n += c.length;
    onProgress?.('download', n);
  }
  const downloadMs = performance.now() - t1;
  const have = received.digest('hex');
  if (got !== size || n !== size || have !== want) {
    throw new TahoeError('IntegrityError', `the downloaded file differs from the uploaded one (${n} of ${size} bytes, SHA-256 ${have.slice(0, 16)}… vs ${want.slice(0, 16)}…)`, {
      hint: 'this should never happen: please report it with the demo directory (--keep) and its logs',
    });
  }
  return { cap, size, sha256: want, uploadMs, downloadMs };
}

// ------------------------------------------------------------------ the command

/** `50MiB`, `1GiB`, `10MB`, `1.5GB`, `4096`, `64k`: decimal units, `i` for powers of 1024. */
export function parseDemoSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(text);
  if (m === null) throw new TahoeError('UsageError', `--size ${text}: not a size`, { hint: 'e.g. --size 50MiB, --size 1GB, --size 4096' });
  const power = ' kmgt'.indexOf(m[2].toLowerCase() || ' ');
  const bytes = Math.round(Number(m[1]) * (m[3] === '' ? 1000 : 1024) ** power);
  if (!Number.isSafeInteger(bytes)) throw new TahoeError('UsageError', `--size ${text} is too large`, { hint: 'use a size below 8 PiB' });
  return bytes;
}

function mbps(bytes: number, ms: number): string {
  return ms <= 0 ? '∞' : `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

interface DemoFlags {
  network: string;
  servers: string;
  size: string;
  once?: boolean;
  keep?: boolean;
  verbose?: boolean;
}

export function register(program: Command): void {
  const cmd = new Command('demo')
    .description('Run a throwaway grid on this machine, store a file on it and fetch it back.')
    .addOption(new Option('--network <NAME>', `how the nodes reach each other: ${DEMO_NETWORKS.map((n) => `${n.name} (${n.description})`).join(', ')}`).default('tcp'))
    .option('--servers <N>', 'storage servers', '10')
    .option('--size <SIZE>', 'size of the generated file (e.g. 50MiB, 1GB)', '50MiB')
    .option('--once', 'stop and clean up right after the round trip')
    .option('--keep', 'keep the demo directory (node logs) after stopping')
    .option('--verbose', 'node logs to stderr too')
    .addHelpText('after', `
Everything lives in a new temporary directory and is removed when the demo stops (Ctrl-C,
or at once with --once). The cap printed is the file's read capability.`);
  cmd.action(async (flags: DemoFlags) => {
    const network = DEMO_NETWORKS.find((n) => n.name === flags.network);
    if (network === undefined) throw new TahoeError('UsageError', `--network ${flags.network}: no such demo network`, { hint: `choose one of: ${DEMO_NETWORKS.map((n) => n.name).join(', ')}` });
    if (!/^\d+$/.test(flags.servers) || Number(flags.servers) < 1 || Number(flags.servers) > 100) throw new TahoeError('UsageError', `--servers ${flags.servers}: give a number from 1 to 100`, { hint: 'e.g. --servers 10' });
    const servers = Number(flags.servers);
    const size = parseDemoSize(flags.size);
    const out = process.stdout;
    const tty = process.stderr.isTTY === true;
    let lastStatus = '';
    const status: DemoStatus = (message) => {
      if (message === lastStatus) return;
      lastStatus = message;
      if (tty) process.stderr.write(`\r\x1b[2K  ${message}`);
      else if (!/: \d+\/\d+$/.test(message) || /: (\d+)\/\1$/.test(message)) process.stderr.write(`  ${message}\n`);
    };
    const clearStatus = () => {
      if (tty && lastStatus !== '') process.stderr.write('\r\x1b[2K');
      lastStatus = '';
    };
    const abort = new AbortController();
    let interrupted = false;
    let wake: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (wake = r));
    const onSignal = (sig: NodeJS.Signals) => {
      if (interrupted) {
        process.stderr.write(`${sig} again: exiting without cleaning up\n`);
        process.exit(EXIT.INTERRUPTED);
      }
      interrupted = true;
      clearStatus();
      process.stderr.write(`${sig}: stopping the demo grid and removing its directory\n`);
      abort.abort(new TahoeError('Aborted', `stopped by ${sig}`, { hint: 'the demo was interrupted' }));
      wake();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const keepAlive = setInterval(() => undefined, 1 << 30);
    let grid: DemoGrid | undefined;
    try {
      out.write(`tahoe-ts demo: 1 introducer, ${servers} storage server${servers === 1 ? '' : 's'}, 1 client over ${network.name} (${network.description})\n`);
      const t0 = performance.now();
      grid = await startDemoGrid({ network, servers, signal: abort.signal, status, verbose: flags.verbose === true, keepOnFailure: flags.keep === true });
      clearStatus();
      const client = grid.client as TahoeNode;
      out.write(`  directory:   ${grid.root}\n`);
      out.write(`  grid up in ${((performance.now() - t0) / 1000).toFixed(1)} s; encoding ${grid.encoding.needed}-of-${grid.encoding.total}, happy ${grid.encoding.happy}\n`);
      const gateway = new GatewayClient(new URL(client.webUrl as string));
      clearStatus();
      const bar = new ProgressLine('uploading', size);
      let barPhase: 'upload' | 'download' = 'upload';
      const result = await demoTransfer(gateway, size, (phase, n) => {
        if (phase !== barPhase) bar.phase('downloading', size);
        barPhase = phase;
        bar.update(n);
      }, abort.signal);
      bar.clear();
      out.write(`  uploaded ${formatBytes(size)} in ${(result.uploadMs / 1000).toFixed(2)} s (${mbps(size, result.uploadMs)})\n`);
      out.write(`  downloaded and verified (SHA-256 ${result.sha256.slice(0, 16)}…) in ${(result.downloadMs / 1000).toFixed(2)} s (${mbps(size, result.downloadMs)})\n`);
      out.write(`  cap:         ${result.cap}\n`);
      out.write(`  web gateway: ${client.webUrl as string}\n`);
      if (flags.once !== true && !interrupted) {
        out.write('Running. Open the web gateway in a browser; Ctrl-C stops the grid and removes everything.\n');
        await stopped;
      }
    } catch (e) {
      clearStatus();
      if (interrupted) return;
      throw e;
    } finally {
      clearInterval(keepAlive);
      clearStatus();
      await grid?.close({ keep: flags.keep === true });
      if (flags.keep === true && grid !== undefined) process.stderr.write(`kept ${grid.root}\n`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (interrupted) process.exitCode = EXIT.OK;
    }
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
