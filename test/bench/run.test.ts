/** The benchmark runner's command line: registry listing and argument errors (no benchmark is run). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/shared.js';

function runBench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
}

test('bench/run.ts --list names every registered benchmark, codec included', () => {
  const result = runBench(['--list']);
  assert.equal(result.status, 0, result.stderr);
  assert.ok(result.stdout.split('\n').includes('codec'));
});

test('bench/run.ts rejects unknown options and filters that match nothing', () => {
  const unknown = runBench(['--fast']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option --fast; usage:/);
  const none = runBench(['no-such-benchmark']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no benchmark matches no-such-benchmark; available: .*codec/);
});
