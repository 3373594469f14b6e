/**
 * Benchmark runner: `npm run bench [-- [--quick] [--list] [--no-save] name-filter ...]`.
 * Runs every registered benchmark whose name contains one of the filters (all without a
 * filter), prints a table per benchmark with the machine it ran on, and writes
 * bench/results/<name>-<date>.json. Figures from a shared or busy machine are noisy: the
 * load average is recorded with them.
 *
 * To add a benchmark: write bench/<name>.ts exporting `benchmark: Benchmark` (see
 * harness.ts) and add one line to REGISTRY below.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TahoeError } from '../src/errors.js';
import { machineInfo, type Benchmark, type Row } from './harness.js';

const REGISTRY: ReadonlyArray<{ name: string; load: () => Promise<{ benchmark: Benchmark }> }> = [
  { name: 'codec', load: () => import('./codec.js') },
  { name: 'tor', load: () => import('./tor.js') },
  { name: 'grid', load: () => import('./grid.js') },
  { name: 'immutable', load: () => import('./immutable.js') },
  { name: 'storage', load: () => import('./storage.js') },
  { name: 'i2p', load: () => import('./i2p.js') },
];

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

function formatTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '(no rows)';
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: Row[string] | undefined): string => (v === null || v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]): string => values.map((v, i) => (/^-?[\d.]+(e-?\d+)?x?$/.test(v) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const filters = argv.filter((a) => !a.startsWith('--'));
  for (const flag of flags) {
    if (!['--quick', '--list', '--no-save'].includes(flag)) {
      console.error(`unknown option ${flag}; usage: npm run bench -- [--quick] [--list] [--no-save] [name-filter ...]`);
      return 2;
    }
  }
  if (flags.has('--list')) {
    for (const entry of REGISTRY) console.log(entry.name);
    return 0;
  }
  // A filter that names a benchmark exactly selects only it ("tor" must not also run "storage").
  const matches = (name: string, f: string) => (REGISTRY.some((e) => e.name === f) ? name === f : name.includes(f));
  const selected = REGISTRY.filter((e) => filters.length === 0 || filters.some((f) => matches(e.name, f)));
  if (selected.length === 0) {
    console.error(`no benchmark matches ${filters.join(', ')}; available: ${REGISTRY.map((e) => e.name).join(', ')}`);
    return 2;
  }
  const machine = machineInfo();
  console.log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemoryGiB} GiB, ${machine.platform}, node ${machine.node}`);
  const failed: string[] = [];
  for (const entry of selected) {
    const date = new Date();
    const loadAtStart = machineInfo().loadAverage;
    let benchmark: Benchmark | undefined;
    let result: Awaited<ReturnType<Benchmark['run']>>;
    try {
      ({ benchmark } = await entry.load());
      console.log(`\n== ${benchmark.name}: ${benchmark.description}\n   ${date.toISOString()}, load average ${loadAtStart.join(' ')}`);
      result = await benchmark.run({ quick: flags.has('--quick') });
    } catch (e) {
      // One benchmark that fails (a port race, a router that went away) must not cost the others their figures.
      failed.push(entry.name);
      const detail = e instanceof TahoeError ? `${e.kind}: ${e.message}\n   hint: ${e.hint}` : e instanceof Error ? e.stack ?? e.message : String(e);
      console.error(`\n!!! benchmark ${entry.name} failed: ${detail}`);
      continue;
    }
    console.log(formatTable(result.rows));
    for (const note of result.notes ?? []) console.log(`note: ${note}`);
    if (!flags.has('--no-save') && !flags.has('--quick')) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const file = path.join(RESULTS_DIR, `${benchmark.name}-${date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.json`);
      const json = { benchmark: benchmark.name, description: benchmark.description, date: date.toISOString(), machine: { ...machineInfo(), loadAverageAtStart: loadAtStart }, ...result };
      writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
      console.log(`wrote ${path.relative(process.cwd(), file)}`);
    }
  }
  if (failed.length > 0) {
    console.error(`\n${failed.length} benchmark(s) failed: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
