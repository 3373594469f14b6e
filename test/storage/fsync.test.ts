/**
 * Crash safety as the kernel sees it: strace follows a child process (fsync-upload-child.ts)
 * in which a real client uploads immutable shares to completion through the real HTTPS
 * storage server, then creates a mutable share. From the trace we check the order of the
 * system calls that make a share durable:
 * - the file's last write is followed by fsync/fdatasync of that file before the rename
 *   that moves it into shares/ (else a crash can leave a renamed file with missing data);
 * - after the rename, the directory holding the share is fsynced (else the rename itself
 *   may be lost), and every directory mkdir created on the way has its entry made durable
 *   by an fsync of its parent (fsync(2): a file's fsync does not persist its directory
 *   entry; the same holds for a new directory's entry in its parent);
 * - all of this happens before the client is told the share is complete.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { spawnTracked } from '../helpers/processes.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';

const STRACE = '/usr/bin/strace';
const SHARE_SIZE = 300_000;
const WRITES = new Set(['pwrite64', 'pwritev', 'pwritev2', 'write', 'writev', 'ftruncate']);
const SYNCS = new Set(['fsync', 'fdatasync']);
const RENAMES = new Set(['rename', 'renameat', 'renameat2']);
const MKDIRS = new Set(['mkdir', 'mkdirat']);

interface TraceEvent {
  /** Index of the line where the call started and of the one where it returned. */
  start: number;
  end: number;
  name: string;
  ok: boolean;
  /** The path behind the first fd argument (strace -y), for fd calls. */
  fdPath?: string;
  /** Path arguments, resolved against their dirfd when relative. */
  paths: string[];
  /** Bytes written, for write calls. */
  bytes?: number;
}

function straceOrSkip(t: TestContext): boolean {
  if (existsSync(STRACE)) return true;
  const msg = `!!! ${STRACE} not found: cannot check the order of fsync and rename`;
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(`\n${msg} — SKIPPING\n\n`);
  t.skip(msg);
  return false;
}

const PATH_CALLS = new Set(['openat', 'link', 'linkat', ...RENAMES, ...MKDIRS]);

/** A path argument as strace prints it: C escapes (\\n, \\", \\xHH, octal) inside quotes. */
function unquote(quoted: string): string {
  const bytes: number[] = [];
  const body = quoted.slice(1, -1);
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, '"': 34, '\\': 92 };
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      bytes.push(...Buffer.from(body[i]));
      continue;
    }
    const next = body[++i];
    if (next === 'x') {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(body.slice(i))?.[0] ?? '0';
      bytes.push(parseInt(octal, 8));
      i += octal.length - 1;
    } else bytes.push(simple[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parse `strace -f -y` output (one process or thread id per line, calls possibly split by other threads). */
function parseTrace(text: string): TraceEvent[] {
  const pending = new Map<string, { start: number; head: string }>();
  const events: TraceEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\d+)\s+(.*)$/.exec(lines[i]);
    if (!m) continue;
    const [, pid, body] = m;
    let call: string;
    let start = i;
    if (body.endsWith('<unfinished ...>')) {
      pending.set(pid, { start: i, head: body.slice(0, -'<unfinished ...>'.length).trimEnd() });
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    if (resumed) {
      const head = pending.get(pid);
      pending.delete(pid);
      if (!head) continue;
      start = head.start;
      call = head.head + resumed[2];
    } else {
      call = body;
    }
    const nameMatch = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(call);
    if (!nameMatch) continue;
    const [, name, args, result] = nameMatch;
    const ok = Number(result) >= 0;
    const fdPath = /^-?\d+<([^>]*)>/.exec(args)?.[1];
    // Quoted path arguments, each with the directory fd before it (AT_FDCWD<cwd> or N<dir>).
    const paths: string[] = [];
    let dir: string | undefined;
    if (PATH_CALLS.has(name)) for (const a of args.matchAll(/(?:(?:AT_FDCWD|-?\d+)<([^>]*)>)|("(?:[^"\\]|\\.)*")/g)) {
      if (a[1] !== undefined) dir = a[1];
      else {
        const p = unquote(a[2]);
        paths.push(path.isAbsolute(p) || dir === undefined ? p : path.join(dir, p));
      }
    }
    events.push({ start, end: i, name, ok, fdPath, paths, bytes: WRITES.has(name) && name !== 'ftruncate' ? Number(result) : undefined });
  }
  return events;
}

/**
 * Everything that makes `finalPath` durable, in order: `from` synced after its last write
 * and before the rename, the final directory synced after the rename, each directory
 * created under `sharesDir` made durable in its parent, all before `ack`.
 */
function assertDurableRename(events: TraceEvent[], from: string, finalPath: string, sharesDir: string, ack: TraceEvent, what: string, minBytes: number): void {
  const renames = events.filter((e) => RENAMES.has(e.name) && e.ok && e.paths[0] === from && e.paths[1] === finalPath);
  assert.equal(renames.length, 1, `${what}: one rename ${from} -> ${finalPath} in the trace`);
  const [rename] = renames;
  assert.ok(rename.end < ack.start, `${what}: renamed into shares/ before the client was told it is complete`);

  const writes = events.filter((e) => WRITES.has(e.name) && e.fdPath === from && e.end < rename.start);
  const written = writes.reduce((n, e) => n + (e.bytes ?? 0), 0);
  assert.ok(written >= minBytes, `${what}: the trace shows the data written to ${from} (${written} bytes seen, ${minBytes} expected): otherwise this test sees nothing`);
  const lastWrite = Math.max(...writes.map((e) => e.end));
  const dataSync = events.find((e) => SYNCS.has(e.name) && e.ok && e.fdPath === from && e.start > lastWrite && e.end < rename.start);
  assert.ok(dataSync, `${what}: fsync/fdatasync of ${from} after its last write (trace line ${lastWrite}) and before the rename (line ${rename.start})`);
  assert.equal(events.filter((e) => WRITES.has(e.name) && (e.fdPath === finalPath || (e.fdPath === from && e.end > rename.start))).length, 0, `${what}: nothing written after the rename`);

  const finalDir = path.dirname(finalPath);
  const dirSync = events.find((e) => SYNCS.has(e.name) && e.ok && e.fdPath === finalDir && e.start > rename.end && e.end < ack.start);
  assert.ok(dirSync, `${what}: fsync of ${finalDir} after the rename and before the client is told`);

  const createdDirs = events.filter((e) => MKDIRS.has(e.name) && e.ok && e.end < rename.start && e.paths[0].startsWith(`${sharesDir}/`) && !e.paths[0].startsWith(`${sharesDir}/incoming`) && (finalDir === e.paths[0] || finalDir.startsWith(`${e.paths[0]}/`)));
  for (const mkdir of createdDirs) {
    const parent = path.dirname(mkdir.paths[0]);
    const parentSync = events.find((e) => SYNCS.has(e.name) && e.ok && e.fdPath === parent && e.start > mkdir.end && e.end < ack.start);
    assert.ok(parentSync, `${what}: ${mkdir.paths[0]} was created (trace line ${mkdir.end}); its entry needs an fsync of ${parent} before the client is told, none was seen`);
  }
}

test('an upload is durable before it completes: data fsynced before the rename out of incoming/, directories fsynced after it (strace of a real HTTPS upload)', { timeout: 120_000 }, async (t) => {
  if (!straceOrSkip(t)) return;
  const dir = realpathSync(tempDir(t));
  const storageDir = path.join(dir, 'storage');
  const ackDir = path.join(dir, 'ack');
  mkdirSync(ackDir);
  const traceFile = path.join(dir, 'trace');
  const child = spawnTracked(t, STRACE, [
    '-f', '-qq', '-y', '-o', traceFile,
    '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,openat,link,mkdir,mkdirat,pwrite64,pwritev,pwritev2,write,writev,ftruncate',
    process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'test/storage/fsync-upload-child.ts'), storageDir, ackDir,
  ], { cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0, `the traced upload failed: ${stderr}`);
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { si: string; allocated: number[]; completed: number[]; listed: number[]; mutableSi: string; mutableWritten: boolean };
  assert.deepEqual(report.completed, [0, 1], 'both uploads completed');
  assert.deepEqual(report.listed, [0, 1]);
  assert.equal(report.mutableWritten, true);

  const events = parseTrace(readFileSync(traceFile, 'utf8'));
  const sharesDir = path.join(storageDir, 'shares');
  const ackOf = (name: string): TraceEvent => {
    const ack = events.find((e) => e.name === 'openat' && e.ok && e.paths[0] === path.join(ackDir, name));
    assert.ok(ack, `the trace shows the acknowledgement ${name}`);
    return ack;
  };
  const si = report.si;
  for (const shnum of report.completed) {
    const from = path.join(sharesDir, 'incoming', si.slice(0, 2), si, String(shnum));
    const to = path.join(sharesDir, si.slice(0, 2), si, String(shnum));
    assertDurableRename(events, from, to, sharesDir, ackOf(`ack-${shnum}`), `immutable share ${shnum}`, SHARE_SIZE);
  }

  // The mutable share is built in tmp/ under a random name; find it by the rename's target.
  const mutableFinal = path.join(sharesDir, report.mutableSi.slice(0, 2), report.mutableSi, '0');
  const mutableRename = events.find((e) => RENAMES.has(e.name) && e.ok && e.paths[1] === mutableFinal);
  assert.ok(mutableRename, `a rename into ${mutableFinal}`);
  assert.equal(path.dirname(mutableRename.paths[0]), path.join(storageDir, 'tmp'));
  assertDurableRename(events, mutableRename.paths[0], mutableFinal, sharesDir, ackOf('ack-mutable'), 'new mutable share', 1000);
});
