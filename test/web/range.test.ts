/**
 * Range decisions (src/web/range.ts): RFC 9110 §14 cases one by one, then a fuzz run —
 * any header text yields a decision whose ranges lie inside the file, never an exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { contentRange, decideRange, ifNoneMatchHits, ifRangeAllows, MAX_RANGES } from '../../src/web/range.js';

const SIZE = 1000;

const CASES: Array<[string | undefined, number, ReturnType<typeof decideRange>['kind'], Array<[number, number]>?]> = [
  [undefined, SIZE, 'full'],
  ['bytes=0-9', SIZE, 'partial', [[0, 9]]],
  ['bytes=0-0', SIZE, 'partial', [[0, 0]]],
  ['bytes=990-', SIZE, 'partial', [[990, 999]]],
  ['bytes=-10', SIZE, 'partial', [[990, 999]]],
  ['bytes=-5000', SIZE, 'partial', [[0, 999]]],
  ['bytes=500-5000', SIZE, 'partial', [[500, 999]]],
  ['bytes=999-999', SIZE, 'partial', [[999, 999]]],
  ['BYTES = 1-2', SIZE, 'partial', [[1, 2]]],
  ['bytes=0-9, 20-29', SIZE, 'partial', [[0, 9], [20, 29]]],
  ['bytes=20-29,0-9', SIZE, 'partial', [[0, 9], [20, 29]]],
  ['bytes=0-9,5-14', SIZE, 'partial', [[0, 14]]],
  ['bytes=0-9,10-19', SIZE, 'partial', [[0, 19]]],
  ['bytes=0-9,2000-3000', SIZE, 'partial', [[0, 9]]],
  ['bytes=00010-00019', SIZE, 'partial', [[10, 19]]],
  ['bytes=0-99999999999999999999999', SIZE, 'partial', [[0, 999]]],
  // ignored: another unit
  ['items=0-9', SIZE, 'full'],
  ['', SIZE, 'full'],
  // unsatisfiable or invalid
  ['bytes=1000-', SIZE, 'unsatisfiable'],
  ['bytes=1000-2000', SIZE, 'unsatisfiable'],
  ['bytes=99999999999999999999-', SIZE, 'unsatisfiable'],
  ['bytes=5-2', SIZE, 'unsatisfiable'],
  ['bytes=-0', SIZE, 'unsatisfiable'],
  ['bytes=abc', SIZE, 'unsatisfiable'],
  ['bytes=1-2-3', SIZE, 'unsatisfiable'],
  ['bytes=-', SIZE, 'unsatisfiable'],
  ['bytes=', SIZE, 'unsatisfiable'],
  ['bytes', SIZE, 'unsatisfiable'],
  ['bytes=0x10-20', SIZE, 'unsatisfiable'],
  ['bytes=+1-2', SIZE, 'unsatisfiable'],
  ['bytes=0-9,x', SIZE, 'unsatisfiable'],
  ['bytes=0-0', 0, 'unsatisfiable'],
  ['bytes=-1', 0, 'unsatisfiable'],
];

for (const [header, size, kind, ranges] of CASES) {
  test(`range: ${JSON.stringify(header)} on ${size} bytes → ${kind}`, () => {
    const d = decideRange(header, size);
    assert.equal(d.kind, kind, JSON.stringify(d));
    if (d.kind === 'partial' && ranges !== undefined) assert.deepEqual(d.ranges.map((r) => [r.start, r.end]), ranges);
    if (d.kind === 'unsatisfiable') assert.ok(d.reason.length > 10);
  });
}

test('range: too many separate ranges are refused, coalescible ones are not', () => {
  const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
  assert.equal(decideRange(`bytes=${many}`, 100_000).kind, 'unsatisfiable');
  const adjacent = Array.from({ length: 100 }, (_, i) => `${i}-${i}`).join(',');
  const d = decideRange(`bytes=${adjacent}`, 100_000);
  assert.equal(d.kind, 'partial');
  if (d.kind === 'partial') assert.deepEqual(d.ranges, [{ start: 0, end: 99 }]);
});

test('range: Content-Range, If-Range and If-None-Match', () => {
  assert.equal(contentRange({ start: 0, end: 9 }, 1000), 'bytes 0-9/1000');
  assert.equal(ifRangeAllows(undefined, '"a"'), true);
  assert.equal(ifRangeAllows('"a"', '"a"'), true);
  assert.equal(ifRangeAllows('"b"', '"a"'), false);
  assert.equal(ifRangeAllows('Wed, 21 Oct 2015 07:28:00 GMT', '"a"'), false, 'we send no Last-Modified: a date never matches');
  assert.equal(ifNoneMatchHits('"a"', '"a"'), true);
  assert.equal(ifNoneMatchHits('"x", W/"a"', '"a"'), true);
  assert.equal(ifNoneMatchHits('*', '"a"'), true);
  assert.equal(ifNoneMatchHits('"b"', '"a"'), false);
  assert.equal(ifNoneMatchHits(undefined, '"a"'), false);
});

test('range fuzz: random and mutated headers never throw and stay inside the file', () => {
  const seeds = ['bytes=0-9', 'bytes=-10', 'bytes=5-,1-2', 'bytes=10-20, 30-40', 'items=1-2'];
  const alphabet = 'bytes=-,0123456789 \t;xX';
  for (let i = 0; i < 20_000; i++) {
    let header: string;
    if (i % 3 === 0) {
      header = randomBytes(1 + (i % 40)).toString('latin1');
    } else if (i % 3 === 1) {
      header = Array.from({ length: 1 + (i % 30) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    } else {
      const s = seeds[i % seeds.length].split('');
      const pos = Math.floor(Math.random() * s.length);
      s.splice(pos, Math.floor(Math.random() * 3), alphabet[Math.floor(Math.random() * alphabet.length)]);
      header = s.join('');
    }
    const size = i % 7 === 0 ? 0 : 1 + (i % 5000);
    const d = decideRange(header, size);
    if (d.kind === 'partial') {
      assert.ok(d.ranges.length >= 1 && d.ranges.length <= MAX_RANGES);
      let prevEnd = -2;
      for (const r of d.ranges) {
        assert.ok(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end), header);
        assert.ok(r.start >= 0 && r.start <= r.end && r.end < size, `${JSON.stringify(header)} → ${JSON.stringify(d.ranges)} (size ${size})`);
        assert.ok(r.start > prevEnd + 1, 'sorted, disjoint and not adjacent');
        prevEnd = r.end;
      }
    }
  }
});
