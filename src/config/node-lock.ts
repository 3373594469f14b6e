/**
 * One running node per node directory: `node.lock` in the node directory names the
 * process that runs the node. A second node on the same directory would empty the first
 * one's `storage/shares/incoming/` and `storage/tmp/` (ShareStore.open discards
 * unfinished uploads) and race it on every file, so it must not start.
 *
 * The lock file is created complete or not at all (temporary file + link, which fails on
 * an existing file) and holds the owner's PID and, on Linux, its start time from
 * `/proc/PID/stat`. A lock is stale — and is taken over — when that process is gone, or
 * when the PID now belongs to a process that started at another time (PID reuse). Tahoe
 * 1.20 does the same with `running.process` (PID and psutil create time); tahoe-ts uses
 * its own file name and format (configuration.md §6 lists no lock file).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { createFileAtomic } from './keys.js';

export const NODE_LOCK_FILE = 'node.lock';

interface LockOwner {
  program: 'tahoe-ts';
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22); null where unknown. */
  processStart: string | null;
  startedAt: string;
}

/** A held node lock; `release()` removes it if it is still ours. */
export interface NodeLock {
  readonly file: string;
  release(): Promise<void>;
}

/** The start time of a process (Linux), or null where /proc is not available. */
async function processStartOf(pid: number): Promise<string | null | 'gone'> {
  let stat: string;
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') {
      // No /proc at all (not Linux): we cannot tell the start time.
      return (await procAvailable()) ? 'gone' : null;
    }
    return null;
  }
  // "PID (COMMAND) STATE …": the command may contain spaces and parentheses, so count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // A zombie (exited, not yet reaped) runs nothing.
  if (fields[0] === 'Z' || fields[0] === 'X') return 'gone';
  return fields[19] ?? null;
}

async function procAvailable(): Promise<boolean> {
  try {
    await fs.access('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (v.program !== 'tahoe-ts' || !Number.isSafeInteger(v.pid) || (v.pid as number) <= 0) return undefined;
    if (v.processStart !== null && typeof v.processStart !== 'string') return undefined;
    return { program: 'tahoe-ts', pid: v.pid as number, processStart: v.processStart, startedAt: String(v.startedAt ?? '') };
  } catch {
    return undefined;
  }
}

/** Is the process that wrote this lock still running? */
async function ownerRuns(owner: LockOwner): Promise<boolean> {
  if (!isAlive(owner.pid)) return false;
  const start = await processStartOf(owner.pid);
  if (start === 'gone') return false;
  // Same PID, another start time: the PID was reused by an unrelated process.
  if (start !== null && owner.processStart !== null && start !== owner.processStart) return false;
  return true;
}

function inUse(file: string, owner: LockOwner): TahoeError {
  return new TahoeError('NodeDirInvalid', `the node directory is in use: process ${owner.pid} runs a node on it (${file}, since ${owner.startedAt})`, {
    hint: `stop that node first (kill ${owner.pid}); two nodes on one directory would destroy each other's uploads. If no tahoe-ts runs there, delete ${file}`,
    details: { pid: owner.pid },
  });
}

/**
 * Take the lock of a node directory, taking over a stale one. Throws NodeDirInvalid
 * (with the owner's PID) when another running process holds it — including this
 * process, for a second node on the same directory.
 */
export async function acquireNodeLock(nodeDirectory: string): Promise<NodeLock> {
  const file = path.join(nodeDirectory, NODE_LOCK_FILE);
  const start = await processStartOf(process.pid);
  const mine: LockOwner = { program: 'tahoe-ts', pid: process.pid, processStart: start === 'gone' ? null : start, startedAt: new Date().toISOString() };
  const text = JSON.stringify(mine) + '\n';
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createFileAtomic(file, text, 0o644)) {
      return { file, release: () => releaseIfOurs(file, text) };
    }
    let existing: string;
    try {
      existing = await fs.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw new TahoeError('DiskError', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e, hint: `check the permissions of ${file}` });
    }
    const owner = parseOwner(existing);
    if (owner !== undefined && (await ownerRuns(owner))) throw inUse(file, owner);
    await removeStale(file, existing);
  }
  throw new TahoeError('NodeDirInvalid', `cannot take ${file}: other processes keep taking it`, {
    hint: 'several nodes are being started on this directory at once: start one',
  });
}

/**
 * Remove a stale lock, but only the one we judged stale: it is moved aside first, and
 * if what was moved is not that content (another process took over meanwhile), it is
 * put back.
 */
async function removeStale(file: string, staleText: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new TahoeError('DiskError', `cannot replace the stale ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e, hint: `check the permissions of ${path.dirname(file)}` });
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => staleText);
  if (moved !== staleText) {
    // A fresh lock of another process: give it back (link fails if yet another one exists).
    await fs.link(aside, file).catch(() => undefined);
  }
  await fs.rm(aside, { force: true });
}

async function releaseIfOurs(file: string, text: string): Promise<void> {
  const current = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (current === text) await fs.rm(file, { force: true });
}
