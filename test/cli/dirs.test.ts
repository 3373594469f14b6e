/**
 * The directory verbs of the CLI through real running nodes: an introducer and four
 * storage servers in this process (real create-* directories, TLS on 127.0.0.1), two
 * client nodes as separate `tahoe-ts run` processes, and every command a separate CLI
 * process that finds its node through node.url — the way people use them.
 *
 * Covered: create-alias / list-aliases, mkdir (unlinked, at a path, MDMF), put into a path
 * and from stdin, put --mutable / --format=MDMF, put FILE WRITECAP (same cap), get from
 * paths, ls (plain, -l, -F, -u, --json), cp both ways and within the grid (-r trees
 * compared byte for byte), mv, ln, rm, webopen, the refusals (unknown alias, no such
 * path, a directory without -r) with their exit codes, a tree that reads back identically
 * after the client node restarts, and two nodes writing at the same time: directory
 * changes all survive, racing overwrites of one mutable file never mix and the loser is
 * told (WriteConflict, exit 65).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli, type CliResult } from './cli-helper.js';
import { killAndWait } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { startDemoGrid, TCP_DEMO_NETWORK } from '../../src/cli/commands/demo.js';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { tahoeTsArgv } from '../web/cli-process.js';

function cli(args: string[], stdin?: Buffer): Promise<CliResult> {
  return runCli(args, {}, stdin);
}

async function ok(args: string[], stdin?: Buffer): Promise<string> {
  const r = await cli(args, stdin);
  assert.equal(r.code, 0, `tahoe-ts ${args.join(' ')} → ${r.code}\n${r.stderr}`);
  return r.stdout;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One HTTP request to a gateway (no agent). */
function gatewayRequest(base: string, method: string, pathAndQuery: string, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(pathAndQuery, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file below `dir`, relative path → contents. */
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

interface RunningNode {
  dir: string;
  base: string;
  child: ChildProcess | undefined;
  log: string;
}

test('directory verbs through running client nodes', { timeout: 600_000 }, async (t) => {
  const root = tempDir(t, 'tahoe-ts-dirs-');
  const grid = await startDemoGrid({ network: TCP_DEMO_NETWORK, servers: 4, root: path.join(root, 'grid'), startClient: false });
  t.after(() => grid.close());
  const runArgv = await tahoeTsArgv(t, 'any');
  const nodes: RunningNode[] = [];
  t.after(async () => {
    for (const n of nodes) if (n.child !== undefined) await killAndWait(n.child);
  });

  const start = async (node: RunningNode): Promise<void> => {
    node.log = '';
    const urlFile = path.join(node.dir, 'node.url');
    const child = spawn(process.execPath, [...runArgv, 'run', '-d', node.dir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    node.child = child;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (node.log += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (node.log += d));
    await waitFor('node.url', () => existsSync(urlFile) && child.exitCode === null);
    node.base = readFileSync(urlFile, 'utf8').trim().replace(/\/$/, '');
    await waitFor('4 connected servers', async () => {
      try {
        const j = JSON.parse((await gatewayRequest(node.base, 'GET', '/?t=json')).text) as { servers: Array<{ connected: boolean }> };
        return j.servers.filter((s) => s.connected).length === 4;
      } catch {
        return false;
      }
    });
  };
  const stop = async (node: RunningNode): Promise<void> => {
    const child = node.child;
    node.child = undefined;
    if (child !== undefined) await killAndWait(child);
  };

  const a: RunningNode = { dir: grid.clientDirectory, base: '', child: undefined, log: '' };
  nodes.push(a);
  await start(a);
  const d = ['-d', a.dir];
  const work = tempDir(t, 'tahoe-ts-dirs-files-');
  const big = randomBytes(400_000);
  writeFileSync(path.join(work, 'big.bin'), big);
  writeFileSync(path.join(work, 'notes.txt'), 'first notes\n');

  await t.test('create-alias tahoe; list-aliases; a second create-alias of the same name is refused', async () => {
    assert.equal(await ok(['create-alias', ...d, 'tahoe']), "Alias 'tahoe' created\n");
    const line = readFileSync(path.join(a.dir, 'private', 'aliases'), 'utf8');
    assert.match(line, /^tahoe: URI:DIR2:[a-z2-7]{26}:[a-z2-7]{52}\n$/);
    assert.equal(statSync(path.join(a.dir, 'private', 'aliases')).mode & 0o777, 0o600);
    assert.match(await ok(['list-aliases', ...d]), /^tahoe: URI:DIR2:/);
    const again = await cli(['create-alias', ...d, 'tahoe']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
    assert.match(await ok(['create-alias', ...d, '--format', 'MDMF', 'm']), /created/);
    assert.match(readFileSync(path.join(a.dir, 'private', 'aliases'), 'utf8'), /^m: URI:DIR2-MDMF:/m);
  });

  let notesCap = '';
  await t.test('mkdir, put into paths (parents made, stdin), put --mutable, put FILE WRITECAP keeps the cap', async () => {
    assert.match(await ok(['mkdir', ...d]), /^URI:DIR2:[a-z2-7]+:[a-z2-7]+\n$/, 'unlinked mkdir prints the cap');
    assert.match(await ok(['mkdir', ...d, 'tahoe:docs']), /^URI:DIR2:/);
    assert.match(await ok(['mkdir', ...d, '--format=MDMF', 'tahoe:docs/deep/er']), /^URI:DIR2-MDMF:/);
    assert.match(await ok(['put', ...d, path.join(work, 'big.bin'), 'tahoe:docs/big.bin']), /^URI:CHK:[a-z2-7]+:[a-z2-7]+:3:4:400000\n$/);
    assert.match(await ok(['put', ...d, '-', 'docs/stdin.txt'], Buffer.from('from stdin\n')), /^URI:LIT:/, 'a path without alias is below tahoe:');
    assert.match(await ok(['put', ...d, path.join(work, 'notes.txt'), 'tahoe:new/sub/notes.txt']), /^URI:LIT:/);
    notesCap = (await ok(['put', ...d, '--mutable', path.join(work, 'notes.txt')])).trim();
    assert.match(notesCap, /^URI:SSK:[a-z2-7]{26}:[a-z2-7]{52}$/);
    assert.match(await ok(['put', ...d, '--format=MDMF', path.join(work, 'notes.txt'), 'tahoe:docs/mdmf.txt']), /^URI:MDMF:/);
    assert.match(await ok(['put', ...d, '--mutable', '--format=SDMF', path.join(work, 'notes.txt')]), /^URI:SSK:[a-z2-7]{26}:[a-z2-7]{52}$/m, '--mutable --format=SDMF');
    assert.match(await ok(['put', ...d, '--mutable', '--format=MDMF', path.join(work, 'notes.txt')]), /^URI:MDMF:[a-z2-7]{26}:[a-z2-7]{52}$/m, '--mutable --format=MDMF');
    writeFileSync(path.join(work, 'notes2.txt'), 'second notes, longer than the first\n');
    assert.equal((await ok(['put', ...d, path.join(work, 'notes2.txt'), notesCap])).trim(), notesCap, 'overwritten in place: the same cap');
    assert.equal(await ok(['get', ...d, notesCap]), 'second notes, longer than the first\n');
    assert.equal((await ok(['put', ...d, path.join(work, 'notes2.txt'), 'tahoe:docs/'])).trim().slice(0, 8), 'URI:LIT:', 'a directory target takes the file\'s name');
    const ro = await cli(['put', ...d, path.join(work, 'notes.txt'), notesCap.replace('URI:SSK:', 'URI:SSK-RO:')]);
    assert.equal(ro.code, 2);
    assert.match(ro.stderr, /read cap/);
  });

  await t.test('get from paths and caps; ls plain, -F, -l, -u and --json', async () => {
    const out = path.join(work, 'big.back');
    await ok(['get', ...d, 'tahoe:docs/big.bin', out]);
    assert.ok(readFileSync(out).equals(big), 'the file read back equals the one put');
    assert.equal(await ok(['get', ...d, 'docs/stdin.txt']), 'from stdin\n');
    assert.equal(await ok(['ls', ...d]), 'docs\nnew\n');
    assert.equal(await ok(['ls', ...d, '-F', 'tahoe:docs']), 'big.bin\ndeep/\nmdmf.txt*\nnotes2.txt\nstdin.txt\n', 'Tahoe\'s marks: / directory, * mutable file');
    // Tahoe's columns: each as wide as its widest cell, right-aligned (names too).
    const long = (await ok(['ls', ...d, '-l', 'tahoe:docs'])).split('\n');
    assert.match(long[0], /^-r-- 400000 \w{3} \d\d \d\d:\d\d {4}big\.bin$/);
    assert.match(long[1], /^drwx {6}- \w{3} \d\d \d\d:\d\d {7}deep$/);
    assert.match(long[2], /^-rw- {6}\? \w{3} \d\d \d\d:\d\d {3}mdmf\.txt$/, 'a mutable child: writable, size unknown');
    assert.match(await ok(['ls', ...d, '-u', 'tahoe:docs/big.bin']), /^big\.bin URI:CHK:/);
    const json = JSON.parse(await ok(['ls', ...d, '--json', 'tahoe:docs'])) as [string, { children: Record<string, unknown>; rw_uri: string }];
    assert.equal(json[0], 'dirnode');
    assert.deepEqual(Object.keys(json[1].children).sort(), ['big.bin', 'deep', 'mdmf.txt', 'notes2.txt', 'stdin.txt']);
    const missing = await cli(['ls', ...d, 'tahoe:nothing/here']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /kind: NotFound/);
    const unknown = await cli(['ls', ...d, 'nope:']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown alias "nope"/);
    assert.match(unknown.stderr, /hint: create it with `tahoe-ts create-alias nope`/);
  });

  await t.test('cp: local → grid (-r), grid → local (-r, byte for byte), grid → grid, refusals', async () => {
    const src = path.join(work, 'tree');
    mkdirSync(path.join(src, 'sub', 'subsub'), { recursive: true });
    writeFileSync(path.join(src, 'a.txt'), 'alpha');
    writeFileSync(path.join(src, 'sub', 'b.bin'), randomBytes(200_000));
    writeFileSync(path.join(src, 'sub', 'subsub', 'c.txt'), '');
    const noR = await cli(['cp', ...d, src, 'tahoe:backup/']);
    assert.equal(noR.code, 2);
    assert.match(noR.stderr, /use cp -r/);
    assert.match(await ok(['cp', ...d, '-r', src, 'tahoe:backup/']), /^Success: 3 files copied/);
    assert.equal(await ok(['ls', ...d, 'tahoe:backup/tree/sub/subsub']), 'c.txt\n');
    const restored = path.join(work, 'restored');
    await ok(['cp', ...d, '-r', 'tahoe:backup/tree', restored]);
    assert.deepEqual(tree(path.join(restored, 'tree')), tree(src), 'the tree read back equals the local one (inside the new target, as Tahoe\'s cp)');
    await ok(['cp', ...d, '-r', 'tahoe:backup/tree/sub', restored]);
    assert.deepEqual(tree(path.join(restored, 'sub')), tree(path.join(src, 'sub')), 'into an existing local directory');
    await ok(['cp', ...d, path.join(work, 'notes.txt'), 'tahoe:']);
    assert.equal(await ok(['get', ...d, 'tahoe:notes.txt']), 'first notes\n');
    await ok(['cp', ...d, 'tahoe:docs/big.bin', 'tahoe:copied.bin']);
    const [, copied] = JSON.parse(await ok(['ls', ...d, '--json', 'tahoe:copied.bin'])) as [string, { ro_uri: string }];
    const [, original] = JSON.parse(await ok(['ls', ...d, '--json', 'tahoe:docs/big.bin'])) as [string, { ro_uri: string }];
    assert.equal(copied.ro_uri, original.ro_uri, 'an immutable file is linked by cap');
    await ok(['cp', ...d, 'tahoe:docs/mdmf.txt', path.join(work, 'mdmf.local')]);
    assert.equal(readFileSync(path.join(work, 'mdmf.local'), 'utf8'), 'first notes\n');
    const unnamed = await cli(['cp', ...d, notesCap, 'tahoe:docs/']);
    assert.equal(unnamed.code, 2);
    assert.match(unnamed.stderr, /has no name/);
    const local = await cli(['cp', ...d, path.join(work, 'notes.txt'), path.join(work, 'x.txt')]);
    assert.equal(local.code, 2);
  });

  await t.test('mv (rename, into a directory), ln, rm; webopen prints the gateway URL', async () => {
    assert.equal(await ok(['mv', ...d, 'tahoe:notes.txt', 'tahoe:renamed.txt']), 'OK\n');
    assert.equal(await ok(['get', ...d, 'tahoe:renamed.txt']), 'first notes\n');
    assert.equal((await cli(['get', ...d, 'tahoe:notes.txt'])).code, 2, 'the old name is gone');
    await ok(['mv', ...d, 'tahoe:renamed.txt', 'tahoe:docs']);
    assert.equal(await ok(['get', ...d, 'tahoe:docs/renamed.txt']), 'first notes\n');
    await ok(['ln', ...d, 'tahoe:docs', 'm:docs-link']);
    assert.equal(await ok(['get', ...d, 'm:docs-link/renamed.txt']), 'first notes\n', 'both names lead to the same directory');
    await ok(['ln', ...d, notesCap, 'tahoe:docs/live-notes.txt']);
    assert.equal(await ok(['get', ...d, 'tahoe:docs/live-notes.txt']), 'second notes, longer than the first\n');
    await ok(['rm', ...d, 'tahoe:copied.bin']);
    const gone = await cli(['rm', ...d, 'tahoe:copied.bin']);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /kind: NotFound/);
    const rootRm = await cli(['rm', ...d, 'tahoe:']);
    assert.equal(rootRm.code, 2);
    const url = (await ok(['webopen', ...d, 'tahoe:docs'])).trim();
    assert.ok(url.startsWith(`${a.base}/uri/URI%3ADIR2%3A`), url);
    assert.ok(url.endsWith('/docs'), url);
    const page = await gatewayRequest(a.base, 'GET', url.slice(a.base.length));
    assert.equal(page.status, 200);
    assert.match(page.text, /big\.bin/);
  });

  let listingBefore = '';
  await t.test('the tree reads back identically after the client node restarts', async () => {
    listingBefore = await ok(['ls', ...d, '-l', 'tahoe:docs']);
    const backup = await ok(['ls', ...d, '--json', 'tahoe:backup/tree']);
    await stop(a);
    await start(a);
    assert.equal(await ok(['ls', ...d, '-l', 'tahoe:docs']), listingBefore);
    assert.equal(await ok(['ls', ...d, '--json', 'tahoe:backup/tree']), backup);
    const again = path.join(work, 'restored-again');
    await ok(['cp', ...d, '-r', 'tahoe:backup/tree', again]);
    assert.deepEqual(tree(path.join(again, 'tree')), tree(path.join(work, 'tree')));
  });

  await t.test('two nodes at the same time: directory changes all survive; racing overwrites never mix, the loser is told', async () => {
    const bDir = path.join(root, 'client-b');
    await createNode({
      command: 'create-client', directory: bDir, nickname: 'client-b', introducer: grid.introducer.introducerFurl ?? '',
      webport: `tcp:${await freePort()}:interface=127.0.0.1`, sharesNeeded: 3, sharesHappy: 4, sharesTotal: 4,
    });
    await editTahoeCfg(bDir, [{ section: 'client', key: 'mutable.format', value: 'mdmf' }]);
    const b: RunningNode = { dir: bDir, base: '', child: undefined, log: '' };
    nodes.push(b);
    await start(b);
    assert.match(await ok(['put', '-d', bDir, '--mutable', '-'], Buffer.from('x')), /^URI:MDMF:/, 'B\'s [client] mutable.format = mdmf');
    assert.match(await ok(['mkdir', '-d', bDir]), /^URI:DIR2-MDMF:/);
    const shared = (await ok(['mkdir', ...d, 'tahoe:shared'])).trim();
    await ok(['add-alias', '-d', bDir, 'shared', shared]);
    // Directory changes from both nodes at once: each is re-applied after a conflict.
    const names = ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'];
    const results = await Promise.all(names.map((n) => (n.startsWith('a')
      ? cli(['put', ...d, '-', `tahoe:shared/${n}`], Buffer.from(n))
      : cli(['put', '-d', bDir, '-', `shared:${n}`], Buffer.from(n)))));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.equal(await ok(['ls', ...d, 'tahoe:shared']), `${names.join('\n')}\n`);
    assert.equal(await ok(['ls', '-d', bDir, 'shared:']), `${names.join('\n')}\n`);

    // The same mutable file overwritten from both gateways at the same moment, a few rounds.
    const cap = (await ok(['put', ...d, '--mutable', '-'], Buffer.from('round 0'))).trim();
    let conflicts = 0;
    for (let round = 1; round <= 4; round++) {
      const bodies = [`A wrote round ${round} `.repeat(50), `B wrote round ${round} `.repeat(60)];
      const [ra, rb] = await Promise.all([
        gatewayRequest(a.base, 'PUT', `/uri/${encodeURIComponent(cap)}`, Buffer.from(bodies[0])),
        gatewayRequest(b.base, 'PUT', `/uri/${encodeURIComponent(cap)}`, Buffer.from(bodies[1])),
      ]);
      for (const r of [ra, rb]) {
        assert.ok(r.status === 200 || r.status === 409, `${r.status}: ${r.text}`);
        if (r.status === 409) {
          conflicts++;
          assert.match(r.text, /^kind: WriteConflict$/m);
          assert.match(r.text, /^hint: .*(read|again|retry)/m);
        }
      }
      assert.ok(ra.status === 200 || rb.status === 200, 'at least one writer wins');
      const now = (await gatewayRequest(a.base, 'GET', `/uri/${encodeURIComponent(cap)}`)).text;
      const viaB = (await gatewayRequest(b.base, 'GET', `/uri/${encodeURIComponent(cap)}`)).text;
      assert.equal(viaB, now, 'both nodes read the same version');
      assert.ok(bodies.includes(now), 'the file holds one writer\'s bytes, never a mix');
      if (ra.status === 409) assert.equal(now, bodies[1], 'A lost: B\'s write is there');
      if (rb.status === 409) assert.equal(now, bodies[0], 'B lost: A\'s write is there');
    }
    process.stderr.write(`# racing overwrites: ${conflicts} reported conflict(s) in 4 rounds\n`);
    // Through the CLI a conflict is exit 65 with the kind and hint; a clean overwrite is exit 0.
    const [pa, pb] = await Promise.all([
      cli(['put', ...d, '-', cap], Buffer.from('cli A')),
      cli(['put', '-d', bDir, '-', cap], Buffer.from('cli B')),
    ]);
    for (const r of [pa, pb]) {
      assert.ok(r.code === 0 || (r.code === 65 && /kind: WriteConflict/.test(r.stderr)), `${r.code}: ${r.stderr}`);
    }
    const final = await ok(['get', ...d, cap]);
    assert.ok(['cli A', 'cli B'].includes(final), final);
  });
});
