/**
 * Storage servers that launch their own tor (`[tor] launch = true`), end to end on a private
 * Tor network (shared/seed: server use cases 2 and 3; configuration.md §3, §4; tor.md §4
 * "Recommended argv for tahoe-ts"; anonymity-checklist AN-6). matrix.test.ts launches a tor
 * only for S3 in the 1.20 language; this file covers the other three recipes:
 *
 *   S2-1.20-launch      TCP and onion, own tor    create-node --listen=tcp,tor --tor-launch
 *   S2-original-launch  TCP and onion, own tor    tub.location = AUTODETECT,onion:80:hiddenServiceDir=…
 *                                                 + [tor] launch = true
 *   S3-original-launch  onion only, own tor       anonymize = true + tub.location =
 *                                                 onion:80:hiddenServiceDir=… + [tor] launch = true
 *
 * Each launched tor joins the private network (`launch.extra_torrc`) and keeps its state in
 * the node's `private/`. One TCP introducer; a UC2 client (`[tor] socks.port`: both S2
 * directly over TCP, S3 through Tor) and a UC3 client (`anonymize = true`: all through Tor)
 * each store and fetch a file with k = happy = N = 3, so every file needs every server. S3
 * is then stopped (its tor goes with it) and started again: same onion address, and the
 * UC3 client reads the file it stored before.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ed25519PublicKeyFromScalar, onionAddressFromPublicKey } from '../../../src/net/tor/onion-key.js';
import type { TahoeNode } from '../../../src/node/node.js';
import { ANONYMIZE_EDITS, downloadBytes, log, makeNode, nodeLog, openTorGrid, originalOnionOnlyEdits, roundTrip, sharesHeld, statusesByNickname, waitFor, type TorGridScope } from './tor-grid.js';
import { isAlive } from '../../helpers/processes.js';

const S2 = 'S2-1.20-launch';
const S2_ORIGINAL = 'S2-original-launch';
const S3 = 'S3-original-launch';
const SERVER_NAMES = [S2, S2_ORIGINAL, S3] as const;
type ServerName = (typeof SERVER_NAMES)[number];
const FILE_SIZE = 200_000;
/** Usually seconds; a new onion descriptor or a tor short of directory info can take minutes on a loaded machine. */
const CONNECT_TIMEOUT_MS = 300_000;
/**
 * Reading through a restarted onion service: usually 1–6 s. One early run took 183 s: the
 * broker then kept a down server's retry series (steps of minutes) across the restarted
 * server's fresh announcement; a newer announcement now restarts the series at 1 s.
 * Generous, as only correctness is checked.
 */
const AFTER_RESTART_TIMEOUT_MS = 420_000;

let scope: TorGridScope;
let introducerFurl: string;
const serverDirs = new Map<ServerName, string>();
const servers = new Map<ServerName, TahoeNode>();
let uc2: TahoeNode;
let uc3: TahoeNode;
/** The file the UC3 client stored before S3 restarts. */
let uc3File: { cap: string; data: Buffer } | undefined;

function hiddenServiceDirOf(serverDir: string): string {
  return path.join(serverDir, 'hidden-service');
}

function server(name: ServerName): TahoeNode {
  const node = servers.get(name);
  assert.ok(node, `${name} runs`);
  return node;
}

/** The PID of the tor this node launched, as its tor transport reports it. */
function launchedTorPid(node: TahoeNode): number {
  const summary = node.status().transports.find((t) => t.name === 'tor')?.summary ?? '';
  const pid = Number(/launched by tahoe-ts \(pid (\d+)\)/.exec(summary)?.[1]);
  assert.ok(Number.isInteger(pid) && pid > 1, `a launched tor's pid in "${summary}"`);
  return pid;
}

/** What a process was started with (NUL-separated in /proc). */
async function argvOf(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
}

function onionOf(nurl: string): string {
  const m = /^pb\+tor:\/\/[A-Za-z0-9_-]{43}@([a-z2-7]{56}\.onion):(\d+)\/[a-z2-7]+#v=1$/.exec(nurl);
  assert.ok(m, `an onion NURL: ${nurl}`);
  return m[1];
}

/** The hints of the fURL the server wrote to private/storage.furl, by kind (tcp, tor). */
async function furlHintKinds(node: TahoeNode): Promise<string[]> {
  const furl = (await readFile(path.join(node.directory, 'private', 'storage.furl'), 'utf8')).trim();
  const hints = (/@([^/]*)\//.exec(furl)?.[1] ?? '').split(',');
  return [...new Set(hints.map((h) => h.split(':')[0]))].sort();
}

/** Every IPv4 address of this machine: what `AUTODETECT` announces (configuration.md §3a). */
function localIpv4Addresses(): string[] {
  return [...new Set(Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address)))];
}

/**
 * The key an `onion:…:hiddenServiceDir=DIR` item keeps in DIR, in tor's own HiddenServiceDir
 * layout: a 0700 directory with 0600 files, the headers tor writes, a public key that belongs
 * to the secret key, and `hostname` the address of that key. Returns that address.
 */
async function checkHiddenServiceDir(hsDir: string): Promise<string> {
  const hostname = (await readFile(path.join(hsDir, 'hostname'), 'utf8')).trim();
  assert.equal((await stat(hsDir)).mode & 0o777, 0o700);
  assert.deepEqual((await readdir(hsDir)).sort(), ['hostname', 'hs_ed25519_public_key', 'hs_ed25519_secret_key']);
  for (const f of await readdir(hsDir)) assert.equal((await stat(path.join(hsDir, f))).mode & 0o777, 0o600, f);
  const secret = await readFile(path.join(hsDir, 'hs_ed25519_secret_key'));
  const publicKey = await readFile(path.join(hsDir, 'hs_ed25519_public_key'));
  const header = (text: string): Buffer => Buffer.concat([Buffer.from(text), Buffer.alloc(32 - text.length)]);
  assert.equal(secret.length, 96);
  assert.ok(secret.subarray(0, 32).equals(header('== ed25519v1-secret: type0 ==')), 'secret key header');
  assert.equal(publicKey.length, 64);
  assert.ok(publicKey.subarray(0, 32).equals(header('== ed25519v1-public: type0 ==')), 'public key header');
  assert.ok(Buffer.from(ed25519PublicKeyFromScalar(secret.subarray(32, 64))).equals(publicKey.subarray(32)), 'the public key belongs to the secret key');
  assert.equal(onionAddressFromPublicKey(publicKey.subarray(32)), hostname, 'hostname is the address of that key');
  return hostname;
}

/** The last lines of the client's and the servers' logs and of the network's client tor, for a wait that timed out. */
async function failureReport(client: TahoeNode, e: unknown): Promise<Error> {
  const tails = await Promise.all(
    [client.directory, ...serverDirs.values()].map(async (dir) => `--- ${path.basename(dir)} log ---\n${(await nodeLog(dir)).split('\n').slice(-20).join('\n')}`),
  );
  return new Error(`${(e as Error).message}\n${tails.join('\n')}\n--- the network's client tor ---\n${await scope.network.logTail('client', 20)}`);
}

function describeStatuses(client: TahoeNode): string {
  return JSON.stringify([...statusesByNickname(client).values()].map((x) => [x.nickname, x.connected, x.transport, x.lastError]));
}

async function waitForServers(client: TahoeNode, what: string): Promise<void> {
  await waitFor(
    () => {
      const st = statusesByNickname(client);
      return SERVER_NAMES.every((n) => st.get(n)?.connected === true);
    },
    CONNECT_TIMEOUT_MS,
    () => `${what}: ${describeStatuses(client)}`,
  ).catch(async (e: unknown) => {
    throw await failureReport(client, e);
  });
}

/** Upload and download through `client`: one share on each server, each reached as `expect` says. */
async function checkClient(client: TahoeNode, expect: Record<ServerName, 'tcp' | 'tor'>, introducerVia: 'tcp' | 'tor'): Promise<{ cap: string; data: Buffer }> {
  const name = path.basename(client.directory);
  await waitForServers(client, `${name} to see every server`);
  const st = statusesByNickname(client);
  assert.deepEqual([...st.keys()].sort(), [...SERVER_NAMES].sort(), 'the introducer told the client about every server');
  for (const n of SERVER_NAMES) assert.equal(st.get(n)?.transport, expect[n], `${name} reaches ${n} via ${expect[n]}`);
  const intro = client.status().introducers[0];
  assert.equal(intro.connected, true);
  assert.equal(intro.transport, introducerVia, `${name} reaches the introducer via ${introducerVia}`);

  const result = await roundTrip(client, FILE_SIZE);
  log(`${name}: ${FILE_SIZE} bytes up in ${result.uploadMs} ms, down in ${result.downloadMs} ms over ${result.servers} servers`);
  assert.equal(result.servers, SERVER_NAMES.length);
  for (const n of SERVER_NAMES) assert.equal(await sharesHeld(server(n).directory, result.storageIndex), 1, `${n} holds one share of ${name}'s file`);
  return { cap: result.cap, data: result.data };
}

before(async () => {
  scope = await openTorGrid('tahoe-ts-tor-launch-servers-');
  const s = scope;
  const introDir = await makeNode(path.join(s.root, 'introducer'), { command: 'create-introducer', listen: ['tcp'], hostname: 'localhost' });
  const introducer = await s.start(introDir);
  assert.ok(introducer.introducerFurl);
  introducerFurl = introducer.introducerFurl;
  const joinNetwork = { section: 'tor', key: 'launch.extra_torrc', value: s.network.networkTorrc };

  const s2Dir = path.join(s.root, S2);
  await makeNode(s2Dir, { command: 'create-node', nickname: S2, introducer: introducerFurl, listen: ['tcp', 'tor'], hostname: 'localhost', torLaunch: true }, [joinNetwork]);
  // Written by create-node --listen=tor --hide-ip --tor-launch, then rewritten in the original language.
  // Written by create-node --listen=tcp, then given an onion in the original language and a tor of its own.
  const s2OriginalDir = path.join(s.root, S2_ORIGINAL);
  await makeNode(s2OriginalDir, { command: 'create-node', nickname: S2_ORIGINAL, introducer: introducerFurl, listen: ['tcp'], hostname: 'localhost' }, [
    { section: 'node', key: 'tub.location', value: `AUTODETECT,onion:80:hiddenServiceDir=${hiddenServiceDirOf(s2OriginalDir)}` },
    { section: 'tor', key: 'launch', value: 'true' },
    joinNetwork,
  ]);
  const s3Dir = path.join(s.root, S3);
  await makeNode(s3Dir, { command: 'create-node', nickname: S3, introducer: introducerFurl, listen: ['tor'], hideIp: true, torLaunch: true }, [
    ...originalOnionOnlyEdits(hiddenServiceDirOf(s3Dir)),
    joinNetwork,
  ]);
  serverDirs.set(S2, s2Dir).set(S2_ORIGINAL, s2OriginalDir).set(S3, s3Dir);
  for (const dir of serverDirs.values()) assert.match(await readFile(path.join(dir, 'tahoe.cfg'), 'utf8'), /^launch = true$/m, `${path.basename(dir)}: [tor] launch = true`);
  for (const dir of [s2OriginalDir, s3Dir]) await assert.rejects(stat(hiddenServiceDirOf(dir)), { code: 'ENOENT' }, 'the node itself creates its hidden-service directory');
  await Promise.all(SERVER_NAMES.map(async (name) => servers.set(name, await s.start(serverDirs.get(name) as string))));

  const shares = { sharesNeeded: SERVER_NAMES.length, sharesHappy: SERVER_NAMES.length, sharesTotal: SERVER_NAMES.length };
  const socks = { section: 'tor', key: 'socks.port', value: s.socksPort };
  const [c2, c3] = await Promise.all([
    makeNode(path.join(s.root, 'UC2'), { command: 'create-client', nickname: 'UC2', introducer: introducerFurl, ...shares }, [socks]),
    makeNode(path.join(s.root, 'UC3'), { command: 'create-client', nickname: 'UC3', introducer: introducerFurl, ...shares }, [...ANONYMIZE_EDITS, socks]),
  ]);
  [uc2, uc3] = await Promise.all([s.start(c2), s.start(c3)]);
});

after(async () => {
  await scope?.close();
});

test('announcements: both S2 pb:// and pb+tor:// NURLs, S3 onion only; each launched tor keeps its state in the node\'s private/', async () => {
  // S2: the TCP port and the onion address create-node wrote to tub.location.
  const s2 = server(S2);
  const s2Cfg = await readFile(path.join(s2.directory, 'tahoe.cfg'), 'utf8');
  const s2Location = /^tub\.location = tcp:localhost:(\d+),tor:([a-z2-7]{56}\.onion):3457$/m.exec(s2Cfg);
  assert.ok(s2Location, `create-node --listen=tcp,tor writes both hints: ${/^tub\.location.*$/m.exec(s2Cfg)?.[0]}`);
  assert.equal(s2.storageNurls.length, 2, s2.storageNurls.join(' '));
  const s2Tcp = s2.storageNurls.filter((n) => n.startsWith('pb://'));
  const s2Onion = s2.storageNurls.filter((n) => n.startsWith('pb+tor://'));
  assert.equal(s2Tcp.length, 1);
  assert.match(s2Tcp[0], new RegExp(`^pb://[A-Za-z0-9_-]{43}@localhost:${s2Location[1]}/[a-z2-7]+#v=1$`));
  assert.equal(s2Onion.length, 1);
  assert.equal(onionOf(s2Onion[0]), s2Location[2], 'S2 announces the onion of the key create-node made');
  assert.match(s2Onion[0], /:3457\//);
  assert.deepEqual(await furlHintKinds(s2), ['tcp', 'tor']);

  // S2 in the original language: AUTODETECT announces every local IPv4 address (127.0.0.1
  // among them) with the tub port; the onion item the address of its hidden-service directory, port 80.
  const s2o = server(S2_ORIGINAL);
  const s2oCfg = await readFile(path.join(s2o.directory, 'tahoe.cfg'), 'utf8');
  const s2oPort = /^tub\.port = tcp:(\d+)$/m.exec(s2oCfg)?.[1];
  assert.ok(s2oPort, `create-node --listen=tcp writes a TCP tub.port: ${/^tub\.port.*$/m.exec(s2oCfg)?.[0]}`);
  const s2oTcp = s2o.storageNurls.filter((n) => n.startsWith('pb://'));
  const s2oOnion = s2o.storageNurls.filter((n) => n.startsWith('pb+tor://'));
  assert.equal(s2oTcp.length + s2oOnion.length, s2o.storageNurls.length, s2o.storageNurls.join(' '));
  const s2oHosts = s2oTcp.map((n) => {
    const m = new RegExp(`^pb://[A-Za-z0-9_-]{43}@([0-9.]+):${s2oPort}/[a-z2-7]+#v=1$`).exec(n);
    assert.ok(m, `a pb:// NURL with the tub port ${s2oPort}: ${n}`);
    return m[1];
  });
  assert.deepEqual(s2oHosts.sort(), localIpv4Addresses().sort(), 'AUTODETECT: one pb:// NURL for each local IPv4 address');
  assert.ok(s2oHosts.includes('127.0.0.1'), 'a pb://…@127.0.0.1:PORT NURL');
  assert.equal(s2oOnion.length, 1);
  assert.equal(onionOf(s2oOnion[0]), await checkHiddenServiceDir(hiddenServiceDirOf(s2o.directory)), 'S2-original announces the address in its hidden-service directory');
  assert.match(s2oOnion[0], /:80\//);
  assert.deepEqual(await furlHintKinds(s2o), ['tcp', 'tor']);

  // S3: onion NURLs only, the address of its hidden-service directory, port 80.
  const s3 = server(S3);
  assert.ok(s3.storageNurls.length >= 1);
  for (const n of s3.storageNurls) assert.match(n, /^pb\+tor:\/\//, `S3 announces onion NURLs only: ${n}`);
  const hostname = await checkHiddenServiceDir(hiddenServiceDirOf(s3.directory));
  for (const n of s3.storageNurls) {
    assert.equal(onionOf(n), hostname, 'S3 announces the address in its hidden-service directory');
    assert.match(n, /:80\//);
  }
  assert.deepEqual(await furlHintKinds(s3), ['tor']);
  assert.ok(s3.listenerInfo().every((l) => /127\.0\.0\.1/.test(l.description)), `S3 listens on loopback only: ${JSON.stringify(s3.listenerInfo())}`);


  // Each server runs a tor of its own, with its DataDirectory and control socket in private/.
  const pids = new Set<number>();
  for (const name of SERVER_NAMES) {
    const node = server(name);
    const pid = launchedTorPid(node);
    assert.ok(isAlive(pid));
    pids.add(pid);
    const argv = await argvOf(pid);
    const dataDir = argv[argv.indexOf('--DataDirectory') + 1];
    assert.equal(dataDir, path.join(node.directory, 'private', 'tor-statedir'), `${name}'s tor keeps its state under private/: ${argv.join(' ')}`);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.ok((await readdir(dataDir)).includes('lock'), `${name}'s tor holds the lock of its DataDirectory`);
    assert.ok(argv.includes(`unix:${path.join(node.directory, 'private', 'tor.control')}`), `${name}'s tor control socket is in private/: ${argv.join(' ')}`);
    assert.ok(argv.includes(scope.network.networkTorrc), `${name}'s tor joins the private network (--defaults-torrc)`);
  }
  assert.equal(pids.size, SERVER_NAMES.length, 'a different tor for each server');
});

test('UC2 (socks.port): both S2 directly over TCP, S3 through Tor; one share on each', { timeout: 420_000 }, async () => {
  await checkClient(uc2, { [S2]: 'tcp', [S2_ORIGINAL]: 'tcp', [S3]: 'tor' }, 'tcp');
  const tor = uc2.status().transports.find((t) => t.name === 'tor');
  assert.ok(tor?.ready, `UC2 uses the network's tor: ${JSON.stringify(tor)}`);
});

test('UC3 (anonymize = true): every server through Tor; one share on each', { timeout: 420_000 }, async () => {
  uc3File = await checkClient(uc3, { [S2]: 'tor', [S2_ORIGINAL]: 'tor', [S3]: 'tor' }, 'tor');
  assert.doesNotMatch(await nodeLog(uc3.directory), /via tcp/, 'no connection of UC3 went via tcp');
});

test('S3 stops (its tor with it) and starts again: same onion address, the UC3 file is read back', { timeout: 720_000 }, async () => {
  assert.ok(uc3File, 'UC3 stored a file before the restart');
  const before = server(S3);
  const nurlsBefore = [...before.storageNurls];
  const hsDir = hiddenServiceDirOf(before.directory);
  const keyBefore = await readFile(path.join(hsDir, 'hs_ed25519_secret_key'));
  const torBefore = launchedTorPid(before);
  const grid = uc3.services.grid;
  assert.ok(grid);
  // What UC3 saw of S3 meanwhile, with the time since the stop: the evidence when the wait below is slow.
  const t0 = Date.now();
  const timeline: string[] = [];
  const stopListening = grid.onServerEvent((event) => {
    if (event.serverId !== before.serverId || event.type === 'changed') return;
    timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${event.type}${event.type === 'disconnected' && event.error !== undefined ? `: ${event.error}` : ''}`);
  });
  try {
    await before.stop();
    assert.equal(isAlive(torBefore), false, 'the launched tor of the stopped server is gone');
    await waitFor(() => statusesByNickname(uc3).get(S3)?.connected !== true, 60_000, () => 'UC3 to notice S3 is gone');
    timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s UC3 noticed; starting S3 again`);

    const again = await scope.start(before.directory);
    servers.set(S3, again);
    timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s S3 started`);
    const torAfter = launchedTorPid(again);
    assert.notEqual(torAfter, torBefore, 'a new tor');
    assert.ok(isAlive(torAfter));
    assert.deepEqual([...again.storageNurls], nurlsBefore, 'the same onion NURLs are announced');
    assert.ok((await readFile(path.join(hsDir, 'hs_ed25519_secret_key'))).equals(keyBefore), 'the key in the hidden-service directory is kept');

    // The network's tor may still hold the old descriptor and its dead introduction points: retry until it uses the new one.
    const file = uc3File;
    let lastError = '';
    await waitFor(
      async () => {
        if (statusesByNickname(uc3).get(S3)?.connected !== true) return false;
        try {
          return (await downloadBytes(uc3, file.cap)).equals(file.data);
        } catch (e) {
          lastError = String(e);
          timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s download failed: ${lastError}`);
          return false;
        }
      },
      AFTER_RESTART_TIMEOUT_MS,
      () => `UC3 to read its file from the restarted S3: ${lastError} ${describeStatuses(uc3)}`,
    ).catch(async (e: unknown) => {
      throw await failureReport(uc3, e);
    });
    log(`S3 restarted and the UC3 file read back in ${Date.now() - t0} ms`);
    assert.equal(statusesByNickname(uc3).get(S3)?.transport, 'tor');
    assert.deepEqual([...again.storageNurls], nurlsBefore);
  } finally {
    stopListening();
    log(`UC3's view of S3 from its stop on:\n#   ${timeline.join('\n#   ')}`);
  }
});

test('stopping a server stops the tor it launched', async () => {
  for (const name of SERVER_NAMES) {
    const node = server(name);
    const pid = launchedTorPid(node);
    assert.ok(isAlive(pid));
    await node.stop();
    assert.equal(isAlive(pid), false, `${name}'s launched tor (pid ${pid}) is gone`);
  }
});
