/**
 * Concurrent writers on real storage servers: two clients (each with its own broker and
 * lease secret, like two nodes) are held at a starting line right before their first
 * read-test-write, after both have mapped the same version, and then released together.
 * One must win and the other get `WriteConflict`; the file must hold exactly the
 * winner's version on every server — never a mix, never a silently lost update. With
 * read-modify-write both changes must survive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTahoeError, type TahoeError } from '../../../src/errors.js';
import { startGrid } from '../fixture.js';
import { barrier, mutableClient, type CallHook, type TestMutableClient } from './helpers.js';
import { parseDirectoryCap } from '../../../src/dirnode/caps.js';
import { packForDirectory, readDirectory } from '../../../src/dirnode/node.js';
import { formatMutableCap } from '../../../src/mutable/caps.js';
import type { TestContext } from 'node:test';
import type { TestGrid } from '../fixture.js';

/**
 * Two clients whose read-test-writes (after `arm()`) all wait until both clients have
 * reached their first one — both have mapped the file, neither has written — and then
 * go out with random delays.
 */
async function racingClients(t: TestContext, grid: TestGrid): Promise<{ a: TestMutableClient; b: TestMutableClient; arm: () => void }> {
  let startLine: ReturnType<typeof barrier> | undefined;
  const hook = (): CallHook => {
    let arrivedAt: ReturnType<typeof barrier> | undefined;
    return async (call) => {
      if (call.method !== 'readTestWrite' || startLine === undefined) return;
      const line = startLine;
      if (arrivedAt !== line) {
        arrivedAt = line;
        line.arrive();
      }
      await line.opened;
      // Jitter, so that each server sees the two writers in its own order.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
    };
  };
  const a = await mutableClient(t, grid, { hook: hook() });
  const b = await mutableClient(t, grid, { hook: hook() });
  return { a, b, arm: () => void (startLine = barrier(2)) };
}

function oneWinner<T>(results: PromiseSettledResult<T>[]): { winner: number; error: TahoeError } {
  const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  assert.equal(won.length, 1, `exactly one writer wins (${results.map((r) => r.status).join(', ')})`);
  const lost = results[1 - won[0]];
  assert.equal(lost.status, 'rejected');
  const error = (lost as PromiseRejectedResult).reason as unknown;
  assert.ok(isTahoeError(error, 'WriteConflict'), `the loser gets WriteConflict, not ${String(error)}`);
  return { winner: won[0], error };
}

test('concurrent writers: one wins, the other is told, the file is never a mix', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  const { a, b, arm } = await racingClients(t, grid);

  await t.test('two overwrites of an SDMF file (three races)', async () => {
    const created = await a.files.createMutableFile(Buffer.from('version one'));
    for (let round = 0; round < 3; round++) {
      const contents = [randomBytes(200 + round), randomBytes(300 + round)];
      arm();
      const results = await Promise.allSettled([a.files.overwriteMutableFile(created.cap, contents[0]), b.files.overwriteMutableFile(created.cap, contents[1])]);
      const { winner, error } = oneWinner(results);
      assert.match(error.hint, /read it again/i);
      assert.equal(error.details.partlyWritten, false, 'the loser wrote nothing');
      const read = await b.files.readMutableFile(created.cap);
      assert.ok(read.data.equals(contents[winner]), 'the winner\'s contents, whole');
      assert.equal(read.seqnum, round + 2);
      const map = await a.files.mapMutableFile(created.cap);
      assert.equal(map.versions.length, 1, 'one version on the servers');
      assert.equal(map.records.length, 10);
      assert.deepEqual(map.versions[0].shareNumbers, [...Array(10).keys()]);
    }
  });

  await t.test('two in-place MDMF updates of the same version', async () => {
    const base = randomBytes(2 * 131072 + 500);
    const created = await a.files.createMutableFile(base, { format: 'MDMF' });
    const patches = [Buffer.alloc(1000, 0x61), Buffer.alloc(1000, 0x62)];
    arm();
    const results = await Promise.allSettled([
      a.files.updateMutableFile(created.cap, 100, patches[0]),
      b.files.updateMutableFile(created.cap, 131072 + 100, patches[1]),
    ]);
    const { winner } = oneWinner(results);
    assert.equal((results[winner] as PromiseFulfilledResult<{ inPlace: boolean }>).value.inPlace, true);
    const expected = Buffer.from(base);
    patches[winner].copy(expected, winner === 0 ? 100 : 131072 + 100);
    assert.ok((await a.files.readMutableFile(created.cap)).data.equals(expected), 'exactly the winner\'s patch');
    const map = await b.files.mapMutableFile(created.cap);
    assert.deepEqual(map.versions.map((v) => [v.header.seqnum, v.shareNumbers.length]), [[2, 10]]);
  });

  await t.test('read-modify-write: both changes survive', async () => {
    const created = await a.files.createMutableFile(Buffer.from('log:\n'));
    arm();
    const append = (line: string) => (old: Buffer): Buffer => Buffer.concat([old, Buffer.from(`${line}\n`)]);
    const [ra, rb] = await Promise.all([a.files.modifyMutableFile(created.cap, append('from a')), b.files.modifyMutableFile(created.cap, append('from b'))]);
    assert.ok(ra.changed && rb.changed);
    assert.deepEqual([ra.attempts, rb.attempts].sort(), [1, 2], 'the loser re-read and re-applied its change once');
    const text = (await a.files.readMutableFile(created.cap)).data.toString();
    assert.ok(text === 'log:\nfrom a\nfrom b\n' || text === 'log:\nfrom b\nfrom a\n', text);
    assert.equal((await a.files.statMutableFile(created.cap)).seqnum, 3);
    // A modifier that changes nothing writes nothing.
    const same = await b.files.modifyMutableFile(created.cap, (old) => old);
    assert.equal(same.changed, false);
    assert.equal(same.seqnum, 3);
  });

  await t.test('directories: concurrent links to different names both survive', async () => {
    const root = await a.dirs.createDirectory();
    arm();
    await Promise.all([
      a.dirs.setChild(root.cap, 'from-a', { readCap: 'URI:LIT:mfrggzdfmztwq2lk' }),
      b.dirs.setChild(root.cap, 'from-b', { readCap: 'URI:LIT:mfrggzdfmztwq2ll' }),
    ]);
    const listing = await b.dirs.listDirectory(root.readCap);
    assert.deepEqual(listing.children.map((c) => c.name), ['from-a', 'from-b']);
    // A delete racing a rename of another child: both happen.
    arm();
    await Promise.all([a.dirs.deleteChild(root.cap, 'from-a'), b.dirs.renameChild(root.cap, 'from-b', 'renamed')]);
    assert.deepEqual((await a.dirs.listDirectory(root.cap)).children.map((c) => c.name), ['renamed']);
  });

  await t.test('a rename retried after the child moved away writes nothing more', async () => {
    // Another client moves "x" away while this client's first write is on its way: the
    // write conflicts, the retry finds nothing to move and must not publish the directory
    // again. That client's own writer stores the entries unsorted (as any other software
    // may), so a re-packed copy would differ from what is stored and be written.
    const other = await mutableClient(t, grid);
    let interfere: (() => Promise<void>) | undefined;
    const writes: number[] = [];
    let attempt = 0;
    const self = await mutableClient(t, grid, {
      hook: async (call) => {
        if (call.method !== 'readTestWrite') return;
        writes.push(attempt);
        const now = interfere;
        interfere = undefined;
        await now?.();
      },
    });
    const root = await self.dirs.createDirectory([['a', { readCap: 'URI:LIT:mfrggzdfmztwq2lk' }], ['x', { readCap: 'URI:LIT:mfrggzdfmztwq2ll' }], ['z', { readCap: 'URI:LIT:mfrggzdfmztwq2lm' }]]);
    writes.length = 0; // the creation's writes
    const dirCap = parseDirectoryCap(root.cap);
    assert.equal(dirCap.kind, 'mutable-directory');
    const fileCap = formatMutableCap(dirCap.file);
    interfere = async () => {
      const { children } = readDirectory(dirCap, (await other.files.readMutableFile(fileCap)).data);
      const kept = children.filter((c) => c.name !== 'x').reverse();
      await other.files.overwriteMutableFile(fileCap, Buffer.concat(kept.map((c) => packForDirectory(dirCap, [c]))));
    };
    const modify = self.files.modifyMutableFile.bind(self.files);
    self.files.modifyMutableFile = (cap, modifier, options) => modify(cap, (old, context) => {
      attempt = context.attempt;
      return modifier(old, context);
    }, options);
    const renamed = await self.dirs.renameChild(root.cap, 'x', 'y');
    assert.equal(renamed.readCap, 'URI:LIT:mfrggzdfmztwq2ll', 'the child as this client last saw it');
    assert.equal(attempt, 2, 'the first write conflicted and the change was tried again');
    assert.ok(writes.length > 0 && writes.every((a) => a === 1), `writes only on the first try (tries of the writes: ${writes.join(',')})`);
    assert.deepEqual((await other.dirs.listDirectory(root.cap)).children.map((c) => c.name).sort(), ['a', 'z']);
    assert.equal((await other.files.statMutableFile(fileCap)).seqnum, 2, 'only the other client\'s write landed');
  });
});

test('a read half-way through another writer\'s publish waits for it instead of failing', async (t) => {
  // 3-of-4: once two shares hold the new version and two the old, neither is recoverable.
  const grid = await startGrid(t, { servers: 4 });
  let held = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reachedHold!: () => void;
  const holding = new Promise<void>((resolve) => (reachedHold = resolve));
  let armed = false;
  const writer = await mutableClient(t, grid, {
    files: { encoding: { k: 3, n: 4 } },
    hook: async (call) => {
      if (!armed || call.method !== 'readTestWrite') return;
      if (++held <= 2) return; // two shares get the new version at once
      reachedHold();
      await released;
    },
  });
  const reader = await mutableClient(t, grid, { files: { encoding: { k: 3, n: 4 }, unfinishedPatienceMs: 10_000 } });
  t.after(() => release());
  const created = await writer.files.createMutableFile(Buffer.from('version one'));
  armed = true;
  const writing = writer.files.overwriteMutableFile(created.cap, Buffer.from('version two'));
  await holding;
  await new Promise((resolve) => setTimeout(resolve, 300)); // the two let through have landed
  const map = await reader.files.mapMutableFile(created.readCap, { mode: 'read' });
  assert.equal(map.best, undefined, `no version recoverable half-way (versions: ${map.versions.map((v) => `seq ${v.header.seqnum} × ${v.shareNumbers.length}`).join(', ')})`);
  const reading = reader.files.readMutableFile(created.readCap);
  setTimeout(release, 500);
  const [read] = await Promise.all([reading, writing]);
  assert.equal(read.data.toString(), 'version two');
  assert.equal(read.seqnum, 2);
});
