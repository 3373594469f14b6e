/**
 * A small grid for the anonymity proofs: one introducer and N storage servers, made with
 * the real create-node code and run in this process by the real node runtime, reachable
 * over the private Tor network (onion services through the network's control port) or
 * over the offline i2pd (I2P destinations through its SAM bridge).
 *
 * Optionally every node also listens on, and announces, a clear-net TCP address
 * (`clearnet`): the network-namespace proof uses it so that an anonymized client *has* a
 * direct route available and must refuse it, while the control run (anonymize off) takes
 * it and shows up in the packet capture. A `clearnetName` adds a host-name hint in front
 * of it, so that a client that resolves names locally sends a DNS query.
 *
 * Specs: shared/specs/configuration.md §2–§4 (create-node --listen=tor/i2p output),
 * tor.md §6 (private network), i2p.md §5 (offline router).
 */
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createNode, type CreateNodeOptions } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import type { CfgEdit } from '../../src/config/cfg.js';
import { TahoeNode, type NodeTiming, type TahoeNodeOptions } from '../../src/node/node.js';
import { Logger, type LogLevel } from '../../src/log.js';
import type { TorNetwork } from '../../src/testnet/tor-network.js';
import type { I2pRouter } from '../../src/testnet/i2pd.js';
import { createWebGateway } from '../../src/web/gateway.js';
import { freePort } from '../helpers/ports.js';

export type GridNetwork = { kind: 'tor'; tor: TorNetwork } | { kind: 'i2p'; i2p: I2pRouter } | { kind: 'tcp'; address: string };

export interface AnonGridOptions {
  root: string;
  network: GridNetwork;
  servers: number;
  /** Servers hide their IP too (server use case 3: onion/I2P only, reveal-IP-address = false). */
  hideServers?: boolean;
  /** Also listen on this (non-loopback) address and announce it as a tcp: hint. */
  clearnet?: string;
  /** With `clearnet`: announce `tcp:<name>:PORT` first (a name only a local resolver would look up). */
  clearnetName?: string;
  /** Node logs: each node writes logs/tahoe-ts.log in its directory at this level. */
  logLevel?: LogLevel;
  timing?: NodeTiming;
  /** Extra tahoe.cfg edits for every node. */
  edits?: CfgEdit[];
  /** Give every storage server a web gateway on a free loopback port (its welcome page lists its listeners). */
  webPorts?: boolean;
}

export interface AnonGrid {
  introducer: TahoeNode;
  servers: TahoeNode[];
  /** The introducer's fURL (a secret: never log it). */
  introducerFurl: string;
  directories: string[];
  close(): Promise<void>;
}

export const GRID_TIMING: NodeTiming = {
  introducer: { refreshIntervalMs: 1_000, expiryMs: 60_000, warmupMs: 500, sweepIntervalMs: 500 },
  introducerClient: { pollWaitMs: 3_000, minBackoffMs: 250, maxBackoffMs: 2_000, connectTimeoutMs: 60_000, requestTimeoutMs: 60_000 },
  grid: { pollIntervalMs: 1_000, minBackoffMs: 250, maxBackoffMs: 2_000, probeTimeoutMs: 60_000 },
};

/** The same timings for `tahoe-ts run` children (TAHOE_TS_TEST_TIMING). */
export const GRID_TIMING_ENV = JSON.stringify(GRID_TIMING);

async function listenOptions(network: GridNetwork): Promise<Partial<CreateNodeOptions>> {
  if (network.kind === 'tor') return { listen: ['tor'], torControlPort: `tcp:127.0.0.1:${network.tor.controlPort}` };
  if (network.kind === 'i2p') return { listen: ['i2p'], i2pSamPort: `tcp:127.0.0.1:${network.i2p.samPort}` };
  const port = await freePort(network.address);
  return { port: `tcp:${port}:interface=${network.address}`, location: `tcp:${network.address}:${port}` };
}

function networkEdits(network: GridNetwork, hide: boolean, introducer: boolean): CfgEdit[] {
  // create-node writes reserved_space = 1G; a test machine's disk may have less free.
  const edits: CfgEdit[] = introducer ? [] : [{ section: 'storage', key: 'reserved_space', value: '0' }];
  if (network.kind === 'tcp') {
    edits.push({ section: 'tor', key: 'enabled', value: 'false' }, { section: 'i2p', key: 'enabled', value: 'false' });
  } else if (network.kind === 'i2p') {
    edits.push({ section: 'i2p', key: 'sam.options', value: Object.entries(network.i2p.sessionOptions).map(([k, v]) => `${k}=${v}`).join(' ') });
    edits.push({ section: 'tor', key: 'enabled', value: 'false' });
    if (hide) edits.push({ section: 'connections', key: 'tcp', value: 'disabled' });
  } else {
    edits.push({ section: 'i2p', key: 'enabled', value: 'false' });
  }
  return edits;
}

/** Add a clear-net listener and hint(s) to a node made by create-node --listen=tor/i2p. */
async function addClearnet(directory: string, tubPort: string, tubLocation: string, address: string, name: string | undefined): Promise<CfgEdit[]> {
  const port = await freePort(address);
  const hints = [...(name === undefined ? [] : [`tcp:${name}:${port}`]), `tcp:${address}:${port}`];
  return [
    { section: 'node', key: 'tub.port', value: `${tubPort},tcp:${port}:interface=${address}` },
    { section: 'node', key: 'tub.location', value: `${tubLocation},${hints.join(',')}` },
  ];
}

async function makeNode(root: string, name: string, command: 'create-introducer' | 'create-node', options: AnonGridOptions, introducer?: string): Promise<string> {
  const directory = path.join(root, name);
  const hide = options.hideServers === true && options.clearnet === undefined;
  const webport = command === 'create-node' && options.webPorts === true ? `tcp:${await freePort()}:interface=127.0.0.1` : 'none';
  const created = await createNode({
    directory,
    command,
    nickname: name,
    webport,
    hideIp: hide && options.network.kind === 'tor',
    ...(introducer === undefined ? {} : { introducer }),
    ...(await listenOptions(options.network)),
  });
  const edits = networkEdits(options.network, hide, command === 'create-introducer');
  if (hide && options.network.kind === 'i2p') edits.push({ section: 'node', key: 'reveal-IP-address', value: 'false' });
  if (options.clearnet !== undefined) edits.push(...(await addClearnet(directory, created.tubPort, created.tubLocation, options.clearnet, options.clearnetName)));
  await editTahoeCfg(directory, [...edits, ...(options.edits ?? [])]);
  return directory;
}

function nodeOptions(directory: string, options: AnonGridOptions): TahoeNodeOptions {
  return {
    directory,
    // Every node logs at the requested level into NODEDIR/logs/tahoe-ts.log, not to the test's stderr.
    logToStderr: false,
    logFile: true,
    timing: options.timing ?? GRID_TIMING,
    webGateway: createWebGateway,
    ...(options.network.kind === 'tor' ? { tor: { publishTimeoutMs: 90_000 } } : {}),
  };
}

/** Start the grid; stopped in t.after (also on failure). Servers start in parallel (onion publication and I2P session creation are waits, not work). */
export async function startAnonGrid(t: Pick<TestContext, 'after'>, options: AnonGridOptions): Promise<AnonGrid> {
  const started: TahoeNode[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= (async () => {
    for (const node of [...started].reverse()) await node.stop().catch(() => undefined);
  })());
  t.after(close);
  const previousLevel = process.env.TAHOE_TS_LOG_LEVEL;
  if (options.logLevel !== undefined) process.env.TAHOE_TS_LOG_LEVEL = options.logLevel;
  try {
    const introDir = await makeNode(options.root, 'introducer', 'create-introducer', options);
    const introducer = await TahoeNode.start(nodeOptions(introDir, options));
    started.push(introducer);
    const furl = introducer.introducerFurl;
    if (furl === undefined) throw new Error('the introducer has no fURL');
    const dirs = await Promise.all(Array.from({ length: options.servers }, (_, i) => makeNode(options.root, `server${i}`, 'create-node', options, furl)));
    const servers = await Promise.all(dirs.map(async (d) => {
      const node = await TahoeNode.start(nodeOptions(d, options));
      started.push(node);
      return node;
    }));
    return { introducer, servers, introducerFurl: furl, directories: [introDir, ...dirs], close };
  } finally {
    if (options.logLevel !== undefined) {
      if (previousLevel === undefined) delete process.env.TAHOE_TS_LOG_LEVEL;
      else process.env.TAHOE_TS_LOG_LEVEL = previousLevel;
    }
  }
}

/** A logger writing to an array (in-process nodes whose lines a test inspects). */
export function memoryLogger(level: LogLevel = 'debug', logSensitive = false): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level, logSensitive, sink: { write: (l) => lines.push(l) } }), lines };
}
