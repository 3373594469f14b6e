/**
 * net/key-file.ts: transport key files are written whole, mode 0600, replacing or (exclusive)
 * refusing an existing file, and never leave their temporary file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeKeyFile } from '../../src/net/key-file.js';
import { tempDir } from '../helpers/tmp.js';

test('a key file is written whole with mode 0600, and replaced when not exclusive', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-keyfile-');
  const file = path.join(dir, 'tor_onion.privkey');
  await writeKeyFile(file, 'first');
  assert.equal(readFileSync(file, 'utf8'), 'first');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  await writeKeyFile(file, Buffer.from('second'));
  assert.equal(readFileSync(file, 'utf8'), 'second');
  assert.deepEqual(readdirSync(dir), ['tor_onion.privkey'], 'no temporary file left');
});

test('exclusive: an existing key is never replaced (EEXIST) and stays as it was', async (t) => {
  const dir = tempDir(t, 'tahoe-ts-keyfile-');
  const file = path.join(dir, 'i2p_dest.privkey');
  writeFileSync(file, 'theirs', { mode: 0o600 });
  await assert.rejects(writeKeyFile(file, 'ours', { exclusive: true }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EEXIST');
  assert.equal(readFileSync(file, 'utf8'), 'theirs');
  assert.deepEqual(readdirSync(dir), ['i2p_dest.privkey'], 'no temporary file left');
  await writeKeyFile(path.join(dir, 'new.privkey'), 'fresh', { exclusive: true });
  assert.equal(readFileSync(path.join(dir, 'new.privkey'), 'utf8'), 'fresh');
});
