/**
 * Child processes a test starts are tracked by PID and killed when the test ends, also
 * on failure. Only processes we started are ever signalled.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { TestContext } from 'node:test';

export function spawnTracked(t: Pick<TestContext, 'after'>, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  t.after(() => killAndWait(child));
  return child;
}

export async function killAndWait(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Whether a process with this PID exists (signal 0; EPERM means it exists under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM') return true;
    if (code === 'ESRCH') return false;
    throw e;
  }
}
