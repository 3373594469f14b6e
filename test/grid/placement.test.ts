import { test } from 'node:test';
import assert from 'node:assert/strict';
import { happinessOf, maximumMatching, placeShares, type PlacementServer } from '../../src/grid/placement.js';

const server = (id: string, shares: number[] = [], writable = true): PlacementServer => ({ id, writable, existingShares: new Set(shares) });
const distinctServers = (m: ReadonlyMap<number, string>) => new Set(m.values()).size;

test('happiness is the maximum matching, not the number of servers holding shares', () => {
  // three servers all holding only share 0 => happiness 1
  assert.equal(happinessOf(new Map([['a', new Set([0])], ['b', new Set([0])], ['c', new Set([0])]])), 1);
  // a needs augmenting path: a:{0,1} b:{0} => 2
  assert.equal(happinessOf(new Map([['a', new Set([0, 1])], ['b', new Set([0])]])), 2);
  assert.equal(maximumMatching(new Map()).size, 0);
});

test('fresh grid: 10 servers, 10 shares -> one share each, happiness 10', () => {
  const servers = [...Array(10).keys()].map((i) => server(`s${i}`));
  const p = placeShares(servers, 10);
  assert.equal(p.uploads.size, 10);
  assert.equal(distinctServers(p.uploads), 10);
  assert.equal(p.happiness, 10);
  // permuted order respected: share 0 goes to the first server
  assert.equal(p.uploads.get(0), 's0');
});

test('fewer servers than shares: all shares placed, spread evenly, happiness = servers', () => {
  const servers = [...Array(4).keys()].map((i) => server(`s${i}`));
  const p = placeShares(servers, 10);
  assert.equal(p.uploads.size, 10);
  const counts = new Map<string, number>();
  for (const id of p.uploads.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
  assert.deepEqual([...counts.values()].sort(), [2, 2, 3, 3]);
  assert.equal(p.happiness, 4);
});

test('existing shares on read-only servers are reused, not re-uploaded', () => {
  const servers = [server('ro', [3], false), server('a'), server('b'), server('c')];
  const p = placeShares(servers, 4);
  assert.equal(p.reused.get(3), 'ro');
  assert.ok(!p.uploads.has(3));
  assert.equal(p.uploads.size, 3);
  assert.ok(![...p.uploads.values()].includes('ro'));
  assert.equal(p.happiness, 4);
});

test('a writable server holding several shares keeps one in the matching, the others move', () => {
  const servers = [server('a', [0, 1, 2]), server('b'), server('c')];
  const p = placeShares(servers, 3);
  assert.equal(p.happiness, 3);
  assert.equal(p.reused.size, 1);
  assert.equal(p.uploads.size, 2);
});

test('no writable servers: nothing to upload, happiness from existing shares only', () => {
  const servers = [server('a', [0], false), server('b', [0], false)];
  const p = placeShares(servers, 3);
  assert.equal(p.uploads.size, 0);
  assert.equal(p.happiness, 1);
});

test('random cases: happiness never exceeds min(servers, shares) and every share is placed when a server is writable', () => {
  let seed = 42;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let round = 0; round < 300; round++) {
    const total = 1 + rnd(12);
    const servers = [...Array(1 + rnd(15)).keys()].map((i) =>
      server(`s${i}`, [...Array(rnd(3)).keys()].map(() => rnd(total + 2)), rnd(4) !== 0));
    const p = placeShares(servers, total);
    assert.ok(p.happiness <= Math.min(servers.length, total));
    const placed = new Set([...p.uploads.keys(), ...p.reused.keys()]);
    const anyWritable = servers.some((s) => s.writable);
    if (anyWritable) for (let n = 0; n < total; n++) assert.ok(placed.has(n) || servers.some((s) => s.existingShares.has(n)), `share ${n} unplaced`);
    for (const id of p.uploads.values()) assert.ok(servers.find((s) => s.id === id)?.writable, 'uploaded to a read-only server');
  }
});
