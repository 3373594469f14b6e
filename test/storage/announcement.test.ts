/**
 * The storage announcement and `tahoe-ts admin storage-announcement`: the printed
 * servers.yaml entry parses as a client would parse it (our grid parser and PyYAML), its
 * identities match the node's files, and a client built from it reaches the server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { statSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createNode } from '../../src/config/create.js';
import { readNodeCertificate, readNodeKey } from '../../src/config/keys.js';
import { spkiHash, tubIdBytes, tubIdOf } from '../../src/crypto/certificate.js';
import { base32Decode } from '../../src/crypto/base32.js';
import { serverIdOf } from '../../src/crypto/node-key.js';
import { parseServersYaml } from '../../src/grid/servers-yaml.js';
import { parseAnnouncement } from '../../src/grid/announcement.js';
import { buildStorageAnnouncement, formatServersYaml } from '../../src/storage/announcement.js';
import { loadStorageIdentity, storageNurls } from '../../src/storage/identity.js';
import { ShareStore } from '../../src/storage/share-store.js';
import { StorageServer } from '../../src/storage/server.js';
import { StorageClient } from '../../src/storage/client.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { onionAddressFromPublicKey, parseHint } from '../../src/net/hints.js';
import { isTahoeError } from '../../src/errors.js';
import { runCli } from '../cli/cli-helper.js';
import { tempDir } from '../helpers/tmp.js';

test('buildStorageAnnouncement has 1.20\'s keys; NURLs for tcp:, tor: and i2p: hints (not legacy HOST:PORT)', () => {
  const onion = onionAddressFromPublicKey(Buffer.alloc(32, 9));
  const hints = ['tcp:127.0.0.1:3457', `tor:${onion}:3457`, 'i2p:' + 'a'.repeat(52) + '.b32.i2p', '192.0.2.1:3457'].map((h) => parseHint(h));
  const nurls = storageNurls('X'.repeat(43), hints, 'sw'.repeat(16));
  assert.deepEqual(nurls, [`pb://${'X'.repeat(43)}@127.0.0.1:3457/${'sw'.repeat(16)}#v=1`, `pb+tor://${'X'.repeat(43)}@${onion}:3457/${'sw'.repeat(16)}#v=1`, `pb+i2p://${'X'.repeat(43)}@${'a'.repeat(52)}.b32.i2p/${'sw'.repeat(16)}#v=1`]);
  const ann = buildStorageAnnouncement({ nickname: 'no', furl: 'pb://x@tcp:h:1/s', nurls, permutationSeedBase32: 'seed', seqnum: 7 });
  assert.deepEqual(Object.keys(ann).sort(), ['anonymous-storage-FURL', 'anonymous-storage-NURLs', 'app-versions', 'my-version', 'nickname', 'nonce', 'oldest-supported', 'permutation-seed-base32', 'seqnum', 'service-name', 'version'].sort());
  assert.equal(ann['service-name'], 'storage');
  assert.equal(ann['oldest-supported'], '1.0.0');
  assert.match(String(ann['my-version']), /^tahoe-ts\/\d/);
  assert.match(String(ann.nonce), /^[a-z2-7]{52}$/);
  assert.notEqual(buildStorageAnnouncement({ nickname: 'n', furl: 'f', nurls: [], permutationSeedBase32: 's' }).nonce, ann.nonce, 'fresh nonce per publication');
  // a YAML 1.1 reader must see the nickname "no" as a string
  const yamlText = formatServersYaml('v0-' + 'a'.repeat(52), { nickname: 'no', furl: 'pb://f', nurls, permutationSeedBase32: 'seed' });
  assert.match(yamlText, /nickname: "no"/);
});

test('admin storage-announcement prints a servers.yaml entry a client can use', async (t) => {
  const dir = path.join(tempDir(t), 'node');
  const created = await createNode({ directory: dir, command: 'create-node', nickname: 'ts-storage', listen: ['tcp'], hostname: '127.0.0.1', webport: 'none' });
  const r = await runCli(['admin', 'storage-announcement', '-d', dir]);
  assert.equal(r.code, 0, r.stderr);
  const yamlText = r.stdout;

  // our grid's servers.yaml reader (what tahoe-ts clients use) accepts it
  const parsed = parseServersYaml(yamlText);
  assert.equal(parsed.servers.length, 1);
  const server = parsed.servers[0];
  const key = await readNodeKey(dir);
  assert.ok(key);
  assert.equal(server.serverId, serverIdOf(key.publicKey));
  assert.equal(server.serverId, created.serverId);
  const ann = parseAnnouncement(server.serverId, server.announcement);
  const cert = await readNodeCertificate(dir);
  assert.ok(cert);
  assert.equal(ann.furl.tubId, tubIdOf(cert.certificate), 'fURL TubID = base32(SHA1(cert DER))');
  assert.deepEqual(ann.tubId, tubIdBytes(cert.certificate));
  assert.equal(ann.nurls.length, 1);
  assert.equal(ann.nurls[0].spkiHash, spkiHash(cert.certificate));
  assert.equal(ann.nurls[0].swissnum, ann.furl.swissnum);
  assert.match(ann.furl.swissnum, /^[a-z2-7]{32}$/);
  assert.equal(ann.nickname, 'ts-storage');
  const seed = String((server.announcement as Record<string, unknown>)['permutation-seed-base32']);
  assert.equal(seed.length, 84, '1.20 quirk: base32 of the ASCII public key');
  assert.equal(base32Decode(seed).toString('ascii'), server.serverId.slice(3));

  // PyYAML (what Tahoe-LAFS reads servers.yaml with) sees the same strings
  const py = execFileSync('/usr/bin/python3', ['-c', 'import sys,yaml,json; d=yaml.safe_load(sys.stdin); print(json.dumps(d))'], { input: yamlText, encoding: 'utf8' });
  const fromPy = JSON.parse(py) as { storage: Record<string, { ann: Record<string, unknown> }> };
  assert.deepEqual(fromPy.storage[server.serverId].ann, server.announcement);

  // the swissnum is stored in private/storage.furl (0600) and stable across runs
  const furlFile = path.join(dir, 'private', 'storage.furl');
  assert.equal(statSync(furlFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(furlFile, 'utf8').trim(), (server.announcement as Record<string, unknown>)['anonymous-storage-FURL']);
  const again = await runCli(['admin', 'storage-announcement', '-d', dir]);
  assert.equal(again.stdout, yamlText);

  // --json prints the whole announcement dict
  const json = await runCli(['admin', 'storage-announcement', '--json', '-d', dir]);
  const full = JSON.parse(json.stdout) as { 'server-id': string; ann: Record<string, unknown> };
  assert.equal(full.ann['service-name'], 'storage');
  assert.equal(full['server-id'], server.serverId);

  // serve storage for this node directory on its tub.port and use it through the NURL
  const hints = ann.furl.hints;
  const identity = await loadStorageIdentity(dir, { hints });
  assert.equal(identity.swissnum, ann.furl.swissnum);
  const store = await ShareStore.open({ storageDir: path.join(dir, 'storage'), nodeId: tubIdBytes(identity.certificate.certificate) });
  const storage = new StorageServer({ store, identity: identity.certificate, swissnum: identity.swissnum });
  const nurl = ann.nurls[0];
  await storage.listen('127.0.0.1', nurl.port ?? 0);
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  const client = StorageClient.fromNurl(nurl, (signal) => tcp.dial({ kind: 'tcp', host: nurl.host, port: nurl.port ?? 0 }, { signal }));
  t.after(async () => {
    await client.close();
    await storage.close();
    await store.close();
    await tcp.close();
  });
  const v = await client.version();
  assert.ok(v.availableSpace > 0n);
});

test('admin storage-announcement refuses nodes it cannot describe', async (t) => {
  const base = tempDir(t);
  const clientOnly = path.join(base, 'client');
  await createNode({ directory: clientOnly, command: 'create-client', webport: 'none' });
  const r = await runCli(['admin', 'storage-announcement', '-d', clientOnly]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /kind: ConfigInvalid/);
  assert.match(r.stderr, /hint: /);
  const missing = await runCli(['admin', 'storage-announcement', '-d', path.join(base, 'nothing-here')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /hint: /);
  // a damaged storage.furl is reported, not replaced
  const dir = path.join(base, 'node');
  await createNode({ directory: dir, command: 'create-node', listen: ['tcp'], hostname: '127.0.0.1', webport: 'none' });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(dir, 'private', 'storage.furl'), 'garbage\n');
  await assert.rejects(loadStorageIdentity(dir, { hints: [] }), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /backup/.test(e.hint));
});
