/**
 * The Tor transport end to end on a private loopback Tor network (tor.md §6): a tor we
 * launch joins the network, publishes an onion service, and the network's client reaches
 * it through its SOCKS port. Nothing leaves 127.0.0.1. One network for the whole file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import { OPEN_GATE } from '../../../src/net/socket.js';
import type { BootstrapStatus } from '../../../src/net/tor/control.js';
import { launchTor, type LaunchedTor } from '../../../src/net/tor/launch.js';
import { generateOnionKey } from '../../../src/net/tor/onion-key.js';
import { connectTorProvider, type TorProvider } from '../../../src/net/tor/provider.js';
import { TorTransport, type OnionPublishProgress } from '../../../src/net/tor/transport.js';
import type { Listener } from '../../../src/net/transport.js';
import { startTorNetwork, type TorNetwork } from '../../../src/testnet/tor-network.js';
import { transportComplianceSuite } from '../transport-compliance.js';
import { tahoeError } from './expect.js';
import { fileScope, privateTempDir } from './offline-tor.js';

const scope = fileScope();
let network: TorNetwork;
let base: string;
let launched: LaunchedTor;
const launchProgress: BootstrapStatus[] = [];
let serverTransport: TorTransport; // on the tor we launched
let clientTransport: TorTransport; // on the network's client tor
let clientProvider: TorProvider;
let serverProvider: TorProvider;

function log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

before(async () => {
  base = privateTempDir(scope);
  network = await startTorNetwork({ dir: path.join(base, 'net'), onProgress: (m) => log(`tor network ${m}`) });
  scope.after(() => network.stop());
  log(`tor network timings: ${JSON.stringify(network.timings)}`);
});
after(() => scope.run());

function echo(stream: Duplex): void {
  stream.pipe(stream);
}

async function roundTrip(stream: Duplex, text: string): Promise<string> {
  stream.write(text);
  let got = '';
  for await (const chunk of stream) {
    got += String(chunk);
    if (got.length >= text.length) break;
  }
  return got;
}

/** A new onion is reachable only some seconds after its first upload: retry (tor.md §6.9). */
async function dialUntilReachable(transport: TorTransport, host: string, port: number, overallMs = 120_000): Promise<{ stream: Duplex; attempts: number; lastError?: unknown }> {
  const deadline = Date.now() + overallMs;
  let attempts = 0;
  let lastError: unknown;
  while (Date.now() < deadline) {
    attempts++;
    try {
      const stream = await transport.dial({ kind: 'tor', host, port }, { timeoutMs: 30_000, isolationKey: 'test-server' });
      return { stream, attempts };
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new Error(`onion ${host} not reachable after ${attempts} attempts: ${String(lastError)}\n${await network.logTail('client', 20)}`);
}

test('a launched tor joins the private network (--defaults-torrc) and reports bootstrap progress', async () => {
  launched = await launchTor({
    gate: OPEN_GATE,
    dataDir: path.join(base, 'node', 'private', 'tor-statedir'),
    controlSocketPath: path.join(base, 'node', 'private', 'tor.control'),
    extraTorrc: network.networkTorrc,
    onProgress: (s) => launchProgress.push(s),
    bootstrapTimeoutMs: 90_000,
  });
  scope.after(() => launched.stop());
  log(`launched tor ${launched.version} bootstrapped in ${launched.bootstrapMs} ms; progress: ${launchProgress.map((p) => p.progress).join(' ')}`);
  assert.equal(launchProgress[launchProgress.length - 1].progress, 100);
  assert.ok(launchProgress.length >= 2, 'intermediate progress was reported');
  assert.ok(launched.socksEndpoints.length >= 1);
  assert.equal(statSync(path.join(base, 'node', 'private', 'tor-statedir')).mode & 0o777, 0o700);
  assert.ok(readFileSync(`/proc/${launched.pid}/cmdline`, 'utf8').includes('--defaults-torrc'));
});

test('listen: ADD_ONION with a persisted key, publication progress, reachable from the network client', async (t) => {
  // the launched tor's own connection stays the owner; this one only manages onions
  serverProvider = await connectTorProvider({ gate: OPEN_GATE, controlPort: launched.controlEndpoint });
  const publish: OnionPublishProgress[] = [];
  serverTransport = new TorTransport({ provider: serverProvider, gate: OPEN_GATE, onPublishProgress: (p) => publish.push(p), publishTimeoutMs: 90_000 });
  scope.after(() => serverTransport.close());
  clientProvider = await connectTorProvider({ gate: OPEN_GATE, controlPort: network.controlEndpoint });
  clientTransport = new TorTransport({ provider: clientProvider, gate: OPEN_GATE });
  scope.after(() => clientTransport.close());

  const keyFile = path.join(base, 'node', 'private', 'tor_onion.privkey');
  const started = Date.now();
  const listener = await serverTransport.listen({ kind: 'onion', virtualPort: 3457, keyFile }, echo);
  t.after(() => listener.close());
  const publishedMs = Date.now() - started;
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const [hint] = listener.hints;
  assert.ok(hint.kind === 'tor');
  assert.match(hint.host, /^[a-z2-7]{56}\.onion$/);
  assert.equal(hint.port, 3457);
  const last = publish[publish.length - 1];
  assert.ok(last.uploaded >= 1 && last.uploads >= last.uploaded, JSON.stringify(publish));
  const { stream, attempts } = await dialUntilReachable(clientTransport, hint.host, hint.port);
  const reachableMs = Date.now() - started;
  t.after(() => stream.destroy());
  assert.equal(await roundTrip(stream, 'hello over an onion'), 'hello over an onion');
  log(`onion: ADD_ONION → first HS_DESC UPLOADED ${publishedMs} ms, → first successful stream ${reachableMs} ms (${attempts} attempts)`);
});

test('the onion keeps its address across restarts (key file and hiddenServiceDir)', async (t) => {
  const keyFile = path.join(base, 'node', 'private', 'tor_onion.privkey');
  const first = await serverTransport.listen({ kind: 'onion', virtualPort: 3457, keyFile }, echo);
  const address = first.hints[0];
  await first.close();
  const again: Listener = await serverTransport.listen({ kind: 'onion', virtualPort: 3457, keyFile }, echo);
  t.after(() => again.close());
  assert.deepEqual(again.hints[0], address);

  const hsDir = path.join(base, 'node', 'my_service');
  const fromDir = await serverTransport.listen({ kind: 'onion', virtualPort: 80, hiddenServiceDir: hsDir }, echo);
  t.after(() => fromDir.close());
  const hostname = readFileSync(path.join(hsDir, 'hostname'), 'utf8').trim();
  assert.equal(fromDir.hints[0].kind === 'tor' && fromDir.hints[0].host, hostname);
  const { stream } = await dialUntilReachable(clientTransport, hostname, 80);
  t.after(() => stream.destroy());
  assert.equal(await roundTrip(stream, 'via hiddenServiceDir'), 'via hiddenServiceDir');
});

test('after close() the onion is gone from tor (DEL_ONION) and the loopback port is closed', async () => {
  const listener = await serverTransport.listen({ kind: 'onion', virtualPort: 81 }, echo);
  const id = (listener.hints[0] as { host: string }).host.replace('.onion', '');
  const localPort = Number(/127\.0\.0\.1:(\d+)/.exec(listener.describe())?.[1]);
  const control = serverProvider.control;
  assert.ok(control);
  assert.ok((await control.getInfo(['onions/current']))['onions/current'].split(/\s+/).includes(id));
  await listener.close();
  assert.ok(!(await control.getInfo(['onions/current']))['onions/current'].split(/\s+/).includes(id));
  await assert.rejects(control.delOnion(id), tahoeError('TorControlError', (e) => e.details.code === 552));
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = net.connect(localPort, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    }),
    /ECONNREFUSED/,
  );
});

test('a valid onion that never published ⇒ a typed onion error from tor (F0–F7), not a hang', async () => {
  const ghost = generateOnionKey().address;
  await assert.rejects(
    clientTransport.dial({ kind: 'tor', host: ghost, port: 80 }, { timeoutMs: 90_000 }),
    (e: unknown) => {
      tahoeError('OnionNotFound', (err) => err.details.code === 0xf0)(e);
      return true;
    },
  );
});

test('numeric loopback hosts are refused unless allowed; allowed, they go out through the network exit', async (t) => {
  await assert.rejects(clientTransport.dial({ kind: 'tor', host: '127.0.0.1', port: 80 }), tahoeError('EndpointInvalid'));
  const server = http.createServer((_req, res) => res.end('hello from loopback'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const port = (server.address() as { port: number }).port;
  const loose = new TorTransport({ provider: clientProvider, gate: OPEN_GATE, allowNonPublicAddresses: true });
  const stream = await loose.dial({ kind: 'tor', host: '127.0.0.1', port }, { timeoutMs: 30_000 });
  t.after(() => stream.destroy());
  stream.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  assert.match(text, /hello from loopback$/);
});

test('stopping the launched tor: it exits (owned), and its transport reports not ready', async () => {
  const pid = launched.pid;
  await launched.stop();
  await launched.exited;
  assert.throws(() => process.kill(pid, 0));
  await serverTransport.close();
  assert.equal(serverTransport.describe().ready, false);
});

/**
 * A tor target whose stream never opens: the exit's connect to a loopback port whose accept
 * queue is full (backlog 0, Linux drops further SYNs), so tor sends no SOCKS reply for
 * minutes. The listener is a small Python process: Node's net.Server always accepts.
 */
async function stallingLoopbackPort(): Promise<{ port: number; close(): Promise<void> }> {
  const child = spawn('/usr/bin/python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(3600)'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  const close = async () => {
    for (const f of fillers) f.destroy();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  };
  for (let i = 0; i < 16; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    fillers.push(socket);
    if (!connected) return { port, close };
  }
  await close();
  throw new Error('could not fill the accept queue of the stalling port');
}

// The hints room's compliance suite against the Tor transport: one tor (the network's
// client) both publishes the onion services and dials them.
transportComplianceSuite(
  'tor',
  async () => {
    const provider = await connectTorProvider({ gate: OPEN_GATE, controlPort: network.controlEndpoint });
    const transport = new TorTransport({ provider, gate: OPEN_GATE, allowNonPublicAddresses: true, publishTimeoutMs: 90_000 });
    const stalling = await stallingLoopbackPort();
    return {
      transport,
      listenSpec: { kind: 'onion', virtualPort: 3457 },
      stallingTarget: { kind: 'tor', host: '127.0.0.1', port: stalling.port },
      dialOptions: { isolationKey: 'compliance', timeoutMs: 60_000 },
      cleanup: async () => {
        await transport.close();
        await stalling.close();
      },
    };
  },
  { halfClose: false, testTimeoutMs: 120_000 },
);
