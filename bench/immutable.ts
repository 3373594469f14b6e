/**
 * CHK immutable-file throughput (tahoe-formats.md §3): the whole encoder (convergent key
 * pass, AES-CTR, hashing, erasure coding, hash trees, UEB) and the whole verifying decoder,
 * in memory, at Tahoe's defaults (3/10, 1 MiB segments) and at 25/100. Decoding is timed
 * from the k data shares (no reconstruction) and from the last k shares (parity only).
 */
import { randomBytes } from 'node:crypto';
import { chkShareSize, encodeChkFile } from '../src/immutable/encoder.js';
import { decodeChk, type ShareReader } from '../src/immutable/decoder.js';
import { bytesSource } from '../src/immutable/source.js';
import { createCodec } from '../src/codec/index.js';
import { median, round, type BenchOptions, type BenchResult, type Benchmark, type Row } from './harness.js';

const SEGMENT = 1 << 20;

async function timeAsync(fn: () => Promise<unknown>, minSeconds: number, minIterations: number): Promise<number[]> {
  await fn(); // warm-up
  const samples: number[] = [];
  const started = performance.now();
  while (samples.length < minIterations || performance.now() - started < minSeconds * 1000) {
    const t0 = performance.now();
    await fn();
    samples.push((performance.now() - t0) / 1000);
  }
  return samples;
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const size = options.quick ? 2 * SEGMENT + 17 : 32 * SEGMENT + 17;
  const budget = options.quick ? { seconds: 0.1, iterations: 1 } : { seconds: 4, iterations: 3 };
  const data = randomBytes(size);
  const rows: Row[] = [];
  for (const [k, n] of [[3, 10], [25, 100]] as const) {
    const params = { k, n, maxSegmentSize: SEGMENT };
    const shares = new Map<number, Buffer>();
    const shareSize = chkShareSize(params, size);
    const keepSink = {
      async writeShare(shareNumber: number, offset: number, bytes: Uint8Array): Promise<void> {
        let share = shares.get(shareNumber);
        if (share === undefined) shares.set(shareNumber, (share = Buffer.alloc(shareSize)));
        share.set(bytes, offset);
      },
    };
    const { cap } = await encodeChkFile({ params, size, source: bytesSource(data, 1 << 20), sink: keepSink, convergenceSecret: Buffer.alloc(32, 1) });
    const discard = { writeShare: async (): Promise<void> => undefined };
    const encodeConvergent = await timeAsync(() => encodeChkFile({ params, size, source: bytesSource(data, 1 << 20), sink: discard, convergenceSecret: Buffer.alloc(32, 1) }), budget.seconds, budget.iterations);
    const encodeRandom = await timeAsync(() => encodeChkFile({ params, size, source: bytesSource(data, 1 << 20), sink: discard }), budget.seconds, budget.iterations);
    const readersFrom = (numbers: number[]): ShareReader[] => numbers.map((shareNumber) => {
      const bytes = shares.get(shareNumber) as Buffer;
      return { shareNumber, read: async (offset: number, length: number) => bytes.subarray(offset, offset + length) };
    });
    const decodeWith = (numbers: number[]) => async (): Promise<void> => {
      let total = 0;
      for await (const chunk of decodeChk(cap, readersFrom(numbers))) total += chunk.length;
      if (total !== size) throw new Error('short decode');
    };
    const primary = Array.from({ length: k }, (_, i) => i);
    const lastK = Array.from({ length: k }, (_, i) => n - k + i);
    const decodePrimary = await timeAsync(decodeWith(primary), budget.seconds, budget.iterations);
    const decodeParity = await timeAsync(decodeWith(lastK), budget.seconds, budget.iterations);
    const kernel = createCodec(k, n).kernel;
    for (const [op, samples] of [['encode, convergent key (2 passes)', encodeConvergent], ['encode, random key', encodeRandom], ['decode from data shares', decodePrimary], ['decode from last k shares', decodeParity]] as const) {
      rows.push({ op, 'k/N': `${k}/${n}`, 'MB/s': round(size / median(samples) / 1e6), 'best MB/s': round(size / Math.min(...samples) / 1e6), 's/file': round(median(samples)), runs: samples.length, kernel });
    }
  }
  return {
    rows,
    notes: [
      `file = ${size} bytes of random data in memory, 1 MiB maximum segment size; MB/s = 10^6 plaintext bytes per second, median over runs`,
      'encode: all N shares produced and handed to a sink that discards them; decode: plaintext streamed from in-memory share readers, every hash verified',
    ],
  };
}

export const benchmark: Benchmark = {
  name: 'immutable',
  description: 'CHK encode (convergent and random key) and verifying decode of a 32 MiB file at 3/10 and 25/100',
  run,
};
