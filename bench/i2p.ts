/**
 * I2P on one offline i2pd (src/testnet/i2pd.ts, i2p.md §5): router start until SAM answers,
 * SESSION CREATE (two in parallel, as the transport does), offline destination generation,
 * CONNECT → first byte at the acceptor, and raw stream throughput both ways through the
 * router's zero-hop tunnels.
 *
 * Then the grid over I2P vs TCP on the *same* grid: an introducer and five storage servers
 * that listen on both (`create-* --listen=tcp,i2p`, loopback), and two clients
 * — one that reveals its IP (it reaches every server over direct TCP) and one that hides it
 * with `[connections] tcp = disabled` and no Tor (every server over I2P) — uploading and
 * downloading the same sizes (3-of-5, happy 5) with real nodes (`TahoeNode`, in this
 * process), plus how long the grid took to come up (its I2P session waves).
 *
 * Figures measure i2pd's and our code's cost on this machine, not the latency of the real
 * I2P network (where tunnels have 3 hops and sessions take minutes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { CfgEdit } from '../src/config/cfg.js';
import { createNode, type CreateNodeOptions } from '../src/config/create.js';
import { editTahoeCfg } from '../src/config/keys.js';
import { bytesSource } from '../src/immutable/source.js';
import { silentLogger } from '../src/log.js';
import { TahoeNode, type NodeTiming } from '../src/node/node.js';
import { generateDestination } from '../src/net/i2p/destination.js';
import { SamClient, type SamSession } from '../src/net/i2p/sam.js';
import { OPEN_GATE } from '../src/net/socket.js';
import { startI2pRouter, type I2pRouter } from '../src/testnet/i2pd.js';
import { median, round, type BenchOptions, type BenchResult, type Benchmark, type Row } from './harness.js';

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** Send `bytes` one way and return MiB/s measured at the receiver (hash checked). */
async function oneWay(from: SamSession, to: SamSession, bytes: number): Promise<number> {
  const accepting = to.accept();
  const out = await from.connect(to.b32);
  const { socket: inbound } = await accepting;
  const block = randomBytes(64 * 1024);
  const sent = createHash('sha256');
  const got = createHash('sha256');
  const started = process.hrtime.bigint();
  const receiving = new Promise<number>((resolve, reject) => {
    let n = 0;
    inbound.on('data', (chunk: Buffer) => {
      got.update(chunk);
      n += chunk.length;
      if (n >= bytes) resolve(seconds(started));
    });
    inbound.once('error', reject);
    inbound.once('end', () => (n < bytes ? reject(new Error(`ended after ${n} bytes`)) : undefined));
  });
  for (let left = bytes; left > 0; left -= block.length) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    sent.update(piece);
    if (!out.write(piece)) await new Promise((r) => out.once('drain', r));
  }
  const secs = await receiving;
  out.destroy();
  inbound.destroy();
  if (sent.digest('hex') !== got.digest('hex')) throw new Error('stream corrupted data');
  return bytes / 1024 / 1024 / secs;
}

async function connectLatency(from: SamSession, to: SamSession): Promise<number> {
  const accepting = to.accept();
  const started = process.hrtime.bigint();
  const out: net.Socket = await from.connect(to.b32);
  out.write('x');
  const { socket } = await accepting;
  await new Promise((resolve) => socket.once('data', resolve));
  const ms = seconds(started) * 1000;
  out.destroy();
  socket.destroy();
  return ms;
}

const GRID_TIMING: NodeTiming = {
  introducer: { refreshIntervalMs: 2_000, warmupMs: 500, maxPollWaitMs: 3_000 },
  introducerClient: { pollWaitMs: 3_000, minBackoffMs: 200, maxBackoffMs: 2_000, connectTimeoutMs: 90_000, requestTimeoutMs: 90_000 },
  grid: { pollIntervalMs: 2_000, minBackoffMs: 200, maxBackoffMs: 2_000, probeTimeoutMs: 90_000 },
};

/** Upload then download `size` random bytes through `node`; MB/s both ways (decimal MB, as `demo`). */
async function transfer(node: TahoeNode, size: number): Promise<{ up: number; down: number }> {
  const grid = node.services.grid;
  if (grid === undefined) throw new Error('no grid client');
  const data = randomBytes(size);
  const t0 = process.hrtime.bigint();
  const { cap } = await grid.uploadImmutable(bytesSource(data), size);
  const up = size / 1e6 / seconds(t0);
  const t1 = process.hrtime.bigint();
  const hash = createHash('sha256');
  let n = 0;
  for await (const chunk of (await grid.downloadImmutable(cap)).stream) {
    hash.update(chunk);
    n += (chunk as Uint8Array).length;
  }
  const down = size / 1e6 / seconds(t1);
  if (n !== size || hash.digest('hex') !== createHash('sha256').update(data).digest('hex')) throw new Error('the grid returned different bytes');
  return { up, down };
}

/** The same grid reached over TCP by one client and over I2P by another. */
async function gridComparison(router: I2pRouter, dir: string, options: BenchOptions, rows: Row[]): Promise<void> {
  const SERVERS = 5;
  const nodes: TahoeNode[] = [];
  const i2p: CfgEdit[] = [
    { section: 'i2p', key: 'sam.port', value: `tcp:127.0.0.1:${router.samPort}` },
    { section: 'i2p', key: 'sam.options', value: Object.entries(router.sessionOptions).map(([k, v]) => `${k}=${v}`).join(' ') },
  ];
  const make = async (name: string, create: Omit<CreateNodeOptions, 'directory'>, edits: CfgEdit[]): Promise<string> => {
    const directory = path.join(dir, 'grid', name);
    await createNode({ directory, webport: 'none', nickname: name, ...create });
    await editTahoeCfg(directory, [...edits, { section: 'tor', key: 'enabled', value: 'false' }]);
    return directory;
  };
  const start = async (directory: string): Promise<TahoeNode> => {
    const node = await TahoeNode.start({ directory, logger: silentLogger, timing: GRID_TIMING });
    nodes.push(node);
    return node;
  };
  try {
    const t0 = process.hrtime.bigint();
    /** create-* --listen=tcp,i2p, with the TCP listener bound to loopback (--hostname binds every interface). */
    const makeTcpI2p = async (name: string, create: Omit<CreateNodeOptions, 'directory'>, edits: CfgEdit[]): Promise<string> => {
      const d = await make(name, { ...create, listen: ['tcp', 'i2p'], hostname: '127.0.0.1', i2pSamPort: `tcp:127.0.0.1:${router.samPort}` }, [...i2p, ...edits]);
      const port = /^tub\.port = tcp:(\d+),listen:i2p$/m.exec(await readFile(path.join(d, 'tahoe.cfg'), 'utf8'))?.[1];
      if (port === undefined) throw new Error('unexpected tub.port from create-node --listen=tcp,i2p');
      await editTahoeCfg(d, [{ section: 'node', key: 'tub.port', value: `tcp:${port}:interface=127.0.0.1,listen:i2p` }]);
      return d;
    };
    // Reachable both ways, so that each client uses one transport only.
    const introducer = await start(await makeTcpI2p('introducer', { command: 'create-introducer' }, []));
    const furl = introducer.introducerFurl as string;
    const encoding = { sharesNeeded: 3, sharesHappy: SERVERS, sharesTotal: SERVERS };
    const serverDirs = await Promise.all(Array.from({ length: SERVERS }, (_, i) => makeTcpI2p(`server-${i}`, { command: 'create-node', introducer: furl }, [{ section: 'storage', key: 'reserved_space', value: '0' }])));
    const tcpClientDir = await make('client-tcp', { command: 'create-client', introducer: furl, ...encoding }, [{ section: 'i2p', key: 'enabled', value: 'false' }]);
    const i2pClientDir = await make('client-i2p', { command: 'create-client', introducer: furl, hideIp: true, ...encoding }, [...i2p, { section: 'connections', key: 'tcp', value: 'disabled' }]);
    const [tcpClient, i2pClient] = await Promise.all([start(tcpClientDir), start(i2pClientDir), ...serverDirs.map((d) => start(d))]);
    const waitAll = async (node: TahoeNode, via: string) => {
      const grid = node.services.grid;
      if (grid === undefined) throw new Error('no grid client');
      await grid.waitForServers(SERVERS, { timeoutMs: 180_000 });
      const wrong = grid.serverStatuses().filter((x) => x.transport !== via);
      if (wrong.length > 0) throw new Error(`expected every server via ${via}: ${JSON.stringify(wrong.map((x) => [x.nickname, x.transport]))}`);
    };
    await Promise.all([waitAll(tcpClient, 'tcp'), waitAll(i2pClient, 'i2p')]);
    rows.push({ metric: `grid up (tcp+i2p introducer, then ${SERVERS} tcp+i2p servers and 2 clients: two I2P session waves)`, value: round(seconds(t0)), unit: 's' });

    const sizes = options.quick ? [1 * 2 ** 20] : [1 * 2 ** 20, 16 * 2 ** 20, 64 * 2 ** 20];
    for (const size of sizes) {
      for (const [via, node] of [['TCP', tcpClient], ['I2P', i2pClient]] as const) {
        const runs = options.quick || size > 16 * 2 ** 20 ? 1 : 3;
        const ups: number[] = [];
        const downs: number[] = [];
        for (let i = 0; i < runs; i++) {
          const r = await transfer(node, size);
          ups.push(r.up);
          downs.push(r.down);
        }
        const label = `${size >> 20} MiB, 3-of-${SERVERS}${runs > 1 ? `, median of ${runs}` : ''}`;
        rows.push({ metric: `grid upload over ${via} (${label})`, value: round(median(ups)), unit: 'MB/s' });
        rows.push({ metric: `grid download over ${via} (${label})`, value: round(median(downs)), unit: 'MB/s' });
      }
    }
  } finally {
    for (const node of nodes.reverse()) await node.stop().catch(() => undefined);
  }
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-bench-i2p-'));
  const rows: Row[] = [];
  const t0 = process.hrtime.bigint();
  const router = await startI2pRouter({ dir });
  rows.push({ metric: 'router start until SAM answers', value: round(seconds(t0)), unit: 's' });
  try {
    const genTimes: number[] = [];
    for (let i = 0; i < (options.quick ? 3 : 20); i++) {
      const g = process.hrtime.bigint();
      generateDestination();
      genTimes.push(seconds(g) * 1000);
    }
    rows.push({ metric: 'offline destination generation (median)', value: round(median(genTimes)), unit: 'ms' });

    const client = new SamClient({ endpoint: router.samEndpoint, gate: OPEN_GATE, timeouts: router.timeouts });
    const s0 = process.hrtime.bigint();
    const [a, b] = await Promise.all([
      client.createSession({ destination: generateDestination().privateKeyBase64, options: router.sessionOptions }),
      client.createSession({ destination: 'TRANSIENT', options: router.sessionOptions }),
    ]);
    rows.push({ metric: 'SESSION CREATE, 2 in parallel', value: round(seconds(s0)), unit: 's' });
    try {
      const latencies: number[] = [];
      for (let i = 0; i < (options.quick ? 3 : 15); i++) latencies.push(await connectLatency(b, a));
      rows.push({ metric: 'CONNECT → first byte at acceptor (median)', value: round(median(latencies)), unit: 'ms' });
      const bytes = (options.quick ? 2 : 16) * 1024 * 1024;
      const ab: number[] = [];
      const ba: number[] = [];
      for (let i = 0; i < (options.quick ? 1 : 3); i++) {
        ab.push(await oneWay(b, a, bytes));
        ba.push(await oneWay(a, b, bytes));
      }
      rows.push({ metric: `stream throughput dialler → listener (${bytes >> 20} MiB, median)`, value: round(median(ab)), unit: 'MiB/s' });
      rows.push({ metric: `stream throughput listener → dialler (${bytes >> 20} MiB, median)`, value: round(median(ba)), unit: 'MiB/s' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    await gridComparison(router, dir, options, rows);
  } finally {
    const s = process.hrtime.bigint();
    await router.stop();
    rows.push({ metric: 'router stop (SAM sockets closed)', value: round(seconds(s)), unit: 's' });
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    rows,
    notes: [
      'one offline i2pd 2.45 router, zero-hop tunnels, ElGamal LeaseSet (i2cp.leaseSetType=1); SESSION CREATE is a fixed 20 s timer in i2pd 2.45',
      'grid rows: every node (introducer, 5 servers, 2 clients) runs in this process; the TCP and I2P clients use the same servers, sizes and encoding; MB/s = 10^6 bytes/s',
    ],
  };
}

export const benchmark: Benchmark = {
  name: 'i2p',
  description: 'offline i2pd: start, SESSION CREATE, connect latency, SAM stream throughput; grid upload/download over I2P vs TCP on the same grid',
  run,
};
