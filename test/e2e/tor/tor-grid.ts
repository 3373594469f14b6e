/**
 * Grids of real tahoe-ts nodes on a private Tor network (src/testnet/tor-network.ts), for
 * the use-case tests in this folder. Every node directory is written by the real
 * `create-node` / `create-client` / `create-introducer` code (config/create.ts) plus
 * tahoe.cfg edits, exactly as a user would do it, and run by the real `TahoeNode` (or
 * `tahoe-ts run` in a child process). The network's client tor plays "the system tor":
 * nodes attach to it through `[tor] socks.port` / `control.port` (or find it by
 * discovery), or launch their own tor that joins the network (`launch.extra_torrc`).
 *
 * Servers announce `tcp:localhost:PORT`: a direct client resolves `localhost` itself, a
 * client that hides its IP sends the name unresolved through Tor and the network's exit
 * resolves it (src/testnet/exit-dns.ts records that it did).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CfgEdit } from '../../../src/config/cfg.js';
import { createNode, type CreateNodeOptions } from '../../../src/config/create.js';
import { editTahoeCfg } from '../../../src/config/keys.js';
import type { ServerStatus } from '../../../src/grid/client.js';
import { bytesSource } from '../../../src/immutable/source.js';
import { TahoeNode, type NodeTiming, type TahoeNodeOptions } from '../../../src/node/node.js';
import { startTorNetwork, type TorNetwork } from '../../../src/testnet/tor-network.js';
import { freePort } from '../../helpers/ports.js';

export function log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

/** Short intervals so that announcements, polls and retries happen in seconds. */
export const TOR_TEST_TIMING: NodeTiming = {
  introducer: { refreshIntervalMs: 3_000, warmupMs: 1_000, maxPollWaitMs: 5_000 },
  introducerClient: { pollWaitMs: 5_000, minBackoffMs: 300, maxBackoffMs: 3_000, connectTimeoutMs: 60_000, requestTimeoutMs: 60_000 },
  // A probe that hangs (tor still looking for a fresh descriptor) is given up and retried after 30 s.
  grid: { pollIntervalMs: 3_000, minBackoffMs: 300, maxBackoffMs: 3_000, probeTimeoutMs: 30_000 },
};

export interface TorGridScope {
  root: string;
  network: TorNetwork;
  /** `tcp:127.0.0.1:N` of the network's client tor ("the system tor"). */
  controlPort: string;
  socksPort: string;
  /** A loopback port where nothing listens (a tor that is not there). */
  deadPort: number;
  /** Every node started through `start`, stopped in reverse order by `close`. */
  nodes: TahoeNode[];
  start(directory: string, options?: Partial<TahoeNodeOptions>): Promise<TahoeNode>;
  close(): Promise<void>;
}

/** One private network and a root directory for one test file. */
export async function openTorGrid(prefix: string): Promise<TorGridScope> {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  let network: TorNetwork;
  try {
    network = await startTorNetwork({ dir: path.join(root, 'tor-network'), onProgress: (m) => log(`network ${m}`) });
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  log(`network timings: ${JSON.stringify(network.timings)}`);
  const deadPort = await freePort();
  const nodes: TahoeNode[] = [];
  let closing: Promise<void> | undefined;
  return {
    root,
    network,
    controlPort: `tcp:127.0.0.1:${network.controlPort}`,
    socksPort: `tcp:127.0.0.1:${network.socksPort}`,
    deadPort,
    nodes,
    async start(directory, options = {}) {
      const started = Date.now();
      const node = await TahoeNode.start({ directory, logToStderr: false, timing: TOR_TEST_TIMING, tor: { publishTimeoutMs: 90_000 }, ...options });
      nodes.push(node);
      log(`${path.basename(directory)} started in ${Date.now() - started} ms`);
      return node;
    },
    close: () =>
      (closing ??= (async () => {
        for (const node of [...nodes].reverse()) await node.stop().catch(() => undefined);
        await network.stop();
        if (process.env.TAHOE_TS_KEEP_TEST_DIRS === undefined) rmSync(root, { recursive: true, force: true });
        else log(`kept ${root}`);
      })()),
  };
}

/** The original design's spelling of "hide my IP address", in place of create-*'s `reveal-IP-address = false`. */
export const ANONYMIZE_EDITS: readonly CfgEdit[] = [
  { section: 'node', key: 'reveal-IP-address', value: null },
  { section: 'node', key: 'anonymize', value: 'true' },
];

/**
 * Server use case 3 in the original language, from what `create-node --listen=tor --hide-ip`
 * wrote: `anonymize = true` and `tub.location = onion:80:hiddenServiceDir=DIR`, without
 * tub.port, `[connections] tcp` or the 1.20 `[tor] onion*` keys. How the node gets its tor
 * (`control.port`, `launch = true`) stays as create-node wrote it.
 */
export function originalOnionOnlyEdits(hiddenServiceDir: string): CfgEdit[] {
  return [
    ...ANONYMIZE_EDITS,
    { section: 'connections', key: 'tcp', value: null },
    { section: 'node', key: 'tub.port', value: null },
    { section: 'node', key: 'tub.location', value: `onion:80:hiddenServiceDir=${hiddenServiceDir}` },
    { section: 'tor', key: 'onion', value: null },
    { section: 'tor', key: 'onion.local_port', value: null },
    { section: 'tor', key: 'onion.external_port', value: null },
    { section: 'tor', key: 'onion.private_key_file', value: null },
  ];
}

/** create-* plus the tahoe.cfg edits a user would make; reserved_space 0 (a test disk may be small). */
export async function makeNode(directory: string, options: Omit<CreateNodeOptions, 'directory'>, edits: CfgEdit[] = []): Promise<string> {
  await createNode({ directory, webport: 'none', ...options });
  const storage: CfgEdit[] = options.command === 'create-introducer' ? [] : [{ section: 'storage', key: 'reserved_space', value: '0' }];
  await editTahoeCfg(directory, [...storage, ...edits]);
  return directory;
}

export function statusesByNickname(node: TahoeNode): Map<string, ServerStatus> {
  const grid = node.services.grid;
  assert.ok(grid, 'the node runs a grid client');
  return new Map(grid.serverStatuses().map((s) => [s.nickname, s]));
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Upload `size` random bytes through the node's grid client, download them and compare. */
export async function roundTrip(node: TahoeNode, size: number): Promise<{ cap: string; data: Buffer; storageIndex: string; servers: number; uploadMs: number; downloadMs: number }> {
  const grid = node.services.grid;
  assert.ok(grid, 'the node runs a grid client');
  const data = randomBytes(size);
  const t0 = Date.now();
  const up = await grid.uploadImmutable(bytesSource(data), data.length, { randomKey: true });
  const uploadMs = Date.now() - t0;
  const t1 = Date.now();
  const got = await downloadBytes(node, up.cap);
  const downloadMs = Date.now() - t1;
  assert.equal(got.length, size);
  assert.ok(got.equals(data), 'the downloaded bytes equal the uploaded ones');
  assert.ok(up.storageIndex, 'a CHK upload has a storage index');
  return { cap: up.cap, data, storageIndex: up.storageIndex, servers: up.servers, uploadMs, downloadMs };
}

/** The whole content of an immutable file, read through the node's grid client. */
export async function downloadBytes(node: TahoeNode, cap: string): Promise<Buffer> {
  const grid = node.services.grid;
  assert.ok(grid, 'the node runs a grid client');
  const { size, stream } = await grid.downloadImmutable(cap);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  const bytes = Buffer.concat(chunks);
  assert.equal(bytes.length, size, 'as many bytes as the cap says');
  return bytes;
}

/** How many shares of `storageIndex` this server's node directory holds. */
export async function sharesHeld(serverDirectory: string, storageIndex: string): Promise<number> {
  const dir = path.join(serverDirectory, 'storage', 'shares', storageIndex.slice(0, 2), storageIndex);
  return (await readdir(dir).catch(() => [])).length;
}

/** The node's log file (redacted as the node writes it). */
export async function nodeLog(directory: string): Promise<string> {
  return readFile(path.join(directory, 'logs', 'tahoe-ts.log'), 'utf8').catch(() => '');
}
