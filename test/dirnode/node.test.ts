/**
 * Directories end to end over their mutable files: create → shares → decode → list, with
 * write, read and verify caps; immutable directory contents and DIR2-LIT caps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMutableDirectory, immutableDirectoryContents, packForDirectory, readDirectory } from '../../src/dirnode/node.js';
import { directoryReadCapOf, directoryVerifyCapOf, parseDirectoryCap } from '../../src/dirnode/caps.js';
import { makeChild, newLinkMetadata } from '../../src/dirnode/directory.js';
import { decodeMutableShares } from '../../src/mutable/decoder.js';
import { readCapOf } from '../../src/mutable/caps.js';
import { isTahoeError } from '../../src/errors.js';

const CHK = 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56';

test('mutable directory: create, decode its file, list with write/read caps; verify caps cannot list', async () => {
  const sub = await createMutableDirectory([], { format: 'MDMF', k: 1, n: 2 });
  const children = [
    makeChild('report.txt', { readCap: CHK, metadata: newLinkMetadata(1700000000.5) }),
    makeChild('sub', { writeCap: sub.directoryCap, metadata: newLinkMetadata(1700000001.25) }),
  ];
  const dir = await createMutableDirectory(children, { k: 2, n: 3 });
  assert.match(dir.directoryCap, /^URI:DIR2:[a-z2-7]{26}:[a-z2-7]{52}$/);
  const cap = parseDirectoryCap(dir.directoryCap);
  const plaintext = (await decodeMutableShares(readCapOf(dir.cap), dir.version.shares)).plaintext;
  const listing = readDirectory(cap, plaintext);
  assert.deepEqual(listing.children.map((c) => [c.name, c.kind, c.writeCap]), [['report.txt', 'file', undefined], ['sub', 'directory', sub.directoryCap]]);
  const ro = readDirectory(directoryReadCapOf(cap), plaintext);
  assert.equal(ro.children[1].writeCap, undefined);
  assert.match(ro.children[1].readCap ?? '', /^URI:DIR2-MDMF-RO:/);
  assert.throws(() => readDirectory(directoryVerifyCapOf(cap) ?? cap, plaintext), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.throws(() => packForDirectory(directoryReadCapOf(cap), listing.children), (e: unknown) => isTahoeError(e, 'CapInvalid'));
  assert.ok(packForDirectory(cap, listing.children).equals(plaintext), 'unchanged children repack to the same bytes');
});

test('immutable directory contents: tiny ones are DIR2-LIT, and a DIR2-LIT cap lists them', () => {
  const tiny = immutableDirectoryContents([makeChild('a', { readCap: 'URI:LIT:' }, { deepImmutable: true })]);
  assert.ok(tiny.cap !== undefined);
  const cap = parseDirectoryCap(tiny.cap);
  assert.equal(cap.kind, 'immutable-directory');
  const listing = readDirectory(cap, cap.kind === 'immutable-directory' && cap.file.type === 'LIT' ? cap.file.data : Buffer.alloc(0));
  assert.deepEqual(listing.children.map((c) => [c.name, c.readCap]), [['a', 'URI:LIT:']]);
  const big = immutableDirectoryContents([makeChild('report.txt', { readCap: CHK, metadata: newLinkMetadata(1) }, { deepImmutable: true })]);
  assert.equal(big.cap, undefined);
  assert.ok(big.packed.length > 55);
});
