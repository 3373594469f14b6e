import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { chkStorageIndex, chkVerifierOf, formatCap, isImmutableCap, parseCap, parseChkCap, parseImmutableFileCap, type Cap } from '../../src/caps/caps.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { isTahoeError, TahoeError } from '../../src/errors.js';
import { vectorFile } from '../helpers/shared.js';

const EXAMPLE_CHK = 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56';

test('CHK read cap: fields, round trip, verify cap and storage index', () => {
  const cap = parseCap(EXAMPLE_CHK);
  assert.equal(cap.type, 'CHK');
  if (cap.type !== 'CHK') return;
  assert.equal(cap.key.toString('hex'), 'c66e2700c124ec49fbab9a5e186168db');
  assert.equal(cap.needed, 1);
  assert.equal(cap.total, 1);
  assert.equal(cap.size, 56);
  assert.equal(formatCap(cap), EXAMPLE_CHK);
  // tahoe-formats §3.11: SI = i5nhq74zw2crkop634ra4hrvzm
  assert.equal(base32Encode(chkStorageIndex(cap)), 'i5nhq74zw2crkop634ra4hrvzm');
  const verifier = chkVerifierOf(cap);
  const text = formatCap(verifier);
  assert.equal(text, 'URI:CHK-Verifier:i5nhq74zw2crkop634ra4hrvzm:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56');
  assert.deepEqual(parseCap(text), verifier);
  assert.ok(isImmutableCap(cap) && isImmutableCap(verifier));
});

test('LIT caps, including the empty file', () => {
  assert.deepEqual(parseCap('URI:LIT:'), { type: 'LIT', data: Buffer.alloc(0) });
  const lit = parseCap('URI:LIT:nbswy3dp');
  assert.equal(lit.type === 'LIT' && lit.data.toString(), 'hello');
  assert.equal(formatCap(lit), 'URI:LIT:nbswy3dp');
  assert.throws(() => parseCap('URI:LIT:NBSWY3DP'), (e: unknown) => isTahoeError(e, 'CapInvalid'));
});

test('every cap in test_vectors.yaml parses to its type and formats back identically', (t) => {
  const file = vectorFile(t, 'test_vectors.yaml');
  if (file === undefined) return;
  const doc = parseYaml(readFileSync(file, 'utf8')) as { vector: Array<{ expected: string; format: { kind: string; params: { format?: string } | null } }> };
  assert.equal(doc.vector.length, 360);
  const counts = new Map<string, number>();
  for (const v of doc.vector) {
    const cap = parseCap(v.expected);
    counts.set(cap.type, (counts.get(cap.type) ?? 0) + 1);
    assert.equal(formatCap(cap), v.expected);
  }
  assert.deepEqual(Object.fromEntries(counts), { CHK: 120, SSK: 120, MDMF: 120 });
});

test('directory and mutable caps are recognised but refused where an immutable file is needed', () => {
  const wk = base32Encode(randomBytes(16));
  const fp = base32Encode(randomBytes(32));
  const cases: Array<[string, Cap['type']]> = [
    [`URI:SSK:${wk}:${fp}`, 'SSK'],
    [`URI:SSK-RO:${wk}:${fp}`, 'SSK-RO'],
    [`URI:SSK-Verifier:${wk}:${fp}`, 'SSK-Verifier'],
    [`URI:MDMF:${wk}:${fp}`, 'MDMF'],
    [`URI:MDMF-RO:${wk}:${fp}:extra:7`, 'MDMF-RO'],
    [`URI:DIR2:${wk}:${fp}`, 'DIR2'],
    [`URI:DIR2-RO:${wk}:${fp}`, 'DIR2-RO'],
    [`URI:DIR2-MDMF-Verifier:${wk}:${fp}`, 'DIR2-MDMF-Verifier'],
    [EXAMPLE_CHK.replace('URI:CHK:', 'URI:DIR2-CHK:'), 'DIR2-CHK'],
    ['URI:DIR2-LIT:nbswy3dp', 'DIR2-LIT'],
  ];
  for (const [text, type] of cases) {
    const cap = parseCap(text);
    assert.equal(cap.type, type);
    assert.equal(formatCap(cap), text);
    assert.throws(() => parseImmutableFileCap(text), (e: unknown) => isTahoeError(e, 'CapInvalid') && /not supported/.test(e.message) && e.details.capType === type);
  }
  const dir = parseCap(EXAMPLE_CHK.replace('URI:CHK:', 'URI:DIR2-CHK:'));
  assert.equal(dir.type === 'DIR2-CHK' && dir.file.type, 'CHK');
});

test('unknown caps are preserved byte for byte', () => {
  for (const text of ['URI:NEWTHING:abc:def', 'ro.URI:SSK:whatever', 'imm.URI:CHK:x', 'http://example', '', 'URI:', 'URI:chk:lowercase:type']) {
    const cap = parseCap(text);
    assert.deepEqual(cap, { type: 'unknown', text });
    assert.equal(formatCap(cap), text);
    assert.throws(() => parseImmutableFileCap(text), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  }
});

test('malformed known caps get CapInvalid with a specific reason and hint', () => {
  const bad: Array<[string, RegExp]> = [
    [EXAMPLE_CHK.replace(':1:1:56', ':1:1'), /expected 5 fields/],
    [EXAMPLE_CHK.replace('yzxcoagbetwet65ltjpbqyli3m', 'yzxcoagbetwet65ltjpbqyli3'), /the key must be 26/],
    [EXAMPLE_CHK.replace('yzxcoagbetwet65ltjpbqyli3m', 'yzxcoagbetwet65ltjpbqyli3n'), /the key/], // non-canonical last char
    [EXAMPLE_CHK.replace(':1:1:56', ':0:1:56'), /impossible/],
    [EXAMPLE_CHK.replace(':1:1:56', ':3:2:56'), /impossible/],
    [EXAMPLE_CHK.replace(':1:1:56', ':1:257:56'), /impossible/],
    [EXAMPLE_CHK.replace(':1:1:56', ':1:1:-5'), /size/],
    [EXAMPLE_CHK.replace(':1:1:56', ':1:1:99999999999999999'), /size/],
    [EXAMPLE_CHK + ':', /fields/],
    [`URI:SSK:${base32Encode(randomBytes(16))}`, /2 fields/],
    [`URI:DIR2:${base32Encode(randomBytes(16))}:short`, /URI:DIR2:.*fingerprint/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseCap(text), (e: unknown) => isTahoeError(e, 'CapInvalid') && re.test(e.message) && e.hint.length > 20, text);
  }
  assert.throws(() => parseChkCap('URI:LIT:nbswy3dp'), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.throws(() => parseChkCap(formatCap(chkVerifierOf(parseChkCap(EXAMPLE_CHK)))), /verify cap/);
});

test('fuzz: random and mutated strings never crash the parser', () => {
  const seeds = [EXAMPLE_CHK, 'URI:LIT:nbswy3dp', `URI:MDMF:${base32Encode(randomBytes(16))}:${base32Encode(randomBytes(32))}`, 'URI:DIR2-CHK:' + EXAMPLE_CHK.slice(8)];
  const alphabet = 'URI:CHKLITSDMF-Verifier0123456789abcdefghijklmnopqrstuvwxyz234567:\n\u0000é';
  let parsed = 0;
  for (let i = 0; i < 20000; i++) {
    let text: string;
    if (i % 3 === 0) {
      text = Array.from({ length: Math.floor(Math.random() * 120) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
      if (i % 2 === 0) text = 'URI:CHK:' + text;
    } else {
      const chars = [...seeds[i % seeds.length]];
      for (let m = 0; m < 1 + (i % 4); m++) {
        const pos = Math.floor(Math.random() * chars.length);
        const op = Math.floor(Math.random() * 3);
        if (op === 0) chars.splice(pos, 1);
        else if (op === 1) chars.splice(pos, 0, alphabet[Math.floor(Math.random() * alphabet.length)]);
        else chars[pos] = alphabet[Math.floor(Math.random() * alphabet.length)];
      }
      text = chars.join('');
    }
    try {
      const cap = parseCap(text);
      parsed++;
      // whatever parses must format back to a string that parses to the same value
      assert.deepEqual(parseCap(formatCap(cap)), cap);
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'CapInvalid', `non-TahoeError for ${JSON.stringify(text)}: ${String(e)}`);
    }
  }
  assert.ok(parsed > 100);
});
