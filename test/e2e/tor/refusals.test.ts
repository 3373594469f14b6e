/**
 * Every combination the privacy rules forbid is refused before any connection is made
 * (configuration.md §3 and §3a, anonymity-checklist AN-1): the node does not start, the
 * error names the setting and the fix, and listeners standing in for the grid — the
 * introducer, a storage server, tor's SOCKS and control ports — see no connection at all;
 * a port the node would have listened on stays free. No Tor network is needed: nothing
 * may get as far as Tor.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { CfgEdit } from '../../../src/config/cfg.js';
import type { CreateNodeOptions } from '../../../src/config/create.js';
import { base32Encode } from '../../../src/crypto/base32.js';
import { isTahoeError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { RULES } from '../../../src/net/policy.js';
import { generateOnionKey } from '../../../src/net/tor/onion-key.js';
import { TahoeNode } from '../../../src/node/node.js';
import { storageAnnouncementFor } from '../../../src/cli/commands/admin.js';
import { formatServersYaml } from '../../../src/storage/announcement.js';
import { freePort } from '../../helpers/ports.js';
import { makeNode } from './tor-grid.js';

let trap: net.Server;
let trapPort: number;
let connections = 0;
let root: string;
let furl: string;
let serversYaml: string;
const onion = generateOnionKey().address;

before(async () => {
  trap = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  trapPort = (trap.address() as net.AddressInfo).port;
  root = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-tor-refusals-'));
  // The introducer and a storage server "live" at the trap (TCP) and at an onion address.
  const tubId = base32Encode(randomBytes(20));
  furl = `pb://${tubId}@tcp:127.0.0.1:${trapPort},tor:${onion}:3457/${base32Encode(randomBytes(20))}`;
  const serverDir = await makeNode(path.join(root, 'stand-in-server'), { command: 'create-node', port: `tcp:${trapPort}:interface=127.0.0.1`, location: `tcp:127.0.0.1:${trapPort},tor:${onion}:3457` });
  const { serverId, input } = await storageAnnouncementFor(serverDir);
  serversYaml = formatServersYaml(serverId, input);
});

after(async () => {
  await new Promise((resolve) => trap.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

interface Refusal {
  name: string;
  create: Omit<CreateNodeOptions, 'directory'>;
  edits(dir: string, listenPort: number): CfgEdit[];
  rule: string;
  /** The setting the message must name. */
  names: RegExp;
  /** A port the node would listen on, which must stay free. */
  listens?: boolean;
}

const anonymize: CfgEdit[] = [
  { section: 'node', key: 'reveal-IP-address', value: null },
  { section: 'node', key: 'anonymize', value: 'true' },
];

/** Tor "is" at the trap too, so that any attempt to reach tor would be counted. */
const torAtTrap = (): CfgEdit[] => [{ section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${trapPort}` }];

const REFUSALS: Refusal[] = [
  {
    name: 'UC3 (anonymize) with a tcp: location (original language)',
    create: { command: 'create-node', listen: ['tcp'], hostname: 'localhost' },
    edits: (_dir, port) => [...anonymize, { section: 'node', key: 'tub.port', value: `tcp:${port}:interface=127.0.0.1` }, { section: 'node', key: 'tub.location', value: `tcp:localhost:${port}` }, ...torAtTrap()],
    rule: RULES.tcpHintWhenHidden,
    names: /tub\.location.*TCP hint tcp:localhost/,
    listens: true,
  },
  {
    name: 'AUTODETECT with anonymize (original language)',
    create: { command: 'create-node', listen: ['tcp'], hostname: 'localhost' },
    edits: (dir, port) => [...anonymize, { section: 'node', key: 'tub.port', value: `tcp:${port}:interface=127.0.0.1` }, { section: 'node', key: 'tub.location', value: `AUTODETECT,onion:80:hiddenServiceDir=${path.join(dir, 'hidden-service')}` }, ...torAtTrap()],
    rule: RULES.autoLocationWhenHidden,
    names: /tub\.location contains AUTODETECT/,
    listens: true,
  },
  {
    name: 'reveal-IP-address = false with [connections] tcp = tcp (1.20 language)',
    create: { command: 'create-client', hideIp: true },
    edits: () => [{ section: 'connections', key: 'tcp', value: 'tcp' }, ...torAtTrap()],
    rule: RULES.directTcpWhenHidden,
    names: /\[connections\] tcp = tcp/,
  },
  {
    name: 'reveal-IP-address = false with tcp left at its default',
    create: { command: 'create-client', hideIp: true },
    edits: () => [{ section: 'connections', key: 'tcp', value: null }, ...torAtTrap()],
    rule: RULES.directTcpWhenHidden,
    names: /\[connections\] tcp is not set/,
  },
  {
    name: 'an onion-only server whose tub.port listens on every interface',
    create: { command: 'create-node', listen: ['tor'], hideIp: true },
    edits: (_dir, port) => [{ section: 'node', key: 'tub.port', value: `tcp:${port}` }, { section: 'tor', key: 'onion.local_port', value: String(port) }, { section: 'tor', key: 'control.port', value: `tcp:127.0.0.1:${trapPort}` }],
    rule: RULES.listenerNotLoopbackWhenHidden,
    names: /tub\.port listens on every network interface/,
    listens: true,
  },
  {
    name: 'anonymize with [tor] enabled = false',
    create: { command: 'create-client' },
    edits: () => [...anonymize, { section: 'tor', key: 'enabled', value: 'false' }],
    rule: RULES.torRequiredButDisabled,
    names: /\[tor\] enabled = false/,
  },
  {
    name: 'anonymize with a tor SOCKS port on another machine',
    create: { command: 'create-client' },
    edits: () => [...anonymize, { section: 'tor', key: 'socks.port', value: 'tcp:192.0.2.7:9050' }],
    rule: RULES.daemonNotLoopbackWhenHidden,
    names: /\[tor\] socks\.port/,
  },
  {
    name: 'anonymize = true next to create-client\'s reveal-IP-address = true',
    create: { command: 'create-client' },
    edits: () => [{ section: 'node', key: 'anonymize', value: 'true' }, ...torAtTrap()],
    rule: RULES.contradiction,
    names: /anonymize = true contradicts/,
  },
];

for (const r of REFUSALS) {
  test(`refused before any connection: ${r.name}`, async (t) => {
    const dir = path.join(root, r.name.replace(/[^a-z0-9]+/gi, '-'));
    const listenPort = await freePort();
    await makeNode(dir, { ...r.create, introducer: furl }, r.edits(dir, listenPort));
    await writeFile(path.join(dir, 'private', 'servers.yaml'), serversYaml, { mode: 0o600 });
    const before = connections;
    const progress: string[] = [];
    await assert.rejects(TahoeNode.start({ directory: dir, logger: silentLogger, onProgress: (p) => progress.push(p.phase) }), (e: unknown) => {
      assert.ok(isTahoeError(e, 'PrivacyViolation'), String(e));
      assert.equal(e.details.rule, r.rule);
      assert.match(e.message, r.names);
      assert.ok(e.hint.length > 20, 'a fix is given');
      return true;
    });
    assert.deepEqual(progress.filter((p) => p !== 'config' && p !== 'stopping'), [], 'nothing started past reading the configuration');
    // Give a stray connection attempt time to arrive before we count.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(connections - before, 0, 'no connection reached the introducer, the server or tor');
    assert.ok(!existsSync(path.join(dir, 'hidden-service')), 'no onion key was made');
    if (r.listens) {
      // The port the node would have listened on is free.
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(listenPort, '127.0.0.1', resolve));
      await new Promise((resolve) => probe.close(resolve));
    }
    t.diagnostic(`refused: ${r.rule}`);
  });
}

test('refused before any connection: Tor required at startup (reveal-IP-address = false, tcp = tor) but nothing answers at socks.port', async () => {
  const dead = await freePort();
  const dir = await makeNode(path.join(root, 'tor-missing'), { command: 'create-client', hideIp: true, introducer: furl }, [{ section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${dead}` }]);
  await writeFile(path.join(dir, 'private', 'servers.yaml'), serversYaml, { mode: 0o600 });
  const before = connections;
  await assert.rejects(TahoeNode.start({ directory: dir, logger: silentLogger }), (e: unknown) => {
    assert.ok(isTahoeError(e, 'TorUnavailable'), String(e));
    assert.match(e.message, /socks\.port/);
    assert.match(e.hint, /start tor|launch = true/);
    return true;
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(connections - before, 0, 'no connection reached the introducer or the server');
});
