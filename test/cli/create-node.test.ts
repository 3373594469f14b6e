/** The create-* commands and CLI conventions, through the real CLI (exit codes, output, -d placement, --help, --version). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadNodeDirectory } from '../../src/config/node-dir.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from './cli-helper.js';

test('create-node DIR, then check-config -d DIR after the command: exit 0', async (t) => {
  const dir = path.join(tempDir(t), 'node');
  const r = await runCli(['create-node', '--hostname=example.net', '--nickname', 'alice', '--shares-needed=2', '--shares-happy=2', '--shares-total=3', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Node created in ${dir}\n {2}server ID: {4}v0-[a-z2-7]{52}\n`));
  assert.match(r.stdout, /tub\.location: tcp:example\.net:\d+/);
  const { config } = await loadNodeDirectory(dir);
  assert.equal(config.node.nickname, 'alice');
  assert.deepEqual(config.client.shares, { needed: 2, happy: 2, total: 3 });
  const check = await runCli(['check-config', '-d', dir]);
  assert.equal(check.code, 0, check.stdout);
});

test('-d before the subcommand, -C/--basedir and TAHOE_TS_NODE_DIRECTORY all name the directory', async (t) => {
  const root = tempDir(t);
  const viaD = await runCli(['-d', path.join(root, 'a'), 'create-client']);
  assert.equal(viaD.code, 0, viaD.stderr);
  assert.ok(existsSync(path.join(root, 'a', 'tahoe.cfg')));
  const viaC = await runCli(['create-client', '-C', path.join(root, 'b')]);
  assert.equal(viaC.code, 0, viaC.stderr);
  assert.ok(existsSync(path.join(root, 'b', 'tahoe.cfg')));
  const viaEnv = await runCli(['create-client'], { TAHOE_TS_NODE_DIRECTORY: path.join(root, 'c') });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.ok(existsSync(path.join(root, 'c', 'tahoe.cfg')));
  const check = await runCli(['check-config'], { TAHOE_TS_NODE_DIRECTORY: path.join(root, 'c') });
  assert.equal(check.code, 0, check.stdout);
});

test('exit codes: 2 for bad options, 78 for a non-empty directory or an unsafe configuration', async (t) => {
  const root = tempDir(t);
  const noHost = await runCli(['create-node', path.join(root, 'x')]);
  assert.equal(noHost.code, 2);
  assert.match(noHost.stderr, /error: --listen=tcp requires --hostname\n {2}kind: UsageError\n {2}hint: pass --hostname=NAME/);
  const badListen = await runCli(['create-node', '--listen=tcp,carrier-pigeon', path.join(root, 'x')]);
  assert.equal(badListen.code, 2);
  assert.match(badListen.stderr, /"carrier-pigeon" is not a listener type/);
  const unknownOption = await runCli(['create-node', '--frobnicate', path.join(root, 'x')]);
  assert.equal(unknownOption.code, 2);
  const badShares = await runCli(['create-client', '--shares-needed=two', path.join(root, 'x')]);
  assert.equal(badShares.code, 2);
  assert.match(badShares.stderr, /--shares-needed must be a whole number/);
  const hideTcp = await runCli(['create-node', '--hide-ip', '--hostname=example.net', path.join(root, 'x')]);
  assert.equal(hideTcp.code, 2);
  assert.match(hideTcp.stderr, /hint: use --listen=tor/);
  const leak = await runCli(['create-node', '--hide-ip', '--port=tcp:3457', '--location=tcp:example.net:3457', path.join(root, 'x')]);
  assert.equal(leak.code, 78);
  assert.match(leak.stderr, /kind: PrivacyViolation/);
  assert.ok(!existsSync(path.join(root, 'x')), 'refused commands create nothing');
  const ok = await runCli(['create-introducer', '--listen=tor', '--tor-launch', path.join(root, 'i')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^Introducer created in .*\n[\s\S]*onion service: \[?[a-z2-7]{56}\.onion/);
  const again = await runCli(['create-node', '--hostname=x', path.join(root, 'i')]);
  assert.equal(again.code, 78);
  assert.match(again.stderr, /kind: NodeDirInvalid/);
  assert.ok(readdirSync(path.join(root, 'i')).includes('tahoe-introducer.tac'));
  const noDir = await runCli(['create-introducer', '--hostname=x']);
  assert.equal(noDir.code, 2);
});

test('--help on every command, --version', async () => {
  for (const cmd of ['create-node', 'create-client', 'create-introducer', 'check-config']) {
    const r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`^Usage: tahoe-ts ${cmd}`), cmd);
    assert.match(r.stdout, /-d, --node-directory <DIR>/, cmd);
  }
  const node = await runCli(['create-node', '--help']);
  for (const option of ['--listen', '--hostname', '--port', '--location', '--hide-ip', '--shares-needed', '--shares-happy', '--shares-total', '--webport', '--tor-launch', '--tor-control-port', '--tor-executable', '--i2p-launch', '--i2p-sam-port', '--storage-dir', '--no-storage', '--nickname', '--introducer']) {
    assert.ok(node.stdout.includes(option), option);
  }
  const client = await runCli(['create-client', '--help']);
  assert.ok(!client.stdout.includes('--listen'), 'create-client never listens');
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  for (const cmd of ['create-node', 'create-client', 'create-introducer', 'check-config']) assert.ok(top.stdout.includes(cmd), cmd);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(version.stdout.trim(), pkg.version);
});
