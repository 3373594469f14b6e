import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { packUriExtension, packUriExtensionFields, parseUriExtension, parseUriExtensionFields, planFromUriExtension, uriExtensionFor, uriExtensionLength } from '../../src/immutable/ueb.js';
import { planSegments } from '../../src/immutable/params.js';
import { isTahoeError, TahoeError } from '../../src/errors.js';

const plan = planSegments({ k: 3, n: 10, maxSegmentSize: 131072 }, 1_000_001);
const hashes = { crypttextHash: randomBytes(32), crypttextRootHash: randomBytes(32), shareRootHash: randomBytes(32) };

test('pack → parse round trip; keys sorted bytewise; length known in advance', () => {
  const ueb = uriExtensionFor(plan, hashes);
  const packed = packUriExtension(ueb);
  assert.equal(packed.length, uriExtensionLength(plan));
  assert.deepEqual(parseUriExtension(packed), ueb);
  const keys = [...parseUriExtensionFields(packed).keys()];
  assert.deepEqual(keys, [...keys].sort());
  assert.equal(keys.length, 11);
  assert.deepEqual(planFromUriExtension(ueb, { needed: 3, total: 10, size: 1_000_001 }), plan);
});

test('legacy keys are ignored; missing, duplicate or malformed keys are IntegrityErrors', () => {
  const ueb = uriExtensionFor(plan, hashes);
  const withLegacy = packUriExtensionFields({
    codec_name: 'crs', codec_params: ueb.codecParams, crypttext_hash: hashes.crypttextHash, crypttext_root_hash: hashes.crypttextRootHash,
    needed_shares: 3, num_segments: ueb.numSegments, plaintext_hash: randomBytes(32), plaintext_root_hash: randomBytes(32),
    segment_size: ueb.segmentSize, share_root_hash: hashes.shareRootHash, size: ueb.size, tail_codec_params: ueb.tailCodecParams, total_shares: 10,
  });
  assert.deepEqual(parseUriExtension(withLegacy), ueb);
  const withoutSize = packUriExtensionFields({ codec_name: 'crs', size: 5 });
  assert.throws(() => parseUriExtension(withoutSize), (e: unknown) => isTahoeError(e, 'IntegrityError') && /missing/.test(e.message));
  const packed = packUriExtension(ueb);
  assert.throws(() => parseUriExtensionFields(Buffer.concat([packed, Buffer.from('size:1:5,')])), /twice/);
  assert.throws(() => parseUriExtensionFields(packed.subarray(0, packed.length - 1)), /truncated/);
  const shortHash = packUriExtensionFields({ ...Object.fromEntries(parseUriExtensionFields(packed)), share_root_hash: Buffer.alloc(31) });
  assert.throws(() => parseUriExtension(shortHash), /31 bytes/);
  // inconsistent with the cap or with itself
  // a cap whose numbers disagree with its (authentic) UEB was altered
  assert.throws(() => planFromUriExtension(ueb, { needed: 3, total: 10, size: 1_000_000 }), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.throws(() => planFromUriExtension(ueb, { needed: 2, total: 10, size: 1_000_001 }), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.throws(() => planFromUriExtension({ ...ueb, numSegments: 9 }, { needed: 3, total: 10, size: 1_000_001 }), /num_segments/);
  assert.throws(() => planFromUriExtension({ ...ueb, tailCodecParams: '3-3-10' }, { needed: 3, total: 10, size: 1_000_001 }), /tail_codec_params/);
  assert.throws(() => planFromUriExtension({ ...ueb, segmentSize: 131071 }, { needed: 3, total: 10, size: 1_000_001 }), /multiple of k/);
  assert.throws(() => planFromUriExtension({ ...ueb, codecName: 'xor' }, { needed: 3, total: 10, size: 1_000_001 }), /codec/);
});

test('fuzz: mutated UEBs parse or fail with IntegrityError (or CapInvalid against the cap) only', () => {
  const packed = packUriExtension(uriExtensionFor(plan, hashes));
  let parsedCount = 0;
  for (let i = 0; i < 20000; i++) {
    const mutated = Buffer.from(i % 9 === 0 ? randomBytes(Math.floor(Math.random() * 400)) : packed);
    for (let m = 0; m < 1 + (i % 4); m++) {
      const pos = Math.floor(Math.random() * mutated.length);
      mutated[pos] = i % 2 === 0 ? Math.floor(Math.random() * 256) : ':,0123456789'.charCodeAt(Math.floor(Math.random() * 12));
    }
    try {
      const ueb = parseUriExtension(mutated);
      parsedCount++;
      try {
        planFromUriExtension(ueb, { needed: 3, total: 10, size: 1_000_001 });
      } catch (e) {
        assert.ok(isTahoeError(e, 'IntegrityError') || isTahoeError(e, 'CapInvalid'), String(e));
      }
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'IntegrityError', String(e));
    }
  }
  assert.ok(parsedCount > 0);
});
