/**
 * Directory caps, Python-compatible metadata JSON, and directory packing checked against
 * /usr/bin/python3 (json, unicodedata, and a spec-derived packer) plus Tahoe's child-cap
 * rules (unknown caps, ro./imm. prefixes, immutable directories).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { PyFloat, pyJsonDumps, pyJsonLoads, pythonFloatRepr, pyObject } from '../../src/dirnode/pyjson.js';
import {
  classifyChild, compareCodePoints, decryptChildWriteCap, encryptChildWriteCap, literalDirectoryCap, makeChild, packDirectory,
  packImmutableDirectory, readOnlyChild, unpackDirectory, updateMetadata,
} from '../../src/dirnode/directory.js';
import {
  directoryReadCapOf, directoryVerifyCapOf, formatDirectoryCap, isWritableDirectory, parseDirectoryCap, wrapFileCap,
} from '../../src/dirnode/caps.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { mutableWriteCap, formatMutableCap, readCapOf } from '../../src/mutable/caps.js';
import { isTahoeError } from '../../src/errors.js';

const PYTHON = '/usr/bin/python3';
const ORACLE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dirnode_oracle.py');

function python(t: TestContext, input: unknown): Record<string, unknown> | undefined {
  if (!existsSync(PYTHON)) {
    if (process.env.CI === 'true') throw new Error(`${PYTHON} missing`);
    t.skip(`${PYTHON} missing`);
    return undefined;
  }
  return JSON.parse(execFileSync(PYTHON, [ORACLE], { input: JSON.stringify(input), maxBuffer: 64 << 20 }).toString()) as Record<string, unknown>;
}

const WK = Buffer.alloc(16, 7);
const FP = Buffer.alloc(32, 9);
const SSK = formatMutableCap(mutableWriteCap('SDMF', WK, FP));
const SSK_RO = formatMutableCap(readCapOf(mutableWriteCap('SDMF', WK, FP)));
const DIR2 = SSK.replace('URI:SSK:', 'URI:DIR2:');
const DIR2_RO = SSK_RO.replace('URI:SSK-RO:', 'URI:DIR2-RO:');
const MDMF = formatMutableCap(mutableWriteCap('MDMF', WK, FP));
const CHK = 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56';
const LIT = 'URI:LIT:nbswy3dp';

test('directory caps: every form parses, formats back, and diminishes', () => {
  const forms = [
    DIR2, DIR2_RO, SSK.replace('URI:SSK:', 'URI:DIR2-MDMF:'),
    'URI:DIR2-CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56',
    'URI:DIR2-CHK-Verifier:i5nhq74zw2crkop634ra4hrvzm:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56',
    'URI:DIR2-LIT:', 'URI:DIR2-LIT:nbswy3dp',
  ];
  for (const f of forms) assert.equal(formatDirectoryCap(parseDirectoryCap(f)), f);
  const rw = parseDirectoryCap(DIR2);
  assert.ok(isWritableDirectory(rw));
  assert.equal(formatDirectoryCap(directoryReadCapOf(rw)), DIR2_RO);
  const v = directoryVerifyCapOf(rw);
  assert.ok(v !== undefined);
  assert.match(formatDirectoryCap(v), /^URI:DIR2-Verifier:[a-z2-7]{26}:[a-z2-7]{52}$/);
  const mdmf = parseDirectoryCap(SSK.replace('URI:SSK:', 'URI:DIR2-MDMF:'));
  assert.match(formatDirectoryCap(directoryReadCapOf(mdmf)), /^URI:DIR2-MDMF-RO:/);
  assert.match(formatDirectoryCap(directoryVerifyCapOf(mdmf) ?? rw), /^URI:DIR2-MDMF-Verifier:/);
  const chk = parseDirectoryCap(forms[3]);
  assert.equal(formatDirectoryCap(directoryVerifyCapOf(chk) ?? chk), forms[4]);
  assert.equal(directoryVerifyCapOf(parseDirectoryCap('URI:DIR2-LIT:')), undefined);
  assert.equal(formatDirectoryCap(wrapFileCap(mutableWriteCap('MDMF', WK, FP))), SSK.replace('URI:SSK:', 'URI:DIR2-MDMF:'));
  for (const bad of [SSK, CHK, 'URI:DIR2:', 'URI:DIR2-RO:abc:def', 'hello', `${DIR2}:extra`, 'URI:DIR2-CHK:xx:yy:1:1:1']) {
    assert.throws(() => parseDirectoryCap(bad), (e: unknown) => isTahoeError(e, 'CapInvalid') && e.hint.length > 10, bad);
  }
});

test('pythonFloatRepr and pyJsonDumps match Python json.dumps, including floats of every magnitude', (t) => {
  const doubles = [0, -0, 1, 1.5, 0.1, 1e16, 1e15, 123456789.123, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308, 1700000000.123456, -2.5e-7, 1e22, 100, 12345678901234568];
  const buf = Buffer.alloc(8);
  for (let i = 0; i < 400; i++) {
    randomBytes(8).copy(buf);
    const x = buf.readDoubleBE(0);
    if (Number.isFinite(x)) doubles.push(x);
    doubles.push(Math.random() * 10 ** Math.floor(Math.random() * 40 - 20));
  }
  const hex = doubles.map((d) => { const b = Buffer.alloc(8); b.writeDoubleBE(d); return b.toString('hex'); });
  const texts = [
    '{"tahoe": {"linkcrtime": 1700000000.5, "linkmotime": 1700000001.0}}', '{"b": 1, "a": 2, "1": 3}', '{"a": 1, "a": 2, "b": 3}',
    '[1, 2.0, -0.0, 1e16, 1E-5, 12345678901234567890, -12345678901234567890]', '"caf\\u00e9 \\ud83d\\ude00 \u00e9 \u{1F600} \\u007f \u007f"',
    '{"x": [null, true, false, NaN, Infinity, -Infinity]}', '{}', '[]', ' {"a" : [ ] } ', '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001"',
    '{"a": 1,}', '[1 2]', '01', '"\u0001"', 'nul', '{"a"}', '1.', '.5', '-', '"\\x"', '[1]]', '\ufeff{}', '{"deep": ' + '['.repeat(50) + ']'.repeat(50) + '}',
  ];
  const py = python(t, { json: texts, floats: doubles.map((_, i) => `0x${hex[i]}`).map((h) => floatHexOf(h)) });
  if (py === undefined) return;
  const pyFloats = py.floats as string[];
  doubles.forEach((d, i) => assert.equal(pythonFloatRepr(d), pyFloats[i], `float ${d}`));
  (py.json as Array<string | null>).forEach((expected, i) => {
    if (expected === null) {
      assert.throws(() => pyJsonLoads(texts[i]), (e: unknown) => isTahoeError(e, 'BadInput'), texts[i]);
    } else {
      assert.equal(pyJsonDumps(pyJsonLoads(texts[i])), expected, texts[i]);
    }
  });
  assert.equal(pyJsonDumps(pyObject([['2', 1], ['1', new PyFloat(2)], ['k', 2n ** 70n]])), '{"2": 1, "1": 2.0, "k": 1180591620717411303424}');
});

/** Python's float.fromhex spelling of a big-endian IEEE double given as 16 hex digits. */
function floatHexOf(prefixed: string): string {
  const b = Buffer.from(prefixed.slice(2), 'hex');
  const x = b.readDoubleBE(0);
  if (x === 0) return Object.is(x, -0) ? '-0x0p+0' : '0x0p+0';
  const sign = b[0] >> 7 ? '-' : '';
  const exp = ((b[0] & 0x7f) << 4) | (b[1] >> 4);
  const mant = (BigInt(`0x${b.toString('hex')}`) & ((1n << 52n) - 1n)).toString(16).padStart(13, '0');
  return exp === 0 ? `${sign}0x0.${mant}p-1022` : `${sign}0x1.${mant}p${exp - 1023}`;
}

test('names sort by code point (not UTF-16 unit) and normalise to NFC like Python unicodedata', (t) => {
  assert.ok(compareCodePoints('\u{1F600}', '\uFFFD') > 0, 'astral after BMP');
  assert.ok('\u{1F600}' < '\uFFFD' === true, 'JS order differs, which is why the comparator exists');
  const names = ['e\u0301', 'é', 'A\u030A', 'Å', 'ﬁ', '\u1100\u1161\u11A8', 'x\u0323\u0307', 'ǆ', '\u{1D160}', 'plain'];
  const py = python(t, { nfc: names });
  if (py === undefined) return;
  assert.deepEqual(names.map((n) => n.normalize('NFC')), py.nfc);
});

test('packDirectory matches the Python reference byte for byte; unpack gives the children back', (t) => {
  const now = 1700000000.25;
  const md = (user?: Array<[string, number | string]>): ReturnType<typeof updateMetadata> => updateMetadata(undefined, user === undefined ? undefined : pyObject(user), now);
  const children = [
    makeChild('zeta', { writeCap: DIR2, readCap: DIR2_RO, metadata: md() }),
    makeChild('e\u0301t\u00e9 \u{1F600}', { readCap: CHK, metadata: md([['mtime', 5], ['1', 'one']]) }),
    makeChild('\uFFFD', { writeCap: MDMF, metadata: md() }),
    makeChild('lit', { readCap: LIT, metadata: new Map() }),
    makeChild('future', { writeCap: 'x-future:write:abc', readCap: 'x-future:read:abc', metadata: md() }),
  ];
  assert.equal(children[1].name, '\u00e9t\u00e9 \u{1F600}');
  assert.equal(children[4].readCap, 'ro.x-future:read:abc', 'unknown read caps get the alleged-read-only prefix');
  assert.equal(children[2].readCap, formatMutableCap(readCapOf(mutableWriteCap('MDMF', WK, FP))));
  const packed = packDirectory(children, { writekey: WK });
  const stored = children.map((c) => [c.name, c.writeCap ?? '', (c.readCap ?? '').replace(/^ro\./, ''), pyJsonDumps(c.metadata)]);
  const py = python(t, { writekey: WK.toString('base64'), children: stored });
  if (py === undefined) return;
  assert.equal(packed.toString('base64'), py.packed);
  const readOnlyPy = python(t, { writekey: null, children: stored });
  assert.equal(packDirectory(children).toString('base64'), readOnlyPy?.packed);

  const { children: back, skipped } = unpackDirectory(packed, { writekey: WK });
  assert.deepEqual(skipped, []);
  assert.deepEqual(back.map((c) => c.name), ['future', 'lit', 'zeta', '\u00e9t\u00e9 \u{1F600}', '\uFFFD']);
  const byName = new Map(back.map((c) => [c.name, c]));
  assert.equal(byName.get('zeta')?.writeCap, DIR2);
  assert.equal(byName.get('zeta')?.kind, 'directory');
  assert.equal(byName.get('future')?.writeCap, 'x-future:write:abc');
  assert.equal(byName.get('future')?.readCap, 'ro.x-future:read:abc');
  assert.equal(pyJsonDumps(byName.get('\u00e9t\u00e9 \u{1F600}')?.metadata ?? null), '{"mtime": 5, "1": "one", "tahoe": {"linkcrtime": 1700000000.25, "linkmotime": 1700000000.25}}');
  assert.ok(packDirectory(back, { writekey: WK }).equals(packed), 'repacking unchanged children is byte-identical');
  assert.ok(packDirectory(back.map((c) => ({ ...c, packed: undefined })), { writekey: WK }).equals(packed), 'also when re-encoded');
  // A read-only view sees no write caps.
  const ro = unpackDirectory(packed);
  assert.ok(ro.children.every((c) => c.writeCap === undefined || c.kind === 'unknown'));
  assert.equal(ro.children.find((c) => c.name === 'zeta')?.writeCap, undefined);
  assert.equal(readOnlyChild(byName.get('zeta') ?? children[0]).writeCap, undefined);
  assert.equal(unpackDirectory(Buffer.alloc(0)).children.length, 0);
});

test('child write caps: salt ‖ AES-CTR ‖ hmac; empty write caps are encrypted too', () => {
  const enc = encryptChildWriteCap(WK, Buffer.from(SSK));
  assert.equal(enc.length, 16 + SSK.length + 32);
  assert.equal(decryptChildWriteCap(WK, enc).toString(), SSK);
  assert.equal(encryptChildWriteCap(WK, Buffer.alloc(0)).length, 48);
  assert.equal(decryptChildWriteCap(WK, Buffer.alloc(10)).length, 0);
});

test('immutable directories: only immutable children, imm. prefixes, no write-cap data; DIR2-LIT', () => {
  const ok = [
    makeChild('a', { readCap: CHK }, { deepImmutable: true }),
    makeChild('b', { readCap: 'x-future:thing' }, { deepImmutable: true }),
    makeChild('c', { readCap: 'URI:DIR2-LIT:' }, { deepImmutable: true }),
  ];
  assert.equal(ok[1].readCap, 'imm.x-future:thing');
  for (const [rw, ro] of [[SSK, undefined], [undefined, SSK_RO], [undefined, DIR2_RO], ['x-future:w', 'x-future:r'], [undefined, 'ro.URI:SSK-RO:' + SSK_RO.slice(11)]] as const) {
    assert.throws(() => makeChild('m', { writeCap: rw, readCap: ro }, { deepImmutable: true }), (e: unknown) => isTahoeError(e, 'CapInvalid'), `${rw} ${ro}`);
  }
  const packed = packImmutableDirectory(ok);
  assert.ok(!packed.includes(Buffer.from('imm.')), 'imm. is implied by the context and stripped');
  const back = unpackDirectory(packed, { mutable: false });
  assert.deepEqual(back.children.map((c) => [c.name, c.readCap]), [['a', CHK], ['b', 'imm.x-future:thing'], ['c', 'URI:DIR2-LIT:']]);
  assert.throws(() => unpackDirectory(packDirectory(ok, { writekey: WK }), { mutable: false }), (e: unknown) => isTahoeError(e, 'IntegrityError'));
  // A mutable child smuggled into an immutable directory is skipped, like Tahoe does.
  const smuggled = packDirectory([makeChild('bad', { readCap: SSK_RO }), ok[0]]);
  const res = unpackDirectory(smuggled, { mutable: false });
  assert.deepEqual(res.children.map((c) => c.name), ['a']);
  assert.deepEqual(res.skipped.map((s) => s.name), ['bad']);
  const tiny = packImmutableDirectory([makeChild('x', { readCap: 'URI:LIT:' }, { deepImmutable: true })]);
  assert.equal(literalDirectoryCap(tiny), `URI:DIR2-LIT:${base32Encode(tiny)}`);
  assert.equal(literalDirectoryCap(packed), undefined);
});

test("unknown-cap rules follow Tahoe's UnknownNode", () => {
  assert.throws(() => classifyChild('x-future:w', undefined, false), (e: unknown) => isTahoeError(e, 'CapInvalid'), 'bare unknown single cap might be a write cap');
  assert.deepEqual(classifyChild('ro.x-future:r', undefined, false), { kind: 'unknown', mutable: undefined, readCap: 'ro.x-future:r' });
  assert.deepEqual(classifyChild('imm.x-future:r', undefined, true), { kind: 'unknown', mutable: undefined, readCap: 'imm.x-future:r' });
  assert.deepEqual(classifyChild(undefined, 'ro.x-future:r', true), { kind: 'unknown', mutable: undefined, readCap: 'imm.x-future:r' });
  assert.throws(() => classifyChild('x-future:w', 'imm.x-future:r', false), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.throws(() => classifyChild(`ro.${SSK}`, undefined, false), (e: unknown) => isTahoeError(e, 'CapInvalid'), 'write cap alleged read-only');
  assert.deepEqual(classifyChild(`ro.${SSK}`, SSK_RO, false), { kind: 'unknown', mutable: undefined, writeCap: `ro.${SSK}`, readCap: `ro.${SSK_RO}` });
  assert.deepEqual(classifyChild(undefined, `ro.${CHK}`, false), { kind: 'file', mutable: false, readCap: CHK });
  assert.equal(classifyChild(undefined, SSK.replace('URI:SSK:', 'URI:SSK-Verifier:').slice(0, 0) || 'URI:SSK-Verifier:' + SSK.slice(8), false).kind, 'unknown');
  assert.deepEqual(classifyChild(undefined, undefined, false), { kind: 'unknown', mutable: undefined });
});

test('updateMetadata keeps linkcrtime, refreshes linkmotime, keeps tahoe when user metadata is replaced', () => {
  const first = updateMetadata(undefined, undefined, 100);
  assert.equal(pyJsonDumps(first), '{"tahoe": {"linkcrtime": 100.0, "linkmotime": 100.0}}');
  const second = updateMetadata(first, pyObject([['tag', 'x'], ['tahoe', 'ignored']]), 250.5);
  assert.equal(pyJsonDumps(second), '{"tag": "x", "tahoe": {"linkcrtime": 100.0, "linkmotime": 250.5}}');
  const legacy = updateMetadata(pyObject([['ctime', new PyFloat(7)]]), undefined, 9);
  assert.equal(pyJsonDumps(legacy), '{"ctime": 7.0, "tahoe": {"linkcrtime": 7.0, "linkmotime": 9.0}}');
});

test('a child whose cap is not UTF-8 is skipped; a name that is not UTF-8 makes the directory unreadable', async () => {
  const { netstring } = await import('../../src/crypto/netstring.js');
  const entry = (name: Buffer, ro: Buffer): Buffer => netstring(Buffer.concat([netstring(name), netstring(ro), netstring(Buffer.alloc(0)), netstring('{}')]));
  const good = entry(Buffer.from('ok'), Buffer.from(CHK));
  const res = unpackDirectory(Buffer.concat([entry(Buffer.from('bad'), Buffer.from([0x55, 0xff])), good]));
  assert.deepEqual(res.children.map((c) => c.name), ['ok']);
  assert.deepEqual(res.skipped.map((s) => s.name), ['bad']);
  assert.throws(() => unpackDirectory(Buffer.concat([entry(Buffer.from([0xc3]), Buffer.from(CHK)), good])), (e: unknown) => isTahoeError(e, 'IntegrityError'));
  assert.throws(() => unpackDirectory(Buffer.concat([good, Buffer.from('3:abc')])), (e: unknown) => isTahoeError(e, 'IntegrityError'));
  const badJson = netstring(Buffer.concat([netstring('x'), netstring(CHK), netstring(''), netstring('[1]')]));
  assert.throws(() => unpackDirectory(badJson), (e: unknown) => isTahoeError(e, 'IntegrityError') && /not a JSON object/.test(e.message));
});
