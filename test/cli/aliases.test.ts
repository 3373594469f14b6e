/**
 * `private/aliases` and Tahoe's path syntax (no grid needed): the file format as Tahoe
 * reads it (comments, CRLF, BOM, later lines win, root_dir.cap), every argument form of
 * docs/frontends/CLI.rst (ALIAS:PATH, PATH, DIRCAP/PATH, DIRCAP:./PATH, caps, local paths
 * for cp), the refusals with their hints, and add-alias / list-aliases as separate CLI
 * processes (permissions, duplicates, two add-alias runs at once keep both lines).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from './cli-helper.js';
import { ALIASES_FILE, addAlias, checkAliasName, parseAliases, readAliases } from '../../src/config/aliases.js';
import { resolvePath } from '../../src/cli/aliases.js';
import { TahoeError } from '../../src/errors.js';

const DIRCAP = 'URI:DIR2:djrdkfawoqihigoett4g6auz6a:jx5mplfpwexnoqff7y5e4zjus4lidm76dcuarpct7cckorh2dpgq';
const DIRCAP_RO = 'URI:DIR2-RO:ovjy4yhylqlfoqg2vcze36dhde:jx5mplfpwexnoqff7y5e4zjus4lidm76dcuarpct7cckorh2dpgq';
const OTHER = 'URI:DIR2-MDMF:ovjy4yhylqlfoqg2vcze36dhde:4d4f47qko2xm5g7osgo2yyidi5m4muyo2vjjy53q4vjju2u55mfa';

function expectError(fn: () => unknown, kind: string, pattern: RegExp): TahoeError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TahoeError, `a TahoeError, not ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.match(`${e.message}\n${e.hint}`, pattern);
    return e;
  }
  assert.fail('expected an error');
}

test('private/aliases: Tahoe\'s format', () => {
  const text = `\uFEFF# my aliases\r\ntahoe: ${DIRCAP}\r\n\r\n  work :  ${OTHER}  \nfun:${DIRCAP_RO}\ntahoe: ${OTHER}\n`;
  const aliases = parseAliases(text);
  assert.deepEqual([...aliases.keys()], ['tahoe', 'work', 'fun']);
  assert.equal(aliases.get('tahoe')?.cap, OTHER, 'a later line wins, as in a Python dict');
  assert.equal(aliases.get('tahoe')?.line, 6);
  assert.equal(aliases.get('work')?.cap, OTHER);
  assert.equal(aliases.get('fun')?.cap, DIRCAP_RO);
  expectError(() => parseAliases('# ok\nno colon on this line\n'), 'NodeDirInvalid', /line 2.*NAME: CAP[\s\S]*fix or delete/);
  assert.equal(checkAliasName('work:'), 'work');
  expectError(() => checkAliasName('a b'), 'UsageError', /spaces/);
  expectError(() => checkAliasName('a:b'), 'UsageError', /colons/);
  expectError(() => checkAliasName(''), 'UsageError', /empty/);
});

test('path syntax: aliases, the default alias, caps, DIRCAP:./PATH, local paths for cp', () => {
  const aliases = parseAliases(`tahoe: ${DIRCAP}\nwork: ${OTHER}\nbroken: URI:CHK:nonsense\n`);
  const r = (text: string, defaultAlias?: string | null) => resolvePath(text, aliases, defaultAlias === undefined ? {} : { defaultAlias });
  assert.deepEqual(r('docs/a.txt'), { kind: 'grid', rootCap: DIRCAP, path: ['docs', 'a.txt'], trailingSlash: false, alias: 'tahoe', text: 'docs/a.txt' });
  assert.deepEqual(r('tahoe:'), { kind: 'grid', rootCap: DIRCAP, path: [], trailingSlash: false, alias: 'tahoe', text: 'tahoe:' });
  assert.deepEqual(r('work:photos/2026/'), { kind: 'grid', rootCap: OTHER, path: ['photos', '2026'], trailingSlash: true, alias: 'work', text: 'work:photos/2026/' });
  assert.deepEqual(r('tahoe:/a//b'), { kind: 'grid', rootCap: DIRCAP, path: ['a', 'b'], trailingSlash: false, alias: 'tahoe', text: 'tahoe:/a//b' });
  assert.deepEqual(r(`${DIRCAP}/x/y`), { kind: 'grid', rootCap: DIRCAP, path: ['x', 'y'], trailingSlash: false, text: `${DIRCAP}/x/y` });
  assert.deepEqual(r(`${DIRCAP}:./x/y`), { kind: 'grid', rootCap: DIRCAP, path: ['x', 'y'], trailingSlash: false, text: `${DIRCAP}:./x/y` });
  assert.deepEqual(r('URI:CHK:aaaa:bbbb:3:10:100'), { kind: 'grid', rootCap: 'URI:CHK:aaaa:bbbb:3:10:100', path: [], trailingSlash: false, text: 'URI:CHK:aaaa:bbbb:3:10:100' });
  const colon = r('dir/a:b');
  assert.deepEqual(colon.kind === 'grid' ? colon.path : [], ['dir', 'a:b'], 'a colon after a slash is part of a name');
  assert.deepEqual(r('cafe\u0301'), { kind: 'grid', rootCap: DIRCAP, path: ['caf\u00e9'], trailingSlash: false, alias: 'tahoe', text: 'cafe\u0301' }, 'names are NFC');
  assert.deepEqual(r('./local.txt', null), { kind: 'local', path: './local.txt' });
  assert.deepEqual(r('/tmp/x', null), { kind: 'local', path: '/tmp/x' });
  assert.deepEqual(r('plain', null), { kind: 'local', path: 'plain' });
  assert.equal(r('work:x', null).kind, 'grid', 'cp: an alias means the grid');
  expectError(() => r('nope:x'), 'UsageError', /Unknown alias "nope"[\s\S]*create-alias nope/);
  expectError(() => r('broken:x'), 'CapInvalid', /alias "broken" \(private\/aliases line 3\) is not a directory cap/);
  expectError(() => resolvePath('x', new Map()), 'UsageError', /default "tahoe" alias doesn't exist[\s\S]*tahoe-ts create-alias tahoe/);
});

test('readAliases: no file is no aliases; root_dir.cap stands in for tahoe:; addAlias appends 0600 lines', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-aliases-');
  assert.equal((await readAliases(dir)).size, 0);
  mkdirSync(path.join(dir, 'private'), { mode: 0o700 });
  writeFileSync(path.join(dir, 'private', 'root_dir.cap'), `${DIRCAP}\n`);
  assert.equal((await readAliases(dir)).get('tahoe')?.cap, DIRCAP);
  writeFileSync(path.join(dir, ALIASES_FILE), `work: ${OTHER}`, { mode: 0o600 }); // no final newline
  await addAlias(dir, 'tahoe:', DIRCAP_RO);
  assert.equal(readFileSync(path.join(dir, ALIASES_FILE), 'utf8'), `work: ${OTHER}\ntahoe: ${DIRCAP_RO}\n`);
  assert.equal((await readAliases(dir)).get('tahoe')?.cap, DIRCAP_RO, 'the aliases file wins over root_dir.cap');
  await assert.rejects(addAlias(dir, 'work', DIRCAP), (e: unknown) => e instanceof TahoeError && e.kind === 'UsageError' && /already exists/.test(e.message));
  assert.equal(statSync(path.join(dir, ALIASES_FILE)).mode & 0o777, 0o600);
});

test('add-alias and list-aliases as CLI processes (no node needed)', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-aliases-cli-');
  const added = await runCli(['add-alias', '-d', dir, 'work', `  ${DIRCAP}  `]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, "Alias 'work' added\n");
  assert.equal(statSync(path.join(dir, 'private')).mode & 0o777, 0o700);
  assert.equal(statSync(path.join(dir, ALIASES_FILE)).mode & 0o777, 0o600);
  const again = await runCli(['add-alias', '-d', dir, 'work:', OTHER]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /Alias "work" already exists!/);
  assert.match(again.stderr, /hint: /);
  const bad = await runCli(['add-alias', '-d', dir, 'x', 'URI:CHK:notadir']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /kind: CapInvalid/);
  const file = await runCli(['add-alias', '-d', dir, 'y', 'URI:LIT:nbswy3dp']);
  assert.equal(file.code, 2, 'a file cap is not a directory');
  // Two add-alias processes at the same time: both lines survive (appends, not rewrites).
  const [a, b] = await Promise.all([runCli(['add-alias', '-d', dir, 'fun', DIRCAP_RO]), runCli(['add-alias', '-d', dir, 'big', OTHER])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const list = await runCli(['list-aliases', '-d', dir]);
  assert.equal(list.code, 0);
  assert.equal(list.stdout, ` big: ${OTHER}\n fun: ${DIRCAP_RO}\nwork: ${DIRCAP}\n`);
  const ro = await runCli(['list-aliases', '-d', dir, '--readonly-uri']);
  assert.match(ro.stdout, /^work: URI:DIR2-RO:/m);
  assert.match(ro.stdout, /^ big: URI:DIR2-MDMF-RO:/m);
  const json = JSON.parse((await runCli(['list-aliases', '-d', dir, '--json'])).stdout) as Record<string, { readwrite: string; readonly: string }>;
  assert.deepEqual(Object.keys(json), ['big', 'fun', 'work']);
  assert.equal(json.work.readwrite, DIRCAP);
  assert.match(json.work.readonly, /^URI:DIR2-RO:/);
  assert.equal(json.fun.readwrite, DIRCAP_RO);
  assert.equal(json.fun.readonly, DIRCAP_RO);
  const noNode = await runCli(['create-alias', '-d', dir, 'new']);
  assert.equal(noNode.code, 69, noNode.stderr);
  assert.match(noNode.stderr, /kind: NodeNotRunning/);
  const noDefault = await runCli(['ls', '-d', tempDir(t, 'tahoe-ts-empty-'), 'docs']);
  assert.equal(noDefault.code, 2);
  assert.match(noDefault.stderr, /default "tahoe" alias doesn't exist/);
  assert.match(noDefault.stderr, /hint: create it with `tahoe-ts create-alias tahoe`/);
});

test('fuzz: the aliases file and path arguments give a result or a TahoeError, nothing else', () => {
  const bits = [':', ' ', '\n', '\r\n', '#', 'tahoe', 'URI:', 'DIR2', '/', ':./', '\u00e9', '\t', 'x', DIRCAP, '\uFEFF'];
  const pick = (): string => bits[Math.floor(Math.random() * bits.length)];
  const aliases = parseAliases(`tahoe: ${DIRCAP}\nwork: ${OTHER}\nbad: URI:CHK:x\n`);
  for (let i = 0; i < 5000; i++) {
    const text = Array.from({ length: Math.floor(Math.random() * 12) }, pick).join('');
    for (const run of [() => parseAliases(text), () => resolvePath(text, aliases), () => resolvePath(text, aliases, { defaultAlias: null }), () => checkAliasName(text)]) {
      try {
        run();
      } catch (e) {
        assert.ok(e instanceof TahoeError, `${JSON.stringify(text)}: ${String(e)}`);
        assert.ok(['NodeDirInvalid', 'UsageError', 'CapInvalid'].includes(e.kind), `${JSON.stringify(text)}: ${e.kind}`);
      }
    }
  }
});
