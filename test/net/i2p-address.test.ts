import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isTahoeError, type ErrorKind } from '../../src/errors.js';
import { base32Encode } from '../../src/crypto/base32.js';
import {
  destinationToB32,
  i2pBase64Decode,
  i2pBase64Encode,
  isB32Address,
  isI2pAddress,
  isI2pBase64,
  parseDestination,
  parseI2pAddress,
  splitPrivateKey,
} from '../../src/net/i2p/address.js';
import { freePort } from '../helpers/ports.js';
import { killAndWait, spawnTracked } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

/** A structurally valid destination: random keys, KEY certificate (sig type, crypto type). */
function makeDestination(sigType = 7, cryptoType = 0): Buffer {
  const cert = Buffer.from([5, 0, 4, sigType >> 8, sigType & 0xff, cryptoType >> 8, cryptoType & 0xff]);
  return Buffer.concat([randomBytes(384), cert]);
}

function assertKind(fn: () => unknown, kind: ErrorKind, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTahoeError(e, kind), `expected ${kind}, got ${String(e)}`);
    if (pattern) assert.match(e.message + ' ' + e.hint, pattern);
    return true;
  });
}

test('I2P base64 uses - and ~ and is validated before decoding', () => {
  const data = Buffer.from([0xfb, 0xff, 0xbf, 0xfe]); // standard base64: "+/+//g=="
  const encoded = i2pBase64Encode(data);
  assert.equal(encoded, '-~-~~g==');
  assert.ok(isI2pBase64(encoded));
  assert.deepEqual(i2pBase64Decode(encoded), data);
  for (let n = 0; n < 40; n++) {
    const bytes = randomBytes(n + 1);
    assert.deepEqual(i2pBase64Decode(i2pBase64Encode(bytes)), bytes);
  }
  // Buffer.from would silently skip these; we refuse them.
  assertKind(() => i2pBase64Decode('AA+A'), 'I2pAddressInvalid', /I2P base64/);
  assertKind(() => i2pBase64Decode('AA/A'), 'I2pAddressInvalid');
  assertKind(() => i2pBase64Decode('AA A'), 'I2pAddressInvalid');
  assertKind(() => i2pBase64Decode('AAA'), 'I2pAddressInvalid', /groups of 4/);
  assertKind(() => i2pBase64Decode(''), 'I2pAddressInvalid');
  assertKind(() => i2pBase64Decode('AB=='), 'I2pAddressInvalid', /canonical/); // 'B' leaves non-zero unused bits
  assert.ok(!isI2pBase64('AB=='));
});

test('destination length follows from the certificate length', () => {
  const ed = makeDestination(7, 0);
  assert.equal(ed.length, 391);
  const info = parseDestination(ed);
  assert.equal(info.length, 391);
  assert.equal(info.signatureType, 7);
  assert.equal(info.cryptoType, 0);
  assert.deepEqual(info.signingPublicKey, ed.subarray(352, 384));
  assert.equal(i2pBase64Encode(ed).length, 524);

  const nullCert = Buffer.concat([randomBytes(384), Buffer.from([0, 0, 0])]);
  assert.equal(parseDestination(nullCert).length, 387);
  assert.equal(parseDestination(nullCert).signatureType, 0);

  // RSA-4096 signing key: 512 - 128 = 384 excess bytes in the certificate.
  const rsaCert = Buffer.alloc(7 + 384);
  rsaCert.set([5, 0x01, 0x84, 0, 6, 0, 0]);
  const rsa = Buffer.concat([randomBytes(384), rsaCert]);
  assert.equal(parseDestination(rsa).length, 387 + 388);
  assert.equal(parseDestination(rsa).signingPublicKey.length, 512);

  assertKind(() => parseDestination(ed.subarray(0, 390)), 'I2pAddressInvalid', /runs past/);
  assertKind(() => parseDestination(ed.subarray(0, 100)), 'I2pAddressInvalid', /too short/);
  const badType = Buffer.from(ed);
  badType[384] = 3;
  assertKind(() => parseDestination(badType), 'I2pAddressInvalid', /certificate type 3/);
  assertKind(() => parseDestination(makeDestination(99, 0)), 'I2pAddressInvalid', /signature type 99/);
  assertKind(() => parseDestination(makeDestination(7, 9)), 'I2pAddressInvalid', /crypto type 9/);
  const badLen = Buffer.concat([randomBytes(384), Buffer.from([5, 0, 5, 0, 7, 0, 0, 0])]);
  assertKind(() => parseDestination(badLen), 'I2pAddressInvalid', /certificate length 5/);
});

test('b32 address = base32(sha256(destination)) + .b32.i2p', () => {
  const dest = makeDestination();
  const b32 = destinationToB32(dest);
  assert.equal(b32, `${base32Encode(createHash('sha256').update(dest).digest())}.b32.i2p`);
  assert.equal(b32.length, 52 + 8);
  assert.ok(isB32Address(b32));
  assert.deepEqual(parseI2pAddress(b32), { kind: 'b32', address: b32 });
  const parsed = parseI2pAddress(i2pBase64Encode(dest));
  assert.deepEqual(parsed, { kind: 'destination', address: i2pBase64Encode(dest), b32 });
});

test('I2P address forms: b32, names, destinations; bad ones give I2pAddressInvalid with hints', () => {
  assert.deepEqual(parseI2pAddress('tahoe-grid.i2p'), { kind: 'name', address: 'tahoe-grid.i2p' });
  assert.deepEqual(parseI2pAddress('sub.example.i2p'), { kind: 'name', address: 'sub.example.i2p' });
  const b32 = `${'a'.repeat(52)}.b32.i2p`;
  assert.ok(isI2pAddress(b32));
  assertKind(() => parseI2pAddress(`${'a'.repeat(51)}.b32.i2p`), 'I2pAddressInvalid', /51 characters/);
  // unused bits not zero: the message must say so, not "has 52 characters … expected 52"
  assertKind(() => parseI2pAddress(`${'a'.repeat(51)}b.b32.i2p`), 'I2pAddressInvalid', /not canonical base32/);
  assert.throws(() => parseI2pAddress(`${'a'.repeat(51)}b.b32.i2p`), (e: unknown) => e instanceof Error && !/expected 52/.test(e.message) && /"a" or "q"/.test((e as { hint?: string }).hint ?? ''));
  assert.ok(isI2pAddress(`${'a'.repeat(51)}q.b32.i2p`));
  assertKind(() => parseI2pAddress(`${'a'.repeat(60)}.b32.i2p`), 'I2pAddressInvalid', /b33/);
  assertKind(() => parseI2pAddress(`${'A'.repeat(52)}.b32.i2p`), 'I2pAddressInvalid', /lowercase/);
  assertKind(() => parseI2pAddress('-bad.i2p'), 'I2pAddressInvalid', /host name/);
  assertKind(() => parseI2pAddress(`${'x'.repeat(70)}.i2p`), 'I2pAddressInvalid', /67/);
  assertKind(() => parseI2pAddress('.i2p'), 'I2pAddressInvalid');
  assertKind(() => parseI2pAddress('example.com'), 'I2pAddressInvalid', /not an I2P address|base64/);
  const priv = Buffer.concat([makeDestination(), randomBytes(288)]);
  assertKind(() => parseI2pAddress(i2pBase64Encode(priv)), 'I2pAddressInvalid', /private key/);
});

test('private key blobs split into destination and private keys', () => {
  const dest = makeDestination(7, 0);
  const privateKeys = randomBytes(256 + 32);
  const split = splitPrivateKey(Buffer.concat([dest, privateKeys]));
  assert.deepEqual(split.destination, dest);
  assert.deepEqual(split.privateKeys, privateKeys);
  assert.equal(split.info.signatureType, 7);
  assertKind(() => splitPrivateKey(Buffer.concat([dest, randomBytes(10)])), 'I2pAddressInvalid', /expected 679/);
  // ECDSA P-256 keys: 64-byte public key, 32-byte private key.
  const p256 = makeDestination(1, 0);
  assert.equal(splitPrivateKey(Buffer.concat([p256, randomBytes(256 + 32)])).destination.length, 391);
});

/** One SAM exchange: write a line, read one reply line. */
async function samCommand(socket: net.Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (d: Buffer) => {
      buffer += d.toString('latin1');
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        socket.off('data', onData);
        resolve(buffer.slice(0, nl));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`${line}\n`);
  });
}

test('i2pd agrees: DEST GENERATE private keys split into exactly the public destination it reports', async (t) => {
  if (!existsSync('/usr/sbin/i2pd')) {
    if (process.env.CI === 'true') throw new Error('i2pd is not installed');
    t.skip('i2pd is not installed');
    return;
  }
  const dir = tempDir(t, 'tahoe-ts-i2pd-');
  const sam = await freePort();
  // Configuration from shared/specs/i2p.md §5.2: offline, loopback only, private netid.
  writeFileSync(
    path.join(dir, 'i2pd.conf'),
    [
      `log = file`, `logfile = ${dir}/i2pd.log`, `loglevel = warn`, `ipv4 = true`, `ipv6 = false`, `nat = false`,
      `host = 127.0.0.1`, `address4 = 127.0.0.1`, `floodfill = true`, `notransit = true`, `netid = 99`,
      `[ntcp2]`, `enabled = true`, `published = true`, `port = ${sam + 1}`,
      `[ssu2]`, `enabled = false`, `[sam]`, `enabled = true`, `address = 127.0.0.1`, `port = ${sam}`,
      `[http]`, `enabled = false`, `[httpproxy]`, `enabled = false`, `[socksproxy]`, `enabled = false`,
      `[upnp]`, `enabled = false`, `[nettime]`, `enabled = false`, `[reseed]`, `urls =`, `threshold = 0`, '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'tunnels.conf'), '');
  mkdirSync(path.join(dir, 'tunnels.d'));
  const router = spawnTracked(t, 'i2pd', [
    `--datadir=${dir}`, `--conf=${dir}/i2pd.conf`, `--tunconf=${dir}/tunnels.conf`, `--tunnelsdir=${dir}/tunnels.d`,
    '--certsdir=/usr/share/i2pd/certificates', `--pidfile=${dir}/i2pd.pid`,
  ], { stdio: ['ignore', 'ignore', 'ignore'] });

  let socket: net.Socket | undefined;
  const deadline = Date.now() + 15_000;
  while (!socket) {
    try {
      socket = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: sam }, () => resolve(s));
        s.once('error', reject);
      });
    } catch {
      if (Date.now() > deadline || router.exitCode !== null) assert.fail('i2pd SAM bridge did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  t.after(async () => {
    socket?.destroy();
    await killAndWait(router, 5000);
  });
  assert.match(await samCommand(socket, 'HELLO VERSION MIN=3.1 MAX=3.1'), /RESULT=OK/);
  for (const sigType of [7, 0, 1]) {
    const reply = await samCommand(socket, `DEST GENERATE SIGNATURE_TYPE=${sigType}`);
    const pub = /PUB=(\S+)/.exec(reply)?.[1];
    const priv = /PRIV=(\S+)/.exec(reply)?.[1];
    assert.ok(pub && priv, `unexpected reply: ${reply.slice(0, 60)}`);
    const split = splitPrivateKey(i2pBase64Decode(priv, 'generated private key'));
    assert.equal(i2pBase64Encode(split.destination), pub, `sig type ${sigType}`);
    assert.equal(split.info.signatureType, sigType);
    const parsed = parseI2pAddress(pub);
    assert.equal(parsed.kind, 'destination');
    if (parsed.kind === 'destination') assert.equal(parsed.b32, destinationToB32(split.destination));
  }
});
