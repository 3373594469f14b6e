/**
 * Fuzz: the directory unpacker, the JSON reader and the directory-cap parser get random
 * and mutated input; every failure is a TahoeError of the expected kind, never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { makeChild, packDirectory, unpackDirectory, updateMetadata } from '../../src/dirnode/directory.js';
import { pyJsonDumps, pyJsonLoads } from '../../src/dirnode/pyjson.js';
import { formatDirectoryCap, parseDirectoryCap } from '../../src/dirnode/caps.js';
import { TahoeError } from '../../src/errors.js';

const WK = randomBytes(16);
const CHK = 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56';

function mutate(input: Buffer): Buffer {
  const b = Buffer.from(input);
  switch (randomInt(4)) {
    case 0:
      for (let i = randomInt(1, 4); i > 0; i--) b[randomInt(b.length)] = randomInt(256);
      return b;
    case 1:
      return b.subarray(0, randomInt(b.length));
    case 2: {
      const at = randomInt(b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from(String(randomInt(1000)) + ':'), b.subarray(at)]);
    }
    default:
      return Buffer.concat([b, randomBytes(randomInt(1, 20))]);
  }
}

test('unpackDirectory: random and mutated contents give IntegrityError or a directory that repacks', () => {
  const children = [
    makeChild('a', { readCap: CHK, metadata: updateMetadata(undefined, undefined, 1.5) }),
    makeChild('b\u00e9', { writeCap: 'URI:DIR2:' + 'a'.repeat(26) + ':' + 'a'.repeat(52), metadata: new Map() }),
    makeChild('c', { readCap: 'ro.x-future:1' }),
  ];
  const samples = [packDirectory(children, { writekey: WK }), packDirectory(children)];
  let ok = 0;
  for (let i = 0; i < 20000; i++) {
    const input = i % 5 === 0 ? randomBytes(randomInt(0, 200)) : mutate(samples[i % 2]);
    for (const options of [{ writekey: WK }, {}, { mutable: false }]) {
      try {
        const { children: got } = unpackDirectory(input, options);
        packDirectory(got, { writekey: options.mutable === false ? undefined : WK, deepImmutable: options.mutable === false });
        ok++;
      } catch (e) {
        assert.ok(e instanceof TahoeError, `non-TahoeError: ${String(e)}`);
        assert.ok(e.kind === 'IntegrityError', `${e.kind}: ${e.message}`);
      }
    }
  }
  assert.ok(ok > 100);
});

test('pyJsonLoads: random and mutated text gives BadInput or a value that dumps and reloads identically', () => {
  const seeds = ['{"tahoe": {"linkcrtime": 1700000000.5, "linkmotime": 1.0}, "x": [1, "\\u00e9", null, true]}', '[1e5, -0.0, 12345678901234567890]'];
  const chars = '{}[]":,.-+eE0123456789 \\utrfalsenNI\u00e9\u0000';
  for (let i = 0; i < 30000; i++) {
    let s = seeds[i % 2];
    const at = randomInt(s.length + 1);
    const op = randomInt(3);
    if (op === 0) s = s.slice(0, at) + chars[randomInt(chars.length)] + s.slice(at + 1);
    else if (op === 1) s = s.slice(0, at) + chars[randomInt(chars.length)] + s.slice(at);
    else s = Array.from({ length: randomInt(12) }, () => chars[randomInt(chars.length)]).join('');
    try {
      const v = pyJsonLoads(s);
      const dumped = pyJsonDumps(v);
      assert.equal(pyJsonDumps(pyJsonLoads(dumped)), dumped);
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'BadInput', String(e));
    }
  }
  assert.throws(() => pyJsonLoads('['.repeat(100000)), (e: unknown) => e instanceof TahoeError && e.kind === 'BadInput');
});

test('parseDirectoryCap: mutated caps give CapInvalid or round-trip', () => {
  const caps = ['URI:DIR2:' + 'a'.repeat(26) + ':' + 'q'.repeat(52), 'URI:DIR2-MDMF-RO:' + 'b'.repeat(26) + ':' + 'q'.repeat(52) + ':x', 'URI:DIR2-LIT:nbswy3dp', CHK.replace('URI:CHK:', 'URI:DIR2-CHK:')];
  const alphabet = 'abcq27:URIDR2-MFOCHKLTV \n';
  for (let i = 0; i < 20000; i++) {
    let s = caps[i % caps.length];
    const at = randomInt(s.length + 1);
    s = randomInt(2) === 0 ? s.slice(0, at) + alphabet[randomInt(alphabet.length)] + s.slice(at + 1) : s.slice(0, at);
    try {
      const cap = parseDirectoryCap(s);
      assert.equal(formatDirectoryCap(parseDirectoryCap(formatDirectoryCap(cap))), formatDirectoryCap(cap));
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'CapInvalid', `${JSON.stringify(s)}: ${String(e)}`);
    }
  }
});
