import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeCbor, encodeCbor } from '../../src/storage/cbor.js';
import {
  MAX_MUTABLE_SHARE_SIZE,
  buildAllocateRequest,
  buildAllocateResponse,
  buildReadTestWriteRequest,
  buildReadTestWriteResponse,
  buildVersionResponse,
  buildWriteResponse,
  parseAllocateRequest,
  parseAllocateResponse,
  parseCorruptRequest,
  parseReadTestWriteRequest,
  parseReadTestWriteResponse,
  parseShareSet,
  parseVersionResponse,
  parseWriteResponse,
} from '../../src/storage/messages.js';
import { isTahoeError } from '../../src/errors.js';

// Encodings produced by Python cbor2 5.4 (what Tahoe-LAFS 1.20 uses), for interop.
const PY = {
  alloc: 'a26d73686172652d6e756d62657273d901028200036e616c6c6f63617465642d73697a651864',
  allocresp: 'a26c616c72656164792d68617665d901028069616c6c6f6361746564d90102820003',
  version:
    'a2582f687474703a2f2f616c6c6d79646174612e6f72672f7461686f652f70726f746f636f6c732f73746f726167652f7631a3581c6d6178696d756d2d696d6d757461626c652d73686172652d73697a651903e8581a6d6178696d756d2d6d757461626c652d73686172652d73697a651b00f582a1a13410004f617661696c61626c652d73706163651903e8536170706c69636174696f6e2d76657273696f6e517461686f652d6c6166732f312e32302e30',
  rtw: 'a272746573742d77726974652d766563746f7273a103a3647465737481a3666f6666736574006473697a65026873706563696d656e42616265777269746581a2666f66667365740064646174614278796a6e65772d6c656e677468f66b726561642d766563746f7281a2666f6666736574006473697a650a',
  rtwresp: 'a26773756363657373f56464617461a2008143616263038140',
  required: 'a168726571756972656481a265626567696e183263656e641864',
};
const hex = (h: string) => Buffer.from(h, 'hex');

test('parses what Python cbor2 (Tahoe 1.20) sends', () => {
  assert.deepEqual(parseAllocateRequest(hex(PY.alloc)), { shareNumbers: [0, 3], allocatedSize: 100 });
  assert.deepEqual(parseAllocateResponse(hex(PY.allocresp)), { alreadyHave: [], allocated: [0, 3] });
  const v = parseVersionResponse(hex(PY.version));
  assert.equal(v.maximumMutableShareSize, MAX_MUTABLE_SHARE_SIZE);
  assert.equal(v.availableSpace, 1000n);
  assert.equal(v.applicationVersion, 'tahoe-lafs/1.20.0');
  const rtw = parseReadTestWriteRequest(hex(PY.rtw));
  assert.deepEqual([...rtw.testWriteVectors.keys()], [3]);
  const sh3 = rtw.testWriteVectors.get(3);
  assert.equal(sh3?.newLength, null);
  assert.deepEqual(Buffer.from(sh3?.test[0].specimen ?? []).toString(), 'ab');
  assert.deepEqual(rtw.readVector, [{ offset: 0, size: 10 }]);
  const resp = parseReadTestWriteResponse(hex(PY.rtwresp));
  assert.equal(resp.success, true);
  assert.deepEqual([...resp.data.keys()], [0, 3]);
  assert.deepEqual(parseWriteResponse(hex(PY.required)), [{ begin: 50, end: 100 }]);
});

test('our encodings carry tag 258 sets, byte-string version keys, integer data keys and bigints', () => {
  const alloc = buildAllocateRequest({ shareNumbers: [3, 0], allocatedSize: 100 });
  assert.ok(alloc.includes(hex('d90102820003'))); // 258([0, 3])
  assert.deepEqual(parseAllocateRequest(alloc), { shareNumbers: [0, 3], allocatedSize: 100 });
  const resp = buildAllocateResponse({ alreadyHave: [], allocated: [0, 3] });
  assert.ok(resp.includes(hex('d9010280'))); // 258([])
  const version = buildVersionResponse({ maximumImmutableShareSize: 1000n, maximumMutableShareSize: MAX_MUTABLE_SHARE_SIZE, availableSpace: 1000n, applicationVersion: 'tahoe-ts/0.1.0' });
  assert.ok(version.includes(hex('1b00f582a1a1341000'))); // 69105e12 as a 64-bit uint
  const top = decodeCbor(version) as Map<unknown, unknown>;
  for (const k of top.keys()) assert.ok(k instanceof Uint8Array, 'version keys are byte strings');
  assert.equal(parseVersionResponse(version).maximumMutableShareSize, MAX_MUTABLE_SHARE_SIZE);
  const rtwResp = buildReadTestWriteResponse({ success: true, data: new Map([[3, [new Uint8Array(0)]], [0, [Buffer.from('abc')]]]) });
  assert.deepEqual(parseReadTestWriteResponse(rtwResp), parseReadTestWriteResponse(hex(PY.rtwresp)));
  assert.ok(rtwResp.includes(hex('a2008143616263038140'))); // {0: [h'abc'], 3: [h'']}: integer keys
  assert.deepEqual(parseWriteResponse(buildWriteResponse([{ begin: 50, end: 100 }])), parseWriteResponse(hex(PY.required)));
  const rtw = buildReadTestWriteRequest({
    testWriteVectors: new Map([[3, { test: [{ offset: 0, size: 2, specimen: Buffer.from('ab') }], write: [{ offset: 0, data: Buffer.from('xy') }], newLength: null }]]),
    readVector: [{ offset: 0, size: 10 }],
  });
  assert.deepEqual(parseReadTestWriteRequest(rtw), parseReadTestWriteRequest(hex(PY.rtw)));
  assert.deepEqual(parseShareSet(encodeCbor(new Set([5, 1]))), [1, 5]);
});

test('schema violations are BadInput: open maps, plain arrays for sets, wrong types, limits', () => {
  const cases: Array<[string, () => unknown]> = [
    ['extra key', () => parseAllocateRequest(encodeCbor({ 'share-numbers': new Set([1]), 'allocated-size': 1, extra: 1 }))],
    ['missing key', () => parseAllocateRequest(encodeCbor({ 'share-numbers': new Set([1]) }))],
    ['array not set', () => parseAllocateRequest(encodeCbor({ 'share-numbers': [1], 'allocated-size': 1 }))],
    ['negative', () => parseAllocateRequest(encodeCbor({ 'share-numbers': new Set([1]), 'allocated-size': -1 }))],
    ['float', () => parseAllocateRequest(encodeCbor({ 'share-numbers': new Set([1]), 'allocated-size': 1.5 }))],
    ['257 shares', () => parseAllocateRequest(encodeCbor({ 'share-numbers': new Set(Array.from({ length: 257 }, (_, i) => i)), 'allocated-size': 1 }))],
    ['empty reason', () => parseCorruptRequest(encodeCbor({ reason: '' }))],
    ['long reason', () => parseCorruptRequest(encodeCbor({ reason: 'x'.repeat(32_766) }))],
    ['bytes reason', () => parseCorruptRequest(encodeCbor({ reason: Buffer.from('x') }))],
    ['31 tests', () => parseReadTestWriteRequest(encodeCbor({ 'test-write-vectors': new Map([[0, { test: Array.from({ length: 31 }, () => ({ offset: 0, size: 0, specimen: new Uint8Array(0) })), write: [], 'new-length': null }]]), 'read-vector': [] }))],
    ['text share key', () => parseReadTestWriteRequest(encodeCbor({ 'test-write-vectors': { '0': { test: [], write: [], 'new-length': null } }, 'read-vector': [] }))],
    ['huge offset', () => parseReadTestWriteRequest(encodeCbor({ 'test-write-vectors': new Map(), 'read-vector': [{ offset: 2n ** 60n, size: 1 }] }))],
    ['duplicate set element', () => parseAllocateRequest(hex('a26d73686172652d6e756d62657273d901028200006e616c6c6f63617465642d73697a651864'))],
    ['unknown tag', () => parseAllocateRequest(hex('d9fffff6'))],
    ['trailing bytes', () => parseAllocateRequest(Buffer.concat([hex(PY.alloc), Buffer.from([0])]))],
    ['truncated', () => parseAllocateRequest(hex(PY.alloc).subarray(0, 20))],
  ];
  for (const [name, fn] of cases) {
    assert.throws(fn, (e: unknown) => isTahoeError(e, 'BadInput') && e.hint.length > 0, name);
  }
});

test('fuzz: random and mutated bodies only ever produce BadInput', () => {
  const parsers = [parseAllocateRequest, parseCorruptRequest, parseReadTestWriteRequest, parseAllocateResponse, parseReadTestWriteResponse, parseWriteResponse, parseVersionResponse, (b: Uint8Array) => parseShareSet(b)];
  const seeds = Object.values(PY).map(hex);
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    let input: Buffer;
    if (i % 2 === 0) input = randomBytes(1 + (i % 64));
    else {
      input = Buffer.from(seeds[i % seeds.length]);
      const flips = 1 + (i % 4);
      for (let j = 0; j < flips; j++) input[Math.floor(Math.random() * input.length)] = Math.floor(Math.random() * 256);
      if (i % 7 === 0) input = input.subarray(0, Math.floor(Math.random() * input.length));
    }
    for (const parse of parsers) {
      try {
        parse(input);
      } catch (e) {
        assert.ok(isTahoeError(e, 'BadInput'), `non-TahoeError for ${input.toString('hex')}: ${String(e)}`);
        rejected++;
      }
    }
  }
  assert.ok(rejected > 5000);
});
