/**
 * Signed announcements (storage-protocol.md §7): Python-compatible JSON, sign/verify,
 * rejection of unsigned, non-v0, tampered and wrongly keyed announcements, the signer's
 * seqnum discipline, and a fuzz of the verifier (every failure a TahoeError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { NodeKey, parseSignatureString } from '../../src/crypto/node-key.js';
import { isTahoeError } from '../../src/errors.js';
import {
  AnnouncementSigner,
  pythonJsonDumps,
  sameContent,
  signAnnouncement,
  verifyAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  type AnnouncementValue,
} from '../../src/introducer/announcement.js';
import { memorySeqnumStore, storageBody } from './helpers.js';

const PYTHON = '/usr/bin/python3';

test('pythonJsonDumps writes what Python json.dumps writes', (t) => {
  if (!existsSync(PYTHON)) {
    if (process.env.CI === 'true') throw new Error('python3 missing');
    t.skip('!!! /usr/bin/python3 missing: SKIPPING the json.dumps oracle');
    return;
  }
  const samples: AnnouncementValue[] = [
    storageBody('nick'),
    { a: 'é ü 漢字 😀', b: [1, 2, [3, null, true, false]], 'c"q': 'back\\slash\nnew\tline\u0001\u007f', d: -5, e: 1.5, f: {} },
    { 'anonymous-storage-NURLs': ['pb://abc@127.0.0.1:1/x#v=1'], seqnum: 12, nonce: 'abc' },
    [],
    'plain',
  ];
  const input = JSON.stringify(samples);
  const r = spawnSync(PYTHON, ['-c', 'import json,sys\nfor v in json.loads(sys.stdin.read()): print(json.dumps(v))'], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual(samples.map(pythonJsonDumps), lines);
});

test('sign and verify: the triple travels, the signature covers the exact bytes', () => {
  const key = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('s1'), seqnum: 3, nonce: 'n1' }, key);
  assert.ok(signed.sig.startsWith('v0-') && signed.key === key.serverId());
  const v = verifyAnnouncement(signed);
  assert.equal(v.serviceName, 'storage');
  assert.equal(v.seqnum, 3);
  assert.equal(v.ann.nickname, 's1');
});

test('a tampered message is rejected (IntegrityError)', () => {
  const key = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('s1'), seqnum: 3, nonce: 'n1' }, key);
  const msg = Buffer.from(signed.msg);
  msg[msg.indexOf('s1')] = 0x74; // "t1"
  assert.throws(() => verifyAnnouncement({ ...signed, msg }), (e) => isTahoeError(e, 'IntegrityError'));
});

test('a signature by another key is rejected (IntegrityError)', () => {
  const a = NodeKey.generate();
  const b = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('s1'), seqnum: 1, nonce: 'n' }, a);
  assert.throws(() => verifyAnnouncement({ ...signed, key: b.serverId() }), (e) => isTahoeError(e, 'IntegrityError'));
});

test('unsigned and non-v0 announcements are rejected (BadInput)', () => {
  const key = NodeKey.generate();
  const signed = signAnnouncement({ ...storageBody('s1'), seqnum: 1, nonce: 'n' }, key);
  for (const bad of [
    { ...signed, sig: '' },
    { ...signed, sig: signed.sig.replace('v0-', 'v1-') },
    { ...signed, key: signed.key.replace('v0-', 'pub-v0-') },
    { ...signed, key: 'v0-' + 'a'.repeat(52) },
  ]) {
    assert.throws(() => verifyAnnouncement(bad), (e) => isTahoeError(e) && (e.kind === 'BadInput' || e.kind === 'IntegrityError'), bad.key.slice(0, 10));
  }
  assert.throws(() => verifyAnnouncement({ ...signed, sig: '' }), (e) => isTahoeError(e, 'BadInput'));
});

test('a signed message without service-name, seqnum or nonce is rejected', () => {
  const key = NodeKey.generate();
  for (const ann of [
    { seqnum: 1, nonce: 'n' },
    { 'service-name': 'storage', nonce: 'n' },
    { 'service-name': 'storage', seqnum: -1, nonce: 'n' },
    { 'service-name': 'storage', seqnum: 1.5, nonce: 'n' },
    { 'service-name': 'storage', seqnum: 1 },
  ]) {
    const signed = signAnnouncement(ann as Record<string, AnnouncementValue>, key);
    assert.throws(() => verifyAnnouncement(signed), (e) => isTahoeError(e, 'BadInput'), JSON.stringify(ann));
  }
});

test('oversized announcements are refused on both sides', () => {
  const key = NodeKey.generate();
  assert.throws(() => signAnnouncement({ ...storageBody('x'), seqnum: 1, nonce: 'n', pad: 'x'.repeat(MAX_ANNOUNCEMENT_BYTES) }, key), (e) => isTahoeError(e, 'BadInput'));
  assert.throws(() => verifyAnnouncement({ msg: Buffer.alloc(MAX_ANNOUNCEMENT_BYTES + 1), sig: 'v0-', key: key.serverId() }), (e) => isTahoeError(e, 'BadInput'));
});

test('sameContent ignores only seqnum and nonce', () => {
  assert.ok(sameContent({ a: 1, seqnum: 1, nonce: 'x' }, { nonce: 'y', seqnum: 9, a: 1 }));
  assert.ok(!sameContent({ a: 1, seqnum: 1 }, { a: 2, seqnum: 1 }));
});

test('the signer persists the next seqnum before signing, with a fresh nonce each time', async () => {
  const store = memorySeqnumStore(41);
  const key = NodeKey.generate();
  const signer = new AnnouncementSigner(key, storageBody('s'), store);
  const a = verifyAnnouncement(await signer.sign());
  assert.equal(a.seqnum, 42);
  assert.equal(store.value, 42);
  const b = verifyAnnouncement(await signer.sign());
  assert.equal(b.seqnum, 43);
  assert.notEqual(a.nonce, b.nonce);
  // latest() reuses a young signature, re-signs an old one
  const c = await signer.latest(60_000);
  assert.equal(verifyAnnouncement(c).seqnum, 43);
  const d = await signer.latest(0);
  assert.equal(verifyAnnouncement(d).seqnum, 44);
  // an introducer said it holds 100: the next seqnum goes above it
  assert.equal(verifyAnnouncement(await signer.sign(100)).seqnum, 101);
  // concurrent signings never share a seqnum
  const many = await Promise.all([signer.sign(), signer.sign(), signer.sign()]);
  assert.deepEqual(new Set(many.map((s) => verifyAnnouncement(s).seqnum)).size, 3);
});

test('fuzz: the verifier only ever throws TahoeErrors, and verifies nothing that was changed', () => {
  const key = NodeKey.generate();
  const good = signAnnouncement({ ...storageBody('fuzz'), seqnum: 7, nonce: 'n' }, key);
  const goodSig = parseSignatureString(good.sig);
  const sameAsGood = (c: { msg: Uint8Array; sig: string; key: string }): boolean => {
    if (c.key !== good.key || !Buffer.from(c.msg).equals(good.msg)) return false;
    try {
      // base32's last character carries spare bits: another spelling of the same bytes
      return parseSignatureString(c.sig).equals(goodSig);
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 3000; i++) {
    const msg = Buffer.from(good.msg);
    const sig = good.sig.split('');
    const mode = i % 4;
    if (mode === 0) for (let j = 0; j < 1 + (i % 5); j++) msg[(i * 7919 + j * 104729) % msg.length] ^= 1 << (j % 8);
    else if (mode === 1) sig[3 + (i % (sig.length - 3))] = 'abcxyz234567'[i % 12];
    const candidate = mode === 2 ? { msg: randomBytes(i % 300), sig: 'v0-' + randomBytes(40).toString('hex'), key: key.serverId() } : { msg, sig: sig.join(''), key: mode === 3 ? 'v0-' + randomBytes(32).toString('base64') : good.key };
    try {
      verifyAnnouncement(candidate);
      assert.ok(sameAsGood(candidate), `a changed announcement verified (mode ${mode}, i ${i})`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(isTahoeError(e), `not a TahoeError: ${String(e)}`);
    }
  }
});
