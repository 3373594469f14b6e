/**
 * `tahoe-ts demo --network tor-testnet --once` through the real CLI (src/testnet/demo-tor.ts):
 * a private Tor network comes up with its progress shown (keys, consensus, bootstrap %),
 * then an onion-only grid (introducer and servers as onion services, progress of each
 * onion publication), an anonymized client uploads and downloads a small file, verified,
 * and every tor is gone afterwards. `--keep` leaves the directory so that the test can
 * check what the grid was made of; removing it (without `--keep`) is the demo's own
 * behaviour, tested in test/cli/demo.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../cli/cli-helper.js';

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

test('demo --network tor-testnet --once: onion-only grid on a private Tor network, progress shown, round trip verified, no tor left', { timeout: 300_000 }, async (t) => {
  const r = await runCli(['demo', '--network', 'tor-testnet', '--once', '--keep', '--servers', '3', '--size', '300KiB']);
  const dir = /directory: {3}(\S+)/.exec(r.stdout)?.[1];
  t.after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(-4000)}`);
  assert.match(r.stdout, /1 introducer, 3 storage servers, 1 client over tor-testnet \(onion services only, on a private Tor network/);
  assert.match(r.stdout, /downloaded and verified \(SHA-256 [0-9a-f]{16}…\)/);
  assert.match(r.stdout, /cap: {9}URI:CHK:[a-z2-7]+:[a-z2-7]+:3:3:307200\n/);

  // Progress while the network and the grid come up.
  assert.match(r.stderr, /private Tor network \[[\d.]+ s\] generating keys for 3 authorities/);
  assert.match(r.stderr, /private Tor network \[[\d.]+ s\] consensus with all 4 relays running/);
  assert.match(r.stderr, /private Tor network \[[\d.]+ s\] client bootstrap 100%/);
  for (const who of ['introducer', 'server 0', 'server 1', 'server 2']) assert.match(r.stderr, new RegExp(`${who}: onion service published`));
  assert.match(r.stderr, /client: using tor/);

  // What the grid was made of.
  assert.ok(dir !== undefined && existsSync(dir), 'the directory was kept');
  const furl = readFileSync(path.join(dir, 'introducer', 'private', 'introducer.furl'), 'utf8').trim();
  assert.match(furl, /^pb\+tor:\/\/[A-Za-z0-9_-]{43}@[a-z2-7]{56}\.onion:3457\/[a-z2-7]+#v=1$/, 'the introducer is an onion service only: one pb+tor NURL');
  for (const server of ['server-00', 'server-01', 'server-02']) {
    const cfg = readFileSync(path.join(dir, server, 'tahoe.cfg'), 'utf8');
    assert.match(cfg, /^tub\.location = tor:[a-z2-7]{56}\.onion:3457$/m, `${server} announces only its onion service`);
    assert.match(cfg, /^tub\.port = tcp:\d+:interface=127\.0\.0\.1$/m);
    assert.match(cfg, /^reveal-IP-address = false$/m);
  }
  const clientCfg = readFileSync(path.join(dir, 'client', 'tahoe.cfg'), 'utf8');
  assert.match(clientCfg, /^reveal-IP-address = false$/m);
  assert.match(clientCfg, /^tcp = tor$/m);
  const clientLog = readFileSync(path.join(dir, 'client', 'logs', 'tahoe-ts.log'), 'utf8');
  assert.match(clientLog, /connected to the introducer via tor/);
  assert.equal(clientLog.match(/connected to .* via tor/g)?.length, 4, 'the introducer and three servers, each through Tor');
  assert.doesNotMatch(clientLog, /via tcp/);

  // Every tor of the network (and none of the nodes) is still running.
  assert.deepEqual(processesMentioning(dir), [], 'no tor of the demo is left');
  assert.ok(existsSync(path.join(dir, 'tor-network', 'network.torrc')));
});
