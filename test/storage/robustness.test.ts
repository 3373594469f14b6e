/**
 * Parsers and on-disk formats under random input: the range parsers and RangeSet against
 * a naive model, damaged share files, damaged node.pem files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { RangeSet, parseContentRange, parseRangeHeader, parseResponseContentRange } from '../../src/storage/ranges.js';
import { ShareStore } from '../../src/storage/share-store.js';
import { parseNodePem } from '../../src/crypto/certificate.js';
import { TahoeError, isTahoeError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { testIdentity } from './helpers.js';

test('RangeSet agrees with a byte-map model under random operations', () => {
  for (let round = 0; round < 200; round++) {
    const size = 1 + randomInt(200);
    const set = new RangeSet();
    const model = new Uint8Array(size);
    for (let op = 0; op < 20; op++) {
      const a = randomInt(size + 1);
      const b = randomInt(size + 1);
      const [begin, end] = a <= b ? [a, b] : [b, a];
      set.add(begin, end);
      model.fill(1, begin, end);
      const qa = randomInt(size + 1);
      const qb = qa + randomInt(size + 1 - qa);
      const missing = set.missing(qa, qb);
      const present = set.intersect(qa, qb);
      const covered = new Uint8Array(size);
      for (const r of present) covered.fill(1, r.begin, r.end);
      for (const r of missing) {
        assert.ok(r.begin < r.end);
        for (let i = r.begin; i < r.end; i++) assert.equal(model[i], 0);
      }
      for (let i = qa; i < qb; i++) assert.equal(covered[i], model[i], `byte ${i}`);
      const all = set.toArray();
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].end < all[i].begin, 'disjoint, sorted, merged');
      assert.equal(set.covers(0, size), model.every((x) => x === 1));
    }
  }
});

test('range header parsers never throw and only return consistent ranges', () => {
  const alphabet = 'bytes=-/,* 0123456789*abcXYZ\t';
  const seeds = ['bytes=0-10', 'bytes 0-9/100', 'bytes 5-5/*', 'bytes=99999999999999999999-1'];
  for (let i = 0; i < 5000; i++) {
    let text: string;
    if (i % 2 === 0) text = Array.from({ length: randomInt(24) }, () => alphabet[randomInt(alphabet.length)]).join('');
    else {
      const chars = seeds[i % seeds.length].split('');
      chars[randomInt(chars.length)] = alphabet[randomInt(alphabet.length)];
      text = chars.join('');
    }
    const cr = parseContentRange(text);
    if (cr) assert.ok(Number.isSafeInteger(cr.first) && cr.last >= cr.first && (cr.total === undefined || cr.first < cr.total));
    const r = parseRangeHeader(text);
    if (r) assert.ok(Number.isSafeInteger(r.last) && r.last >= r.first);
    const rr = parseResponseContentRange(text);
    if (rr) assert.ok(rr.last >= rr.first);
  }
  assert.deepEqual(parseContentRange('bytes 0-49/100'), { first: 0, last: 49, total: 100 });
  assert.deepEqual(parseContentRange('bytes 50-99/*'), { first: 50, last: 99, total: undefined });
  assert.equal(parseContentRange('bytes 100-100/100'), undefined);
  assert.deepEqual(parseRangeHeader('bytes=10-29'), { first: 10, last: 29 });
  assert.equal(parseRangeHeader('bytes=99999999999999999-99999999999999999'), undefined, 'beyond 2^53');
});

test('damaged share files give TahoeErrors or are skipped, never crashes', async (t) => {
  const store = await ShareStore.open({ storageDir: path.join(tempDir(t), 'storage'), nodeId: Buffer.alloc(20, 1) });
  t.after(() => store.close());
  const SI = 'i5nhq74zw2crkop634ra4hrvzm';
  const upload = randomBytes(32);
  await store.allocate(SI, { lease: { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) }, uploadSecret: upload, shareNumbers: [0], allocatedSize: 300 });
  await store.writeImmutable(SI, 0, upload, 0, 300, (async function* () {
    yield randomBytes(300);
  })());
  const we = randomBytes(32);
  // The store never puts both kinds in one storage index; a damaged disk might, so the
  // mutable share is made elsewhere and copied in beside the immutable one.
  const MUTABLE_SI = 'bbbbbbbbbbbbbbbbbbbbbbbbbb';
  await store.readTestWrite(MUTABLE_SI, { writeEnabler: we, lease: { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) } }, { testWriteVectors: new Map([[1, { test: [], write: [{ offset: 0, data: randomBytes(300) }], newLength: null }]]), readVector: [] });
  const dir = path.join(store.sharesDir, SI.slice(0, 2), SI);
  const mutableFile = path.join(store.sharesDir, MUTABLE_SI.slice(0, 2), MUTABLE_SI, '1');
  const originals = [readFileSync(path.join(dir, '0')), readFileSync(mutableFile)];
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 60; i++) {
    const which = i % 2;
    const bytes = Buffer.from(originals[which]);
    // damage the header region mostly, sometimes truncate
    for (let j = 0; j < 1 + randomInt(6); j++) bytes[randomInt(Math.min(bytes.length, i % 3 === 0 ? bytes.length : 120))] = randomInt(256);
    const damaged = i % 5 === 0 ? bytes.subarray(0, randomInt(bytes.length)) : bytes;
    writeFileSync(path.join(dir, String(which)), damaged);
    // read-test-write refuses the mixed index outright: give it the damaged mutable share alone too
    if (which === 1) writeFileSync(mutableFile, damaged);
    const ops: Array<() => Promise<unknown>> = [
      () => store.listImmutable(SI),
      () => store.listMutable(SI),
      async () => {
        for (const kind of ['immutable', 'mutable'] as const) {
          const r = await store.openShare(SI, which, kind);
          if (r) {
            const data = await r.read(0, 10_000);
            assert.ok(data.length <= r.length);
            await r.close();
          }
        }
      },
      () => store.addOrRenewLease(SI, { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) }),
      () => store.readTestWrite(SI, { writeEnabler: we, lease: { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) } }, { testWriteVectors: new Map(), readVector: [{ offset: 0, size: 50 }] }),
      () => store.readTestWrite(MUTABLE_SI, { writeEnabler: we, lease: { renewSecret: randomBytes(32), cancelSecret: randomBytes(32) } }, { testWriteVectors: new Map([[1, { test: [{ offset: 0, size: 4, specimen: Buffer.alloc(4) }], write: [{ offset: 10, data: Buffer.from('x') }], newLength: null }]]), readVector: [{ offset: 0, size: 50 }] }),
      () => store.expireLeases({ mode: 'cutoff-date', cutoffDate: 0, shareTypes: new Set(['immutable', 'mutable']) }),
    ];
    for (const op of ops) {
      try {
        await op();
      } catch (e) {
        assert.ok(e instanceof TahoeError, `non-TahoeError: ${String(e)}`);
        assert.ok(e.hint.length > 0);
      }
    }
    writeFileSync(path.join(dir, String(which)), originals[which]);
    if (which === 1) writeFileSync(mutableFile, originals[1]);
  }
});

test('damaged node.pem files are NodeDirInvalid', async () => {
  const id = await testIdentity();
  const pem = Buffer.from(id.nodePem);
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(pem);
    for (let j = 0; j < 1 + randomInt(4); j++) bytes[randomInt(bytes.length)] = randomInt(32, 127);
    try {
      parseNodePem(i % 10 === 0 ? bytes.subarray(0, randomInt(bytes.length)).toString('latin1') : bytes.toString('latin1'));
    } catch (e) {
      assert.ok(isTahoeError(e, 'NodeDirInvalid'), String(e));
    }
  }
});
