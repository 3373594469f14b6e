/**
 * Storage servers in their own process (benchmarks keep client and server CPU apart):
 *
 *   node --import tsx test/grid/server-host.ts <count>
 *
 * prints one JSON line, the servers' `StaticServer` entries, and serves until stdin
 * closes; then everything, including the temp directories, is removed.
 */
import { startGrid } from './fixture.js';

const cleanups: Array<() => unknown> = [];
const count = Number(process.argv[2] ?? '10');
const grid = await startGrid({ after: (fn: () => unknown) => void cleanups.push(fn) }, { servers: count });
process.stdout.write(`${JSON.stringify(grid.staticServers())}\n`);
process.stdin.resume();
await new Promise<void>((resolve) => process.stdin.once('end', () => resolve()));
for (const fn of cleanups.reverse()) await fn();
process.exit(0);
