/**
 * Memory stays flat with file size: a 1 GiB file goes up through a client node's web
 * gateway (`PUT /uri`) and comes back (`GET /uri/$CAP`) while the client node — its own
 * `tahoe-ts run` process, Tahoe's default 3-of-10 encoding — keeps its resident memory
 * under 200 MB. Peak (VmHWM) and current (VmRSS) resident sizes are read from
 * /proc/<pid>/status; the figures (and the margin left) are printed as test diagnostics.
 *
 * The client runs compiled (bin/tahoe-ts, or a private build when dist/ is stale) and is
 * started as a user starts it: with the Node flags of bin/tahoe-ts's shebang line and no
 * others. The introducer and the ten storage servers run in this test process (their
 * memory is not measured). The data is an AES-CTR keystream generated on the fly and
 * regenerated to check the download, so the test keeps no copy of the gigabyte anywhere; the only disk copies are the client's spool
 * file (removed after the upload) and the shares.
 *
 * Robust on a loaded machine: only the peak is asserted (no timing), the 15-minute budget
 * allows ~3 MB/s each way, and a grid whose start-up loses a port race to another process
 * (EADDRINUSE) is started again.
 *
 * TAHOE_TS_MEMORY_TEST_MIB overrides the size for a quick local run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { startDemoGrid, TCP_DEMO_NETWORK, type DemoGrid } from '../../src/cli/commands/demo.js';
import { tahoeTsArgv } from '../web/cli-process.js';
import { cpuSecondsOf, getAndCompare, memoryOf, putKeystream, RssSampler, startClientNode, type ClientNode } from '../helpers/client-node.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.TAHOE_TS_MEMORY_TEST_MIB ?? 1024) * MIB;
const LIMIT_BYTES = 200 * 1000 * 1000;
const SERVERS = 10;

/** Start-up races for ports with other processes on a shared machine are retried, not failed. */
async function withRetries<T>(what: string, attempts: number, fn: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const text = e instanceof Error ? `${e.message} ${String((e as { cause?: unknown }).cause ?? '')}` : String(e);
      if (attempt >= attempts || !/EADDRINUSE|address already in use/.test(text)) throw e;
      process.stderr.write(`${what}: port race (${text.slice(0, 120)}), starting again\n`);
    }
  }
}

test(`a ${SIZE / MIB} MiB upload and download keep the client node under 200 MB resident`, { timeout: 15 * 60_000 }, async (t) => {
  const root = tempDir(t, 'tahoe-ts-memory-');
  const argv = await tahoeTsArgv(t, 'compiled');
  let grid: DemoGrid | undefined;
  let client: ClientNode | undefined;
  t.after(async () => {
    await client?.stop();
    await grid?.close();
  });
  await withRetries('grid', 3, async (attempt) => {
    await client?.stop();
    await grid?.close();
    grid = await startDemoGrid({ network: TCP_DEMO_NETWORK, servers: SERVERS, root: path.join(root, `grid-${attempt}`), startClient: false });
    client = await startClientNode({ argv, directory: grid.clientDirectory, servers: SERVERS });
  });
  const node = client as ClientNode;
  const clientDirectory = (grid as DemoGrid).clientDirectory;

  const idle = memoryOf(node.pid);
  const sampler = new RssSampler(node.pid);
  t.after(() => sampler.stop());

  const key = randomBytes(16);
  let cpu = cpuSecondsOf(node.pid);
  const t0 = performance.now();
  const cap = await putKeystream(node.base, SIZE, key);
  const uploadS = (performance.now() - t0) / 1000;
  const uploadCpu = cpuSecondsOf(node.pid) - cpu;
  assert.match(cap, new RegExp(`^URI:CHK:[a-z2-7]+:[a-z2-7]+:3:10:${SIZE}$`));
  const afterUpload = memoryOf(node.pid);
  assert.deepEqual(readdirSync(path.join(clientDirectory, 'tmp')).filter((f) => f.startsWith('tahoe-ts-upload-')), [], 'the spool file is gone');

  cpu = cpuSecondsOf(node.pid);
  const t1 = performance.now();
  const received = await getAndCompare(node.base, cap, SIZE, key);
  const downloadS = (performance.now() - t1) / 1000;
  const downloadCpu = cpuSecondsOf(node.pid) - cpu;
  assert.equal(received, SIZE);
  sampler.stop();
  const end = memoryOf(node.pid);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const gb = SIZE / 1e9;
  const report = `client node resident memory: idle ${mb(idle.rss)}, peak (VmHWM) after upload ${mb(afterUpload.hwm)}, after download ${mb(end.hwm)} ` +
    `(margin ${mb(LIMIT_BYTES - end.hwm)} below 200 MB); sampled peak VmRSS ${mb(sampler.peak)}; ` +
    `upload ${uploadS.toFixed(1)} s (${(SIZE / 1e6 / uploadS).toFixed(1)} MB/s, ${(uploadCpu / gb).toFixed(1)} CPU s/GB), ` +
    `download ${downloadS.toFixed(1)} s (${(SIZE / 1e6 / downloadS).toFixed(1)} MB/s, ${(downloadCpu / gb).toFixed(1)} CPU s/GB), ${SIZE / MIB} MiB, 3-of-10`;
  t.diagnostic(report);
  process.stderr.write(`${report}\n`);
  assert.ok(end.hwm < LIMIT_BYTES, `peak resident memory ${mb(end.hwm)} must stay under ${mb(LIMIT_BYTES)}`);
});
