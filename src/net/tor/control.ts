/**
 * Tor control-port client: authentication (SAFECOOKIE, COOKIE, HASHEDPASSWORD, NULL),
 * commands with pipelined replies, asynchronous events demultiplexed from replies, and
 * the few commands tahoe-ts needs (GETINFO, SETEVENTS, ADD_ONION, DEL_ONION,
 * TAKEOWNERSHIP, SETCONF/RESETCONF, SIGNAL).
 *
 * Spec: torspec `control-spec.txt` §3 (commands), §3.5 (AUTHENTICATE), §3.21
 * (PROTOCOLINFO), §3.24 (AUTHCHALLENGE), §3.27/§3.28 (ADD_ONION/DEL_ONION), §3.23
 * (TAKEOWNERSHIP), proposal 193 (SAFECOOKIE); summarised in shared/specs/tor.md §2.
 * Framing and event parsing live in control-protocol.ts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type net from 'node:net';
import { TahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { openSocket, type EgressGate, type SocketEndpoint } from '../socket.js';
import {
  ControlReplyParser,
  controlProtocolError,
  isAsyncReply,
  parseArguments,
  parseBootstrapPhase,
  parseEvent,
  parseGetInfoReply,
  parseSocksListeners,
  quoteString,
  type BootstrapStatus,
  type ControlReply,
  type TorEvent,
} from './control-protocol.js';
import { parseOnionKeyBlob } from './onion-key.js';

export type { BootstrapStatus, ControlReply, TorEvent } from './control-protocol.js';

export type AuthMethod = 'NULL' | 'HASHEDPASSWORD' | 'COOKIE' | 'SAFECOOKIE';

export interface ProtocolInfo {
  /** As tor lists them; may contain methods we do not know. */
  authMethods: string[];
  cookieFile?: string;
  torVersion?: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Default 120 s: tor answers most commands at once, but a loaded tor can be slow. */
  timeoutMs?: number;
}

export interface ControlConnectOptions {
  gate: EgressGate;
  signal?: AbortSignal;
  /** Time limit for opening the connection (default 30 s). */
  timeoutMs?: number;
  logger?: Logger;
}

export interface AuthenticateOptions extends RequestOptions {
  /** For HASHEDPASSWORD: the password, or a callback asked only when tor needs it. */
  password?: string | (() => Promise<string>);
  /** Read the cookie from here instead of the path PROTOCOLINFO names. */
  cookiePath?: string;
  /** Use only these methods (default: all); e.g. to forbid the weaker COOKIE method. */
  allowedMethods?: AuthMethod[];
}

/** Port mapping of an onion service: virtual port → local target (default: same port on 127.0.0.1). */
export interface OnionPortMapping {
  virtualPort: number;
  target?: number | { host: string; port: number } | { path: string };
}

export type AddOnionFlag = 'DiscardPK' | 'Detach' | 'V3Auth' | 'MaxStreamsCloseCircuit';

export interface AddOnionOptions extends RequestOptions {
  /** 'NEW' for a fresh ED25519-V3 key, or an `ED25519-V3:<base64>` blob to re-create a service. */
  key: 'NEW' | string;
  ports: OnionPortMapping[];
  flags?: AddOnionFlag[];
  maxStreams?: number;
  /** x25519 public keys of authorized clients (52 base32 characters each). */
  clientAuthV3?: string[];
}

export interface AddOnionResult {
  /** 56 base32 characters, without ".onion". */
  serviceId: string;
  /** `<serviceId>.onion` */
  address: string;
  /** Only for key 'NEW' without DiscardPK: the blob to save for the next start (secret). */
  privateKeyBlob?: string;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
const SAFECOOKIE_SERVER_KEY = 'Tor safe cookie authentication server-to-controller hash';
const SAFECOOKIE_CLIENT_KEY = 'Tor safe cookie authentication controller-to-server hash';
const COOKIE_LENGTH = 32;

interface PendingRequest {
  resolve: (reply: ControlReply) => void;
  reject: (error: TahoeError) => void;
  /** Set when the caller gave up (abort/timeout); the reply is still consumed in order. */
  abandoned: boolean;
  keyword: string;
}

export class TorControlClient {
  private readonly parser = new ControlReplyParser();
  private readonly queue: PendingRequest[] = [];
  private readonly eventListeners = new Set<(event: TorEvent) => void>();
  private readonly closeListeners = new Set<(error: TahoeError | undefined) => void>();
  private closeError: TahoeError | undefined;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;
  private protocolInfoCache: ProtocolInfo | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly endpoint: SocketEndpoint,
    private readonly logger: Logger,
  ) {
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => {
      this.fail(new TahoeError('TorUnavailable', `tor control connection failed: ${err.message}`, { cause: err }));
    });
    socket.on('close', () => this.fail(undefined));
  }

  /** Open a control connection (TCP or unix socket) through the egress gate. */
  static async connect(endpoint: SocketEndpoint, options: ControlConnectOptions): Promise<TorControlClient> {
    const socket = await openSocket(endpoint, {
      gate: options.gate,
      purpose: 'tor-control',
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 30_000,
    });
    socket.setNoDelay(true);
    return new TorControlClient(socket, endpoint, options.logger ?? silentLogger);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves when the connection has closed, for whatever reason. */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  onEvent(listener: (event: TorEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Called once when the connection closes; with an error unless we closed it ourselves. */
  onClose(listener: (error: TahoeError | undefined) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Send one command line and return tor's reply, whatever its status code. */
  request(line: string, options: RequestOptions = {}): Promise<ControlReply> {
    throwIfAborted(options.signal);
    if (/[\r\n\0]/.test(line)) {
      return Promise.reject(new TahoeError('Internal', 'control command contains a line break or NUL', { hint: 'this is a bug: arguments must be validated before they reach the control port' }));
    }
    if (this.isClosed) return Promise.reject(this.closedError());
    const keyword = line.split(' ', 1)[0];
    this.logger.debug(`control → ${keyword}`);
    return new Promise<ControlReply>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const settle = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const entry: PendingRequest = {
        keyword,
        abandoned: false,
        resolve: (reply) => {
          settle();
          resolve(reply);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const onAbort = () => {
        entry.abandoned = true;
        settle();
        try {
          throwIfAborted(options.signal);
        } catch (e) {
          reject(e);
        }
      };
      const timer = setTimeout(() => {
        entry.abandoned = true;
        settle();
        reject(new TahoeError('Timeout', `tor did not answer ${keyword} within ${timeoutMs} ms`, {
          hint: 'tor may be overloaded or stuck; check its log, or restart it',
          details: { command: keyword, timeoutMs },
        }));
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
      this.socket.write(`${line}\r\n`);
    });
  }

  /** Send a command; a non-2xx reply becomes a `TorControlError` with tor's code and text. */
  async command(line: string, options: RequestOptions = {}): Promise<ControlReply> {
    const reply = await this.request(line, options);
    if (reply.code >= 200 && reply.code < 300) return reply;
    throw replyError(line.split(' ', 1)[0], reply);
  }

  async protocolInfo(options: RequestOptions = {}): Promise<ProtocolInfo> {
    if (this.protocolInfoCache) return this.protocolInfoCache;
    const reply = await this.command('PROTOCOLINFO 1', options);
    const info: ProtocolInfo = { authMethods: [] };
    for (const line of reply.lines) {
      if (line.text.startsWith('AUTH ')) {
        const { values } = parseArguments(line.text.slice(5));
        info.authMethods = (values.METHODS ?? '').split(',').filter((m) => m.length > 0);
        if (values.COOKIEFILE !== undefined) info.cookieFile = values.COOKIEFILE;
      } else if (line.text.startsWith('VERSION ')) {
        const { values } = parseArguments(line.text.slice(8));
        if (values.Tor !== undefined) info.torVersion = values.Tor;
      }
    }
    this.protocolInfoCache = info;
    return info;
  }

  /**
   * Authenticate with the best method tor offers: NULL, then SAFECOOKIE, COOKIE (only if
   * SAFECOOKIE is absent: it lets a fake "tor" make us reveal any 32-byte file), then
   * HASHEDPASSWORD. Returns the method used.
   */
  async authenticate(options: AuthenticateOptions = {}): Promise<AuthMethod> {
    const info = await this.protocolInfo(options);
    const allowed = new Set<string>(options.allowedMethods ?? ['NULL', 'SAFECOOKIE', 'COOKIE', 'HASHEDPASSWORD']);
    const methods = new Set(info.authMethods.filter((m) => allowed.has(m)));
    if (methods.has('NULL')) {
      await this.sendAuthenticate('', 'NULL', options);
      return 'NULL';
    }
    let cookieProblem: TahoeError | undefined;
    if (methods.has('SAFECOOKIE') || methods.has('COOKIE')) {
      const cookiePath = options.cookiePath ?? info.cookieFile;
      try {
        if (cookiePath === undefined) {
          throw new TahoeError('TorAuthFailed', 'tor offers cookie authentication but names no cookie file', {
            hint: 'set CookieAuthFile in the torrc, or use a control port with password authentication',
          });
        }
        const cookie = await readCookie(cookiePath);
        if (methods.has('SAFECOOKIE')) {
          await this.safeCookie(cookie, options);
          return 'SAFECOOKIE';
        }
        await this.sendAuthenticate(cookie.toString('hex'), 'COOKIE', options);
        return 'COOKIE';
      } catch (e) {
        if (!(e instanceof TahoeError) || e.details.stage !== 'cookie-file' || !methods.has('HASHEDPASSWORD') || options.password === undefined) throw e;
        cookieProblem = e;
      }
    }
    if (methods.has('HASHEDPASSWORD')) {
      if (options.password === undefined) {
        throw new TahoeError('TorAuthFailed', 'tor\'s control port requires a password', {
          hint: 'enable CookieAuthentication 1 in the torrc (recommended), or give tahoe-ts the control password',
          details: { methods: info.authMethods.join(',') },
        });
      }
      const password = typeof options.password === 'string' ? options.password : await options.password();
      await this.sendAuthenticate(Buffer.from(password, 'utf8').toString('hex'), 'HASHEDPASSWORD', options);
      return 'HASHEDPASSWORD';
    }
    if (cookieProblem) throw cookieProblem;
    throw new TahoeError('TorAuthFailed', `tor offers no authentication method tahoe-ts supports (${info.authMethods.join(',') || 'none'})`, {
      hint: 'enable CookieAuthentication 1 in the torrc',
      details: { methods: info.authMethods.join(',') },
    });
  }

  private async safeCookie(cookie: Buffer, options: RequestOptions): Promise<void> {
    const clientNonce = randomBytes(32);
    const reply = await this.command(`AUTHCHALLENGE SAFECOOKIE ${clientNonce.toString('hex')}`, options);
    const final = reply.lines[reply.lines.length - 1];
    const { positional, values } = parseArguments(final.text);
    const serverHashHex = values.SERVERHASH ?? '';
    const serverNonceHex = values.SERVERNONCE ?? '';
    if (positional[0] !== 'AUTHCHALLENGE' || !/^[0-9A-Fa-f]{64}$/.test(serverHashHex) || !/^[0-9A-Fa-f]{64}$/.test(serverNonceHex)) {
      throw controlProtocolError('malformed AUTHCHALLENGE reply');
    }
    const serverNonce = Buffer.from(serverNonceHex, 'hex');
    const message = Buffer.concat([cookie, clientNonce, serverNonce]);
    const expected = createHmac('sha256', SAFECOOKIE_SERVER_KEY).update(message).digest();
    if (!timingSafeEqual(expected, Buffer.from(serverHashHex, 'hex'))) {
      throw new TahoeError('TorAuthFailed', 'the control port could not prove it knows tor\'s cookie', {
        hint: 'the control port does not belong to the tor that wrote the cookie file (stale cookie, or another program listening there); check [tor] control.port',
        details: { method: 'SAFECOOKIE' },
      });
    }
    const response = createHmac('sha256', SAFECOOKIE_CLIENT_KEY).update(message).digest('hex');
    await this.sendAuthenticate(response, 'SAFECOOKIE', options);
  }

  private async sendAuthenticate(argument: string, method: AuthMethod, options: RequestOptions): Promise<void> {
    const reply = await this.request(argument ? `AUTHENTICATE ${argument}` : 'AUTHENTICATE', options);
    if (reply.code === 250) return;
    const text = reply.lines.map((l) => l.text).join(' ');
    throw new TahoeError('TorAuthFailed', `tor refused ${method} authentication: ${reply.code} ${text}`, {
      hint:
        method === 'HASHEDPASSWORD'
          ? 'wrong control password: check the password matching HashedControlPassword in the torrc'
          : 'the cookie does not match this tor (was tor restarted with another DataDirectory?); check [tor] control.port points at the tor that wrote the cookie',
      details: { method, code: reply.code, text },
    });
  }

  async getInfo(keys: string[], options: RequestOptions = {}): Promise<Record<string, string>> {
    for (const key of keys) {
      if (!/^[A-Za-z0-9/_.:@-]+$/.test(key)) throw new TahoeError('Internal', `invalid GETINFO key ${JSON.stringify(key)}`);
    }
    return parseGetInfoReply(await this.command(`GETINFO ${keys.join(' ')}`, options));
  }

  async getVersion(options: RequestOptions = {}): Promise<string> {
    return (await this.getInfo(['version'], options)).version ?? '';
  }

  async getBootstrapStatus(options: RequestOptions = {}): Promise<BootstrapStatus> {
    const value = (await this.getInfo(['status/bootstrap-phase'], options))['status/bootstrap-phase'];
    if (value === undefined) throw controlProtocolError('GETINFO status/bootstrap-phase returned no value');
    return parseBootstrapPhase(value);
  }

  /** Tor's SOCKS listeners, TCP and unix (`GETINFO net/listeners/socks`). Empty while DisableNetwork. */
  async getSocksListeners(options: RequestOptions = {}): Promise<SocketEndpoint[]> {
    const value = (await this.getInfo(['net/listeners/socks'], options))['net/listeners/socks'];
    if (value === undefined) throw controlProtocolError('GETINFO net/listeners/socks returned no value');
    return parseSocksListeners(value);
  }

  /** Subscribe to events (replaces the previous subscription; an empty list clears it). */
  async setEvents(names: string[], options: RequestOptions = {}): Promise<void> {
    for (const name of names) if (!/^[A-Z_]+$/.test(name)) throw new TahoeError('Internal', `invalid event name ${JSON.stringify(name)}`);
    await this.command(names.length > 0 ? `SETEVENTS ${names.join(' ')}` : 'SETEVENTS', options);
  }

  async addOnion(options: AddOnionOptions): Promise<AddOnionResult> {
    const parts = ['ADD_ONION'];
    if (options.key === 'NEW') parts.push('NEW:ED25519-V3');
    else {
      parseOnionKeyBlob(options.key);
      parts.push(options.key.trim());
    }
    const flags = [...(options.flags ?? [])];
    // tor (0.4.9) refuses ClientAuthV3 keys without the V3Auth flag ("No auth type specified").
    if ((options.clientAuthV3?.length ?? 0) > 0 && !flags.includes('V3Auth')) flags.push('V3Auth');
    for (const flag of flags) {
      if ((flag as string) === 'NonAnonymous') {
        throw new TahoeError('PrivacyViolation', 'refusing to create a non-anonymous (single onion) service', {
          hint: 'tahoe-ts never uses NonAnonymous onion services: they reveal the server\'s IP address to its introduction points',
        });
      }
      if (!['DiscardPK', 'Detach', 'V3Auth', 'MaxStreamsCloseCircuit'].includes(flag)) throw new TahoeError('BadInput', `unknown ADD_ONION flag ${JSON.stringify(flag)}`);
    }
    if (flags.length > 0) parts.push(`Flags=${flags.join(',')}`);
    if (options.maxStreams !== undefined) {
      if (!Number.isInteger(options.maxStreams) || options.maxStreams < 0 || options.maxStreams > 65535) {
        throw new TahoeError('BadInput', `MaxStreams must be 0–65535, not ${options.maxStreams}`);
      }
      parts.push(`MaxStreams=${options.maxStreams}`);
    }
    if (options.ports.length === 0) throw new TahoeError('BadInput', 'an onion service needs at least one port', { hint: 'give a virtual port and a local target' });
    for (const mapping of options.ports) parts.push(`Port=${formatPortMapping(mapping)}`);
    for (const key of options.clientAuthV3 ?? []) {
      if (!/^[A-Za-z2-7]{52}$/.test(key)) {
        throw new TahoeError('BadInput', 'a ClientAuthV3 key is an x25519 public key in base32 (52 characters)', {
          hint: 'give the client\'s public key without "descriptor:x25519:" and without padding',
        });
      }
      parts.push(`ClientAuthV3=${key}`);
    }
    const reply = await this.command(parts.join(' '), options);
    let serviceId: string | undefined;
    let privateKeyBlob: string | undefined;
    for (const line of reply.lines) {
      if (line.text.startsWith('ServiceID=')) serviceId = line.text.slice('ServiceID='.length);
      else if (line.text.startsWith('PrivateKey=')) privateKeyBlob = line.text.slice('PrivateKey='.length);
    }
    if (serviceId === undefined || !/^[a-z2-7]{56}$/.test(serviceId)) throw controlProtocolError('ADD_ONION reply without a v3 ServiceID');
    if (privateKeyBlob !== undefined) parseOnionKeyBlob(privateKeyBlob);
    const result: AddOnionResult = { serviceId, address: `${serviceId}.onion` };
    if (privateKeyBlob !== undefined) result.privateKeyBlob = privateKeyBlob;
    return result;
  }

  async delOnion(serviceId: string, options: RequestOptions = {}): Promise<void> {
    const id = serviceId.replace(/\.onion$/, '');
    if (!/^[a-z2-7]{56}$/.test(id)) throw new TahoeError('OnionAddressInvalid', `not a v3 onion service id: ${JSON.stringify(serviceId.slice(0, 80))}`);
    await this.command(`DEL_ONION ${id}`, options);
  }

  /** Make tor exit when this connection closes (pair with RESETCONF __OwningControllerProcess). */
  async takeOwnership(options: RequestOptions = {}): Promise<void> {
    await this.command('TAKEOWNERSHIP', options);
  }

  async resetConf(keys: string[], options: RequestOptions = {}): Promise<void> {
    for (const key of keys) if (!/^[A-Za-z0-9_]+$/.test(key)) throw new TahoeError('Internal', `invalid config key ${JSON.stringify(key)}`);
    await this.command(`RESETCONF ${keys.join(' ')}`, options);
  }

  async setConf(values: Record<string, string>, options: RequestOptions = {}): Promise<void> {
    const parts = Object.entries(values).map(([key, value]) => {
      if (!/^[A-Za-z0-9_]+$/.test(key)) throw new TahoeError('Internal', `invalid config key ${JSON.stringify(key)}`);
      return `${key}=${quoteArgument(value)}`;
    });
    await this.command(`SETCONF ${parts.join(' ')}`, options);
  }

  async getConf(key: string, options: RequestOptions = {}): Promise<string[]> {
    if (!/^[A-Za-z0-9_]+$/.test(key)) throw new TahoeError('Internal', `invalid config key ${JSON.stringify(key)}`);
    const reply = await this.command(`GETCONF ${key}`, options);
    return reply.lines.map((line) => {
      const eq = line.text.indexOf('=');
      if (eq < 0) return '';
      const raw = line.text.slice(eq + 1);
      return raw.startsWith('"') ? (parseArguments(raw).positional[0] ?? '') : raw;
    });
  }

  async signal(name: 'NEWNYM' | 'RELOAD' | 'SHUTDOWN' | 'HALT' | 'CLEARDNSCACHE' | 'HEARTBEAT' | 'DORMANT' | 'ACTIVE', options: RequestOptions = {}): Promise<void> {
    await this.command(`SIGNAL ${name}`, options);
  }

  /** Close the connection (a tor that we own exits; our onion services go away). */
  async close(): Promise<void> {
    if (!this.socket.destroyed) {
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 2000);
      await this.closedPromise;
      clearTimeout(timer);
    }
  }

  private onData(chunk: Buffer): void {
    let replies: ControlReply[];
    try {
      replies = this.parser.push(chunk);
    } catch (e) {
      this.fail(e instanceof TahoeError ? e : controlProtocolError(String(e)));
      this.socket.destroy();
      return;
    }
    for (const reply of replies) {
      if (isAsyncReply(reply)) {
        this.dispatchEvent(reply);
        continue;
      }
      const entry = this.queue.shift();
      if (!entry) {
        this.logger.debug(`control: unsolicited reply ${reply.code}`);
        continue;
      }
      if (!entry.abandoned) entry.resolve(reply);
    }
  }

  private dispatchEvent(reply: ControlReply): void {
    let event: TorEvent;
    try {
      event = parseEvent(reply);
    } catch {
      const first = reply.lines[0].text;
      event = { type: 'OTHER', name: first.split(' ', 1)[0], lines: reply.lines };
    }
    for (const listener of this.eventListeners) {
      try {
        listener(event);
      } catch (e) {
        this.logger.warn('control: event listener failed:', e instanceof Error ? e : String(e));
      }
    }
  }

  private closedError(): TahoeError {
    return (
      this.closeError ??
      new TahoeError('TorUnavailable', 'the tor control connection is closed', {
        hint: 'tor closed the connection (it exits, or refused authentication); check the tor log',
      })
    );
  }

  private fail(error: TahoeError | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (error) this.closeError = error;
    const pendingError = error ?? this.closedError();
    for (const entry of this.queue.splice(0)) if (!entry.abandoned) entry.reject(pendingError);
    for (const listener of this.closeListeners) {
      try {
        listener(error);
      } catch {
        // a close listener must not keep the others from running
      }
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

function replyError(keyword: string, reply: ControlReply): TahoeError {
  const text = reply.lines.map((l) => l.text).join(' ');
  const hints: Record<number, string> = {
    510: 'this tor does not know the command; upgrade tor (0.4.6 or later)',
    512: 'tor refused the arguments; check the tor log for details',
    514: 'tahoe-ts must authenticate first: this is a bug',
    551: 'tor hit an internal error; check the tor log',
    552: 'tor does not know the named entity (an onion service removed already, or owned by another connection)',
    553: 'tor rejected a configuration value; check the option and the tor log',
  };
  return new TahoeError('TorControlError', `tor refused ${keyword}: ${reply.code} ${text}`, {
    hint: hints[reply.code] ?? 'tor refused a control command; check the tor log',
    details: { command: keyword, code: reply.code, text },
  });
}

async function readCookie(cookiePath: string): Promise<Buffer> {
  let cookie: Buffer;
  try {
    cookie = await fs.readFile(cookiePath);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TahoeError('TorAuthFailed', `cannot read tor's authentication cookie ${cookiePath}: ${code ?? String(cause)}`, {
      cause,
      hint:
        code === 'EACCES'
          ? 'add your user to the group that owns the cookie (Debian: `sudo adduser $USER debian-tor`, then log in again)'
          : 'tor names this cookie file but it is missing: is the control port served by a tor on this machine and still running?',
      details: { path: cookiePath, code, stage: 'cookie-file' },
    });
  }
  if (cookie.length !== COOKIE_LENGTH) {
    throw new TahoeError('TorAuthFailed', `tor's authentication cookie ${cookiePath} has ${cookie.length} bytes, not ${COOKIE_LENGTH}`, {
      hint: 'this is not a tor cookie file; check CookieAuthFile in the torrc',
      details: { path: cookiePath, length: cookie.length, stage: 'cookie-file' },
    });
  }
  return cookie;
}

function formatPortMapping(mapping: OnionPortMapping): string {
  const checkPort = (port: number, what: string) => {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TahoeError('BadInput', `${what} must be 1–65535, not ${port}`);
  };
  checkPort(mapping.virtualPort, 'onion virtual port');
  const target = mapping.target;
  if (target === undefined) return String(mapping.virtualPort);
  if (typeof target === 'number') {
    checkPort(target, 'onion target port');
    return `${mapping.virtualPort},${target}`;
  }
  if ('path' in target) {
    if (!/^\/[^\s"\\,]+$/.test(target.path)) {
      throw new TahoeError('BadInput', `unusable unix socket path for an onion target: ${JSON.stringify(target.path)}`, {
        hint: 'use an absolute socket path without spaces, quotes, backslashes or commas',
      });
    }
    return `${mapping.virtualPort},unix:${target.path}`;
  }
  checkPort(target.port, 'onion target port');
  if (!/^[A-Za-z0-9.-]+$/.test(target.host)) throw new TahoeError('BadInput', `unusable onion target host ${JSON.stringify(target.host)}`, { hint: 'use an IPv4 literal such as 127.0.0.1' });
  return `${mapping.virtualPort},${target.host}:${target.port}`;
}

function quoteArgument(value: string): string {
  return /^[A-Za-z0-9_.:/-]+$/.test(value) ? value : quoteString(value);
}

export interface ConnectAndAuthenticateOptions extends ControlConnectOptions {
  password?: AuthenticateOptions['password'];
  cookiePath?: string;
}

/** Connect and authenticate; closes the connection again if authentication fails. */
export async function connectTorControl(endpoint: SocketEndpoint, options: ConnectAndAuthenticateOptions): Promise<TorControlClient> {
  const client = await TorControlClient.connect(endpoint, options);
  try {
    await client.authenticate({ signal: options.signal, password: options.password, cookiePath: options.cookiePath, timeoutMs: options.timeoutMs });
    return client;
  } catch (e) {
    await client.close().catch(() => undefined);
    throw e;
  }
}
