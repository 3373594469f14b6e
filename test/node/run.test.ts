/**
 * `tahoe-ts run` as a child process: it writes node.url, stops cleanly on SIGTERM and
 * SIGINT (exit 0, no listener left), and refuses to start — with the error kind and a
 * hint — on bad permissions, a privacy violation (before opening any socket) and a port
 * in use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { clientDir } from './helpers.js';
import { gateway, spawnRun } from './processes.js';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`run writes node.url, serves, and ${signal} stops it cleanly (exit 0, no listener left)`, async (t) => {
    const root = tempDir(t);
    const webPort = await freePort();
    const { directory, port } = await clientDir(root, 'node', { webport: `tcp:${webPort}:interface=127.0.0.1` });
    const run = spawnRun(t, directory);
    await run.waitFor(/web gateway: (http:\/\/127\.0\.0\.1:\d+\/)/, 60_000);
    const url = (await readFile(path.join(directory, 'node.url'), 'utf8')).trim();
    assert.equal(url, `http://127.0.0.1:${webPort}/`);
    assert.match(run.stdout, /storage reachable via tcp listener on 127\.0\.0\.1:\d+/);
    const welcome = await gateway(url, 'GET', '/?t=json');
    assert.equal(welcome.status, 200);
    assert.equal(JSON.parse(welcome.body.toString()).node.node_type, 'client');
    assert.ok(!(await portIsFree(port as number)), 'the storage port is in use while running');
    run.child.kill(signal);
    const { code } = await run.exited;
    assert.equal(code, 0, run.stderr.slice(-2000));
    assert.match(run.stderr, /node stopped/);
    assert.ok(await portIsFree(port as number), 'storage port released');
    assert.ok(await portIsFree(webPort), 'web port released');
  });
}

test('run refuses a private/ directory others can read: exit 78, NodeDirInvalid, the chmod in the hint', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'loose');
  await chmod(path.join(directory, 'private'), 0o750);
  const run = spawnRun(t, directory);
  const { code } = await run.exited;
  assert.equal(code, 78);
  assert.match(run.stderr, /kind: NodeDirInvalid/);
  assert.match(run.stderr, /hint: chmod 700 /);
});

test('run refuses a privacy violation before opening any socket: exit 78, PrivacyViolation', async (t) => {
  const root = tempDir(t);
  let connections = 0;
  const trap = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => trap.close(() => r())));
  const trapPort = (trap.address() as net.AddressInfo).port;
  const { directory } = await clientDir(root, 'leaky', {
    introducer: `pb://${'a'.repeat(32)}@tcp:127.0.0.1:${trapPort}/${'b'.repeat(32)}`,
    storage: false,
    edits: [
      { section: 'node', key: 'reveal-IP-address', value: 'false' },
      { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${trapPort}` },
    ],
  });
  const run = spawnRun(t, directory);
  const { code } = await run.exited;
  assert.equal(code, 78);
  assert.match(run.stderr, /kind: PrivacyViolation/);
  assert.match(run.stderr, /hint: .*tcp = tor/);
  assert.equal(connections, 0, 'nothing was dialled');
});

test('run with its port in use: a clear error naming the port, exit 78', async (t) => {
  const root = tempDir(t);
  const port = await freePort();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const { directory } = await clientDir(root, 'busy', { port });
  const run = spawnRun(t, directory);
  const { code } = await run.exited;
  assert.equal(code, 78);
  assert.match(run.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  assert.match(run.stderr, /hint: another program already listens/);
});
