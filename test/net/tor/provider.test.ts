/**
 * Tor providers without a Tor network: attaching through a control port or a SOCKS port,
 * discovery over injected candidates (the real 9050/9051 are never touched), and the
 * errors a missing, stale or stuck tor produces.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TahoeError } from '../../../src/errors.js';
import { OPEN_GATE, type EgressGate, type SocketEndpoint } from '../../../src/net/socket.js';
import type { BootstrapStatus } from '../../../src/net/tor/control.js';
import { launchTor } from '../../../src/net/tor/launch.js';
import { connectTorProvider, DEFAULT_DISCOVERY, describeEndpoint } from '../../../src/net/tor/provider.js';
import { TorTransport } from '../../../src/net/tor/transport.js';
import { freePort } from '../../helpers/ports.js';
import { REPO_ROOT } from '../../helpers/shared.js';
import { tahoeError } from './expect.js';
import { fileScope, privateTempDir, startOfflineTor, type OfflineTor } from './offline-tor.js';

let bridged: OfflineTor; // SOCKS listener open, nothing reachable
let noSocks: OfflineTor; // DisableNetwork: no SOCKS listener
let socksListener: SocketEndpoint;
const scope = fileScope();
before(async () => {
  [bridged, noSocks] = await Promise.all([startOfflineTor(scope, { network: 'bridge', control: 'tcp' }), startOfflineTor(scope)]);
  const provider = await connectTorProvider({ gate: OPEN_GATE, controlPort: bridged.control });
  socksListener = provider.socks;
  await provider.close();
});
after(() => scope.run());

/** A loopback port where nothing listens. */
async function closedPort(): Promise<SocketEndpoint> {
  return { host: '127.0.0.1', port: await freePort() };
}

/** Processes whose command line mentions `text` (to prove no tor was left behind). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('control.port: attaches, authenticates and learns the SOCKS listener from tor', async (t) => {
  const provider = await connectTorProvider({ gate: OPEN_GATE, controlPort: `tcp:127.0.0.1:${(bridged.control as { port: number }).port}` });
  t.after(() => provider.close());
  assert.equal(provider.mode, 'control-port');
  assert.ok(provider.control && !provider.control.closed);
  assert.match(provider.version ?? '', /^0\.4\./);
  assert.ok('port' in provider.socks && provider.socks.host === '127.0.0.1' && provider.socks.port > 0);
  assert.match(provider.describe(), /via control tcp:127\.0\.0\.1:\d+, SOCKS tcp:127\.0\.0\.1:\d+/);
});

test('control.port as a unix: endpoint string; a tor without SOCKS listener is explained', async () => {
  const where = `unix:${(noSocks.control as { path: string }).path}`;
  await assert.rejects(connectTorProvider({ gate: OPEN_GATE, controlPort: where }), tahoeError('TorUnavailable', (e) => /no SOCKS listener/.test(e.message) && /SocksPort/.test(e.hint)));
  // with socks.port given as well, the control port is used for onions and the SOCKS port for dialling
  const both = await connectTorProvider({ gate: OPEN_GATE, controlPort: where, socksPort: socksListener });
  assert.deepEqual(both.socks, socksListener);
  await both.close();
});

test('control.port errors: nothing there, bad endpoint strings, launch combined with attach', async () => {
  const nothing = await closedPort();
  await assert.rejects(connectTorProvider({ gate: OPEN_GATE, controlPort: nothing }), tahoeError('TorUnavailable', (e) => /control\.port/.test(e.hint) && e.details.code === 'ECONNREFUSED'));
  for (const bad of ['9051', 'tcp:localhost', 'udp:1.2.3.4:5', 'unix:']) {
    await assert.rejects(connectTorProvider({ gate: OPEN_GATE, controlPort: bad }), tahoeError('EndpointInvalid'), bad);
  }
  await assert.rejects(connectTorProvider({ gate: OPEN_GATE, launch: true, dataDir: '/tmp/x', socksPort: nothing }), tahoeError('ConfigInvalid'));
});

test('socks.port only: enough to dial; listening explains that a control port is needed', async (t) => {
  const provider = await connectTorProvider({ gate: OPEN_GATE, socksPort: `tcp:127.0.0.1:${(socksListener as { port: number }).port}` });
  assert.equal(provider.mode, 'socks-port');
  assert.equal(provider.control, undefined);
  const transport = new TorTransport({ provider, gate: OPEN_GATE });
  t.after(() => transport.close());
  // a dial reaches tor: tor itself answers F6 for a bad checksum... but we refuse it even earlier
  await assert.rejects(
    transport.dial({ kind: 'tor', host: 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqeac.onion', port: 80 }),
    tahoeError('OnionAddressInvalid'),
  );
  await assert.rejects(transport.dial({ kind: 'tor', host: '10.0.0.1', port: 80 }), tahoeError('EndpointInvalid', (e) => /non-public/.test(e.message)));
  // a public address reaches tor, whose SafeSocks refuses IP literals locally (nothing leaves the host)
  await assert.rejects(transport.dial({ kind: 'tor', host: '1.1.1.1', port: 80 }, { timeoutMs: 5000 }), tahoeError('ProxyRefused', (e) => e.details.code === 2));
  await assert.rejects(transport.listen({ kind: 'onion', virtualPort: 80 }, () => undefined), tahoeError('TorUnavailable', (e) => /control\.port/.test(e.hint)));
  await assert.rejects(connectTorProvider({ gate: OPEN_GATE, socksPort: await closedPort() }), tahoeError('TorUnavailable', (e) => /socks\.port/.test(e.message)));
});

test('a stale control socket (tor gone, socket file left) is reported as no tor there', async (t) => {
  const dir = privateTempDir(t);
  const stale = path.join(dir, 'tor.control');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(stale, r));
  // closing a unix listener normally unlinks the file; a killed tor leaves it behind
  const { linkSync } = await import('node:fs');
  linkSync(stale, `${stale}.kept`);
  await new Promise((r) => server.close(r));
  const { renameSync } = await import('node:fs');
  renameSync(`${stale}.kept`, stale);
  await assert.rejects(
    connectTorProvider({ gate: OPEN_GATE, controlPort: `unix:${stale}` }),
    tahoeError('TorUnavailable', (e) => e.details.code === 'ECONNREFUSED' && /launch = true/.test(e.hint)),
  );
});

test('a control socket we may not open (EACCES) ⇒ the debian-tor group hint', async (t) => {
  const dir = privateTempDir(t);
  chmodSync(dir, 0o755);
  const socketPath = path.join(dir, 'control');
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(socketPath, r));
  t.after(() => new Promise((r) => server.close(r)));
  const check = (error: { kind: string; message: string; hint: string }) => {
    assert.equal(error.kind, 'TorUnavailable');
    assert.match(error.message, /permission denied on tor's control socket/);
    assert.match(error.hint, /debian-tor/);
  };
  if (process.getuid?.() !== 0) {
    chmodSync(socketPath, 0o000);
    await assert.rejects(connectTorProvider({ gate: OPEN_GATE, discovery: { control: [{ path: socketPath }], socks: [] } }), (e: unknown) => {
      check(e as TahoeError);
      return true;
    });
    return;
  }
  // root may open anything: probe as user nobody, like a user outside the debian-tor group
  chmodSync(socketPath, 0o660);
  const probe = path.join(dir, 'probe.mts');
  writeFileSync(
    probe,
    [
      `import { connectTorProvider } from ${JSON.stringify(path.join(REPO_ROOT, 'src/net/tor/provider.ts'))};`,
      `import { OPEN_GATE } from ${JSON.stringify(path.join(REPO_ROOT, 'src/net/socket.ts'))};`,
      `try { await connectTorProvider({ gate: OPEN_GATE, discovery: { control: [{ path: ${JSON.stringify(socketPath)} }], socks: [] } }); console.log('{}'); }`,
      'catch (e) { console.log(JSON.stringify(e.toJSON())); }',
    ].join('\n'),
  );
  chmodSync(probe, 0o644);
  const result = spawnSync(process.execPath, ['--import', 'tsx', probe], { uid: 65534, gid: 65534, cwd: REPO_ROOT, env: { ...process.env, HOME: dir }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  check(JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as TahoeError);
});

test('discovery: tries the candidates in order, control before SOCKS', async (t) => {
  const dir = privateTempDir(t);
  const missingSocket = { path: path.join(dir, 'no-control') };
  const found = await connectTorProvider({ gate: OPEN_GATE, discovery: { control: [missingSocket, await closedPort(), bridged.control], socks: [socksListener] } });
  t.after(() => found.close());
  assert.equal(found.mode, 'discovered-control');
  assert.deepEqual(found.controlEndpoint, bridged.control);

  const socksOnly = await connectTorProvider({ gate: OPEN_GATE, discovery: { control: [missingSocket], socks: [await closedPort(), socksListener] } });
  assert.equal(socksOnly.mode, 'discovered-socks');
  assert.deepEqual(socksOnly.socks, socksListener);
});

test('discovery: nothing found ⇒ TorUnavailable listing every place tried, with install/launch hint', async (t) => {
  const dir = privateTempDir(t);
  const control = [{ path: path.join(dir, 'control') }, await closedPort()];
  const socks = [await closedPort()];
  await assert.rejects(
    connectTorProvider({ gate: OPEN_GATE, discovery: { control, socks } }),
    tahoeError('TorUnavailable', (e) => e.details.tried === 3 && e.message.includes(describeEndpoint(control[0])) && /launch = true/.test(e.hint)),
  );
});

test('discovery defaults: system tor and Tor Browser, control before SOCKS (configuration.md §5), in that order', async () => {
  const expected = {
    control: [{ path: '/var/run/tor/control' }, { host: '127.0.0.1', port: 9051 }, { host: '127.0.0.1', port: 9151 }],
    socks: [{ host: '127.0.0.1', port: 9050 }, { host: '127.0.0.1', port: 9150 }],
  };
  assert.deepEqual(DEFAULT_DISCOVERY, expected);
  // ... and they are what an empty [tor] section tries: a gate that refuses all shows the order, opening nothing
  const asked: string[] = [];
  const gate: EgressGate = {
    allowNameResolution: false,
    check: (endpoint, purpose) => {
      asked.push(`${purpose} ${describeEndpoint(endpoint)}`);
      throw new TahoeError('PrivacyViolation', 'not in this test');
    },
  };
  await assert.rejects(connectTorProvider({ gate }), tahoeError('PrivacyViolation'));
  assert.deepEqual(asked, [
    ...expected.control.map((e) => `tor-control ${describeEndpoint(e)}`),
    ...expected.socks.map((e) => `tor-socks ${describeEndpoint(e)}`),
  ]);
});

test('discovery respects the egress gate: refused candidates are never opened', async () => {
  const asked: string[] = [];
  const gate: EgressGate = {
    allowNameResolution: false,
    check: (endpoint, purpose) => {
      asked.push(`${purpose} ${describeEndpoint(endpoint)}`);
      throw new TahoeError('PrivacyViolation', 'not in this test');
    },
  };
  let accepted = 0;
  const server = net.createServer(() => accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const listening = { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
  try {
    await assert.rejects(connectTorProvider({ gate, discovery: { control: [listening], socks: [listening] } }), tahoeError('PrivacyViolation'));
    assert.deepEqual(asked, [`tor-control ${describeEndpoint(listening)}`, `tor-socks ${describeEndpoint(listening)}`]);
    assert.equal(accepted, 0);
  } finally {
    server.close();
  }
});

test('discovery: a control port that refuses us is reported as such (not as "no tor")', async (t) => {
  const hash = execFileSync('tor', ['--quiet', '--hash-password', 'secret'], { encoding: 'utf8' }).trim().split('\n').pop() ?? '';
  const locked = await startOfflineTor(t, { control: 'tcp', cookieAuth: false, args: ['--HashedControlPassword', hash] });
  await assert.rejects(connectTorProvider({ gate: OPEN_GATE, discovery: { control: [locked.control], socks: [] } }), tahoeError('TorAuthFailed', (e) => /password/.test(e.message + e.hint)));
});

test('launch: a missing executable ⇒ TorUnavailable with an install hint', async (t) => {
  const dir = privateTempDir(t);
  await assert.rejects(
    launchTor({ gate: OPEN_GATE, dataDir: path.join(dir, 'state'), executable: path.join(dir, 'no-tor-here') }),
    tahoeError('TorUnavailable', (e) => /install tor/.test(e.hint)),
  );
});

test('launch: a data directory others can read is refused before tor starts', async (t) => {
  const dir = privateTempDir(t);
  const state = path.join(dir, 'state');
  mkdirSync(state, { mode: 0o755 });
  chmodSync(state, 0o755);
  await assert.rejects(launchTor({ gate: OPEN_GATE, dataDir: state }), tahoeError('NodeDirInvalid', (e) => /chmod 700/.test(e.hint)));
});

test('launch: a tor that cannot bootstrap ⇒ TorBootstrapTimeout with progress and hint, and no tor left behind', async (t) => {
  const dir = privateTempDir(t);
  const state = path.join(dir, 'private', 'tor-statedir');
  const reports: BootstrapStatus[] = [];
  const started = Date.now();
  await assert.rejects(
    launchTor({
      gate: OPEN_GATE,
      dataDir: state,
      controlSocketPath: path.join(dir, 'private', 'tor.control'),
      // the only way out is a bridge on a closed loopback port: nothing leaves the host
      extraOptions: [['UseBridges', '1'], ['Bridge', '127.0.0.1:9'], ['GeoIPFile', ''], ['GeoIPv6File', '']],
      bootstrapTimeoutMs: 4000,
      onProgress: (s) => reports.push(s),
    }),
    tahoeError('TorBootstrapTimeout', (e) => /clock/.test(e.hint) && typeof e.details.progress === 'number' && e.details.timeoutMs === 4000),
  );
  assert.ok(Date.now() - started < 20_000);
  assert.ok(reports.length >= 1 && reports[0].progress < 100, 'progress was reported');
  assert.equal(statSync(state).mode & 0o777, 0o700);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(processesMentioning(state), [], 'the launched tor is gone');
});

test('launch: a data directory in use by another tor is explained', async (t) => {
  const other = await startOfflineTor(t);
  await assert.rejects(launchTor({ gate: OPEN_GATE, dataDir: other.dataDir, bootstrapTimeoutMs: 5000 }), tahoeError('TorUnavailable', (e) => /another tor already uses/.test(e.hint)));
  assert.equal(other.child.exitCode, null, 'the other tor keeps running');
  await new Promise((r) => setTimeout(r, 300));
  const ours = processesMentioning(other.dataDir).filter((pid) => pid !== other.child.pid);
  assert.deepEqual(ours, [], 'our launched tor is gone');
});
