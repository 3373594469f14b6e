import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAnnouncement, cleanNickname } from '../../src/grid/announcement.js';
import { base32Decode, base32Encode } from '../../src/crypto/base32.js';
import { permutationSeed } from '../../src/grid/permute.js';
import { isTahoeError } from '../../src/errors.js';
import { sampleAnnouncement } from './samples.js';

test('a 1.20 announcement: TubID bytes, NURLs, the permutation-seed quirk, seqnum', () => {
  const { serverId, ann, key } = sampleAnnouncement();
  const parsed = parseAnnouncement(serverId, ann);
  assert.equal(parsed.serverId, serverId);
  assert.equal(parsed.nickname, 'alpha');
  assert.equal(parsed.tubId.length, 20);
  assert.deepEqual(parsed.tubId, base32Decode((ann['anonymous-storage-FURL'] as string).slice(5, 37)));
  assert.equal(parsed.nurls.length, 2);
  assert.deepEqual(parsed.nurls.map((n) => n.scheme), ['pb', 'pb+tor']);
  assert.deepEqual(parsed.skippedNurls, []);
  // 1.20 announces base32 of the ASCII base32 key: the seed is that 52-byte text, not the raw key.
  assert.deepEqual(parsed.permutationSeed, Buffer.from(base32Encode(key.publicKey), 'ascii'));
  assert.equal(parsed.seqnum, 3);
});

test('without permutation-seed-base32 the seed comes from the v0- server id', () => {
  const { serverId, ann, key } = sampleAnnouncement({ 'permutation-seed-base32': undefined });
  assert.deepEqual(parseAnnouncement(serverId, ann).permutationSeed, key.publicKey);
  const other = parseAnnouncement('my-server', ann);
  assert.deepEqual(other.permutationSeed, permutationSeed('my-server'));
});

test('the fURL is mandatory and must carry a decodable TubID', () => {
  const { serverId, ann } = sampleAnnouncement();
  for (const bad of [undefined, 42, 'http://x', 'pb://short@tcp:1.2.3.4:5/abc', `pb://${'A'.repeat(32)}@tcp:1.2.3.4:5/abc`]) {
    assert.throws(() => parseAnnouncement(serverId, { ...ann, 'anonymous-storage-FURL': bad }), (e: unknown) => {
      assert.ok(isTahoeError(e, 'BadInput'));
      assert.ok(e.hint.length > 10);
      // The swissnum is never echoed.
      assert.ok(!e.message.includes('abc'));
      return true;
    });
  }
});

test('bad NURLs are skipped with a reason; a set or a single string is accepted', () => {
  const { serverId, ann } = sampleAnnouncement();
  const good = (ann['anonymous-storage-NURLs'] as string[])[0];
  const parsed = parseAnnouncement(serverId, { ...ann, 'anonymous-storage-NURLs': [good, 'pb://nohash@1.2.3.4:5/x#v=1', 17, good.replace('#v=1', '#v=2')] });
  assert.equal(parsed.nurls.length, 1);
  assert.equal(parsed.skippedNurls.length, 3);
  for (const why of parsed.skippedNurls) assert.ok(!why.includes(parsed.nurls[0].swissnum), 'reasons carry no swissnum');
  assert.equal(parseAnnouncement(serverId, { ...ann, 'anonymous-storage-NURLs': new Set([good]) }).nurls.length, 1);
  assert.equal(parseAnnouncement(serverId, { ...ann, 'anonymous-storage-NURLs': good }).nurls.length, 1);
  assert.equal(parseAnnouncement(serverId, { ...ann, 'anonymous-storage-NURLs': undefined }).nurls.length, 0);
  assert.throws(() => parseAnnouncement(serverId, { ...ann, 'anonymous-storage-NURLs': { a: 1 } }), (e: unknown) => isTahoeError(e, 'BadInput'));
});

test('other services, non-mappings and bad ids are refused', () => {
  const { serverId, ann } = sampleAnnouncement();
  assert.throws(() => parseAnnouncement(serverId, { ...ann, 'service-name': 'introducer' }), (e: unknown) => isTahoeError(e, 'BadInput'));
  for (const bad of [null, 'x', [1], 7]) assert.throws(() => parseAnnouncement(serverId, bad), (e: unknown) => isTahoeError(e, 'BadInput'));
  for (const id of ['', 'has space', 'x'.repeat(300), 'ctl\u0001']) assert.throws(() => parseAnnouncement(id, ann), (e: unknown) => isTahoeError(e, 'BadInput'));
  assert.throws(() => parseAnnouncement(serverId, { ...ann, 'permutation-seed-base32': 'NOT BASE32' }), (e: unknown) => isTahoeError(e, 'BadInput'));
  assert.throws(() => parseAnnouncement(serverId, { ...ann, 'permutation-seed-base32': 12 }), (e: unknown) => isTahoeError(e, 'BadInput'));
});

test('nicknames are made printable and short', () => {
  assert.equal(cleanNickname('  bob\u0000\u001b[31m\u202e '), 'bob[31m');
  assert.equal(cleanNickname(true), 'true');
  assert.equal(cleanNickname({}), '');
  assert.equal([...cleanNickname('é'.repeat(100))].length, 64);
});

test('the connection key changes exactly when the way to connect changes', () => {
  const { serverId, ann } = sampleAnnouncement();
  const a = parseAnnouncement(serverId, ann);
  assert.equal(parseAnnouncement(serverId, { ...ann, nickname: 'renamed', seqnum: 9 }).connectionKey, a.connectionKey);
  assert.notEqual(parseAnnouncement(serverId, { ...ann, 'anonymous-storage-NURLs': [] }).connectionKey, a.connectionKey);
});

test('fuzz: random and mutated announcements give a result or a TahoeError, nothing else', () => {
  const { serverId, ann } = sampleAnnouncement();
  const values: unknown[] = [null, undefined, 0, -1, 1.5, 2 ** 60, '', 'pb://', '#v=1', [], {}, [null], new Set([1]), 'x'.repeat(5000), true];
  const text = JSON.stringify(ann);
  let ok = 0;
  for (let i = 0; i < 3000; i++) {
    let candidate: unknown;
    if (i % 3 === 0) {
      const keys = Object.keys(ann);
      const copy: Record<string, unknown> = { ...ann };
      copy[keys[i % keys.length]] = values[(i * 7) % values.length];
      candidate = copy;
    } else {
      const chars = [...text];
      for (let j = 0; j < 1 + (i % 4); j++) chars[(i * 131 + j * 17) % chars.length] = String.fromCharCode(32 + ((i * 13 + j) % 95));
      try {
        candidate = JSON.parse(chars.join(''));
      } catch {
        candidate = chars.join('');
      }
    }
    try {
      parseAnnouncement(serverId, candidate);
      ok++;
    } catch (e) {
      assert.ok(isTahoeError(e), `not a TahoeError: ${String(e)}`);
    }
  }
  assert.ok(ok > 0);
});
