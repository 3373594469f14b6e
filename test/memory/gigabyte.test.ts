/**
 * Memory stays flat with file size: a 1 GiB file goes up through a client node's web
 * gateway (`PUT /uri`) and comes back (`GET /uri/$CAP`) while the client node — its own
 * `tahoe-ts run` process, Tahoe's default 3-of-10 encoding — keeps its resident memory
 * under 200 MB. Peak (VmHWM) and current (VmRSS) resident sizes are read from
 * /proc/<pid>/status; the figures are printed as test diagnostics.
 *
 * The client runs compiled (bin/tahoe-ts, or a private build when dist/ is stale). The
 * introducer and the ten storage servers run in this test process (their memory is not
 * measured). The data is an AES-CTR keystream generated on the fly and regenerated
 * to check the download, so the test keeps no copy of the gigabyte anywhere; the only
 * disk copies are the client's spool file (removed after the upload) and the shares.
 *
 * TAHOE_TS_MEMORY_TEST_MIB overrides the size for a quick local run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { killAndWait } from '../helpers/processes.js';
import { startDemoGrid, TCP_DEMO_NETWORK } from '../../src/cli/commands/demo.js';
import { tahoeTsArgv } from '../web/cli-process.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.TAHOE_TS_MEMORY_TEST_MIB ?? 1024) * MIB;
const LIMIT_BYTES = 200 * 1000 * 1000;
const CHUNK = MIB;

/** `VmHWM` / `VmRSS` of a process, in bytes. */
function memoryOf(pid: number): { hwm: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

/** The same pseudo-random gigabyte every time for one key: AES-128-CTR over zeros. */
function* keystream(key: Buffer, size: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let done = 0; done < size; done += CHUNK) yield cipher.update(zeros.subarray(0, Math.min(CHUNK, size - done)));
}

function put(base: string, key: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/uri`, { method: 'PUT', agent: false, headers: { 'Content-Length': SIZE } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`PUT ${res.statusCode ?? '?'}: ${text}`))));
    });
    req.on('error', reject);
    void (async () => {
      for (const chunk of keystream(key, SIZE)) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      req.end();
    })();
  });
}

/** Download and compare with the regenerated keystream as the bytes arrive. */
function getAndCompare(base: string, cap: string, key: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(`${base}/uri/${encodeURIComponent(cap)}`, { agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${res.statusCode ?? '?'}`));
      const expected = keystream(key, SIZE);
      let want = Buffer.alloc(0);
      let n = 0;
      res.on('data', (chunk: Buffer) => {
        let offset = 0;
        while (offset < chunk.length) {
          if (want.length === 0) want = expected.next().value ?? Buffer.alloc(0);
          const take = Math.min(want.length, chunk.length - offset);
          if (take === 0 || !chunk.subarray(offset, offset + take).equals(want.subarray(0, take))) {
            res.destroy();
            return reject(new Error(`downloaded bytes differ at offset ${n + offset}`));
          }
          want = want.subarray(take);
          offset += take;
        }
        n += chunk.length;
      });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test(`a ${SIZE / MIB} MiB upload and download keep the client node under 200 MB resident`, { timeout: 15 * 60_000 }, async (t) => {
  const root = tempDir(t, 'tahoe-ts-memory-');
  const grid = await startDemoGrid({ network: TCP_DEMO_NETWORK, servers: 10, root: path.join(root, 'grid'), startClient: false });
  t.after(() => grid.close());

  // Compiled JavaScript, as users run it (bin/tahoe-ts): the tsx loader would add ~40 MB.
  const argv = await tahoeTsArgv(t, 'compiled');
  let client: ChildProcess | undefined = spawn(process.execPath, [...argv, 'run', '-d', grid.clientDirectory], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => (client === undefined ? undefined : killAndWait(client)));
  let clientLog = '';
  client.stderr?.setEncoding('utf8').on('data', (d: string) => (clientLog = (clientLog + d).slice(-4000)));
  const pid = client.pid as number;
  const urlFile = path.join(grid.clientDirectory, 'node.url');
  for (let i = 0; i < 600 && !existsSync(urlFile); i++) await sleep(100);
  assert.ok(existsSync(urlFile), `the client node wrote node.url\n${clientLog}`);
  const base = readFileSync(urlFile, 'utf8').trim().replace(/\/$/, '');
  for (let i = 0; i < 600; i++) {
    const connected = await fetch(`${base}/?t=json`).then(async (r) => ((await r.json()) as { servers: Array<{ connected: boolean }> }).servers.filter((s) => s.connected).length, () => 0);
    if (connected === 10) break;
    await sleep(100);
  }

  const idle = memoryOf(pid);
  let peakRss = idle.rss;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memoryOf(pid).rss);
    } catch {
      // the process is gone; the test fails elsewhere
    }
  }, 250);
  t.after(() => clearInterval(sampler));

  const key = randomBytes(16);
  const t0 = performance.now();
  const cap = await put(base, key);
  const uploadS = (performance.now() - t0) / 1000;
  assert.match(cap, new RegExp(`^URI:CHK:[a-z2-7]+:[a-z2-7]+:3:10:${SIZE}$`));
  const afterUpload = memoryOf(pid);
  assert.deepEqual(readdirSync(path.join(grid.clientDirectory, 'tmp')).filter((f) => f.startsWith('tahoe-ts-upload-')), [], 'the spool file is gone');

  const t1 = performance.now();
  const received = await getAndCompare(base, cap, key);
  const downloadS = (performance.now() - t1) / 1000;
  assert.equal(received, SIZE);
  clearInterval(sampler);
  const end = memoryOf(pid);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const report = `client node resident memory: idle ${mb(idle.rss)}, peak (VmHWM) after upload ${mb(afterUpload.hwm)}, after download ${mb(end.hwm)}; sampled peak VmRSS ${mb(peakRss)}; ` +
    `upload ${uploadS.toFixed(1)} s (${(SIZE / 1e6 / uploadS).toFixed(1)} MB/s), download ${downloadS.toFixed(1)} s (${(SIZE / 1e6 / downloadS).toFixed(1)} MB/s), ${SIZE / MIB} MiB, 3-of-10`;
  t.diagnostic(report);
  process.stderr.write(`${report}\n`);
  assert.ok(end.hwm < LIMIT_BYTES, `peak resident memory ${mb(end.hwm)} must stay under ${mb(LIMIT_BYTES)}`);

  const stopping = client;
  client = undefined;
  await killAndWait(stopping);
});
