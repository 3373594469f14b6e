/**
 * A process that launched tor exits as soon as it is done with it: after the launched tor
 * is shut down, nothing of tahoe-ts may keep the event loop alive (a forgotten 5 s
 * timer in the shutdown kept `tahoe-ts run` alive after every stop).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers/shared.js';
import { killAndWait } from '../../helpers/processes.js';
import { privateTempDir } from './offline-tor.js';

test('after a failed launch the process exits at once: no timer of the tor shutdown holds it', async (t) => {
  const dir = privateTempDir(t);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/net/tor/launch-exit-child.ts'), path.join(dir, 'tor-statedir')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => killAndWait(child));
  let stdout = '';
  let stderr = '';
  let reportedAt: number | undefined;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (reportedAt === undefined && stdout.includes('\n')) reportedAt = Date.now();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const exitedAt = Date.now();
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^failed TorBootstrapTimeout\n$/, stdout + stderr);
  const lingered = exitedAt - (reportedAt as number);
  assert.ok(lingered < 2500, `the process lived ${lingered} ms after the launch had failed`);
});
