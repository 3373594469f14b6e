/**
 * The original design's legacy mode: `torsocks tahoe-ts run` (Debian's torsocks 2.3,
 * LD_PRELOAD of libtorsocks), investigated for real.
 *
 * Node.js is linked dynamically against glibc, and libuv opens every TCP connection with
 * the libc `connect()` and resolves names with `getaddrinfo()` on its threadpool — both are
 * interposed by libtorsocks. The first test records the evidence with strace against a
 * logging SOCKS server (no network needed): a `net.connect` to a public IP becomes a
 * connection to the SOCKS port carrying CONNECT, `dns.lookup` becomes a SOCKS RESOLVE,
 * c-ares (`dns.resolve*`) and UDP are refused before any syscall, loopback is refused with
 * EPERM — and the event loop is blocked while tor answers the CONNECT.
 *
 * The second test runs the design's example configuration (`tub.port =
 * tcp:interface=127.0.0.1:8098`, `tub.location = client.fakelocation:0`) as it is.
 *
 * The third runs it under torsocks in the leak-proof namespace (netns.ts) against a plain
 * TCP grid, through the private Tor network: tahoe-ts believes it dials directly, torsocks
 * sends every connection to tor, and the capture on the veth shows nothing but the SOCKS
 * relay. (The private network's exits reach 127.0.0.0/8 only, which torsocks never sends
 * through tor; one more exit relay that reaches the veth address is added for this test.)
 *
 * The fourth shows why torsocks and tahoe-ts's own Tor support do not mix: under torsocks
 * the node's connection to tor's SOCKS port on loopback is refused (EPERM).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { TahoeNode } from '../../src/node/node.js';
import { startTorNetwork, type TorNetwork } from '../../src/testnet/tor-network.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { freePort } from '../helpers/ports.js';
import { killAndWait } from '../helpers/processes.js';
import { startAnonGrid, type AnonGrid } from './grid.js';
import { startExitRelay } from './exit-relay.js';
import { createNetNamespace, forwardFromOuter, netnsSupport, type Forward, type NetNamespace } from './netns.js';
import { describeVerdict, namespacedSession, RUN_CLI, waitForOutput } from './ns-session.js';
import { installResolverTrap } from './resolver-trap.js';

const execFileAsync = promisify(execFile);
const hasTorsocks = existsSync('/usr/bin/torsocks') && existsSync('/usr/bin/strace');
const torsocksSkip = hasTorsocks ? false : 'torsocks or strace is not installed (apt-get install torsocks strace)';
const ns0 = netnsSupport();
const netnsSkip = torsocksSkip || (ns0.ok ? false : ns0.why);
for (const why of [torsocksSkip, netnsSkip]) {
  if (why === false) continue;
  if (process.env.CI === 'true') throw new Error(`!!! torsocks tests: ${why} (required in CI)`);
  process.stderr.write(`\n!!! torsocks tests skipped: ${why} — SKIPPING\n\n`);
}

const cleanups: Array<() => unknown> = [];
let root: string;

function log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-torsocks-'));
  chmodSync(root, 0o755);
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
});

after(async () => {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (e) {
      log(`cleanup failed: ${String(e)}`);
    }
  }
});

interface SocksRequest {
  command: number;
  host: string;
  port: number;
}

/** A logging SOCKS5 server: records requests, answers RESOLVE with 10.9.9.9, refuses CONNECT (after `connectDelayMs`). */
async function loggingSocksServer(connectDelayMs: number): Promise<{ port: number; requests: SocksRequest[]; close(): Promise<void> }> {
  const requests: SocksRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' | 'done' = 'greeting';
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'greeting' && buf.length >= 2 && buf.length >= 2 + buf[1]) {
        const methods = [...buf.subarray(2, 2 + buf[1])];
        buf = buf.subarray(2 + buf[1]);
        const method = methods.includes(2) ? 2 : 0;
        s.write(Buffer.from([5, method]));
        stage = method === 2 ? 'auth' : 'request';
      }
      if (stage === 'auth' && buf.length >= 3 && buf.length >= 3 + buf[1] && buf.length >= 3 + buf[1] + buf[2 + buf[1]]) {
        buf = buf.subarray(3 + buf[1] + buf[2 + buf[1]]);
        s.write(Buffer.from([1, 0]));
        stage = 'request';
      }
      if (stage === 'request' && buf.length >= 7) {
        const atyp = buf[3];
        let host: string;
        let off: number;
        if (atyp === 1) {
          host = [...buf.subarray(4, 8)].join('.');
          off = 8;
        } else if (atyp === 3) {
          if (buf.length < 5 + buf[4] + 2) return;
          host = buf.subarray(5, 5 + buf[4]).toString();
          off = 5 + buf[4];
        } else {
          host = '(ipv6)';
          off = 20;
        }
        requests.push({ command: buf[1], host, port: buf.readUInt16BE(off) });
        stage = 'done';
        if (buf[1] === 0xf0) s.end(Buffer.from([5, 0, 0, 1, 10, 9, 9, 9, 0, 0]));
        else setTimeout(() => s.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])), connectDelayMs);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

function torsocksConf(file: string, port: number): string {
  writeFileSync(file, `# tahoe-ts test\nTorAddress 127.0.0.1\nTorPort ${port}\n`);
  return file;
}

const PROBE = (loopbackPort: number) => `
const net = require('net'), dns = require('dns'), dgram = require('dgram');
const out = {};
let maxGap = 0, last = Date.now();
const tick = setInterval(() => { const now = Date.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 20);
const step = (key, run) => new Promise((resolve) => { let done = false; run((v) => { if (!done) { done = true; out[key] = v; resolve(); } }); });
(async () => {
  await step('connectPublic', (done) => { const s = net.connect(80, '203.0.113.5'); s.on('connect', () => { done('connected'); s.destroy(); }); s.on('error', (e) => done(e.code)); });
  out.eventLoopGapMs = maxGap;
  await step('lookup', (done) => dns.lookup('example.com', (e, a) => done(e ? e.code : a)));
  await step('resolve4', (done) => dns.resolve4('example.com', (e, a) => done(e ? e.code : a)));
  await step('udp', (done) => { const u = dgram.createSocket('udp4'); u.on('error', (e) => { done(e.code); u.close(); }); u.send('x', 53, '203.0.113.5', (e) => { done(e ? e.code : 'sent'); u.close(); }); });
  await step('loopback', (done) => { const s = net.connect(${loopbackPort}, '127.0.0.1'); s.on('connect', () => { done('connected'); s.destroy(); }); s.on('error', (e) => done(e.code)); });
  clearInterval(tick);
  console.log(JSON.stringify(out));
})();
`;

test('torsocks intercepts Node.js: connect() and getaddrinfo() go to SOCKS; c-ares, UDP and loopback are refused; the event loop blocks during CONNECT (strace evidence)', { skip: torsocksSkip, timeout: 60_000 }, async () => {
  const socks = await loggingSocksServer(1500);
  cleanups.push(() => socks.close());
  const target = net.createServer(() => undefined);
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((r) => target.close(r)));
  const conf = torsocksConf(path.join(root, 'probe-torsocks.conf'), socks.port);
  const traceFile = path.join(root, 'probe.strace');
  const { stdout, stderr } = await execFileAsync('strace', ['-f', '-qq', '-e', 'trace=socket,connect,sendto,sendmsg', '-o', traceFile, 'torsocks', process.execPath, '-e', PROBE((target.address() as net.AddressInfo).port)], { env: { ...process.env, TORSOCKS_CONF_FILE: conf }, timeout: 50_000 });
  const result = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, string | number>;
  log(`probe under torsocks: ${JSON.stringify(result)}`);

  // What the SOCKS server saw: a CONNECT carrying the IP (as a name, ATYP 3) and a RESOLVE (Tor's 0xF0) of the name.
  assert.deepEqual(socks.requests.map((r) => `${r.command.toString(16)} ${r.host}:${r.port}`), ['1 203.0.113.5:80', 'f0 example.com:42']);
  assert.equal(result.connectPublic, 'ECONNREFUSED', 'the SOCKS refusal comes back as ECONNREFUSED');
  assert.equal(result.lookup, '10.9.9.9', 'dns.lookup (getaddrinfo on the libuv threadpool) answered through SOCKS RESOLVE');
  assert.equal(result.resolve4, 'ECONNREFUSED', 'c-ares (dns.resolve4) cannot open its UDP socket');
  assert.equal(result.udp, 'EPERM', 'UDP is refused');
  assert.equal(result.loopback, 'EPERM', 'a loopback connection is refused (AllowOutboundLocalhost 0)');
  assert.match(stderr, /Connection to a local address are denied/);
  assert.ok(Number(result.eventLoopGapMs) >= 1200, `the event loop stood still while the CONNECT was pending (${result.eventLoopGapMs} ms)`);

  // The kernel saw only connections to the SOCKS port, and no datagram at all.
  const trace = readFileSync(traceFile, 'utf8');
  const inet = [...trace.matchAll(/(connect|sendto|sendmsg)\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\),[^}]*?inet_?(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"/g)].map((m) => `${m[1]} ${m[3]}:${m[2]}`);
  assert.ok(inet.length >= 2, trace);
  assert.deepEqual([...new Set(inet)].sort(), [`connect 127.0.0.1:${socks.port}`]);
  assert.ok(!/SOCK_DGRAM/.test(trace), 'no UDP socket was even created');
  assert.ok(!trace.includes('203.0.113.5"'), 'the public address never reached a syscall');
});

test('the original design\'s torsocks example configuration runs as written', { timeout: 60_000 }, async (t) => {
  const dir = path.join(root, 'legacy-example');
  const port = await freePort();
  await createNode({ directory: dir, command: 'create-node', nickname: 'legacy', webport: 'none', listen: ['none'] });
  await editTahoeCfg(dir, [
    { section: 'node', key: 'tub.port', value: `tcp:interface=127.0.0.1:${port}` },
    { section: 'node', key: 'tub.location', value: 'client.fakelocation:0' },
    { section: 'storage', key: 'enabled', value: 'true' },
    { section: 'storage', key: 'reserved_space', value: '0' },
  ]);
  const check = await execFileAsync(process.execPath, ['--import', 'tsx', RUN_CLI, 'check-config', '-d', dir], { cwd: REPO_ROOT }).catch((e: { code: number; stdout: string; stderr: string }) => e);
  assert.ok(!('code' in check) || check.code === 0, `check-config accepts it: ${JSON.stringify(check)}`);
  // The fake name is announced, never looked up.
  const trap = installResolverTrap();
  t.after(() => trap.restore());
  const node = await TahoeNode.start({ directory: dir, logToStderr: false });
  t.after(() => node.stop());
  assert.deepEqual(node.listenerInfo().map((l) => l.description), [`tcp listener on 127.0.0.1:${port}`]);
  await new Promise<void>((resolve, reject) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) {
    this.destroy();
    resolve();
  }).once('error', reject));
  assert.match(readFileSync(path.join(dir, 'private', 'storage.furl'), 'utf8'), /@client\.fakelocation:0\//, 'the fURL announces the fake location');
  await node.stop();
  assert.deepEqual(trap.calls.map((c) => c.api + c.args), []);
});

// ------------------------------------------------------------------------------------
// The real thing, in the leak-proof namespace

let ns: NetNamespace;
let tor: TorNetwork;
let grid: AnonGrid;
let socksForward: Forward;
const innerSocksPort = 19050;

test('torsocks tahoe-ts run (legacy client) in a namespace: upload and download to TCP servers go through Tor only', { skip: netnsSkip, timeout: 480_000 }, async () => {
  ns = await createNetNamespace();
  cleanups.push(() => ns.remove());
  const t0 = Date.now();
  tor = await startTorNetwork({ dir: path.join(root, 'tor') });
  cleanups.push(() => tor.stop());
  const gridScope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  const [exit, tcpGrid] = await Promise.all([
    startExitRelay(tor, { dir: path.join(root, 'exit'), exitPolicy: `accept ${ns.outerAddress}/32:*`, onProgress: log }),
    startAnonGrid(gridScope, { root: path.join(root, 'grid'), network: { kind: 'tcp', address: ns.outerAddress }, servers: 2 }),
  ]);
  cleanups.push(() => exit.stop());
  grid = tcpGrid;
  log(`tor network, exit relay and TCP grid ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  socksForward = await forwardFromOuter(ns.outerAddress, { host: '127.0.0.1', port: tor.socksPort });
  cleanups.push(() => socksForward.close());
  const relay = ns.spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/anonymity/ns-forwarder.ts'), `${innerSocksPort}=${ns.outerAddress}:${socksForward.outerPort}`], { cwd: REPO_ROOT });
  cleanups.push(() => killAndWait(relay));
  await waitForOutput(relay, /ready/, 30_000);

  const conf = torsocksConf(path.join(root, 'torsocks.conf'), innerSocksPort);
  const result = await namespacedSession({
    ns,
    root,
    name: 'torsocks-client',
    introducerFurl: grid.introducerFurl,
    // The original design's torsocks client, as written; the node itself knows nothing of Tor.
    edits: [
      { section: 'node', key: 'tub.port', value: 'tcp:interface=127.0.0.1:8098' },
      { section: 'node', key: 'tub.location', value: 'client.fakelocation:0' },
    ],
    allowedPorts: new Set([socksForward.outerPort]),
    webPort: 13500,
    wrapper: ['torsocks'],
    env: { TORSOCKS_CONF_FILE: conf },
    cleanups,
    log,
  });
  log(`torsocks run: ${describeVerdict(result.verdict)}`);
  assert.deepEqual(result.transports, ['tcp', 'tcp'], 'tahoe-ts believes it connected directly');
  assert.deepEqual(result.verdict.leaks.map((f) => f.summary), [], 'nothing but the SOCKS relay on the veth');
  assert.equal(result.verdict.dns.length, 0);
  assert.ok(result.verdict.allowedConnections >= 3, `introducer and both servers went through tor (${result.verdict.allowedConnections} SOCKS connections)`);
});

test('under torsocks, tahoe-ts\'s own Tor support cannot reach tor on loopback (EPERM): use one or the other', { skip: torsocksSkip, timeout: 90_000 }, async () => {
  const socks = await loggingSocksServer(0);
  cleanups.push(() => socks.close());
  const dir = path.join(root, 'native-under-torsocks');
  await createNode({ directory: dir, command: 'create-client', nickname: 'both', webport: 'none', hideIp: true });
  await editTahoeCfg(dir, [{ section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${socks.port}` }, { section: 'i2p', key: 'enabled', value: 'false' }]);
  const conf = torsocksConf(path.join(root, 'native-torsocks.conf'), socks.port);
  const run = await execFileAsync('torsocks', [process.execPath, '--import', 'tsx', RUN_CLI, 'run', '-d', dir], { cwd: REPO_ROOT, env: { ...process.env, TORSOCKS_CONF_FILE: conf, TAHOE_TS_NODE_DIRECTORY: undefined }, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  log(`anonymize = true under torsocks: exit ${run.code}; ${run.stderr.split('\n').filter((l) => /error:|hint:|torsocks/.test(l)).join(' | ')}`);
  assert.notEqual(run.code, 0, 'the node does not start');
  assert.match(run.stderr, /not allowed to connect to \[tor\] socks\.port = tcp:127\.0\.0\.1:\d+ \(EPERM\)/);
  assert.match(run.stderr, /hint: .*torsocks/, 'the hint names the likely cause');
  assert.match(run.stderr, /Connection to a local address are denied/);
  assert.equal(socks.requests.length, 0, 'nothing reached the SOCKS port');
});
