/**
 * A grid directory copied or moved into a place inside itself.
 *
 * `tahoe-ts cp -r` of a grid directory into a place inside itself. cp reads the source as
 * it copies, so it used to meet its own copy and copy that again, level after level, until
 * it was killed (tahoe:a/b/a/b/a/b/… on the grid). Now the directories the copy made are
 * skipped as sources: the copy ends, holding the files the source had.
 *
 * `tahoe-ts mv tahoe:a tahoe:a/b/` would leave a reachable only through itself (lost to
 * every alias): refused, and nothing changes.
 *
 * The same through names the paths do not show to be one (a second alias for a directory,
 * or, for cp, for one inside it): compared by cap. mv refuses a move into itself and treats a move
 * onto its own entry as nothing to do (it used to link the entry over itself and then
 * unlink it: lost); cp -r refuses to copy a directory onto itself (its mutable files would
 * be replaced by immutable copies) and never copies the directory it is copying into.
 *
 * The CLI runs as its own process against a web gateway in this process (real storage
 * servers over TLS on 127.0.0.1), found through node.url as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { startGatewayFixture } from '../web/helpers.js';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/cli/run-cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TAHOE_TS_NODE_DIRECTORY: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // A copy that never ends is the failure this test looks for: end it, and say so.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `tahoe-ts ${args.join(' ')} → ${r.code}\n${r.stderr}`);
  return r.stdout;
}

test('cp -r of a directory into itself ends, and copies what the source held', { timeout: 600_000 }, async (t) => {
  const f = await startGatewayFixture(t);
  const nodeDir = tempDir(t, 'tahoe-ts-cp-node-');
  mkdirSync(path.join(nodeDir, 'private'), { mode: 0o700 });
  writeFileSync(path.join(nodeDir, 'node.url'), `${f.base}/\n`);
  const d = ['-d', nodeDir];
  await ok(['create-alias', 'tahoe', ...d]);
  const local = tempDir(t, 'tahoe-ts-cp-local-');
  writeFileSync(path.join(local, 'f.txt'), 'hello');
  await ok(['cp', path.join(local, 'f.txt'), 'tahoe:a/f.txt', ...d]);

  const copy = await cli(['cp', '-r', 'tahoe:a', 'tahoe:a/b', ...d], 60_000);
  assert.equal(copy.code, 0, `cp -r tahoe:a tahoe:a/b → ${copy.code} (null: still copying after 60 s)\n${copy.stderr}`);
  assert.match(copy.stderr, /skipping b: it is part of this copy's target/);
  assert.equal((await ok(['ls', 'tahoe:a/b', ...d])).trim(), 'a');
  assert.equal((await ok(['ls', 'tahoe:a/b/a', ...d])).trim(), 'f.txt', 'the copy holds the source\'s file and no copy of itself');
  assert.equal(await ok(['get', 'tahoe:a/b/a/f.txt', ...d]), 'hello');
});

test('mv of a directory into itself is refused and changes nothing', { timeout: 600_000 }, async (t) => {
  const f = await startGatewayFixture(t);
  const nodeDir = tempDir(t, 'tahoe-ts-mv-node-');
  mkdirSync(path.join(nodeDir, 'private'), { mode: 0o700 });
  writeFileSync(path.join(nodeDir, 'node.url'), `${f.base}/\n`);
  const d = ['-d', nodeDir];
  await ok(['create-alias', 'tahoe', ...d]);
  await ok(['mkdir', 'tahoe:a/b', ...d]);
  const moved = await cli(['mv', 'tahoe:a', 'tahoe:a/b/', ...d]);
  assert.equal(moved.code, 2, moved.stderr);
  assert.match(moved.stderr, /cannot move tahoe:a into itself/);
  assert.equal((await ok(['ls', 'tahoe:', ...d])).trim(), 'a');
  assert.equal((await ok(['ls', 'tahoe:a/b', ...d])).trim(), '');
  await ok(['mv', 'tahoe:a/b', 'tahoe:c', ...d]);
  assert.deepEqual((await ok(['ls', 'tahoe:', ...d])).trim().split('\n'), ['a', 'c'], 'a sibling move still works');
});

test('mv and cp -r compare directories by cap: a second alias for a directory, or for one inside it', { timeout: 600_000 }, async (t) => {
  const f = await startGatewayFixture(t);
  const nodeDir = tempDir(t, 'tahoe-ts-alias-node-');
  mkdirSync(path.join(nodeDir, 'private'), { mode: 0o700 });
  writeFileSync(path.join(nodeDir, 'node.url'), `${f.base}/\n`);
  const d = ['-d', nodeDir];
  await ok(['create-alias', 'tahoe', ...d]);
  const aCap = (await ok(['mkdir', 'tahoe:a', ...d])).trim();
  const bCap = (await ok(['mkdir', 'tahoe:a/b', ...d])).trim();
  await ok(['add-alias', 'same', aCap, ...d]);
  await ok(['add-alias', 'inner', bCap, ...d]);
  const local = tempDir(t, 'tahoe-ts-alias-local-');
  writeFileSync(path.join(local, 'f.txt'), 'hello');
  await ok(['cp', path.join(local, 'f.txt'), 'tahoe:a/f.txt', ...d]);
  await ok(['put', '--mutable', path.join(local, 'f.txt'), 'tahoe:a/notes', ...d]);
  const listing = async (p: string): Promise<string[]> => (await ok(['ls', p, ...d])).trim().split('\n').filter((l) => l !== '');

  // mv into itself through a second alias for it: refused. (An alias for a directory inside
  // it, as inner: is, would take a walk through the whole tree below it: not checked.)
  for (const to of ['same:', 'same:b/']) {
    const r = await cli(['mv', 'tahoe:a', to, ...d]);
    assert.equal(r.code, 2, `mv tahoe:a ${to}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`cannot move tahoe:a into itself \\(${to}\\)`));
    assert.deepEqual(await listing('tahoe:'), ['a'], `mv tahoe:a ${to} changed nothing`);
    assert.deepEqual(await listing('tahoe:a'), ['b', 'f.txt', 'notes']);
  }
  // mv onto its own entry under another name for its directory: nothing to do, nothing lost.
  const same = await cli(['mv', 'tahoe:a/f.txt', 'same:f.txt', ...d]);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(await ok(['get', 'tahoe:a/f.txt', ...d]), 'hello', 'the file is still there');
  const sameDir = await cli(['mv', 'tahoe:a/f.txt', 'same:', ...d]);
  assert.equal(sameDir.code, 0, sameDir.stderr);
  assert.equal(await ok(['get', 'tahoe:a/f.txt', ...d]), 'hello', 'the file is still there');

  // cp -r of a directory onto itself (an alias for it as the source): refused, nothing changes.
  const before = await ok(['ls', '-l', 'tahoe:a', ...d]);
  assert.match(before, /^-rw- .* notes$/m);
  const onto = await cli(['cp', '-r', 'same:', 'tahoe:a', ...d]);
  assert.equal(onto.code, 2, onto.stderr);
  assert.match(onto.stderr, /same: and tahoe:a are the same directory/);
  assert.equal(await ok(['ls', '-l', 'tahoe:a', ...d]), before, 'the mutable file is still mutable');
  // Named: tahoe:a into the root under its own name, through an alias for the root's own a.
  const aliases = JSON.parse(await ok(['list-aliases', '--json', ...d])) as Record<string, { readwrite: string }>;
  await ok(['add-alias', 'root2', aliases.tahoe.readwrite, ...d]);
  const namedOnto = await cli(['cp', '-r', 'tahoe:a', 'root2:', ...d]);
  assert.equal(namedOnto.code, 2, namedOnto.stderr);
  assert.match(namedOnto.stderr, /a and a are the same directory/);
  assert.equal(await ok(['ls', '-l', 'tahoe:a', ...d]), before, 'the mutable file is still mutable');

  // cp -r into a directory inside the source that it did not make: that directory is not copied.
  const into = await cli(['cp', '-r', 'tahoe:', 'inner:', ...d]);
  assert.equal(into.code, 0, into.stderr);
  assert.match(into.stderr, /skipping b: it is part of this copy's target/);
  assert.deepEqual(await listing('tahoe:a/b'), ['a']);
  assert.deepEqual(await listing('tahoe:a/b/a'), ['f.txt', 'notes'], 'the copy of a holds its files, not b (the target itself)');
});
