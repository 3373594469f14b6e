/**
 * An I2P-only grid, end to end on one offline i2pd (issue "Native I2P" items 3–4;
 * configuration.md §2 `[i2p]`, §3/§3a privacy spellings, §4 `--listen=i2p`;
 * anonymity-checklist G-1):
 *
 * - the introducer is an I2P destination only (`create-introducer --listen=i2p`): its fURL
 *   names one `i2p:` hint and its NURL is `pb+i2p`;
 * - three storage servers: `--listen=i2p --hide-ip` (1.20 spelling, `[connections] tcp =
 *   disabled`, no Tor at all), `--listen=i2p` with `anonymize = true` (original spelling), and
 *   `--listen=tcp,i2p` run as a separate `tahoe-ts run` process;
 * - every announcement carries one `pb+i2p://…b32.i2p:3457/…#v=1` NURL and an `i2p:` fURL
 *   hint per I2P listener (the tcp,i2p server: a `pb://` NURL and a `tcp:` hint too);
 * - two anonymized clients (one per spelling, no Tor, `tcp = disabled`) connect to all three
 *   servers over I2P only — the tcp,i2p server too — and the welcome JSON says `i2p` per
 *   server; one uploads (a share on every server), the other downloads the same cap.
 *
 * Session waves (20 s each on i2pd 2.45): the introducer's destination; then, all at once,
 * each server's destination and client session and each client's session.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createNode } from '../../../src/config/create.js';
import { editTahoeCfg } from '../../../src/config/keys.js';
import type { CfgEdit } from '../../../src/config/cfg.js';
import { bytesSource } from '../../../src/immutable/source.js';
import { parseAnnouncementCache } from '../../../src/introducer/cache.js';
import type { TahoeNode } from '../../../src/node/node.js';
import { freePort } from '../../helpers/ports.js';
import { spawnRun } from '../../node/processes.js';
import { makeNode, sharesHeld, statusesByNickname, waitFor } from '../tor/tor-grid.js';
import { B32, I2P_RUN_TIMING, hintsOfFurl, i2pdMissing, log, openI2pGrid, type I2pGridScope } from './i2p-grid.js';

const skip = i2pdMissing();
let scope: I2pGridScope | undefined;

before(async () => {
  if (skip === undefined) scope = await openI2pGrid('tahoe-ts-i2p-grid-');
});
after(async () => {
  await scope?.close();
});

const NO_TOR: CfgEdit = { section: 'tor', key: 'enabled', value: 'false' };
const TCP_DISABLED: CfgEdit = { section: 'connections', key: 'tcp', value: 'disabled' };
/** The original design's spelling: anonymize = true (and no reveal-IP-address, which would contradict it). */
const ANONYMIZE: CfgEdit[] = [
  { section: 'node', key: 'anonymize', value: 'true' },
  { section: 'node', key: 'reveal-IP-address', value: null },
];

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get(new URL('/?t=json', url), { agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
          } catch (e) {
            reject(e as Error);
          }
        });
      })
      .on('error', reject);
  });
}

test('an I2P-only grid: I2P introducer and servers (in process and tahoe-ts run), anonymized clients in both spellings', { skip, timeout: 600_000 }, async (t) => {
  const s = scope as I2pGridScope;
  let passed = false;
  t.after(async () => {
    if (!passed) await s.dumpRouterLog();
  });

  // --- the introducer: an I2P destination only
  const introDir = await makeNode(path.join(s.root, 'introducer'), { command: 'create-introducer', listen: ['i2p'], i2pSamPort: s.samPort }, [...s.i2pEdits(), NO_TOR]);
  const introducer = await s.start(introDir);
  const furl = introducer.introducerFurl as string;
  assert.equal(introducer.introducerNurls.length, 1);
  assert.equal(furl, introducer.introducerNurls[0], 'the introducer\'s private/introducer.furl names its I2P destination only');
  assert.match(furl, new RegExp(`^pb\\+i2p://[A-Za-z0-9_-]{43}@${B32}:3457/[a-z2-7]+#v=1$`));
  assert.ok(introducer.listenerInfo().every((l) => l.transport === 'i2p'));
  const introKey = await stat(path.join(introDir, 'private', 'i2p_dest.privkey'));
  assert.equal(introKey.mode & 0o777, 0o600, 'the destination key file is 0600');

  // --- servers and clients, started all at once (one session wave)
  const root = s.root;
  const shares = { sharesNeeded: 2, sharesHappy: 3, sharesTotal: 3 };
  const s1Dir = await makeNode(path.join(root, 'S1-hide-ip'), { command: 'create-node', nickname: 'S1-hide-ip', introducer: furl, listen: ['i2p'], hideIp: true, i2pSamPort: s.samPort }, [...s.i2pEdits(), NO_TOR, TCP_DISABLED]);
  const s2Dir = await makeNode(path.join(root, 'S2-anonymize'), { command: 'create-node', nickname: 'S2-anonymize', introducer: furl, listen: ['i2p'], i2pSamPort: s.samPort }, [...s.i2pEdits(), ...ANONYMIZE, TCP_DISABLED]);
  const s3Dir = path.join(root, 'S3-tcp-i2p');
  const s3 = await createNode({ directory: s3Dir, command: 'create-node', nickname: 'S3-tcp-i2p', introducer: furl, listen: ['tcp', 'i2p'], hostname: '127.0.0.1', i2pSamPort: s.samPort, webport: 'none' });
  const s3TcpPort = Number(/^tcp:(\d+),listen:i2p$/.exec(s3.tubPort)?.[1]);
  assert.ok(s3TcpPort > 0, `tub.port of --listen=tcp,i2p: ${s3.tubPort}`);
  // The user binds the TCP listener to loopback (tests never listen on every interface).
  await editTahoeCfg(s3Dir, [{ section: 'storage', key: 'reserved_space', value: '0' }, { section: 'node', key: 'tub.port', value: `tcp:${s3TcpPort}:interface=127.0.0.1,listen:i2p` }, ...s.i2pEdits(), NO_TOR]);
  const webPort = await freePort();
  const c1Dir = await makeNode(path.join(root, 'C1-hide-ip'), { command: 'create-client', nickname: 'C1-hide-ip', introducer: furl, hideIp: true, webport: `tcp:${webPort}:interface=127.0.0.1`, ...shares }, [...s.i2pEdits(), NO_TOR, TCP_DISABLED]);
  const c2Dir = await makeNode(path.join(root, 'C2-anonymize'), { command: 'create-client', nickname: 'C2-anonymize', introducer: furl, ...shares }, [...s.i2pEdits(), ...ANONYMIZE, TCP_DISABLED]);

  const { createWebGateway } = await import('../../../src/web/gateway.js');
  const started = Date.now();
  const s3Run = spawnRun(t, s3Dir, { TAHOE_TS_TEST_TIMING: I2P_RUN_TIMING });
  const [, , c1, c2] = await Promise.all([
    s.start(s1Dir),
    s.start(s2Dir),
    s.start(c1Dir, { webGateway: createWebGateway }),
    s.start(c2Dir),
    s3Run.waitFor(/storage announced with 2 NURLs/, 180_000),
  ]);
  log(`servers and clients up in ${Date.now() - started} ms`);

  // --- both clients reach all three servers, over I2P only
  for (const client of [c1, c2] as TahoeNode[]) {
    const grid = client.services.grid;
    assert.ok(grid);
    await waitFor(() => grid.serverStatuses().filter((x) => x.connected).length === 3, 240_000, () => `${client.config.node.nickname}: ${JSON.stringify(grid.serverStatuses().map((x) => [x.nickname, x.connected, x.lastError]))}`);
    const statuses = statusesByNickname(client);
    for (const name of ['S1-hide-ip', 'S2-anonymize', 'S3-tcp-i2p']) assert.equal(statuses.get(name)?.transport, 'i2p', `${client.config.node.nickname} reaches ${name} over I2P`);
    assert.equal(client.status().introducers[0].transport, 'i2p');
  }
  log(`clients connected to every server ${Date.now() - started} ms after the start`);

  // --- the welcome JSON shows the transport per server
  const welcome = (await getJson(c1.webUrl as string)) as { servers: Array<{ nickname: string; transport: string | null; connection_status: string }> };
  assert.equal(welcome.servers.length, 3);
  for (const server of welcome.servers) {
    assert.equal(server.transport, 'i2p', `${server.nickname} in the welcome JSON`);
    assert.equal(server.connection_status, 'Connected via i2p');
  }

  // --- what the introducer handed out: pb+i2p NURLs and i2p: fURL hints (+ tcp for S3)
  const cacheFile = path.join(c1Dir, 'private', 'introducer_default_cache.yaml');
  await waitFor(async () => parseAnnouncementCache(await readFile(cacheFile, 'utf8').catch(() => '[]'), cacheFile).entries.length === 3, 30_000, () => 'the announcement cache');
  const announcements = new Map(parseAnnouncementCache(await readFile(cacheFile, 'utf8'), cacheFile).entries.map((e) => [e.ann.nickname as string, e.ann]));
  const shape = (values: string[]) => values.map((v) => v.replace(new RegExp(B32), 'B32').replace(/^(pb(\+i2p)?:\/\/)[A-Za-z0-9_-]{43}@/, '$1SPKI@').replace(/\/[a-z2-7]{32}(#v=1)?$/, '/SWISS$1').replace(/^pb:\/\/[a-z2-7]{32}@/, 'pb://TUB@'));
  for (const name of ['S1-hide-ip', 'S2-anonymize']) {
    const ann = announcements.get(name);
    assert.ok(ann, name);
    assert.deepEqual(shape(ann['anonymous-storage-NURLs'] as string[]), ['pb+i2p://SPKI@B32:3457/SWISS#v=1'], `${name}: one pb+i2p NURL`);
    assert.deepEqual(shape(hintsOfFurl(ann['anonymous-storage-FURL'] as string)), ['i2p:B32:3457'], `${name}: the fURL keeps the i2p: hint for Tahoe 1.20 peers`);
  }
  const s3Ann = announcements.get('S3-tcp-i2p');
  assert.ok(s3Ann);
  assert.deepEqual(shape(s3Ann['anonymous-storage-NURLs'] as string[]), [`pb://SPKI@127.0.0.1:${s3TcpPort}/SWISS#v=1`, 'pb+i2p://SPKI@B32:3457/SWISS#v=1']);
  assert.deepEqual(shape(hintsOfFurl(s3Ann['anonymous-storage-FURL'] as string)), [`tcp:127.0.0.1:${s3TcpPort}`, 'i2p:B32:3457']);
  assert.equal(hintsOfFurl(s3Ann['anonymous-storage-FURL'] as string)[1], s3.tubLocation.split(',')[1], 'S3 announces the destination create-node wrote');

  // --- one client uploads, a share lands on every server; the other client reads it back
  const data = randomBytes(300_000);
  const grid1 = (c1 as TahoeNode).services.grid;
  const grid2 = (c2 as TahoeNode).services.grid;
  assert.ok(grid1 && grid2);
  const t0 = Date.now();
  const up = await grid1.uploadImmutable(bytesSource(data), data.length);
  const uploadMs = Date.now() - t0;
  assert.ok(up.storageIndex);
  for (const dir of [s1Dir, s2Dir, s3Dir]) assert.equal(await sharesHeld(dir, up.storageIndex), 1, `${path.basename(dir)} holds one share`);
  const t1 = Date.now();
  const parts: Buffer[] = [];
  for await (const chunk of (await grid2.downloadImmutable(up.cap)).stream) parts.push(Buffer.from(chunk));
  assert.ok(Buffer.concat(parts).equals(data), 'the second client reads the file back over I2P');
  log(`300 kB over I2P: upload ${uploadMs} ms (client 1), download ${Date.now() - t1} ms (client 2)`);

  s3Run.child.kill('SIGTERM');
  assert.equal((await s3Run.exited).code, 0, 'tahoe-ts run stops cleanly (its I2P sessions closed)');
  passed = true;
});

