/**
 * Memory must not grow with file size: a 48 MiB file is encoded to share files and decoded
 * back in a child process that forces GC at each sample; its live memory must stay within
 * a few segments' worth (here 1 MiB segments), far below the file size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';

test('encode + decode of a 48 MiB file stays within a few segments of memory', (t) => {
  const dir = tempDir(t);
  const size = 48 * 1024 * 1024 + 12345;
  const segment = 1024 * 1024;
  const script = path.join(REPO_ROOT, 'test', 'immutable', 'fixtures', 'streaming-memory.ts');
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, dir, String(size), String(segment)], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { peakBytes, ok } = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { peakBytes: number; ok: boolean };
  assert.ok(ok, 'decoded file differs from the source');
  t.diagnostic(`peak live memory above baseline: ${(peakBytes / 2 ** 20).toFixed(1)} MiB for a ${(size / 2 ** 20).toFixed(0)} MiB file`);
  assert.ok(peakBytes < 8 * segment, `peak ${peakBytes} bytes`);
});
