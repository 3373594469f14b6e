import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isTahoeError } from '../../src/errors.js';
import { base32Decode, base32Encode } from '../../src/crypto/base32.js';
import {
  isOnionName,
  isOnionV3Address,
  onionAddressFromPublicKey,
  onionChecksum,
  parseOnionAddress,
} from '../../src/net/tor/onion-address.js';
import { spawnTracked } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

// tor.md §3 known answer (checked against tor 0.4.9.11).
const KNOWN_ADDRESS = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const KNOWN_PUBKEY = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';

function ed25519PublicKeyOfSeed(seed: Uint8Array): Buffer {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const key = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}

function assertOnionError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTahoeError(e, 'OnionAddressInvalid'), `expected OnionAddressInvalid, got ${String(e)}`);
    assert.match(e.message + e.hint, pattern);
    assert.ok(e.hint.length > 10);
    return true;
  });
}

test('known answer: seed 00..1f gives the address tor computes', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const pub = ed25519PublicKeyOfSeed(seed);
  assert.equal(pub.toString('hex'), KNOWN_PUBKEY);
  assert.equal(onionChecksum(pub).toString('hex'), '1810');
  assert.equal(onionAddressFromPublicKey(pub), KNOWN_ADDRESS);
  const parsed = parseOnionAddress(KNOWN_ADDRESS);
  assert.equal(parsed.publicKey.toString('hex'), KNOWN_PUBKEY);
  assert.equal(parsed.address, KNOWN_ADDRESS);
  assert.ok(isOnionV3Address(KNOWN_ADDRESS));
});

test('random keys round-trip through address and back', () => {
  for (let i = 0; i < 50; i++) {
    const pub = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const address = onionAddressFromPublicKey(pub);
    assert.match(address, /^[a-z2-7]{55}d\.onion$/); // version 3 always ends the address in "d"
    assert.deepEqual(parseOnionAddress(address).publicKey, pub);
  }
});

test('a one-character typo is caught by the checksum', () => {
  const label = KNOWN_ADDRESS.slice(0, 56);
  let caught = 0;
  for (let pos = 0; pos < 52; pos++) {
    const c = label[pos] === 'a' ? 'b' : 'a';
    const typo = `${label.slice(0, pos)}${c}${label.slice(pos + 1)}.onion`;
    assertOnionError(() => parseOnionAddress(typo), /checksum|typo/);
    caught++;
  }
  assert.equal(caught, 52);
  // The last characters encode checksum and version (tor answers F6 for "...bqeac").
  assertOnionError(() => parseOnionAddress(`${label.slice(0, 55)}c.onion`), /version byte/);
});

test('a wrong version byte with a matching checksum is still refused', () => {
  const raw = base32Decode(KNOWN_ADDRESS.slice(0, 56));
  raw[34] = 0x04;
  assertOnionError(() => parseOnionAddress(`${base32Encode(raw)}.onion`), /version byte 4/);
});

test('v2 addresses are refused with a hint that they are dead', () => {
  assertOnionError(() => parseOnionAddress('ualhejtq2p7ohfbb.onion'), /version 2.*retired/);
  assertOnionError(() => parseOnionAddress('ualhejtq2p7ohfbb.onion'), /v3 address/);
});

test('malformed addresses give specific errors', () => {
  assertOnionError(() => parseOnionAddress(KNOWN_ADDRESS.toUpperCase()), /lower case|upper-case/);
  assertOnionError(() => parseOnionAddress(KNOWN_ADDRESS.slice(0, 56)), /does not end in \.onion/);
  assertOnionError(() => parseOnionAddress(`www.${KNOWN_ADDRESS}`), /sub-domain/);
  assertOnionError(() => parseOnionAddress(`${KNOWN_ADDRESS.slice(1)}`), /55 characters/);
  assertOnionError(() => parseOnionAddress(`${KNOWN_ADDRESS.slice(0, 55)}1.onion`), /base32/);
  assertOnionError(() => parseOnionAddress('.onion'), /0 characters/);
  assertOnionError(() => onionAddressFromPublicKey(new Uint8Array(31)), /32 bytes/);
  assert.ok(!isOnionV3Address('example.com'));
  assert.ok(isOnionName('X.ONION') && !isOnionName('onion.example'));
});

test('tor itself agrees: the hostname tor writes for a fresh onion service validates and matches its public key', async (t) => {
  if (!existsSync('/usr/sbin/tor') && !existsSync('/usr/bin/tor')) {
    if (process.env.CI === 'true') throw new Error('tor is not installed');
    t.skip('tor is not installed');
    return;
  }
  const dir = tempDir(t, 'tahoe-ts-onion-');
  const hsDir = path.join(dir, 'hs');
  const tor = spawnTracked(t, 'tor', [
    '-f', '/dev/null', '--ignore-missing-torrc',
    '--DataDirectory', path.join(dir, 'data'),
    '--DisableNetwork', '1', '--SocksPort', '0', '--ControlPort', '0',
    '--HiddenServiceDir', hsDir, '--HiddenServicePort', '80 127.0.0.1:9',
    '--Log', 'warn stderr',
  ]);
  let stderr = '';
  tor.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const hostnameFile = path.join(hsDir, 'hostname');
  const deadline = Date.now() + 30_000;
  while (!existsSync(hostnameFile)) {
    if (Date.now() > deadline || tor.exitCode !== null) assert.fail(`tor wrote no hostname file: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 50)); // tor writes the file in one go; allow the write to finish
  const hostname = readFileSync(hostnameFile, 'utf8').trim();
  // hs_ed25519_public_key: a 32-byte "== ed25519v1-public: type0 ==" header, then the key.
  const pub = readFileSync(path.join(hsDir, 'hs_ed25519_public_key')).subarray(32);
  assert.equal(pub.length, 32);
  assert.deepEqual(parseOnionAddress(hostname).publicKey, pub);
  assert.equal(onionAddressFromPublicKey(pub), hostname);
});
