/**
 * The node's log file: appended to across opens, mode 0600 in a 0700 logs/ directory, and a
 * logs/ that cannot be made is a NodeDirInvalid naming the fix (it was an "Internal" bug
 * report from a bare mkdir error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../../src/errors.js';
import { LOG_FILE, openLogFile } from '../../src/node/log-file.js';
import { tempDir } from '../helpers/tmp.js';

test('the log file is appended to, private, and its directory is made 0700', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-log-');
  for (const line of ['first', 'second']) {
    const sink = openLogFile(dir);
    sink.write(line);
    await sink.close();
  }
  const file = path.join(dir, LOG_FILE);
  assert.equal(readFileSync(file, 'utf8'), 'first\nsecond\n');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
});

test('a file where logs/ should be is a NodeDirInvalid with a hint', (t) => {
  const dir = tempDir(t, 'tahoe-ts-log-');
  writeFileSync(path.join(dir, 'logs'), 'not a directory');
  assert.throws(() => openLogFile(dir), (e: unknown) => e instanceof TahoeError && e.kind === 'NodeDirInvalid' && /must be a directory/.test(e.hint));
});
