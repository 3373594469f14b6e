/**
 * The node runtime in process: real nodes in temp directories (created by the real
 * create-node / create-introducer code) on 127.0.0.1, real TLS, real introducer and
 * storage servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { bytesSource } from '../../src/immutable/source.js';
import { isTahoeError } from '../../src/errors.js';
import { TahoeNode } from '../../src/node/node.js';
import { createNode } from '../../src/config/create.js';
import { editTahoeCfg } from '../../src/config/keys.js';
import { Logger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { clientDir, introducerDir, startNode, waitFor } from './helpers.js';

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

test('a grid in one process: servers appear through the introducer, a client uploads and downloads', async (t) => {
  const root = tempDir(t);
  const intro = await introducerDir(root);
  const introducer = await startNode(t, intro.directory);
  assert.equal(introducer.nodeType, 'introducer');
  // A TCP-only introducer: private/introducer.furl is one line, its HTTPS NURL.
  const fileText = await readFile(path.join(intro.directory, 'private', 'introducer.furl'), 'utf8');
  assert.match(fileText, /^pb:\/\/[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+\/[a-z2-7]{32}#v=1\n$/);
  const furl = fileText.trim();
  assert.equal(furl, introducer.introducerFurl);
  assert.deepEqual([furl], [...introducer.introducerNurls]);
  assert.equal((await stat(path.join(intro.directory, 'private', 'introducer.furl'))).mode & 0o777, 0o600);
  assert.equal(await stat(path.join(intro.directory, 'private', 'introducer.nurls')).catch(() => undefined), undefined, 'no second address file');

  const servers = [];
  for (let i = 0; i < 3; i++) {
    const dir = await clientDir(root, `s${i}`, { introducer: furl, shares: [2, 3, 3] });
    servers.push(await startNode(t, dir.directory));
  }
  const client = await startNode(t, (await clientDir(root, 'client', { introducer: furl, storage: false, shares: [2, 3, 3] })).directory);
  const grid = client.services.grid;
  assert.ok(grid !== undefined);
  await grid.waitForServers(3, { timeoutMs: 15_000 });
  assert.deepEqual(grid.serverStatuses().map((s) => s.nickname).sort(), ['s0', 's1', 's2']);
  assert.ok(grid.serverStatuses().every((s) => s.announcedVia === 'introducer' && s.transport === 'tcp'));
  const intros = client.status().introducers;
  assert.equal(intros.length, 1);
  assert.equal(intros[0].connected, true);
  assert.equal(intros[0].announcements, 3);
  // The storage servers published, with seqnums persisted.
  assert.ok(Number((await readFile(path.join(servers[0].directory, 'announcement-seqnum'), 'utf8')).trim()) >= 1);
  assert.equal(introducer.status().introducer?.announcements, 3);

  const data = randomBytes(300_000);
  const up = await grid.uploadImmutable(bytesSource(data), data.length);
  assert.equal(up.servers, 3);
  const down = await grid.downloadImmutable(up.cap);
  assert.ok((await collect(down.stream)).equals(data));
});

test('introducer down when a node starts: the node starts from its cache, then connects when the introducer comes up', async (t) => {
  const root = tempDir(t);
  const intro = await introducerDir(root);
  let introducer = await startNode(t, intro.directory);
  const furl = introducer.introducerFurl as string;
  const s0 = await startNode(t, (await clientDir(root, 's0', { introducer: furl })).directory);
  const s1 = await startNode(t, (await clientDir(root, 's1', { introducer: furl })).directory);
  const clientDirectory = (await clientDir(root, 'client', { introducer: furl, storage: false, shares: [1, 2, 2] })).directory;
  let client = await startNode(t, clientDirectory);
  await client.services.grid?.waitForServers(2, { timeoutMs: 15_000 });
  const cacheFile = path.join(clientDirectory, 'private', 'introducer_default_cache.yaml');
  await waitFor(async () => (await readFile(cacheFile, 'utf8').catch(() => '')).includes(s1.serverId), 5_000, 'the cache to be written');
  assert.equal((await stat(cacheFile)).mode & 0o777, 0o600);
  await client.stop();
  await introducer.stop();

  // Restart the client while the introducer is down.
  client = await startNode(t, clientDirectory);
  const grid = client.services.grid;
  assert.ok(grid !== undefined);
  await grid.waitForServers(2, { timeoutMs: 10_000 });
  assert.equal(client.status().introducers[0].connected, false);
  const data = randomBytes(50_000);
  const { cap } = await grid.uploadImmutable(bytesSource(data), data.length);
  assert.ok((await collect((await grid.downloadImmutable(cap)).stream)).equals(data));

  // The introducer comes back (same identity and fURL); a new server joins through it.
  introducer = await startNode(t, intro.directory);
  assert.equal(introducer.introducerFurl, furl);
  const s2 = await startNode(t, (await clientDir(root, 's2', { introducer: furl })).directory);
  await waitFor(() => client.status().introducers[0].connected, 10_000, 'the client to reach the introducer');
  await grid.waitForServers(3, { timeoutMs: 10_000 });
  assert.ok(grid.serverStatuses().some((s) => s.serverId === s2.serverId));
  // The running servers republished to the restarted introducer on their own.
  await waitFor(() => introducer.status().introducer?.announcements === 3, 10_000, 'every server to republish');
  void s0;
});

test('servers disappear live: a server that stops refreshing expires at the introducer and leaves every client', async (t) => {
  const root = tempDir(t);
  const intro = await introducerDir(root);
  const introducer = await startNode(t, intro.directory);
  const furl = introducer.introducerFurl as string;
  await startNode(t, (await clientDir(root, 's0', { introducer: furl })).directory);
  const doomed = await startNode(t, (await clientDir(root, 's1', { introducer: furl })).directory);
  const client = await startNode(t, (await clientDir(root, 'client', { introducer: furl, storage: false })).directory);
  const grid = client.services.grid;
  assert.ok(grid !== undefined);
  await grid.waitForServers(2, { timeoutMs: 15_000 });
  await doomed.stop(); // gone without a goodbye, like a crash
  await waitFor(() => grid.serverStatuses().length === 1, 10_000, 'the dead server to disappear');
  assert.notEqual(grid.serverStatuses()[0].serverId, doomed.serverId);
  assert.equal(introducer.status().introducer?.announcements, 1);
});

test('refuses a privacy violation before opening any socket', async (t) => {
  const root = tempDir(t);
  // Something that must never be contacted: it stands for tor, the introducer and peers.
  let connections = 0;
  const trap = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => trap.close(() => r())));
  const trapPort = (trap.address() as net.AddressInfo).port;
  const fake = `pb://${'a'.repeat(32)}@tcp:127.0.0.1:${trapPort}/${'b'.repeat(32)}`;
  const { directory } = await clientDir(root, 'leaky', {
    introducer: fake,
    storage: false,
    edits: [
      { section: 'node', key: 'reveal-IP-address', value: 'false' },
      { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${trapPort}` },
      { section: 'tor', key: 'control.port', value: `tcp:127.0.0.1:${trapPort}` },
    ],
  });
  await assert.rejects(TahoeNode.start({ directory, logger: undefined, logToStderr: false }), (e) => isTahoeError(e, 'PrivacyViolation') && /tcp/.test(e.hint));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(connections, 0, 'no socket was opened');
});

test('refuses a private/ directory others can read, naming the chmod', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'loose');
  await chmod(path.join(directory, 'private'), 0o755);
  await assert.rejects(TahoeNode.start({ directory, logToStderr: false }), (e) => isTahoeError(e, 'NodeDirInvalid') && /chmod 700/.test(e.hint));
  await chmod(path.join(directory, 'private'), 0o700);
  await chmod(path.join(directory, 'private', 'node.privkey'), 0o644);
  await assert.rejects(TahoeNode.start({ directory, logToStderr: false }), (e) => isTahoeError(e, 'NodeDirInvalid') && /chmod 600/.test(e.hint));
});

test('a port in use is a clear error, and a failed start leaves nothing behind', async (t) => {
  const root = tempDir(t);
  const port = await freePort();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  const { directory } = await clientDir(root, 'busy', { port, webport: `tcp:0:interface=127.0.0.1` });
  await assert.rejects(TahoeNode.start({ directory, logToStderr: false }), (e) => isTahoeError(e, 'ConfigInvalid') && /EADDRINUSE/.test(e.message) && /another program/.test(e.hint));
  await new Promise<void>((r) => blocker.close(() => r()));
  const node = await startNode(t, directory);
  assert.equal(node.listenerInfo().length, 1);
  await node.stop();
  await node.stop(); // idempotent
  assert.ok(await portIsFree(port), 'the storage port is free after stop');
});

test('tub.location AUTO announces the interface addresses; an unset tub.port is remembered in client.port', async (t) => {
  const root = tempDir(t);
  const { directory } = await clientDir(root, 'auto', {
    edits: [
      { section: 'node', key: 'tub.port', value: null },
      { section: 'node', key: 'tub.location', value: 'AUTO' },
    ],
  });
  const node = await startNode(t, directory);
  const remembered = (await readFile(path.join(directory, 'client.port'), 'utf8')).trim();
  assert.match(remembered, /^tcp:\d+$/);
  const port = remembered.slice(4);
  assert.ok(node.storageNurls.some((n) => n.includes(`@127.0.0.1:${port}/`)), 'loopback is among the AUTO addresses');
  await node.stop();
  const again = await startNode(t, directory);
  assert.ok(again.storageNurls.some((n) => n.includes(`@127.0.0.1:${port}/`)), 'the same port after a restart');
});

test('a client-only node opens no listener and finds the servers through the introducer', async (t) => {
  const root = tempDir(t);
  const intro = await introducerDir(root);
  const introducer = await startNode(t, intro.directory);
  await startNode(t, (await clientDir(root, 's0', { introducer: introducer.introducerFurl })).directory);
  const client = await startNode(t, (await clientDir(root, 'client', { introducer: introducer.introducerFurl, storage: false })).directory);
  assert.deepEqual(client.listenerInfo(), []);
  assert.equal(client.storageNurls.length, 0);
  await client.services.grid?.waitForServers(1, { timeoutMs: 10_000 });
});

test('a node that must reach everything through Tor refuses to start when Tor is unavailable (AN-1.4)', async (t) => {
  const root = tempDir(t);
  const closedPort = await freePort();
  const { directory } = await clientDir(root, 'hidden', {
    storage: false,
    edits: [
      { section: 'node', key: 'reveal-IP-address', value: 'false' },
      { section: 'connections', key: 'tcp', value: 'tor' },
      { section: 'tor', key: 'socks.port', value: `tcp:127.0.0.1:${closedPort}` },
    ],
  });
  await assert.rejects(TahoeNode.start({ directory, logToStderr: false }), (e) => isTahoeError(e, 'TorUnavailable') && /tor/.test(e.hint));
});

test('private/introducer.furl with several NURLs: one per line, handed to clients as cat prints it or joined by a space; an older fURL-form file keeps its swissnum', async (t) => {
  const root = tempDir(t);
  const port = await freePort();
  const directory = path.join(root, 'introducer');
  // Two TCP hints for one listener: two NURLs.
  await createNode({ directory, command: 'create-introducer', port: `tcp:${port}:interface=127.0.0.1`, location: `tcp:127.0.0.1:${port},tcp:localhost:${port}`, webport: 'none' });
  const file = path.join(directory, 'private', 'introducer.furl');
  // An introducer from before: the fURL-form line (TubID pin, every hint) and the NURL file beside it.
  const swissnum = 'q'.repeat(32);
  await writeFile(file, `pb://${'a'.repeat(32)}@tcp:127.0.0.1:${port},tcp:localhost:${port}/${swissnum}\n`, { mode: 0o600 });
  await writeFile(path.join(directory, 'private', 'introducer.nurls'), 'pb://old\n', { mode: 0o600 });
  const lines: string[] = [];
  const introducer = await startNode(t, directory, { logger: new Logger({ sink: { write: (line) => lines.push(line) } }) });
  const text = await readFile(file, 'utf8');
  const nurls = text.trim().split('\n');
  assert.equal(nurls.length, 2);
  for (const n of nurls) assert.match(n, new RegExp(`^pb://[A-Za-z0-9_-]{43}@(127\\.0\\.0\\.1|localhost):${port}/${swissnum}#v=1$`));
  assert.deepEqual(nurls, [...introducer.introducerNurls]);
  assert.equal(introducer.introducerFurl, nurls.join(' '));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.ok(lines.some((l) => /private\/introducer\.nurls .*no longer updated.*delete/.test(l)), 'the stale file is named');
  assert.ok(lines.some((l) => /introducer ready: its 2 NURLs are in private\/introducer\.furl/.test(l)));
  assert.ok(!lines.some((l) => l.includes(swissnum)), 'the swissnum is never logged');

  // create-client --introducer "$(cat private/introducer.furl)": the line break stays inside the value.
  await startNode(t, (await clientDir(root, 's0', { introducer: text.trim() })).directory);
  const viaCat = await startNode(t, (await clientDir(root, 'via-cat', { introducer: text.trim(), storage: false })).directory);
  await viaCat.services.grid?.waitForServers(1, { timeoutMs: 10_000 });
  assert.equal(viaCat.status().introducers[0].connected, true);
  await introducer.stop();

  // Restarted: the same NURLs (swissnum read back from the NURL form this time).
  const again = await startNode(t, directory);
  assert.equal(await readFile(file, 'utf8'), text);
  assert.equal(again.introducerFurl, nurls.join(' '));
});

test('an introducer whose only hint is a legacy HOST:PORT (no NURL): private/introducer.furl keeps the fURL form, with a warning, and clients reach it', async (t) => {
  const root = tempDir(t);
  const port = await freePort();
  const directory = path.join(root, 'introducer');
  await createNode({ directory, command: 'create-introducer', port: `tcp:${port}:interface=127.0.0.1`, location: `127.0.0.1:${port}`, webport: 'none' });
  const lines: string[] = [];
  const introducer = await startNode(t, directory, { logger: new Logger({ sink: { write: (line) => lines.push(line) } }) });
  const text = await readFile(path.join(directory, 'private', 'introducer.furl'), 'utf8');
  assert.match(text, new RegExp(`^pb://[a-z2-7]{32}@127\\.0\\.0\\.1:${port}/[a-z2-7]{32}\n$`));
  assert.deepEqual(introducer.introducerNurls, []);
  assert.equal(introducer.introducerFurl, text.trim());
  assert.ok(lines.some((l) => /WARN .*legacy HOST:PORT.*holds the older fURL form.*tcp:HOST:PORT/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /introducer ready: its address is in private\/introducer\.furl \(fURL form/.test(l)));
  await startNode(t, (await clientDir(root, 's0', { introducer: text.trim() })).directory);
  const client = await startNode(t, (await clientDir(root, 'client', { introducer: text.trim(), storage: false })).directory);
  await client.services.grid?.waitForServers(1, { timeoutMs: 10_000 });
  // Once the hint is written tcp:HOST:PORT, the file holds the NURL with the same swissnum.
  await introducer.stop();
  await editTahoeCfg(directory, [{ section: 'node', key: 'tub.location', value: `tcp:127.0.0.1:${port}` }]);
  const again = await startNode(t, directory);
  assert.deepEqual(again.introducerNurls, [(await readFile(path.join(directory, 'private', 'introducer.furl'), 'utf8')).trim()]);
  assert.equal(again.introducerNurls[0].split('/')[3].replace('#v=1', ''), text.trim().split('/')[3]);
});

test('the deprecated [client] introducer.furl works as petname "default"; together with a "default" in introducers.yaml it is refused', async (t) => {
  const root = tempDir(t);
  const intro = await introducerDir(root);
  const introducer = await startNode(t, intro.directory);
  const furl = introducer.introducerFurl as string;
  // A NURL in tahoe.cfg: its "#v=1" is not taken for the comment 1.20 refuses.
  assert.match(furl, /^pb:\/\/\S+#v=1$/);
  await startNode(t, (await clientDir(root, 's0', { introducer: furl })).directory);
  const { directory } = await clientDir(root, 'old-style', { storage: false, edits: [{ section: 'client', key: 'introducer.furl', value: furl }] });
  const client = await startNode(t, directory);
  assert.equal(client.status().introducers[0].petname, 'default');
  await client.services.grid?.waitForServers(1, { timeoutMs: 10_000 });
  await client.stop();
  const both = await clientDir(root, 'both', { storage: false, introducer: furl, edits: [{ section: 'client', key: 'introducer.furl', value: furl }] });
  await assert.rejects(TahoeNode.start({ directory: both.directory, logToStderr: false }), (e) => isTahoeError(e, 'ConfigInvalid') && /default/.test(e.message));
});
