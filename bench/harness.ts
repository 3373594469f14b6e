/**
 * What a benchmark module provides and the helpers it can use. Modules are listed in
 * bench/run.ts (one line each) and run by `npm run bench [-- name-filter ...]`.
 */
import os from 'node:os';

export type Cell = string | number | null;
export type Row = Record<string, Cell>;

export interface BenchOptions {
  /** Short runs for smoke-testing the benchmark itself; the figures are not meaningful. */
  quick: boolean;
}

export interface BenchResult {
  /** Rows of the printed table and the JSON file; every row should have the same keys. */
  rows: Row[];
  /** Anything needed to interpret the rows (units, what was timed, versions). */
  notes?: string[];
}

export interface Benchmark {
  /** Used for filtering and in bench/results/<name>-<date>.json. */
  readonly name: string;
  readonly description: string;
  run(options: BenchOptions): Promise<BenchResult>;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  totalMemoryGiB: number;
  loadAverage: number[];
  platform: string;
  node: string;
  v8: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
  };
}

export interface Timing {
  /** Wall-clock seconds per call, one entry per timed call. */
  samples: number[];
  /**
   * CPU seconds (user + system, all threads of this process) per call. Less disturbed than
   * wall time when other processes compete for the cores.
   */
  cpuSamples: number[];
}

/**
 * Times `fn` after a warm-up (which also lets V8 tier WebAssembly and JS up to optimised
 * code): at least `minIterations` calls and at least `minSeconds` of timed calls.
 */
export function timeSync(fn: () => unknown, { warmupSeconds = 0.3, minSeconds = 1.5, minIterations = 5 } = {}): Timing {
  const warmupEnd = performance.now() + warmupSeconds * 1000;
  do fn(); while (performance.now() < warmupEnd);
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  const started = performance.now();
  while (samples.length < minIterations || performance.now() - started < minSeconds * 1000) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
    const cpu = process.cpuUsage(cpu0);
    cpuSamples.push((cpu.user + cpu.system) / 1e6);
  }
  return { samples, cpuSamples };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rounds for display without hiding small figures. */
export function round(value: number, significant = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  const digits = Math.max(0, significant - Math.ceil(Math.log10(Math.abs(value))));
  return Number(value.toFixed(digits));
}
