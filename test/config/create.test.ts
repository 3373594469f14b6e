/**
 * create-node / create-client / create-introducer: the files, their modes and contents,
 * the tahoe.cfg as Python's configparser reads it, keys that match the announced
 * addresses, and every refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createNode, type CreateNodeOptions } from '../../src/config/create.js';
import { readIntroducers, readNodeKey, readSecret } from '../../src/config/keys.js';
import { loadNodeDirectory } from '../../src/config/node-dir.js';
import { parseNodePem, tubIdOf } from '../../src/crypto/certificate.js';
import { base32Decode } from '../../src/crypto/base32.js';
import { permutationSeedOf, parseNodePublicKey } from '../../src/crypto/node-key.js';
import { parsePrivateKey } from '../../src/net/i2p/destination.js';
import { readOnionKeyFile } from '../../src/net/tor/onion-key.js';
import { TahoeError, isTahoeError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { PYTHON, pythonOrSkip, pythonRead } from './python-oracle.js';

const FURL = 'pb://ixgtihxr3fvxkh62j3qaavtb6ocxffsh@tor:aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457/abcdefghijklmnopqrstuvwxyzabcdef';

function target(t: Parameters<typeof tempDir>[0], name = 'node'): string {
  return path.join(tempDir(t, 'tahoe-ts-create-'), name);
}

const mode = (p: string) => statSync(p).mode & 0o777;

/** Every file under private/ is 0600, private/ itself 0700. */
function assertPrivate(dir: string): void {
  assert.equal(mode(path.join(dir, 'private')), 0o700);
  for (const f of readdirSync(path.join(dir, 'private'))) assert.equal(mode(path.join(dir, 'private', f)), 0o600, f);
}

async function create(t: Parameters<typeof tempDir>[0], options: Omit<CreateNodeOptions, 'directory'>) {
  const directory = target(t);
  const created = await createNode({ directory, ...options });
  return { directory, created };
}

test('create-node --hostname: the 1.20 layout, keys and secrets, private files 0600', async (t) => {
  const { directory: dir, created } = await create(t, { command: 'create-node', hostname: 'example.net', nickname: '50% Zoë' });
  assert.deepEqual(readdirSync(dir).sort(), ['node.pubkey', 'permutation-seed', 'private', 'tahoe-client.tac', 'tahoe.cfg']);
  assert.deepEqual(readdirSync(path.join(dir, 'private')).sort(), ['README', 'convergence', 'node.pem', 'node.privkey', 'secret']);
  assertPrivate(dir);
  const port = Number(/^tcp:(\d+)$/.exec(created.tubPort)?.[1]);
  assert.ok(port > 0);
  assert.equal(created.tubLocation, `tcp:example.net:${port}`);
  const key = await readNodeKey(dir);
  assert.ok(key);
  assert.equal(created.serverId, key.serverId());
  assert.equal(readFileSync(path.join(dir, 'node.pubkey'), 'utf8'), key.publicKeyString() + '\n');
  assert.match(readFileSync(path.join(dir, 'private/node.privkey'), 'utf8'), /^priv-v0-[a-z2-7]{52}\n$/);
  assert.equal(readFileSync(path.join(dir, 'permutation-seed'), 'utf8'), permutationSeedOf(parseNodePublicKey(key.publicKeyString())) + '\n');
  const pem = parseNodePem(readFileSync(path.join(dir, 'private/node.pem'), 'utf8'));
  assert.equal(created.tubId, tubIdOf(pem.certificate));
  for (const name of ['convergence', 'secret'] as const) {
    assert.match(readFileSync(path.join(dir, 'private', name), 'utf8'), /^[a-z2-7]{52}\n$/);
    assert.equal((await readSecret(dir, name))?.length, 32);
  }
  const loaded = await loadNodeDirectory(dir);
  assert.equal(loaded.nodeType, 'client');
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.config.node.nickname, '50% Zoë');
  assert.deepEqual(loaded.config.node.webPort, { type: 'tcp', port: 3456, interface: '127.0.0.1' });
  assert.equal(loaded.config.node.revealIpAddress, true);
  assert.equal(loaded.config.storage.enabled, true);
  assert.equal(loaded.config.storage.reservedSpace, 1e9);
  assert.deepEqual(loaded.config.client.shares, { needed: 3, happy: 7, total: 10 });
  assert.equal(loaded.config.helper.enabled, false);
});

test('the created tahoe.cfg reads the same in Python\'s configparser (as Tahoe 1.20 would)', async (t) => {
  if (!pythonOrSkip(t)) return;
  const made = [
    await create(t, { command: 'create-node', hostname: 'example.net', nickname: '100% [x] = y', sharesNeeded: 2, sharesHappy: 3, sharesTotal: 4, storageDir: '/srv/shares' }),
    await create(t, { command: 'create-node', listen: ['tor', 'i2p'], hideIp: true, torControlPort: 'unix:/var/run/tor/control', i2pSamPort: 'tcp:127.0.0.1:7656' }),
    await create(t, { command: 'create-introducer', listen: ['tor'], torLaunch: true, torExecutable: '/usr/bin/tor' }),
    await create(t, { command: 'create-client', hideIp: true, introducer: FURL }),
  ];
  const py = pythonRead(made.map((m) => readFileSync(path.join(m.directory, 'tahoe.cfg'))));
  for (let i = 0; i < made.length; i++) {
    const loaded = await loadNodeDirectory(made[i].directory);
    assert.equal(py[i].error, null);
    assert.deepEqual(py[i].sections, loaded.config.cfg.sections());
    for (const s of py[i].sections) {
      for (const [k, v] of Object.entries(py[i].interpolated[s])) assert.deepEqual(v, { value: loaded.config.cfg.get(s, k) }, `[${s}] ${k}`);
    }
  }
  assert.deepEqual(py[0].interpolated.node.nickname, { value: '100% [x] = y' });
  assert.deepEqual(py[0].interpolated.storage.storage_dir, { value: '/srv/shares' });
  assert.deepEqual(py[0].interpolated.client['shares.needed'], { value: '2' });
  assert.deepEqual(py[1].interpolated.connections.tcp, { value: 'tor' });
  assert.deepEqual(py[1].interpolated.node['reveal-ip-address'], { value: 'false' });
  assert.deepEqual(py[2].sections, ['node', 'tor']);
  assert.deepEqual(py[2].interpolated.node['web.port'], { value: '' });
  assert.deepEqual(py[3].interpolated.node['tub.port'], { value: 'disabled' });
  assert.deepEqual(py[3].interpolated.storage.enabled, { value: 'false' });
});

test('create-node --listen=tor: local onion key whose address is the announced one; [tor] as 1.20 writes it', async (t) => {
  const { directory: dir, created } = await create(t, { command: 'create-node', listen: ['tor'], torControlPort: 'tcp:127.0.0.1:9051', hideIp: true });
  assertPrivate(dir);
  const key = await readOnionKeyFile(path.join(dir, 'private/tor_onion.privkey'));
  assert.equal(created.onionAddress, key.address);
  assert.match(readFileSync(path.join(dir, 'private/tor_onion.privkey'), 'utf8'), /^ED25519-V3:[A-Za-z0-9+/]{86}==$/);
  const local = Number(/^tcp:(\d+):interface=127\.0\.0\.1$/.exec(created.tubPort)?.[1]);
  assert.equal(created.tubLocation, `tor:${key.address}:3457`);
  const { config } = await loadNodeDirectory(dir);
  assert.equal(config.tor.onion, true);
  assert.equal(config.tor.onionLocalPort, local);
  assert.equal(config.tor.onionExternalPort, 3457);
  assert.equal(config.tor.onionPrivateKeyFile, path.join(dir, 'private/tor_onion.privkey'));
  assert.deepEqual(config.tor.controlPort, { type: 'tcp', host: '127.0.0.1', port: 9051 });
  assert.equal(config.tor.launch, false);
  assert.equal(config.connections.tcp, 'tor');
  assert.equal(config.node.revealIpAddress, false);
  assert.deepEqual(config.cfg.ownKeys('tor'), ['control.port', 'onion', 'onion.local_port', 'onion.external_port', 'onion.private_key_file']);
  // Without --tor-launch/--tor-control-port nothing is probed; the node discovers tor at startup.
  const bare = await create(t, { command: 'create-node', listen: ['tor'] });
  assert.ok(bare.created.notes.some((n) => n.includes('unix:/var/run/tor/control')));
  assert.deepEqual((await loadNodeDirectory(bare.directory)).config.cfg.ownKeys('tor'), ['onion', 'onion.local_port', 'onion.external_port', 'onion.private_key_file']);
});

test('create-node --listen=i2p and --listen=tor,i2p: local destination, listen:i2p, merged listeners', async (t) => {
  const { directory: dir, created } = await create(t, { command: 'create-node', listen: ['i2p'], i2pLaunch: true });
  assertPrivate(dir);
  const info = parsePrivateKey(readFileSync(path.join(dir, 'private/i2p_dest.privkey'), 'utf8'));
  assert.equal(created.i2pAddress, info.b32);
  assert.equal(created.tubPort, 'listen:i2p');
  assert.equal(created.tubLocation, `i2p:${info.b32}:3457`);
  assert.equal(info.signatureType, 7);
  const { config } = await loadNodeDirectory(dir);
  assert.equal(config.i2p.dest, true);
  assert.equal(config.i2p.launch, true);
  assert.equal(config.i2p.samPort, undefined);
  assert.equal(config.i2p.destPort, 3457);

  const both = await create(t, { command: 'create-node', listen: ['tor', 'i2p'], hideIp: true });
  assert.match(both.created.tubPort, /^tcp:\d+:interface=127\.0\.0\.1,listen:i2p$/);
  assert.match(both.created.tubLocation, /^tor:[a-z2-7]{56}\.onion:3457,i2p:[a-z2-7]{52}\.b32\.i2p:3457$/);
  const c = (await loadNodeDirectory(both.directory)).config;
  assert.deepEqual(c.i2p.samPort, { type: 'tcp', host: '127.0.0.1', port: 7656 });
});

test('create-client and create-introducer', async (t) => {
  const client = await create(t, { command: 'create-client', hideIp: true, introducer: FURL, nickname: 'c' });
  assert.equal(client.created.tubPort, 'disabled');
  assert.ok(!readdirSync(client.directory).includes('permutation-seed'), 'no storage server, no permutation-seed');
  assert.deepEqual(await readIntroducers(client.directory), { default: FURL });
  assertPrivate(client.directory);
  const cc = (await loadNodeDirectory(client.directory)).config;
  assert.equal(cc.storage.enabled, false);
  assert.equal(cc.listening, false);
  assert.equal(cc.connections.tcp, 'tor');

  // An introducer's NURLs (its private/introducer.furl), several on one line, work as well.
  const hash = 'A'.repeat(43);
  const nurls = `pb://${hash}@127.0.0.1:3457/${'b'.repeat(32)}#v=1 pb+tor://${hash}@aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457/${'b'.repeat(32)}#v=1`;
  const viaNurls = await create(t, { command: 'create-client', introducer: nurls });
  assert.deepEqual(await readIntroducers(viaNurls.directory), { default: nurls });

  const intro = await create(t, { command: 'create-introducer', hostname: 'intro.example' });
  assert.ok(readdirSync(intro.directory).includes('tahoe-introducer.tac'));
  assert.ok(!readdirSync(intro.directory).includes('permutation-seed'));
  const ic = await loadNodeDirectory(intro.directory);
  assert.equal(ic.nodeType, 'introducer');
  assert.deepEqual(ic.config.cfg.sections(), ['node']);
  assert.equal(ic.config.node.webPort, undefined);
});

test('introducers.yaml: PyYAML reads what we write, we read what PyYAML writes', async (t) => {
  if (!pythonOrSkip(t)) return;
  const { directory } = await create(t, { command: 'create-client', introducer: FURL });
  const script = 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(d["introducers"]["default"]["furl"]); sys.stdout.write(yaml.safe_dump({"introducers": {"yes": {"furl": d["introducers"]["default"]["furl"]}, "other": {"furl": d["introducers"]["default"]["furl"]}}}))';
  const out = execFileSync(PYTHON, ['-c', script, path.join(directory, 'private/introducers.yaml')]).toString();
  const [first, ...rest] = out.split('\n');
  assert.equal(first, FURL);
  writeFileSync(path.join(directory, 'private/introducers.yaml'), rest.join('\n'), { mode: 0o600 });
  assert.deepEqual(await readIntroducers(directory), { yes: FURL, other: FURL });
});

test('refusals: bad option combinations are UsageErrors with a fix; nothing is written', async (t) => {
  const cases: Array<[Omit<CreateNodeOptions, 'directory'>, RegExp]> = [
    [{ command: 'create-node' }, /--listen=tcp requires --hostname/],
    [{ command: 'create-node', listen: ['tor'], hostname: 'x' }, /--hostname only works with --listen=tcp/],
    [{ command: 'create-node', listen: ['none'], hostname: 'x' }, /--hostname cannot be used with --listen=none/],
    [{ command: 'create-node', listen: ['none', 'tor'] }, /--listen=none cannot be combined/],
    [{ command: 'create-node', port: 'tcp:1' }, /--port must be used with --location/],
    [{ command: 'create-node', location: 'tcp:x:1' }, /--location must be used with --port/],
    [{ command: 'create-node', port: 'tcp:1', location: 'tcp:x:1', hostname: 'x' }, /--hostname cannot be used with --port\/--location/],
    [{ command: 'create-node', hostname: 'x', hideIp: true }, /--hide-ip cannot be used with --listen=tcp/],
    [{ command: 'create-node', hostname: 'x', torLaunch: true }, /--tor-launch requires --listen=tor/],
    [{ command: 'create-node', listen: ['tor'], torLaunch: true, torControlPort: 'tcp:127.0.0.1:9051' }, /either --tor-launch or --tor-control-port/],
    [{ command: 'create-node', listen: ['tor'], torControlPort: '9051' }, /--tor-control-port: .*bare port number/],
    [{ command: 'create-node', listen: ['i2p'], i2pLaunch: true, i2pSamPort: 'tcp:127.0.0.1:7656' }, /either --i2p-launch or --i2p-sam-port/],
    [{ command: 'create-node', hostname: 'x', i2pSamPort: 'tcp:127.0.0.1:7656' }, /--i2p-sam-port requires --listen=i2p/],
    [{ command: 'create-node', hostname: 'x', sharesNeeded: 8 }, /needed \(8\) ≤ happy \(7\)/],
    [{ command: 'create-node', hostname: 'x', sharesTotal: 300 }, /--shares-total must be a whole number from 1 to 256/],
    [{ command: 'create-node', hostname: 'x', webport: 'tcp:nope' }, /--webport/],
    [{ command: 'create-node', hostname: 'x', introducer: 'pb://bad' }, /--introducer/],
    [{ command: 'create-node', hostname: 'x', nickname: 'a\nb' }, /line breaks/],
    [{ command: 'create-introducer', listen: ['none'] }, /an introducer needs a listener/],
    [{ command: 'create-introducer', hostname: 'x', introducer: FURL }, /does not connect to an introducer/],
    [{ command: 'create-node', port: 'tcp:0', location: 'tcp:x:1' }, /tub\.port/],
  ];
  const parent = tempDir(t, 'tahoe-ts-create-');
  for (const [i, [options, message]] of cases.entries()) {
    const directory = path.join(parent, `n${i}`);
    await assert.rejects(createNode({ directory, ...options }), (e: unknown) => {
      assert.ok(e instanceof TahoeError, String(e));
      assert.equal(e.kind, 'UsageError', `${e.kind}: ${e.message}`);
      assert.match(e.message, message);
      assert.ok(e.hint.length > 10);
      return true;
    }, JSON.stringify(options));
  }
  assert.deepEqual(readdirSync(parent), [], 'nothing was created');
});

test('refusals: --hide-ip with a TCP location is a PrivacyViolation; a non-empty directory is never touched', async (t) => {
  const dir = target(t);
  await assert.rejects(createNode({ directory: dir, command: 'create-node', hideIp: true, port: 'tcp:3457:interface=127.0.0.1', location: 'tcp:example.net:3457' }),
    (e: unknown) => isTahoeError(e, 'PrivacyViolation') && /TCP hint/.test(e.message));
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'precious'), 'data');
  await assert.rejects(createNode({ directory: dir, command: 'create-node', hostname: 'x' }), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /not empty/.test(e.message) && /nothing was changed/.test(e.hint));
  assert.deepEqual(readdirSync(dir), ['precious']);
  // An existing empty directory is fine.
  const empty = target(t, 'empty');
  mkdirSync(empty);
  await createNode({ directory: empty, command: 'create-client' });
  assert.ok(readdirSync(empty).includes('tahoe.cfg'));
});

test('node keys are unique per node and match across files', async (t) => {
  const a = await create(t, { command: 'create-client' });
  const b = await create(t, { command: 'create-client' });
  assert.notEqual(a.created.serverId, b.created.serverId);
  assert.notEqual(a.created.tubId, b.created.tubId);
  assert.notEqual(readFileSync(path.join(a.directory, 'private/convergence'), 'utf8'), readFileSync(path.join(b.directory, 'private/convergence'), 'utf8'));
  assert.equal(base32Decode(a.created.tubId).length, 20);
});
