/**
 * Directories on real storage servers on 127.0.0.1: mkdir -p, links with Tahoe's
 * metadata, rename, move, delete, paths, read-only views, MDMF directories, immutable
 * DIR2-LIT / DIR2-CHK directories, and a tree that survives restarting every server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTahoeError } from '../../../src/errors.js';
import { bytesSource } from '../../../src/immutable/source.js';
import { pyJsonDumps, pyObject } from '../../../src/dirnode/pyjson.js';
import { directoryVerifyCapOf, formatDirectoryCap, parseDirectoryCap } from '../../../src/dirnode/caps.js';
import { formatMutableCap } from '../../../src/mutable/caps.js';
import { MAX_DIRECTORY_BYTES, createDirectoryGridClient, immutableStoreOf, type DirectoryGridClient, type ImmutableStore } from '../../../src/grid/mutable/directory.js';
import type { MutableGridClient } from '../../../src/grid/mutable/client.js';
import { startGrid } from '../fixture.js';
import { mutableClient } from './helpers.js';

const LIT = 'URI:LIT:nbswy3dpeb3w64tmmq';

/** Everything a directory tree holds, recursively: entries, metadata, and the raw bytes of each directory. */
async function snapshot(dirs: DirectoryGridClient, files: MutableGridClient, cap: string, path = '/'): Promise<string[]> {
  const listing = await dirs.listDirectory(cap);
  const parsed = parseDirectoryCap(cap);
  const lines: string[] = [];
  if (parsed.kind === 'mutable-directory') {
    lines.push(`${path} bytes=${(await files.readMutableFile(formatMutableCap(parsed.file))).data.toString('hex')}`);
  }
  for (const child of listing.children) {
    lines.push(`${path}${child.name} ${child.kind} rw=${child.writeCap ?? '-'} ro=${child.readCap ?? '-'} md=${pyJsonDumps(child.metadata)}`);
    if (child.kind === 'directory') lines.push(...await snapshot(dirs, files, child.writeCap ?? child.readCap ?? '', `${path}${child.name}/`));
  }
  return lines;
}

test('directories on a 10-server grid', async (t) => {
  const grid = await startGrid(t, { servers: 10 });
  let clock = 1_700_000_000.25;
  const client = await mutableClient(t, grid, { immutable: true, dirs: { now: () => clock } });
  const { dirs, files } = client;
  const immutableGrid = await grid.client();
  const root = await dirs.createDirectory();
  assert.match(root.cap, /^URI:DIR2:[a-z2-7]{26}:[a-z2-7]{52}$/);
  assert.match(root.readCap, /^URI:DIR2-RO:/);

  await t.test('mkdir -p, links with metadata, rename, move, delete, paths', async () => {
    const c = await dirs.mkdirp(root.cap, 'a/b/c');
    assert.match(c, /^URI:DIR2:/);
    assert.equal((await dirs.resolvePath(root.cap, 'a/b/c')).cap, c);
    assert.equal(await dirs.mkdirp(root.cap, '/a//b/c/'), c, 'mkdir -p of an existing path changes nothing');
    assert.deepEqual((await dirs.listDirectory(root.cap)).children.map((x) => [x.name, x.kind, x.mutable]), [['a', 'directory', true]]);

    const notes = await files.createMutableFile(Buffer.from('mutable notes'));
    const photo = await immutableGrid.uploadImmutable(bytesSource(randomBytes(5000)), 5000);
    await dirs.setChild(c, 'notes.txt', { writeCap: notes.cap });
    clock += 1;
    await dirs.setChild(c, 'photo.jpg', { readCap: photo.cap, metadata: pyObject([['mime', 'image/jpeg']]) });
    await dirs.setChild(c, 'tiny', { readCap: LIT });
    let listing = await dirs.listDirectory(c);
    assert.deepEqual(listing.children.map((x) => [x.name, x.kind, x.mutable, x.writeCap, x.readCap]), [
      ['notes.txt', 'file', true, notes.cap, notes.readCap],
      ['photo.jpg', 'file', false, undefined, photo.cap],
      ['tiny', 'file', false, undefined, LIT],
    ]);
    assert.equal(pyJsonDumps(listing.children[0].metadata), '{"tahoe": {"linkcrtime": 1700000000.25, "linkmotime": 1700000000.25}}');
    assert.equal(pyJsonDumps(listing.children[1].metadata), '{"mime": "image/jpeg", "tahoe": {"linkcrtime": 1700000001.25, "linkmotime": 1700000001.25}}');
    assert.ok(listing.writable && listing.mutable);

    // Replacing a link keeps linkcrtime, moves linkmotime, replaces the user metadata.
    clock += 10;
    await dirs.setChild(c, 'notes.txt', { writeCap: notes.cap, metadata: pyObject([['tag', 'v2']]) });
    listing = await dirs.listDirectory(c);
    assert.equal(pyJsonDumps(listing.children[0].metadata), '{"tag": "v2", "tahoe": {"linkcrtime": 1700000000.25, "linkmotime": 1700000011.25}}');
    await assert.rejects(dirs.setChild(c, 'notes.txt', { readCap: LIT }, { overwrite: false }), (e: unknown) => isTahoeError(e, 'BadInput') && e.details.reason === 'exists');
    await assert.rejects(dirs.setChild(root.cap, 'a', { readCap: LIT }, { overwrite: 'only-files' }), (e: unknown) => isTahoeError(e, 'BadInput') && /is a directory/.test(e.message));
    await dirs.setChild(c, 'tiny', { readCap: 'URI:LIT:mfrgg' }, { overwrite: 'only-files' });

    // Rename in place: a new link (new times), the user metadata kept.
    clock += 1;
    const renamed = await dirs.renameChild(c, 'notes.txt', 'notes-renamed.txt');
    assert.equal(pyJsonDumps(renamed.metadata), '{"tag": "v2", "tahoe": {"linkcrtime": 1700000012.25, "linkmotime": 1700000012.25}}');
    assert.deepEqual((await dirs.listDirectory(c)).children.map((x) => x.name), ['notes-renamed.txt', 'photo.jpg', 'tiny']);
    await assert.rejects(dirs.renameChild(c, 'photo.jpg', 'tiny', { overwrite: false }), (e: unknown) => isTahoeError(e, 'BadInput'));
    await assert.rejects(dirs.renameChild(c, 'missing', 'x'), (e: unknown) => isTahoeError(e, 'NotFound'));

    // Move to another directory (root), then delete.
    await dirs.moveChild(c, 'notes-renamed.txt', root.cap, 'top.txt');
    assert.deepEqual((await dirs.listDirectory(c)).children.map((x) => x.name), ['photo.jpg', 'tiny']);
    const top = await dirs.getChild(root.cap, 'top.txt');
    assert.equal(top.writeCap, notes.cap);
    assert.equal((await files.readMutableFile(top.writeCap ?? '')).data.toString(), 'mutable notes');
    const removed = await dirs.deleteChild(root.cap, 'top.txt');
    assert.equal(removed?.writeCap, notes.cap);
    await assert.rejects(dirs.deleteChild(root.cap, 'top.txt'), (e: unknown) => isTahoeError(e, 'NotFound') && e.details.name === 'top.txt');
    assert.equal(await dirs.deleteChild(root.cap, 'top.txt', { mustExist: false }), undefined);

    // Paths: through files is an error, missing names are NotFound; names are NFC.
    await assert.rejects(dirs.resolvePath(root.cap, 'a/b/c/photo.jpg/x'), (e: unknown) => isTahoeError(e, 'BadInput') && e.details.reason === 'not-a-directory');
    await assert.rejects(dirs.resolvePath(root.cap, 'a/nope/c'), (e: unknown) => isTahoeError(e, 'NotFound'));
    await assert.rejects(dirs.mkdirp(root.cap, 'a/b/c/photo.jpg/d'), (e: unknown) => isTahoeError(e, 'BadInput'));
    await dirs.setChild(c, 'cafe\u0301', { readCap: LIT });
    assert.equal((await dirs.getChild(c, 'caf\u00e9')).name, 'caf\u00e9');
    const photoAt = await dirs.resolvePath(root.cap, ['a', 'b', 'c', 'photo.jpg']);
    assert.deepEqual([photoAt.kind, photoAt.cap, photoAt.parentCap], ['file', photo.cap, c]);
    await assert.rejects(dirs.setChild(c, 'a/b', { readCap: LIT }), (e: unknown) => isTahoeError(e, 'BadInput'));
  });

  await t.test('read-only views list without write caps and refuse every change', async () => {
    const ro = root.readCap;
    const listing = await dirs.listDirectory(ro);
    assert.equal(listing.writable, false);
    assert.deepEqual(listing.children.map((x) => [x.name, x.writeCap === undefined, /^URI:DIR2-RO:/.test(x.readCap ?? '')]), [['a', true, true]]);
    const deep = await dirs.resolvePath(ro, 'a/b/c');
    assert.match(deep.cap, /^URI:DIR2-RO:/, 'a read-only path stays read-only');
    const refused = (e: unknown): boolean => isTahoeError(e, 'CapInvalid') && /write cap/.test(e.hint);
    await assert.rejects(dirs.setChild(ro, 'x', { readCap: LIT }), refused);
    await assert.rejects(dirs.deleteChild(ro, 'a'), refused);
    await assert.rejects(dirs.renameChild(ro, 'a', 'b'), refused);
    await assert.rejects(dirs.mkdir(ro, 'new'), refused);
    await assert.rejects(dirs.moveChild(root.cap, 'a', deep.cap), refused);
    await assert.rejects(dirs.mkdirp(ro, 'a/b/c/d'), refused);
    const verifier = formatDirectoryCap(directoryVerifyCapOf(parseDirectoryCap(ro)) ?? parseDirectoryCap(ro));
    assert.match(verifier, /^URI:DIR2-Verifier:/);
    await assert.rejects(dirs.listDirectory(verifier), (e: unknown) => isTahoeError(e, 'CapInvalid') && /verify cap/.test(e.message));
    assert.deepEqual((await dirs.listDirectory(root.cap)).children.map((x) => x.name), ['a'], 'nothing changed');
  });

  await t.test('MDMF directories', async () => {
    const made = await dirs.mkdir(root.cap, 'mdmf', { format: 'MDMF', children: [['inner', { readCap: LIT, metadata: pyObject([['k', 1]]) }]] });
    assert.match(made, /^URI:DIR2-MDMF:/);
    const listing = await dirs.listDirectory(made);
    assert.equal(listing.readCap.startsWith('URI:DIR2-MDMF-RO:'), true);
    assert.equal(pyJsonDumps(listing.children[0].metadata), '{"k": 1}', 'initial children keep the metadata they are given');
    await dirs.setChild(made, 'second', { readCap: LIT });
    assert.deepEqual((await dirs.listDirectory(listing.readCap)).children.map((x) => x.name), ['inner', 'second']);
    assert.equal((await dirs.getChild(root.cap, 'mdmf')).kind, 'directory');
  });

  await t.test('immutable directories: DIR2-LIT and DIR2-CHK', async () => {
    const lit = await dirs.createImmutableDirectory([['x', { readCap: LIT }]]);
    assert.match(lit.cap, /^URI:DIR2-LIT:/);
    assert.deepEqual((await dirs.listDirectory(lit.cap)).children.map((x) => [x.name, x.readCap]), [['x', LIT]]);
    const photo = await immutableGrid.uploadImmutable(bytesSource(randomBytes(3000)), 3000);
    const children = Array.from({ length: 5 }, (_, i) => [`file-${i}`, { readCap: photo.cap }] as const);
    const chk = await dirs.createImmutableDirectory([...children, ['sub', { readCap: lit.cap }]]);
    assert.match(chk.cap, /^URI:DIR2-CHK:/);
    const listing = await dirs.listDirectory(chk.cap);
    assert.deepEqual([listing.writable, listing.mutable], [false, false]);
    assert.deepEqual(listing.children.map((x) => [x.name, x.kind, x.mutable]), [...children.map(([n]) => [n, 'file', false]), ['sub', 'directory', false]]);
    assert.equal((await dirs.resolvePath(chk.cap, 'sub/x')).cap, LIT);
    await assert.rejects(dirs.setChild(chk.cap, 'y', { readCap: LIT }), (e: unknown) => isTahoeError(e, 'CapInvalid') && /immutable/.test(e.message));
    await assert.rejects(dirs.createImmutableDirectory([['m', { writeCap: root.cap }]]), (e: unknown) => isTahoeError(e, 'CapInvalid'));
    await assert.rejects(dirs.createImmutableDirectory([['m', { readCap: root.readCap }]]), (e: unknown) => isTahoeError(e, 'CapInvalid'));
    await dirs.setChild(root.cap, 'frozen', { readCap: chk.cap });
    assert.deepEqual([(await dirs.getChild(root.cap, 'frozen')).kind, (await dirs.getChild(root.cap, 'frozen')).mutable], ['directory', false]);
  });

  await t.test('an immutable directory whose cap states more than the bound is refused before any download', async () => {
    const real = immutableStoreOf(immutableGrid);
    const downloads: string[] = [];
    const counting: ImmutableStore = { upload: (data, o) => real.upload(data, o), download: (cap, o) => (downloads.push(cap), real.download(cap, o)) };
    const bounded = createDirectoryGridClient({ files, immutable: counting });
    const small = await bounded.createImmutableDirectory([['x', { readCap: LIT }], ['padding', { readCap: LIT, metadata: pyObject([['pad', 'p'.repeat(100)]]) }]]);
    assert.match(small.cap, /^URI:DIR2-CHK:/);
    assert.deepEqual((await bounded.listDirectory(small.cap)).children.map((x) => x.name), ['padding', 'x']);
    assert.equal(downloads.length, 1);
    // The same directory's cap with a size just over the bound (a forged or huge cap).
    const fields = small.cap.split(':');
    fields[fields.length - 1] = String(MAX_DIRECTORY_BYTES + 1);
    const huge = fields.join(':');
    for (const attempt of [() => bounded.listDirectory(huge), () => bounded.getChild(huge, 'x'), () => bounded.resolvePath(huge, 'x')]) {
      await assert.rejects(attempt(), (e: unknown) => isTahoeError(e, 'BadInput') && e.details.reason === 'too-large'
        && e.details.size === MAX_DIRECTORY_BYTES + 1 && /more than the \d+ tahoe-ts reads into memory/.test(e.message) && /smaller directories/.test(e.hint));
    }
    assert.equal(downloads.length, 1, 'nothing was downloaded for the oversized cap');
  });

  await t.test('the tree survives restarting every storage server and reads back identically', async () => {
    const before = await snapshot(dirs, files, root.cap);
    assert.ok(before.length > 10, before.join('\n'));
    for (const node of grid.nodes) await node.kill();
    for (const node of grid.nodes) await node.restart();
    // Another node reads it, and so does this client once it has reconnected.
    const other = await mutableClient(t, grid, { immutable: true });
    assert.deepEqual(await snapshot(other.dirs, other.files, root.cap), before);
    await client.broker.waitForServers(10, { timeoutMs: 20_000 });
    assert.deepEqual(await snapshot(dirs, files, root.cap), before);
    // And it can still be changed.
    await dirs.setChild(root.cap, 'after-restart', { readCap: LIT });
    assert.deepEqual((await other.dirs.listDirectory(root.readCap)).children.map((x) => x.name), ['a', 'after-restart', 'frozen', 'mdmf']);
  });
});
