/** Node directories: permissions and ownership, loadNodeDirectory, key and secret files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createFileAtomic, editTahoeCfg, loadOrCreateNodeKey, loadOrCreateSecret, parseIntroducersYaml, readNodeKey, readSecret, writeFileAtomic, writeIntroducers } from '../../src/config/keys.js';
import { checkNodeDirectory, checkPrivatePermissions, detectNodeType, loadNodeDirectory } from '../../src/config/node-dir.js';
import { createNode } from '../../src/config/create.js';
import { TahoeError, isTahoeError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { makeNodeDir } from './node-dir-helper.js';

const FURL = 'pb://ixgtihxr3fvxkh62j3qaavtb6ocxffsh@tcp:example.net:3457/abcdefghijklmnopqrstuvwxyzabcdef';
const isRoot = process.getuid?.() === 0;

test('loadNodeDirectory refuses a loose private/ or key file, with the chmod command in the hint', async (t) => {
  const dir = path.join(tempDir(t), 'n');
  await createNode({ directory: dir, command: 'create-client' });
  await loadNodeDirectory(dir);

  chmodSync(path.join(dir, 'private'), 0o750);
  await assert.rejects(loadNodeDirectory(dir), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && e.hint.startsWith(`chmod 700 ${path.join(dir, 'private')}`));
  chmodSync(path.join(dir, 'private'), 0o700);

  chmodSync(path.join(dir, 'private/node.privkey'), 0o640);
  chmodSync(path.join(dir, 'private/secret'), 0o604);
  await assert.rejects(loadNodeDirectory(dir), (e: unknown) => {
    assert.ok(isTahoeError(e, 'NodeDirInvalid'));
    assert.match(e.message, /2 key files are readable or writable by other users: private\/node\.privkey, private\/secret/);
    assert.equal(e.hint.split(' — ')[0], `chmod 600 ${path.join(dir, 'private/node.privkey')} ${path.join(dir, 'private/secret')}`);
    return true;
  });
  chmodSync(path.join(dir, 'private/node.privkey'), 0o600);
  chmodSync(path.join(dir, 'private/secret'), 0o600);
  await loadNodeDirectory(dir);
});

test('an onion key file configured outside private/ is checked too', async (t) => {
  const root = tempDir(t);
  const dir = path.join(root, 'n');
  await createNode({ directory: dir, command: 'create-node', listen: ['tor'], torLaunch: true });
  const outside = path.join(root, 'onion.key');
  writeFileSync(outside, readFileSync(path.join(dir, 'private/tor_onion.privkey')), { mode: 0o644 });
  const cfg = readFileSync(path.join(dir, 'tahoe.cfg'), 'utf8').replace('onion.private_key_file = private/tor_onion.privkey', `onion.private_key_file = ${outside}`);
  writeFileSync(path.join(dir, 'tahoe.cfg'), cfg);
  const problems = await checkPrivatePermissions(dir, [outside]);
  assert.equal(problems.length, 1);
  assert.match(problems[0].hint, new RegExp(`chmod 600 ${outside}`));
  await assert.rejects(loadNodeDirectory(dir), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && e.message.includes(outside));
});

test('files not owned by the running user are refused', { skip: !isRoot && 'needs root to chown a file to another user' }, async (t) => {
  const dir = path.join(tempDir(t), 'n');
  await createNode({ directory: dir, command: 'create-client' });
  chownSync(path.join(dir, 'private/convergence'), 65534, 65534);
  await assert.rejects(loadNodeDirectory(dir), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /private\/convergence is not owned by the user running tahoe-ts/.test(e.message) && /chown/.test(e.hint));
});

test('loadNodeDirectory throws the first error and says how many more check-config lists', async (t) => {
  const dir = makeNodeDir(t, '[node]\nanonymise = 1\nnickname = 5%\n');
  await assert.rejects(loadNodeDirectory(dir), (e: unknown) => {
    assert.ok(e instanceof TahoeError);
    assert.equal(e.kind, 'ConfigUnknownKey');
    assert.match(e.message, /anonymise is not a known key \(and 1 more problem: run `tahoe-ts check-config -d .*`\)/);
    assert.equal(e.details.problems, 2);
    assert.equal(e.details.line, 2);
    return true;
  });
  // Syntax errors, a missing tahoe.cfg, a missing directory.
  await assert.rejects(loadNodeDirectory(makeNodeDir(t, 'nickname = x\n')), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /line 1: line 1 comes before any \[section\] header/.test(e.message));
  const empty = tempDir(t);
  await assert.rejects(loadNodeDirectory(empty), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /tahoe\.cfg/.test(e.message));
  await assert.rejects(loadNodeDirectory(path.join(empty, 'missing')), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /create-node/.test(e.hint));
  writeFileSync(path.join(empty, 'tahoe.cfg'), Buffer.from([0x5b, 0xff]));
  await assert.rejects(loadNodeDirectory(empty), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /UTF-8/.test(e.hint));
});

test('node type comes from the .tac file; without one a warning and client', async (t) => {
  const intro = makeNodeDir(t, '[node]\ntub.port = tcp:3457\ntub.location = tcp:example.net:3457\n', 'introducer');
  assert.equal(await detectNodeType(intro), 'introducer');
  assert.equal((await loadNodeDirectory(intro)).nodeType, 'introducer');
  const bare = tempDir(t);
  writeFileSync(path.join(bare, 'tahoe.cfg'), '[node]\n');
  assert.equal(await detectNodeType(bare), undefined);
  const report = await checkNodeDirectory(bare);
  assert.equal(report.nodeType, 'client');
  assert.ok(report.problems.some((p) => p.severity === 'warning' && /tahoe-client\.tac/.test(p.message)));
});

test('introducer.furl in tahoe.cfg and "default" in introducers.yaml conflict; bad yaml is reported', async (t) => {
  const dir = makeNodeDir(t, `[client]\nintroducer.furl = ${FURL}\n`);
  await writeIntroducers(dir, { default: FURL });
  assert.equal(statSync(path.join(dir, 'private/introducers.yaml')).mode & 0o777, 0o600);
  const report = await checkNodeDirectory(dir);
  assert.ok(report.problems.some((p) => p.key === 'introducer.furl' && /introducers\.yaml/.test(p.message)));
  writeFileSync(path.join(dir, 'private/introducers.yaml'), 'introducers: [1, 2', { mode: 0o600 });
  const bad = await checkNodeDirectory(dir);
  assert.ok(bad.problems.some((p) => p.kind === 'ConfigInvalid' && /not valid YAML/.test(p.message) && /furl:/.test(p.hint)));
  for (const [text, message] of [
    ['introducers:\n  a: {}\n', /"a" has no furl/],
    ['introducers:\n  a:\n    furl: pb://short\n', /introducer "a"/],
    ['- 1\n', /does not hold a mapping/],
  ] as const) {
    assert.throws(() => parseIntroducersYaml(text), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && message.test(e.message));
  }
  assert.deepEqual(parseIntroducersYaml(''), {});
  assert.deepEqual(parseIntroducersYaml('introducers:\n'), {});
});

test('keys: create-if-absent never replaces, writes are atomic and 0600, damaged files are reported', async (t) => {
  const dir = tempDir(t);
  const key = await loadOrCreateNodeKey(dir);
  assert.equal((await loadOrCreateNodeKey(dir)).serverId(), key.serverId());
  assert.equal((await readNodeKey(dir))?.serverId(), key.serverId());
  assert.equal(statSync(path.join(dir, 'private')).mode & 0o777, 0o700);
  assert.equal(statSync(path.join(dir, 'private/node.privkey')).mode & 0o777, 0o600);
  assert.equal(readFileSync(path.join(dir, 'node.pubkey'), 'utf8'), key.publicKeyString() + '\n');
  const conv = await loadOrCreateSecret(dir, 'convergence');
  assert.deepEqual(await loadOrCreateSecret(dir, 'convergence'), conv);
  assert.equal(await createFileAtomic(path.join(dir, 'private/convergence'), 'other\n'), false);
  assert.deepEqual(await readSecret(dir, 'convergence'), conv);
  // An empty convergence file is an empty secret (Tahoe).
  writeFileSync(path.join(dir, 'private/secret'), '', { mode: 0o600 });
  assert.equal((await readSecret(dir, 'secret'))?.length, 0);
  writeFileSync(path.join(dir, 'private/secret'), 'not base32!\n', { mode: 0o600 });
  await assert.rejects(readSecret(dir, 'secret'), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /lease/.test(e.hint));
  writeFileSync(path.join(dir, 'private/node.privkey'), 'priv-v0-garbage\n', { mode: 0o600 });
  await assert.rejects(readNodeKey(dir), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && !e.message.includes('garbage') && /backup/.test(e.hint));
  // No temporary files are left behind.
  await writeFileAtomic(path.join(dir, 'x'), 'y', 0o640);
  assert.equal(statSync(path.join(dir, 'x')).mode & 0o777, 0o640);
  assert.deepEqual(readdirSync(path.join(dir, 'private')).filter((f) => f.endsWith('.tmp')), []);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  mkdirSync(path.join(dir, 'sub'));
  assert.equal(await createFileAtomic(path.join(dir, 'sub', 'f'), 'a'), true);
});

test('editTahoeCfg: one key changed in place, the rest of the file (comments, BOM, CRLF, mode) kept', async (t) => {
  const dir = path.join(tempDir(t), 'n');
  await createNode({ directory: dir, command: 'create-node', hostname: 'example.net', nickname: 'before' });
  const file = path.join(dir, 'tahoe.cfg');
  const original = readFileSync(file, 'utf8');
  await editTahoeCfg(dir, [{ section: 'node', key: 'nickname', value: 'after 100%' }, { section: 'client', key: 'mutable.format', value: 'mdmf' }]);
  const edited = readFileSync(file, 'utf8');
  assert.equal(edited, original.replace('nickname =\n', 'nickname = after 100%%\n').replace('nickname = before\n', 'nickname = after 100%%\n').replace('shares.total = 10\n', 'shares.total = 10\nmutable.format = mdmf\n'));
  const { config } = await loadNodeDirectory(dir);
  assert.equal(config.node.nickname, 'after 100%');
  assert.equal(config.client.mutableFormat, 'mdmf');
  writeFileSync(file, '\ufeff# c\r\n[node]\r\nnickname = x\r\n', { mode: 0o640 });
  chmodSync(file, 0o640);
  await editTahoeCfg(dir, [{ section: 'node', key: 'nickname', value: 'y' }]);
  assert.deepEqual(readFileSync(file), Buffer.from('\ufeff# c\r\n[node]\r\nnickname = y\r\n'));
  assert.equal(statSync(file).mode & 0o777, 0o640);
  writeFileSync(file, '[node]\nbroken line\n');
  await assert.rejects(editTahoeCfg(dir, [{ section: 'node', key: 'nickname', value: 'z' }]), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  assert.equal(readFileSync(file, 'utf8'), '[node]\nbroken line\n', 'a refused edit leaves the file alone');
});

test('fuzz: introducers.yaml parser gives a mapping or a ConfigInvalid, nothing else', () => {
  const seeds = ['introducers:\n  default:\n    furl: "' + FURL + '"\n', 'introducers: {a: {furl: x}}\n', '- [', '{', 'introducers: !!binary aGk=\n', 'introducers:\n  yes:\n    furl: ' + FURL + '\n'];
  const alphabet = ['\n', ' ', ':', '-', '{', '}', '[', ']', '"', "'", '!', '&', '*', 'a', '#', '%', '|', '>', '\t'];
  for (let i = 0; i < 4000; i++) {
    let s = seeds[i % seeds.length];
    for (let j = 1 + (i % 4); j > 0; j--) {
      const at = Math.floor(Math.random() * (s.length + 1));
      s = s.slice(0, at) + alphabet[Math.floor(Math.random() * alphabet.length)] + s.slice(at + (j % 2));
    }
    try {
      const r = parseIntroducersYaml(s);
      for (const v of Object.values(r)) assert.equal(typeof v, 'string');
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'ConfigInvalid' && e.hint.length > 0, `${JSON.stringify(s)}: ${String(e)}`);
    }
  }
});

test('introducers.yaml accepts HTTPS NURLs of one introducer as well as the fURL form', async () => {
  const { parseIntroducersYaml } = await import('../../src/config/keys.js');
  const hash = 'A'.repeat(43);
  const swiss = 'abcdefghijklmnopqrstuvwxyz234567';
  const nurls = `pb://${hash}@127.0.0.1:3457/${swiss}#v=1 pb+tor://${hash}@aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457/${swiss}#v=1`;
  const parsed = parseIntroducersYaml(`introducers:\n  default:\n    furl: "${nurls}"\n`, 'introducers.yaml');
  assert.equal(parsed.default, nurls);
  assert.throws(() => parseIntroducersYaml(`introducers:\n  default:\n    furl: "pb://${hash}@127.0.0.1:3457/${swiss}#v=2"\n`, 'introducers.yaml'), /introducer "default"/);
});

test('an unreadable private/ (a symlink loop) is a NodeDirInvalid problem, never a raw error', async (t) => {
  const dir = makeNodeDir(t, '[node]\nnickname = x\n');
  const privateDir = path.join(dir, 'private');
  rmSync(privateDir, { recursive: true });
  symlinkSync(privateDir, privateDir); // stat() fails with ELOOP, not ENOENT
  const report = await checkNodeDirectory(dir);
  assert.ok(report.problems.some((p) => p.kind === 'NodeDirInvalid' && /private/.test(p.message) && /ELOOP/.test(p.message)), JSON.stringify(report.problems));
  await assert.rejects(loadNodeDirectory(dir), (e: unknown) => (isTahoeError(e, 'NodeDirInvalid') || isTahoeError(e, 'DiskError')) && e.hint.length > 0);
  // the same for a key file configured outside private/
  const problems = await checkPrivatePermissions(dir, [privateDir + '/x']);
  assert.ok(problems.every((p) => p.kind === 'NodeDirInvalid'));
});
