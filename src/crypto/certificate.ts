/**
 * The node's TLS identity: a self-signed X.509 certificate and its RSA key, stored
 * together in `private/node.pem` exactly as Tahoe-LAFS (Foolscap) stores them.
 *
 * Spec: shared/specs/storage-protocol.md §1 (certificate, TubID, SPKI hash) and
 * tahoe-lafs `docs/specifications/url.rst` (NURL pin). Facts relied on:
 * - the certificate is self-signed, RSA-2048, sha256WithRSAEncryption, subject and
 *   issuer CN `newpb_thingy`, valid one year (clients ignore everything but the key);
 * - SPKI hash = base64url without padding of SHA-256(DER SubjectPublicKeyInfo), 43 chars;
 * - TubID = lowercase unpadded base32 of SHA-1(DER certificate), 32 chars.
 *
 * Node 20 can parse certificates but not create them, so creation goes through
 * `@peculiar/x509` over WebCrypto. That library (with `reflect-metadata` and its ASN.1
 * stack) adds ~20 MB of resident memory, and a running node only parses certificates,
 * so it is loaded on the first creation only. This module is pure: it never touches files.
 */
import type * as X509Module from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { base32Encode } from './base32.js';
import { sha1, sha256 } from './hashes.js';

/** The subject (and issuer) common name Foolscap gives every Tub certificate. */
export const NODE_CERTIFICATE_CN = 'newpb_thingy';

const RSA_SIGNING = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;

type SelfSignedParams = Parameters<typeof X509Module.X509CertificateGenerator.createSelfSigned>[0];

let x509Loaded: Promise<typeof X509Module> | undefined;
function loadX509(): Promise<typeof X509Module> {
  x509Loaded ??= (async () => {
    await import('reflect-metadata'); // @peculiar/x509's dependency injection needs it first
    const x509 = await import('@peculiar/x509');
    // @peculiar/x509 signs through a WebCrypto provider; Node's is complete enough.
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Loaded;
}

/** A parsed node identity: the certificate the server presents and its private key. */
export interface NodeCertificate {
  certificate: X509Certificate;
  privateKey: KeyObject;
  /** PEM of the certificate alone (what a TLS server presents). */
  certPem: string;
  /** PKCS#8 PEM of the private key (what a TLS server signs with). */
  keyPem: string;
  /** The whole `node.pem` text: certificate then key, as Foolscap writes it. */
  nodePem: string;
}

export interface CreateCertificateOptions {
  /** Validity start; default now. */
  notBefore?: Date;
  /** Validity in days; default 365 like Foolscap. */
  validDays?: number;
}

/**
 * Create a fresh identity like `tahoe create-node` does: RSA-2048 key, self-signed
 * sha256WithRSA certificate with CN `newpb_thingy`. Takes ~0.1–1 s (RSA key generation).
 */
export async function createNodeCertificate(options: CreateCertificateOptions = {}): Promise<NodeCertificate> {
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey(RSA_SIGNING, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date();
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? 365) * 86_400_000);
  // A positive serial: clear the top bit so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  if (serial[0] === 0) serial[0] = 1;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${NODE_CERTIFICATE_CN}`,
    notBefore,
    notAfter,
    signingAlgorithm: RSA_SIGNING,
    keys: keys as unknown as SelfSignedParams['keys'],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const certPem = normalisePem(cert.toString('pem'));
  const keyPem = normalisePem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  return {
    certificate: new X509Certificate(certPem),
    privateKey,
    certPem,
    keyPem,
    nodePem: certPem + keyPem,
  };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/**
 * Parse a `node.pem` (certificate and private key in one file, in either order; the key
 * may be PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY` as older pyOpenSSL wrote it).
 * Checks that the key belongs to the certificate.
 */
export function parseNodePem(text: string, where = 'private/node.pem'): NodeCertificate {
  const hint = `${where} must hold the node's certificate and private key in PEM; if it is damaged, restore it from backup (a new one changes the node's identity)`;
  let certPem: string | undefined;
  let keyPem: string | undefined;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const label = m[1];
    if (label === 'CERTIFICATE' && certPem === undefined) certPem = m[0];
    else if ((label === 'PRIVATE KEY' || label === 'RSA PRIVATE KEY') && keyPem === undefined) keyPem = m[0];
  }
  if (certPem === undefined) throw new TahoeError('NodeDirInvalid', `${where} holds no PEM certificate`, { hint });
  if (keyPem === undefined) throw new TahoeError('NodeDirInvalid', `${where} holds no PEM private key`, { hint });
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(certPem);
  } catch (e) {
    throw new TahoeError('NodeDirInvalid', `${where}: the certificate cannot be parsed`, { hint, cause: e });
  }
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (e) {
    throw new TahoeError('NodeDirInvalid', `${where}: the private key cannot be parsed`, { hint, cause: e });
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new TahoeError('NodeDirInvalid', `${where}: the private key does not belong to the certificate`, { hint });
  }
  const normalisedKey = normalisePem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const normalisedCert = normalisePem(certPem);
  return { certificate, privateKey, certPem: normalisedCert, keyPem: normalisedKey, nodePem: normalisedCert + normalisedKey };
}

/** Parse a certificate given as PEM text, DER bytes or an already parsed object. */
export function toX509(cert: X509Certificate | string | Uint8Array): X509Certificate {
  if (cert instanceof X509Certificate) return cert;
  try {
    return new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (e) {
    throw new TahoeError('BadInput', 'not a valid X.509 certificate', {
      cause: e,
      hint: 'pass a PEM ("-----BEGIN CERTIFICATE-----") or DER certificate',
    });
  }
}

/** DER of the certificate's SubjectPublicKeyInfo. */
export function spkiDer(cert: X509Certificate | string | Uint8Array): Buffer {
  return toX509(cert).publicKey.export({ type: 'spki', format: 'der' });
}

/** The NURL pin: base64url(SHA-256(SPKI DER)) without padding, 43 characters. */
export function spkiHash(cert: X509Certificate | string | Uint8Array): string {
  return sha256(spkiDer(cert)).toString('base64url');
}

/** The Foolscap TubID: base32(SHA-1(certificate DER)), 32 characters. */
export function tubIdOf(cert: X509Certificate | string | Uint8Array): string {
  return base32Encode(sha1(toX509(cert).raw));
}

/** The 20 raw TubID bytes, which clients mix into lease secrets and write enablers. */
export function tubIdBytes(cert: X509Certificate | string | Uint8Array): Buffer {
  return sha1(toX509(cert).raw);
}

/** True when the certificate names itself as issuer and its signature verifies with its own key. */
export function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

function normalisePem(pem: string): string {
  const trimmed = pem.replace(/\r\n/g, '\n').trim();
  return trimmed + '\n';
}
