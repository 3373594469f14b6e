/**
 * AN-2: one egress choke point, audited. The source audit (egress-audit.ts) must find
 * nothing in src/; each of its rules is shown to fire on a small example (so a regression
 * that reintroduces `net.connect`, `fetch`, a global agent, a resolver call … fails here);
 * runtime dependencies are scanned for network, resolver and process APIs (AN-2.4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { auditDependencies, auditRepository, auditSource } from './egress-audit.js';

test('src/: every outbound socket goes through openSocket; no resolver, fetch, global agent or self-dialling http', () => {
  const { files, findings } = auditRepository(REPO_ROOT);
  assert.ok(files > 100, `audited ${files} files`);
  assert.deepEqual(findings.map((f) => `${f.file}:${f.line} [${f.rule}] ${f.message}`), []);
});

const BAD: Array<[string, string, string]> = [
  ['net.connect', "import net from 'node:net';\nnet.connect({ host: 'example.org', port: 80 });", 'socket'],
  ['aliased connect', "import { connect as c } from 'net';\nc(80, 'example.org');", 'socket'],
  ['namespace createConnection', "import * as n from 'node:net';\nn.createConnection(80);", 'socket'],
  ['new Socket', "import { Socket } from 'node:net';\nnew Socket().connect(80);", 'socket'],
  ['tls.connect to a host', "import tls from 'node:tls';\ntls.connect({ host: 'example.org', port: 443 });", 'tls'],
  ['tls.connect with socket and host', "import tls from 'node:tls';\ntls.connect({ socket: s, host: 'x' });", 'tls'],
  ['http.request, global agent', "import http from 'node:http';\nhttp.request({ host: 'example.org' });", 'http-agent'],
  ['http.get with a URL', "import http from 'node:http';\nhttp.get('http://example.org/');", 'http-agent'],
  ['http.request, options cast', "import http from 'node:http';\nhttp.request({ host: 'example.org' } as http.RequestOptions);", 'http-agent'],
  ['http.request agent: false', "import http from 'node:http';\nhttp.request({ host: 'h', agent: false });", 'http-agent'],
  ['http.request globalAgent', "import http from 'node:http';\nhttp.request({ host: 'h', agent: http.globalAgent });", 'http-agent'],
  ['https.request', "import https from 'node:https';\nhttps.request({ host: 'h', createConnection: f });", 'http-agent'],
  ['new http.Agent', "import http from 'node:http';\nconst a = new http.Agent({ keepAlive: true });", 'http-agent'],
  ['Agent subclass without createConnection', "import http from 'node:http';\nclass A extends http.Agent { x() {} }", 'http-agent'],
  ['fetch', "await fetch('https://example.org/');", 'global'],
  ['globalThis.fetch', "globalThis.fetch('https://example.org/');", 'global'],
  ['WebSocket', "new WebSocket('wss://example.org/');", 'global'],
  ['dns import', "import dns from 'node:dns';\ndns.lookup('example.org', () => {});", 'module'],
  ['dns call', "import { promises } from 'dns';\nimport dns from 'dns';\ndns.resolve4('x');", 'dns'],
  ['dgram', "import dgram from 'node:dgram';\ndgram.createSocket('udp4').send(b, 53, '8.8.8.8');", 'module'],
  ['child_process', "import { spawn } from 'node:child_process';\nspawn('curl', ['https://example.org/']);", 'module'],
  ['http2', "import http2 from 'node:http2';\nhttp2.connect('https://example.org');", 'module'],
  ['require', "const net = require('net');", 'dynamic-import'],
  ['computed import', 'const m = await import(name);', 'dynamic-import'],
  ['dynamic import of net', "const net = await import('node:net');", 'dynamic-import'],
  ['OPEN_GATE in node code', "import { OPEN_GATE } from '../net/socket.js';\nopenSocket(ep, { gate: OPEN_GATE, purpose: 'direct' });", 'gate'],
  ['home-made open gate', "const g = { check() {}, allowNameResolution: true };", 'gate'],
  ['process.binding', "process.binding('tcp_wrap');", 'binding'],
];

test('the audit rules fire on each way around the choke point', () => {
  for (const [name, code, rule] of BAD) {
    const findings = auditSource('src/grid/example.ts', code);
    assert.ok(findings.some((f) => f.rule === rule), `${name}: expected rule ${rule}, got ${JSON.stringify(findings)}`);
  }
});

test('the audit accepts the sanctioned forms', () => {
  const GOOD: Array<[string, string, string]> = [
    ['openSocket', 'src/net/socket.ts', "import net from 'node:net';\nnet.connect({ path: p });"],
    ['tls over a stream', 'src/net/tls.ts', "import tls from 'node:tls';\ntls.connect({ socket: stream, servername: '' });"],
    ['http.request with createConnection', 'src/web/client.ts', "import http from 'node:http';\nhttp.request({ method: 'GET', createConnection: () => s });"],
    ['http.request with createConnection, cast', 'src/web/client.ts', "import http from 'node:http';\nhttp.request({ createConnection: () => s } as http.RequestOptions, cb);"],
    ['import() of a constant specifier', 'src/codec/x.ts', "const spec = './wasm/kernel.generated.js';\nawait import(spec);"],
    ['http.request with an own agent', 'src/storage/client.ts', "import http from 'node:http';\nclass A extends http.Agent { override createConnection() { return s; } }\nhttp.request({ agent: this.agent });"],
    ['servers', 'src/web/gateway.ts', "import http from 'node:http';\nimport https from 'node:https';\nhttp.createServer(h).listen(0, '127.0.0.1');\nhttps.createServer(o, h);"],
    ['type-only imports', 'src/grid/x.ts', "import type { Socket } from 'node:net';\nimport type dns from 'node:dns';\nlet s: Socket;"],
    ['a local variable named fetch', 'src/grid/x.ts', "import { fetch } from './fetcher.js';\nfetch(1);"],
    ['dgram where allowed', 'src/net/i2p/router-process.ts', "import dgram from 'node:dgram';\ndgram.createSocket('udp4');"],
  ];
  for (const [name, file, code] of GOOD) assert.deepEqual(auditSource(file, code), [], name);
});

/**
 * What the runtime dependencies may contain, with why it is harmless. Anything new fails
 * the test until someone has looked at it.
 */
const DEPENDENCY_ALLOW: Record<string, string> = {
  'node_modules/commander/lib/command.js require child_process': 'spawns only "executable subcommands" (.command(name, description)); tahoe-ts registers none (checked below)',
  'node_modules/cborg/test/node-test-bin.js require child_process': 'cborg\'s own test suite, not reachable from its exports',
  'node_modules/cborg/test/node-test-bin.js import child_process': 'cborg\'s own test suite, not reachable from its exports',
  'node_modules/cborg/bench/bench.js global fetch': 'cborg\'s benchmark script, not reachable from its exports',
};

test('runtime dependencies never dial, resolve or spawn on their own (AN-2.4)', () => {
  const { packages, files, findings } = auditDependencies(REPO_ROOT);
  assert.ok(packages.some((p) => p.endsWith('node_modules/cborg')) && packages.some((p) => p.endsWith('node_modules/@peculiar/x509')), packages.join(' '));
  assert.ok(files > 50, `${files} files scanned`);
  const unexpected = [...new Set(findings.map((f) => `${f.file} ${f.what}`))].filter((k) => DEPENDENCY_ALLOW[k] === undefined);
  assert.deepEqual(unexpected, [], 'a dependency uses a network, resolver or process API: review it and extend DEPENDENCY_ALLOW with the reason, or drop the dependency');

  // commander spawns only for executable subcommands: tahoe-ts must not define any.
  const executable: string[] = [];
  const visit = (cmd: Command) => {
    if ((cmd as unknown as { _executableHandler?: boolean })._executableHandler === true) executable.push(cmd.name());
    cmd.commands.forEach(visit);
  };
  const program = buildProgram();
  visit(program);
  assert.ok(program.commands.length >= 5);
  assert.deepEqual(executable, []);
});
