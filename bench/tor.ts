/**
 * Tor on a private loopback network (src/testnet/tor-network.ts, tor.md §6): how long the
 * network takes to come up, how long a tor launched by tahoe-ts takes to join it, onion
 * publication (ADD_ONION → first HS_DESC UPLOADED → first successful stream), and raw
 * stream throughput through an exit to a loopback server and through an onion service.
 * Every hop is a real tor on this machine, so the figures measure tor's CPU cost and our
 * SOCKS/control code, not a real network's latency.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { OPEN_GATE } from '../src/net/socket.js';
import { launchTor } from '../src/net/tor/launch.js';
import { connectTorProvider } from '../src/net/tor/provider.js';
import { TorTransport } from '../src/net/tor/transport.js';
import { startTorNetwork } from '../src/testnet/tor-network.js';
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
  } finally {
    await network.stop();
    rmSync(base, { recursive: true, force: true });
  }
  return {
    rows,
    notes: [
      'private network: 3 authorities + 1 relay + 1 client + 1 tor launched by tahoe-ts, all tor 0.4.9 on this machine, loopback only',
      'throughput: one stream, server → client, MB/s = 10^6 bytes per second from the first byte requested to the last received',
    ],
  };
}

export const benchmark: Benchmark = {
  name: 'tor',
  description: 'private Tor network: start-up, launch, onion publication, stream throughput',
  run,
};
