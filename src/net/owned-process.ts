/**
 * Stopping a daemon this process started (a launched tor, the tors of a private test
 * network, a launched i2pd): SIGTERM, then SIGKILL after a grace period. Only our own
 * child is ever signalled, through its ChildProcess, and where /proc exists only while the
 * PID still runs the command line we started (a PID reused after the child exited belongs
 * to someone else; tor.md §6.7). No timer outlives the process: a pending one would keep
 * a stopped node's Node.js process alive for the rest of the grace period.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface OwnedProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<unknown>;
  /** A string in the process's command line (a torrc path, a data directory), checked before each signal. */
  readonly marker?: string;
}

export interface StopOwnedProcessOptions {
  /** From SIGTERM to SIGKILL (default 5 s). */
  readonly graceMs?: number;
  /** How long to wait for the exit after SIGKILL (default 2 s; a process in uninterruptible sleep may take longer). */
  readonly afterKillMs?: number;
  /** Called when the grace period ran out and SIGKILL is sent (for a log line). */
  readonly onKill?: () => void;
}

/** True when /proc says `pid` is (still) the process whose command line contains `marker`. */
export function processMatches(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(marker));
  } catch {
    return false;
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Wait up to `ms` for `exited`; true when it resolved in time. The timer is cleared either way. */
export async function waitForExit(exited: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, SIGKILL after `graceMs`; resolves once the process has exited (or `afterKillMs` after SIGKILL). */
export async function stopOwnedProcess(proc: OwnedProcess, options: StopOwnedProcessOptions = {}): Promise<void> {
  const { child, marker } = proc;
  const pid = child.pid;
  if (pid === undefined || hasExited(child)) return;
  let exited = false;
  const gone = proc.exited.then(() => {
    exited = true;
  });
  const send = (name: NodeJS.Signals): void => {
    if (exited || hasExited(child)) return;
    // /proc is the safety net against PID reuse; where it does not exist (not Linux) the
    // ChildProcess's own state is all we have.
    if (marker !== undefined && existsSync('/proc/self/cmdline') && !processMatches(pid, marker)) return;
    try {
      child.kill(name);
    } catch {
      // already gone
    }
  };
  send('SIGTERM');
  if (await waitForExit(gone, options.graceMs ?? 5_000)) return;
  options.onKill?.();
  send('SIGKILL');
  await waitForExit(gone, options.afterKillMs ?? 2_000);
}
