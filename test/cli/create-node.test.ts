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

test('no -d and no TAHOE_TS_NODE_DIRECTORY: the node directory is $HOME/.tahoe-ts; $TAHOE_TS_NODE_DIRECTORY beats it, -d beats both', async (t) => {
  const home = tempDir(t, 'tahoe-ts-home-');
  const defaultDir = path.join(home, '.tahoe-ts');
  // runCli unsets TAHOE_TS_NODE_DIRECTORY unless given; only HOME says where the default is.
  const created = await runCli(['create-client'], { HOME: home });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, new RegExp(`^Node created in ${defaultDir}\n`));
  assert.ok(existsSync(path.join(defaultDir, 'tahoe.cfg')), 'tahoe.cfg in $HOME/.tahoe-ts');
  assert.ok(existsSync(path.join(defaultDir, 'tahoe-client.tac')));
  assert.deepEqual(readdirSync(home), ['.tahoe-ts'], 'nothing else written to $HOME');
  const check = await runCli(['check-config'], { HOME: home });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`OK: ${defaultDir} is a valid client node directory`));
  const help = await runCli(['check-config', '--help'], { HOME: home });
  assert.ok(help.stdout.replace(/\s+/g, ' ').includes(`(default: ${defaultDir})`), '--help shows the default for this $HOME');

  // The environment variable wins over the default: the node goes there, $HOME stays empty.
  const home2 = tempDir(t, 'tahoe-ts-home-');
  const fromEnv = path.join(tempDir(t), 'env-node');
  const viaEnv = await runCli(['create-client'], { HOME: home2, TAHOE_TS_NODE_DIRECTORY: fromEnv });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, new RegExp(`^Node created in ${fromEnv}\n`));
  assert.ok(existsSync(path.join(fromEnv, 'tahoe.cfg')));
  assert.deepEqual(readdirSync(home2), [], 'the default directory is not used when $TAHOE_TS_NODE_DIRECTORY is set');
  const checkEnv = await runCli(['check-config'], { HOME: home2, TAHOE_TS_NODE_DIRECTORY: fromEnv });
  assert.equal(checkEnv.code, 0, checkEnv.stdout);
  assert.match(checkEnv.stdout, new RegExp(`OK: ${fromEnv} `));

  // -d wins over the environment variable, before or after the subcommand; the subcommand's -d wins over the program's.
  const fromD = path.join(tempDir(t), 'd-node');
  const viaD = await runCli(['create-client', '-d', fromD], { HOME: home2, TAHOE_TS_NODE_DIRECTORY: path.join(home2, 'unused') });
  assert.equal(viaD.code, 0, viaD.stderr);
  assert.ok(existsSync(path.join(fromD, 'tahoe.cfg')));
  assert.deepEqual(readdirSync(home2), [], 'neither $TAHOE_TS_NODE_DIRECTORY nor $HOME/.tahoe-ts used with -d');
  const checkD = await runCli(['-d', path.join(home2, 'nowhere'), 'check-config', '-d', fromD], { HOME: home2, TAHOE_TS_NODE_DIRECTORY: path.join(home2, 'unused') });
  assert.equal(checkD.code, 0, checkD.stdout + checkD.stderr);
  assert.match(checkD.stdout, new RegExp(`OK: ${fromD} `));
  const checkTopD = await runCli(['-d', fromEnv, 'check-config'], { HOME: home2, TAHOE_TS_NODE_DIRECTORY: fromD });
  assert.match(checkTopD.stdout, new RegExp(`OK: ${fromEnv} `), 'the program\'s -d beats the environment variable');
});

test('create-node --port 3457 (a bare port number): tahoe.cfg gets tub.port = 3457, which check-config accepts as tcp:3457 on all interfaces', async (t) => {
  const root = tempDir(t);
  const dir = path.join(root, 'node');
  const r = await runCli(['create-node', '--port', '3457', '--location', 'tcp:example.net:3457', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\n {2}tub\.port: {5}3457\n {2}tub\.location: tcp:example\.net:3457\n/);
  const cfg = readFileSync(path.join(dir, 'tahoe.cfg'), 'utf8');
  assert.match(cfg, /^tub\.port = 3457$/m, 'written as given, the form Tahoe-LAFS 1.20 also accepts');
  assert.match(cfg, /^tub\.location = tcp:example\.net:3457$/m);
  const { config } = await loadNodeDirectory(dir);
  assert.deepEqual(config.node.tubPort, { type: 'endpoints', endpoints: [{ type: 'tcp', port: 3457 }] }, 'a bare number means tcp:N on all interfaces');
  const check = await runCli(['check-config', '-d', dir]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^OK: .* is a valid client node directory/m);
  // Port 0 would move on every start: refused before anything is written.
  const zero = await runCli(['create-node', '--port', '0', '--location', 'tcp:example.net:3457', path.join(root, 'zero')]);
  assert.equal(zero.code, 2, zero.stderr);
  assert.match(zero.stderr, /tub\.port/);
  assert.ok(!existsSync(path.join(root, 'zero')));
});
