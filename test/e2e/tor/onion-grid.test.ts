/**
 * Server use case 3 and an onion introducer, end to end on a private Tor network
 * (shared/seed "server use case 3"; configuration.md §3, §3a, §4 `--listen=tor --hide-ip`;
 * anonymity-checklist AN-1.3, AN-5):
 *
 * - the introducer is an onion service only (create-introducer --listen=tor --hide-ip):
 *   its private/introducer.furl holds one `pb+tor` NURL, nothing else; a UC3 client given
 *   that file's content reaches it through Tor;
 * - an onion-only server in the 1.20 language runs as a separate `tahoe-ts run` process,
 *   and `ss` shows that this process listens on loopback only; another one in the original
 *   language (`anonymize = true`, `tub.location = onion:80:hiddenServiceDir=…`) in process;
 * - every announcement carries `pb+tor://…onion:PORT/…#v=1` NURLs and `tor:` fURL hints,
 *   nothing else;
 * - after full restarts (the `tahoe-ts run` process, the in-process node, the introducer)
 *   every onion address is the same, the key files are 0600 (directories 0700), and the
 *   file uploaded before is downloaded again;
 * - when the system tor under a running onion-only server restarts, the server reconnects
 *   to it and re-adds its onion service: clients reach it again at the same address.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bytesSource } from '../../../src/immutable/source.js';
import { parseAnnouncementCache } from '../../../src/introducer/cache.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { launchTor, type LaunchTorOptions } from '../../../src/net/tor/launch.js';
import { spawnRun, type RunningProcess } from '../../node/processes.js';
import { storageAnnouncementFor } from '../../../src/cli/commands/admin.js';
import { formatServersYaml } from '../../../src/storage/announcement.js';
import { log, makeNode, openTorGrid, originalOnionOnlyEdits, statusesByNickname, waitFor, type TorGridScope } from './tor-grid.js';

const ONION = /^[a-z2-7]{56}\.onion$/;
const RUN_TIMING = JSON.stringify({
  introducer: { refreshIntervalMs: 3_000, warmupMs: 1_000, maxPollWaitMs: 5_000 },
  introducerClient: { pollWaitMs: 5_000, minBackoffMs: 300, maxBackoffMs: 3_000, connectTimeoutMs: 60_000, requestTimeoutMs: 60_000 },
  grid: { pollIntervalMs: 3_000, minBackoffMs: 300, maxBackoffMs: 3_000, probeTimeoutMs: 60_000 },
});

let scope: TorGridScope;

before(async () => {
  scope = await openTorGrid('tahoe-ts-tor-onion-grid-');
});
after(async () => {
  await scope?.close();
});

/** Only the loopback addresses this PID listens on (TCP and UDP), from `ss`. */
function listeningAddresses(pid: number): string[] {
  const out = execFileSync('ss', ['-ltunpH'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[4]);
}

function hintsOfFurl(furl: string): string[] {
  const m = /^pb:\/\/[^@]+@([^/]*)\//.exec(furl);
  assert.ok(m, `a fURL: ${furl.slice(0, 12)}…`);
  return m[1].split(',');
}

async function runServer(t: TestContext, directory: string): Promise<RunningProcess> {
  const proc = spawnRun(t, directory, { TAHOE_TS_TEST_TIMING: RUN_TIMING });
  await proc.waitFor(/storage announced with 1 NURL/, 120_000);
  return proc;
}

test('server use case 3 and an onion introducer: onion-only announcements, loopback-only listeners, same addresses after restarts', { timeout: 600_000 }, async (t) => {
  const s = scope;

  // --- the introducer, an onion service only
  const introDir = await makeNode(path.join(s.root, 'introducer'), { command: 'create-introducer', listen: ['tor'], hideIp: true, torControlPort: s.controlPort });
  const introducer = await s.start(introDir);
  const furl = (await readFile(path.join(introDir, 'private', 'introducer.furl'), 'utf8')).trim();
  const nurls = furl.split('\n');
  assert.equal(nurls.length, 1, 'the introducer has one location');
  assert.match(nurls[0], /^pb\+tor:\/\/[^@]+@[a-z2-7]{56}\.onion:3457\/[a-z2-7]+#v=1$/, 'the introducer\'s private/introducer.furl names its onion service only, as a pb+tor NURL');
  assert.deepEqual(nurls, [...introducer.introducerNurls]);
  assert.ok(introducer.listenerInfo().every((l) => /127\.0\.0\.1/.test(l.description)));

  // --- S3 in the 1.20 language, as its own `tahoe-ts run` process
  const s3Dir = await makeNode(path.join(s.root, 'S3-1.20'), { command: 'create-node', nickname: 'S3-1.20', listen: ['tor'], hideIp: true, torControlPort: s.controlPort, introducer: furl });
  const s3Cfg = await readFile(path.join(s3Dir, 'tahoe.cfg'), 'utf8');
  assert.match(s3Cfg, /^reveal-IP-address = false$/m);
  assert.match(s3Cfg, /^tcp = tor$/m);
  assert.match(s3Cfg, /^tub\.port = tcp:\d+:interface=127\.0\.0\.1$/m);
  let s3 = await runServer(t, s3Dir);
  const s3Pid = s3.child.pid as number;
  const bound = listeningAddresses(s3Pid);
  assert.ok(bound.length >= 1, `the server process listens (${bound.join(' ')})`);
  assert.ok(bound.every((a) => /^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(a)), `the onion-only server listens on loopback only: ${bound.join(' ')}`);
  const s3Key = path.join(s3Dir, 'private', 'tor_onion.privkey');
  assert.equal((await stat(s3Key)).mode & 0o777, 0o600);

  // --- S3 in the original language, in process
  const s3oDir = path.join(s.root, 'S3-original');
  const hsDir = path.join(s3oDir, 'private', 'hidden-service');
  await makeNode(s3oDir, { command: 'create-node', nickname: 'S3-original', listen: ['tor'], hideIp: true, torControlPort: s.controlPort, introducer: furl }, originalOnionOnlyEdits(hsDir));
  const s3o = await s.start(s3oDir);
  assert.ok(s3o.listenerInfo().every((l) => /127\.0\.0\.1/.test(l.description)), JSON.stringify(s3o.listenerInfo()));
  const hsAddress = (await readFile(path.join(hsDir, 'hostname'), 'utf8')).trim();
  assert.match(hsAddress, ONION);
  assert.equal((await stat(hsDir)).mode & 0o777, 0o700);
  for (const f of ['hs_ed25519_secret_key', 'hs_ed25519_public_key', 'hostname']) assert.equal((await stat(path.join(hsDir, f))).mode & 0o777, 0o600, f);
  assert.ok(s3o.storageNurls.every((n) => n.includes(`@${hsAddress}:80/`)), 'the original-language server announces its hiddenServiceDir address, port 80');

  // --- a UC3 client given the introducer's fURL (its only hint is the onion service)
  const clientDir = await makeNode(path.join(s.root, 'UC3'), { command: 'create-client', hideIp: true, introducer: furl, sharesNeeded: 2, sharesHappy: 2, sharesTotal: 2 }, [{ section: 'tor', key: 'socks.port', value: s.socksPort }]);
  const client = await s.start(clientDir);
  const grid = client.services.grid;
  assert.ok(grid);
  await waitFor(() => grid.serverStatuses().filter((x) => x.connected).length === 2, 120_000, () => JSON.stringify(grid.serverStatuses().map((x) => [x.nickname, x.connected, x.lastError])));
  assert.equal(client.status().introducers[0].transport, 'tor');
  assert.ok([...statusesByNickname(client).values()].every((x) => x.transport === 'tor'));

  // What the introducer handed out: onion NURLs and tor: hints, nothing that names an IP address.
  const cacheFile = path.join(clientDir, 'private', 'introducer_default_cache.yaml');
  await waitFor(async () => parseAnnouncementCache(await readFile(cacheFile, 'utf8').catch(() => '[]'), cacheFile).entries.length === 2, 30_000, () => 'the announcement cache');
  const announcements = parseAnnouncementCache(await readFile(cacheFile, 'utf8'), cacheFile).entries.map((e) => e.ann);
  const announcedOnions = new Map<string, string>();
  for (const ann of announcements) {
    const annNurls = ann['anonymous-storage-NURLs'] as string[];
    assert.ok(annNurls.length >= 1);
    for (const n of annNurls) assert.match(n, /^pb\+tor:\/\/[^@]+@[a-z2-7]{56}\.onion:(3457|80)\/[a-z2-7]+#v=1$/);
    const hints = hintsOfFurl(ann['anonymous-storage-FURL'] as string);
    for (const h of hints) assert.match(h, /^tor:[a-z2-7]{56}\.onion:(3457|80)$/);
    announcedOnions.set(ann.nickname as string, hints[0]);
  }
  assert.equal(announcedOnions.get('S3-original'), `tor:${hsAddress}:80`);

  const data = randomBytes(400_000);
  const up = await grid.uploadImmutable(bytesSource(data), data.length, { randomKey: true });
  assert.equal(up.servers, 2);
  const readBack = async (): Promise<Buffer> => {
    const { stream } = await grid.downloadImmutable(up.cap);
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(Buffer.from(c));
    return Buffer.concat(parts);
  };
  assert.ok((await readBack()).equals(data));

  // --- full restarts: the `tahoe-ts run` server, the in-process server, the introducer
  const t0 = Date.now();
  s3.child.kill('SIGTERM');
  assert.equal((await s3.exited).code, 0, 'the server stops cleanly on SIGTERM');
  await s3o.stop();
  await introducer.stop();
  await waitFor(() => grid.serverStatuses().every((x) => !x.connected), 60_000, () => 'the client to notice the servers are gone');
  assert.equal((await stat(s3Key)).mode & 0o777, 0o600);

  await s.start(introDir);
  assert.equal((await readFile(path.join(introDir, 'private', 'introducer.furl'), 'utf8')).trim(), furl, 'the introducer keeps its onion address (and NURL)');
  s3 = await runServer(t, s3Dir);
  await s.start(s3oDir);
  assert.equal((await readFile(path.join(hsDir, 'hostname'), 'utf8')).trim(), hsAddress);
  await waitFor(() => grid.serverStatuses().filter((x) => x.connected).length === 2, 120_000, () => JSON.stringify(grid.serverStatuses().map((x) => [x.nickname, x.connected, x.lastError])));
  log(`servers and introducer restarted and reconnected in ${Date.now() - t0} ms`);
  // A connection attempt that started while the onion service was away can hang until tor
  // gives up on the old introduction points (one connect timeout, 60 s): allow for one.
  await waitFor(() => client.status().introducers[0].connected, 150_000, () => 'the client to reconnect to the introducer');
  const after = parseAnnouncementCache(await readFile(cacheFile, 'utf8'), cacheFile).entries.map((e) => e.ann);
  for (const ann of after) {
    assert.equal(hintsOfFurl(ann['anonymous-storage-FURL'] as string)[0], announcedOnions.get(ann.nickname as string), `${String(ann.nickname)} kept its onion address`);
  }
  assert.ok((await readBack()).equals(data), 'the file is read back from the restarted servers');
  assert.ok(listeningAddresses(s3.child.pid as number).every((a) => /^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(a)));
  s3.child.kill('SIGTERM');
  assert.equal((await s3.exited).code, 0);
});

test('the system tor restarts under a running onion-only server: the node reconnects, re-adds its onion, clients reach it again', { timeout: 300_000 }, async () => {
  const s = scope;
  // "The system tor" of this server: a tor of its own that joins the network, with a unix control socket.
  const torDir = path.join(s.root, 'system-tor');
  const launchOptions: LaunchTorOptions = { gate: OPEN_GATE, dataDir: path.join(torDir, 'data'), controlSocketPath: path.join(torDir, 'run', 'control'), extraTorrc: s.network.networkTorrc, bootstrapTimeoutMs: 60_000 };
  let systemTor = await launchTor(launchOptions);
  try {
    const serverDir = await makeNode(path.join(s.root, 'S3-system-tor'), { command: 'create-node', nickname: 'S3-system-tor', listen: ['tor'], hideIp: true, torControlPort: `unix:${launchOptions.controlSocketPath as string}` });
    const server = await s.start(serverDir);
    const onion = server.storageNurls[0];
    assert.match(onion, /^pb\+tor:/);
    const clientDir = await makeNode(path.join(s.root, 'UC3-system-tor'), { command: 'create-client', hideIp: true, sharesNeeded: 1, sharesHappy: 1, sharesTotal: 1 }, [{ section: 'tor', key: 'socks.port', value: s.socksPort }]);
    const { serverId, input } = await storageAnnouncementFor(serverDir);
    await writeFile(path.join(clientDir, 'private', 'servers.yaml'), formatServersYaml(serverId, input), { mode: 0o600 });
    const client = await s.start(clientDir);
    const grid = client.services.grid;
    assert.ok(grid);
    await waitFor(() => grid.serverStatuses()[0]?.connected === true, 120_000, () => JSON.stringify(grid.serverStatuses()));
    const data = randomBytes(200_000);
    const up = await grid.uploadImmutable(bytesSource(data), data.length, { randomKey: true });

    // The system tor restarts (same data directory, same control socket, a new cookie).
    const t0 = Date.now();
    await systemTor.stop();
    await waitFor(() => server.status().transports.some((x) => x.name === 'tor' && !x.ready), 10_000, () => 'the server to notice');
    systemTor = await launchTor(launchOptions);
    await waitFor(() => server.status().transports.some((x) => x.name === 'tor' && x.ready), 60_000, () => JSON.stringify(server.status().transports));
    await waitFor(async () => /onion service .* is back/.test(await nodeLogText(serverDir)), 120_000, () => 'the onion service to be re-added and published');
    log(`system tor restarted; onion service back in ${Date.now() - t0} ms`);
    assert.deepEqual(server.storageNurls, [onion], 'same address');

    // A new connection (the old one died with the old tor) reaches the same onion address.
    await waitFor(async () => {
      try {
        const { stream } = await grid.downloadImmutable(up.cap);
        const parts: Buffer[] = [];
        for await (const c of stream) parts.push(Buffer.from(c));
        return Buffer.concat(parts).equals(data);
      } catch {
        return false;
      }
    }, 180_000, () => `a download after the restart: ${JSON.stringify(grid.serverStatuses())}`);
  } finally {
    await systemTor.stop();
  }
});

async function nodeLogText(directory: string): Promise<string> {
  return readFile(path.join(directory, 'logs', 'tahoe-ts.log'), 'utf8').catch(() => '');
}
