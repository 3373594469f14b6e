/**
 * A real tor with no network (tor.md §7), started per test file: the control protocol,
 * onion-service bookkeeping and tor's local SOCKS errors all work without any traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { SocketEndpoint } from '../../../src/net/socket.js';
import { killAndWait } from '../../helpers/processes.js';

/** Where to register cleanups: a TestContext, or a file-wide scope (see fileScope()). */
export interface Defer {
  after(fn: () => unknown): void;
}

/** Cleanups for resources shared by all tests of a file: call run() in after(). */
export function fileScope(): Defer & { run(): Promise<void> } {
  const cleanups: Array<() => unknown> = [];
  return {
    after: (fn) => void cleanups.push(fn),
    run: async () => {
      for (const fn of cleanups.splice(0).reverse()) await fn();
    },
  };
}

export function privateTempDir(scope: Defer, prefix = 'tahoe-ts-tor-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  scope.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface OfflineTor {
  child: ChildProcess;
  dataDir: string;
  control: SocketEndpoint;
  cookiePath: string;
  /** What tor printed so far (for failure messages). */
  output(): string;
}

export interface OfflineTorOptions {
  /** 'unix' (default) or 'tcp' control port. */
  control?: 'unix' | 'tcp';
  /**
   * 'disabled' = DisableNetwork 1 (no listeners); 'bridge' = UseBridges to an unreachable
   * loopback bridge, so the SOCKS port opens but nothing leaves the host.
   */
  network?: 'disabled' | 'bridge';
  /** Extra options as `--Key value` pairs. */
  args?: string[];
  /** When false, no ControlPort and no cookie. */
  cookieAuth?: boolean;
}

export async function startOfflineTor(t: Defer, options: OfflineTorOptions = {}): Promise<OfflineTor> {
  const base = privateTempDir(t);
  const dataDir = path.join(base, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const controlMode = options.control ?? 'unix';
  const controlFile = path.join(base, 'controlport');
  const args = ['-f', '/dev/null', '--ignore-missing-torrc', '--DataDirectory', dataDir, '--Log', 'notice stdout', '--GeoIPFile', '', '--GeoIPv6File', ''];
  if (options.network === 'bridge') args.push('--UseBridges', '1', '--Bridge', '127.0.0.1:9', '--SocksPort', 'auto ExtendedErrors', '--SafeSocks', '1');
  else args.push('--DisableNetwork', '1', '--SocksPort', '0');
  if (controlMode === 'unix') args.push('--ControlPort', `unix:${path.join(base, 'ctl')}`);
  else args.push('--ControlPort', 'auto', '--ControlPortWriteToFile', controlFile);
  if (options.cookieAuth !== false) args.push('--CookieAuthentication', '1');
  args.push(...(options.args ?? []));
  const child = spawn('tor', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  t.after(() => killAndWait(child));
  const deadline = Date.now() + 20_000;
  let control: SocketEndpoint | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`tor exited with ${child.exitCode}:\n${output}`);
    if (controlMode === 'unix') {
      const socketPath = path.join(base, 'ctl');
      if (existsSync(socketPath) && (await canConnect({ path: socketPath }))) control = { path: socketPath };
    } else if (existsSync(controlFile)) {
      const m = /PORT=127\.0\.0\.1:(\d+)/.exec(readFileSync(controlFile, 'utf8'));
      if (m) control = { host: '127.0.0.1', port: Number(m[1]) };
    }
    if (control && (options.cookieAuth === false || existsSync(path.join(dataDir, 'control_auth_cookie')))) break;
    control = undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!control) throw new Error(`tor did not open its control port in time:\n${output}`);
  return { child, dataDir, control, cookiePath: path.join(dataDir, 'control_auth_cookie'), output: () => output };
}

function canConnect(endpoint: { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(endpoint);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Wait until `predicate` holds, polling. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
