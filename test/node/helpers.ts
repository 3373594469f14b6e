/**
 * Node directories for the runtime tests, made by the real create-node / create-introducer
 * code on 127.0.0.1 ports, and small waiting helpers.
 */
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import type { CfgEdit } from '../../src/config/cfg.js';
import { TahoeNode, type TahoeNodeOptions, type NodeTiming } from '../../src/node/node.js';
import { silentLogger } from '../../src/log.js';
import { freePort } from '../helpers/ports.js';

export interface NodeDirOptions {
  nickname?: string;
  /** The introducer's fURL (private/introducers.yaml, petname "default"). */
  introducer?: string;
  /** k / happy / n. */
  shares?: [number, number, number];
  webport?: string;
  /** A storage server (listening on a loopback port), or a client only. */
  storage?: boolean;
  port?: number;
  edits?: CfgEdit[];
}

/** An introducer directory listening on 127.0.0.1:PORT. */
export async function introducerDir(root: string, name = 'introducer', port?: number): Promise<{ directory: string; port: number }> {
  const p = port ?? (await freePort());
  const directory = path.join(root, name);
  await createNode({ directory, command: 'create-introducer', port: `tcp:${p}:interface=127.0.0.1`, location: `tcp:127.0.0.1:${p}`, webport: 'none' });
  return { directory, port: p };
}

/** A client node (storage server unless `storage: false`) on 127.0.0.1. */
export async function clientDir(root: string, name: string, options: NodeDirOptions = {}): Promise<{ directory: string; port?: number }> {
  const directory = path.join(root, name);
  const storage = options.storage ?? true;
  const port = storage ? options.port ?? (await freePort()) : undefined;
  const [k, happy, n] = options.shares ?? [2, 3, 4];
  await createNode({
    directory,
    command: storage ? 'create-node' : 'create-client',
    nickname: options.nickname ?? name,
    ...(options.introducer === undefined ? {} : { introducer: options.introducer }),
    ...(storage ? { port: `tcp:${port}:interface=127.0.0.1`, location: `tcp:127.0.0.1:${port}` } : { listen: ['none'] }),
    webport: options.webport ?? 'none',
    sharesNeeded: k,
    sharesHappy: happy,
    sharesTotal: n,
  });
  // create-node writes reserved_space = 1G; a test machine's disk may have less free.
  await editTahoeCfg(directory, [{ section: 'storage', key: 'reserved_space', value: '0' }, ...(options.edits ?? [])]);
  return port === undefined ? { directory } : { directory, port };
}

export const FAST_TIMING: NodeTiming = {
  introducer: { refreshIntervalMs: 500, expiryMs: 2_000, warmupMs: 1_000, sweepIntervalMs: 100 },
  introducerClient: { pollWaitMs: 2_000, minBackoffMs: 100, maxBackoffMs: 1_000, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000 },
  grid: { pollIntervalMs: 500, minBackoffMs: 100, maxBackoffMs: 1_000, probeTimeoutMs: 3_000 },
};

/** Start a node in process; stopped in t.after (also on failure). */
export async function startNode(t: Pick<TestContext, 'after'>, directory: string, options: Partial<TahoeNodeOptions> = {}): Promise<TahoeNode> {
  const node = await TahoeNode.start({ directory, logger: silentLogger, timing: FAST_TIMING, ...options });
  t.after(() => node.stop());
  return node;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
