/**
 * Directories and mutable files over the private Tor network, through the CLI (issue
 * "Mutable files (SDMF, MDMF) and directories", "Done when": a directory tree made with
 * the CLI survives a node restart and reads back identically over Tor).
 *
 * The grid hides everyone's IP address: an onion-only introducer and three onion-only
 * storage servers (create-introducer / create-node --listen=tor --hide-ip, in process), and
 * an anonymized client (create-client --hide-ip, reaching Tor through its SOCKS port) that
 * runs as its own `tahoe-ts run` process with a web gateway on loopback. Every command is
 * a separate CLI process talking to that gateway: create-alias, mkdir (SDMF and MDMF), put
 * into paths, put --mutable and an overwrite in place, ln, cp -r of a local tree. Then
 * every node is stopped (the client process, the servers, the introducer) and started
 * again on the same directories (same onion addresses), and the tree is read back: `ls -l`
 * and `ls --json` give the same text as before, every file the same bytes, `cp -r` back to
 * disk the same tree. The client's log shows every connection went through Tor.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { runCli } from '../cli/cli-helper.js';
import { freePort } from '../helpers/ports.js';
import { spawnRun, type RunningProcess } from '../node/processes.js';
import { log, makeNode, openTorGrid, waitFor, type TorGridScope } from './tor/tor-grid.js';
import type { TahoeNode } from '../../src/node/node.js';

const RUN_TIMING = JSON.stringify({
  introducerClient: { pollWaitMs: 5_000, minBackoffMs: 300, maxBackoffMs: 3_000, connectTimeoutMs: 60_000, requestTimeoutMs: 60_000 },
  grid: { pollIntervalMs: 3_000, minBackoffMs: 300, maxBackoffMs: 3_000, probeTimeoutMs: 60_000, readTimeoutMs: 60_000, writeTimeoutMs: 120_000, queryTimeoutMs: 60_000 },
});

let scope: TorGridScope;

before(async () => {
  scope = await openTorGrid('tahoe-ts-tor-mutable-');
});
after(async () => {
  await scope?.close();
});

function gatewayJson(base: string, pathAndQuery: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const u = new URL(pathAndQuery, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
        } catch (e) {
          reject(e as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string, prefix: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${prefix}${name}/`);
      else out.set(`${prefix}${name}`, readFileSync(p));
    }
  };
  walk(dir, '');
  return out;
}

test('a directory tree made with the CLI over Tor survives restarting every node and reads back identically', { timeout: 900_000 }, async (t: TestContext) => {
  const s = scope;
  const introDir = await makeNode(path.join(s.root, 'introducer'), { command: 'create-introducer', listen: ['tor'], hideIp: true, torControlPort: s.controlPort });
  let introducer: TahoeNode = await s.start(introDir);
  const furl = introducer.introducerFurl;
  assert.ok(furl !== undefined && /^pb\+tor:\/\/[A-Za-z0-9_-]{43}@[a-z2-7]{56}\.onion:\d+\/[a-z2-7]+#v=1$/.test(furl), 'an onion-only introducer: one pb+tor NURL');
  const serverDirs = await Promise.all([0, 1, 2].map((i) => makeNode(path.join(s.root, `server-${i}`), {
    command: 'create-node', nickname: `onion-server-${i}`, listen: ['tor'], hideIp: true, torControlPort: s.controlPort, introducer: furl,
  })));
  const servers: TahoeNode[] = await Promise.all(serverDirs.map((dir) => s.start(dir)));
  for (const server of servers) assert.ok(server.storageNurls.every((n) => /^pb\+tor:\/\/[^@]+@[a-z2-7]{56}\.onion:\d+\//.test(n)), 'onion-only storage NURLs');

  const webPort = await freePort();
  const clientDir = await makeNode(path.join(s.root, 'client'), {
    command: 'create-client', nickname: 'anonymous-client', hideIp: true, introducer: furl,
    webport: `tcp:${webPort}:interface=127.0.0.1`, sharesNeeded: 2, sharesHappy: 3, sharesTotal: 3,
  }, [{ section: 'tor', key: 'socks.port', value: s.socksPort }]);
  const base = `http://127.0.0.1:${webPort}`;
  const d = ['-d', clientDir];

  let client: RunningProcess | undefined;
  const startClient = async (): Promise<void> => {
    const started = Date.now();
    client = spawnRun(t, clientDir, { TAHOE_TS_TEST_TIMING: RUN_TIMING });
    await waitFor(async () => {
      try {
        const j = (await gatewayJson(base, '/?t=json')) as { servers: Array<{ connected: boolean; transport?: string }> };
        return j.servers.filter((x) => x.connected && x.transport === 'tor').length === 3;
      } catch {
        return false;
      }
    }, 240_000, () => `the client to reach 3 onion servers through Tor\n${client?.stderr.slice(-2000) ?? ''}`);
    log(`client connected to 3 onion servers in ${Date.now() - started} ms`);
  };
  const stopClient = async (): Promise<void> => {
    const c = client;
    client = undefined;
    if (c === undefined) return;
    c.child.kill('SIGTERM');
    assert.equal((await c.exited).code, 0, 'the client stops cleanly on SIGTERM');
  };
  await startClient();

  const cli = async (args: string[]): Promise<string> => {
    const started = Date.now();
    const r = await runCli([args[0], ...d, ...args.slice(1)]);
    assert.equal(r.code, 0, `tahoe-ts ${args.join(' ')} → ${r.code}\n${r.stderr}\n${client?.stderr.slice(-2000) ?? ''}`);
    log(`${args[0]} ${args.slice(1).filter((a) => !a.startsWith('/') && !a.startsWith('URI:')).join(' ')}: ${Date.now() - started} ms`);
    return r.stdout;
  };

  // ---- the tree, made with the CLI over Tor
  const work = path.join(s.root, 'work');
  const local = path.join(work, 'photos');
  mkdirSync(path.join(local, '2026', 'summer'), { recursive: true });
  writeFileSync(path.join(local, 'index.txt'), 'the photo archive\n');
  writeFileSync(path.join(local, '2026', 'beach.jpg'), randomBytes(180_000));
  writeFileSync(path.join(local, '2026', 'summer', 'notes.md'), '# summer\n');
  const big = randomBytes(300_000);
  writeFileSync(path.join(work, 'big.bin'), big);
  writeFileSync(path.join(work, 'todo.txt'), 'water the plants\n');

  assert.equal(await cli(['create-alias', 'tahoe']), "Alias 'tahoe' created\n");
  assert.match(await cli(['mkdir', 'tahoe:docs']), /^URI:DIR2:/);
  assert.match(await cli(['mkdir', '--format=MDMF', 'tahoe:docs/journal']), /^URI:DIR2-MDMF:/);
  assert.match(await cli(['put', path.join(work, 'big.bin'), 'tahoe:docs/big.bin']), /^URI:CHK:[a-z2-7]+:[a-z2-7]+:2:3:300000\n$/);
  const todoCap = (await cli(['put', '--mutable', path.join(work, 'todo.txt')])).trim();
  assert.match(todoCap, /^URI:SSK:/);
  writeFileSync(path.join(work, 'todo.txt'), 'water the plants\nfeed the cat\n');
  assert.equal((await cli(['put', path.join(work, 'todo.txt'), todoCap])).trim(), todoCap, 'overwritten in place over Tor');
  await cli(['ln', todoCap, 'tahoe:docs/journal/todo.txt']);
  assert.match(await cli(['put', '--format=MDMF', path.join(work, 'todo.txt'), 'tahoe:docs/journal/mdmf-todo.txt']), /^URI:MDMF:/);
  assert.match(await cli(['cp', '-r', local, 'tahoe:']), /^Success: 3 files copied/);

  const listings = async (): Promise<string[]> => [
    await cli(['ls', '-l']),
    await cli(['ls', '-l', 'tahoe:docs']),
    await cli(['ls', '--json', 'tahoe:docs/journal']),
    await cli(['ls', '--json', 'tahoe:photos/2026']),
  ];
  const before = await listings();
  assert.equal(before[0].split('\n').filter((l) => l !== '').length, 2, 'docs and photos');
  assert.match(before[1], /^-r-- 300000 .* big\.bin$/m);
  assert.match(before[1], /^drwx +- .* journal$/m);
  const todoBefore = await cli(['get', 'tahoe:docs/journal/todo.txt']);
  assert.equal(todoBefore, 'water the plants\nfeed the cat\n');

  // ---- restart every node on the same directories (same keys, same onion addresses)
  const t0 = Date.now();
  await stopClient();
  for (const server of servers) await server.stop();
  await introducer.stop();
  introducer = await s.start(introDir);
  assert.equal(introducer.introducerFurl, furl, 'the introducer keeps its onion address');
  await Promise.all(serverDirs.map((dir) => s.start(dir)));
  await startClient();
  log(`every node restarted in ${Date.now() - t0} ms`);

  // ---- the same tree, read back over Tor
  assert.deepEqual(await listings(), before, 'ls -l and ls --json give the same text');
  const bigBack = path.join(work, 'big.back');
  await cli(['get', 'tahoe:docs/big.bin', bigBack]);
  assert.ok(readFileSync(bigBack).equals(big), 'the big file reads back byte for byte');
  assert.equal(await cli(['get', 'tahoe:docs/journal/todo.txt']), todoBefore);
  assert.equal(await cli(['get', todoCap]), todoBefore, 'the mutable file by its cap');
  assert.equal(await cli(['get', 'tahoe:docs/journal/mdmf-todo.txt']), 'water the plants\nfeed the cat\n');
  const restored = path.join(work, 'restored');
  await cli(['cp', '-r', 'tahoe:photos', restored]);
  assert.deepEqual(tree(path.join(restored, 'photos')), tree(local), 'cp -r brings back the same tree');
  // And the tree still changes after the restart.
  writeFileSync(path.join(work, 'todo.txt'), 'done\n');
  await cli(['put', path.join(work, 'todo.txt'), 'tahoe:docs/journal/todo.txt']);
  assert.equal(await cli(['get', todoCap]), 'done\n', 'a put into the path overwrote the linked mutable file in place');

  const clientLog = await readFile(path.join(clientDir, 'logs', 'tahoe-ts.log'), 'utf8');
  assert.match(clientLog, /via tor/);
  assert.doesNotMatch(clientLog, /via tcp/, 'the anonymized client never connected directly');
  await stopClient();
});
