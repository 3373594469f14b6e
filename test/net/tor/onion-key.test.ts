import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { isTahoeError } from '../../../src/errors.js';
import {
  ed25519PublicKeyFromScalar,
  expandSeed,
  generateOnionKey,
  HS_HOSTNAME_FILE,
  HS_PUBLIC_KEY_FILE,
  HS_SECRET_KEY_FILE,
  loadOrCreateOnionKey,
  onionAddressFromBlob,
  onionAddressFromPublicKey,
  onionKeyFromSeed,
  parseOnionKeyBlob,
  readHiddenServiceDir,
  readOnionKeyFile,
  writeHiddenServiceDir,
  writeOnionKeyFile,
} from '../../../src/net/tor/onion-key.js';
import { tempDir } from '../../helpers/tmp.js';

// tor.md §3, checked against tor 0.4.9.11.
const KNOWN_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const KNOWN_PUBLIC = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const KNOWN_ADDRESS = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const KNOWN_BLOB = 'ED25519-V3:OJTupJxYCu+BaTV2K+BJVZ1tFEDe3hLmoSXxhB//jm+p1xhio+V0a1cb49GHsAQQRvUuvYUMfL1f3o7jhHO2SQ==';

test('known answer: seed 00..1f gives the blob and address tor gives', () => {
  const key = onionKeyFromSeed(KNOWN_SEED);
  assert.equal(key.blob, KNOWN_BLOB);
  assert.equal(key.address, KNOWN_ADDRESS);
  assert.equal(onionAddressFromBlob(KNOWN_BLOB), KNOWN_ADDRESS);
  const scalar = parseOnionKeyBlob(KNOWN_BLOB).subarray(0, 32);
  assert.equal(Buffer.from(ed25519PublicKeyFromScalar(scalar)).toString('hex'), KNOWN_PUBLIC);
  assert.equal(onionAddressFromPublicKey(Buffer.from(KNOWN_PUBLIC, 'hex')), KNOWN_ADDRESS);
});

test('scalar multiplication agrees with node:crypto for random seeds', () => {
  for (let i = 0; i < 20; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
    const expected = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const actual = ed25519PublicKeyFromScalar(expandSeed(seed).subarray(0, 32));
    assert.equal(Buffer.from(actual).toString('hex'), expected.toString('hex'));
  }
});

test('generateOnionKey: fresh keys whose blob yields their address', () => {
  const a = generateOnionKey();
  const b = generateOnionKey();
  assert.notEqual(a.blob, b.blob);
  assert.match(a.address, /^[a-z2-7]{56}\.onion$/);
  assert.equal(onionAddressFromBlob(a.blob), a.address);
  assert.equal(onionAddressFromBlob(b.blob), b.address);
  const expanded = parseOnionKeyBlob(a.blob);
  assert.equal(expanded[0] & 7, 0, 'scalar is clamped (low bits)');
  assert.equal(expanded[31] & 0xc0, 0x40, 'scalar is clamped (high bits)');
});

test('parseOnionKeyBlob refuses malformed blobs with a TahoeError (fuzz: random and mutated)', () => {
  const bad = ['', 'ED25519-V3:', 'RSA1024:abcd', 'ED25519-V3:' + 'A'.repeat(88), KNOWN_BLOB.slice(0, -3), KNOWN_BLOB + 'AA', KNOWN_BLOB.replace('+', '*')];
  for (const blob of bad) {
    assert.throws(() => parseOnionKeyBlob(blob), (e: unknown) => isTahoeError(e, 'BadInput') && e.hint.length > 0, blob);
  }
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    let candidate: string;
    if (i % 2 === 0) {
      candidate = randomBytes(Math.floor(Math.random() * 120)).toString(i % 4 === 0 ? 'latin1' : 'base64');
      if (i % 8 === 0) candidate = 'ED25519-V3:' + candidate;
    } else {
      const chars = [...KNOWN_BLOB];
      const at = Math.floor(Math.random() * chars.length);
      const op = Math.floor(Math.random() * 3);
      if (op === 0) chars[at] = String.fromCharCode(Math.floor(Math.random() * 256));
      else if (op === 1) chars.splice(at, 1);
      else chars.splice(at, 0, String.fromCharCode(Math.floor(Math.random() * 128)));
      candidate = chars.join('');
    }
    try {
      const bytes = parseOnionKeyBlob(candidate);
      assert.equal(bytes.length, 64);
      accepted++;
    } catch (e) {
      assert.ok(isTahoeError(e), `non-TahoeError for ${JSON.stringify(candidate)}: ${String(e)}`);
    }
  }
  assert.ok(accepted > 0, 'some single-character substitutions remain valid blobs');
});

test('key file: written 0600 in a 0700 directory, read back, same address', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'private', 'tor_onion.privkey');
  const key = generateOnionKey();
  await writeOnionKeyFile(file, key);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.equal(await fs.readFile(file, 'utf8'), key.blob, 'stored verbatim like Tahoe 1.20');
  assert.deepEqual(await readOnionKeyFile(file), key);
  // A key file with a trailing newline (edited by hand) still reads.
  await fs.writeFile(file, key.blob + '\n');
  assert.equal((await readOnionKeyFile(file)).address, key.address);
});

test('key file: looser permissions, wrong content and absence are refused with hints', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'tor_onion.privkey');
  await writeOnionKeyFile(file, generateOnionKey());
  await fs.chmod(file, 0o644);
  await assert.rejects(readOnionKeyFile(file), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /chmod 600/.test(e.hint));
  await fs.chmod(file, 0o600);
  await fs.writeFile(file, 'ED25519-V3:garbage');
  await assert.rejects(readOnionKeyFile(file), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && e.details.source === file);
  await assert.rejects(readOnionKeyFile(path.join(dir, 'missing')), (e: unknown) => isTahoeError(e, 'NodeDirInvalid'));
});

test('hiddenServiceDir: tor v3 layout written and read back; mismatches detected', async (t) => {
  const base = tempDir(t);
  const dir = path.join(base, 'my_service');
  const key = onionKeyFromSeed(KNOWN_SEED);
  await writeHiddenServiceDir(dir, key);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const secret = await fs.readFile(path.join(dir, HS_SECRET_KEY_FILE));
  assert.equal(secret.length, 96);
  assert.equal(secret.subarray(0, 32).toString('latin1'), '== ed25519v1-secret: type0 ==\0\0\0');
  const pub = await fs.readFile(path.join(dir, HS_PUBLIC_KEY_FILE));
  assert.equal(pub.subarray(0, 32).toString('latin1'), '== ed25519v1-public: type0 ==\0\0\0');
  assert.equal(pub.subarray(32).toString('hex'), KNOWN_PUBLIC);
  assert.equal(await fs.readFile(path.join(dir, HS_HOSTNAME_FILE), 'utf8'), KNOWN_ADDRESS + '\n');
  for (const f of [HS_SECRET_KEY_FILE, HS_PUBLIC_KEY_FILE, HS_HOSTNAME_FILE]) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600);
  assert.deepEqual(await readHiddenServiceDir(dir), key);

  // hostname and public key are optional (tor recreates them) but must agree when present.
  await fs.rm(path.join(dir, HS_PUBLIC_KEY_FILE));
  await fs.writeFile(path.join(dir, HS_HOSTNAME_FILE), generateOnionKey().address + '\n', { mode: 0o600 });
  await assert.rejects(readHiddenServiceDir(dir), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  await fs.rm(path.join(dir, HS_HOSTNAME_FILE));
  assert.equal((await readHiddenServiceDir(dir)).address, KNOWN_ADDRESS);

  await fs.chmod(dir, 0o755);
  await assert.rejects(readHiddenServiceDir(dir), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && /chmod 700/.test(e.hint));
  await fs.chmod(dir, 0o700);
  await fs.writeFile(path.join(dir, HS_SECRET_KEY_FILE), Buffer.alloc(96));
  await assert.rejects(readHiddenServiceDir(dir), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
});

test('loadOrCreateOnionKey keeps the address across calls (key file and hiddenServiceDir)', async (t) => {
  const base = tempDir(t);
  for (const location of [{ keyFile: path.join(base, 'p', 'tor_onion.privkey') }, { hiddenServiceDir: path.join(base, 'hs') }]) {
    const first = await loadOrCreateOnionKey(location);
    assert.equal(first.created, true);
    const second = await loadOrCreateOnionKey(location);
    assert.equal(second.created, false);
    assert.deepEqual(second.key, first.key);
  }
});
