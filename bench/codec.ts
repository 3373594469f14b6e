/**
 * Erasure codec throughput (tahoe-formats.md §3.5): encode (all N blocks) and decode (from
 * the last k shares, i.e. parity-heavy) of 1 MiB segments at 3/10 and 25/100, for our
 * WebAssembly SIMD and TypeScript kernels and for Debian's python3-zfec (C) on the same
 * data in the same run. zfec is timed inside python around the zfec call alone.
 */
import { randomBytes } from 'node:crypto';
import { availableKernels, createCodec, type KernelName } from '../src/codec/index.js';
import { wasmVariant } from '../src/codec/kernel-wasm.js';
import { ZfecOracle, zfecAvailability } from '../test/codec/zfec-oracle.js';
import { median, round, timeSync, type BenchOptions, type BenchResult, type Benchmark, type Row, type Timing } from './harness.js';

const SEGMENT_BYTES = 1 << 20;
const PARAMETERS: ReadonlyArray<[number, number]> = [[3, 10], [25, 100]];

type Implementation = KernelName | 'python3-zfec';

async function run(options: BenchOptions): Promise<BenchResult> {
  const budget = options.quick ? { warmupSeconds: 0.05, seconds: 0.1, rounds: 1, minIterations: 2 } : { warmupSeconds: 0.5, seconds: 3, rounds: 5, minIterations: 10 };
  const perRound = { minSeconds: budget.seconds / budget.rounds, minIterations: Math.ceil(budget.minIterations / budget.rounds) };
  const zfec = zfecAvailability();
  const oracle = zfec.available ? new ZfecOracle() : undefined;
  const rows: Row[] = [];
  const notes = [
    `MB/s = 10^6 bytes of segment data per second (segment = k × ceil(1 MiB / k) bytes), from the median wall-clock time per call; best = fastest call; CPU = from the median CPU time per call (steadier on a busy machine; ours includes V8's helper threads); implementations alternate in ${budget.rounds} round(s)`,
    'encode produces all N blocks (the k data blocks are the pieces themselves, for zfec and us alike); decode reconstructs all k pieces from the last k shares',
    'python3-zfec is timed inside python around Encoder.encode / Decoder.decode only (no IPC); our figures include the copies in and out of WebAssembly memory and output allocation',
    zfec.available ? `python3-zfec ${zfec.version}` : `python3-zfec unavailable (${zfec.reason}): no comparison`,
    `WebAssembly kernel build: ${wasmVariant ?? 'none (not built or no SIMD)'}`,
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
        // Implementations take turns in rounds, so that load from other processes on a
        // shared machine hits all of them alike rather than whichever ran at a bad moment.
        const contenders: Array<{ name: Implementation; round: (first: boolean) => Promise<Timing> }> = [];
        for (const kernel of availableKernels()) {
          const codec = createCodec(k, n, { kernel });
          const call = op === 'encode' ? () => codec.encode(pieces) : () => codec.decode(lastKBlocks);
          contenders.push({ name: kernel, round: async (first) => timeSync(call, { ...perRound, warmupSeconds: first ? budget.warmupSeconds : 0 }) });
        }
        if (oracle !== undefined) {
          const request = { k, n, size: pieceLength, shares: op === 'decode' ? lastK : undefined };
          const data = op === 'encode' ? pieces : lastK.map((s) => reference[s]);
          let iterations = 0;
          contenders.push({
            name: 'python3-zfec',
            round: async () => {
              if (iterations === 0) {
                const probe = await oracle.time(`bench-${op}`, { ...request, iterations: 3 }, data);
                iterations = Math.min(5000, Math.max(perRound.minIterations, Math.ceil(perRound.minSeconds / Math.max(1e-6, median(probe.samples)))));
              }
              return oracle.time(`bench-${op}`, { ...request, iterations }, data);
            },
          });
        }
        const results = new Map<Implementation, Timing>(contenders.map((c) => [c.name, { samples: [], cpuSamples: [] }]));
        for (let round = 0; round < budget.rounds; round++) {
          for (const contender of contenders) {
            const timing = await contender.round(round === 0);
            const collected = results.get(contender.name);
            collected?.samples.push(...timing.samples);
            collected?.cpuSamples.push(...timing.cpuSamples);
          }
        }
        const speed = (timing: Timing): { wall: number; best: number; cpu: number } => ({
          wall: segmentBytes / median(timing.samples) / 1e6,
          best: segmentBytes / Math.min(...timing.samples) / 1e6,
          cpu: segmentBytes / median(timing.cpuSamples) / 1e6,
        });
        const zfecTiming = results.get('python3-zfec');
        const zfecSpeed = zfecTiming === undefined ? undefined : speed(zfecTiming);
        for (const [implementation, timing] of results) {
          const mbps = speed(timing);
          rows.push({
            op,
            'k/N': `${k}/${n}`,
            implementation,
            'MB/s': round(mbps.wall),
            'best MB/s': round(mbps.best),
            'CPU MB/s': round(mbps.cpu),
            calls: timing.samples.length,
            'vs zfec (CPU)': zfecSpeed === undefined ? null : `${round(mbps.cpu / zfecSpeed.cpu)}x`,
            'vs zfec (best)': zfecSpeed === undefined ? null : `${round(mbps.best / zfecSpeed.best)}x`,
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
