/**
 * Parsers of the introducer room: protocol messages (round trips and fuzz), introducer
 * addresses (fURL form and NURLs), the announcement cache (Tahoe-written entries, signed
 * entries, tampered entries), and the pin of the fURL form over real TLS. Every failure
 * must be a TahoeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTahoeError } from '../../src/errors.js';
import { NodeKey } from '../../src/crypto/node-key.js';
import { tubIdOf } from '../../src/crypto/certificate.js';
import { signAnnouncement } from '../../src/introducer/announcement.js';
import {
  encodePollResult,
  encodePublishRequest,
  encodePublishResult,
  encodeStale,
  encodeVersion,
  formatPollQuery,
  parsePollQuery,
  parsePollResult,
  parsePublishRequest,
  parsePublishResult,
  parseStale,
  parseVersion,
} from '../../src/introducer/protocol.js';
import { formatIntroducerFile, introducerFileContent, introducerFileSwissnum, introducerFurl, introducerNurls, parseIntroducerLocation } from '../../src/introducer/url.js';
import { cacheFileName, formatAnnouncementCache, parseAnnouncementCache } from '../../src/introducer/cache.js';
import { AnnouncementHub, IntroducerClient } from '../../src/introducer/client.js';
import { formatNurl } from '../../src/net/hints.js';
import { encodeCbor } from '../../src/storage/cbor.js';
import { introducerCertificate, newSigner, startIntroducer, storageBody, tcpRouter, waitFor } from './helpers.js';

function mutate(bytes: Buffer, i: number): Buffer {
  const out = Buffer.from(bytes);
  const mode = i % 3;
  if (mode === 0 && out.length > 0) out[(i * 2654435761) % out.length] ^= 1 << (i % 8);
  else if (mode === 1) return out.subarray(0, (i * 7) % (out.length + 1));
  else return Buffer.concat([out, randomBytes(1 + (i % 9))]);
  return out;
}

function onlyTahoeErrors(name: string, parse: (b: Buffer) => unknown, seeds: Buffer[], rounds = 1500): void {
  for (let i = 0; i < rounds; i++) {
    const input = i % 5 === 4 ? randomBytes(i % 200) : mutate(seeds[i % seeds.length], i);
    try {
      parse(input);
    } catch (e) {
      assert.ok(isTahoeError(e), `${name}: not a TahoeError for input ${input.toString('hex').slice(0, 80)}: ${String(e)}`);
    }
  }
}

test('protocol messages round-trip', () => {
  const key = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('x'), seqnum: 9, nonce: 'n' }, key);
  const published = parsePublishRequest(encodePublishRequest(signed));
  assert.ok(Buffer.from(published.msg).equals(signed.msg));
  assert.equal(published.sig, signed.sig);
  assert.equal(published.key, signed.key);
  const poll = { epoch: 'abcdef', version: 12, full: false, complete: true, announcements: [signed], removed: [NodeKey.generate().serverId()] };
  const back = parsePollResult(encodePollResult(poll));
  assert.equal(back.version, 12);
  assert.equal(back.announcements[0].sig, signed.sig);
  assert.deepEqual(back.removed, poll.removed);
  assert.deepEqual(parsePublishResult(encodePublishResult({ status: 'refreshed', epoch: 'abc', refreshIntervalMs: 5 })), { status: 'refreshed', epoch: 'abc', refreshIntervalMs: 5 });
  assert.deepEqual(parseStale(encodeStale({ currentSeqnum: 77 })), { currentSeqnum: 77 });
  const v = { applicationVersion: 'tahoe-ts/1', protocol: 1, epoch: 'zz', refreshIntervalMs: 1, maxAnnouncementBytes: 2 };
  assert.deepEqual(parseVersion(encodeVersion(v)), v);
  const q = { service: 'storage', epoch: 'abc', since: 5, waitMs: 100 };
  assert.deepEqual(parsePollQuery(formatPollQuery(q).split('?')[1]), q);
  assert.deepEqual(parsePollQuery('service=storage'), { service: 'storage', waitMs: 0 });
});

test('fuzz: protocol parsers only throw TahoeErrors', () => {
  const key = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('x'), seqnum: 9, nonce: 'n' }, key);
  const polls = [encodePollResult({ epoch: 'abcdef', version: 12, full: true, complete: true, announcements: [signed, signed], removed: ['v0-x'] })];
  onlyTahoeErrors('parsePollResult', parsePollResult, [...polls, encodeCbor({ epoch: 1, announcements: [{}] })]);
  onlyTahoeErrors('parsePublishRequest', parsePublishRequest, [encodePublishRequest(signed), encodeCbor([1, 2, 3])]);
  onlyTahoeErrors('parsePublishResult', parsePublishResult, [encodePublishResult({ status: 'accepted', epoch: 'abc', refreshIntervalMs: 5 })]);
  onlyTahoeErrors('parseVersion', parseVersion, [encodeVersion({ applicationVersion: 'a', protocol: 1, epoch: 'ab', refreshIntervalMs: 1, maxAnnouncementBytes: 1 })]);
  onlyTahoeErrors('parseStale', parseStale, [encodeStale({ currentSeqnum: 3 })]);
  onlyTahoeErrors('parsePollQuery', (b) => parsePollQuery(b.toString('latin1')), [Buffer.from('service=storage&epoch=abc&since=4&wait=100')]);
});

test('introducer addresses: the fURL form and NURLs, and what is refused', async () => {
  const cert = await introducerCertificate();
  const tubId = tubIdOf(cert.certificate);
  const swissnum = 'c'.repeat(32);
  const onion = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
  const hints = [{ type: 'tcp' as const, host: '127.0.0.1', port: 1234 }, { type: 'tor' as const, host: onion, port: 3457 }];
  const furl = introducerFurl(tubId, swissnum, hints);
  assert.equal(furl, `pb://${tubId}@tcp:127.0.0.1:1234,tor:${onion}:3457/${swissnum}`);
  const a = parseIntroducerLocation(furl + '\n');
  assert.deepEqual(a.pin, { kind: 'tubid', tubId });
  assert.equal(a.locations.length, 2);
  const nurls = introducerNurls('A'.repeat(43), swissnum, hints);
  assert.deepEqual(nurls.map((n) => n.scheme), ['pb', 'pb+tor']);
  // As for storage servers (and 1.20's): a legacy HOST:PORT hint stays in the fURL form only.
  const legacy = [{ type: 'tcp' as const, host: 'example.net', port: 1234, legacy: true as const }];
  assert.deepEqual(introducerNurls('A'.repeat(43), swissnum, legacy), []);
  assert.equal(introducerFurl(tubId, swissnum, legacy), `pb://${tubId}@example.net:1234/${swissnum}`);
  const b = parseIntroducerLocation(formatIntroducerFile(nurls.map(formatNurl)));
  assert.deepEqual(b.pin, { kind: 'spki', spkiHash: 'A'.repeat(43) });
  assert.equal(b.locations.length, 2);
  assert.equal(parseIntroducerLocation(nurls.map(formatNurl).join(',')).locations.length, 2);
  for (const bad of ['', `${furl} ${formatNurl(nurls[0])}`, `pb://${tubId}@/${swissnum}`, `${furl} ${furl}`, formatNurl(nurls[0]) + ' ' + formatNurl({ ...nurls[1], swissnum: 'd'.repeat(32) }), 'http://x', 'pb://short@tcp:h:1/s']) {
    assert.throws(() => parseIntroducerLocation(bad), (e) => isTahoeError(e), JSON.stringify(bad));
  }
  for (let i = 0; i < 3000; i++) {
    const text = mutate(Buffer.from(i % 2 === 0 ? furl : formatIntroducerFile(nurls.map(formatNurl))), i).toString('latin1');
    try {
      parseIntroducerLocation(text);
    } catch (e) {
      assert.ok(isTahoeError(e), String(e));
    }
  }
});

test('private/introducer.furl: the NURLs one per line, the fURL form only when no hint can be a NURL; the swissnum read back', async () => {
  const cert = await introducerCertificate();
  const pins = { spkiHash: 'A'.repeat(43), tubId: tubIdOf(cert.certificate) };
  const swissnum = 'c'.repeat(32);
  const onion = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
  const tcp = { type: 'tcp' as const, host: '127.0.0.1', port: 1234 };
  const tor = { type: 'tor' as const, host: onion, port: 3457 };
  const legacy = { type: 'tcp' as const, host: 'example.net', port: 1234, legacy: true as const };

  // A TCP-only introducer: exactly one line, an HTTPS NURL.
  const tcpOnly = introducerFileContent(pins, swissnum, [tcp]);
  assert.deepEqual(tcpOnly.lines, [`pb://${'A'.repeat(43)}@127.0.0.1:1234/${swissnum}#v=1`]);
  assert.equal(formatIntroducerFile(tcpOnly.lines), tcpOnly.lines[0] + '\n');
  assert.deepEqual(tcpOnly.hintsWithoutNurl, []);

  // One line per hint; a legacy hint is named by no NURL and reported.
  const mixed = introducerFileContent(pins, swissnum, [tcp, legacy, tor]);
  assert.deepEqual(mixed.lines.map((l) => l.split('://')[0]), ['pb', 'pb+tor']);
  assert.deepEqual(mixed.hintsWithoutNurl, [legacy]);
  const text = formatIntroducerFile(mixed.lines);
  assert.equal(text.split('\n').length, 3);
  // What the file holds is what clients take, as it is (cat: line breaks) or joined by a space.
  assert.equal(parseIntroducerLocation(text).locations.length, 2);
  assert.deepEqual(parseIntroducerLocation(mixed.lines.join(' ')).pin, { kind: 'spki', spkiHash: pins.spkiHash });
  assert.equal(introducerFileSwissnum(text), swissnum);

  // No hint can be a NURL: the fURL form keeps the swissnum (and the legacy hint) in the file.
  const legacyOnly = introducerFileContent(pins, swissnum, [legacy]);
  assert.deepEqual(legacyOnly.nurls, []);
  assert.deepEqual(legacyOnly.lines, [`pb://${pins.tubId}@example.net:1234/${swissnum}`]);
  assert.equal(introducerFileSwissnum(formatIntroducerFile(legacyOnly.lines)), swissnum);
  const nowhere = introducerFileContent(pins, swissnum, []);
  assert.deepEqual(nowhere.lines, [`pb://${pins.tubId}@/${swissnum}`]);
  assert.equal(introducerFileSwissnum(formatIntroducerFile(nowhere.lines)), swissnum);

  // An older introducer's fURL-form file still gives its swissnum (upgrade keeps the address).
  assert.equal(introducerFileSwissnum(`${introducerFurl(pins.tubId, swissnum, [tcp, tor])}\n`), swissnum);
  assert.equal(introducerFileSwissnum(''), undefined);
  assert.equal(introducerFileSwissnum(' \n'), undefined);
  for (const bad of [`${mixed.lines[0]}\n${mixed.lines[1].replace(swissnum, 'd'.repeat(32))}\n`, 'garbage\n', `${mixed.lines[0]}\nhttp://x\n`]) {
    assert.throws(() => introducerFileSwissnum(bad), (e) => isTahoeError(e), JSON.stringify(bad));
  }
  for (let i = 0; i < 3000; i++) {
    const input = mutate(Buffer.from(i % 2 === 0 ? text : formatIntroducerFile(legacyOnly.lines)), i).toString('latin1');
    try {
      introducerFileSwissnum(input);
    } catch (e) {
      assert.ok(isTahoeError(e), String(e));
    }
  }
});

test('announcement cache: our signed entries and Tahoe-written ones load; tampered and broken ones are dropped', () => {
  const key = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('cached'), seqnum: 4, nonce: 'n' }, key);
  const entry = { key: key.serverId(), serviceName: 'storage', seqnum: 4, ann: { ...storageBody('cached'), seqnum: 4, nonce: 'n' }, signed };
  const text = formatAnnouncementCache([entry]);
  const parsed = parseAnnouncementCache(text, 'cache.yaml');
  assert.equal(parsed.entries.length, 1);
  assert.equal(parsed.entries[0].ann.nickname, 'cached');
  assert.ok(parsed.entries[0].signed !== undefined);
  // Tahoe 1.20 writes only ann and key_s.
  const tahoe = `- ann:\n    nickname: tahoe\n    seqnum: 2\n    service-name: storage\n  key_s: ${NodeKey.generate().serverId()}\n`;
  const t = parseAnnouncementCache(tahoe, 'c');
  assert.equal(t.entries[0].ann.nickname, 'tahoe');
  assert.equal(t.entries[0].seqnum, 2);
  // The signed message is what counts: an edited copy of the dict is ignored ...
  const annOnly = parseAnnouncementCache(text.replace('nickname: "cached"', 'nickname: "evil"'), 'c');
  assert.equal(annOnly.entries[0].ann.nickname, 'cached');
  // ... and an entry whose signed message was edited is dropped, not believed.
  const tampered = text.replaceAll('cached', 'evil');
  const p = parseAnnouncementCache(tampered, 'c');
  assert.equal(p.entries.length, 0);
  assert.equal(p.dropped.length, 1);
  assert.throws(() => parseAnnouncementCache('{a: 1}', 'c'), (e) => isTahoeError(e, 'ConfigInvalid'));
  assert.throws(() => parseAnnouncementCache('[unclosed', 'c'), (e) => isTahoeError(e, 'ConfigInvalid'));
  assert.equal(cacheFileName('default'), 'private/introducer_default_cache.yaml');
  for (const bad of ['../x', '', '.hidden', 'a/b', 'x'.repeat(65)]) assert.throws(() => cacheFileName(bad), (e) => isTahoeError(e, 'ConfigInvalid'));
  for (let i = 0; i < 1500; i++) {
    try {
      parseAnnouncementCache(mutate(Buffer.from(i % 2 === 0 ? text : tahoe), i).toString('utf8'), 'c');
    } catch (e) {
      assert.ok(isTahoeError(e), String(e));
    }
  }
});

test('the fURL form pins the introducer by TubID over real TLS: a wrong TubID is a TlsPinMismatch, the right one works', async (t) => {
  const intro = await startIntroducer(t, { timing: { warmupMs: 0 } });
  const cert = await introducerCertificate();
  const s = newSigner('s');
  const goodFurl = `pb://${tubIdOf(cert.certificate)}@tcp:127.0.0.1:${intro.port}/${intro.nurl.swissnum}`;
  const pub = new IntroducerClient({ petname: 'good', address: parseIntroducerLocation(goodFurl), router: tcpRouter(t), publisher: s.signer, timing: { minBackoffMs: 50, maxBackoffMs: 200 } });
  t.after(() => pub.close());
  await pub.start();
  await waitFor(() => pub.status().lastPublished !== undefined, 5_000, 'a publish over the fURL form');
  const wrongFurl = `pb://${'a'.repeat(32)}@tcp:127.0.0.1:${intro.port}/${intro.nurl.swissnum}`;
  const before = intro.connections;
  const bad = new IntroducerClient({ petname: 'bad', address: parseIntroducerLocation(wrongFurl), router: tcpRouter(t), services: ['storage'], timing: { minBackoffMs: 50, maxBackoffMs: 200 } });
  t.after(() => bad.close());
  await bad.start();
  await waitFor(() => bad.status().lastError !== undefined, 5_000, 'the pin failure');
  assert.match(bad.status().lastError ?? '', /TubID/);
  assert.ok(intro.connections > before, 'it did connect, and stopped at the pin');
  assert.equal(intro.server.stats().subscribersWaiting, 0, 'no request reached the introducer');
});

test('several introducers: a server is kept while any of them announces it; static servers are not replaced', async (t) => {
  const a = await startIntroducer(t, { timing: { warmupMs: 0, refreshIntervalMs: 300, expiryMs: 1_000, sweepIntervalMs: 50 } });
  const b = await startIntroducer(t, { timing: { warmupMs: 0 } });
  const server = newSigner('both');
  const onlyA = newSigner('only-a');
  const staticOne = newSigner('static');
  const signedBoth = await server.signer.sign();
  const { introducerRequest } = await import('../../src/introducer/https-request.js');
  const { openSocket, OPEN_GATE } = await import('../../src/net/socket.js');
  const { PATHS } = await import('../../src/introducer/protocol.js');
  const publish = (nurl: typeof a.nurl, signed: typeof signedBoth) => introducerRequest({ pin: { kind: 'spki', spkiHash: nurl.spkiHash }, swissnum: nurl.swissnum, host: '127.0.0.1' }, (signal) => openSocket({ host: '127.0.0.1', port: nurl.port as number }, { gate: OPEN_GATE, purpose: 'local', signal }), { method: 'POST', path: PATHS.publish, body: encodePublishRequest(signed), maxResponseBytes: 10_000, timeoutMs: 5_000, connectTimeoutMs: 5_000 });
  assert.equal((await publish(a.nurl, signedBoth)).status, 200);
  assert.equal((await publish(b.nurl, signedBoth)).status, 200);
  assert.equal((await publish(a.nurl, await onlyA.signer.sign())).status, 200);
  assert.equal((await publish(a.nurl, await staticOne.signer.sign())).status, 200);

  const added = new Map<string, Record<string, unknown>>();
  const hub = new AnnouncementHub({ add: (id, ann) => added.set(id, ann), remove: (id) => added.delete(id) }, { isStatic: (id) => id === staticOne.key.serverId() });
  const mk = (petname: string, nurl: typeof a.nurl) => new IntroducerClient({ petname, address: { pin: { kind: 'spki', spkiHash: nurl.spkiHash }, swissnum: nurl.swissnum, locations: [{ kind: 'nurl', nurl }] }, router: tcpRouter(t), services: ['storage'], onViewChange: () => hub.update(), timing: { pollWaitMs: 1_000, minBackoffMs: 50, maxBackoffMs: 200 } });
  const ca = mk('a', a.nurl);
  const cb = mk('b', b.nurl);
  t.after(() => ca.close());
  t.after(() => cb.close());
  hub.attach(ca);
  hub.attach(cb);
  await ca.start();
  await cb.start();
  await waitFor(() => added.size === 2, 5_000, 'two servers (the static one is not taken from the introducer)');
  assert.ok(!added.has(staticOne.key.serverId()));
  // Nobody refreshes at introducer A: everything expires there; "both" stays thanks to B.
  await waitFor(() => !added.has(onlyA.key.serverId()), 5_000, 'only-a to expire');
  assert.ok(added.has(server.key.serverId()), 'still announced by introducer B');
});
