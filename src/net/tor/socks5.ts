/**
 * SOCKS5 client for Tor's SOCKS port: CONNECT only, host names always sent as ATYP 3
 * (the proxy resolves them; we never do), username/password for stream isolation, Tor's
 * extended reply codes as typed errors.
 *
 * Specs: RFC 1928 (SOCKS5), RFC 1929 (username/password), torspec
 * `socks-extensions.txt` (IPv6 unsupported, optimistic data, `<torS0X>` isolation
 * usernames), proposal 304 (extended error codes F0–F7); summarised in
 * shared/specs/tor.md §1.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { TahoeError, throwIfAborted, type ErrorKind } from '../../errors.js';
import { openSocket, type EgressGate, type SocketEndpoint } from '../socket.js';

export interface SocksCredentials {
  username: string;
  password: string;
}

export interface Socks5ConnectOptions {
  /** Tor's SOCKS port: TCP or unix socket. */
  proxy: SocketEndpoint;
  gate: EgressGate;
  /** Host name (.onion or DNS name, resolved by tor) or IPv4 literal. */
  host: string;
  port: number;
  /** Stream isolation: different credentials never share a circuit (IsolateSOCKSAuth). */
  credentials?: SocksCredentials;
  signal?: AbortSignal;
  /** Limit for the whole handshake, proxy connection included. */
  timeoutMs?: number;
  /** Sent right after the CONNECT request, before tor answers (saves a round trip). */
  optimisticData?: Uint8Array;
  onProgress?: (phase: string) => void;
}

const SOCKS_VERSION = 0x05;
const AUTH_NONE = 0x00;
const AUTH_USERPASS = 0x02;
const AUTH_NO_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

interface ReplyCodeInfo {
  kind: ErrorKind;
  meaning: string;
  hint: string;
}

/** What each reply code means for the user (RFC 1928 §6, proposal 304, tor.md §1.2). */
const REPLY_CODES: Record<number, ReplyCodeInfo> = {
  0x01: { kind: 'ProxyRefused', meaning: 'general failure', hint: 'tor could not open the stream; for a loopback or private address the exit policy forbids it; otherwise retry later' },
  0x02: { kind: 'ProxyRefused', meaning: 'connection not allowed by ruleset', hint: 'tor\'s rules forbid this destination (SafeSocks refuses IP addresses, or an exit policy); use a host name' },
  0x03: { kind: 'ProxyRefused', meaning: 'network unreachable', hint: 'tor has no usable circuit: is it bootstrapped? check the tor log and your network connection' },
  0x04: { kind: 'ServerUnreachable', meaning: 'host unreachable', hint: 'the server could not be reached through tor; it may be offline' },
  0x05: { kind: 'ServerUnreachable', meaning: 'connection refused', hint: 'the server refused the connection: it is offline or not listening on that port' },
  0x06: { kind: 'Timeout', meaning: 'TTL expired (tor: timed out)', hint: 'tor gave up waiting for the server; retry later' },
  0x07: { kind: 'ProxyRefused', meaning: 'command not supported', hint: 'the proxy does not support CONNECT: is [tor] socks.port really tor\'s SOCKS port?' },
  0x08: { kind: 'ProxyRefused', meaning: 'address type not supported', hint: 'tor does not accept this kind of address; use a host name' },
  0xf0: { kind: 'OnionNotFound', meaning: 'onion service descriptor not found', hint: 'the onion service has not published a descriptor: it is offline or just starting; retry in a minute' },
  0xf1: { kind: 'OnionUnreachable', meaning: 'onion service descriptor is invalid', hint: 'the onion service published an unusable descriptor: it is misconfigured; tell its operator' },
  0xf2: { kind: 'OnionUnreachable', meaning: 'onion service introduction failed', hint: 'the onion service did not answer its introduction points: it may be overloaded or offline; retry later' },
  0xf3: { kind: 'OnionUnreachable', meaning: 'onion service rendezvous failed', hint: 'the rendezvous with the onion service failed: network trouble; retry later' },
  0xf4: { kind: 'OnionAuthRequired', meaning: 'onion service client authorization missing', hint: 'this onion service needs client authorization: add its ClientAuthV3 private key to tor (ONION_CLIENT_AUTH_ADD or ClientOnionAuthDir)' },
  0xf5: { kind: 'OnionAuthRequired', meaning: 'onion service client authorization wrong', hint: 'tor\'s client authorization key for this onion service was refused: access was revoked or the key is wrong' },
  0xf6: { kind: 'OnionAddressInvalid', meaning: 'invalid onion address', hint: 'the .onion address is invalid (checksum, key or encoding): check it for a typo' },
  0xf7: { kind: 'OnionUnreachable', meaning: 'onion service introduction timed out', hint: 'the onion service took too long to answer; retry later' },
};

/** The error for a non-zero SOCKS reply code, with the code kept in `details.code`. */
export function socksReplyError(code: number, target: string): TahoeError {
  const info = REPLY_CODES[code];
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  if (!info) {
    return new TahoeError('ProxyRefused', `tor refused the connection to ${target}: SOCKS reply ${hex}`, {
      hint: 'tor answered with a reply code tahoe-ts does not know; check the tor log',
      details: { code, replyHex: hex, target },
    });
  }
  return new TahoeError(info.kind, `tor could not connect to ${target}: ${info.meaning} (SOCKS reply ${hex})`, {
    hint: info.hint,
    details: { code, replyHex: hex, target },
  });
}

function protocolError(message: string, details: Record<string, string | number> = {}): TahoeError {
  return new TahoeError('ProxyProtocolError', `SOCKS proxy protocol error: ${message}`, { details });
}

function isIpv4Literal(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}

/** The address part of a CONNECT request; refuses what Tor cannot take before anything is sent. */
export function encodeSocksAddress(host: string): Buffer {
  if (host.includes(':') || host.startsWith('[')) {
    throw new TahoeError('EndpointInvalid', `cannot connect to the IPv6 address ${host} through tor`, {
      hint: 'tor\'s SOCKS port does not take IPv6 address literals: use a host name or an IPv4 address',
      details: { host },
    });
  }
  if (isIpv4Literal(host)) return Buffer.from([ATYP_IPV4, ...host.split('.').map(Number)]);
  const name = Buffer.from(host, 'utf8');
  if (name.length === 0 || name.length > 255 || !/^[\x21-\x7e]+$/.test(host)) {
    throw new TahoeError('EndpointInvalid', `not a usable host name: ${JSON.stringify(host.slice(0, 80))}`, {
      hint: 'a host name is 1–255 printable ASCII characters without spaces (internationalized names must be punycode)',
      details: { length: name.length },
    });
  }
  return Buffer.concat([Buffer.from([ATYP_DOMAIN, name.length]), name]);
}

function checkCredentials(credentials: SocksCredentials): void {
  for (const [what, value] of [['username', credentials.username], ['password', credentials.password]] as const) {
    const length = Buffer.byteLength(value, 'utf8');
    if (length < 1 || length > 255) throw new TahoeError('Internal', `SOCKS ${what} must be 1–255 bytes, not ${length}`);
  }
}

/**
 * Reads exact byte counts from a socket during the handshake, leaving anything beyond
 * in the socket's buffer, so application data that follows the reply is not lost.
 */
class ExactReader {
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: TahoeError) => void } | undefined;
  private failure: TahoeError | undefined;

  constructor(private readonly socket: net.Socket) {
    socket.on('readable', this.onReadable);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  read(n: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.onReadable();
    });
  }

  fail(error: TahoeError): void {
    this.failure ??= error;
    const want = this.want;
    this.want = undefined;
    want?.reject(this.failure);
  }

  detach(): void {
    this.socket.off('readable', this.onReadable);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
  }

  private readonly onReadable = (): void => {
    if (!this.want) return;
    const chunk = this.socket.read(this.want.n) as Buffer | null;
    if (chunk === null) return;
    if (chunk.length < this.want.n) {
      // read(n) hands out a shorter rest only once the stream has ended
      this.fail(protocolError('the proxy closed the connection in the middle of a reply (short reply)', { reason: 'short' }));
      return;
    }
    const want = this.want;
    this.want = undefined;
    want.resolve(chunk);
  };

  private readonly onEnd = (): void => {
    this.fail(protocolError('the proxy closed the connection during the SOCKS handshake (short reply)', { reason: 'closed' }));
  };

  private readonly onError = (err: Error): void => {
    this.fail(new TahoeError('ProxyProtocolError', `SOCKS proxy connection failed during the handshake: ${err.message}`, { cause: err, details: { reason: 'socket-error' } }));
  };
}

/**
 * Open a stream to host:port through a SOCKS5 proxy. Resolves with the connected socket
 * (the proxy relays from then on); rejects with a TahoeError and closes the socket.
 */
export async function socks5Connect(options: Socks5ConnectOptions): Promise<net.Socket> {
  throwIfAborted(options.signal);
  const target = `${options.host}:${options.port}`;
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new TahoeError('EndpointInvalid', `port must be 1–65535, not ${options.port}`, { details: { port: options.port } });
  }
  const address = encodeSocksAddress(options.host);
  if (options.credentials) checkCredentials(options.credentials);

  const started = Date.now();
  const remaining = () => (options.timeoutMs === undefined ? undefined : Math.max(1, options.timeoutMs - (Date.now() - started)));
  options.onProgress?.('connecting to tor');
  const socket = await openSocket(options.proxy, { gate: options.gate, purpose: 'tor-socks', signal: options.signal, timeoutMs: remaining() });
  socket.setNoDelay(true);
  const reader = new ExactReader(socket);

  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    try {
      throwIfAborted(options.signal);
    } catch (e) {
      reader.fail(e as TahoeError);
    }
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const left = remaining();
  if (left !== undefined) {
    timer = setTimeout(() => {
      reader.fail(new TahoeError('Timeout', `SOCKS handshake for ${target} timed out after ${options.timeoutMs} ms`, {
        hint: 'tor did not answer in time: onion services can take a minute to reach; raise the timeout or retry',
        details: { target, timeoutMs: options.timeoutMs },
      }));
    }, left);
  }
  try {
    await handshake(socket, reader, options, address, target);
    return socket;
  } catch (e) {
    socket.destroy();
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    reader.detach();
  }
}

async function handshake(socket: net.Socket, reader: ExactReader, options: Socks5ConnectOptions, address: Buffer, target: string): Promise<void> {
  // Offer only the method we mean to use: with credentials a proxy that skips them would
  // silently lose stream isolation.
  const method = options.credentials ? AUTH_USERPASS : AUTH_NONE;
  options.onProgress?.('socks handshake');
  socket.write(Buffer.from([SOCKS_VERSION, 1, method]));
  const choice = await reader.read(2);
  if (choice[0] !== SOCKS_VERSION) throw protocolError(`not a SOCKS5 reply (version byte 0x${choice[0].toString(16)})`, { reason: 'version' });
  if (choice[1] === AUTH_NO_ACCEPTABLE) {
    throw new TahoeError('ProxyRefused', `the SOCKS proxy accepts none of our authentication methods (offered 0x0${method})`, {
      hint: options.credentials ? 'the proxy does not take username/password: is it tor? (tor always does)' : 'the proxy requires authentication that tahoe-ts does not have',
      details: { offered: method },
    });
  }
  if (choice[1] !== method) throw protocolError(`the proxy chose authentication method 0x${choice[1].toString(16)}, which was not offered`, { reason: 'method' });
  if (socket.readableLength > 0) throw protocolError('unexpected bytes after the method selection (oversized reply)', { reason: 'oversized' });

  if (options.credentials) {
    const user = Buffer.from(options.credentials.username, 'utf8');
    const pass = Buffer.from(options.credentials.password, 'utf8');
    socket.write(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]));
    const status = await reader.read(2);
    if (status[0] !== 0x01) throw protocolError(`bad username/password reply version 0x${status[0].toString(16)}`, { reason: 'auth-version' });
    if (status[1] !== 0x00) {
      throw new TahoeError('ProxyRefused', 'the SOCKS proxy refused our username/password', {
        hint: 'tor accepts any credentials; is [tor] socks.port really tor\'s SOCKS port?',
        details: { status: status[1] },
      });
    }
    if (socket.readableLength > 0) throw protocolError('unexpected bytes after the authentication reply (oversized reply)', { reason: 'oversized' });
  }

  const port = Buffer.alloc(2);
  port.writeUInt16BE(options.port);
  options.onProgress?.('waiting for tor to open the stream');
  socket.write(Buffer.concat([Buffer.from([SOCKS_VERSION, CMD_CONNECT, 0x00]), address, port]));
  if (options.optimisticData && options.optimisticData.length > 0) socket.write(options.optimisticData);

  const head = await reader.read(2);
  if (head[0] !== SOCKS_VERSION) throw protocolError(`not a SOCKS5 reply (version byte 0x${head[0].toString(16)})`, { reason: 'version' });
  // Tor may close right after a failure reply, so the code counts before the rest arrives.
  if (head[1] !== 0x00) throw socksReplyError(head[1], target);
  const [, atyp] = await reader.read(2);
  let rest: number;
  if (atyp === ATYP_IPV4) rest = 4 + 2;
  else if (atyp === ATYP_IPV6) rest = 16 + 2;
  else if (atyp === ATYP_DOMAIN) rest = (await reader.read(1))[0] + 2;
  else throw protocolError(`unknown address type 0x${atyp.toString(16)} in the reply`, { reason: 'atyp' });
  await reader.read(rest);
  options.onProgress?.('connected');
}

/** The username that marks an isolation token for both C tor and Arti (socks-extensions §2). */
export const ISOLATION_USERNAME = '<torS0X>0';

/**
 * Per-key SOCKS credentials: streams with different keys never share a circuit (AN-4).
 * Tokens are random, so they reveal nothing about the key (e.g. a server id).
 */
export class StreamIsolation {
  private readonly tokens = new Map<string, string>();

  credentialsFor(key = ''): SocksCredentials {
    let token = this.tokens.get(key);
    if (token === undefined) {
      token = randomBytes(16).toString('hex');
      this.tokens.set(key, token);
    }
    return { username: ISOLATION_USERNAME, password: token };
  }

  /** Forget all tokens: later streams get new circuits (use with SIGNAL NEWNYM). */
  rotate(): void {
    this.tokens.clear();
  }
}
