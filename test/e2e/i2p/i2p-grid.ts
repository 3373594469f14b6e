/**
 * Grids of real tahoe-ts nodes over one offline i2pd (src/testnet/i2pd.ts, i2p.md §5): the
 * router plays "the system i2pd" that every node attaches to through `[i2p] sam.port`, with
 * the offline session options in `[i2p] sam.options` (zero-hop tunnels, LeaseSet type 1 —
 * they replace the production options). Optionally a private Tor network runs beside it
 * (src/testnet/tor-network.ts) for mixed grids. Node directories are written by the real
 * create-* code plus the tahoe.cfg edits a user would make; nodes run in this process
 * (`TahoeNode`) or as `tahoe-ts run` (test/node/processes.ts).
 *
 * Session waves: every SESSION CREATE on i2pd 2.45 takes 20 s whatever else is going on, so
 * tests start nodes in parallel — an introducer first (its fURL is needed by the rest), then
 * every server and client at once (each server builds its destination and its client session
 * together, node.ts `dialsI2pAtStart`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CfgEdit } from '../../../src/config/cfg.js';
import { TahoeNode, type NodeTiming, type TahoeNodeOptions } from '../../../src/node/node.js';
import { startI2pRouter, type I2pRouter } from '../../../src/testnet/i2pd.js';
import { startTorNetwork, type TorNetwork } from '../../../src/testnet/tor-network.js';
import { findI2pdExecutable } from '../../../src/net/i2p/router-process.js';

export function log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

/** Short intervals: announcements, polls and retries happen in seconds. Probes allow for a 20 s session. */
export const I2P_TEST_TIMING: NodeTiming = {
  introducer: { refreshIntervalMs: 3_000, warmupMs: 1_000, maxPollWaitMs: 5_000 },
  introducerClient: { pollWaitMs: 5_000, minBackoffMs: 300, maxBackoffMs: 3_000, connectTimeoutMs: 90_000, requestTimeoutMs: 90_000 },
  grid: { pollIntervalMs: 3_000, minBackoffMs: 300, maxBackoffMs: 3_000, probeTimeoutMs: 90_000 },
};

/** The same, for `tahoe-ts run` (TAHOE_TS_TEST_TIMING). */
export const I2P_RUN_TIMING = JSON.stringify(I2P_TEST_TIMING);

export interface I2pGridScope {
  root: string;
  router: I2pRouter;
  /** `tcp:127.0.0.1:N`: the router's SAM bridge. */
  samPort: string;
  /** The private Tor network, when asked for. */
  tor: TorNetwork | undefined;
  /** What makes a node use this router: `[i2p] sam.port` and the offline `sam.options`. */
  i2pEdits(): CfgEdit[];
  nodes: TahoeNode[];
  start(directory: string, options?: Partial<TahoeNodeOptions>): Promise<TahoeNode>;
  /** Print the router's log (when a test failed). */
  dumpRouterLog(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Fail under CI when i2pd is missing, skip loudly otherwise (returns the reason to skip).
 */
export function i2pdMissing(): string | undefined {
  try {
    findI2pdExecutable();
    return undefined;
  } catch (e) {
    const msg = `!!! i2pd not installed (${(e as Error).message}): apt-get install i2pd`;
    if (process.env.CI === 'true') throw new Error(msg, { cause: e });
    process.stderr.write(`\n${msg} — SKIPPING\n\n`);
    return msg;
  }
}

/** One offline router (and, with `tor`, a private Tor network, started in parallel) for one test file. */
export async function openI2pGrid(prefix: string, options: { tor?: boolean } = {}): Promise<I2pGridScope> {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const started = Date.now();
  const [routerResult, torResult] = await Promise.allSettled([
    startI2pRouter({ dir: path.join(root, 'i2pd') }),
    options.tor === true ? startTorNetwork({ dir: path.join(root, 'tor-network'), onProgress: (m) => log(`tor network ${m}`) }) : Promise.resolve(undefined),
  ]);
  if (routerResult.status === 'rejected' || torResult.status === 'rejected') {
    if (routerResult.status === 'fulfilled') await routerResult.value.stop();
    if (torResult.status === 'fulfilled') await torResult.value?.stop();
    rmSync(root, { recursive: true, force: true });
    throw routerResult.status === 'rejected' ? routerResult.reason : (torResult as PromiseRejectedResult).reason;
  }
  const router = routerResult.value;
  const tor = torResult.value;
  log(`i2pd (pid ${router.pid}, SAM ${router.samPort})${tor ? ' and the private Tor network' : ''} up in ${Date.now() - started} ms`);
  const nodes: TahoeNode[] = [];
  let closing: Promise<void> | undefined;
  const samPort = `tcp:127.0.0.1:${router.samPort}`;
  return {
    root,
    router,
    samPort,
    tor,
    nodes,
    i2pEdits: () => [
      { section: 'i2p', key: 'sam.port', value: samPort },
      { section: 'i2p', key: 'sam.options', value: Object.entries(router.sessionOptions).map(([k, v]) => `${k}=${v}`).join(' ') },
    ],
    async start(directory, startOptions = {}) {
      const t0 = Date.now();
      const node = await TahoeNode.start({ directory, logToStderr: false, timing: I2P_TEST_TIMING, ...startOptions });
      nodes.push(node);
      log(`${path.basename(directory)} started in ${Date.now() - t0} ms`);
      return node;
    },
    async dumpRouterLog() {
      process.stderr.write(`\n--- i2pd log (pid ${router.pid}) ---\n${await router.logTail(60)}\n`);
    },
    close: () =>
      (closing ??= (async () => {
        for (const node of [...nodes].reverse()) await node.stop().catch(() => undefined);
        await router.stop();
        await tor?.stop();
        if (process.env.TAHOE_TS_KEEP_TEST_DIRS === undefined) rmSync(root, { recursive: true, force: true });
        else log(`kept ${root}`);
      })()),
  };
}

/** The hints of a fURL (`pb://TUBID@HINT,HINT/SWISSNUM`). */
export function hintsOfFurl(furl: string): string[] {
  const m = /^pb:\/\/[^@]+@([^/]*)\//.exec(furl);
  if (m === null) throw new Error(`not a fURL: ${furl.slice(0, 12)}…`);
  return m[1].split(',');
}

export const B32 = '[a-z2-7]{52}\\.b32\\.i2p';
