/**
 * net/owned-process.ts on real child processes: SIGTERM when it is obeyed, SIGKILL after
 * the grace period when it is not, no signal at all for a PID whose command line is not
 * the one we started, and no timer left pending once the process has exited (it would keep
 * a stopped node's process alive for the rest of the grace period).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { stopOwnedProcess, waitForExit } from '../../src/net/owned-process.js';
import { killAndWait } from '../helpers/processes.js';

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

function start(t: { after(fn: () => Promise<void>): void }, args: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => killAndWait(child, 100));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

/** Resolves once the child has printed its first line (its signal handlers are in place). */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.stdout?.once('data', () => resolve()));
}

const MARKER = 'tahoe-ts-owned-process-test';

test('a process that obeys SIGTERM is stopped at once, with no timer left', async (t) => {
  const proc = start(t, ['-e', `process.stdout.write('up\\n'); setInterval(() => {}, 1000); // ${MARKER}`]);
  await ready(proc.child);
  const before = timers();
  const started = Date.now();
  await stopOwnedProcess({ ...proc, marker: MARKER }, { graceMs: 10_000 });
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  assert.deepEqual(await proc.exited, { code: null, signal: 'SIGTERM' });
  assert.equal(timers(), before, 'no timer left pending');
  // Stopping an exited process is a no-op.
  await stopOwnedProcess({ ...proc, marker: MARKER });
  assert.equal(timers(), before);
});

test('a process that ignores SIGTERM gets SIGKILL after the grace period, with no timer left', async (t) => {
  const proc = start(t, ['-e', `process.on('SIGTERM', () => {}); process.stdout.write('up\\n'); setInterval(() => {}, 1000); // ${MARKER}`]);
  await ready(proc.child);
  const before = timers();
  let killed = 0;
  const started = Date.now();
  await stopOwnedProcess({ ...proc, marker: MARKER }, { graceMs: 400, onKill: () => killed++ });
  const ms = Date.now() - started;
  assert.ok(ms >= 380 && ms < 5_000, `took ${ms} ms`);
  assert.equal(killed, 1);
  assert.deepEqual(await proc.exited, { code: null, signal: 'SIGKILL' });
  assert.equal(timers(), before, 'no timer left pending');
});

test('a PID that does not run the command line we started is never signalled', async (t) => {
  const proc = start(t, ['-e', `process.stdout.write('up\\n'); setInterval(() => {}, 1000); // ${MARKER}`]);
  await ready(proc.child);
  const before = timers();
  await stopOwnedProcess({ ...proc, marker: 'a-marker-this-process-does-not-have' }, { graceMs: 100, afterKillMs: 100 });
  assert.equal(proc.child.exitCode, null);
  assert.equal(proc.child.signalCode, null, 'still running: not ours by its command line');
  assert.equal(timers(), before, 'no timer left pending');
});

test('waitForExit: true when the process exits in time, false otherwise; the timer is cleared', async (t) => {
  const proc = start(t, ['-e', 'setTimeout(() => {}, 300)']);
  const before = timers();
  assert.equal(await waitForExit(proc.exited, 50), false);
  assert.equal(timers(), before);
  assert.equal(await waitForExit(proc.exited, 10_000), true);
  assert.equal(timers(), before, 'no 10 s timer left behind');
});
