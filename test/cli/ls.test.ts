/**
 * `tahoe-ts ls` output against Tahoe-LAFS's `tahoe ls` (src/allmydata/scripts/tahoe_ls.py):
 * the mode marks (d/-/? then r and w for the caps the entry carries, x for directories),
 * -F marks (/ directory, * writable mutable file, ? unknown cap), the link's creation time
 * ("-" without one; the year after six 30-day months), -u and --readonly-uri as columns
 * of their own, and the column layout (each as wide as its widest cell in code points,
 * right-aligned unless it holds caps or is the only column, trailing blanks cut). The
 * expected lines were produced by a Python model of those rules, not by this code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatListingTime, listingLines } from '../../src/cli/commands/ls.js';
import type { NodeJson } from '../../src/web/directory-client.js';

// Listing times are local time, as Tahoe's; the expected lines are in UTC.
process.env.TZ = 'UTC';

const NOW = Date.UTC(2026, 10, 26, 18, 0, 0) / 1000;
const DAY = 86_400;

const ENTRIES: Array<[string, NodeJson]> = [
  ['big.bin', ['filenode', { ro_uri: 'URI:CHK:aaaa:bbbb:3:10:400000', size: 400000, metadata: { tahoe: { linkcrtime: NOW - 3600, linkmotime: NOW - 60 } } }]],
  ['deep', ['dirnode', { rw_uri: 'URI:DIR2:aaaa:bbbb', ro_uri: 'URI:DIR2-RO:cccc:bbbb', metadata: { tahoe: { linkcrtime: NOW - 200 * DAY, linkmotime: NOW } } }]],
  ['future', ['unknown', { ro_uri: 'ro.x-tahoe-future:abc', metadata: {} }]],
  ['later', ['unknown', { rw_uri: 'x-tahoe-future:w', ro_uri: 'ro.x-tahoe-future:r', metadata: {} }]],
  ['notes', ['filenode', { rw_uri: 'URI:SSK:wwww:ffff', ro_uri: 'URI:SSK-RO:rrrr:ffff', metadata: { ctime: NOW - 2 * DAY } }]],
  ['ro-dir', ['dirnode', { ro_uri: 'URI:DIR2-RO:zzzz:yyyy', metadata: { tahoe: { linkcrtime: NOW - 181 * DAY } } }]],
  ['\u{1d4b3}.txt', ['filenode', { ro_uri: 'URI:LIT:nbswy3dp', size: 5, metadata: { tahoe: { linkcrtime: NOW - 179 * DAY } } }]],
];

test('ls: names alone, and -F marks', () => {
  assert.deepEqual(listingLines(ENTRIES, {}, NOW), ['big.bin', 'deep', 'future', 'later', 'notes', 'ro-dir', '\u{1d4b3}.txt']);
  assert.deepEqual(listingLines(ENTRIES, { classify: true }, NOW), ['big.bin', 'deep/', 'future?', 'later?', 'notes*', 'ro-dir/', '\u{1d4b3}.txt']);
});

test('ls -l: mode from the caps present, size, link creation time, right-aligned columns', () => {
  assert.deepEqual(listingLines(ENTRIES, { long: true }, NOW), [
    '-r-- 400000 Nov 26 17:00 big.bin',
    'drwx      - May 10  2026    deep',
    '?r--      ?            -  future',
    '?rw-      ?            -   later',
    '-rw-      ? Nov 24 18:00   notes',
    'dr-x      - May 29  2026  ro-dir',
    '-r--      5 May 31 18:00   \u{1d4b3}.txt',
  ]);
});

test('ls -l -F -u, and -u with --readonly-uri: caps in their own left-aligned columns', () => {
  assert.deepEqual(listingLines(ENTRIES, { long: true, classify: true, uri: true }, NOW), [
    '-r-- 400000 Nov 26 17:00 big.bin URI:CHK:aaaa:bbbb:3:10:400000',
    'drwx      - May 10  2026   deep/ URI:DIR2:aaaa:bbbb',
    '?r--      ?            - future? ro.x-tahoe-future:abc',
    '?rw-      ?            -  later? x-tahoe-future:w',
    '-rw-      ? Nov 24 18:00  notes* URI:SSK:wwww:ffff',
    'dr-x      - May 29  2026 ro-dir/ URI:DIR2-RO:zzzz:yyyy',
    '-r--      5 May 31 18:00   \u{1d4b3}.txt URI:LIT:nbswy3dp',
  ]);
  assert.deepEqual(listingLines(ENTRIES, { uri: true, readonlyUri: true }, NOW), [
    'big.bin URI:CHK:aaaa:bbbb:3:10:400000 URI:CHK:aaaa:bbbb:3:10:400000',
    '   deep URI:DIR2:aaaa:bbbb            URI:DIR2-RO:cccc:bbbb',
    ' future ro.x-tahoe-future:abc         ro.x-tahoe-future:abc',
    '  later x-tahoe-future:w              ro.x-tahoe-future:r',
    '  notes URI:SSK:wwww:ffff             URI:SSK-RO:rrrr:ffff',
    ' ro-dir URI:DIR2-RO:zzzz:yyyy         URI:DIR2-RO:zzzz:yyyy',
    '  \u{1d4b3}.txt URI:LIT:nbswy3dp              URI:LIT:nbswy3dp',
  ]);
  assert.deepEqual(listingLines(ENTRIES, { long: true, readonlyUri: true }, NOW).slice(0, 3), [
    '-r-- 400000 Nov 26 17:00 big.bin URI:CHK:aaaa:bbbb:3:10:400000',
    'drwx      - May 10  2026    deep URI:DIR2-RO:cccc:bbbb',
    '?r--      ?            -  future ro.x-tahoe-future:abc',
  ]);
});

test('ls: a write-only unknown cap, a cap missing for --readonly-uri, and times', () => {
  const writeOnly: Array<[string, NodeJson]> = [['w', ['unknown', { rw_uri: 'x-tahoe-future:w' }]]];
  assert.deepEqual(listingLines(writeOnly, { long: true, readonlyUri: true }, NOW), ['?-w- ? - w -']);
  assert.equal(formatListingTime(undefined, NOW), '-');
  assert.equal(formatListingTime(NOW - 180 * DAY, NOW), 'May 30 18:00', 'exactly six 30-day months: still recent');
  assert.equal(formatListingTime(NOW - 180 * DAY - 1, NOW), 'May 30  2026');
  assert.equal(formatListingTime(NOW + 365 * DAY, NOW), 'Nov 26 18:00', 'a time in the future shows its time of day, as Tahoe');
  assert.deepEqual(listingLines([], { long: true }, NOW), []);
});
