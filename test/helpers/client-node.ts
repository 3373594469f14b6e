/**
 * A client node as its own `tahoe-ts run` process against a demo grid (started, waited for
 * until its gateway answers and its servers are connected, stopped); files pushed through
 * its web gateway (`PUT /uri`, `GET /uri/$CAP`); its resident memory and CPU time read
 * from /proc. Used by the CLI tests and the memory test.
 *
 * The data is an AES-128-CTR keystream generated on the fly and regenerated to check
 * the download, so the measuring process never holds a copy of the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './shared.js';

const CHUNK = 1024 * 1024;

export interface ProcessMemory {
  /** Peak resident set size (VmHWM), bytes. */
  hwm: number;
  /** Current resident set size (VmRSS), bytes. */
  rss: number;
}

/** `VmHWM` / `VmRSS` of a process, in bytes. */
export function memoryOf(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

/** User + system CPU seconds a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** The same pseudo-random bytes every time for one key: AES-128-CTR over zeros. */
export function* keystream(key: Buffer, size: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let done = 0; done < size; done += CHUNK) yield cipher.update(zeros.subarray(0, Math.min(CHUNK, size - done)));
}

/** `PUT /uri` with `size` keystream bytes; resolves to the cap. */
export function putKeystream(base: string, size: number, key: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/uri`, { method: 'PUT', agent: false, headers: { 'Content-Length': size } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text.trim()) : reject(new Error(`PUT ${res.statusCode ?? '?'}: ${text}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      for (const chunk of keystream(key, size)) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      req.end();
    })();
  });
}

/** `GET /uri/$CAP`, compared with the regenerated keystream as the bytes arrive; resolves to the byte count. */
export function getAndCompare(base: string, cap: string, size: number, key: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(`${base}/uri/${encodeURIComponent(cap)}`, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`GET ${res.statusCode ?? '?'}`));
      }
      const expected = keystream(key, size);
      let want = Buffer.alloc(0);
      let n = 0;
      res.on('data', (chunk: Buffer) => {
        let offset = 0;
        while (offset < chunk.length) {
          if (want.length === 0) want = expected.next().value ?? Buffer.alloc(0);
          const take = Math.min(want.length, chunk.length - offset);
          if (take === 0 || !chunk.subarray(offset, offset + take).equals(want.subarray(0, take))) {
            res.destroy();
            return reject(new Error(`downloaded bytes differ at offset ${n + offset}`));
          }
          want = want.subarray(take);
          offset += take;
        }
        n += chunk.length;
      });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export interface ClientNode {
  readonly pid: number;
  /** Web gateway base URL, without the trailing slash. */
  readonly base: string;
  readonly child: ChildProcess;
  /** The last few KB of the node's stderr. */
  log(): string;
  /** SIGTERM (SIGKILL after a grace period); resolves when it exited. */
  stop(): Promise<void>;
}

export interface ClientNodeOptions {
  /** What follows `node` to start tahoe-ts (see test/web/cli-process.ts `tahoeTsArgv`). */
  argv: string[];
  directory: string;
  /** Wait until this many storage servers are connected. */
  servers: number;
  /** Node options placed before `argv` (e.g. V8 flags to compare). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** A file descriptor for the node's stdout (e.g. for --trace-gc); default ignored. */
  stdout?: number;
}

/**
 * Start `node <nodeArgs> <argv> run -d <directory>` and wait until its gateway answers
 * and `servers` storage servers are connected.
 */
export async function startClientNode(options: ClientNodeOptions): Promise<ClientNode> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...options.argv, 'run', '-d', options.directory], {
    cwd: REPO_ROOT,
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
    env: options.env ?? process.env,
  });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const urlFile = path.join(options.directory, 'node.url');
    for (let i = 0; i < 1200 && !existsSync(urlFile); i++) {
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    if (!existsSync(urlFile)) throw new Error(`the client node wrote no node.url\n${log}`);
    const base = readFileSync(urlFile, 'utf8').trim().replace(/\/$/, '');
    let connected = 0;
    for (let i = 0; i < 1200 && connected < options.servers; i++) {
      connected = await fetch(`${base}/?t=json`).then(async (r) => ((await r.json()) as { servers: Array<{ connected: boolean }> }).servers.filter((s) => s.connected).length, () => 0);
      if (connected < options.servers) await sleep(100);
    }
    if (connected < options.servers) throw new Error(`only ${connected} of ${options.servers} storage servers connected to the client node\n${log}`);
    return { pid: child.pid as number, base, child, log: () => log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Samples a process's VmRSS every `intervalMs` (VmHWM is exact; this shows when the peak happened). */
export class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 250) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  sample(): void {
    try {
      this.peak = Math.max(this.peak, memoryOf(this.pid).rss);
    } catch {
      // the process is gone; the caller notices elsewhere
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
