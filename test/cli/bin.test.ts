/**
 * bin/tahoe-ts run the way a user runs it: executed directly, so that the kernel reads its
 * `#!/usr/bin/env -S node <flags>` line (the flags keep a large transfer's memory down; see
 * the comment there). Needs dist/ (`npm test` builds it first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';
import { binNodeFlags, distIsFresh } from '../web/cli-process.js';

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // The node on PATH is the one running the tests, as `env node` will look it up.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, env }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

test('the shebang line carries node flags that node accepts', async () => {
  const flags = binNodeFlags();
  assert.ok(flags.includes('--max-semi-space-size=2'), flags.join(' '));
  const r = await run(process.execPath, [...flags, '-e', 'process.stdout.write("ok")']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok');
});

test('./bin/tahoe-ts executed directly prints its version', async (t) => {
  if (!distIsFresh()) {
    if (process.env.CI === 'true') assert.fail('dist/ is missing or stale: `npm test` builds it first');
    t.skip('dist/ is missing or stale: run `npm run build`');
    return;
  }
  const r = await run(path.join(REPO_ROOT, 'bin', 'tahoe-ts'), ['--version']);
  assert.equal(r.code, 0, r.stderr);
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.stdout.trim(), pkg.version);
});
