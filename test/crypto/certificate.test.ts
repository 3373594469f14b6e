import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate, createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import {
  NODE_CERTIFICATE_CN,
  createNodeCertificate,
  isSelfSigned,
  parseNodePem,
  spkiDer,
  spkiHash,
  tubIdBytes,
  tubIdOf,
} from '../../src/crypto/certificate.js';
import { base32Decode, isBase32 } from '../../src/crypto/base32.js';
import { isTahoeError } from '../../src/errors.js';
import { vectorFile } from '../helpers/shared.js';

interface SpkiVector {
  certificate: string;
  'expected-spki': string;
  'expected-hash': string;
}

test('spkiHash reproduces every upstream SPKI vector', (t) => {
  const file = vectorFile(t, 'spki-hash-test-vectors.yaml');
  if (file === undefined) return;
  const doc = parseYaml(readFileSync(file, 'utf8')) as { vector: SpkiVector[] };
  assert.equal(doc.vector.length, 3);
  for (const v of doc.vector) {
    assert.equal(spkiDer(v.certificate).toString('base64'), v['expected-spki'].replace(/\s/g, ''));
    const hash = spkiHash(v.certificate);
    assert.equal(hash, v['expected-hash'].trim());
    assert.equal(hash.length, 43);
  }
});

test('a created node certificate looks like Foolscap\'s and round-trips through node.pem', async () => {
  const id = await createNodeCertificate();
  const c = id.certificate;
  assert.equal(c.subject, `CN=${NODE_CERTIFICATE_CN}`);
  assert.equal(c.issuer, `CN=${NODE_CERTIFICATE_CN}`);
  assert.ok(isSelfSigned(c));
  assert.equal(c.publicKey.asymmetricKeyType, 'rsa');
  assert.equal(c.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const days = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000;
  assert.ok(days > 364 && days < 366, `validity ${days} days`);
  // sha256WithRSAEncryption OID 1.2.840.113549.1.1.11 appears in the DER
  assert.ok(c.raw.includes(Buffer.from('06092a864886f70d01010b', 'hex')));
  // certificate first, then the key, like Foolscap's PrivateCertificate.dumpPEM
  assert.ok(id.nodePem.indexOf('BEGIN CERTIFICATE') < id.nodePem.indexOf('BEGIN PRIVATE KEY'));

  const again = parseNodePem(id.nodePem);
  assert.equal(spkiHash(again.certificate), spkiHash(c));
  assert.equal(tubIdOf(again.certificate), tubIdOf(c));
  // key order does not matter and PKCS#1 keys are accepted too
  const pkcs1 = again.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const swapped = parseNodePem(pkcs1 + id.certPem);
  assert.equal(spkiHash(swapped.certificate), spkiHash(c));
});

test('tubIdOf is base32(sha1(cert DER)), 32 chars; spkiHash is base64url(sha256(spki)), 43 chars', async () => {
  const id = await createNodeCertificate();
  const tubid = tubIdOf(id.certificate);
  assert.equal(tubid.length, 32);
  assert.ok(isBase32(tubid));
  assert.deepEqual(base32Decode(tubid), createHash('sha1').update(id.certificate.raw).digest());
  assert.deepEqual(tubIdBytes(id.certPem), base32Decode(tubid));
  const expected = createHash('sha256').update(id.certificate.publicKey.export({ type: 'spki', format: 'der' })).digest('base64url');
  assert.equal(spkiHash(id.certificate.raw), expected);
  assert.match(expected, /^[A-Za-z0-9_-]{43}$/);
});

test('parseNodePem rejects damaged files with NodeDirInvalid and a hint', async () => {
  const a = await createNodeCertificate();
  const b = await createNodeCertificate();
  const cases = ['', 'garbage', a.certPem, a.keyPem, a.certPem + b.keyPem, a.certPem.replace(/[A-Za-z]{10}/, 'AAAAAAAAAA') + a.keyPem];
  for (const text of cases) {
    assert.throws(() => parseNodePem(text), (e: unknown) => isTahoeError(e, 'NodeDirInvalid') && e.hint.includes('node.pem'));
  }
});

test('isSelfSigned is false for a certificate issued by another key', async () => {
  const a = await createNodeCertificate();
  // Vector certificates are self-signed too; a forged issuer name with a wrong signature must fail
  const der = Buffer.from(a.certificate.raw);
  der[der.length - 5] ^= 0xff; // break the signature
  assert.equal(isSelfSigned(new X509Certificate(der)), false);
  assert.equal(isSelfSigned(a.certificate), true);
});
