/**
 * HTTPS storage protocol throughput and latency (storage-protocol.md §5) over real TLS on
 * 127.0.0.1: our client against our server, share files on the local disk.
 * - upload: one immutable share streamed in 1 MB PATCH batches (as 1.20 clients send)
 * - download: the same share read back in 1 MiB Range requests
 * - version: `GET /storage/v1/version` round trips on a kept-alive connection
 */
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createNodeCertificate, spkiHash, tubIdBytes } from '../src/crypto/certificate.js';
import { ShareStore } from '../src/storage/share-store.js';
import { StorageServer } from '../src/storage/server.js';
import { StorageClient } from '../src/storage/client.js';
import { newSwissnum } from '../src/storage/identity.js';
import { TcpTransport } from '../src/net/tcp.js';
import { OPEN_GATE } from '../src/net/socket.js';
import { median, round, type BenchOptions, type BenchResult, type Benchmark, type Row } from './harness.js';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const shareBytes = options.quick ? 4 << 20 : 64 << 20;
  const rounds = options.quick ? 1 : 3;
  const versionCalls = options.quick ? 50 : 1000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-bench-storage-'));
  const identity = await createNodeCertificate();
  const store = await ShareStore.open({ storageDir: path.join(dir, 'storage'), nodeId: tubIdBytes(identity.certificate) });
  const swissnum = newSwissnum();
  const server = new StorageServer({ store, identity, swissnum });
  const listener = await server.listen('127.0.0.1', 0);
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  const client = new StorageClient({ spkiHash: spkiHash(identity.certificate), swissnum, connect: (signal) => tcp.dial({ kind: 'tcp', host: '127.0.0.1', port: listener.port }, { signal }) });
  const rows: Row[] = [];
  try {
    const block = randomBytes(1 << 20);
    const upload: number[] = [];
    const download: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const si = Buffer.from(randomBytes(16));
      const secret = randomBytes(32);
      await client.allocateImmutable(si, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32), uploadSecret: secret, shareNumbers: [0], allocatedSize: shareBytes });
      let t0 = performance.now();
      await client.uploadImmutableShare(si, 0, secret, (async function* () {
        for (let sent = 0; sent < shareBytes; sent += block.length) yield block;
      })());
      upload.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      for (let offset = 0; offset < shareBytes; offset += 1 << 20) await client.readImmutable(si, 0, offset, 1 << 20);
      download.push((performance.now() - t0) / 1000);
    }
    const mb = shareBytes / 1e6;
    rows.push({ operation: 'upload (1 MB PATCHes)', size_MiB: shareBytes >> 20, 'MB/s': round(mb / median(upload)), best_MBps: round(mb / Math.min(...upload)), 'ms median': null, 'ms p99': null });
    rows.push({ operation: 'download (1 MiB ranges)', size_MiB: shareBytes >> 20, 'MB/s': round(mb / median(download)), best_MBps: round(mb / Math.min(...download)), 'ms median': null, 'ms p99': null });
    const latencies: number[] = [];
    for (let i = 0; i < versionCalls; i++) {
      const t0 = performance.now();
      await client.version();
      latencies.push(performance.now() - t0);
    }
    rows.push({ operation: 'GET version (keep-alive)', size_MiB: null, 'MB/s': null, best_MBps: null, 'ms median': round(median(latencies)), 'ms p99': round(percentile(latencies, 0.99)) });
  } finally {
    await client.close();
    await server.close();
    await store.close();
    await tcp.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    rows,
    notes: [
      `MB/s = 10^6 bytes of share data per second, median of ${rounds} round(s); TLS 1.3 on loopback; the server fsyncs each PATCH and the completed share`,
      `version latency over ${versionCalls} sequential calls on one pooled connection`,
    ],
  };
}

export const benchmark: Benchmark = { name: 'storage', description: 'HTTPS storage protocol: upload, download, version latency on loopback', run };
