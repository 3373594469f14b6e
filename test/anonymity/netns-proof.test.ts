/**
 * The leak proof (issue "Anonymize mode, proven", anonymity-checklist AN-10.2, G-7).
 *
 * A client node runs as `tahoe-ts run` inside a network namespace whose only interface
 * besides loopback is one end of a veth pair, with the default route through it and a
 * resolv.conf naming the other end — so a direct connection or a DNS query *would* leave
 * through the veth. Everything crossing the veth is captured with dumpcap. The grid (an
 * introducer and two storage servers) runs outside, reachable as onion services on the
 * private Tor network, as I2P destinations on the offline i2pd, **and** over clear-net
 * TCP on the veth address (a host-name hint first, then the IP): an anonymized client has
 * a direct route within reach and must not take it.
 *
 * The node reaches Tor's SOCKS port / the SAM bridge on its namespace's 127.0.0.1 through a
 * small relay (ns-forwarder.ts) that forwards across the veth to the daemons here. So the
 * only packets an anonymized session may produce on the veth are relay ↔ daemon-port TCP.
 *
 *  1. anonymize = true (original spelling), over Tor: introducer, upload, download with
 *     `tahoe-ts put`/`get` run in the namespace ⇒ zero packets other than to the SOCKS
 *     relay port, zero packets to port 53;
 *  2. reveal-IP-address = false + [connections] tcp = disabled (1.20 spelling), over I2P ⇒
 *     zero packets other than to the SAM relay port, none to port 53;
 *  3. control: the same client with anonymize off ⇒ the capture shows the DNS query for the
 *     host-name hint and the direct TCP connection — the proof is able to fail.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CfgEdit } from '../../src/config/cfg.js';
import { startTorNetwork, type TorNetwork } from '../../src/testnet/tor-network.js';
import { startI2pRouter, type I2pRouter } from '../../src/testnet/i2pd.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { killAndWait } from '../helpers/processes.js';
import { startAnonGrid, type AnonGrid } from './grid.js';
import { describeVerdict, namespacedSession, waitForOutput, type SessionResult } from './ns-session.js';
import { capSecrets, describeHits, logFiles, nodeAddresses, nodeSecrets, scanTexts, type Needle, type Text } from './leak-scan.js';
import { createNetNamespace, forwardFromOuter, netnsSupport, type Forward, type NetNamespace } from './netns.js';

const support = netnsSupport();
const skip = support.ok ? false : `network namespace proof skipped: ${support.why}`;
if (!support.ok) {
  if (process.env.CI === 'true') throw new Error(`!!! ${skip} (required in CI)`);
  process.stderr.write(`\n!!! ${skip} — SKIPPING\n\n`);
}

/** A name only a local resolver would ever look up (the control run's DNS query). */
const CLEARNET_NAME = 'tahoe-leak-check.invalid';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
let root: string;
let ns: NetNamespace;
let tor: TorNetwork;
let i2p: I2pRouter;
let torGrid: AnonGrid;
let i2pGrid: AnonGrid;
let socksForward: Forward;
let samForward: Forward;
/** Ports of the relay on the namespace's loopback. */
let innerSocksPort: number;
let innerSamPort: number;

function log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

/** A small fake grid in a hurry: the setup waits (tor voting, I2P sessions) are mostly idle. */
before(async () => {
  if (!support.ok) return;
  root = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-netns-'));
  chmodSync(root, 0o755); // the namespace's processes run as root too, but keep it readable for `ip netns exec`
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  ns = await createNetNamespace();
  cleanups.push(() => ns.remove());
  log(`namespace ${ns.name}: ${ns.innerInterface} ${ns.innerAddress} ⇄ ${ns.outerInterface} ${ns.outerAddress}`);

  const t0 = Date.now();
  const torStart = startTorNetwork({ dir: path.join(root, 'tor') });
  const i2pStart = startI2pRouter({ dir: path.join(root, 'i2pd') });
  const [torResult, i2pResult] = await Promise.allSettled([torStart, i2pStart]);
  if (torResult.status === 'fulfilled') cleanups.push(() => torResult.value.stop());
  if (i2pResult.status === 'fulfilled') cleanups.push(() => i2pResult.value.stop());
  if (torResult.status === 'rejected') throw torResult.reason;
  if (i2pResult.status === 'rejected') throw i2pResult.reason;
  tor = torResult.value;
  i2p = i2pResult.value;
  log(`tor network and i2pd up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // Grids start in parallel: onion publication and I2P session creation are waits.
  const gridScope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  const common = { servers: 2, clearnet: ns.outerAddress, clearnetName: CLEARNET_NAME, logLevel: 'debug' as const };
  [torGrid, i2pGrid] = await Promise.all([
    startAnonGrid(gridScope, { ...common, root: path.join(root, 'tor-grid'), network: { kind: 'tor', tor } }),
    startAnonGrid(gridScope, { ...common, root: path.join(root, 'i2p-grid'), network: { kind: 'i2p', i2p } }),
  ]);
  log(`grids up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  socksForward = await forwardFromOuter(ns.outerAddress, { host: '127.0.0.1', port: tor.socksPort });
  samForward = await forwardFromOuter(ns.outerAddress, { host: '127.0.0.1', port: i2p.samPort });
  cleanups.push(() => socksForward.close(), () => samForward.close());
  innerSocksPort = 19050;
  innerSamPort = 17656;
  const relay = ns.spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/anonymity/ns-forwarder.ts'), `${innerSocksPort}=${ns.outerAddress}:${socksForward.outerPort}`, `${innerSamPort}=${ns.outerAddress}:${samForward.outerPort}`], { cwd: REPO_ROOT });
  cleanups.push(() => killAndWait(relay));
  await waitForOutput(relay, /ready/, 30_000);
}, { timeout: 300_000 });

after(async () => {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (e) {
      log(`cleanup failed: ${String(e)}`);
    }
  }
});

/** Everything the sessions printed or logged, for the redaction check at the end. */
const outputs: Text[] = [];
const caps: Array<{ cap: string; clientDir: string; grid: AnonGrid }> = [];
const clientDirs: string[] = [];
let sessions = 0;

async function clientSession(name: string, grid: AnonGrid, edits: CfgEdit[], allowedPorts: ReadonlySet<number>): Promise<SessionResult> {
  const result = await namespacedSession({ ns, root, name, introducerFurl: grid.introducerFurl, edits, allowedPorts, webPort: 13456 + sessions++, cleanups, outputs, log });
  clientDirs.push(result.clientDir);
  caps.push({ cap: result.cap, clientDir: result.clientDir, grid });
  return result;
}

const describe = describeVerdict;

test('anonymize = true over Tor in a namespace: only the SOCKS relay port crosses the veth, nothing to port 53', { skip, timeout: 420_000 }, async () => {
  const result = await clientSession('tor-client', torGrid, [
    { section: 'node', key: 'reveal-IP-address', value: null },
    { section: 'node', key: 'tub.port', value: null },
    { section: 'node', key: 'tub.location', value: null },
    { section: 'node', key: 'anonymize', value: 'true' },
    { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${innerSocksPort}` },
    { section: 'i2p', key: 'enabled', value: 'false' },
  ], new Set([socksForward.outerPort]));
  log(`tor run: ${describe(result.verdict)}`);
  assert.deepEqual(result.transports, ['tor', 'tor']);
  assert.deepEqual(result.verdict.leaks.map((f) => f.summary), [], 'no packet other than to the SOCKS relay');
  assert.equal(result.verdict.dns.length, 0, 'no packet to port 53');
  assert.ok(result.verdict.allowedConnections >= 2, `the session went through the SOCKS relay (${result.verdict.allowedConnections} connections)`);
});

test('reveal-IP-address = false, tcp = disabled over I2P in a namespace: only the SAM relay port crosses the veth, nothing to port 53', { skip, timeout: 420_000 }, async () => {
  const result = await clientSession('i2p-client', i2pGrid, [
    { section: 'node', key: 'reveal-IP-address', value: 'false' },
    { section: 'connections', key: 'tcp', value: 'disabled' },
    { section: 'tor', key: 'enabled', value: 'false' },
    { section: 'i2p', key: 'sam.port', value: `tcp:127.0.0.1:${innerSamPort}` },
    { section: 'i2p', key: 'sam.options', value: Object.entries(i2p.sessionOptions).map(([k, v]) => `${k}=${v}`).join(' ') },
  ], new Set([samForward.outerPort]));
  log(`i2p run: ${describe(result.verdict)}`);
  assert.deepEqual(result.transports, ['i2p', 'i2p']);
  assert.deepEqual(result.verdict.leaks.map((f) => f.summary), [], 'no packet other than to the SAM relay');
  assert.equal(result.verdict.dns.length, 0, 'no packet to port 53');
  assert.ok(result.verdict.allowedConnections >= 2, `the session went through the SAM relay (${result.verdict.allowedConnections} connections)`);
});

test('control: the same client with anonymize off is caught — a DNS query and direct TCP connections on the veth', { skip, timeout: 300_000 }, async () => {
  const result = await clientSession('control-client', torGrid, [
    { section: 'tor', key: 'enabled', value: 'false' },
    { section: 'i2p', key: 'enabled', value: 'false' },
  ], new Set([socksForward.outerPort, samForward.outerPort]));
  log(`control run: ${describe(result.verdict)}`);
  assert.deepEqual(result.transports, ['tcp', 'tcp']);
  assert.ok(result.verdict.dns.length > 0, `the capture sees the lookup of ${CLEARNET_NAME}`);
  assert.ok(result.verdict.dns.some((f) => f.dst === ns.outerAddress && f.dstPort === 53), 'a DNS query to the namespace\'s name server');
  const directPorts = new Set(result.verdict.directConnections.filter((f) => f.dst === ns.outerAddress).map((f) => f.dstPort));
  assert.ok(directPorts.size >= 2, `direct connections to the introducer and the servers (ports ${[...directPorts].join(', ')})`);
  assert.equal(result.verdict.allowedConnections, 0, 'nothing went through the relays');
});

test('none of these sessions logged or printed an address or a secret (debug level, default redaction)', { skip }, () => {
  assert.ok(caps.length >= 1, 'needs the sessions above');
  const gridDirs = [...torGrid.directories, ...i2pGrid.directories];
  const secrets: Needle[] = [
    ...[...gridDirs, ...clientDirs].flatMap((d) => nodeSecrets(d, path.relative(root, d))),
    ...caps.flatMap((c) => capSecrets(c.cap, c.clientDir, c.grid.directories.slice(1))),
  ];
  const addresses: Needle[] = [
    ...gridDirs.flatMap((d) => nodeAddresses(d, path.relative(root, d))),
    { kind: 'address', name: 'namespace address', value: ns.innerAddress },
    { kind: 'address', name: 'veth gateway address', value: ns.outerAddress },
  ];
  const texts = [...outputs, ...logFiles([...gridDirs, ...clientDirs])];
  assert.ok(texts.length >= 10 && secrets.length > 50 && addresses.length >= 8, `${texts.length} texts, ${secrets.length} secrets, ${addresses.length} addresses`);
  assert.deepEqual(describeHits(scanTexts(texts, [...secrets, ...addresses])), []);
  const all = texts.map((x) => x.text).join('\n');
  for (const placeholder of ['[onion]', '[i2p]', '[ip]']) assert.ok(all.includes(placeholder), `the logs mention ${placeholder} addresses (redacted)`);
});
