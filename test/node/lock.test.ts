/**
 * One node per node directory: a second `TahoeNode.start` on a directory a running node
 * holds fails with a hint (and leaves the running node's uploads alone); stale locks —
 * a dead PID, a reused PID, a damaged file — are taken over; `stop()` releases the lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isTahoeError } from '../../src/errors.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { TahoeNode } from '../../src/node/node.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { spawnTracked } from '../helpers/processes.js';
import { clientDir, startNode } from './helpers.js';

const LOCK = 'node.lock';

function lockText(pid: number, processStart: string | null): string {
  return JSON.stringify({ program: 'tahoe-ts', pid, processStart, startedAt: '2020-01-01T00:00:00.000Z' }) + '\n';
}

async function processStart(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

async function deadPid(t: Parameters<typeof spawnTracked>[0]): Promise<number> {
  const child = spawnTracked(t, process.execPath, ['-e', '']);
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return child.pid as number;
}

/** A start that must fail; a node that starts anyway is stopped again so the test can end. */
async function startRefused(directory: string): Promise<unknown> {
  let node: TahoeNode | undefined;
  try {
    node = await TahoeNode.start({ directory, logger: silentLogger });
  } catch (e) {
    return e;
  }
  await node.stop();
  assert.fail('the second node started');
}

async function heldBy(directory: string): Promise<number> {
  return (JSON.parse(await readFile(path.join(directory, LOCK), 'utf8')) as { pid: number }).pid;
}

test('a second node on a running node\'s directory refuses to start, naming the PID, and leaves its uploads alone', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'busy');
  const first = await startNode(t, directory);
  assert.equal(await heldBy(directory), process.pid);
  // An upload in progress on the running node.
  const incoming = path.join(directory, 'storage', 'shares', 'incoming', 'aa', 'aaaaaaaaaaaaaaaaaaaaaaaaaa');
  await mkdir(incoming, { recursive: true });
  await writeFile(path.join(incoming, '0'), 'half an upload');
  // The second start would otherwise get as far as the share store (another port: no EADDRINUSE first).
  await editTahoeCfg(directory, [{ section: 'node', key: 'tub.port', value: `tcp:${await freePort()}:interface=127.0.0.1` }]);
  const e = await startRefused(directory);
  assert.ok(isTahoeError(e, 'NodeDirInvalid') && /in use/.test(e.message) && e.hint.includes(`kill ${process.pid}`) && e.details.pid === process.pid, String(e));
  assert.ok(existsSync(path.join(incoming, '0')), 'the running node\'s upload survived');
  assert.equal(await heldBy(directory), process.pid, 'the failed start did not remove the running node\'s lock');
  assert.ok(first.storageNurls.length > 0);
  await first.stop();
  assert.ok(!existsSync(path.join(directory, LOCK)), 'stop() releases the lock');
  const again = await startNode(t, directory);
  await again.stop();
});

test('a lock held by another live process is respected', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'other');
  const child = spawnTracked(t, process.execPath, ['-e', 'setTimeout(() => undefined, 60_000)']);
  await new Promise<void>((resolve) => child.once('spawn', () => resolve()));
  const pid = child.pid as number;
  await writeFile(path.join(directory, LOCK), lockText(pid, await processStart(pid)));
  const e = await startRefused(directory);
  assert.ok(isTahoeError(e, 'NodeDirInvalid') && e.details.pid === pid, String(e));
  assert.equal(await heldBy(directory), pid);
});

test('stale locks are taken over: a dead PID, a reused PID, a damaged file', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'stale');
  const stale = [
    lockText(await deadPid(t), '12345'),
    // Our own PID with another start time: the PID of a node that died was reused.
    lockText(process.pid, '1'),
    'garbage\n',
    '',
  ];
  for (const text of stale) {
    await writeFile(path.join(directory, LOCK), text);
    const node = await startNode(t, directory);
    assert.equal(await heldBy(directory), process.pid, JSON.stringify(text));
    await node.stop();
    assert.ok(!existsSync(path.join(directory, LOCK)));
  }
});
