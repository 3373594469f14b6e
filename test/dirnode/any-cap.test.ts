/**
 * `parseAnyCap`: every cap sorted into immutable file, mutable file, directory or unknown,
 * with the typed views; fuzzed (every failure is `CapInvalid`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseAnyCap, formatDirectoryCap } from '../../src/dirnode/caps.js';
import { formatMutableCap } from '../../src/mutable/caps.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { isTahoeError } from '../../src/errors.js';

const wk = base32Encode(randomBytes(16));
const fp = base32Encode(randomBytes(32));
const CHK = 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56';

test('parseAnyCap sorts caps by what they name and keeps their text', () => {
  const cases: Array<[string, string]> = [
    [CHK, 'immutable-file'],
    ['URI:LIT:nbswy3dp', 'immutable-file'],
    [`URI:SSK:${wk}:${fp}`, 'mutable-file'],
    [`URI:MDMF-RO:${wk}:${fp}:extra`, 'mutable-file'],
    [`URI:SSK-Verifier:${wk}:${fp}`, 'mutable-file'],
    [`URI:DIR2:${wk}:${fp}`, 'directory'],
    [`URI:DIR2-MDMF-RO:${wk}:${fp}`, 'directory'],
    [CHK.replace('URI:CHK:', 'URI:DIR2-CHK:'), 'directory'],
    ['URI:DIR2-LIT:nbswy3dp', 'directory'],
    ['URI:NEW-KIND:whatever', 'unknown'],
    ['ro.URI:SSK-RO:abc', 'unknown'],
  ];
  for (const [text, kind] of cases) {
    const parsed = parseAnyCap(` ${text}\n`);
    assert.equal(parsed.kind, kind, text);
    if (parsed.kind === 'mutable-file') assert.equal(formatMutableCap(parsed.cap), text);
    if (parsed.kind === 'directory') assert.equal(formatDirectoryCap(parsed.cap), text);
    if (parsed.kind === 'unknown') assert.equal(parsed.text, text);
  }
  assert.throws(() => parseAnyCap(`URI:SSK:${wk}`), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.throws(() => parseAnyCap(`URI:DIR2-MDMF:${wk}:${fp.slice(1)}`), (e: unknown) => isTahoeError(e, 'CapInvalid'));
});

test('parseAnyCap fuzz: mutated caps and random strings are sorted or CapInvalid, never a crash', () => {
  const seeds = [CHK, `URI:SSK:${wk}:${fp}`, `URI:DIR2-MDMF:${wk}:${fp}`, 'URI:DIR2-LIT:nbswy3dp', `URI:MDMF:${wk}:${fp}:a:b`];
  const alphabet = 'URI:SKDMFCHLT-ROVerifi2abcdefghijklmnopqrstuvwxyz234567:.\u00e9\0 ';
  for (let i = 0; i < 4000; i++) {
    let text: string;
    if (i % 4 === 0) {
      text = Array.from({ length: Math.floor(Math.random() * 90) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    } else {
      const chars = [...seeds[i % seeds.length]];
      for (let m = 0; m < 1 + (i % 3); m++) {
        const at = Math.floor(Math.random() * chars.length);
        const op = Math.floor(Math.random() * 3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[Math.floor(Math.random() * alphabet.length)]);
        else chars[at] = alphabet[Math.floor(Math.random() * alphabet.length)];
      }
      text = chars.join('');
    }
    try {
      const parsed = parseAnyCap(text);
      assert.ok(['immutable-file', 'mutable-file', 'directory', 'unknown'].includes(parsed.kind));
    } catch (e) {
      assert.ok(isTahoeError(e, 'CapInvalid'), `${JSON.stringify(text)}: ${String(e)}`);
    }
  }
});
