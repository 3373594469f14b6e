/**
 * AN-9 / issue item 5: logs, the welcome page (unless asked) and error messages redact
 * onion, I2P and IP addresses by default (`[node] log_sensitive = true` shows them); keys,
 * swissnums and caps are never shown.
 *
 * A real session at debug level over the private Tor network: an introducer and two
 * onion-only storage servers (in process, logging to their logs/tahoe-ts.log), and a
 * client run as `tahoe-ts run` (stdout and stderr captured) that also lists a static server
 * reachable only at a TEST-NET IPv4 and an IPv6 address — so its refusals put IP addresses
 * into the logs and onto the welcome page. The client uploads and downloads with the CLI.
 * Then every log, every output stream, the welcome pages (HTML and JSON) and CLI error
 * messages are searched for every address and every secret of the session (leak-scan.ts).
 * A second run of the client with `log_sensitive = true` must show addresses, never secrets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { formatServersYaml } from '../../src/storage/announcement.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { startTorNetwork, type TorNetwork } from '../../src/testnet/tor-network.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { freePort } from '../helpers/ports.js';
import { gateway, spawnRun, type RunningProcess } from '../node/processes.js';
import { waitFor } from '../node/helpers.js';
import { GRID_TIMING_ENV, startAnonGrid, type AnonGrid } from './grid.js';
import { capSecrets, describeHits, logFiles, nodeAddresses, nodeSecrets, scanTexts, type Needle, type Text } from './leak-scan.js';

const execFileAsync = promisify(execFile);
const RUN_CLI = path.join(REPO_ROOT, 'test/cli/run-cli.ts');
const STATIC_V4 = '192.0.2.77';
const STATIC_V6 = '2001:db8::77';

const cleanups: Array<() => unknown> = [];
let root: string;
let tor: TorNetwork;
let grid: AnonGrid;
let clientDir: string;
let clientWeb: string;
let staticSwissnum: string;

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-redact-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  tor = await startTorNetwork({ dir: path.join(root, 'tor') });
  cleanups.push(() => tor.stop());
  grid = await startAnonGrid({ after: (fn: () => unknown) => void cleanups.push(fn) }, { root: path.join(root, 'grid'), network: { kind: 'tor', tor }, servers: 2, hideServers: true, logLevel: 'debug', webPorts: true });

  clientDir = path.join(root, 'client');
  const webPort = await freePort();
  clientWeb = `http://127.0.0.1:${webPort}/`;
  await createNode({ directory: clientDir, command: 'create-client', nickname: 'client', introducer: grid.introducerFurl, webport: `tcp:${webPort}:interface=127.0.0.1`, sharesNeeded: 1, sharesHappy: 2, sharesTotal: 2 });
  await editTahoeCfg(clientDir, [
    { section: 'node', key: 'reveal-IP-address', value: null },
    { section: 'node', key: 'anonymize', value: 'true' },
    { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${tor.socksPort}` },
    { section: 'i2p', key: 'enabled', value: 'false' },
  ]);
  // A static server reachable only at addresses the anonymized client must refuse (its errors name them).
  staticSwissnum = base32Encode(randomBytes(20));
  const spki = randomBytes(32).toString('base64url');
  const serverId = `v0-${base32Encode(randomBytes(32))}`;
  writeFileSync(path.join(clientDir, 'private', 'servers.yaml'), formatServersYaml(serverId, {
    nickname: 'unreachable',
    furl: `pb://${base32Encode(randomBytes(20))}@tcp:${STATIC_V4}:3457/${staticSwissnum}`,
    nurls: [`pb://${spki}@${STATIC_V4}:3457/${staticSwissnum}#v=1`, `pb://${spki}@[${STATIC_V6}]:3457/${staticSwissnum}#v=1`],
    permutationSeedBase32: base32Encode(randomBytes(32)),
  }), { mode: 0o600 });
}, { timeout: 240_000 });

after(async () => {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
});

interface Welcome {
  servers: Array<{ nickname: string; connected: boolean; last_error: string | null }>;
}

function startClient(t: { after: (fn: () => unknown) => void }, env: Record<string, string> = {}): RunningProcess {
  return spawnRun(t, clientDir, { TAHOE_TS_TEST_TIMING: GRID_TIMING_ENV, TAHOE_TS_LOG_LEVEL: 'debug', ...env });
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', RUN_CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, TAHOE_TS_NODE_DIRECTORY: undefined, TAHOE_TS_LOG_SENSITIVE: undefined, ...env }, timeout: 180_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function page(url: string, pathAndQuery: string): Promise<string> {
  const reply = await gateway(url, 'GET', pathAndQuery);
  assert.equal(reply.status, 200, `${pathAndQuery}: ${reply.body.toString().slice(0, 300)}`);
  return reply.body.toString();
}

/** Every secret and address of the session so far. */
function needles(caps: string[]): { secrets: Needle[]; addresses: Needle[] } {
  const dirs = [...grid.directories, clientDir];
  const secrets = [
    ...dirs.flatMap((d) => nodeSecrets(d)),
    ...caps.flatMap((cap) => capSecrets(cap, clientDir, grid.directories.slice(1))),
    { kind: 'secret' as const, name: 'static server swissnum', value: staticSwissnum },
  ];
  const addresses: Needle[] = [
    ...grid.directories.flatMap((d) => nodeAddresses(d)),
    { kind: 'address', name: 'static server IPv4', value: STATIC_V4 },
    { kind: 'address', name: 'static server IPv6', value: STATIC_V6 },
  ];
  return { secrets, addresses };
}

let cap: string;
let firstRunTexts: Text[] = [];

test('default: no address and no secret in logs, stderr, welcome pages or CLI errors', { timeout: 300_000 }, async (t) => {
  const client = startClient(t);
  await client.waitFor(/web gateway: /, 120_000);
  const welcome = async () => JSON.parse(await page(clientWeb, '/?t=json')) as Welcome;
  await waitFor(async () => (await welcome()).servers.filter((s) => s.connected).length === 2, 150_000, 'two connected grid servers');
  await waitFor(async () => (await welcome()).servers.some((s) => s.nickname === 'unreachable' && s.last_error !== null), 30_000, 'the static server\'s refusal');

  const input = path.join(root, 'file.in');
  writeFileSync(input, randomBytes(100_000));
  const put = await cli(['put', '--no-progress', '-d', clientDir, input]);
  assert.equal(put.code, 0, put.stderr);
  cap = put.stdout.trim();
  assert.match(cap, /^URI:CHK:/);
  const get = await cli(['get', '--no-progress', '-d', clientDir, cap, path.join(root, 'file.out')]);
  assert.equal(get.code, 0, get.stderr);
  assert.ok(readFileSync(path.join(root, 'file.out')).equals(readFileSync(input)));
  // A CLI error about a cap (a well-formed cap of a file that is not on the grid).
  const missingCap = cap.replace(/^URI:CHK:[a-z2-7]{26}/, `URI:CHK:${base32Encode(randomBytes(16))}`);
  const missing = await cli(['get', '--no-progress', '-d', clientDir, missingCap, path.join(root, 'missing.out')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /kind: /);

  const pages: Text[] = [];
  for (const q of ['/', '/?t=json']) pages.push({ source: `client welcome ${q}`, text: await page(clientWeb, q) });
  const serverWeb = readFileSync(path.join(grid.directories[1], 'node.url'), 'utf8').trim();
  for (const q of ['/', '/?t=json']) pages.push({ source: `server0 welcome ${q}`, text: await page(serverWeb, q) });
  // Asked for: the addresses show (from loopback only).
  const revealedClient = await page(clientWeb, '/?t=json&show_addresses=1');
  const revealedServer = await page(serverWeb, '/?t=json&show_addresses=1');

  client.child.kill('SIGTERM');
  assert.equal((await client.exited).code, 0);

  const { secrets, addresses } = needles([cap, missingCap]);
  firstRunTexts = [
    { source: 'client run stdout', text: client.stdout },
    { source: 'client run stderr', text: client.stderr },
    { source: 'put stderr', text: put.stderr },
    { source: 'get stdout+stderr', text: get.stdout + get.stderr },
    { source: 'failing get stdout+stderr', text: missing.stdout + missing.stderr },
    ...logFiles([...grid.directories, clientDir]),
    ...pages,
  ];
  assert.deepEqual(describeHits(scanTexts(firstRunTexts, [...secrets, ...addresses])), []);
  // The scan is not vacuous: the texts talk about addresses, redacted.
  const all = firstRunTexts.map((x) => x.text).join('\n');
  assert.match(all, /\[ip\]/, 'the static server\'s IP addresses were mentioned (redacted)');
  assert.match(all, /\[onion\]/, 'onion addresses were mentioned (redacted)');
  assert.ok(secrets.length > 40 && addresses.length >= 5, `${secrets.length} secrets, ${addresses.length} addresses searched`);
  // (Error texts are redacted when the broker stores them, so show_addresses=1 cannot bring
  // their addresses back; log_sensitive = true shows them — second test.)
  const server0Onion = nodeAddresses(grid.directories[1])[0];
  assert.ok(revealedServer.toLowerCase().includes(server0Onion.value), 'show_addresses=1 reveals the server\'s onion address');
  assert.deepEqual(describeHits(scanTexts([{ source: 'revealed pages', text: revealedClient + revealedServer }], secrets)), [], 'revealed pages still hide secrets');
});

test('log_sensitive = true: addresses appear in logs, stderr and the welcome page, secrets still never', { timeout: 300_000 }, async (t) => {
  assert.ok(cap !== undefined, 'needs the first test\'s upload');
  await editTahoeCfg(clientDir, [{ section: 'node', key: 'log_sensitive', value: 'true' }]);
  const logBefore = readFileSync(path.join(clientDir, 'logs', 'tahoe-ts.log'), 'utf8').length;
  const client = startClient(t);
  await client.waitFor(/web gateway: /, 120_000);
  const welcome = async () => JSON.parse(await page(clientWeb, '/?t=json')) as Welcome;
  await waitFor(async () => (await welcome()).servers.filter((s) => s.connected).length === 2, 150_000, 'two connected grid servers');
  await waitFor(async () => (await welcome()).servers.some((s) => s.nickname === 'unreachable' && s.last_error !== null), 30_000, 'the static server\'s refusal');
  const get = await cli(['get', '--no-progress', '-d', clientDir, cap, path.join(root, 'file2.out')]);
  assert.equal(get.code, 0, get.stderr);
  const welcomePage = await page(clientWeb, '/?t=json');
  client.child.kill('SIGTERM');
  assert.equal((await client.exited).code, 0);

  const texts: Text[] = [
    { source: 'client run stderr', text: client.stderr },
    { source: 'client log (this run)', text: readFileSync(path.join(clientDir, 'logs', 'tahoe-ts.log'), 'utf8').slice(logBefore) },
    { source: 'client welcome JSON', text: welcomePage },
  ];
  const { secrets } = needles([cap]);
  assert.deepEqual(describeHits(scanTexts(texts, secrets)), [], 'secrets stay hidden with log_sensitive');
  assert.ok(client.stderr.includes(STATIC_V4), 'the IPv4 address shows on stderr');
  assert.ok(texts[1].text.includes(STATIC_V4), 'and in the log file');
  assert.ok(welcomePage.includes(STATIC_V4), 'and on the welcome page without asking');
  assert.ok(client.stderr.includes(STATIC_V6), 'the IPv6 address shows on stderr');
});

test('CLI error messages: addresses redacted unless TAHOE_TS_LOG_SENSITIVE=1; secrets never', { timeout: 120_000 }, async () => {
  const dir = path.join(root, 'bad-config');
  await createNode({ directory: dir, command: 'create-client', nickname: 'bad', webport: 'none' });
  const onion = nodeAddresses(grid.directories[1])[0].value;
  // The introducer's NURLs, as private/introducer.furl holds them (one line each; tahoe.cfg takes them on one line).
  const furl = readFileSync(path.join(grid.directories[0], 'private', 'introducer.furl'), 'utf8').trim().split(/\s+/).join(' ');
  assert.match(furl, /#v=1$/);
  await editTahoeCfg(dir, [
    { section: 'node', key: 'reveal-IP-address', value: 'false' },
    { section: 'node', key: 'tub.port', value: 'tcp:3457:interface=198.51.100.9' },
    { section: 'node', key: 'tub.location', value: `tcp:198.51.100.9:3457,${onion}.onion:3457` },
    // a secret in a place it does not belong: the error must not echo it
    { section: 'client', key: 'introducer.furl', value: furl },
  ]);
  const hidden = await cli(['check-config', '-d', dir]);
  assert.notEqual(hidden.code, 0, hidden.stdout + hidden.stderr);
  const out = hidden.stdout + hidden.stderr;
  assert.match(out, /\[ip\]/);
  assert.ok(!out.includes('198.51.100.9') && !out.toLowerCase().includes(onion), out);
  const run = await cli(['run', '-d', dir]);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /kind: PrivacyViolation/);
  assert.ok(!run.stderr.includes('198.51.100.9') && !run.stderr.toLowerCase().includes(onion), run.stderr);

  const shown = await cli(['check-config', '-d', dir], { TAHOE_TS_LOG_SENSITIVE: '1' });
  assert.ok((shown.stdout + shown.stderr).includes('198.51.100.9'), shown.stdout + shown.stderr);
  const introducerSecrets = nodeSecrets(grid.directories[0]).filter((n) => n.name.includes('swissnum'));
  assert.ok(introducerSecrets.length > 0);
  assert.deepEqual(describeHits(scanTexts([{ source: 'check-config', text: out + shown.stdout + shown.stderr }, { source: 'run', text: run.stdout + run.stderr }], introducerSecrets)), []);
});
