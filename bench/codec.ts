/**
 * Erasure codec throughput (tahoe-formats.md §3.5): encode (all N blocks) and decode (from
 * the last k shares, i.e. parity-heavy) of 1 MiB segments at 3/10 and 25/100, for our
 * WebAssembly SIMD and TypeScript kernels and for Debian's python3-zfec (C) on the same
 * data in the same run. zfec is timed inside python around the zfec call alone.
 */
import { randomBytes } from 'node:crypto';
import { availableKernels, createCodec, type KernelName } from '../src/codec/index.js';
import { ZfecOracle, zfecAvailability } from '../test/codec/zfec-oracle.js';
import { median, round, timeSync, type BenchOptions, type BenchResult, type Benchmark, type Row } from './harness.js';

const SEGMENT_BYTES = 1 << 20;
const PARAMETERS: ReadonlyArray<[number, number]> = [[3, 10], [25, 100]];

type Implementation = KernelName | 'python3-zfec';

async function run(options: BenchOptions): Promise<BenchResult> {
  const budget = options.quick ? { warmupSeconds: 0.05, minSeconds: 0.1, minIterations: 2 } : { warmupSeconds: 0.5, minSeconds: 2, minIterations: 10 };
  const zfec = zfecAvailability();
  const oracle = zfec.available ? new ZfecOracle() : undefined;
  const rows: Row[] = [];
  const notes = [
    'MB/s = 10^6 bytes of segment data per second (segment = k × ceil(1 MiB / k) bytes); median over the timed calls, best in its own column',
    'encode produces all N blocks (the k data blocks are the pieces themselves, for zfec and us alike); decode reconstructs all k pieces from the last k shares',
    'python3-zfec is timed inside python around Encoder.encode / Decoder.decode only (no IPC); our figures include the copies in and out of WebAssembly memory and output allocation',
    zfec.available ? `python3-zfec ${zfec.version}` : `python3-zfec unavailable (${zfec.reason}): no comparison`,
  ];
  try {
    for (const [k, n] of PARAMETERS) {
      const pieceLength = Math.ceil(SEGMENT_BYTES / k);
      const segmentBytes = pieceLength * k;
      const pieces = Array.from({ length: k }, () => new Uint8Array(randomBytes(pieceLength)));
      const lastK = Array.from({ length: k }, (_, i) => n - k + i);
      const reference = createCodec(k, n).encode(pieces);
      const lastKBlocks = new Map(lastK.map((s) => [s, reference[s]]));
      if (oracle !== undefined) {
        // Same data, same answer: a benchmark of the wrong code would be worthless.
        const theirs = await oracle.encode(k, n, pieces);
        if (!theirs.every((b, i) => Buffer.from(b).equals(reference[i]))) throw new Error(`codec disagrees with python3-zfec at ${k}/${n}`);
      }
      for (const op of ['encode', 'decode'] as const) {
        const results = new Map<Implementation, number[]>();
        for (const kernel of availableKernels()) {
          const codec = createCodec(k, n, { kernel });
          const timing = op === 'encode' ? timeSync(() => codec.encode(pieces), budget) : timeSync(() => codec.decode(lastKBlocks), budget);
          results.set(kernel, timing.samples);
        }
        if (oracle !== undefined) {
          const request = { k, n, size: pieceLength, shares: op === 'decode' ? lastK : undefined };
          const data = op === 'encode' ? pieces : lastK.map((s) => reference[s]);
          const probe = await oracle.time(`bench-${op}`, { ...request, iterations: 3 }, data);
          const perCall = Math.max(1e-6, median(probe));
          const iterations = Math.min(5000, Math.max(budget.minIterations, Math.ceil(budget.minSeconds / perCall)));
          results.set('python3-zfec', await oracle.time(`bench-${op}`, { ...request, iterations }, data));
        }
        const zfecMedian = results.has('python3-zfec') ? segmentBytes / median(results.get('python3-zfec') ?? []) / 1e6 : undefined;
        for (const [implementation, samples] of results) {
          const mbps = segmentBytes / median(samples) / 1e6;
          rows.push({
            op,
            'k/N': `${k}/${n}`,
            implementation,
            'MB/s': round(mbps),
            'best MB/s': round(segmentBytes / Math.min(...samples) / 1e6),
            'ms/segment': round(median(samples) * 1000),
            calls: samples.length,
            'vs zfec': zfecMedian === undefined ? null : `${round(mbps / zfecMedian)}x`,
          });
        }
      }
    }
  } finally {
    await oracle?.close();
  }
  return { rows, notes };
}

export const benchmark: Benchmark = {
  name: 'codec',
  description: 'zfec-compatible erasure codec: encode/decode of 1 MiB segments at 3/10 and 25/100, ours vs python3-zfec',
  run,
};
