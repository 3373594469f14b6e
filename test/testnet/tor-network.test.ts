/**
 * The private Tor network harness itself (tor.md §6.6 checks 1 and 2), its refusal of
 * reused directories and weak topologies, and that neither stop() nor a failed start
 * leaves a tor behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import { isTahoeError } from '../../src/errors.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { connectTorControl } from '../../src/net/tor/control.js';
import { socks5Connect } from '../../src/net/tor/socks5.js';
import { startTorNetwork, type TorNetwork } from '../../src/testnet/tor-network.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-tornet-'));
let network: TorNetwork;
let server: http.Server;
let httpPort: number;

function log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

/** PIDs whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

before(async () => {
  server = http.createServer((_req, res) => res.end('loopback ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  httpPort = (server.address() as net.AddressInfo).port;
  network = await startTorNetwork({ dir: path.join(base, 'net'), onProgress: (m) => log(m) });
  log(`timings: ${JSON.stringify(network.timings)}`);
});
after(async () => {
  await network?.stop();
  await new Promise((r) => server.close(r));
  rmSync(base, { recursive: true, force: true });
});

async function httpGetThroughTor(host: string, port: number, timeoutMs = 30_000): Promise<string> {
  const socket = await socks5Connect({ proxy: network.socksEndpoint, gate: OPEN_GATE, host, port, timeoutMs });
  socket.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return text;
}

test('the network is what it says: topology, ports, files', () => {
  assert.deepEqual(network.nodes.map((n) => n.name), ['auth1', 'auth2', 'auth3', 'relay1', 'client']);
  for (const node of network.nodes) {
    assert.ok(readFileSync(`/proc/${node.pid}/cmdline`, 'utf8').includes(path.join(node.dataDir, 'torrc')), `${node.name} runs`);
  }
  const shared = readFileSync(network.networkTorrc, 'utf8');
  assert.equal(shared.match(/^DirAuthority /gm)?.length, 3);
  assert.match(shared, /^UseMicrodescriptors 0$/m);
  assert.match(shared, /^TestingTorNetwork 1$/m);
  assert.equal(readFileSync(network.cookiePath).length, 32);
  const t = network.timings;
  assert.ok(t.keysMs <= t.nodesStartedMs && t.nodesStartedMs <= t.consensusMs && t.consensusMs <= t.clientBootstrappedMs);
});

test('check 1: SOCKS through the client to a loopback HTTP server (exit to 127.0.0.1 works)', async () => {
  const started = Date.now();
  assert.match(await httpGetThroughTor('127.0.0.1', httpPort), /loopback ok$/);
  log(`loopback fetch through the network: ${Date.now() - started} ms`);
});

test('a loopback server by host name: the name travels unresolved to the exit, which asks the network\'s own name server', async () => {
  const before = network.exitDnsQueries().length;
  assert.match(await httpGetThroughTor('localhost', httpPort), /loopback ok$/);
  assert.match(await httpGetThroughTor('storage-1.localhost', httpPort), /loopback ok$/);
  const asked = network.exitDnsQueries().slice(before).map((q) => q.name);
  assert.ok(asked.includes('localhost') && asked.includes('storage-1.localhost'), `the exits resolved both names (asked: ${asked.join(', ')})`);
  // Any other name stays unresolved: nothing is forwarded off the machine.
  await assert.rejects(httpGetThroughTor('example.com', 80, 20_000), (e: unknown) => isTahoeError(e) && [1, 4].includes(Number(e.details.code)));
  assert.ok(network.exitDnsQueries().some((q) => q.name === 'example.com' && !q.answered));
  assert.equal(readFileSync(path.join(network.dir, 'exit-resolv.conf'), 'utf8').trim().split('\n').length, 1);
});

test('check 2: ADD_ONION on the client, then fetch the onion through the same client', async (t) => {
  const control = await connectTorControl(network.controlEndpoint, { gate: OPEN_GATE });
  t.after(() => control.close());
  const started = Date.now();
  const onion = await control.addOnion({ key: 'NEW', flags: ['DiscardPK'], ports: [{ virtualPort: 80, target: { host: '127.0.0.1', port: httpPort } }] });
  let body = '';
  let lastError: unknown;
  while (Date.now() - started < 120_000) {
    try {
      body = await httpGetThroughTor(onion.address, 80);
      break;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  assert.match(body, /loopback ok$/, `last error: ${String(lastError)}`);
  log(`new onion reachable ${Date.now() - started} ms after ADD_ONION`);
});

test('a directory that is not empty is refused (never reuse a network directory)', async () => {
  await assert.rejects(startTorNetwork({ dir: path.join(base, 'net') }), (e: unknown) => isTahoeError(e, 'BadInput') && /fresh directory/.test(e.hint));
  await assert.rejects(startTorNetwork({ dir: path.join(base, 'small'), authorities: 1, relays: 3 }), (e: unknown) => isTahoeError(e, 'BadInput'));
  await assert.rejects(startTorNetwork({ dir: path.join(base, 'small'), authorities: 2, relays: 1 }), (e: unknown) => isTahoeError(e, 'BadInput'));
});

test('a failed start stops every tor it started and shows the logs', async () => {
  // a "tor" that fails for relay1 only: the authorities are already running by then
  const wrapper = path.join(base, 'flaky-tor.sh');
  writeFileSync(wrapper, '#!/bin/sh\ncase "$*" in *relay1/torrc*) echo "simulated relay failure" >&2; exit 1;; esac\nexec tor "$@"\n');
  chmodSync(wrapper, 0o755);
  const dir = path.join(base, 'failing');
  await assert.rejects(startTorNetwork({ dir, executable: wrapper, onProgress: (m) => log(`failing network ${m}`) }), (e: unknown) => {
    assert.ok(isTahoeError(e), String(e));
    assert.match(e.message, /relay1 exited during start/);
    assert.match(e.message, /simulated relay failure/);
    assert.match(e.message, /--- auth1 notice\.log ---/);
    return true;
  });
  assert.deepEqual(processesMentioning(dir), [], 'no tor of the failed network is left');
});

test('an aborted start stops every tor it started and says Aborted', async () => {
  const dir = path.join(base, 'aborted');
  const abort = new AbortController();
  const started = startTorNetwork({
    dir,
    signal: abort.signal,
    onProgress: (m) => {
      // abort once the relays run: tors are up and must be stopped
      if (/relays running/.test(m)) abort.abort();
    },
  });
  await assert.rejects(started, (e: unknown) => isTahoeError(e, 'Aborted'));
  assert.deepEqual(processesMentioning(dir), [], 'no tor of the aborted network is left');
});

test('stop() ends every node of the network', async () => {
  const pids = network.nodes.map((n) => n.pid);
  await network.stop();
  await network.stop(); // idempotent
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), `pid ${pid} is gone`);
  assert.deepEqual(processesMentioning(network.dir), []);
});
