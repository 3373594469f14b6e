/**
 * One client session inside a test network namespace, captured on the veth: create the
 * client directory, start `tahoe-ts run` in the namespace (optionally behind a wrapper such
 * as `torsocks`), wait until it is connected to the grid's servers, `tahoe-ts put` and
 * `tahoe-ts get` (also run in the namespace, without the wrapper: the CLI only talks to the
 * node's loopback gateway), compare, SIGTERM, and judge the capture (netns.ts).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import type { CfgEdit } from '../../src/config/cfg.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { killAndWait } from '../helpers/processes.js';
import { GRID_TIMING_ENV } from './grid.js';
import type { Text } from './leak-scan.js';
import { judgeCapture, readCapture, startCapture, type CaptureVerdict, type NetNamespace } from './netns.js';

export const RUN_CLI = path.join(REPO_ROOT, 'test/cli/run-cli.ts');

export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}\nstdout: ${out}\nstderr: ${err.slice(-4000)}`)), timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (re.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before ${re}\nstdout: ${out}\nstderr: ${err.slice(-4000)}`));
    });
  });
}

interface Welcome {
  servers: Array<{ nickname: string; connected: boolean; transport: string | null }>;
}

export interface SessionOptions {
  ns: NetNamespace;
  /** Where the client directory, capture and files go. */
  root: string;
  name: string;
  introducerFurl: string;
  /** tahoe.cfg edits after create-client (k = 1, happy = 2, N = 2; web gateway on the namespace's loopback). */
  edits: CfgEdit[];
  /** Daemon ports on the outer veth address the node may talk to. */
  allowedPorts: ReadonlySet<number>;
  /** The web gateway port inside the namespace (distinct per session: a failed session's node may linger until cleanup). */
  webPort: number;
  /** Servers to wait for (default 2). */
  servers?: number;
  /** Command prefix for `tahoe-ts run`, e.g. ['torsocks']. */
  wrapper?: string[];
  env?: Record<string, string>;
  /** Cleanup registry (run in the file's after hook). */
  cleanups: Array<() => unknown>;
  /** Everything printed by the node and the CLI is appended here (for the redaction scan). */
  outputs?: Text[];
  log?: (message: string) => void;
}

export interface SessionResult {
  verdict: CaptureVerdict;
  transports: Array<string | null>;
  stderr: string;
  cap: string;
  clientDir: string;
  /** Seconds: node start → connected, put, get. */
  timings: { connectS: number; putS: number; getS: number };
}

export async function namespacedSession(o: SessionOptions): Promise<SessionResult> {
  const dir = path.join(o.root, o.name);
  const outputs = o.outputs ?? [];
  await createNode({ directory: dir, command: 'create-client', nickname: o.name, introducer: o.introducerFurl, webport: `tcp:${o.webPort}:interface=127.0.0.1`, sharesNeeded: 1, sharesHappy: 2, sharesTotal: 2 });
  await editTahoeCfg(dir, o.edits);
  const capture = await startCapture(o.ns.outerInterface, path.join(o.root, `${o.name}.pcapng`));
  o.cleanups.push(() => capture.stop());
  const env = { ...process.env, TAHOE_TS_TEST_TIMING: GRID_TIMING_ENV, TAHOE_TS_NODE_DIRECTORY: undefined, TAHOE_TS_LOG_LEVEL: 'debug' };
  const command = [...(o.wrapper ?? []), process.execPath, '--import', 'tsx', RUN_CLI, 'run', '-d', dir];
  const node = o.ns.spawn(command[0], command.slice(1), { cwd: REPO_ROOT, env: { ...env, ...o.env } });
  o.cleanups.push(() => killAndWait(node));
  let stderr = '';
  node.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => node.once('exit', (code) => resolve(code)));
  const context = () => `\n--- ${o.name} node stderr (tail) ---\n${stderr.slice(-6000)}`;
  const wanted = o.servers ?? 2;
  const t0 = Date.now();
  try {
    await waitForOutput(node, /web gateway: /, 120_000);
    const url = `http://127.0.0.1:${o.webPort}/`;
    let welcome: Welcome | undefined;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const reply = await o.ns.exec('curl', ['-s', '--max-time', '10', `${url}?t=json`]).catch(() => undefined);
      try {
        welcome = reply === undefined ? undefined : (JSON.parse(reply.stdout) as Welcome);
      } catch {
        welcome = undefined;
      }
      if (welcome !== undefined && welcome.servers.filter((s) => s.connected).length >= wanted) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(welcome !== undefined && welcome.servers.filter((s) => s.connected).length >= wanted, `${wanted} servers connected${context()}`);
    const t1 = Date.now();

    const data = randomBytes(200_000);
    const input = path.join(o.root, `${o.name}.in`);
    const output = path.join(o.root, `${o.name}.out`);
    writeFileSync(input, data);
    const put = await o.ns.exec(process.execPath, ['--import', 'tsx', RUN_CLI, 'put', '--no-progress', '-d', dir, input], { timeoutMs: 180_000, env });
    const cap = put.stdout.trim();
    assert.match(cap, /^URI:CHK:/, `put printed a cap${context()}`);
    outputs.push({ source: `${o.name} put stderr`, text: put.stderr });
    const t2 = Date.now();
    const get = await o.ns.exec(process.execPath, ['--import', 'tsx', RUN_CLI, 'get', '--no-progress', '-d', dir, cap, output], { timeoutMs: 180_000, env });
    outputs.push({ source: `${o.name} get output`, text: get.stdout + get.stderr });
    assert.equal(createHash('sha256').update(readFileSync(output)).digest('hex'), createHash('sha256').update(data).digest('hex'), 'download matches upload');
    const t3 = Date.now();

    outputs.push({ source: `${o.name} welcome JSON`, text: JSON.stringify(welcome) });
    node.kill('SIGTERM');
    assert.equal(await exited, 0, `tahoe-ts run exits 0 on SIGTERM${context()}`);
    outputs.push({ source: `${o.name} run stderr`, text: stderr });
    await capture.stop();
    const verdict = judgeCapture(await readCapture(capture.file), o.ns, o.allowedPorts);
    const timings = { connectS: (t1 - t0) / 1000, putS: (t2 - t1) / 1000, getS: (t3 - t2) / 1000 };
    o.log?.(`${o.name}: connected after ${timings.connectS.toFixed(1)} s, put ${timings.putS.toFixed(1)} s, get ${timings.getS.toFixed(1)} s (200 kB)`);
    return { verdict, transports: welcome.servers.map((s) => s.transport), stderr, cap, clientDir: dir, timings };
  } catch (e) {
    await killAndWait(node);
    await capture.stop();
    if (e instanceof Error && !e.message.includes('--- ')) e.message += context();
    throw e;
  }
}

export function describeVerdict(v: CaptureVerdict): string {
  return `${v.frames} frames: ${v.allowed} relay, ${v.arp} ARP, ${v.leaks.length} other (${v.dns.length} DNS, ${v.directConnections.length} direct SYN)`;
}
