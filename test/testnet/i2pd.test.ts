/**
 * The offline test router and the launched-router watchdog: the router comes up with SAM
 * answering, listens on loopback only, is gone after stop(), and is gone when the process
 * that launched it is SIGKILLed (no chance to clean up).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isTahoeError } from '../../src/errors.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { SamClient } from '../../src/net/i2p/sam.js';
import { findI2pdExecutable } from '../../src/net/i2p/router-process.js';
import { startI2pRouter } from '../../src/testnet/i2pd.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { isAlive } from '../helpers/processes.js';

function i2pdInstalled(t: { skip(msg: string): void }): boolean {
  try {
    findI2pdExecutable();
    return true;
  } catch (e) {
    const msg = `!!! i2pd not installed (${(e as Error).message}): apt-get install i2pd`;
    if (process.env.CI === 'true') throw new Error(msg, { cause: e });
    process.stderr.write(`\n${msg} — SKIPPING\n\n`);
    t.skip(msg);
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 100) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** Listening sockets of a process, from /proc (Linux). */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  // socket inodes owned by the process
  for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
    try {
      const m = /socket:\[(\d+)\]/.exec(readlinkSafe(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6', '/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9])) continue;
      const isTcp = file.includes('tcp');
      if (isTcp && cols[3] !== '0A') continue; // LISTEN
      const [hexIp, hexPort] = cols[1].split(':');
      const ip = hexIp.length === 8 ? hexIp.match(/../g)!.reverse().map((h) => parseInt(h, 16)).join('.') : hexIp;
      out.push(`${isTcp ? 'tcp' : 'udp'} ${ip}:${parseInt(hexPort, 16)}`);
    }
  }
  return out;
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}
function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

test('startI2pRouter: SAM answers, loopback only, nothing left after stop', async (t) => {
  if (!i2pdInstalled(t)) return;
  const dir = tempDir(t, 'tahoe-ts-i2pd-');
  const progress: string[] = [];
  const router = await startI2pRouter({ dir, onProgress: (m) => progress.push(m) });
  t.after(() => router.stop());
  assert.ok(progress.some((m) => /ready: SAM 3\.1/.test(m)), progress.join(' | '));
  const sam = new SamClient({ endpoint: router.samEndpoint, gate: OPEN_GATE });
  assert.equal(await sam.probe(), '3.1');
  assert.equal(router.sessionOptions['inbound.length'], '0');
  assert.equal(router.sessionOptions['i2cp.leaseSetType'], '1');
  assert.equal(router.sessionOptions['i2cp.leaseSetEncType'], undefined);
  const conf = readFileSync(path.join(dir, 'i2pd.conf'), 'utf8');
  assert.match(conf, /^netid = 99$/m);
  const listening = listeningAddresses(router.pid);
  assert.ok(listening.length >= 2, listening.join(', '));
  for (const a of listening) assert.match(a, / 127\.0\.0\.1:\d+$/, `router listens beyond loopback: ${a}`);
  assert.ok(listening.includes(`tcp 127.0.0.1:${router.samPort}`));
  await router.stop();
  assert.equal(isAlive(router.pid), false);
  assert.equal(await portRefuses(router.samPort), true);
});

test('an abort while the router comes up stops it and throws Aborted at once', async (t) => {
  if (!i2pdInstalled(t)) return;
  const dir = tempDir(t, 'tahoe-ts-i2pd-');
  const abort = new AbortController();
  let pid: number | undefined;
  t.after(() => {
    // the router we caused to start: only if the abort failed to stop it
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  const started = Date.now();
  await assert.rejects(
    startI2pRouter({
      dir,
      signal: abort.signal,
      onProgress: (m) => {
        const match = /i2pd started \(pid (\d+)\)/.exec(m);
        if (match === null) return;
        pid = Number(match[1]);
        abort.abort();
      },
    }),
    (e: unknown) => isTahoeError(e, 'Aborted'),
  );
  assert.ok(pid !== undefined && Date.now() - started < 5_000, `aborted after ${Date.now() - started} ms`);
  assert.equal(isAlive(pid), false, 'the router is stopped');
});

test('a router that cannot start fails with its log, leaving no process behind', async (t) => {
  if (!i2pdInstalled(t)) return;
  const dir = tempDir(t, 'tahoe-ts-i2pd-');
  await assert.rejects(
    startI2pRouter({ dir, executable: '/bin/false' }),
    (e: unknown) => isTahoeError(e, 'I2pUnavailable') && /exited during startup/.test(e.message),
  );
  await assert.rejects(startI2pRouter({ dir, executable: path.join(dir, 'no-such-i2pd') }), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
});

for (const mode of ['router', 'provider'] as const) {
  test(`watchdog (${mode}): the launched i2pd dies when its parent is SIGKILLed`, async (t) => {
    if (!i2pdInstalled(t)) return;
    const dir = tempDir(t, 'tahoe-ts-i2pd-');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/testnet/fixtures/i2pd-child.ts'), mode, dir], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const started: { routerPid?: number } = {};
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // the router we caused to start: only if the watchdog failed
      if (started.routerPid !== undefined && isAlive(started.routerPid)) process.kill(started.routerPid, 'SIGKILL');
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
    });
    const info = JSON.parse(line) as { pid: number; samPort: number };
    started.routerPid = info.pid;
    assert.ok(isAlive(info.pid));
    if (mode === 'provider') assert.ok(readFileSync(path.join(dir, 'private', 'i2pd', 'i2pd.conf'), 'utf8').includes(`port = ${info.samPort}`));
    child.kill('SIGKILL');
    assert.equal(await waitGone(info.pid, 10_000), true, 'i2pd outlived its SIGKILLed parent');
    assert.equal(await portRefuses(info.samPort), true);
  });
}
