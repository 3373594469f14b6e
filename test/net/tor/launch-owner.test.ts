/**
 * `[tor] launch = true` end to end: the tor we launch dies with us even when we cannot
 * clean up (SIGKILL), through TAKEOWNERSHIP on the control connection (launch.ts;
 * control-spec §3.23) with __OwningControllerProcess covering the start; its data
 * directory and control-socket directory are private (tor.md §4, AN-6). No network needed:
 * the launched tor runs with DisableNetwork 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers/shared.js';
import { killAndWait } from '../../helpers/processes.js';
import { privateTempDir } from './offline-tor.js';

/** True while `pid` runs a command line mentioning `marker` (so a reused PID is never ours). */
function runs(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

async function waitGone(pid: number, marker: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!runs(pid, marker)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !runs(pid, marker);
}

test('launch: the launched tor exits when its owner is SIGKILLed; its data and control-socket directories are 0700', async (t) => {
  const leftover: { torPid?: number; dataDir?: string } = {};
  // registered first so it runs before the temp directory is removed
  t.after(() => {
    // the tor we caused to start: only if the ownership failed to end it
    if (leftover.torPid !== undefined && leftover.dataDir !== undefined && runs(leftover.torPid, leftover.dataDir)) process.kill(leftover.torPid, 'SIGKILL');
  });
  const dir = privateTempDir(t);
  const dataDir = path.join(dir, 'private', 'tor-statedir');
  const controlSocketPath = path.join(dir, 'private', 'control', 'tor.control');
  const logFile = path.join(dir, 'tor.log');
  leftover.dataDir = dataDir;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'test/net/tor/launch-owner-child.ts'), dataDir, controlSocketPath, path.join(dir, 'tor.pid'), logFile],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => killAndWait(child));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting:\n${stderr}`)));
  });
  const report = JSON.parse(line) as { torPid?: number; error?: string };
  assert.equal(report.error, undefined, `${line}\n${stderr}`);
  const torPid = report.torPid as number;
  leftover.torPid = torPid;
  assert.ok(runs(torPid, dataDir), 'the launched tor runs');
  assert.notEqual(torPid, child.pid);

  // Private directories, as tor itself requires (it accepted them: it is running).
  assert.equal(statSync(dataDir).mode & 0o777, 0o700, 'DataDirectory is 0700');
  assert.equal(statSync(path.dirname(controlSocketPath)).mode & 0o777, 0o700, 'the control socket directory is 0700');
  assert.ok(existsSync(controlSocketPath), 'the control socket is where we asked');
  // The start, before TAKEOWNERSHIP, is covered by tor polling its owner's PID.
  const argv = readFileSync(`/proc/${torPid}/cmdline`, 'utf8').split('\0');
  assert.equal(argv[argv.indexOf('--__OwningControllerProcess') + 1], String(child.pid), 'tor watches the launching process');

  const killedAt = Date.now();
  child.kill('SIGKILL');
  // The owning control connection closes with the process: tor exits at once. tor's PID
  // poll (__OwningControllerProcess) would take up to 15 s, and launch.ts resets it.
  assert.equal(await waitGone(torPid, dataDir, 5000), true, `tor (pid ${torPid}) outlived its SIGKILLed owner by 5 s`);
  const lingered = Date.now() - killedAt;
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, /Owning controller connection has closed -- exiting now/, `tor did not exit for its owner (after ${lingered} ms):\n${log.slice(-2000)}`);
});
