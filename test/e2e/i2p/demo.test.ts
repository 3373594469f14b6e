/**
 * `tahoe-ts demo --network i2p-local --once` through the real CLI (src/testnet/demo-i2p.ts):
 * one local offline i2pd comes up, then an I2P-only grid (introducer and servers as I2P
 * destinations; the status line counts the 20 s session waves), an anonymized client
 * without Tor uploads and downloads a small file, verified, and the router is gone
 * afterwards. `--keep` leaves the directory so that the test can check what the grid was
 * made of; without it the demo removes everything (test/cli/demo.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../cli/cli-helper.js';
import { B32, i2pdMissing } from './i2p-grid.js';

const skip = i2pdMissing();

/** PIDs whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

test('demo --network i2p-local --once: I2P-only grid over one local i2pd, session waves shown, round trip verified, no i2pd left', { skip, timeout: 300_000 }, async (t) => {
  const r = await runCli(['demo', '--network', 'i2p-local', '--once', '--keep', '--servers', '3', '--size', '300KiB']);
  const dir = /directory: {3}(\S+)/.exec(r.stdout)?.[1];
  t.after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(-4000)}`);
  assert.match(r.stdout, /1 introducer, 3 storage servers, 1 client over i2p-local \(I2P destinations only, over one local offline i2pd/);
  assert.match(r.stdout, /downloaded and verified \(SHA-256 [0-9a-f]{16}…\)/);
  assert.match(r.stdout, /cap: {9}URI:CHK:[a-z2-7]+:[a-z2-7]+:3:3:307200\n/);

  // Progress while the router and the session waves come up.
  assert.match(r.stderr, /local i2pd up \(pid \d+, SAM on 127\.0\.0\.1:\d+\)/);
  assert.match(r.stderr, /building I2P tunnels for introducer \(a local i2pd 2\.45 takes about 20 s\)/);
  assert.match(r.stderr, /building I2P tunnels for server \d, server \d, server \d/, 'the servers build their sessions in one wave');

  // What the grid was made of.
  assert.ok(dir !== undefined && existsSync(dir), 'the directory was kept');
  const furl = readFileSync(path.join(dir, 'introducer', 'private', 'introducer.furl'), 'utf8').trim();
  assert.match(furl, new RegExp(`^pb\\+i2p://[A-Za-z0-9_-]{43}@${B32}:3457/[a-z2-7]+#v=1$`), 'the introducer is an I2P destination only: one pb+i2p NURL');
  for (const server of ['server-00', 'server-01', 'server-02']) {
    const cfg = readFileSync(path.join(dir, server, 'tahoe.cfg'), 'utf8');
    assert.match(cfg, new RegExp(`^tub\\.location = i2p:${B32}:3457$`, 'm'), `${server} announces only its I2P destination`);
    assert.match(cfg, /^tub\.port = listen:i2p$/m);
    assert.match(cfg, /^reveal-IP-address = false$/m);
    assert.match(cfg, /^dest = true$/m);
  }
  const clientCfg = readFileSync(path.join(dir, 'client', 'tahoe.cfg'), 'utf8');
  assert.match(clientCfg, /^reveal-IP-address = false$/m);
  assert.match(clientCfg, /^tcp = disabled$/m, 'no Tor in this demo: the client reaches I2P destinations only');
  assert.match(readFileSync(path.join(dir, 'client', 'logs', 'tahoe-ts.log'), 'utf8'), /./);

  // Nothing left running.
  assert.deepEqual(processesMentioning(path.join(dir, 'i2pd')), [], 'the local i2pd was stopped');
});
