/**
 * In-process introducers and routers for the introducer tests: a real `IntroducerServer`
 * behind a real TCP listener on 127.0.0.1 (real TLS, real pinning), a connection router
 * over the real TCP transport, and announcement helpers.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestContext } from 'node:test';
import { createNodeCertificate, spkiHash, type NodeCertificate } from '../../src/crypto/certificate.js';
import { NodeKey } from '../../src/crypto/node-key.js';
import { createPolicy } from '../../src/net/policy.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { ConnectionRouter } from '../../src/net/router.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import type { Listener } from '../../src/net/transport.js';
import type { Nurl } from '../../src/net/hints.js';
import { IntroducerServer, type IntroducerServerOptions } from '../../src/introducer/server.js';
import { AnnouncementSigner, type AnnouncementValue, type SeqnumStore } from '../../src/introducer/announcement.js';
import { newSwissnum } from '../../src/storage/identity.js';

let sharedCertificate: Promise<NodeCertificate> | undefined;
/** RSA key generation is slow: one introducer certificate per test process. */
export function introducerCertificate(): Promise<NodeCertificate> {
  sharedCertificate ??= createNodeCertificate();
  return sharedCertificate;
}

export interface RunningIntroducer {
  server: IntroducerServer;
  /** TCP connections accepted so far (one per request: the client never pools). */
  readonly connections: number;
  nurl: Nurl;
  port: number;
  /** Stop listening and drop every connection (a crash, as subscribers see it). */
  stop(): Promise<void>;
  /** A new introducer process: same identity, swissnum and port, empty state. */
  restart(options?: Partial<IntroducerServerOptions>): Promise<void>;
}

export async function startIntroducer(t: Pick<TestContext, 'after'>, options: Partial<IntroducerServerOptions> & { port?: number } = {}): Promise<RunningIntroducer> {
  const cert = await introducerCertificate();
  const swissnum = options.swissnum ?? newSwissnum();
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  let server: IntroducerServer | undefined;
  let listener: Listener | undefined;
  let port = options.port ?? 0;
  let connections = 0;
  const open = async (extra: Partial<IntroducerServerOptions>): Promise<void> => {
    const s = new IntroducerServer({ identity: { certPem: cert.certPem, keyPem: cert.keyPem }, swissnum, ...options, ...extra });
    server = s;
    listener = await tcp.listen({ kind: 'tcp', host: '127.0.0.1', port }, (stream) => {
      connections++;
      s.acceptConnection(stream);
    });
    const hint = listener.hints[0];
    if (hint.kind !== 'tcp') throw new Error('unexpected hint');
    port = hint.port;
  };
  const close = async (): Promise<void> => {
    await listener?.close();
    await server?.close();
    listener = undefined;
  };
  await open({});
  t.after(async () => {
    await close();
    await tcp.close();
  });
  const running: RunningIntroducer = {
    get server() {
      return server as IntroducerServer;
    },
    get connections() {
      return connections;
    },
    nurl: { scheme: 'pb', spkiHash: spkiHash(cert.certificate), host: '127.0.0.1', port, swissnum },
    get port() {
      return port;
    },
    stop: close,
    restart: async (extra = {}) => {
      await close();
      await open(extra);
    },
  };
  return running;
}

/**
 * A stand-in introducer that answers every request with `answer` (fault injection: a
 * lying or broken introducer), over real TLS with the introducer certificate.
 */
export async function startFakeIntroducer(t: Pick<TestContext, 'after'>, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Nurl> {
  const cert = await introducerCertificate();
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, answer);
  const tcp = new TcpTransport({ gate: OPEN_GATE });
  const listener = await tcp.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, (stream) => server.emit('connection', stream));
  t.after(async () => {
    await listener.close();
    server.closeAllConnections();
    server.close();
    await tcp.close();
  });
  const hint = listener.hints[0];
  if (hint.kind !== 'tcp') throw new Error('unexpected hint');
  return { scheme: 'pb', spkiHash: spkiHash(cert.certificate), host: '127.0.0.1', port: hint.port, swissnum: newSwissnum() };
}

/** A router that dials 127.0.0.1 directly (no Tor, no I2P). */
export function tcpRouter(t: Pick<TestContext, 'after'>): ConnectionRouter {
  const policy = createPolicy({ torEnabled: false, i2pEnabled: false });
  const tcp = new TcpTransport({ gate: policy.gate });
  t.after(() => tcp.close());
  return new ConnectionRouter({ policy, transports: new Map([['tcp', tcp]]) });
}

export function memorySeqnumStore(initial?: number): SeqnumStore & { value: number | undefined } {
  const store = {
    value: initial,
    load: async () => store.value,
    save: async (n: number) => {
      store.value = n;
    },
  };
  return store;
}

/** A storage-like announcement body (what a server would publish, minus seqnum/nonce). */
export function storageBody(nickname: string, extra: Record<string, AnnouncementValue> = {}): Record<string, AnnouncementValue> {
  return {
    version: 0,
    nickname,
    'app-versions': [],
    'my-version': 'tahoe-ts/test',
    'oldest-supported': '1.0.0',
    'service-name': 'storage',
    ...extra,
  };
}

export function newSigner(nickname: string, key = NodeKey.generate()): { key: NodeKey; signer: AnnouncementSigner; store: SeqnumStore & { value: number | undefined } } {
  const store = memorySeqnumStore();
  return { key, signer: new AnnouncementSigner(key, storageBody(nickname), store), store };
}

/** Wait until `check()` is true (polling), or fail after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
