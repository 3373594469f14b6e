import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EXP, LOG, MUL_TABLE, NIBBLE_TABLES, gfDiv, gfInv, gfMul } from '../../src/codec/gf256.js';
import { evaluationPoint, interpolationMatrix } from '../../src/codec/matrix.js';
import { availableKernels, createCodec } from '../../src/codec/index.js';
import { isTahoeError } from '../../src/errors.js';

/** Schoolbook multiplication of polynomials over GF(2), reduced mod 0x11D: the definition. */
function slowMul(a: number, b: number): number {
  let product = 0;
  for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) product ^= a << bit;
  for (let bit = 14; bit >= 8; bit--) if (product & (1 << bit)) product ^= 0x11d << (bit - 8);
  return product;
}

/** Gauss–Jordan inverse of a square matrix over GF(2^8) (test reference only). */
function invert(matrix: number[][]): number[][] {
  const size = matrix.length;
  const m = matrix.map((row, i) => [...row, ...Array.from({ length: size }, (_, j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < size; col++) {
    const pivot = m.findIndex((row, r) => r >= col && row[col] !== 0);
    assert.ok(pivot >= 0, 'singular matrix');
    [m[col], m[pivot]] = [m[pivot], m[col]];
    const scale = gfInv(m[col][col]);
    m[col] = m[col].map((v) => gfMul(v, scale));
    for (let r = 0; r < size; r++) {
      if (r === col || m[r][col] === 0) continue;
      const factor = m[r][col];
      m[r] = m[r].map((v, c) => v ^ gfMul(factor, m[col][c]));
    }
  }
  return m.map((row) => row.slice(size));
}

function power(x: number, e: number): number {
  let out = 1;
  for (let i = 0; i < e; i++) out = gfMul(out, x);
  return out; // 0^0 = 1
}

/** G = V·T⁻¹ literally, as tahoe-formats.md §3.5 defines it. */
function literalGenerator(k: number, n: number): number[][] {
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: k }, (_, j) => power(evaluationPoint(i), j)));
  const tInverse = invert(v.slice(0, k));
  return v.map((row) => Array.from({ length: k }, (_, j) => row.reduce((acc, value, m) => acc ^ gfMul(value, tInverse[m][j]), 0)));
}

function randomPieces(k: number, length: number): Uint8Array[] {
  return Array.from({ length: k }, () => new Uint8Array(randomBytes(length)));
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test('GF(2^8) tables agree with polynomial multiplication mod 0x11D', () => {
  assert.equal(new Set(EXP.subarray(0, 255)).size, 255, 'α = 2 must generate all 255 non-zero bytes');
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      const expected = slowMul(a, b);
      assert.equal(gfMul(a, b), expected);
      assert.equal(MUL_TABLE[(a << 8) | b], expected);
    }
    if (a > 0) {
      assert.equal(gfMul(a, gfInv(a)), 1);
      assert.equal(gfDiv(gfMul(a, 0x53), 0x53), a);
      assert.equal(EXP[LOG[a]], a);
    }
    for (let x = 0; x < 256; x++) {
      assert.equal(NIBBLE_TABLES[a * 32 + (x & 15)] ^ NIBBLE_TABLES[a * 32 + 16 + (x >> 4)], slowMul(a, x));
    }
  }
  assert.throws(() => gfInv(0), (e: unknown) => isTahoeError(e, 'Internal'));
});

test('interpolation matrices equal the literal generator V·T⁻¹', () => {
  for (const [k, n] of [[1, 1], [1, 5], [2, 3], [3, 10], [4, 4], [25, 100], [7, 256], [120, 256], [255, 256]]) {
    const g = literalGenerator(k, n);
    const data = Array.from({ length: k }, (_, i) => i);
    const all = Array.from({ length: n }, (_, i) => i);
    const ours = interpolationMatrix(data, all);
    for (let i = 0; i < n; i++) {
      assert.deepEqual([...ours.subarray(i * k, (i + 1) * k)], g[i], `row ${i} of G for ${k}/${n}`);
    }
  }
});

test('decoding matrices invert the chosen rows of G', () => {
  for (const [k, n] of [[3, 10], [5, 9], [16, 40]]) {
    const g = literalGenerator(k, n);
    for (let trial = 0; trial < 5; trial++) {
      const chosen = shuffled(Array.from({ length: n }, (_, i) => i)).slice(0, k);
      const expected = invert(chosen.map((s) => g[s]));
      const ours = interpolationMatrix(chosen, Array.from({ length: k }, (_, i) => i));
      for (let j = 0; j < k; j++) assert.deepEqual([...ours.subarray(j * k, (j + 1) * k)], expected[j]);
    }
  }
});

for (const kernel of availableKernels()) {
  test(`round trip through random share subsets (${kernel} kernel)`, () => {
    const cases: Array<[number, number]> = [[1, 1], [1, 7], [3, 10], [10, 10], [25, 100], [255, 256], [256, 256], [17, 200]];
    for (let i = 0; i < 30; i++) {
      const n = 1 + Math.floor(Math.random() * 256);
      cases.push([1 + Math.floor(Math.random() * n), n]);
    }
    for (const [k, n] of cases) {
      const codec = createCodec(k, n, { kernel });
      assert.equal(codec.kernel, kernel);
      for (const length of [0, 1, 15, 16, 17, 63, 64, 65, 1000]) {
        if (k * n * length > 3_000_000) continue;
        const pieces = randomPieces(k, length);
        const blocks = codec.encode(pieces);
        assert.equal(blocks.length, n);
        for (let i = 0; i < k; i++) assert.equal(blocks[i], pieces[i], 'systematic: block i < k is piece i itself');
        for (const b of blocks) assert.equal(b.length, length);
        const chosen = shuffled(Array.from({ length: n }, (_, i) => i)).slice(0, k);
        const decoded = codec.decode(new Map(chosen.map((s) => [s, blocks[s]])));
        assert.deepEqual(decoded.map((d) => Buffer.from(d).toString('hex')), pieces.map((p) => Buffer.from(p).toString('hex')), `${k}/${n} len ${length} from ${chosen.join(',')}`);
        // encode with an explicit share list returns exactly those blocks
        const some = shuffled(Array.from({ length: n }, (_, i) => i)).slice(0, Math.min(n, 5));
        const subset = codec.encode(pieces, some);
        some.forEach((s, i) => assert.deepEqual(subset[i], blocks[s]));
      }
    }
  });
}

test('more than k blocks: decode uses k of them and still agrees', () => {
  const codec = createCodec(3, 10);
  const pieces = randomPieces(3, 100);
  const blocks = codec.encode(pieces);
  const decoded = codec.decode(new Map(blocks.map((b, i) => [i, b] as [number, Uint8Array]).slice(2)));
  assert.deepEqual(decoded, pieces);
});

test('k = 1 replicates the segment into every share', () => {
  const piece = new Uint8Array(randomBytes(33));
  for (const block of createCodec(1, 9).encode([piece])) assert.deepEqual(block, piece);
});

function assertBadInput(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTahoeError(e, 'BadInput'), `expected BadInput, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.ok(e.hint.length > 10, 'needs a specific hint');
    return true;
  });
}

test('invalid parameters and inputs are BadInput with a hint', () => {
  for (const [k, n] of [[0, 1], [2, 1], [1, 257], [257, 257], [1.5, 3], [Number.NaN, 3], [-1, 3], [3, Infinity]]) {
    assertBadInput(() => createCodec(k, n), /invalid erasure-coding parameters/);
  }
  const codec = createCodec(3, 10);
  const pieces = randomPieces(3, 8);
  assertBadInput(() => codec.encode(pieces.slice(0, 2)), /exactly k=3 pieces/);
  assertBadInput(() => codec.encode([...pieces, pieces[0]]), /exactly k=3 pieces/);
  assertBadInput(() => codec.encode([pieces[0], pieces[1], new Uint8Array(7)]), /unequal lengths/);
  assertBadInput(() => codec.encode([pieces[0], pieces[1], 'abc' as unknown as Uint8Array]), /Uint8Array/);
  assertBadInput(() => codec.encode(pieces, [0, 10]), /out of range/);
  assertBadInput(() => codec.encode(pieces, [-1]), /out of range/);
  assertBadInput(() => codec.encode(pieces, [1.5]), /out of range/);
  assertBadInput(() => codec.encode(pieces, [4, 4]), /twice/);
  const blocks = codec.encode(pieces);
  assertBadInput(() => codec.decode(new Map([[0, blocks[0]], [5, blocks[5]]])), /needs k=3 distinct shares, got 2/);
  assertBadInput(() => codec.decode(new Map([[0, blocks[0]], [5, blocks[5]], [10, blocks[1]]])), /out of range/);
  assertBadInput(() => codec.decode(new Map([[0, blocks[0]], [5, blocks[5]], [6, blocks[6].subarray(1)]])), /unequal lengths/);
  assertBadInput(() => codec.decode([[0, blocks[0]]] as unknown as Map<number, Uint8Array>), /Map/);
});

test('fuzz: random arguments never crash, only BadInput', () => {
  const values: unknown[] = [0, 1, 2, 3, 255, 256, 257, -1, 0.5, NaN, '3', null, undefined, {}, [], [0, 1], new Uint8Array(4), new Uint8Array(5)];
  const pick = (): unknown => values[Math.floor(Math.random() * values.length)];
  const randomArray = (): unknown[] => Array.from({ length: Math.floor(Math.random() * 5) }, () => (Math.random() < 0.7 ? new Uint8Array(Math.floor(Math.random() * 3)) : pick()));
  const expectOnlyBadInput = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      assert.ok(isTahoeError(e, 'BadInput'), `unexpected ${String(e)}`);
    }
  };
  for (let i = 0; i < 3000; i++) {
    expectOnlyBadInput(() => createCodec(pick() as number, pick() as number));
    const codec = createCodec(1 + (i % 4), 4 + (i % 3));
    expectOnlyBadInput(() => codec.encode(randomArray() as Uint8Array[], Math.random() < 0.5 ? undefined : (randomArray() as number[])));
    const map = new Map<unknown, unknown>();
    for (let j = Math.floor(Math.random() * 6); j > 0; j--) map.set(Math.random() < 0.8 ? Math.floor(Math.random() * 8) : pick(), Math.random() < 0.8 ? new Uint8Array(2 + (Math.random() < 0.1 ? 1 : 0)) : pick());
    expectOnlyBadInput(() => codec.decode(map as Map<number, Uint8Array>));
  }
});
