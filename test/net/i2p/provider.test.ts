/**
 * The I2P provider: attach to a configured bridge (sam.port, i2p.configdir, default),
 * launch our own router under private/i2pd/ and stop it again, and the configuration
 * errors each with a hint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { isTahoeError } from '../../../src/errors.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { launchedRouterDir, parseSamPort, samEndpointFromConfigDir, startI2pProvider } from '../../../src/net/i2p/provider.js';
import { findI2pdExecutable } from '../../../src/net/i2p/router-process.js';
import { freePort } from '../../helpers/ports.js';
import { tempDir } from '../../helpers/tmp.js';
import { scripted, startFakeSam } from './fake-sam.js';

test('parseSamPort: tcp endpoints only', () => {
  assert.deepEqual(parseSamPort('tcp:127.0.0.1:7656'), { host: '127.0.0.1', port: 7656 });
  assert.deepEqual(parseSamPort('tcp:host=localhost:port=7000'), { host: 'localhost', port: 7000 });
  assert.throws(() => parseSamPort('unix:/run/sam'), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /tcp/.test(e.hint));
  assert.throws(() => parseSamPort('7656'), (e: unknown) => isTahoeError(e, 'EndpointInvalid'));
});

test('samEndpointFromConfigDir reads i2pd.conf and Java I2P clients.config', async (t) => {
  const dir = tempDir(t);
  const i2pd = path.join(dir, 'i2pd');
  mkdirSync(i2pd);
  writeFileSync(path.join(i2pd, 'i2pd.conf'), '# comment\nlog = file\n[http]\nport = 7070\n[sam]\nenabled = true\naddress = 127.0.0.2\nport = 17656\n');
  assert.deepEqual(await samEndpointFromConfigDir(i2pd), { host: '127.0.0.2', port: 17656 });
  writeFileSync(path.join(i2pd, 'i2pd.conf'), '[sam]\nenabled = false\n');
  await assert.rejects(samEndpointFromConfigDir(i2pd), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /enabled = true/.test(e.hint));
  writeFileSync(path.join(i2pd, 'i2pd.conf'), '[sam]\nport = 99999\n');
  await assert.rejects(samEndpointFromConfigDir(i2pd), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));

  const java = path.join(dir, 'java');
  mkdirSync(path.join(java, 'clients.config.d'), { recursive: true });
  writeFileSync(
    path.join(java, 'clients.config.d', '01-net.i2p.sam.SAMBridge-clients.config'),
    'clientApp.0.args=sam.keys 127.0.0.1 7666 i2cp.tcp.host=127.0.0.1 i2cp.tcp.port=7654\nclientApp.0.main=net.i2p.sam.SAMBridge\nclientApp.0.name=SAM application bridge\nclientApp.0.startOnLoad=true\n',
  );
  assert.deepEqual(await samEndpointFromConfigDir(java), { host: '127.0.0.1', port: 7666 });
  writeFileSync(path.join(java, 'clients.config.d', '01-net.i2p.sam.SAMBridge-clients.config'), 'clientApp.0.main=net.i2p.sam.SAMBridge\nclientApp.0.startOnLoad=false\n');
  await assert.rejects(samEndpointFromConfigDir(java), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /configclients/.test(e.hint));
  await assert.rejects(samEndpointFromConfigDir(path.join(dir, 'empty')), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
});

test('configuration errors and an unreachable bridge', async (t) => {
  const nodeDir = tempDir(t);
  const opts = { nodeDir, gate: OPEN_GATE };
  await assert.rejects(startI2pProvider({ enabled: false }, opts), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  await assert.rejects(startI2pProvider({ launch: true, samPort: 'tcp:127.0.0.1:7656' }, opts), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && e.details.key === 'i2p.launch');
  await assert.rejects(startI2pProvider({ executable: '/usr/sbin/i2pd' }, opts), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  const port = await freePort();
  await assert.rejects(
    startI2pProvider({ samPort: `tcp:127.0.0.1:${port}` }, opts),
    (e: unknown) => isTahoeError(e, 'I2pUnavailable') && e.hint.includes('ensure an I2P router is running and its SAM bridge is enabled'),
  );
});

test('attach: sam.port names the bridge; close() leaves it alone', async (t) => {
  const fake = await startFakeSam(t, scripted(() => undefined));
  const provider = await startI2pProvider({ samPort: `tcp:127.0.0.1:${fake.port}` }, { nodeDir: tempDir(t), gate: OPEN_GATE });
  assert.deepEqual(provider.samEndpoint, fake.endpoint);
  assert.equal(provider.launched, undefined);
  assert.equal(fake.connections.length, 1, 'probed with one HELLO');
  assert.match(provider.describe(), /SAM 127\.0\.0\.1:\d+ \(v3\.1\)/);
  await provider.close();
});

test('launch: our own i2pd in private/i2pd/, stopped by close()', async (t) => {
  try {
    findI2pdExecutable();
  } catch (e) {
    if (process.env.CI === 'true') throw e;
    t.skip('i2pd not installed');
    return;
  }
  const nodeDir = tempDir(t);
  const progress: string[] = [];
  const provider = await startI2pProvider({ launch: true }, { nodeDir, gate: OPEN_GATE, launchMode: 'offline', onProgress: (m) => progress.push(m) });
  t.after(() => provider.close());
  const launched = provider.launched;
  assert.ok(launched);
  assert.equal(launched.dataDir, launchedRouterDir(nodeDir));
  assert.ok(existsSync(path.join(nodeDir, 'private', 'i2pd', 'i2pd.conf')));
  assert.equal(statSync(path.join(nodeDir, 'private', 'i2pd')).mode & 0o777, 0o700);
  assert.ok(progress.some((m) => m.startsWith('launching i2pd')));
  assert.equal(await provider.sam.probe(), '3.1');
  assert.match(provider.describe(), new RegExp(`launched i2pd pid ${launched.pid}`));
  await provider.close();
  assert.throws(() => process.kill(launched.pid, 0), 'the router is gone after close()');
});

test('the launched router config: real-network defaults vs. the offline test network', async () => {
  const { renderI2pdConf } = await import('../../../src/net/i2p/router-process.js');
  const network = renderI2pdConf({ dataDir: '/n/private/i2pd', samPort: 17656, mode: 'network' });
  const offline = renderI2pdConf({ dataDir: '/t/r', samPort: 17656, mode: 'offline' });
  for (const conf of [network, offline]) {
    assert.match(conf, /\[sam\]\nenabled = true\naddress = 127\.0\.0\.1\nport = 17656\n/);
    for (const section of ['httpproxy', 'socksproxy', 'bob', 'i2cp', 'i2pcontrol', 'upnp', 'http']) {
      assert.match(conf, new RegExp(`\\[${section}\\]\\nenabled = false\\n`), section);
    }
    // i2pd does not strip trailing comments: comments only on their own lines
    for (const line of conf.split('\n')) assert.ok(line.startsWith('#') || !line.includes('#'), line);
  }
  assert.doesNotMatch(network, /netid|floodfill|\[reseed\]|length = 0/);
  assert.match(network, /\[ssu2\]\nenabled = true/);
  assert.match(offline, /^netid = 99$/m);
  assert.match(offline, /^floodfill = true$/m);
  assert.match(offline, /\[ntcp2\]\n(#.*\n)?enabled = true\npublished = true\nport = 17657\n/);
  assert.match(offline, /\[reseed\]\nurls =\nthreshold = 0/);
});
