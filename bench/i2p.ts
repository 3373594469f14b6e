/**
 * I2P on one offline i2pd (src/testnet/i2pd.ts, i2p.md §5): router start until SAM answers,
 * SESSION CREATE (two in parallel, as the transport does), offline destination generation,
 * CONNECT → first byte at the acceptor, and raw stream throughput both ways through the
 * router's zero-hop tunnels. Figures measure i2pd's and our SAM code's cost on this machine,
 * not the latency of the real I2P network (where tunnels have 3 hops and sessions take minutes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { generateDestination } from '../src/net/i2p/destination.js';
import { SamClient, type SamSession } from '../src/net/i2p/sam.js';
import { OPEN_GATE } from '../src/net/socket.js';
import { startI2pRouter } from '../src/testnet/i2pd.js';
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
  } finally {
    const s = process.hrtime.bigint();
    await router.stop();
    rows.push({ metric: 'router stop (SAM sockets closed)', value: round(seconds(s)), unit: 's' });
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    rows,
    notes: ['one offline i2pd 2.45 router, zero-hop tunnels, ElGamal LeaseSet (i2cp.leaseSetType=1); SESSION CREATE is a fixed 20 s timer in i2pd 2.45'],
  };
}

export const benchmark: Benchmark = {
  name: 'i2p',
  description: 'offline i2pd: start, SESSION CREATE, connect latency, SAM stream throughput',
  run,
};
