/**
 * Child process for the memory test and the grid benchmark: a grid client alone in its
 * process (the servers run elsewhere), uploading and downloading generated files of the
 * given sizes and reporting time and memory as one JSON line per size on stdout.
 *
 *   GRID_SERVERS='<JSON StaticServer[]>' node --import tsx test/grid/memory-child.ts <bytes> [<bytes> …]
 *
 * The plaintext is an AES-CTR keystream: incompressible, regenerated identically for the
 * convergent key's second pass, never held in memory; the download is checked by SHA-256.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createGridClient, type StaticServer } from '../../src/grid/client.js';
import type { ByteSource } from '../../src/immutable/source.js';
import { TEST_TIMING, testRouter } from './fixture.js';

const CHUNK = 1 << 20;

function generated(size: number, key: Buffer): ByteSource {
  return async function* () {
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(CHUNK);
    for (let done = 0; done < size; done += CHUNK) {
      yield cipher.update(zeros.subarray(0, Math.min(CHUNK, size - done)));
      // Give the event loop a turn (as a file read would).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

async function main(): Promise<void> {
  const servers = JSON.parse(process.env.GRID_SERVERS ?? '[]') as StaticServer[];
  const sizes = process.argv.slice(2).map(Number);
  const encoding = JSON.parse(process.env.GRID_ENCODING ?? '{"k":3,"happy":7,"n":10}') as { k: number; happy: number; n: number; maxSegmentSize?: number };
  const client = createGridClient({
    router: testRouter(),
    leaseSecret: randomBytes(32),
    convergenceSecret: randomBytes(32),
    encoding,
    timing: { ...TEST_TIMING, writeTimeoutMs: 120_000, readTimeoutMs: 60_000 },
    ...(process.env.GRID_BATCH_BYTES === undefined ? {} : { uploadBatchBytes: Number(process.env.GRID_BATCH_BYTES) }),
  });
  for (const s of servers) client.addStaticServer(s);
  await client.waitForServers(servers.length, { timeoutMs: 30_000 });
  // Sampled peaks: what the process holds in Buffers/ArrayBuffers and on the V8 heap.
  let peakBuffers = 0;
  let peakHeap = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 20);
  for (const size of sizes) {
    const key = randomBytes(16);
    const sourceHash = createHash('sha256');
    const source = generated(size, key);
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    const up = await client.uploadImmutable(source, size, { randomKey: process.env.GRID_RANDOM_KEY === '1' });
    const uploadMs = performance.now() - t0;
    const uploadCpu = process.cpuUsage(cpu0);
    for await (const c of source()) sourceHash.update(c);
    const afterUpload = process.memoryUsage();
    const uploadPeakBuffers = peakBuffers;
    peakBuffers = 0;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    const down = await client.downloadImmutable(up.cap);
    const hash = createHash('sha256');
    let got = 0;
    for await (const chunk of down.stream) {
      hash.update(chunk);
      got += chunk.length;
    }
    const downloadMs = performance.now() - t0;
    const downloadCpu = process.cpuUsage(cpu0);
    // With --expose-gc, live memory after a full collection (what is really retained).
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const retained = process.memoryUsage();
    const after = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({
      size,
      ok: got === size && hash.digest('hex') === sourceHash.digest('hex'),
      uploadMs: Math.round(uploadMs),
      downloadMs: Math.round(downloadMs),
      uploadMBps: Math.round((size / 1e6 / (uploadMs / 1000)) * 10) / 10,
      downloadMBps: Math.round((size / 1e6 / (downloadMs / 1000)) * 10) / 10,
      // Client CPU (user + system) per transfer: steadier than wall clock on a busy machine.
      uploadCpuMs: Math.round((uploadCpu.user + uploadCpu.system) / 1000),
      downloadCpuMs: Math.round((downloadCpu.user + downloadCpu.system) / 1000),
      rssAfterUploadMiB: mib(afterUpload.rss),
      rssAfterDownloadMiB: mib(after.rss),
      heapUsedMiB: mib(after.heapUsed),
      ...(gc === undefined ? {} : { retainedHeapMiB: mib(retained.heapUsed), retainedBuffersMiB: mib(retained.arrayBuffers) }),
      externalMiB: mib(after.external + after.arrayBuffers),
      maxRssMiB: mib(process.resourceUsage().maxRSS * 1024),
      peakBuffersUploadMiB: mib(uploadPeakBuffers),
      peakBuffersDownloadMiB: mib(peakBuffers),
      peakHeapMiB: mib(peakHeap),
      happiness: up.happiness,
    })}\n`);
  }
  clearInterval(sampler);
  await client.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e)}\n`);
  process.exitCode = 1;
});
