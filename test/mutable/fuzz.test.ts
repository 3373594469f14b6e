/**
 * Fuzz: share parsers, the verifying decoder and cap parsers get random and mutated
 * input; every failure must be a TahoeError of the expected kinds, never a crash, and a
 * decode that succeeds must give the original bytes (forgeries cannot pass).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { generateSigningKey, keyMaterialOf } from '../../src/mutable/keys.js';
import { mutableWriteCap, formatMutableCap, parseMutableCap, readCapOf, verifyCapOf } from '../../src/mutable/caps.js';
import { encodeMutableVersion } from '../../src/mutable/encoder.js';
import { parseCheckstring, parseMutableHeader, unpackMutableShare } from '../../src/mutable/layout.js';
import { decodeMutableShares } from '../../src/mutable/decoder.js';
import { createMutable, overwriteMutable, signingKeyFromVersion } from '../../src/mutable/filenode.js';
import { inspectShares, bytesShareReader } from '../../src/mutable/decoder.js';
import { TahoeError } from '../../src/errors.js';

function mutate(input: Buffer): Buffer {
  const b = Buffer.from(input);
  const kind = randomInt(5);
  if (kind === 0) {
    for (let i = randomInt(1, 4); i > 0; i--) b[randomInt(b.length)] ^= 1 << randomInt(8);
    return b;
  }
  if (kind === 1) return b.subarray(0, randomInt(b.length));
  if (kind === 2) { const at = randomInt(b.length); b.fill(randomInt(256), at, Math.min(b.length, at + randomInt(1, 64))); return b; }
  if (kind === 3) { const o = randomInt(59, 123); b.writeUInt32BE(randomInt(2 ** 32), o - (o % 4)); return b; }
  return Buffer.concat([b, randomBytes(randomInt(1, 100))]);
}

function expectKinds(e: unknown, kinds: string[], what: string): void {
  assert.ok(e instanceof TahoeError, `${what}: non-TahoeError ${String(e)}`);
  assert.ok(kinds.includes(e.kind), `${what}: kind ${e.kind}: ${e.message}`);
}

test('share header/unpack parsers: random and mutated shares give ShareCorrupt or parse', async () => {
  const key = await generateSigningKey();
  const m = keyMaterialOf(key);
  const samples = (['SDMF', 'MDMF'] as const).map((format) => encodeMutableVersion(mutableWriteCap(format, m.writekey, m.fingerprint), key, randomBytes(3000), { format, k: 2, n: 3, seqnum: 1 }).shares[1]);
  let parsed = 0;
  for (let i = 0; i < 20000; i++) {
    const input = i % 4 === 0 ? randomBytes(randomInt(0, 400)) : mutate(samples[i % 2]);
    if (i % 4 === 0 && input.length > 0) input[0] = randomInt(3);
    try {
      unpackMutableShare(input);
      parseMutableHeader(input);
      parsed++;
    } catch (e) {
      expectKinds(e, ['ShareCorrupt'], 'unpack');
    }
    try {
      parseCheckstring(input.subarray(0, randomInt(0, 60)));
    } catch (e) {
      expectKinds(e, ['ShareCorrupt'], 'checkstring');
    }
  }
  assert.ok(parsed > 100, `some mutants still parse structurally (${parsed})`);
});

test('verifying decoder: mutated shares never decode to wrong bytes', async () => {
  for (const format of ['SDMF', 'MDMF'] as const) {
    const created = await createMutable(randomBytes(format === 'SDMF' ? 2000 : 140_000), { format, k: 2, n: 3 });
    const original = (await decodeMutableShares(created.cap, created.version.shares)).plaintext;
    for (let i = 0; i < 150; i++) {
      const shares = created.version.shares.map((s) => (randomInt(2) === 0 ? mutate(s) : s));
      try {
        const { plaintext } = await decodeMutableShares(readCapOf(created.cap), shares);
        assert.ok(plaintext.equals(original), 'decoded bytes must be the original');
      } catch (e) {
        expectKinds(e, ['NotEnoughShares'], 'decode');
      }
    }
  }
});

test('mutable cap parser: mutated caps give CapInvalid (or parse and format back)', () => {
  const wk = randomBytes(16);
  const fp = randomBytes(32);
  const caps = [mutableWriteCap('SDMF', wk, fp), mutableWriteCap('MDMF', wk, fp, ['hint1', 'x'])].flatMap((c) => [c, readCapOf(c), verifyCapOf(c)]).map(formatMutableCap);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567:URISKMDFVeriferRO-AZ01 \n';
  for (let i = 0; i < 20000; i++) {
    let s = caps[i % caps.length];
    const op = randomInt(4);
    const at = randomInt(s.length + 1);
    if (op === 0) s = s.slice(0, at) + alphabet[randomInt(alphabet.length)] + s.slice(at + 1);
    else if (op === 1) s = s.slice(0, at);
    else if (op === 2) s = s.slice(0, at) + alphabet[randomInt(alphabet.length)] + s.slice(at);
    else s = randomBytes(randomInt(40)).toString('latin1');
    try {
      const cap = parseMutableCap(s);
      assert.equal(parseMutableCap(formatMutableCap(cap)).access, cap.access);
    } catch (e) {
      expectKinds(e, ['CapInvalid'], `cap ${JSON.stringify(s)}`);
    }
  }
  assert.equal(formatMutableCap(parseMutableCap(caps[3])), caps[3], 'MDMF extra fields survive a round trip');
});

test('facade: create, overwrite with a recovered key, concurrent writers are detectable', async () => {
  const created = await createMutable(Buffer.from('version one'), { format: 'MDMF', k: 2, n: 4 });
  assert.equal(created.plans.length, 4);
  assert.ok(created.plans.every((p) => p.test[0].size === 1 && p.test[0].specimen.length === 0));
  const { versions } = await inspectShares(created.cap, created.version.shares.map((s, i) => bytesShareReader(i, s)));
  const key = await signingKeyFromVersion(created.cap, versions[0]);
  const known = new Map(created.version.shares.map((_, i) => [i, created.version.checkstring] as const));
  const a = overwriteMutable({ cap: created.cap, key, plaintext: Buffer.from('writer A'), highestSeqnum: 1, k: 2, n: 4, known });
  const b = overwriteMutable({ cap: created.cap, key, plaintext: Buffer.from('writer B'), highestSeqnum: 1, k: 2, n: 4, known });
  assert.equal(a.version.seqnum, 2);
  // Both test against seqnum 1; whichever lands second finds seqnum 2 and its test fails.
  const afterA = a.version.shares[0];
  const bTest = b.plans[0].test[0];
  assert.ok(!afterA.subarray(bTest.offset, bTest.offset + bTest.size).equals(bTest.specimen), 'B is refused after A wrote');
  const text = (await decodeMutableShares(created.cap, a.version.shares)).plaintext.toString();
  assert.equal(text, 'writer A');
  await assert.rejects(createMutable(Buffer.alloc(1), { k: 3, n: 256 }), (e: unknown) => e instanceof TahoeError && e.kind === 'BadInput' && /255/.test(e.hint));
});

test('write-response judge: random server answers give an outcome, never a crash; tests and surprises are conflicts', async () => {
  const { interpretWriteResponse, knownShareTest, newShareTest, prefixTest } = await import('../../src/mutable/update.js');
  const checkstring = Buffer.concat([Buffer.from([1]), randomBytes(40)]);
  const plans = [{ shareNumber: 2, test: [newShareTest()], write: [], newLength: null }];
  for (let i = 0; i < 3000; i++) {
    const data = new Map<number, Uint8Array[]>();
    for (let j = randomInt(0, 5); j > 0; j--) {
      const reads = Array.from({ length: randomInt(0, 3) }, () => (randomInt(0, 4) === 0 ? Buffer.from(checkstring) : randomBytes(randomInt(0, 60))));
      data.set(randomInt(0, 300), reads);
    }
    const leftAlone = new Map<number, Uint8Array>(randomInt(0, 2) === 0 ? [] : [[randomInt(0, 300), randomBytes(randomInt(0, 60))]]);
    const success = randomInt(0, 2) === 0;
    const outcome = interpretWriteResponse(plans, { success, data }, checkstring, leftAlone);
    assert.equal(outcome.written, success);
    if (!success) assert.equal(outcome.conflict, true);
    const others = [...data].filter(([n]) => n !== 2);
    const foreign = others.filter(([n, reads]) => {
      const first = reads[0];
      if (first === undefined) return true;
      if (Buffer.from(first).subarray(0, checkstring.length).equals(checkstring) && first.length >= checkstring.length) return false;
      const seen = leftAlone.get(n);
      const common = seen === undefined ? 0 : Math.min(seen.length, first.length);
      return !(seen !== undefined && common > 0 && Buffer.from(first).subarray(0, common).equals(Buffer.from(seen).subarray(0, common)));
    });
    assert.deepEqual([...outcome.unexpectedShares].sort((a, b) => a - b), foreign.map(([n]) => n).sort((a, b) => a - b));
    if (success) assert.equal(outcome.conflict, foreign.length > 0);
  }
  // Test vectors from whatever was seen: valid checkstrings are parsed, anything else is matched byte for byte.
  assert.deepEqual(knownShareTest(checkstring), { offset: 0, size: 41, specimen: checkstring });
  const junk = randomBytes(13);
  assert.deepEqual(knownShareTest(junk), prefixTest(junk));
});
