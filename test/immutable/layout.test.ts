/**
 * Share layout: the worked example and checkpoints of tahoe-formats.md §3.11, v1/v2
 * selection, and a synthetic v2 layout with offsets beyond 2^32 (no gigabytes written).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeChkFile, chkShareSize } from '../../src/immutable/encoder.js';
import { bytesSource } from '../../src/immutable/source.js';
import { planSegments } from '../../src/immutable/params.js';
import { uriExtensionLength, parseUriExtension } from '../../src/immutable/ueb.js';
import {
  computeShareLayout, encodeShareHeader, parseShareHeader, parseShareHashChain, encodeShareHashChain, encodeUebField, parseUebLength, checkHeaderAgainstPlan, tahoeShareHashOrder,
} from '../../src/immutable/layout.js';
import { neededHashes } from '../../src/crypto/merkle.js';
import { spawnSync } from 'node:child_process';
import { uriExtensionHash, crypttextHash, crypttextSegmentHash, blockHash } from '../../src/crypto/derive.js';
import { aesCtr } from '../../src/crypto/aes.js';
import { isTahoeError, TahoeError } from '../../src/errors.js';
import { MemorySink, vectorData } from './share-helpers.js';

test('worked example: 56 × "a", k = N = 1 — every value of §3.11, byte for byte', async () => {
  const data = Buffer.alloc(56, 'a');
  const sink = new MemorySink();
  const result = await encodeChkFile({
    params: { k: 1, n: 1, maxSegmentSize: 131072 }, size: 56, source: bytesSource(data), sink, convergenceSecret: Buffer.from('aaaaaaaaaaaaaaaa'),
  });
  assert.equal(result.cap.key.toString('hex'), 'c66e2700c124ec49fbab9a5e186168db');
  assert.equal(result.capString, 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56');
  const share = sink.shares.get(0) as Buffer;
  assert.equal(share.length, 531);
  assert.equal(result.shareSize, 531);
  assert.equal(share.subarray(0, 36).toString('hex'), '00000001' + '00000038' + '00000038' + '00000024' + '0000005c' + '0000007c' + '0000009c' + '000000bc' + '000000de');
  const ciphertext = share.subarray(0x24, 0x24 + 56);
  assert.ok(ciphertext.toString('hex').startsWith('561a358556560c7f'));
  assert.ok(ciphertext.toString('hex').endsWith('b7a42ae1'));
  assert.deepEqual(aesCtr(result.cap.key, ciphertext), data);
  assert.deepEqual(share.subarray(92, 124), Buffer.alloc(32)); // plaintext hash tree area: zeros
  assert.equal(share.subarray(124, 156).toString('hex'), 'c547a245bcf4ecf6f0a0940fe2e32bf639fc38360e10d9eb72e176f70f4e13d3');
  assert.deepEqual(share.subarray(124, 156), crypttextSegmentHash(ciphertext));
  const blockRoot = '2bf8dfa93bc47a1821918101d6dc98e58d1d2efcd0581e64f1016fb4ca3935af';
  assert.equal(share.subarray(156, 188).toString('hex'), blockRoot);
  assert.deepEqual(share.subarray(156, 188), blockHash(ciphertext));
  assert.equal(share.subarray(188, 222).toString('hex'), '0000' + blockRoot); // one share-hash entry: index 0
  assert.equal(share.readUInt32BE(222), 305);
  const ueb = share.subarray(226);
  assert.equal(ueb.length, 305);
  assert.equal(uriExtensionHash(ueb).toString('hex'), 'f07e86d10706ae399a191f7a8f00863526dbe63e816cfae88fedd6b6f9e6217e');
  const text = ueb.toString('latin1');
  for (const needle of ['codec_params:6:56-1-1,', 'tail_codec_params:6:56-1-1,', 'segment_size:2:56,', 'codec_name:3:crs,', 'num_segments:1:1,', 'size:2:56,']) {
    assert.ok(text.includes(needle), needle);
  }
  const parsed = parseUriExtension(ueb);
  assert.equal(parsed.crypttextHash.toString('hex'), '971cd93acbf6d6cc600b83ed3df3ec9df5fa2d3290b83ce7c75f1a61ba5e5a1f');
  assert.deepEqual(parsed.crypttextHash, crypttextHash(ciphertext));
  assert.equal(parsed.shareRootHash.toString('hex'), blockRoot);
  // the write pattern: header, blocks, one trailer; contiguous and covering the share exactly
  let end = 0;
  for (const w of sink.writes) {
    assert.equal(w.offset, end);
    end += w.length;
  }
  assert.equal(end, 531);
});

test('checkpoints: 1024 B (2,3), 4096 B (3,10), 131073 B (2,3)', async () => {
  const chain = (share: Buffer): number[] => {
    const header = parseShareHeader(share);
    return [...parseShareHashChain(share.subarray(header.offsets.shareHashes, header.offsets.uriExtension)).keys()];
  };
  {
    const sink = new MemorySink();
    await encodeChkFile({ params: { k: 2, n: 3, maxSegmentSize: 131072 }, size: 1024, source: bytesSource(Buffer.alloc(1024, 'a')), sink, convergenceSecret: Buffer.from('aaaaaaaaaaaaaaaa') });
    assert.deepEqual([0, 1, 2].map((i) => chain(sink.shares.get(i) as Buffer)), [[2, 3, 4], [2, 3, 4], [1, 5, 6]]);
    assert.equal(parseShareHeader(sink.shares.get(0) as Buffer).blockSize, 512);
  }
  {
    const sink = new MemorySink();
    const r = await encodeChkFile({ params: { k: 3, n: 10, maxSegmentSize: 131072 }, size: 4096, source: bytesSource(Buffer.alloc(4096, 'c')), sink, convergenceSecret: Buffer.from('aaaaaaaaaaaaaaaa') });
    assert.equal(r.uriExtension.segmentSize, 4098);
    assert.equal(r.uriExtension.tailCodecParams, '4098-3-10');
    for (let i = 0; i < 10; i++) assert.equal(chain(sink.shares.get(i) as Buffer).length, 5);
  }
  {
    const sink = new MemorySink();
    const data = vectorData(randomBytes(32), 131073);
    const r = await encodeChkFile({ params: { k: 2, n: 3, maxSegmentSize: 131072 }, size: data.length, source: bytesSource(data), sink });
    assert.equal(r.uriExtension.numSegments, 2);
    assert.equal(r.uriExtension.tailCodecParams, '2-2-3');
    const header = parseShareHeader(sink.shares.get(0) as Buffer);
    assert.equal(header.dataSize, 65537);
    assert.equal(header.offsets.crypttextHashTree - header.offsets.plaintextHashTree, 96); // H = 3 nodes
  }
});

test('share sizes are known before encoding and match what is written', async () => {
  for (const [k, n, size] of [[1, 1, 56], [3, 10, 1000], [2, 3, 131073], [7, 20, 300000], [101, 256, 70000]]) {
    const params = { k, n, maxSegmentSize: 65536 };
    const sink = new MemorySink();
    const data = randomBytes(size);
    const r = await encodeChkFile({ params, size, source: bytesSource(data, 777), sink });
    assert.equal(chkShareSize(params, size), r.shareSize);
    for (const share of sink.shares.values()) assert.equal(share.length, r.shareSize);
    assert.equal(sink.shares.size, n);
    const plan = planSegments(params, size);
    assert.equal(uriExtensionLength(plan), r.layout.uebLength);
  }
});

test('v2 layout: chosen automatically beyond 32 bits; synthetic 8 GiB-per-share case round-trips through the header', () => {
  // k=1 and a 2^33-byte file: data_size alone exceeds 2^32
  const plan = planSegments({ k: 1, n: 3, maxSegmentSize: 1 << 20 }, 2 ** 33 + 5);
  const layout = computeShareLayout({ blockSize: plan.blockSize, dataSize: plan.dataSize, numSegments: plan.numSegments, totalShares: plan.n, uebLength: uriExtensionLength(plan) });
  assert.equal(layout.version, 2);
  assert.equal(layout.headerSize, 0x44);
  assert.equal(layout.offsets.data, 0x44);
  assert.equal(layout.offsets.plaintextHashTree, 0x44 + 2 ** 33 + 5);
  const h = (2 * 16384 - 1) * 32; // 8193 segments → 16384 leaves
  assert.equal(layout.segmentHashTreeSize, h);
  assert.equal(layout.offsets.shareHashes - layout.offsets.blockHashes, h);
  assert.equal(layout.totalSize, layout.offsets.uriExtension + 8 + layout.uebLength);
  const header = encodeShareHeader(layout);
  assert.equal(header.length, 0x44);
  assert.equal(header.readUInt32BE(0), 2);
  assert.equal(header.readBigUInt64BE(12), BigInt(2 ** 33 + 5));
  const parsed = parseShareHeader(header);
  assert.deepEqual(parsed.offsets, layout.offsets);
  assert.equal(parsed.fieldSize, 8);
  checkHeaderAgainstPlan(parsed, plan);
  assert.equal(parseUebLength(encodeUebField(layout, Buffer.alloc(321)), 8), 321);
  // the same file at k=3 fits v1 (data_size ≈ 2.67 GiB < 4 GiB)
  const plan3 = planSegments({ k: 3, n: 10, maxSegmentSize: 1 << 20 }, 2 ** 33);
  const v1 = computeShareLayout({ blockSize: plan3.blockSize, dataSize: plan3.dataSize, numSegments: plan3.numSegments, totalShares: 10, uebLength: 400 });
  assert.equal(v1.version, 1);
  assert.throws(() => computeShareLayout({ ...layout, numSegments: plan.numSegments, totalShares: 3, version: 1 }), (e: unknown) => isTahoeError(e, 'BadInput'));
  // an offset just at 2^32 forces v2 even when the data is smaller
  const edge = computeShareLayout({ blockSize: 10, dataSize: 2 ** 32 - 0x24 - 3 * 32 - 34, numSegments: 1, totalShares: 1, uebLength: 300 });
  assert.equal(edge.version, 2);
});

test('header parser: malformed headers are ShareCorrupt, never crashes (fuzz)', () => {
  const plan = planSegments({ k: 3, n: 10, maxSegmentSize: 131072 }, 1_000_000);
  const good = encodeShareHeader(computeShareLayout({ blockSize: plan.blockSize, dataSize: plan.dataSize, numSegments: plan.numSegments, totalShares: 10, uebLength: 350 }));
  const goodV2 = encodeShareHeader(computeShareLayout({ blockSize: plan.blockSize, dataSize: plan.dataSize, numSegments: plan.numSegments, totalShares: 10, uebLength: 350, version: 2 }));
  assert.throws(() => parseShareHeader(Buffer.alloc(3)), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
  assert.throws(() => parseShareHeader(Buffer.from('0000000300', 'hex')), /unknown share version 3/);
  assert.throws(() => parseShareHeader(good.subarray(0, 20)), /truncated/);
  const swapped = Buffer.from(good);
  swapped.writeUInt32BE(5, 0x14);
  assert.throws(() => parseShareHeader(swapped), /ascending/);
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const base = i % 2 === 0 ? good : goodV2;
    const mutated = Buffer.from(i % 7 === 0 ? randomBytes(Math.floor(Math.random() * 80)) : base);
    for (let m = 0; m < 1 + (i % 3); m++) mutated[Math.floor(Math.random() * mutated.length)] = Math.floor(Math.random() * 256);
    try {
      const h = parseShareHeader(mutated);
      accepted++;
      try {
        checkHeaderAgainstPlan(h, plan);
      } catch (e) {
        assert.ok(isTahoeError(e, 'ShareCorrupt'));
      }
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'ShareCorrupt', String(e));
    }
  }
  assert.ok(accepted > 0);
  // share-hash chains
  const chain = encodeShareHashChain([[3, Buffer.alloc(32, 1)], [1, Buffer.alloc(32, 2)]]);
  assert.deepEqual([...parseShareHashChain(chain).keys()], [3, 1]);
  assert.throws(() => parseShareHashChain(chain.subarray(1)), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
  assert.throws(() => parseShareHashChain(Buffer.alloc(0)), (e: unknown) => isTahoeError(e, 'ShareCorrupt'));
  const dup = encodeShareHashChain([[3, Buffer.alloc(32, 1)], [3, Buffer.alloc(32, 2)]]);
  assert.throws(() => parseShareHashChain(dup), /twice/);
  assert.throws(() => parseUebLength(Buffer.from('00100000', 'hex'), 4), /implausible/);
  assert.throws(() => parseUebLength(Buffer.from('ffffffffffffffff', 'hex'), 8), /implausible/);
});

test('share-hash entries follow Tahoe\'s order: the §3.9 example, and CPython itself for every N and share', (t) => {
  assert.deepEqual(tahoeShareHashOrder(17, 0), [32, 2, 4, 8, 16, 31]); // tahoe-formats.md §3.9
  assert.deepEqual(tahoeShareHashOrder(3, 2), [1, 5, 6]); // §3.11
  assert.deepEqual(tahoeShareHashOrder(10, 7), neededHashes(10, 7, true));
  // 4-entry sets live in CPython's initial 8-slot table, where 8 lands in slot 0
  assert.deepEqual(tahoeShareHashOrder(8, 0), [8, 2, 4, 7]);
  for (const n of [1, 2, 3, 4, 9, 10, 12, 16]) {
    for (let s = 0; s < n; s++) assert.deepEqual(tahoeShareHashOrder(n, s), neededHashes(n, s, true));
  }
  // Ask the CPython that Debian ships (3.11, as under Tahoe 1.20 on Debian 12) for the
  // iteration order of set(siblings, leaf upward) + leaf, for every N up to 256.
  const script = [
    'import json, sys',
    'out = {}',
    'for n in range(1, 257):',
    '    width = 1',
    '    while width < n: width *= 2',
    '    rows = []',
    '    for s in range(n):',
    '        here = width - 1 + s',
    '        sibs = []',
    '        while here != 0:',
    '            sibs.append(here + 1 if here % 2 == 1 else here - 1)',
    '            here = (here - 1) // 2',
    '        chosen = set(sibs)',
    '        chosen.add(width - 1 + s)',
    '        rows.append(list(chosen))',
    '    out[n] = rows',
    'json.dump(out, sys.stdout)',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error !== undefined || r.status !== 0) {
    if (process.env.CI === 'true') assert.fail(`python3: ${r.error?.message ?? r.stderr}`);
    t.skip('no /usr/bin/python3');
    return;
  }
  const python = JSON.parse(r.stdout) as Record<string, number[][]>;
  let nonAscending = 0;
  for (let n = 1; n <= 256; n++) {
    for (let s = 0; s < n; s++) {
      const ours = tahoeShareHashOrder(n, s);
      assert.deepEqual(ours, python[n][s], `N=${n} share ${s}`);
      assert.deepEqual([...ours].sort((a, b) => a - b), neededHashes(n, s, true));
      if (ours.some((v, i) => i > 0 && v < ours[i - 1])) nonAscending++;
    }
  }
  assert.ok(nonAscending > 1000, `${nonAscending} non-ascending chains`);
});

test('an encoded N=17 share carries its chain in Tahoe\'s order and decodes', async () => {
  const data = randomBytes(3000);
  const sink = new MemorySink();
  await encodeChkFile({ params: { k: 3, n: 17, maxSegmentSize: 1024 }, size: data.length, source: bytesSource(data), sink });
  const share0 = sink.shares.get(0) as Buffer;
  const h = parseShareHeader(share0);
  assert.deepEqual([...parseShareHashChain(share0.subarray(h.offsets.shareHashes, h.offsets.uriExtension)).keys()], [32, 2, 4, 8, 16, 31]);
});
