/**
 * Verifying decoder and update planning: corrupt shares are dropped and replaced, versions
 * are told apart, the best recoverable version wins, read-test-write plans detect
 * concurrent writers, and MDMF partial writes re-encode only the touched segments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigningKey, keyMaterialOf, type MutableSigningKey } from '../../src/mutable/keys.js';
import { mutableWriteCap, readCapOf, verifyCapOf, type MutableWriteCap } from '../../src/mutable/caps.js';
import { encodeMutableVersion } from '../../src/mutable/encoder.js';
import {
  bytesShareReader, decodeMutableShares, inspectShares, recoverSigningKey, retrieveVersion, verifyShare, type ShareFailure,
} from '../../src/mutable/decoder.js';
import { unpackMutableShare, blockRegion } from '../../src/mutable/layout.js';
import { applyWrites, checkstringReadVector, interpretWriteResponse, planMdmfUpdate, planPublish } from '../../src/mutable/update.js';
import { isTahoeError } from '../../src/errors.js';

let keyPromise: Promise<MutableSigningKey> | undefined;
async function fixture(format: 'SDMF' | 'MDMF'): Promise<{ key: MutableSigningKey; cap: MutableWriteCap }> {
  keyPromise ??= generateSigningKey();
  const key = await keyPromise;
  const m = keyMaterialOf(key);
  return { key, cap: mutableWriteCap(format, m.writekey, m.fingerprint) };
}
const data = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) & 0xff));

test('every region of a share is covered: corrupting it makes that share ShareCorrupt, the file still decodes', async () => {
  for (const format of ['SDMF', 'MDMF'] as const) {
    const { key, cap } = await fixture(format);
    const plaintext = data(format === 'SDMF' ? 5000 : 200_000);
    const v = encodeMutableVersion(cap, key, plaintext, { format, k: 3, n: 6, seqnum: 1 });
    const u = unpackMutableShare(v.shares[0]);
    const r = u.header.regions;
    const spots: Array<[string, number]> = [
      ['root hash', 20], ['k', format === 'SDMF' ? 57 : 41], ['verification key', r.verificationKey.start + 40],
      ['signature', r.signature.start + 5], ['share hash chain', r.shareHashChain.start + 10], ['block hash tree', r.blockHashTree.start + 3],
      ['share data', r.shareData.start + 30], ['last share byte', r.shareData.end - 1],
    ];
    for (const [what, at] of spots) {
      const bad = Buffer.from(v.shares[0]);
      bad[at] ^= 0x01;
      const failures: ShareFailure[] = [];
      const shares = new Map<number, Uint8Array>([[0, bad], [1, v.shares[1]], [2, v.shares[2]], [3, v.shares[3]]]);
      const result = await decodeMutableShares(readCapOf(cap), shares, { onShareFailure: (f) => failures.push(f) });
      assert.ok(result.plaintext.equals(plaintext), `${format} ${what}`);
      assert.deepEqual(failures.map((f) => [f.shareNumber, f.error.kind]), [[0, 'ShareCorrupt']], `${format} ${what}`);
    }
    // The private key is only checked by writers.
    const bad = Buffer.from(v.shares[0]);
    bad[r.encryptedPrivateKey.start + 100] ^= 1;
    const inspected = await inspectShares(cap, [bytesShareReader(0, bad), bytesShareReader(1, v.shares[1])]);
    const [badShare, goodShare] = inspected.versions[0].shares;
    await assert.rejects(recoverSigningKey(cap, badShare), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
    assert.ok((await recoverSigningKey(cap, goodShare)).privateKeyDer.equals(key.privateKeyDer));
  }
});

test('too few good shares: NotEnoughShares; a share of another file: ShareCorrupt at inspection', async () => {
  const { key, cap } = await fixture('MDMF');
  const v = encodeMutableVersion(cap, key, data(1000), { format: 'MDMF', k: 3, n: 5, seqnum: 1 });
  await assert.rejects(decodeMutableShares(cap, new Map([[0, v.shares[0]], [4, v.shares[4]]])), (e: unknown) => isTahoeError(e, 'NotEnoughShares'));
  const otherKey = await generateSigningKey();
  const om = keyMaterialOf(otherKey);
  const other = encodeMutableVersion(mutableWriteCap('MDMF', om.writekey, om.fingerprint), otherKey, data(1000), { format: 'MDMF', k: 3, n: 5, seqnum: 1 });
  const { versions, failures } = await inspectShares(cap, [bytesShareReader(0, other.shares[0]), bytesShareReader(1, v.shares[1])]);
  assert.equal(versions.length, 1);
  assert.deepEqual(failures.map((f) => f.error.kind), ['ShareCorrupt']);
  assert.match(failures[0].error.message, /fingerprint/);
});

test('versions: the highest recoverable seqnum wins; an unrecoverable newer one is skipped', async () => {
  const { key, cap } = await fixture('SDMF');
  const v1 = encodeMutableVersion(cap, key, data(700, 1), { format: 'SDMF', k: 2, n: 4, seqnum: 1 });
  const v2 = encodeMutableVersion(cap, key, data(900, 2), { format: 'SDMF', k: 2, n: 4, seqnum: 2 });
  const v3 = encodeMutableVersion(cap, key, data(100, 3), { format: 'SDMF', k: 2, n: 4, seqnum: 3 });
  const readers = [bytesShareReader(0, v1.shares[0]), bytesShareReader(1, v2.shares[1]), bytesShareReader(2, v2.shares[2]), bytesShareReader(3, v3.shares[3]), bytesShareReader(1, v1.shares[1])];
  const { versions } = await inspectShares(readCapOf(cap), readers);
  assert.deepEqual(versions.map((v) => [v.header.seqnum, v.recoverable]), [[3, false], [2, true], [1, true]]);
  const result = await decodeMutableShares(cap, new Map()).catch((e: unknown) => e);
  assert.ok(isTahoeError(result, 'NotEnoughShares'));
  const best = await (await import('../../src/mutable/decoder.js')).retrieveBest(readCapOf(cap), readers);
  assert.equal(best.version.header.seqnum, 2);
  assert.ok(best.plaintext.equals(data(900, 2)));
});

test('ranges read only the segments they need; a verify cap checks every block', async () => {
  const { key, cap } = await fixture('MDMF');
  const plaintext = data(400_000);
  const v = encodeMutableVersion(cap, key, plaintext, { format: 'MDMF', k: 2, n: 3, seqnum: 5 });
  const reads: Array<[number, number]> = [];
  const readers = v.shares.map((s, i) => {
    const inner = bytesShareReader(i, s);
    return { shareNumber: i, read: (o: number, l: number) => { reads.push([o, l]); return inner.read(o, l); } };
  });
  const { versions } = await inspectShares(verifyCapOf(cap), readers);
  const version = versions[0];
  reads.length = 0;
  const part = await retrieveVersion(readCapOf(cap), version, { offset: 262_150, length: 1000 });
  assert.ok(part.equals(plaintext.subarray(262_150, 263_150)));
  const blockReads = reads.filter(([o]) => o >= 2167 && o < version.header.regions.blockHashTree.start);
  const third = blockRegion(version.header, 2);
  assert.ok(blockReads.length === 2 && blockReads.every(([o]) => o === third.start), 'only segment 2 blocks were read');
  for (const share of version.shares) await verifyShare(version, share, { writeCap: cap });
  const bad = Buffer.from(v.shares[1]);
  bad[blockRegion(version.header, 1).start + 7] ^= 0x80;
  const badVersion = (await inspectShares(verifyCapOf(cap), [bytesShareReader(1, bad)])).versions[0];
  await assert.rejects(verifyShare(badVersion, badVersion.shares[0]), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
});

test('segments are fetched several at a time; a bad block mid-file is replaced, too many stop the read', async () => {
  const { key, cap } = await fixture('MDMF');
  const plaintext = data(30 * 3000 + 123, 7);
  const v = encodeMutableVersion(cap, key, plaintext, { format: 'MDMF', k: 3, n: 5, seqnum: 2, maxSegmentSize: 3000 });
  const header = unpackMutableShare(v.shares[0]).header;
  assert.equal(header.numSegments, 31);
  const corrupt = (share: number, segment: number): Buffer => {
    const bad = Buffer.from(v.shares[share]);
    bad[blockRegion(header, segment).start + 20] ^= 0x10;
    return bad;
  };
  for (const parallelSegments of [1, 3, 8, 64]) {
    let inFlight = 0;
    let most = 0;
    const readers = [corrupt(0, 17), ...v.shares.slice(1)].map((bytes, i) => {
      const inner = bytesShareReader(i, bytes);
      return {
        shareNumber: i,
        read: async (o: number, l: number): Promise<Uint8Array> => {
          inFlight++;
          most = Math.max(most, inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
          return inner.read(o, l);
        },
      };
    });
    const { versions } = await inspectShares(cap, readers);
    const failures: ShareFailure[] = [];
    const got = await retrieveVersion(readCapOf(cap), versions[0], { parallelSegments, onShareFailure: (f) => failures.push(f) });
    assert.ok(got.equals(plaintext), `window ${parallelSegments}`);
    assert.deepEqual(failures.map((f) => [f.shareNumber, f.error.kind]), [[0, 'ShareCorrupt']]);
    assert.ok(most <= Math.min(parallelSegments, 31) * 3 + 3, `window ${parallelSegments}: ${most} reads at once`);
    if (parallelSegments >= 3) assert.ok(most > 3, `window ${parallelSegments}: segments overlapped (${most} reads at once)`);
  }
  // Three of five shares bad in one segment: NotEnoughShares, and nothing left dangling.
  const shares = new Map<number, Uint8Array>([[0, corrupt(0, 9)], [1, corrupt(1, 9)], [2, corrupt(2, 9)], [3, v.shares[3]], [4, v.shares[4]]]);
  await assert.rejects(decodeMutableShares(readCapOf(cap), shares), (e: unknown) => isTahoeError(e, 'NotEnoughShares') && isTahoeError(e.cause, 'NotEnoughShares') && e.cause.details.segment === 9);
});

test('read-test-write: new shares test for absence, updates test the old checkstring, conflicts are reported', async () => {
  const { key, cap } = await fixture('SDMF');
  const v1 = encodeMutableVersion(cap, key, data(100), { format: 'SDMF', k: 1, n: 2, seqnum: 1 });
  assert.deepEqual(checkstringReadVector('SDMF'), { offset: 0, size: 57 });
  assert.deepEqual(checkstringReadVector('MDMF'), { offset: 0, size: 41 });
  const fresh = planPublish(v1);
  assert.deepEqual(fresh[0].test, [{ offset: 0, size: 1, specimen: Buffer.alloc(0) }]);
  assert.equal(fresh[0].newLength, v1.shares[0].length);
  const v2 = encodeMutableVersion(cap, key, data(50), { format: 'SDMF', k: 1, n: 2, seqnum: 2 });
  const upd = planPublish(v2, new Map([[0, v1.checkstring], [1, v1.checkstring]]));
  assert.ok(upd[1].test[0].specimen.equals(v1.checkstring));
  assert.equal(upd[1].test[0].size, 57);
  // Simulated server: the test passes only against the bytes it holds.
  const holds = v1.shares[1];
  const passes = upd[1].test.every((t) => holds.subarray(t.offset, t.offset + t.size).equals(t.specimen));
  assert.ok(passes);
  assert.ok(applyWrites(holds, upd[1]).equals(v2.shares[1]), 'overwrite truncates the older, longer share');
  // Someone else wrote seqnum 2 first: our test (seqnum 1) fails ⇒ conflict.
  const ok = interpretWriteResponse(upd.slice(1), { success: true, data: new Map([[1, [v1.checkstring]]]) }, v2.checkstring);
  assert.deepEqual([ok.written, ok.conflict], [true, false]);
  const lost = interpretWriteResponse(upd.slice(1), { success: false, data: new Map([[1, [v2.checkstring]]]) }, v2.checkstring);
  assert.deepEqual([lost.written, lost.conflict], [false, true]);
  const surprise = interpretWriteResponse(upd.slice(1), { success: true, data: new Map([[1, [v1.checkstring]], [0, [v1.checkstring]]]) }, v2.checkstring);
  assert.deepEqual([surprise.conflict, surprise.unexpectedShares], [true, [0]]);
});

test('MDMF partial write: only touched segments are rewritten; result equals a full encode with the same salts', async () => {
  const { key, cap } = await fixture('MDMF');
  const seg = 131072;
  const cases = [
    { name: 'inside one segment', size: 3 * seg + 500, offset: seg + 10, length: 100 },
    { name: 'across a boundary', size: 3 * seg + 500, offset: 2 * seg - 5, length: 10 },
    { name: 'append at EOF (tail grows)', size: 3 * seg + 500, offset: 3 * seg + 500, length: 1000 },
    { name: 'append past a power of two', size: 4 * seg, offset: 4 * seg - 1, length: seg + 2 },
    { name: 'grow a one-segment file', size: 1000, offset: 900, length: 3 * seg },
  ];
  for (const c of cases) {
    const old = data(c.size, 4);
    const oldSalts = (s: number): Buffer => Buffer.alloc(16, s + 1);
    const v1 = encodeMutableVersion(cap, key, old, { format: 'MDMF', k: 3, n: 5, seqnum: 4, saltFor: oldSalts });
    const version = (await inspectShares(cap, v1.shares.map((s, i) => bytesShareReader(i, s)))).versions[0];
    const patch = data(c.length, 9);
    const newSalts = (s: number): Buffer => Buffer.alloc(16, 0xa0 + s);
    const plan = await planMdmfUpdate({ cap, key, version, offset: c.offset, data: patch, saltFor: newSalts });
    const expected = Buffer.concat([old.subarray(0, c.offset), patch, old.subarray(c.offset + c.length)]);
    assert.equal(plan.seqnum, 5);
    assert.equal(plan.dataLength, expected.length);
    const touched = plan.segments;
    assert.ok(touched !== undefined);
    const saltOf = (s: number): Buffer => (s >= touched.first && s <= touched.last ? newSalts(s) : oldSalts(s));
    const full = encodeMutableVersion(cap, key, expected, { format: 'MDMF', k: 3, n: 5, seqnum: 5, saltFor: saltOf });
    assert.ok(full.rootHash.equals(plan.rootHash), c.name);
    for (const p of plan.plans) {
      assert.ok(p.test[0].specimen.equals(v1.checkstring));
      const written = p.write.filter((w) => w.offset >= 2167).reduce((sum, w) => sum + w.data.length, 0);
      assert.ok(written < full.shares[p.shareNumber].length - 2167 || touched.first === 0, `${c.name}: partial`);
      // RSA-PSS signatures are randomised: compare everything but the signature bytes.
      const got = applyWrites(v1.shares[p.shareNumber], p);
      const want = Buffer.from(full.shares[p.shareNumber]);
      const sig = unpackMutableShare(want).header.regions.signature;
      got.copy(want, sig.start, sig.start, sig.end);
      assert.ok(got.equals(want), `${c.name}: share ${p.shareNumber} byte-identical`);
    }
    const after = await decodeMutableShares(cap, plan.plans.map((p) => applyWrites(v1.shares[p.shareNumber], p)));
    assert.ok(after.plaintext.equals(expected), c.name);
  }
});

test('MDMF partial write refuses SDMF, holes, missing shares and corrupt block trees', async () => {
  const { key, cap } = await fixture('MDMF');
  const v1 = encodeMutableVersion(cap, key, data(300_000), { format: 'MDMF', k: 2, n: 3, seqnum: 1 });
  const version = (await inspectShares(cap, v1.shares.map((s, i) => bytesShareReader(i, s)))).versions[0];
  await assert.rejects(planMdmfUpdate({ cap, key, version, offset: 300_001, data: Buffer.from('x') }), (e: unknown) => isTahoeError(e, 'BadInput'));
  const partial = { ...version, shares: version.shares.slice(0, 2) };
  await assert.rejects(planMdmfUpdate({ cap, key, version: partial, offset: 0, data: Buffer.from('x') }), (e: unknown) => isTahoeError(e, 'NotEnoughShares'));
  const bad = Buffer.from(v1.shares[2]);
  bad[unpackMutableShare(bad).header.regions.blockHashTree.start + 40] ^= 1;
  const badVersion = (await inspectShares(cap, [bytesShareReader(0, v1.shares[0]), bytesShareReader(1, v1.shares[1]), bytesShareReader(2, bad)])).versions[0];
  await assert.rejects(planMdmfUpdate({ cap, key, version: badVersion, offset: 0, data: Buffer.from('x') }), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
  const { cap: sdmfCap } = await fixture('SDMF');
  const s1 = encodeMutableVersion(sdmfCap, key, data(10), { format: 'SDMF', k: 1, n: 1, seqnum: 1 });
  const sv = (await inspectShares(sdmfCap, [bytesShareReader(0, s1.shares[0])])).versions[0];
  await assert.rejects(planMdmfUpdate({ cap: sdmfCap, key, version: sv, offset: 0, data: Buffer.from('x') }), (e: unknown) => isTahoeError(e, 'BadInput'));
});
