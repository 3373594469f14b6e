/**
 * Tor on a private loopback network (src/testnet/tor-network.ts, tor.md §6): how long the
 * network takes to come up, how long a tor launched by tahoe-ts takes to join it, onion
 * publication (ADD_ONION → first HS_DESC UPLOADED → first successful stream), raw stream
 * throughput through an exit to a loopback server and through an onion service, and a
 * whole grid (introducer + 5 storage servers listening on TCP and as onion services, all
 * real tahoe-ts nodes) used by two clients on the same network: one direct over TCP, one
 * hiding its IP whose every connection goes to the onion services — upload and download
 * MB/s and the download's time to first byte for the same files.
 * Every hop is a real tor on this machine, so the figures measure tor's CPU cost and our
 * SOCKS/control code, not a real network's latency.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { CfgEdit } from '../src/config/cfg.js';
import { createNode, type CreateNodeOptions } from '../src/config/create.js';
import { editTahoeCfg } from '../src/config/keys.js';
import { bytesSource } from '../src/immutable/source.js';
import { silentLogger } from '../src/log.js';
import { OPEN_GATE } from '../src/net/socket.js';
import { TahoeNode, type NodeTiming } from '../src/node/node.js';
import { launchTor } from '../src/net/tor/launch.js';
import { connectTorProvider } from '../src/net/tor/provider.js';
import { TorTransport } from '../src/net/tor/transport.js';
import { startTorNetwork, type TorNetwork } from '../src/testnet/tor-network.js';
import { median, round, type BenchOptions, type BenchResult, type Benchmark, type Row } from './harness.js';

/** Read `bytes` from the stream and return the seconds it took from the first write request. */
async function drain(stream: Duplex, bytes: number): Promise<number> {
  const started = process.hrtime.bigint();
  let got = 0;
  for await (const chunk of stream) {
    got += (chunk as Buffer).length;
    if (got >= bytes) break;
  }
  if (got < bytes) throw new Error(`stream ended after ${got} of ${bytes} bytes`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** A loopback server that sends `bytes` of random data to whoever connects. */
async function sourceServer(bytes: number): Promise<{ port: number; close(): Promise<void> }> {
  const block = randomBytes(64 * 1024);
  const server = net.createServer((socket) => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!socket.write(n === block.length ? block : block.subarray(0, n))) return void socket.once('drain', pump);
      }
      socket.end();
    };
    socket.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

async function retry<T>(fn: () => Promise<T>, overallMs: number): Promise<T> {
  const deadline = Date.now() + overallMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const GRID_TIMING: NodeTiming = {
  introducer: { refreshIntervalMs: 3_000, warmupMs: 1_000, maxPollWaitMs: 5_000 },
  introducerClient: { pollWaitMs: 5_000, minBackoffMs: 300, maxBackoffMs: 3_000 },
  grid: { pollIntervalMs: 10_000, minBackoffMs: 300, maxBackoffMs: 3_000, probeTimeoutMs: 60_000 },
};
const GRID_SERVERS = 5;

async function makeNode(directory: string, options: Omit<CreateNodeOptions, 'directory'>, edits: CfgEdit[] = []): Promise<string> {
  await createNode({ directory, webport: 'none', ...options });
  await editTahoeCfg(directory, [...(options.command === 'create-introducer' ? [] : [{ section: 'storage', key: 'reserved_space', value: '0' }]), ...edits]);
  return directory;
}

/**
 * The same grid, two clients: `tcp` (no Tor: every server directly) and `tor` (hides its
 * IP: every server through its onion service). Upload, then download with the time to the
 * first plaintext byte, per size; 3-of-5 shares, happy 5.
 */
async function gridFigures(network: TorNetwork, base: string, sizes: number[], rows: Row[]): Promise<void> {
  const control = `tcp:127.0.0.1:${network.controlPort}`;
  const started: TahoeNode[] = [];
  const start = async (directory: string): Promise<TahoeNode> => {
    const node = await TahoeNode.start({ directory, logger: silentLogger, timing: GRID_TIMING, tor: { publishTimeoutMs: 120_000 } });
    started.push(node);
    return node;
  };
  try {
    const intro = await start(await makeNode(path.join(base, 'grid', 'introducer'), { command: 'create-introducer', listen: ['tcp', 'tor'], hostname: 'localhost', torControlPort: control }));
    const furl = intro.introducerFurl as string;
    const publishStarted = Date.now();
    await Promise.all(
      Array.from({ length: GRID_SERVERS }, async (_, i) =>
        start(await makeNode(path.join(base, 'grid', `server${i}`), { command: 'create-node', nickname: `server${i}`, listen: ['tcp', 'tor'], hostname: 'localhost', torControlPort: control, introducer: furl })),
      ),
    );
    rows.push({ measure: `grid: ${GRID_SERVERS} servers started and published as onion services`, value: round((Date.now() - publishStarted) / 1000), unit: 's' });
    const shares = { sharesNeeded: 3, sharesHappy: GRID_SERVERS, sharesTotal: GRID_SERVERS };
    const clients: Array<{ via: string; node: TahoeNode }> = [
      { via: 'TCP', node: await start(await makeNode(path.join(base, 'grid', 'client-tcp'), { command: 'create-client', introducer: furl, ...shares }, [{ section: 'tor', key: 'enabled', value: 'false' }])) },
      { via: 'Tor (onion services)', node: await start(await makeNode(path.join(base, 'grid', 'client-tor'), { command: 'create-client', hideIp: true, introducer: furl, ...shares }, [{ section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${network.socksPort}` }])) },
    ];
    for (const { via, node } of clients) {
      const grid = node.services.grid;
      if (grid === undefined) throw new Error('the client has no grid');
      const connectStarted = Date.now();
      await grid.waitForServers(GRID_SERVERS, { timeoutMs: 180_000 });
      rows.push({ measure: `grid over ${via}: client connected to all ${GRID_SERVERS} servers`, value: round((Date.now() - connectStarted) / 1000), unit: 's' });
      for (const size of sizes) {
        const data = randomBytes(size);
        const t0 = performance.now();
        const up = await grid.uploadImmutable(bytesSource(data), size, { randomKey: true });
        const uploadS = (performance.now() - t0) / 1000;
        const t1 = performance.now();
        const { stream } = await grid.downloadImmutable(up.cap);
        let firstByteMs: number | undefined;
        let got = 0;
        for await (const chunk of stream) {
          firstByteMs ??= performance.now() - t1;
          got += chunk.length;
        }
        const downloadS = (performance.now() - t1) / 1000;
        if (got !== size) throw new Error(`downloaded ${got} of ${size} bytes`);
        const mib = `${size >> 20} MiB`;
        rows.push({ measure: `grid over ${via}: upload ${mib}`, value: round(size / 1e6 / uploadS), unit: 'MB/s' });
        rows.push({ measure: `grid over ${via}: download ${mib}`, value: round(size / 1e6 / downloadS), unit: 'MB/s' });
        rows.push({ measure: `grid over ${via}: download ${mib}, time to first byte`, value: round(firstByteMs ?? 0), unit: 'ms' });
      }
    }
  } finally {
    for (const node of started.reverse()) await node.stop().catch(() => undefined);
  }
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const transferBytes = options.quick ? 2 << 20 : 32 << 20;
  const onionRounds = options.quick ? 1 : 5;
  const base = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-bench-tor-'));
  const rows: Row[] = [];
  const network = await startTorNetwork({ dir: path.join(base, 'net') });
  try {
    const t = network.timings;
    rows.push({ measure: 'network: authority keys', value: round(t.keysMs / 1000), unit: 's' });
    rows.push({ measure: 'network: consensus lists every relay', value: round(t.consensusMs / 1000), unit: 's' });
    rows.push({ measure: 'network: client bootstrapped', value: round(t.clientBootstrappedMs / 1000), unit: 's' });

    const launched = await launchTor({ gate: OPEN_GATE, dataDir: path.join(base, 'node', 'tor-statedir'), extraTorrc: network.networkTorrc, bootstrapTimeoutMs: 120_000 });
    try {
      rows.push({ measure: 'launched tor joins and bootstraps', value: round(launched.bootstrapMs / 1000), unit: 's' });
      const serverProvider = await connectTorProvider({ gate: OPEN_GATE, controlPort: launched.controlEndpoint });
      const server = new TorTransport({ provider: serverProvider, gate: OPEN_GATE });
      const clientProvider = await connectTorProvider({ gate: OPEN_GATE, controlPort: network.controlEndpoint });
      const client = new TorTransport({ provider: clientProvider, gate: OPEN_GATE, allowNonPublicAddresses: true });
      const source = await sourceServer(transferBytes);
      try {
        const published: number[] = [];
        const reachable: number[] = [];
        for (let i = 0; i < onionRounds; i++) {
          const started = Date.now();
          const listener = await server.listen({ kind: 'onion', virtualPort: 80 }, (stream) => stream.end('ok'));
          published.push(Date.now() - started);
          const hint = listener.hints[0] as { host: string; port: number };
          const stream = await retry(() => client.dial({ kind: 'tor', host: hint.host, port: hint.port }, { timeoutMs: 30_000 }), 120_000);
          reachable.push(Date.now() - started);
          stream.destroy();
          await listener.close();
        }
        rows.push({ measure: `new onion: ADD_ONION → first HS_DESC UPLOADED (median of ${onionRounds})`, value: round(median(published) / 1000), unit: 's' });
        rows.push({ measure: `new onion: ADD_ONION → first stream (median of ${onionRounds})`, value: round(median(reachable) / 1000), unit: 's' });

        const viaExit = await client.dial({ kind: 'tor', host: '127.0.0.1', port: source.port }, { timeoutMs: 30_000 });
        const exitSeconds = await drain(viaExit, transferBytes);
        viaExit.destroy();
        rows.push({ measure: `stream via exit to loopback, ${transferBytes >> 20} MiB`, value: round(transferBytes / 1e6 / exitSeconds), unit: 'MB/s' });

        const listener = await server.listen({ kind: 'onion', virtualPort: 80 }, (stream) => {
          const upstream = net.connect(source.port, '127.0.0.1');
          upstream.on('error', () => stream.destroy());
          stream.on('error', () => upstream.destroy());
          upstream.pipe(stream);
        });
        const hint = listener.hints[0] as { host: string; port: number };
        const viaOnion = await retry(() => client.dial({ kind: 'tor', host: hint.host, port: hint.port }, { timeoutMs: 30_000 }), 120_000);
        const onionSeconds = await drain(viaOnion, transferBytes);
        viaOnion.destroy();
        await listener.close();
        rows.push({ measure: `stream via onion service, ${transferBytes >> 20} MiB`, value: round(transferBytes / 1e6 / onionSeconds), unit: 'MB/s' });
      } finally {
        await source.close();
        await client.close();
        await server.close();
      }
    } finally {
      await launched.stop();
    }
    await gridFigures(network, base, options.quick ? [1 << 20] : [1 << 20, 20 << 20], rows);
  } finally {
    await network.stop();
    rmSync(base, { recursive: true, force: true });
  }
  return {
    rows,
    notes: [
      'private network: 3 authorities + 1 relay + 1 client + 1 tor launched by tahoe-ts, all tor 0.4.9 on this machine, loopback only',
      'throughput: one stream, server → client, MB/s = 10^6 bytes per second from the first byte requested to the last received',
      `grid: introducer + ${GRID_SERVERS} tahoe-ts storage servers (TCP and onion), 3-of-${GRID_SERVERS}, happy ${GRID_SERVERS}; every node and the client in this one Node.js process (the tors are separate processes); the TCP client dials the servers directly, the Tor client (reveal-IP-address = false) reaches every server through its onion service via the network's client tor`,
      'grid MB/s = file bytes / wall time of the whole upload (encrypt, encode, place, write) or download (locate, fetch, verify, decode); time to first byte = download call to first plaintext byte',
    ],
  };
}

export const benchmark: Benchmark = {
  name: 'tor',
  description: 'private Tor network: start-up, launch, onion publication, stream throughput, a grid over TCP vs over onion services',
  run,
};
