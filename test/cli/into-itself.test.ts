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
