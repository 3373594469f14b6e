/**
 * Every client use case × every server use case, end to end on a private Tor network
 * (shared/seed: "Using Tahoe-LAFS with an anonymizing network", the three client and
 * three server use cases; configuration.md §2–§4; anonymity-checklist AN-3, AN-4).
 *
 * Servers (one each, all announcing to one introducer that is itself reachable over TCP
 * and as an onion service):
 *   S1           plain TCP                        create-node --listen=tcp
 *   S2-original  TCP and onion                    tub.location = AUTODETECT,onion:80:hiddenServiceDir=…
 *   S2-1.20      TCP and onion                    create-node --listen=tcp,tor (system tor's control port)
 *   S3-original  onion only                       anonymize = true + tub.location = onion:80:hiddenServiceDir=…
 *   S3-1.20      onion only, own tor              create-node --listen=tor --hide-ip --tor-launch
 * Clients (each uploads a 300 kB file with k = happy = N = the number of servers it
 * should reach, so the upload needs every one of them and the download reads a share from
 * every one of them):
 *   UC1          no Tor at all ([tor] enabled = false): TCP servers directly, onion-only
 *                servers skipped with a message naming the fix
 *   UC2 ×4       no privacy setting, Tor via socks.port only / control.port / discovery /
 *                launch: TCP servers directly, onion-only servers through Tor
 *   UC3 ×4       anonymize = true (original) / reveal-IP-address = false + tcp = tor (1.20)
 *                / launch / tcp = disabled: everything through Tor — TCP servers by host
 *                name through the exit, onion services directly — or TCP servers skipped
 * One UC3 client uses a tor of its own (through a unix SOCKS socket) whose STREAM events
 * show per-server isolation.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { CfgEdit } from '../../../src/config/cfg.js';
import type { CreateNodeOptions } from '../../../src/config/create.js';
import { editTahoeCfg } from '../../../src/config/keys.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { launchTor, type LaunchedTor } from '../../../src/net/tor/launch.js';
import type { TorEvent } from '../../../src/net/tor/control.js';
import type { TahoeNode, TahoeNodeOptions } from '../../../src/node/node.js';
import { createWebGateway } from '../../../src/web/gateway.js';
import { freePort } from '../../helpers/ports.js';
import { ANONYMIZE_EDITS, log, makeNode, nodeLog, openTorGrid, originalOnionOnlyEdits, roundTrip, sharesHeld, statusesByNickname, waitFor, type TorGridScope } from './tor-grid.js';

const SERVER_NAMES = ['S1', 'S2-original', 'S2-1.20', 'S3-original', 'S3-1.20'] as const;
type ServerName = (typeof SERVER_NAMES)[number];
/** How a client must reach a server: directly, through Tor, or not at all (with this text in the reason). */
type Expectation = 'tcp' | 'tor' | RegExp;

interface ClientCase {
  name: string;
  create: Omit<CreateNodeOptions, 'directory'>;
  edits(scope: TorGridScope): CfgEdit[];
  nodeOptions?(scope: TorGridScope): Partial<TahoeNodeOptions>;
  /** How the client reaches the introducer. */
  introducerVia: 'tcp' | 'tor';
  expect: Record<ServerName, Expectation>;
}

const NO_TOR_FOUND = /no tor found:.*hint: install and start tor.*\[tor\] launch = true/s;
// The router names the setting that switched Tor off, and the fix (commit 39d5acd).
const TOR_DISABLED = /needs Tor, which is switched off \(\[tor\] enabled = false\).*hint: this server is reachable only over Tor: remove "\[tor\] enabled = false"/;
const TCP_DISABLED = /tcp = disabled/;
const viaTor: Record<ServerName, Expectation> = { S1: 'tor', 'S2-original': 'tor', 'S2-1.20': 'tor', 'S3-original': 'tor', 'S3-1.20': 'tor' };
const uc2: Record<ServerName, Expectation> = { S1: 'tcp', 'S2-original': 'tcp', 'S2-1.20': 'tcp', 'S3-original': 'tor', 'S3-1.20': 'tor' };

const CLIENTS: ClientCase[] = [
  {
    // No Tor on the machine: nothing in [tor], and the places a node looks for tor are empty.
    name: 'UC1-no-tor',
    create: { command: 'create-client' },
    edits: () => [],
    nodeOptions: (s) => ({ tor: { discovery: { control: [{ path: path.join(s.root, 'no-such-tor', 'control') }], socks: [{ host: '127.0.0.1', port: s.deadPort }] } } }),
    introducerVia: 'tcp',
    expect: { S1: 'tcp', 'S2-original': 'tcp', 'S2-1.20': 'tcp', 'S3-original': NO_TOR_FOUND, 'S3-1.20': NO_TOR_FOUND },
  },
  {
    name: 'UC1-tor-disabled',
    create: { command: 'create-client' },
    edits: () => [{ section: 'tor', key: 'enabled', value: 'false' }],
    introducerVia: 'tcp',
    expect: { S1: 'tcp', 'S2-original': 'tcp', 'S2-1.20': 'tcp', 'S3-original': TOR_DISABLED, 'S3-1.20': TOR_DISABLED },
  },
  {
    name: 'UC2-socks-only',
    create: { command: 'create-client' },
    edits: (s) => [{ section: 'tor', key: 'socks.port', value: s.socksPort }],
    introducerVia: 'tcp',
    expect: uc2,
  },
  {
    name: 'UC2-control-port',
    create: { command: 'create-client' },
    edits: (s) => [{ section: 'tor', key: 'control.port', value: s.controlPort }],
    introducerVia: 'tcp',
    expect: uc2,
  },
  {
    name: 'UC2-discovered',
    create: { command: 'create-client' },
    edits: () => [],
    // The places a real node would look (unix:/var/run/tor/control, 9051, 9151, 9050, 9150) stand in for the network's client.
    nodeOptions: (s) => ({ tor: { discovery: { control: [{ path: path.join(s.root, 'no-such-tor', 'control') }], socks: [{ host: '127.0.0.1', port: s.network.socksPort }] } } }),
    introducerVia: 'tcp',
    expect: uc2,
  },
  {
    name: 'UC2-launch',
    create: { command: 'create-client' },
    edits: (s) => [
      { section: 'tor', key: 'launch', value: 'true' },
      { section: 'tor', key: 'launch.extra_torrc', value: s.network.networkTorrc },
    ],
    introducerVia: 'tcp',
    expect: uc2,
  },
  {
    name: 'UC3-anonymize',
    create: { command: 'create-client' },
    edits: (s) => [...ANONYMIZE_EDITS, { section: 'tor', key: 'socks.port', value: s.socksPort }],
    introducerVia: 'tor',
    expect: viaTor,
  },
  {
    name: 'UC3-hide-ip',
    create: { command: 'create-client', hideIp: true },
    // socks.port = unix:… of a tor of its own (set up in before()), whose STREAM events the isolation test reads
    edits: () => [],
    introducerVia: 'tor',
    expect: viaTor,
  },
  {
    name: 'UC3-launch',
    create: { command: 'create-client', hideIp: true },
    edits: (s) => [
      { section: 'tor', key: 'launch', value: 'true' },
      { section: 'tor', key: 'launch.extra_torrc', value: s.network.networkTorrc },
    ],
    introducerVia: 'tor',
    expect: viaTor,
  },
  {
    name: 'UC3-tcp-disabled',
    create: { command: 'create-client', hideIp: true },
    edits: (s) => [
      { section: 'connections', key: 'tcp', value: 'disabled' },
      { section: 'tor', key: 'control.port', value: s.controlPort },
    ],
    introducerVia: 'tor',
    expect: { ...viaTor, S1: TCP_DISABLED },
  },
];

const FILE_SIZE = 300_000;

let scope: TorGridScope;
const servers = new Map<ServerName, TahoeNode>();
const clients = new Map<string, TahoeNode>();
let observedTor: LaunchedTor;
/** STREAM events of the streams our client asked for (PURPOSE=USER; tor's own directory fetches are left out). */
const observedStreams: Array<{ id: string; status: string; circuit: string; target: string; username?: string; password?: string }> = [];
/** Every STREAM event line of the client's own tor, with its REASON, for the failure report. */
const observedStreamLines: string[] = [];
let gatewayUrl: string;

function serverCreate(name: ServerName, s: TorGridScope, introducer: string, dir: string): { create: Omit<CreateNodeOptions, 'directory'>; edits: CfgEdit[] } {
  const base = { command: 'create-node' as const, nickname: name, introducer };
  switch (name) {
    case 'S1':
      return { create: { ...base, listen: ['tcp'], hostname: 'localhost' }, edits: [] };
    case 'S2-original':
      return {
        create: { ...base, listen: ['tcp'], hostname: 'localhost' },
        edits: [
          { section: 'node', key: 'tub.location', value: `AUTODETECT,onion:80:hiddenServiceDir=${path.join(dir, 'hidden-service')}` },
          { section: 'tor', key: 'control.port', value: s.controlPort },
        ],
      };
    case 'S2-1.20':
      return { create: { ...base, listen: ['tcp', 'tor'], hostname: 'localhost', torControlPort: s.controlPort }, edits: [] };
    case 'S3-original':
      // Written by create-node --listen=tor --hide-ip, then rewritten in the original language.
      return {
        create: { ...base, listen: ['tor'], hideIp: true, torControlPort: s.controlPort },
        edits: originalOnionOnlyEdits(path.join(dir, 'hidden-service')),
      };
    case 'S3-1.20':
      return {
        create: { ...base, listen: ['tor'], hideIp: true, torLaunch: true },
        edits: [{ section: 'tor', key: 'launch.extra_torrc', value: s.network.networkTorrc }],
      };
  }
}

function observedTorLog(): string {
  return path.join(scope.root, 'observed-tor.log');
}

/**
 * What the client's own tor was doing, for a UC3-hide-ip that never reached its servers:
 * its streams (with REASON), circuits, the exits' name lookups and the info-level lines
 * about exits, streams and descriptors. One CI run in seven stalled here; this is the
 * evidence the next one needs.
 */
async function observedTorReport(): Promise<string> {
  const status = await observedTor.control.getInfo(['circuit-status', 'stream-status'], { timeoutMs: 5_000 }).catch((e: unknown) => ({ error: String(e) }));
  const info = await readFile(`${observedTorLog()}.info`, 'utf8').catch(() => '');
  const relevant = info.split('\n').filter((l) => /exit|stream|resolve|descriptor|No available|path restriction|Failing|failed|timed out/i.test(l) && !/channel|TLS|or_handshake/.test(l));
  const queries = scope.network.exitDnsQueries();
  return [
    `--- its STREAM events (last 30 of ${observedStreamLines.length}) ---`,
    ...observedStreamLines.slice(-30),
    '--- its circuits and streams now ---',
    ...Object.entries(status).map(([k, v]) => `${k}:\n${v}`),
    `--- exit name lookups: ${queries.length}, unanswered ${queries.filter((q) => !q.answered).length}; last: ${JSON.stringify(queries.slice(-5))}`,
    `--- its info log, ${relevant.length} relevant lines (last 60) ---`,
    ...relevant.slice(-60),
    '--- the relays ---',
    await scope.network.logTail(undefined, 12),
  ].join('\n');
}

function expectedReachable(c: ClientCase): ServerName[] {
  return SERVER_NAMES.filter((n) => typeof c.expect[n] === 'string');
}

before(async () => {
  scope = await openTorGrid('tahoe-ts-tor-matrix-');
  const s = scope;

  // The introducer: TCP and onion (1.20 spelling), so every client use case can reach it.
  const introDir = await makeNode(path.join(s.root, 'introducer'), { command: 'create-introducer', listen: ['tcp', 'tor'], hostname: 'localhost', torControlPort: s.controlPort });
  const introducer = await s.start(introDir);
  const furl = introducer.introducerFurl;
  assert.ok(furl);
  // Its private/introducer.furl: one NURL per location, the TCP one and the onion one.
  const introNurls = furl.split(' ');
  assert.equal(introNurls.length, 2, furl);
  assert.match(introNurls[0], /^pb:\/\/[A-Za-z0-9_-]{43}@localhost:\d+\/[a-z2-7]+#v=1$/);
  assert.match(introNurls[1], /^pb\+tor:\/\/[A-Za-z0-9_-]{43}@[a-z2-7]{56}\.onion:3457\/[a-z2-7]+#v=1$/);

  // A tor of its own for UC3-hide-ip, with a unix SOCKS socket like Debian's /run/tor/socks (G-6).
  const socksSocket = path.join(s.root, 'observed-socks', 'socks');
  observedTor = await launchTor({ gate: OPEN_GATE, dataDir: path.join(s.root, 'observed-tor'), extraTorrc: s.network.networkTorrc, socksSocketPath: socksSocket, bootstrapTimeoutMs: 60_000, extraOptions: [['Log', `notice file ${observedTorLog()}`], ['Log', `info file ${observedTorLog()}.info`]] });
  assert.deepEqual(observedTor.socks, { path: socksSocket });
  observedTor.control.onEvent((event: TorEvent) => {
    if (event.type !== 'OTHER' || event.name !== 'STREAM') return;
    const text = event.lines[0].text;
    observedStreamLines.push(`${new Date().toISOString()} ${text}`);
    const m = /^STREAM (\d+) (\S+) (\d+) (\S+)/.exec(text);
    if (!m) return;
    const userStream = m[2] === 'NEW' ? / PURPOSE=USER\b/.test(text) : observedStreams.some((s) => s.id === m[1]);
    if (!userStream) return;
    const user = /SOCKS_USERNAME="([^"]*)"/.exec(text)?.[1];
    const password = /SOCKS_PASSWORD="([^"]*)"/.exec(text)?.[1];
    observedStreams.push({ id: m[1], status: m[2], circuit: m[3], target: m[4], ...(user === undefined ? {} : { username: user }), ...(password === undefined ? {} : { password }) });
  });
  await observedTor.control.setEvents(['STREAM']);

  await Promise.all(
    SERVER_NAMES.map(async (name) => {
      const dir = path.join(s.root, name);
      const plan = serverCreate(name, s, furl, dir);
      await makeNode(dir, plan.create, plan.edits);
      servers.set(name, await s.start(dir));
    }),
  );
  gatewayUrl = '';
  await Promise.all(
    CLIENTS.map(async (c) => {
      const dir = path.join(s.root, c.name);
      const n = expectedReachable(c).length;
      await makeNode(dir, { ...c.create, nickname: c.name, introducer: furl, sharesNeeded: n, sharesHappy: n, sharesTotal: n }, c.edits(s));
      const extra: CfgEdit[] = [];
      if (c.name === 'UC3-hide-ip') extra.push({ section: 'tor', key: 'socks.port', value: `unix:${socksSocket}` });
      if (c.name === 'UC3-anonymize') extra.push({ section: 'node', key: 'web.port', value: `tcp:${await freePort()}:interface=127.0.0.1` });
      if (extra.length > 0) await editTahoeCfg(dir, extra);
      const node = await s.start(dir, { ...c.nodeOptions?.(s), ...(c.name === 'UC3-anonymize' ? { webGateway: createWebGateway } : {}) });
      clients.set(c.name, node);
      if (c.name === 'UC3-anonymize') gatewayUrl = node.webUrl ?? '';
    }),
  );
});

after(async () => {
  await observedTor?.stop();
  await scope?.close();
});

describe('every client use case × every server use case', { concurrency: 3 }, () => {
  for (const c of CLIENTS) {
    it(`${c.name}: ${SERVER_NAMES.map((n) => `${n} ${typeof c.expect[n] === 'string' ? c.expect[n] : 'refused'}`).join(', ')}`, { timeout: 420_000 }, async () => {
      const node = clients.get(c.name);
      assert.ok(node, `${c.name} started`);
      const reachable = expectedReachable(c);
      const refused = SERVER_NAMES.filter((n) => !reachable.includes(n));
      await waitFor(
        () => {
          const st = statusesByNickname(node);
          return reachable.every((n) => st.get(n)?.connected === true) && refused.every((n) => st.get(n)?.lastError !== undefined);
        },
        // Usually seconds; on a loaded machine a client tor now and then keeps a new onion
        // stream waiting for minutes (tor holds SOCKS requests while it lacks directory info).
        300_000,
        () => `${c.name} to see its servers: ${JSON.stringify([...statusesByNickname(node).values()].map((x) => [x.nickname, x.connected, x.transport, x.lastError]))}`,
      ).catch(async (e: unknown) => {
        const tail = (await nodeLog(node.directory)).split('\n').slice(-25).join('\n');
        const torTail = c.name === 'UC3-hide-ip' ? `\n--- its tor ---\n${(await readFile(observedTorLog(), 'utf8').catch(() => '')).split('\n').slice(-40).join('\n')}\n${await observedTorReport()}` : '';
        throw new Error(`${(e as Error).message}\n--- ${c.name} log ---\n${tail}${torTail}\n--- the network's client tor ---\n${await scope.network.logTail('client', 20)}`);
      });
      const st = statusesByNickname(node);
      assert.deepEqual([...st.keys()].sort(), [...SERVER_NAMES].sort(), 'the introducer told the client about every server');
      for (const name of SERVER_NAMES) {
        const want = c.expect[name];
        const got = st.get(name);
        assert.ok(got);
        if (typeof want === 'string') assert.equal(got.transport, want, `${c.name} reaches ${name} via ${want}`);
        else {
          assert.equal(got.connected, false, `${c.name} must not reach ${name}`);
          assert.match(got.lastError ?? '', want, `${c.name}: why ${name} is skipped, and the fix`);
        }
      }
      const intro = node.status().introducers[0];
      assert.equal(intro.connected, true);
      assert.equal(intro.transport, c.introducerVia, `${c.name} reaches the introducer via ${c.introducerVia}`);

      const result = await roundTrip(node, FILE_SIZE);
      log(`${c.name}: ${FILE_SIZE} bytes up in ${result.uploadMs} ms, down in ${result.downloadMs} ms over ${result.servers} servers`);
      assert.equal(result.servers, reachable.length);
      for (const name of SERVER_NAMES) {
        const held = await sharesHeld(servers.get(name)?.directory ?? '', result.storageIndex);
        assert.equal(held, reachable.includes(name) ? 1 : 0, `${name} holds ${reachable.includes(name) ? 'one share' : 'no share'} of ${c.name}'s file`);
      }
      if (c.name.startsWith('UC2')) {
        const tor = node.status().transports.find((t) => t.name === 'tor');
        assert.ok(tor?.ready, `${c.name} found its tor: ${JSON.stringify(tor)}`);
        if (c.name === 'UC2-socks-only') assert.match(tor.summary, /no control port/, 'HTTPS storage over Tor with a SOCKS port only');
      }
    });
  }
});

describe('what the matrix runs on', { concurrency: 1 }, () => {
  it('announcements: S1 TCP only, S2 both (tcp: + tor: fURL hints, pb:// + pb+tor:// NURLs), S3 onion only', async () => {
    const expected: Record<ServerName, { nurls: string[]; hints: string[] }> = {
      S1: { nurls: ['pb'], hints: ['tcp'] },
      'S2-original': { nurls: ['pb', 'pb+tor'], hints: ['tcp', 'tor'] },
      'S2-1.20': { nurls: ['pb', 'pb+tor'], hints: ['tcp', 'tor'] },
      'S3-original': { nurls: ['pb+tor'], hints: ['tor'] },
      'S3-1.20': { nurls: ['pb+tor'], hints: ['tor'] },
    };
    for (const name of SERVER_NAMES) {
      const node = servers.get(name) as TahoeNode;
      const schemes = [...new Set(node.storageNurls.map((n) => n.slice(0, n.indexOf('://'))))].sort();
      assert.deepEqual(schemes, expected[name].nurls, `${name} NURLs`);
      for (const n of node.storageNurls.filter((x) => x.startsWith('pb+tor://'))) assert.match(n, /@[a-z2-7]{56}\.onion:(80|3457)\/[a-z2-7]+#v=1$/);
      const furl = (await readFile(path.join(node.directory, 'private', 'storage.furl'), 'utf8')).trim();
      const hints = (/@([^/]*)\//.exec(furl)?.[1] ?? '').split(',');
      assert.deepEqual([...new Set(hints.map((h) => h.split(':')[0]))].sort(), expected[name].hints, `${name} fURL hints: ${hints.length}`);
    }
  });

  it('UC3: the TCP server was reached by host name through the exit (the exit asked the network\'s name server)', () => {
    const asked = scope.network.exitDnsQueries().filter((q) => q.name === 'localhost' && q.answered);
    assert.ok(asked.length > 0, 'the exits resolved "localhost" for the clients that hide their IP');
  });

  it('UC3: per-server stream isolation, seen in the STREAM events of the client\'s own tor', () => {
    // Which server each "host:port" belongs to, from what the servers and the introducer announce.
    const owner = new Map<string, string>();
    for (const [name, node] of servers) for (const nurl of node.storageNurls) owner.set(/@([^/]+)\//.exec(nurl)?.[1] ?? '', name);
    const intro = scope.nodes[0];
    for (const nurl of (intro.introducerFurl ?? '').split(' ')) owner.set(/@([^/]+)\//.exec(nurl)?.[1] ?? '', 'introducer');

    const news = observedStreams.filter((s) => s.status === 'NEW');
    assert.ok(news.length >= 6, `streams to the introducer and five servers (${news.length})`);
    const serversOfToken = new Map<string, Set<string>>();
    const tokensOfServer = new Map<string, Set<string>>();
    for (const s of news) {
      assert.equal(s.username, '<torS0X>0', `stream ${s.id} to ${s.target} carries the isolation username`);
      assert.ok(s.password !== undefined && s.password.length >= 16, 'and a random password');
      const server = owner.get(s.target);
      assert.ok(server, `stream ${s.id} goes to an announced address (${s.target}), never to a numeric or unknown one`);
      serversOfToken.set(s.password, (serversOfToken.get(s.password) ?? new Set()).add(server));
      tokensOfServer.set(server, (tokensOfServer.get(server) ?? new Set()).add(s.password));
    }
    assert.deepEqual([...tokensOfServer.keys()].sort(), [...SERVER_NAMES, 'introducer'].sort(), 'streams to every server and the introducer');
    for (const [server, tokens] of tokensOfServer) assert.equal(tokens.size, 1, `one isolation token per server (${server})`);
    for (const [, owners] of serversOfToken) assert.equal(owners.size, 1, `a token is never shared by two servers (${[...owners].join(', ')})`);
    // Streams to different servers never share a circuit.
    const circuitOwner = new Map<string, string>();
    const requested = new Map(news.map((s) => [s.id, s.target]));
    for (const s of observedStreams.filter((x) => x.status === 'SENTCONNECT')) {
      const server = owner.get(requested.get(s.id) ?? '') ?? s.target;
      const first = circuitOwner.get(s.circuit);
      assert.ok(first === undefined || first === server, `circuit ${s.circuit} carries streams to ${first} and ${server}`);
      circuitOwner.set(s.circuit, server);
    }
    // Names only: the TCP-only server by host name through an exit, onion services directly.
    const s1 = news.filter((s) => owner.get(s.target) === 'S1').map((s) => s.target.replace(/:\d+$/, ''));
    assert.ok(s1.length > 0 && s1.every((h) => h === 'localhost'), `S1 by name: ${s1.join(', ')}`);
    for (const name of ['S3-original', 'S3-1.20']) {
      assert.ok(news.filter((s) => owner.get(s.target) === name).every((s) => /^[a-z2-7]{56}\.onion:\d+$/.test(s.target)), `${name} as an onion service`);
    }
  });

  it('UC3: a file stored and fetched through the web gateway goes through Tor as well', async () => {
    assert.ok(gatewayUrl, 'UC3-anonymize runs a web gateway');
    const data = randomBytes(200_000);
    const put = await request(gatewayUrl, 'PUT', '/uri', data);
    assert.equal(put.status, 200, put.body.toString());
    const cap = put.body.toString().trim();
    const got = await request(gatewayUrl, 'GET', `/uri/${encodeURIComponent(cap)}`);
    assert.equal(got.status, 200);
    assert.equal(createHash('sha256').update(got.body).digest('hex'), createHash('sha256').update(data).digest('hex'));
    const node = clients.get('UC3-anonymize') as TahoeNode;
    assert.ok([...statusesByNickname(node).values()].every((s) => s.transport === 'tor'));
    assert.equal(node.status().transports.some((t) => t.name === 'tcp'), true, 'a tcp transport exists for listening only');
    assert.doesNotMatch(await nodeLog(node.directory), /via tcp/, 'no connection of this node went via tcp');
  });
});

function request(url: string, method: string, pathAndQuery: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(pathAndQuery, url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent: false, headers: body === undefined ? {} : { 'content-length': String(body.length) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
