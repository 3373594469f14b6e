/**
 * A grid of separate `tahoe-ts run` processes on 127.0.0.1: one introducer, five storage
 * servers, one client with a web gateway. The client uploads and downloads through its
 * gateway; a server killed with SIGKILL disappears from the client live (its announcement
 * expires at the introducer) and, started again, reappears and is reconnected; the
 * introducer restarts and every node finds it again.
 *
 * Timings are shortened through TAHOE_TS_TEST_TIMING (refresh 0.5 s, expiry 2.5 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { clientDir, introducerDir, waitFor } from './helpers.js';
import { gateway, spawnRun, type RunningProcess } from './processes.js';

const TIMING = JSON.stringify({
  introducer: { refreshIntervalMs: 500, expiryMs: 2_500, warmupMs: 1_500, sweepIntervalMs: 100 },
  introducerClient: { pollWaitMs: 3_000, minBackoffMs: 100, maxBackoffMs: 1_000, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000 },
  grid: { pollIntervalMs: 500, minBackoffMs: 100, maxBackoffMs: 1_000, probeTimeoutMs: 3_000 },
});

interface Welcome {
  introducers: { details: Array<{ connected: boolean; announcements: number }> };
  servers: Array<{ nodeid: string; nickname: string; connected: boolean; transport: string | null }>;
}

test('1 introducer + 5 servers + 1 client as tahoe-ts run processes: upload, download, live departure, reconnection, introducer restart', { timeout: 240_000 }, async (t) => {
  const root = tempDir(t);
  const env = { TAHOE_TS_TEST_TIMING: TIMING };
  const intro = await introducerDir(root);
  let introducer = spawnRun(t, intro.directory, env);
  await introducer.waitFor(/introducer node running/, 60_000);
  await introducer.waitFor(/^introducer NURL \(1, one per line; give clients the whole content\): .*\/private\/introducer\.furl$/m, 5_000);
  const furl = (await readFile(path.join(intro.directory, 'private', 'introducer.furl'), 'utf8')).trim();
  assert.match(furl, /^pb:\/\/\S+#v=1$/, 'a TCP introducer: one NURL');

  const serverDirs: string[] = [];
  const servers: RunningProcess[] = [];
  for (let i = 0; i < 5; i++) {
    const { directory } = await clientDir(root, `server${i}`, { introducer: furl, shares: [3, 4, 5] });
    serverDirs.push(directory);
    servers.push(spawnRun(t, directory, env));
  }
  const webPort = await freePort();
  const { directory: clientDirectory } = await clientDir(root, 'client', { introducer: furl, storage: false, shares: [3, 4, 5], webport: `tcp:${webPort}:interface=127.0.0.1` });
  const client = spawnRun(t, clientDirectory, env);
  await Promise.all(servers.map((s) => s.waitFor(/storage announced/, 90_000)));
  await client.waitFor(/web gateway: /, 90_000);
  const url = (await readFile(path.join(clientDirectory, 'node.url'), 'utf8')).trim();
  const welcome = async (): Promise<Welcome> => JSON.parse((await gateway(url, 'GET', '/?t=json')).body.toString()) as Welcome;
  await waitFor(async () => (await welcome()).servers.filter((s) => s.connected).length === 5, 30_000, 'five connected servers');
  const status = await welcome();
  assert.deepEqual(status.servers.map((s) => s.nickname).sort(), ['server0', 'server1', 'server2', 'server3', 'server4']);
  assert.ok(status.servers.every((s) => s.transport === 'tcp'));
  assert.equal(status.introducers.details[0].connected, true);

  // Upload and download through the gateway.
  const data = randomBytes(1_500_000);
  const put = await gateway(url, 'PUT', '/uri', data);
  assert.equal(put.status, 200, put.body.toString());
  const cap = put.body.toString().trim();
  assert.match(cap, /^URI:CHK:/);
  const got = await gateway(url, 'GET', `/uri/${encodeURIComponent(cap)}`);
  assert.equal(got.status, 200);
  assert.equal(createHash('sha256').update(got.body).digest('hex'), createHash('sha256').update(data).digest('hex'));

  // A server crashes: it disappears from the client once its announcement expires.
  const victimId = status.servers.find((s) => s.nickname === 'server4')?.nodeid as string;
  servers[4].child.kill('SIGKILL');
  await servers[4].exited;
  await waitFor(async () => !(await welcome()).servers.some((s) => s.nodeid === victimId), 20_000, 'the crashed server to leave');
  // Four servers still hold enough shares (k = 3).
  const again = await gateway(url, 'GET', `/uri/${encodeURIComponent(cap)}`);
  assert.ok(again.body.equals(data));

  // It comes back: the introducer announces it and the client reconnects to it.
  servers[4] = spawnRun(t, serverDirs[4], env);
  await waitFor(async () => (await welcome()).servers.some((s) => s.nodeid === victimId && s.connected), 60_000, 'the server to come back');

  // The introducer restarts: the client reconnects and every server republishes.
  introducer.child.kill('SIGTERM');
  assert.equal((await introducer.exited).code, 0);
  await waitFor(async () => !(await welcome()).introducers.details[0].connected, 15_000, 'the client to notice the introducer is gone');
  assert.equal((await welcome()).servers.filter((s) => s.connected).length, 5, 'servers stay while the introducer is down');
  introducer = spawnRun(t, intro.directory, env);
  await introducer.waitFor(/introducer node running/, 60_000);
  await waitFor(async () => {
    const w = await welcome();
    return w.introducers.details[0].connected && w.introducers.details[0].announcements === 5;
  }, 30_000, 'the client to resubscribe and see all five servers again');
  const after = await gateway(url, 'GET', `/uri/${encodeURIComponent(cap)}`);
  assert.ok(after.body.equals(data));

  // Everyone stops cleanly.
  for (const p of [client, introducer, ...servers]) p.child.kill('SIGTERM');
  for (const p of [client, introducer, ...servers]) assert.equal((await p.exited).code, 0);
});
