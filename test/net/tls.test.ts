import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { acceptTlsStream, connectPinnedTls, dropFailedHandshakes, listenTcp, tlsServerOptions } from '../../src/net/tls.js';
import { createNodeCertificate, spkiHash, tubIdOf } from '../../src/crypto/certificate.js';
import { OPEN_GATE, openSocket } from '../../src/net/socket.js';
import { isTahoeError } from '../../src/errors.js';
import { opaqueDuplex } from './tls-helpers.js';

const identityP = createNodeCertificate();

async function dial(port: number): Promise<net.Socket> {
  return openSocket({ host: '127.0.0.1', port }, { gate: OPEN_GATE, purpose: 'local' });
}

/** A TLS echo server fed through listenTcp + acceptTlsStream with opaque duplexes. */
async function startEchoServer(t: { after: (fn: () => unknown) => void }, identity = undefined as undefined | { certPem: string; keyPem: string }) {
  const id = identity ?? (await identityP);
  const received: Buffer[] = [];
  const servernames: Array<string | false> = [];
  const server = tls.createServer(tlsServerOptions(id, { handshakeTimeoutMs: 2000 }), (s) => {
    servernames.push(s.servername as string | false);
    s.on('data', (d: Buffer) => {
      received.push(d);
      s.write(d);
    });
    s.on('error', () => undefined);
  });
  dropFailedHandshakes(server);
  const listener = await listenTcp('127.0.0.1', 0, (sock) => acceptTlsStream(server, opaqueDuplex(sock)));
  t.after(() => listener.close());
  return { port: listener.port, received, servernames };
}

test('pinned TLS over opaque duplexes: matching pin connects, no SNI is sent, data flows', async (t) => {
  const id = await identityP;
  const { port, servernames } = await startEchoServer(t);
  const sock = await connectPinnedTls(opaqueDuplex(await dial(port)), { spkiHash: spkiHash(id.certificate), timeoutMs: 5000 });
  t.after(() => sock.destroy());
  const echoed = new Promise<Buffer>((resolve) => sock.once('data', resolve));
  sock.write('hello');
  assert.equal((await echoed).toString(), 'hello');
  assert.deepEqual(servernames, [false]);
});

test('wrong pin: TlsPinMismatch and not one application byte reaches the server', async (t) => {
  const other = await createNodeCertificate();
  const { port, received } = await startEchoServer(t);
  await assert.rejects(
    connectPinnedTls(await dial(port), { spkiHash: spkiHash(other.certificate), timeoutMs: 5000 }),
    (e: unknown) => isTahoeError(e, 'TlsPinMismatch') && e.details.expected === spkiHash(other.certificate),
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, 0);
});

test('a fURL pin (TubID) works the same way: right TubID connects, a wrong one sends nothing; exactly one pin', async (t) => {
  const id = await identityP;
  const { port, received } = await startEchoServer(t);
  const sock = await connectPinnedTls(await dial(port), { tubId: tubIdOf(id.certificate), timeoutMs: 5000 });
  sock.destroy();
  const other = await createNodeCertificate();
  await assert.rejects(
    connectPinnedTls(await dial(port), { tubId: tubIdOf(other.certificate), timeoutMs: 5000, peer: 'the introducer' }),
    (e: unknown) => isTahoeError(e, 'TlsPinMismatch') && /the introducer does not match the TubID of its fURL/.test(e.message) && /new identity/.test(e.hint),
  );
  // the SPKI hash is not a TubID: a mix-up cannot pass
  await assert.rejects(connectPinnedTls(await dial(port), { tubId: spkiHash(id.certificate), timeoutMs: 5000 }), (e: unknown) => isTahoeError(e, 'TlsPinMismatch'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, 0);
  const s = await dial(port);
  t.after(() => s.destroy());
  assert.throws(() => connectPinnedTls(s, { spkiHash: spkiHash(id.certificate), tubId: tubIdOf(id.certificate) }), (e: unknown) => isTahoeError(e, 'Internal'));
  assert.throws(() => connectPinnedTls(s, {}), (e: unknown) => isTahoeError(e, 'Internal'));
});

test('a CA-issued certificate is refused even when its key matches the pin', async (t) => {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const leafKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  type P = Parameters<typeof x509.X509CertificateGenerator.create>[0];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=newpb_thingy',
    issuer: 'CN=some ca',
    notBefore: new Date(Date.now() - 1000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
  } as unknown as P);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  const certPem = leaf.toString('pem');
  const { port, received } = await startEchoServer(t, { certPem, keyPem });
  await assert.rejects(
    connectPinnedTls(await dial(port), { spkiHash: spkiHash(certPem), timeoutMs: 5000 }),
    (e: unknown) => isTahoeError(e, 'TlsPinMismatch') && /self-signed/.test(e.message),
  );
  assert.equal(received.length, 0);
});

test('a peer that does not speak TLS gives ProtocolError; one that hangs gives Timeout; abort gives Aborted', async (t) => {
  const garbage = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end('HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS at all, sorry\r\n'.repeat(4));
  });
  const silent = net.createServer((s) => s.on('error', () => undefined));
  const open = new Set<net.Socket>();
  silent.on('connection', (s) => open.add(s));
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of open) s.destroy();
    garbage.close();
    silent.close();
  });
  const pin = spkiHash((await identityP).certificate);
  await assert.rejects(
    connectPinnedTls(await dial((garbage.address() as net.AddressInfo).port), { spkiHash: pin, timeoutMs: 5000 }),
    (e: unknown) => isTahoeError(e) && (e.kind === 'ProtocolError' || e.kind === 'ServerUnreachable'),
  );
  const silentPort = (silent.address() as net.AddressInfo).port;
  await assert.rejects(connectPinnedTls(await dial(silentPort), { spkiHash: pin, timeoutMs: 300 }), (e: unknown) => isTahoeError(e, 'Timeout'));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(connectPinnedTls(await dial(silentPort), { spkiHash: pin, signal: ac.signal }), (e: unknown) => isTahoeError(e, 'Aborted'));
});

test('the server survives garbage and silent clients and keeps serving', async (t) => {
  const id = await identityP;
  const { port } = await startEchoServer(t);
  const g = await dial(port);
  const closed = new Promise<void>((r) => g.once('close', () => r()));
  g.on('error', () => undefined);
  g.write('GET / HTTP/1.1\r\n\r\n');
  await closed; // the server drops non-TLS clients
  const stall = await dial(port); // never sends a ClientHello: the 2 s handshake timeout drops it
  const stallClosed = new Promise<void>((r) => stall.once('close', () => r()));
  stall.on('error', () => undefined);
  const sock = await connectPinnedTls(await dial(port), { spkiHash: spkiHash(id.certificate), timeoutMs: 5000 });
  sock.destroy();
  await stallClosed;
});

test('listenTcp reports a busy port as ConfigInvalid with a hint', async (t) => {
  const a = await listenTcp('127.0.0.1', 0, (s) => s.destroy());
  t.after(() => a.close());
  await assert.rejects(listenTcp('127.0.0.1', a.port, (s) => s.destroy()), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /another program/.test(e.hint));
});

test('listenTcp: close() frees the port at once and ends the connections it accepted', async (t) => {
  const accepted: Duplex[] = [];
  const a = await listenTcp('127.0.0.1', 0, (s) => accepted.push(s));
  assert.equal(a.host, '127.0.0.1');
  const client = await dial(a.port);
  t.after(() => client.destroy());
  const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    const check = (): void => void (accepted.length > 0 ? resolve() : setTimeout(check, 10));
    check();
  });
  await a.close();
  await clientClosed;
  assert.ok(accepted[0].destroyed, 'the accepted connection was ended');
  const again = await listenTcp('127.0.0.1', a.port, (s) => s.destroy());
  await again.close();
});
