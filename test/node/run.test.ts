/**
 * `tahoe-ts run` as a child process: it writes node.url, stops cleanly on SIGTERM and
 * SIGINT (exit 0, no listener left), and refuses to start — with the error kind and a
 * hint — on bad permissions, a privacy violation (before opening any socket) and a port
 * in use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
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

test('SIGTERM while the node is still starting (waiting for the tor it launched) exits 0 and leaves no tor behind', { timeout: 120_000 }, async (t) => {
  const root = tempDir(t);
  const { createNode } = await import('../../src/config/create.js');
  const { editTahoeCfg } = await import('../../src/config/keys.js');
  const { writeFile, readdir } = await import('node:fs/promises');
  const directory = path.join(root, 'onion');
  await createNode({ directory, command: 'create-node', listen: ['tor'], torLaunch: true, webport: 'none', nickname: 'onion' });
  // A tor that never bootstraps: no traffic at all.
  const torrc = path.join(root, 'offline.torrc');
  await writeFile(torrc, 'DisableNetwork 1\n');
  await editTahoeCfg(directory, [{ section: 'tor', key: 'launch.extra_torrc', value: torrc }, { section: 'storage', key: 'reserved_space', value: '0' }]);
  const stateDir = path.join(directory, 'private', 'tor-statedir');
  const torsOfNode = async (): Promise<number[]> => {
    const found: number[] = [];
    for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(stateDir)) found.push(Number(pid));
    }
    return found;
  };
  const run = spawnRun(t, directory);
  await run.waitFor(/launching tor/, 60_000, 'stderr');
  // Stop the node while it waits for the bootstrap of a tor that is running.
  const deadline = Date.now() + 20_000;
  while ((await torsOfNode()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok((await torsOfNode()).length > 0, 'tor was launched');
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, run.stderr.slice(-2000));
  const leftovers = await torsOfNode();
  assert.deepEqual(leftovers, [], 'the launched tor is gone');
});

test('run shows a launched tor\'s bootstrap on stderr, a line per step without a terminal, and a timeout with its hint', { timeout: 120_000 }, async (t) => {
  const root = tempDir(t);
  const torrc = path.join(root, 'offline.torrc');
  // Offline: tor starts, takes ownership and reports its first bootstrap steps, but never reaches 100 %.
  writeFileSync(torrc, 'DisableNetwork 1\n');
  const { directory } = await clientDir(root, 'launcher', {
    storage: false,
    edits: [
      { section: 'tor', key: 'launch', value: 'true' },
      { section: 'tor', key: 'launch.extra_torrc', value: torrc },
      { section: 'tor', key: 'bootstrap_timeout', value: '3' },
    ],
  });
  const run = spawnRun(t, directory);
  const { code } = await run.exited;
  assert.notEqual(code, 0, run.stderr.slice(-2000));
  assert.match(run.stderr, /^tor bootstrapped \d+%: .+$/m, 'a progress line of its own');
  assert.ok(!run.stderr.includes('\u001b[2K'), 'no terminal redraw into a pipe');
  assert.match(run.stderr, /kind: TorBootstrapTimeout/);
  assert.match(run.stderr, /hint: .+/);
});
