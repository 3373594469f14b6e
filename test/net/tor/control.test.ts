/**
 * The control client against a real tor with no network (tor.md §7): authentication,
 * GETINFO, events, ADD_ONION/DEL_ONION, ownership.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isTahoeError } from '../../../src/errors.js';
import { OPEN_GATE, type EgressGate } from '../../../src/net/socket.js';
import { TahoeError } from '../../../src/errors.js';
import { connectTorControl, TorControlClient, type TorEvent } from '../../../src/net/tor/control.js';
import { generateOnionKey, onionAddressFromBlob, onionKeyFromSeed, readHiddenServiceDir, writeHiddenServiceDir } from '../../../src/net/tor/onion-key.js';
import { tempDir } from '../../helpers/tmp.js';
import { tahoeError } from './expect.js';
import { fileScope, startOfflineTor, waitFor, type OfflineTor } from './offline-tor.js';

const KNOWN_ADDRESS = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';

// One offline tor shared by the tests of this file that do not end it.
let tor: OfflineTor;
const scope = fileScope();
before(async () => {
  tor = await startOfflineTor(scope);
});
after(() => scope.run());

async function connect(): Promise<TorControlClient> {
  return connectTorControl(tor.control, { gate: OPEN_GATE });
}

test('PROTOCOLINFO and SAFECOOKIE authentication (preferred)', async (t) => {
  const client = await TorControlClient.connect(tor.control, { gate: OPEN_GATE });
  t.after(() => client.close());
  const info = await client.protocolInfo();
  assert.deepEqual([...info.authMethods].sort(), ['COOKIE', 'SAFECOOKIE']);
  assert.equal(info.cookieFile, tor.cookiePath);
  assert.match(info.torVersion ?? '', /^0\.4\./);
  assert.equal(await client.authenticate(), 'SAFECOOKIE');
  assert.match(await client.getVersion(), /^0\.4\.\d+\.\d+/);
});

test('COOKIE authentication when it is the only allowed method', async (t) => {
  const client = await TorControlClient.connect(tor.control, { gate: OPEN_GATE });
  t.after(() => client.close());
  assert.equal(await client.authenticate({ allowedMethods: ['COOKIE'] }), 'COOKIE');
  assert.match(await client.getVersion(), /^0\.4\./);
});

test('a wrong cookie is detected: SAFECOOKIE server proof fails, COOKIE gets 515', async (t) => {
  const dir = tempDir(t);
  const wrong = path.join(dir, 'cookie');
  writeFileSync(wrong, randomBytes(32));
  const a = await TorControlClient.connect(tor.control, { gate: OPEN_GATE });
  t.after(() => a.close());
  await assert.rejects(a.authenticate({ cookiePath: wrong }), tahoeError('TorAuthFailed', (e) => e.details.method === 'SAFECOOKIE' && /stale cookie|another program/.test(e.hint)));

  const b = await TorControlClient.connect(tor.control, { gate: OPEN_GATE });
  t.after(() => b.close());
  await assert.rejects(b.authenticate({ cookiePath: wrong, allowedMethods: ['COOKIE'] }), tahoeError('TorAuthFailed', (e) => e.details.code === 515));
  await b.whenClosed(); // tor closes the connection after a failed AUTHENTICATE
  await assert.rejects(b.getVersion(), tahoeError('TorUnavailable'));
});

test('unusable cookie files: wrong size, missing', async (t) => {
  const dir = tempDir(t);
  const short = path.join(dir, 'short');
  writeFileSync(short, randomBytes(31));
  await assert.rejects(connectTorControl(tor.control, { gate: OPEN_GATE, cookiePath: short }), tahoeError('TorAuthFailed', (e) => e.details.length === 31));
  await assert.rejects(
    connectTorControl(tor.control, { gate: OPEN_GATE, cookiePath: path.join(dir, 'absent') }),
    tahoeError('TorAuthFailed', (e) => e.details.code === 'ENOENT' && /missing/.test(e.hint)),
  );
});

test('commands before authentication are refused and tor hangs up', async (t) => {
  const client = await TorControlClient.connect(tor.control, { gate: OPEN_GATE });
  t.after(() => client.close());
  await assert.rejects(client.getVersion(), (e: unknown) => isTahoeError(e) && (e.kind === 'TorControlError' || e.kind === 'TorUnavailable'));
});

test('the egress gate is asked before the control port is dialled', async () => {
  const seen: string[] = [];
  const gate: EgressGate = {
    allowNameResolution: false,
    check: (endpoint, purpose) => {
      seen.push(purpose);
      throw new TahoeError('PrivacyViolation', 'denied for test');
    },
  };
  await assert.rejects(connectTorControl(tor.control, { gate }), tahoeError('PrivacyViolation'));
  assert.deepEqual(seen, ['tor-control']);
});

test('GETINFO: version, bootstrap phase, SOCKS listeners (empty with DisableNetwork); unknown key ⇒ 552', async (t) => {
  const client = await connect();
  t.after(() => client.close());
  const info = await client.getInfo(['version', 'status/bootstrap-phase', 'net/listeners/socks']);
  assert.match(info.version, /^0\.4\./);
  assert.equal(info['net/listeners/socks'], '');
  const phase = await client.getBootstrapStatus();
  assert.equal(phase.severity, 'NOTICE');
  assert.ok(phase.progress >= 0 && phase.progress <= 100);
  assert.equal(typeof phase.summary, 'string');
  assert.deepEqual(await client.getSocksListeners(), []);
  await assert.rejects(client.getInfo(['no-such-key']), tahoeError('TorControlError', (e) => e.details.code === 552));
  await assert.rejects(client.command('FOOBAR'), tahoeError('TorControlError', (e) => e.details.code === 510 && /FOOBAR/.test(String(e.details.text))));
  // The connection stays usable after refused commands.
  assert.match(await client.getVersion(), /^0\.4\./);
});

test('events are demultiplexed from pipelined replies', async (t) => {
  const client = await connect();
  t.after(() => client.close());
  const events: TorEvent[] = [];
  client.onEvent((e) => events.push(e));
  await client.setEvents(['STATUS_CLIENT', 'HS_DESC', 'CONF_CHANGED']);
  // Pipeline several commands; each SETCONF makes tor emit a 650 CONF_CHANGED in between replies.
  const results = await Promise.all([
    client.setConf({ MaxCircuitDirtiness: '601' }),
    client.getVersion(),
    client.setConf({ MaxCircuitDirtiness: '602' }),
    client.getConf('MaxCircuitDirtiness'),
    client.setConf({ MaxCircuitDirtiness: '603' }),
    client.getInfo(['status/bootstrap-phase']),
  ]);
  assert.match(results[1] as string, /^0\.4\./);
  assert.deepEqual(results[3], ['602']);
  assert.ok('status/bootstrap-phase' in (results[5] as Record<string, string>));
  await waitFor(() => events.length >= 3, 5000, 'three CONF_CHANGED events');
  const changed = events.filter((e) => e.type === 'OTHER' && e.name === 'CONF_CHANGED');
  assert.equal(changed.length, 3);
  const first = changed[0];
  assert.ok(first.type === 'OTHER' && first.lines.some((l) => l.text.includes('MaxCircuitDirtiness=601')));
  await client.resetConf(['MaxCircuitDirtiness']);
  await client.setEvents([]);
});

test('ADD_ONION NEW, DEL_ONION, re-add with the saved blob ⇒ same ServiceID = onionAddressFromBlob', async (t) => {
  const client = await connect();
  t.after(() => client.close());
  const created = await client.addOnion({ key: 'NEW', ports: [{ virtualPort: 3457, target: { host: '127.0.0.1', port: 40001 } }] });
  assert.match(created.serviceId, /^[a-z2-7]{56}$/);
  assert.ok(created.privateKeyBlob?.startsWith('ED25519-V3:'));
  assert.equal(onionAddressFromBlob(created.privateKeyBlob ?? ''), created.address, 'our Ed25519 math agrees with tor');
  const onions = await client.getInfo(['onions/current']);
  assert.ok(onions['onions/current'].includes(created.serviceId));
  await client.delOnion(created.serviceId);
  await assert.rejects(client.delOnion(created.serviceId), tahoeError('TorControlError', (e) => e.details.code === 552));

  const again = await client.addOnion({ key: created.privateKeyBlob ?? '', ports: [{ virtualPort: 3457, target: 40001 }] });
  assert.equal(again.serviceId, created.serviceId);
  assert.equal(again.privateKeyBlob, undefined, 'tor returns no key for a key it was given');
  await client.delOnion(again.address);

  const offline = generateOnionKey();
  const fromOffline = await client.addOnion({ key: offline.blob, ports: [{ virtualPort: 80, target: { path: '/tmp/tahoe-ts-test.sock' } }], flags: ['DiscardPK'] });
  assert.equal(fromOffline.address, offline.address, 'an offline-generated key yields the address we computed');
  await client.delOnion(fromOffline.serviceId);
});

test('known answer through real tor: seed 00..1f', async (t) => {
  const client = await connect();
  t.after(() => client.close());
  const key = onionKeyFromSeed(Uint8Array.from({ length: 32 }, (_, i) => i));
  const result = await client.addOnion({ key: key.blob, ports: [{ virtualPort: 3457, target: 40002 }] });
  assert.equal(result.address, KNOWN_ADDRESS);
  await client.delOnion(result.serviceId);
});

test('ADD_ONION argument checks happen before anything is sent', async (t) => {
  const client = await connect();
  t.after(() => client.close());
  const port = [{ virtualPort: 80 }];
  await assert.rejects(client.addOnion({ key: 'NEW', ports: port, flags: ['NonAnonymous' as 'Detach'] }), tahoeError('PrivacyViolation'));
  await assert.rejects(client.addOnion({ key: 'NEW', ports: [] }), tahoeError('BadInput'));
  await assert.rejects(client.addOnion({ key: 'NEW', ports: [{ virtualPort: 70000 }] }), tahoeError('BadInput'));
  await assert.rejects(client.addOnion({ key: 'NEW', ports: [{ virtualPort: 80, target: { host: '127.0.0.1 Flags=Detach', port: 1 } }] }), tahoeError('BadInput'));
  await assert.rejects(client.addOnion({ key: 'NEW', ports: [{ virtualPort: 80, target: { path: '/tmp/a b' } }] }), tahoeError('BadInput'));
  await assert.rejects(client.addOnion({ key: 'ED25519-V3:short', ports: port }), tahoeError('BadInput'));
  await assert.rejects(client.addOnion({ key: 'NEW', ports: port, clientAuthV3: ['not-a-key'] }), tahoeError('BadInput'));
  await assert.rejects(client.request('GETINFO version\r\nSIGNAL HALT'), tahoeError('Internal'));
  assert.match(await client.getVersion(), /^0\.4\./, 'tor is still running and the connection is usable');
});

test('ClientAuthV3 is accepted for a v3 service', async (t) => {
  const client = await connect();
  t.after(() => client.close());
  const x25519 = (await import('node:crypto')).generateKeyPairSync('x25519');
  const raw = x25519.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const { base32Encode } = await import('../../../src/crypto/base32.js');
  const result = await client.addOnion({ key: 'NEW', flags: ['DiscardPK'], ports: [{ virtualPort: 80, target: 40003 }], clientAuthV3: [base32Encode(raw).toUpperCase()] });
  assert.match(result.serviceId, /^[a-z2-7]{56}$/);
  await client.delOnion(result.serviceId);
});

test('an onion service goes away when the control connection that made it closes', async () => {
  const a = await connect();
  const created = await a.addOnion({ key: 'NEW', flags: ['DiscardPK'], ports: [{ virtualPort: 80, target: 40004 }] });
  await a.close();
  const b = await connect();
  try {
    await waitFor(async () => !(await b.getInfo(['onions/detached', 'onions/current']))['onions/current'].includes(created.serviceId), 2000, 'onion removal');
    await assert.rejects(b.delOnion(created.serviceId), tahoeError('TorControlError', (e) => e.details.code === 552));
  } finally {
    await b.close();
  }
});

test('HiddenServiceDir written by us is used by tor (same hostname), and one tor made is read by us', async (t) => {
  const base = tempDir(t);
  const ours = path.join(base, 'ours');
  const key = generateOnionKey();
  await writeHiddenServiceDir(ours, key);
  const { rmSync } = await import('node:fs');
  rmSync(path.join(ours, 'hostname'));
  const torMade = path.join(base, 'tor-made');
  mkdirSync(torMade, { mode: 0o700 });
  const hsTor = await startOfflineTor(t, {
    args: ['--HiddenServiceDir', ours, '--HiddenServicePort', '80 127.0.0.1:9', '--HiddenServiceDir', torMade, '--HiddenServicePort', '81 127.0.0.1:9'],
  });
  await waitFor(() => existsSync(path.join(ours, 'hostname')) && existsSync(path.join(torMade, 'hostname')), 10_000, `hostname files\n${hsTor.output()}`);
  assert.equal(readFileSync(path.join(ours, 'hostname'), 'utf8').trim(), key.address);
  const read = await readHiddenServiceDir(torMade);
  assert.equal(read.address, readFileSync(path.join(torMade, 'hostname'), 'utf8').trim());
});

test('HASHEDPASSWORD: right password works, wrong one is refused with a hint', async (t) => {
  const hash = execFileSync('tor', ['--quiet', '--hash-password', 'correct horse'], { encoding: 'utf8' }).trim().split('\n').pop() ?? '';
  const pwTor = await startOfflineTor(t, { control: 'tcp', cookieAuth: false, args: ['--HashedControlPassword', hash] });
  const noPassword = connectTorControl(pwTor.control, { gate: OPEN_GATE });
  await assert.rejects(noPassword, tahoeError('TorAuthFailed', (e) => /password/.test(e.message)));
  await assert.rejects(connectTorControl(pwTor.control, { gate: OPEN_GATE, password: 'wrong' }), tahoeError('TorAuthFailed', (e) => /wrong control password/.test(e.hint)));
  let asked = 0;
  const client = await connectTorControl(pwTor.control, {
    gate: OPEN_GATE,
    password: async () => {
      asked++;
      return 'correct horse';
    },
  });
  t.after(() => client.close());
  assert.equal(asked, 1);
  assert.match(await client.getVersion(), /^0\.4\./);
});

test('TAKEOWNERSHIP: tor exits when the owning connection closes', async (t) => {
  const owned = await startOfflineTor(t);
  const client = await connectTorControl(owned.control, { gate: OPEN_GATE });
  await client.takeOwnership();
  const exited = new Promise<number | null>((resolve) => owned.child.once('exit', (code) => resolve(code)));
  const started = Date.now();
  await client.close();
  const code = await exited;
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 5000, 'tor exited promptly');
  assert.match(owned.output(), /Owning controller connection has closed/);
});

test('a control connection to a tor that went away fails pending commands with TorUnavailable', async (t) => {
  const doomed = await startOfflineTor(t);
  const client = await connectTorControl(doomed.control, { gate: OPEN_GATE });
  const closed = new Promise<TahoeError | undefined>((resolve) => client.onClose(resolve));
  doomed.child.kill('SIGKILL');
  const error = await closed;
  assert.ok(error === undefined || isTahoeError(error));
  await assert.rejects(client.getVersion(), tahoeError('TorUnavailable'));
  // Once the process is gone (not merely dying, when a connect can still be accepted and then reset), nothing answers.
  if (doomed.child.exitCode === null && doomed.child.signalCode === null) await new Promise((resolve) => doomed.child.once('exit', resolve));
  await assert.rejects(connectTorControl(doomed.control, { gate: OPEN_GATE }), tahoeError('ServerUnreachable', (e) => /tor running/.test(e.hint)));
});
