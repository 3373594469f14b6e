/**
 * `tahoe-ts run` as a child process (from source through tsx, like the other CLI tests),
 * tracked by PID and killed in t.after, with helpers to wait for its output and exit.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from '../helpers/shared.js';
import { spawnTracked } from '../helpers/processes.js';

export interface RunningProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when stdout (or stderr) matches. */
  waitFor(re: RegExp, timeoutMs: number, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnRun(t: Pick<TestContext, 'after'>, directory: string, env: Record<string, string | undefined> = {}): RunningProcess {
  const child = spawnTracked(t, process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/cli/run-cli.ts'), 'run', '-d', directory], {
    cwd: REPO_ROOT,
    env: { ...process.env, TAHOE_TS_NODE_DIRECTORY: undefined, TAHOE_TS_LOG_SENSITIVE: undefined, ...env },
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const poke = (): void => waiters.forEach((w) => w());
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    poke();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    poke();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => {
    resolve({ code, signal });
    poke();
  }));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitFor(re, timeoutMs, stream = 'stdout') {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = (stream === 'stdout' ? stdout : stderr).match(re);
          if (m !== null) {
            finish();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            finish();
            reject(new Error(`the process exited (${child.exitCode ?? child.signalCode}) before ${re} appeared\nstdout: ${stdout}\nstderr: ${stderr.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}\nstdout: ${stdout}\nstderr: ${stderr.slice(-3000)}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** A request to a node's web gateway (loopback). */
export function gateway(url: string, method: string, pathAndQuery: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(pathAndQuery, url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent: false, headers: body === undefined ? {} : { 'content-length': String(body.length) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
