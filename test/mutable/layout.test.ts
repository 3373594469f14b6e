/**
 * SDMF/MDMF share layout, field by field (tahoe-formats.md §4, upstream mutable/layout.py),
 * and an independent Python reader (struct formats + python3-cryptography + python3-zfec)
 * that must accept every share we write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublicKey, verify, constants } from 'node:crypto';
import { generateSigningKey, keyMaterialOf, decryptPrivateKey, type MutableSigningKey } from '../../src/mutable/keys.js';
import { mutableWriteCap, type MutableWriteCap } from '../../src/mutable/caps.js';
import { encodeMutableVersion, type EncodedMutableVersion } from '../../src/mutable/encoder.js';
import {
  MDMF_HEADER_LENGTH, MDMF_SHARE_DATA_OFFSET, SDMF_HEADER_LENGTH, packCheckstring, parseCheckstring, packMdmfShare, packSdmfShare,
  unpackMutableShare, blockRegion, parseMutableHeader,
} from '../../src/mutable/layout.js';
import { blockHash, sskDataKey } from '../../src/crypto/derive.js';
import { aesCtr } from '../../src/crypto/aes.js';
import { HashTree, neededHashes } from '../../src/crypto/merkle.js';
import { isTahoeError } from '../../src/errors.js';

const PYTHON = '/usr/bin/python3';
const ORACLE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mutable_oracle.py');

let keyPromise: Promise<MutableSigningKey> | undefined;
async function fixture(format: 'SDMF' | 'MDMF'): Promise<{ key: MutableSigningKey; cap: MutableWriteCap }> {
  keyPromise ??= generateSigningKey();
  const key = await keyPromise;
  const m = keyMaterialOf(key);
  return { key, cap: mutableWriteCap(format, m.writekey, m.fingerprint) };
}

const fixedSalt = (s: number): Buffer => Buffer.alloc(16, 0x40 + s);
const data = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

test('SDMF share: every header field and offset sits where layout.py puts it', async () => {
  const { key, cap } = await fixture('SDMF');
  const plaintext = data(1000);
  const v = encodeMutableVersion(cap, key, plaintext, { format: 'SDMF', k: 3, n: 10, seqnum: 7, saltFor: fixedSalt });
  assert.equal(v.segmentSize, 1002); // next_multiple(1000, 3)
  const s = v.shares[4];
  assert.equal(s[0], 0, 'version byte');
  assert.equal(s.readBigUInt64BE(1), 7n, 'seqnum');
  assert.ok(s.subarray(9, 41).equals(v.rootHash), 'root hash');
  assert.ok(s.subarray(41, 57).equals(fixedSalt(0)), 'IV');
  assert.equal(s[57], 3, 'k');
  assert.equal(s[58], 10, 'N');
  assert.equal(s.readBigUInt64BE(59), 1002n, 'segment size');
  assert.equal(s.readBigUInt64BE(67), 1000n, 'data length');
  const oSig = s.readUInt32BE(75), oChain = s.readUInt32BE(79), oBht = s.readUInt32BE(83), oData = s.readUInt32BE(87);
  const oPriv = Number(s.readBigUInt64BE(91)), oEof = Number(s.readBigUInt64BE(99));
  assert.equal(SDMF_HEADER_LENGTH, 107);
  assert.ok(s.subarray(107, oSig).equals(key.publicKeyDer), 'verification key right after the header');
  assert.equal(oChain - oSig, 256, 'signature');
  assert.ok(verify('sha256', s.subarray(0, 75), { key: createPublicKey(key.privateKey), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s.subarray(oSig, oChain)));
  const depth = neededHashes(10, 4).length;
  assert.equal(oBht - oChain, 34 * depth, 'share hash chain without the leaf');
  const chainNodes = Array.from({ length: depth }, (_, i) => s.readUInt16BE(oChain + 34 * i));
  assert.deepEqual(chainNodes, neededHashes(10, 4), 'chain entries ascending');
  assert.equal(oData - oBht, 32, 'one-node block hash tree');
  assert.equal(oPriv - oData, 334, 'one block of segsize/k');
  assert.ok(s.subarray(oBht, oData).equals(blockHash(s.subarray(oData, oPriv))));
  assert.equal(oEof, s.length);
  assert.equal(decryptPrivateKey(cap.writekey, s.subarray(oPriv, oEof)).privateKeyDer.length, key.privateKeyDer.length);
  // Share 1 is a data share: its block is ciphertext bytes 334..668.
  const ciphertext = aesCtr(sskDataKey(fixedSalt(0), cap.readkey), plaintext);
  const s1 = unpackMutableShare(v.shares[1]);
  assert.ok(s1.shareData.equals(ciphertext.subarray(334, 668)));
  // Checkstring = first 57 bytes; the common packer agrees.
  assert.ok(v.checkstring.equals(s.subarray(0, 57)));
  assert.ok(packCheckstring('SDMF', 7, v.rootHash, fixedSalt(0)).equals(v.checkstring));
  assert.deepEqual(parseCheckstring(v.checkstring), { format: 'SDMF', seqnum: 7, rootHash: v.rootHash, salt: fixedSalt(0) });
  // Re-packing the parsed fields gives the same bytes.
  const u = unpackMutableShare(s);
  assert.ok(packSdmfShare({ ...u.header, salt: u.header.salt as Buffer, ...u }).equals(s));
});

test('MDMF share: header, offset table, zero gap, salted blocks at 2167, block hash tree at the end', async () => {
  const { key, cap } = await fixture('MDMF');
  const plaintext = data(300_000);
  const v = encodeMutableVersion(cap, key, plaintext, { format: 'MDMF', k: 3, n: 5, seqnum: 2, saltFor: fixedSalt });
  assert.equal(v.segmentSize, 131073, 'next_multiple(128 KiB, 3), even for one share');
  const s = v.shares[2];
  assert.equal(s[0], 1);
  assert.equal(s.readBigUInt64BE(1), 2n);
  assert.ok(s.subarray(9, 41).equals(v.rootHash));
  assert.equal(s[41], 3);
  assert.equal(s[42], 5);
  assert.equal(s.readBigUInt64BE(43), 131073n);
  assert.equal(s.readBigUInt64BE(51), 300000n);
  const o = Array.from({ length: 8 }, (_, i) => Number(s.readBigUInt64BE(59 + 8 * i)));
  const [oPriv, oChain, oSig, oVk, oVkEnd, oData, oBht, oEof] = o;
  assert.equal(MDMF_HEADER_LENGTH, 123);
  assert.equal(oPriv, 123);
  assert.equal(oChain - oPriv, key.privateKeyDer.length, 'encrypted private key');
  assert.equal(oSig - oChain, 34 * neededHashes(5, 2).length);
  assert.equal(oVk - oSig, 256);
  assert.ok(s.subarray(oVk, oVkEnd).equals(key.publicKeyDer));
  assert.equal(oData, 2167);
  assert.equal(MDMF_SHARE_DATA_OFFSET, 2167);
  assert.ok(s.subarray(oVkEnd, oData).every((b) => b === 0), 'gap is zero');
  // 3 segments: 131073, 131073, 37854 bytes ⇒ blocks 43691, 43691, 12618, each after a salt.
  assert.equal(oBht - oData, 2 * (43691 + 16) + 12618 + 16);
  assert.equal(oEof - oBht, 7 * 32, 'tree over 3 leaves padded to 4');
  assert.equal(oEof, s.length);
  const u = unpackMutableShare(s);
  const leaves = [0, 1, 2].map((seg) => {
    const r = blockRegion(u.header, seg);
    assert.ok(s.subarray(r.start, r.start + 16).equals(fixedSalt(seg)), `salt of segment ${seg}`);
    return blockHash(s.subarray(r.start, r.end));
  });
  assert.ok(Buffer.concat(new HashTree(leaves).nodes).equals(s.subarray(oBht, oEof)));
  assert.ok(v.checkstring.equals(s.subarray(0, 41)));
  assert.ok(verify('sha256', s.subarray(0, 59), { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s.subarray(oSig, oVk)));
  assert.ok(packMdmfShare({ ...u.header, ...u }).equals(s));
});

test('empty files: SDMF has segment size 0 and an IV, MDMF keeps its segment size; both have a one-node block tree', async () => {
  for (const format of ['SDMF', 'MDMF'] as const) {
    const { key, cap } = await fixture(format);
    const v = encodeMutableVersion(cap, key, Buffer.alloc(0), { format, k: 2, n: 3, seqnum: 1, saltFor: fixedSalt });
    const u = unpackMutableShare(v.shares[0]);
    assert.equal(u.header.dataLength, 0);
    assert.equal(u.header.segmentSize, format === 'SDMF' ? 0 : 131072);
    assert.equal(u.shareData.length, 0);
    assert.equal(u.blockHashTree.length, 1);
    if (format === 'SDMF') assert.ok(u.header.salt?.equals(fixedSalt(0)));
  }
});

test('header parser rejects impossible headers with ShareCorrupt', async () => {
  const { key, cap } = await fixture('MDMF');
  const v = encodeMutableVersion(cap, key, data(5000), { format: 'MDMF', k: 2, n: 4, seqnum: 1 });
  const mutate = (f: (b: Buffer) => void): Buffer => { const b = Buffer.from(v.shares[0]); f(b); return b; };
  const cases: Array<[string, Buffer]> = [
    ['version 2', mutate((b) => { b[0] = 2; })],
    ['k = 0', mutate((b) => { b[41] = 0; })],
    ['N < k', mutate((b) => { b[42] = 1; })],
    ['segment size not a multiple of k', mutate((b) => { b.writeBigUInt64BE(131071n, 43); })],
    ['data length past the share data', mutate((b) => { b.writeBigUInt64BE(9000n, 51); })],
    ['offsets out of order', mutate((b) => { b.writeBigUInt64BE(5000n, 59 + 8); })],
    ['huge offset', mutate((b) => { b.writeBigUInt64BE(2n ** 63n, 59 + 56); })],
    ['truncated', v.shares[0].subarray(0, v.shares[0].length - 1)],
    ['short header', v.shares[0].subarray(0, 100)],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(() => unpackMutableShare(bytes), (e: unknown) => isTahoeError(e, 'ShareCorrupt'), what);
  }
});

function runOracle(cap: MutableWriteCap, v: EncodedMutableVersion, shares: number[]): { shares: Record<string, { chainOrder: number[]; checkstring: string; bhtNodes: number }>; plaintext: string } {
  const input = JSON.stringify({
    fingerprint: cap.fingerprint.toString('base64'), readkey: cap.readkey.toString('base64'), writekey: cap.writekey.toString('base64'),
    shares: Object.fromEntries(shares.map((i) => [i, v.shares[i].toString('base64')])),
  });
  return JSON.parse(execFileSync(PYTHON, [ORACLE], { input, maxBuffer: 256 * 1024 * 1024 }).toString()) as ReturnType<typeof runOracle>;
}

test('python oracle (struct + cryptography + zfec) reads our SDMF and MDMF shares', async (t) => {
  if (!existsSync(PYTHON)) {
    if (process.env.CI === 'true') throw new Error(`${PYTHON} missing`);
    t.skip(`${PYTHON} missing`);
    return;
  }
  const cases = [
    { format: 'SDMF' as const, k: 3, n: 10, size: 4096 },
    { format: 'SDMF' as const, k: 1, n: 1, size: 56 },
    { format: 'MDMF' as const, k: 3, n: 10, size: 300_001 },
    { format: 'MDMF' as const, k: 2, n: 3, size: 131072 * 2 },
    { format: 'MDMF' as const, k: 71, n: 255, size: 1024 },
    { format: 'MDMF' as const, k: 1, n: 1, size: 0 },
  ];
  for (const c of cases) {
    const { key, cap } = await fixture(c.format);
    const plaintext = data(c.size);
    const v = encodeMutableVersion(cap, key, plaintext, { format: c.format, k: c.k, n: c.n, seqnum: 3 });
    const all = Array.from({ length: c.n }, (_, i) => i);
    const out = runOracle(cap, v, all);
    assert.ok(Buffer.from(out.plaintext, 'base64').equals(plaintext), `${c.format} ${c.k}/${c.n} ${c.size}`);
    for (const i of all) {
      assert.deepEqual(out.shares[i].chainOrder, neededHashes(c.n, i), 'chain written in ascending order');
      assert.equal(out.shares[i].checkstring, v.checkstring.toString('base64'));
    }
  }
});

test('a header may not claim a huge key, signature or private key: readers fetch those before anything is verified', async () => {
  const { key, cap } = await fixture('SDMF');
  const v = encodeMutableVersion(cap, key, data(1000), { format: 'SDMF', k: 3, n: 10, seqnum: 1, saltFor: fixedSalt });
  const header = Buffer.from(v.shares[0].subarray(0, SDMF_HEADER_LENGTH));
  assert.doesNotThrow(() => parseMutableHeader(header), 'the honest header parses');
  // Everything after the verification key moved 1 GB on: a 1 GB "key", every other region intact.
  const shift = 1 << 30;
  const bigKey = Buffer.from(header);
  for (const at of [75, 79, 83, 87]) bigKey.writeUInt32BE(bigKey.readUInt32BE(at) + shift, at);
  for (const at of [91, 99]) bigKey.writeBigUInt64BE(bigKey.readBigUInt64BE(at) + BigInt(shift), at);
  assert.throws(() => parseMutableHeader(bigKey), (e: unknown) => isTahoeError(e, 'ShareCorrupt') && /verification key is \d+ bytes/.test(e.message));
  // A 1 GB encrypted private key at the end.
  const bigPrivkey = Buffer.from(header);
  bigPrivkey.writeBigUInt64BE(bigPrivkey.readBigUInt64BE(99) + BigInt(shift), 99);
  assert.throws(() => parseMutableHeader(bigPrivkey), (e: unknown) => isTahoeError(e, 'ShareCorrupt') && /encrypted private key is \d+ bytes/.test(e.message));
});
