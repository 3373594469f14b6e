/**
 * TLS over any duplex stream, both sides, with the NURL's SPKI pin.
 *
 * Spec: shared/specs/storage-protocol.md §1–§2 and tahoe-lafs
 * `docs/specifications/http-storage-node-protocol.rst` ("Server Certificate",
 * "Connecting"): the server presents one self-signed certificate; the client does not
 * validate it against any CA but accepts it only if it is self-signed and
 * base64url(SHA-256(SPKI)) equals the hash in the NURL (or, for a fURL, base32(SHA-1(DER))
 * equals its TubID, as Foolscap pins). The pin is checked on the
 * secure connection *before* the caller gets the socket, so no request byte (and no
 * swissnum) is ever written to an unpinned peer. No SNI is sent (the 1.20 client sends
 * none, and over Tor/I2P a name would only leak).
 *
 * The stream underneath can be anything a Transport hands out: a TCP socket today,
 * a SOCKS5 stream through Tor or a SAM stream through I2P later.
 */
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import { TahoeError, throwIfAborted } from '../errors.js';
import { isSelfSigned, spkiHash, tubIdOf } from '../crypto/certificate.js';
import { TcpTransport } from './tcp.js';
import type { EgressGate } from './socket.js';

/** What a TLS server presents: the node certificate and its key, in PEM. */
export interface TlsServerIdentity {
  certPem: string;
  keyPem: string;
}

export interface TlsServerOptionsInput {
  /** Abort handshakes that take longer (slow or garbage clients). Default 30 s. */
  handshakeTimeoutMs?: number;
}

/** Options for `tls.createServer` / `https.createServer` serving a node identity. */
export function tlsServerOptions(identity: TlsServerIdentity, input: TlsServerOptionsInput = {}): tls.TlsOptions {
  return {
    cert: identity.certPem,
    key: identity.keyPem,
    // Tahoe servers never ask for client certificates.
    requestCert: false,
    minVersion: 'TLSv1.2',
    handshakeTimeout: input.handshakeTimeoutMs ?? 30_000,
  };
}

/**
 * Make a TLS/HTTPS server drop connections whose handshake fails or times out. Node only
 * reports these (`tlsClientError`) and would otherwise keep a silent client's stream
 * open forever, which a slowloris client exploits.
 */
export function dropFailedHandshakes(server: tls.Server, onFailure?: (err: Error) => void): void {
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    socket.destroy();
    onFailure?.(err);
  });
}

/**
 * Feed an already-open stream (a Tor onion connection, an I2P stream, a TCP socket) to a
 * TLS or HTTPS server, which then runs the server side of the handshake on it.
 */
export function acceptTlsStream(server: tls.Server, stream: Duplex): void {
  server.emit('connection', stream);
}

export interface PinnedTlsOptions {
  /** The 43-character SPKI hash from a NURL. */
  spkiHash?: string;
  /**
   * Or the Foolscap TubID, base32(SHA-1(certificate DER)), 32 characters: the pin of a
   * fURL (a tahoe-ts introducer named in its fURL form). Exactly one of the two is given.
   */
  tubId?: string;
  signal?: AbortSignal;
  /** Time limit for the TLS handshake. Default 60 s (Tor circuits can be slow). */
  timeoutMs?: number;
  /** For error messages only (already redacted by loggers). */
  peer?: string;
}

/**
 * Run the client side of TLS over `stream` and check the server's certificate against
 * the pin. Resolves with the secure socket only when the pin matched; otherwise the
 * connection is destroyed and a `TlsPinMismatch` is thrown.
 */
export function connectPinnedTls(stream: Duplex, options: PinnedTlsOptions): Promise<tls.TLSSocket> {
  if ((options.spkiHash === undefined) === (options.tubId === undefined)) {
    throw new TahoeError('Internal', 'connectPinnedTls needs exactly one pin: spkiHash or tubId', { hint: 'this is a bug in tahoe-ts' });
  }
  throwIfAborted(options.signal);
  const peer = options.peer ?? 'the server';
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      socket: stream,
      // We check the pin ourselves; the certificate is self-signed by design.
      rejectUnauthorized: false,
      // No SNI: the 1.20 client sends none, and a name would only leak over Tor/I2P.
      servername: '',
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.2',
    });
    let settled = false;
    const timer = setTimeout(() => {
      fail(new TahoeError('Timeout', `TLS handshake with ${peer} timed out after ${timeoutMs} ms`, {
        hint: 'the server did not complete TLS in time; over Tor or I2P raise the timeout or retry',
      }));
    }, timeoutMs);
    const onAbort = () => fail(new TahoeError('Aborted', `TLS handshake with ${peer} aborted`));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    function cleanup(): void {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
    }
    function fail(err: TahoeError): void {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      stream.destroy();
      reject(err);
    }
    function onSecure(): void {
      if (settled) return;
      let mismatch: TahoeError | undefined;
      try {
        mismatch = checkPin(socket, options, peer);
      } catch (e) {
        mismatch = new TahoeError('TlsPinMismatch', `cannot read the certificate of ${peer}`, { cause: e });
      }
      if (mismatch) return fail(mismatch);
      settled = true;
      cleanup();
      resolve(socket);
    }
    function onError(err: Error): void {
      fail(classifyTlsError(err, peer));
    }
    function onClose(): void {
      fail(new TahoeError('ServerUnreachable', `${peer} closed the connection during the TLS handshake`, {
        hint: 'the server may be down, overloaded, or not a Tahoe storage server on this port',
      }));
    }
    socket.once('secureConnect', onSecure);
    socket.on('error', onError);
    socket.once('close', onClose);
  });
}

function checkPin(socket: tls.TLSSocket, pin: Pick<PinnedTlsOptions, 'spkiHash' | 'tubId'>, peer: string): TahoeError | undefined {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) {
    return new TahoeError('TlsPinMismatch', `${peer} presented no certificate`);
  }
  // The 1.20 client accepts exactly one self-signed certificate; a chain means a CA.
  const detailed = socket.getPeerCertificate(true);
  const issuer = detailed.issuerCertificate;
  if (issuer !== undefined && issuer !== detailed && issuer.fingerprint256 !== detailed.fingerprint256) {
    return new TahoeError('TlsPinMismatch', `${peer} presented a certificate chain, not a single self-signed certificate`);
  }
  if (!isSelfSigned(cert)) {
    return new TahoeError('TlsPinMismatch', `${peer} presented a certificate that is not self-signed`);
  }
  if (pin.tubId !== undefined) {
    const actual = tubIdOf(cert);
    if (!timingSafeEqualStrings(actual, pin.tubId)) {
      return new TahoeError('TlsPinMismatch', `the certificate of ${peer} does not match the TubID of its fURL (expected ${pin.tubId}, got ${actual})`, {
        details: { expected: pin.tubId, actual },
        hint: 'wrong address, a node with a new identity (copy its fURL again), or someone in the middle',
      });
    }
    return undefined;
  }
  const expected = pin.spkiHash as string;
  const actual = spkiHash(cert);
  if (!timingSafeEqualStrings(actual, expected)) {
    return new TahoeError('TlsPinMismatch', `the certificate of ${peer} does not match the NURL (expected SPKI hash ${expected}, got ${actual})`, {
      details: { expected, actual },
    });
  }
  return undefined;
}

function timingSafeEqualStrings(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function classifyTlsError(err: Error, peer: string): TahoeError {
  if (err instanceof TahoeError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('ERR_SSL') || /wrong version number|packet length too long|unexpected eof|alert/i.test(err.message)) {
    return new TahoeError('ProtocolError', `TLS handshake with ${peer} failed: ${err.message}`, {
      cause: err,
      details: { code },
      hint: 'the peer does not speak TLS here: check the NURL\'s host and port',
    });
  }
  return new TahoeError('ServerUnreachable', `connection to ${peer} failed during TLS: ${code || err.message}`, {
    cause: err,
    details: { code },
  });
}

/** The certificate a connected TLS socket's peer presented (for diagnostics). */
export function peerCertificate(socket: tls.TLSSocket): X509Certificate | undefined {
  return socket.getPeerX509Certificate();
}

export interface TcpListenerHandle {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The gate of a TCP transport that only listens: nothing may ever be dialled through it. */
const LISTEN_ONLY_GATE: EgressGate = {
  check: () => {
    throw new TahoeError('Internal', 'a listen-only TCP transport was asked to open a connection', { hint: 'this is a bug in tahoe-ts' });
  },
  allowNameResolution: false,
};

/**
 * A TCP listener that hands every accepted stream to `onConnection` (typically
 * `acceptTlsStream`), for a dedicated HTTPS storage port or the web gateway. It is the
 * tcp transport's own listener (one implementation of binding, error hints and
 * half-open streams): `close()` stops listening and ends every accepted connection.
 */
export async function listenTcp(host: string, port: number, onConnection: (stream: Duplex) => void): Promise<TcpListenerHandle> {
  const transport = new TcpTransport({ gate: LISTEN_ONLY_GATE });
  const listener = await transport.listen({ kind: 'tcp', host, port }, (stream) => onConnection(stream));
  const hint = listener.hints[0];
  if (hint?.kind !== 'tcp') throw new TahoeError('Internal', 'a tcp listener without a tcp hint', { hint: 'this is a bug in tahoe-ts' });
  return { host, port: hint.port, close: () => transport.close() };
}
