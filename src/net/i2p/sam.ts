/**
 * SAM v3.1 client: HELLO, DEST GENERATE, SESSION CREATE (STYLE=STREAM), STREAM CONNECT /
 * ACCEPT / FORWARD, NAMING LOOKUP.
 *
 * Spec: i2p.www `i2p2www/pages/site/docs/api/samv3.html`; i2pd 2.45.1 behaviour and its
 * gotchas in shared/specs/i2p.md §1–§2 and §5.5. Rules this file keeps:
 *  - every SAM socket is opened through `openSocket(…, { purpose: 'i2p-sam' })`;
 *  - one command per TCP write, and we wait for its reply before the next (i2pd handles
 *    one command per read);
 *  - every reply has a timeout, and lines have a length cap;
 *  - bytes that follow a reply line in the same segment belong to the stream: they are put
 *    back into the socket (`unshift`) in the same tick the line is found, so the stream's
 *    consumer reads them first;
 *  - private keys are never logged (lines are logged through `describeLineForLog`).
 *
 * A session lives exactly as long as its control socket: `SamSession.closed` resolves when
 * the router or we close it.
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import { TahoeError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { openSocket, type EgressGate } from '../socket.js';
import {
  MAX_SAM_LINE_BYTES,
  describeLineForLog,
  expectReply,
  formatCommand,
  parseSamReply,
  samResultError,
  validateSessionOptions,
  type SamOperation,
  type SamReply,
} from './sam-protocol.js';
import { i2pBase64Decode, parseDestination } from './address.js';
import { parsePrivateKey } from './destination.js';

export interface SamEndpoint {
  host: string;
  port: number;
}

export const DEFAULT_SAM_ENDPOINT: SamEndpoint = { host: '127.0.0.1', port: 7656 };

export interface SamTimeouts {
  /** Connecting to the bridge plus HELLO. */
  helloMs: number;
  /** SESSION CREATE builds tunnels before answering: minutes on the real network. */
  sessionCreateMs: number;
  /** STREAM CONNECT reply (the router first looks up the peer's LeaseSet). */
  connectReplyMs: number;
  /** First ACCEPT/FORWARD status line (not the wait for a peer, which has no limit). */
  acceptReplyMs: number;
  /** NAMING LOOKUP (may query the network for .b32.i2p names). */
  namingLookupMs: number;
  /** DEST GENERATE. */
  destGenerateMs: number;
}

/** Real I2P network (anonymity-checklist AN-7: ≥ 3 minutes for SESSION CREATE and lookups). */
export const PRODUCTION_SAM_TIMEOUTS: SamTimeouts = {
  helloMs: 5_000,
  sessionCreateMs: 180_000,
  connectReplyMs: 90_000,
  acceptReplyMs: 10_000,
  namingLookupMs: 180_000,
  destGenerateMs: 30_000,
};

/** A single offline i2pd (i2p.md §5.7): sessions take 20 s, everything else milliseconds. */
export const OFFLINE_SAM_TIMEOUTS: SamTimeouts = {
  helloMs: 5_000,
  sessionCreateMs: 60_000,
  connectReplyMs: 10_000,
  acceptReplyMs: 10_000,
  namingLookupMs: 10_000,
  destGenerateMs: 10_000,
};

/**
 * Session options for the real network (AN-7): ECIES-X25519 + ElGamal LeaseSet keys,
 * explicit 3-hop tunnels and quantities. Tests on the offline router replace these entirely
 * (they must not send the ECIES option, i2p.md §5.3).
 */
export const PRODUCTION_SESSION_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  'i2cp.leaseSetEncType': '4,0',
  'inbound.length': '3',
  'outbound.length': '3',
  'inbound.quantity': '3',
  'outbound.quantity': '3',
});

export interface SamClientOptions {
  endpoint?: SamEndpoint;
  gate: EgressGate;
  timeouts?: Partial<SamTimeouts>;
  logger?: Logger;
}

// ---------------------------------------------------------------------------------------
// One SAM socket with a line reader

/**
 * A SAM socket in command mode. `readLine` reads one "\n"-terminated line; any bytes after
 * it are unshifted back into the socket at once, so once the conversation is over the raw
 * socket carries exactly the stream's bytes.
 */
export class SamConnection {
  private partial: Buffer = Buffer.alloc(0);
  private reading = false;
  private closedError: TahoeError | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly logger: Logger,
    private readonly label: string,
  ) {
    // Until a line is requested the socket stays paused, so nothing is consumed early.
    socket.pause();
  }

  /** Write one command line (exactly one write per command). */
  send(line: string): void {
    this.logger.debug(`${this.label} > ${describeLineForLog(line.trimEnd())}`);
    this.socket.write(line);
  }

  /**
   * The next line (without "\n"). Rejects with `Timeout` after `timeoutMs` (0 = none),
   * `Aborted` on the signal, `SamProtocolError` for an over-long line or when the bridge
   * closes the socket mid-reply. On any rejection the socket is destroyed.
   */
  readLine(what: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    if (this.reading) return Promise.reject(new TahoeError('Internal', 'two concurrent reads on one SAM socket'));
    throwIfAborted(signal);
    const socket = this.socket;
    return new Promise<string>((resolve, reject) => {
      this.reading = true;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: TahoeError | undefined, line?: string) => {
        this.reading = false;
        if (timer) clearTimeout(timer);
        socket.off('readable', onReadable);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(line as string);
      };
      // Consume `chunk`: if it completes a line, hand the rest back to the socket now
      // (same tick: the socket cannot emit 'end' while it still holds those bytes).
      const take = (chunk: Buffer): boolean => {
        const nl = chunk.indexOf(0x0a);
        if (nl < 0) {
          this.partial = this.partial.length === 0 ? chunk : Buffer.concat([this.partial, chunk]);
          if (this.partial.length > MAX_SAM_LINE_BYTES) {
            finish(
              new TahoeError('SamProtocolError', `SAM reply line longer than ${MAX_SAM_LINE_BYTES} bytes while ${what}`, {
                hint: 'is [i2p] sam.port really an I2P SAM bridge? it sent an endless line',
              }),
            );
            return true;
          }
          return false;
        }
        const lineBytes = this.partial.length === 0 ? chunk.subarray(0, nl) : Buffer.concat([this.partial, chunk.subarray(0, nl)]);
        this.partial = Buffer.alloc(0);
        const rest = chunk.subarray(nl + 1);
        if (rest.length > 0) socket.unshift(rest);
        if (lineBytes.length > MAX_SAM_LINE_BYTES) {
          finish(
            new TahoeError('SamProtocolError', `SAM reply line longer than ${MAX_SAM_LINE_BYTES} bytes while ${what}`, {
              hint: 'is [i2p] sam.port really an I2P SAM bridge? it sent an over-long line',
            }),
          );
          return true;
        }
        const line = lineBytes.toString('utf8');
        this.logger.debug(`${this.label} < ${describeLineForLog(line)}`);
        finish(undefined, line);
        return true;
      };
      const onReadable = () => {
        for (;;) {
          const chunk = socket.read() as Buffer | null;
          if (chunk === null) return;
          if (take(chunk)) return;
        }
      };
      const onEnd = () => {
        finish(
          this.closedError ??
            new TahoeError('SamProtocolError', `the SAM bridge closed the connection while ${what}${this.partial.length ? ' (in the middle of a line)' : ''}`, {
              hint: 'the I2P router closed the SAM socket; check the router log (it may have stopped, or rejected the command)',
            }),
        );
      };
      const onError = (err: Error) => {
        this.closedError = new TahoeError('I2pUnavailable', `SAM connection failed while ${what}: ${err.message}`, { cause: err });
        finish(this.closedError);
      };
      const onAbort = () => finish(new TahoeError('Aborted', `${what} aborted`));
      if (timeoutMs > 0) {
        timer = setTimeout(
          () =>
            finish(
              new TahoeError('Timeout', `no answer from the SAM bridge within ${timeoutMs} ms while ${what}`, {
                hint:
                  what.includes('session')
                    ? 'the I2P router is still building tunnels; on the real network this can take minutes — check the router is connected (its web console / log)'
                    : 'the I2P router did not answer in time; check it is running and not overloaded',
                details: { timeoutMs },
              }),
            ),
          timeoutMs,
        );
      }
      socket.on('readable', onReadable);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (socket.destroyed || socket.readableEnded) {
        onEnd();
        return;
      }
      onReadable();
    });
  }

  /** Send a command and parse the one-line reply, checking its command words. */
  async request(line: string, expect: [string, string], what: string, timeoutMs: number, signal?: AbortSignal): Promise<SamReply> {
    this.send(line);
    const replyLine = await this.readLine(what, timeoutMs, signal);
    let reply: SamReply;
    try {
      reply = parseSamReply(replyLine);
      expectReply(reply, expect[0], expect[1], replyLine);
    } catch (e) {
      this.socket.destroy();
      throw e;
    }
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** RESULT of a reply; a missing RESULT is a protocol error. */
function resultOf(reply: SamReply, line: string): string {
  const result = reply.pairs.get('RESULT');
  if (result === undefined) {
    throw new TahoeError('SamProtocolError', `SAM reply "${reply.command} ${reply.subcommand}" has no RESULT`, {
      hint: 'is [i2p] sam.port really an I2P SAM bridge?',
      details: { line: describeLineForLog(line) },
    });
  }
  return result;
}

function checkOk(conn: SamConnection, reply: SamReply, op: SamOperation, target?: string): void {
  const result = resultOf(reply, `${reply.command} ${reply.subcommand}`);
  if (result !== 'OK') {
    conn.close();
    throw samResultError(op, result, reply.pairs.get('MESSAGE'), { target });
  }
}

function randomSessionId(): string {
  // Router-wide unique; no whitespace; short (it is sent with every stream command).
  return `tts${crypto.randomBytes(6).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------
// Client

export interface CreateSessionOptions {
  /** `TRANSIENT` (a fresh identity every time) or a SAM private key blob (I2P base64). */
  destination: 'TRANSIENT' | string;
  /** I2CP/streaming options; default PRODUCTION_SESSION_OPTIONS. Replaces, never merges. */
  options?: Readonly<Record<string, string>>;
  /** Router-unique session ID; default random. */
  id?: string;
  signal?: AbortSignal;
}

export interface ConnectOptions {
  signal?: AbortSignal;
  /**
   * Destroy the stream with a `Timeout` when the peer has sent no byte this long after the
   * CONNECT reply. The router answers OK before the peer accepted (i2p.md §5.5), so for a
   * protocol where the peer speaks soon after us (TLS) this turns a dead peer into an error.
   * Default: no limit (the caller's own handshake timeout covers it).
   */
  firstByteTimeoutMs?: number;
}

export interface AcceptedStream {
  socket: net.Socket;
  /** The peer's destination (I2P base64). */
  peerDestination: string;
}

export class SamClient {
  readonly endpoint: SamEndpoint;
  readonly timeouts: SamTimeouts;
  readonly logger: Logger;
  private readonly gate: EgressGate;
  private readonly nameCache = new Map<string, string>();
  /** Version negotiated by the last HELLO (3.1 on i2pd 2.45). */
  version: string | undefined;

  constructor(options: SamClientOptions) {
    this.endpoint = options.endpoint ?? DEFAULT_SAM_ENDPOINT;
    this.gate = options.gate;
    this.timeouts = { ...PRODUCTION_SAM_TIMEOUTS, ...options.timeouts };
    this.logger = (options.logger ?? silentLogger).child('sam');
  }

  describe(): string {
    return `SAM ${this.endpoint.host}:${this.endpoint.port}${this.version ? ` (v${this.version})` : ''}`;
  }

  /** Open a socket to the bridge and complete `HELLO VERSION MIN=3.1 MAX=3.1`. */
  async open(label: string, signal?: AbortSignal): Promise<SamConnection> {
    let socket: net.Socket;
    try {
      socket = await openSocket(this.endpoint, { gate: this.gate, purpose: 'i2p-sam', signal, timeoutMs: this.timeouts.helloMs });
    } catch (e) {
      if (e instanceof TahoeError && (e.kind === 'ServerUnreachable' || e.kind === 'Timeout')) {
        throw new TahoeError('I2pUnavailable', `cannot reach the I2P SAM bridge at ${this.endpoint.host}:${this.endpoint.port}: ${e.message}`, {
          cause: e,
          hint: 'ensure an I2P router is running and its SAM bridge is enabled ([i2p] sam.port, default tcp:127.0.0.1:7656; Java I2P ships with SAM disabled), or set [i2p] launch = true',
          details: e.details,
        });
      }
      throw e;
    }
    socket.setNoDelay(true);
    const conn = new SamConnection(socket, this.logger, label);
    try {
      const reply = await conn.request(formatCommand('HELLO', 'VERSION', [['MIN', '3.1'], ['MAX', '3.1']]), ['HELLO', 'REPLY'], 'waiting for the SAM HELLO reply', this.timeouts.helloMs, signal);
      checkOk(conn, reply, 'hello');
      const version = reply.pairs.get('VERSION');
      // We asked for 3.1; 3.0 lacks SIGNATURE_TYPE, and anything else is not SAM 3.
      if (version === undefined || !/^3\.\d+$/.test(version) || Number(version.split('.')[1]) < 1) {
        conn.close();
        throw new TahoeError('SamProtocolError', `SAM bridge answered HELLO with version ${JSON.stringify(version ?? '')}`, {
          hint: 'tahoe-ts needs SAM 3.1; is [i2p] sam.port really an I2P SAM bridge?',
        });
      }
      this.version = version;
      return conn;
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** A name resolved earlier by `lookup`, if any. */
  cachedName(name: string): string | undefined {
    return this.nameCache.get(name);
  }

  /** Check that the bridge answers HELLO (readiness probe). */
  async probe(signal?: AbortSignal): Promise<string> {
    const conn = await this.open('probe', signal);
    conn.close();
    return this.version ?? '3.1';
  }

  /** `DEST GENERATE SIGNATURE_TYPE=7`: a new destination made by the router. */
  async generateDestination(signal?: AbortSignal): Promise<{ destinationBase64: string; privateKeyBase64: string }> {
    const conn = await this.open('dest', signal);
    try {
      const reply = await conn.request(formatCommand('DEST', 'GENERATE', [['SIGNATURE_TYPE', '7']]), ['DEST', 'REPLY'], 'generating a destination', this.timeouts.destGenerateMs, signal);
      const result = reply.pairs.get('RESULT');
      if (result !== undefined && result !== 'OK') throw samResultError('generate', result, reply.pairs.get('MESSAGE'));
      const pub = reply.pairs.get('PUB');
      const priv = reply.pairs.get('PRIV');
      if (!pub || !priv) throw new TahoeError('SamProtocolError', 'DEST REPLY without PUB and PRIV', { hint: 'is [i2p] sam.port really an I2P SAM bridge?' });
      const info = parsePrivateKey(priv, 'private key from DEST GENERATE');
      if (info.destinationBase64 !== pub) throw new TahoeError('SamProtocolError', 'DEST REPLY PUB does not match PRIV', { hint: 'the SAM bridge is misbehaving' });
      return { destinationBase64: pub, privateKeyBase64: priv };
    } finally {
      conn.close();
    }
  }

  /**
   * `NAMING LOOKUP NAME=<name>` on a fresh socket (results cached). For `ME` use
   * `SamSession.lookup`. Returns the destination in I2P base64.
   */
  async lookup(name: string, signal?: AbortSignal): Promise<string> {
    const cached = this.nameCache.get(name);
    if (cached) return cached;
    if (name === 'ME') throw new TahoeError('Internal', 'NAMING LOOKUP NAME=ME needs a session socket');
    const conn = await this.open('lookup', signal);
    try {
      const value = await namingLookup(conn, name, this.timeouts.namingLookupMs, signal);
      this.nameCache.set(name, value);
      return value;
    } finally {
      conn.close();
    }
  }

  /**
   * `SESSION CREATE STYLE=STREAM … SIGNATURE_TYPE=7`. Resolves once the router has built the
   * tunnels (20 s on i2pd 2.45; minutes on the real network).
   */
  async createSession(options: CreateSessionOptions): Promise<SamSession> {
    const sessionOptions = options.options ?? PRODUCTION_SESSION_OPTIONS;
    validateSessionOptions(sessionOptions);
    if (options.destination !== 'TRANSIENT') parsePrivateKey(options.destination, 'I2P private key for the session');
    const id = options.id ?? randomSessionId();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new TahoeError('BadInput', `invalid SAM session id ${JSON.stringify(id)}`, { hint: 'use letters, digits, ".", "_" or "-"' });
    const conn = await this.open(`session ${id}`, options.signal);
    try {
      const args: Array<[string, string]> = [
        ['STYLE', 'STREAM'],
        ['ID', id],
        ['DESTINATION', options.destination],
        ['SIGNATURE_TYPE', '7'],
        ...Object.entries(sessionOptions),
      ];
      const started = Date.now();
      const reply = await conn.request(formatCommand('SESSION', 'CREATE', args), ['SESSION', 'STATUS'], 'creating the I2P session', this.timeouts.sessionCreateMs, options.signal);
      checkOk(conn, reply, 'session');
      const privateKeyBase64 = reply.pairs.get('DESTINATION');
      if (!privateKeyBase64) throw new TahoeError('SamProtocolError', 'SESSION STATUS RESULT=OK without DESTINATION', { hint: 'is [i2p] sam.port really an I2P SAM bridge?' });
      const info = parsePrivateKey(privateKeyBase64, 'private key from SESSION STATUS');
      this.logger.debug(`session ${id} created in ${Date.now() - started} ms`);
      return new SamSession(this, conn, id, privateKeyBase64, info.destinationBase64, info.b32);
    } catch (e) {
      conn.close();
      throw e;
    }
  }
}

/** Anything that can send one command and return its parsed reply. */
interface RequestChannel {
  request(line: string, expect: [string, string], what: string, timeoutMs: number, signal?: AbortSignal): Promise<SamReply>;
}

async function namingLookup(conn: RequestChannel, name: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const reply = await conn.request(formatCommand('NAMING', 'LOOKUP', [['NAME', name]]), ['NAMING', 'REPLY'], `looking up ${name === 'ME' ? 'our own destination' : 'an I2P name'}`, timeoutMs, signal);
  const result = resultOf(reply, 'NAMING REPLY');
  if (result !== 'OK') throw samResultError('lookup', result, reply.pairs.get('MESSAGE'));
  const value = reply.pairs.get('VALUE');
  if (!value) throw new TahoeError('SamProtocolError', 'NAMING REPLY RESULT=OK without VALUE', { hint: 'is [i2p] sam.port really an I2P SAM bridge?' });
  const bytes = i2pBase64Decode(value, 'destination from NAMING REPLY');
  const info = parseDestination(bytes, 'destination from NAMING REPLY');
  if (info.length !== bytes.length) throw new TahoeError('SamProtocolError', 'NAMING REPLY VALUE has trailing bytes after the destination', { hint: 'the SAM bridge is misbehaving' });
  return value;
}

// ---------------------------------------------------------------------------------------
// Session

/**
 * The session's control socket after SESSION CREATE: kept flowing so the router closing it
 * is noticed at once (a paused socket would never report its end), with replies to our
 * own commands delivered line by line. Lines nobody asked for are logged and dropped.
 */
class ControlChannel implements RequestChannel {
  private buffered: Buffer = Buffer.alloc(0);
  private waiter: { resolve(line: string): void; reject(e: TahoeError): void } | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  private ended = false;

  constructor(
    readonly conn: SamConnection,
    private readonly logger: Logger,
    private readonly label: string,
  ) {
    const socket = conn.socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const onGone = () => {
      this.ended = true;
      this.waiter?.reject(
        new TahoeError('SamRefused', `the I2P router closed session ${label}`, {
          hint: 'the router ended the session (it may have restarted); a new session is created on the next attempt',
          details: { result: 'SESSION_CLOSED' },
        }),
      );
      this.waiter = undefined;
    };
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.on('error', (err) => logger.debug(`${label} control socket error: ${err.message}`));
    socket.resume();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const nl = this.buffered.indexOf(0x0a);
      if (nl < 0) break;
      const line = this.buffered.subarray(0, nl).toString('utf8');
      this.buffered = this.buffered.subarray(nl + 1);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        this.logger.debug(`${this.label} < ${describeLineForLog(line)}`);
        w.resolve(line);
      } else {
        this.logger.debug(`${this.label} < (unsolicited) ${describeLineForLog(line)}`);
      }
    }
    if (this.buffered.length > MAX_SAM_LINE_BYTES) {
      this.conn.socket.destroy();
      this.waiter?.reject(new TahoeError('SamProtocolError', 'over-long line on the SAM session socket', { hint: 'is [i2p] sam.port really an I2P SAM bridge?' }));
      this.waiter = undefined;
    }
  }

  /** One command at a time; the reply is the next line. */
  request(line: string, expect: [string, string], what: string, timeoutMs: number, signal?: AbortSignal): Promise<SamReply> {
    const run = this.busy.then(() => this.requestNow(line, expect, what, timeoutMs, signal));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private requestNow(line: string, expect: [string, string], what: string, timeoutMs: number, signal?: AbortSignal): Promise<SamReply> {
    throwIfAborted(signal);
    if (this.ended || this.conn.socket.destroyed) {
      return Promise.reject(new TahoeError('SamRefused', `I2P session ${this.label} is closed`, { details: { result: 'SESSION_CLOSED' } }));
    }
    return new Promise<SamReply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      // A reply that comes after we gave up would be taken for the next command's: a
      // timed-out or aborted command therefore ends the session (the caller recreates it).
      const giveUp = (err: TahoeError) => {
        this.waiter = undefined;
        done();
        this.conn.socket.destroy();
        reject(err);
      };
      const onAbort = () => giveUp(new TahoeError('Aborted', `${what} aborted`));
      this.waiter = {
        resolve: (replyLine) => {
          done();
          try {
            const reply = parseSamReply(replyLine);
            expectReply(reply, expect[0], expect[1], replyLine);
            resolve(reply);
          } catch (e) {
            reject(e);
          }
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => giveUp(new TahoeError('Timeout', `no answer from the SAM bridge within ${timeoutMs} ms while ${what}`, { details: { timeoutMs } })), timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.logger.debug(`${this.label} > ${describeLineForLog(line.trimEnd())}`);
      this.conn.socket.write(line);
    });
  }
}

export class SamSession {
  /** Resolves when the session's control socket is gone (the session is dead then). */
  readonly closed: Promise<void>;
  private dead = false;
  private readonly channel: ControlChannel;
  private readonly lookupCache = new Map<string, string>();
  /** Cancelled when the session dies (see whileAlive). */
  private readonly inFlight = new Set<AbortController>();

  constructor(
    readonly client: SamClient,
    private readonly control: SamConnection,
    readonly id: string,
    private readonly privateKey: string,
    /** Our destination (I2P base64). */
    readonly destinationBase64: string,
    /** `<52>.b32.i2p` */
    readonly b32: string,
  ) {
    this.closed = new Promise<void>((resolve) => {
      control.socket.once('close', () => {
        this.dead = true;
        for (const c of this.inFlight) c.abort();
        resolve();
      });
    });
    this.channel = new ControlChannel(control, client.logger, `session ${id}`);
  }

  get isAlive(): boolean {
    return !this.dead && !this.control.socket.destroyed;
  }

  /** The private key blob (secret: for saving to a key file, never for logs). */
  revealPrivateKey(): string {
    return this.privateKey;
  }

  private assertAlive(): void {
    if (!this.isAlive) {
      throw new TahoeError('SamRefused', `I2P session ${this.id} is closed`, {
        hint: 'the router closed the session (it may have restarted); a new session is created on the next attempt',
        details: { result: 'SESSION_CLOSED' },
      });
    }
  }

  /**
   * `signal` combined with the session's death: a stream command in flight on another
   * socket does not notice by itself that the session's control socket closed (i2pd leaves
   * a pending ACCEPT open), so it is cancelled and reported as SESSION_CLOSED.
   */
  private async whileAlive<T>(signal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const died = new AbortController();
    this.inFlight.add(died);
    if (!this.isAlive) died.abort();
    const combined = signal ? AbortSignal.any([signal, died.signal]) : died.signal;
    try {
      return await run(combined);
    } catch (e) {
      if (died.signal.aborted && !signal?.aborted) {
        throw new TahoeError('SamRefused', `I2P session ${this.id} closed while a stream command was pending`, {
          cause: e,
          hint: 'the router ended the session (it may have restarted); a new session is created on the next attempt',
          details: { result: 'SESSION_CLOSED' },
        });
      }
      throw e;
    } finally {
      this.inFlight.delete(died);
    }
  }

  /**
   * `NAMING LOOKUP` on the session's control socket: works for `ME` (our own destination)
   * and for other names. Cached. Commands on the control socket are serialised.
   */
  async lookup(name: string, signal?: AbortSignal): Promise<string> {
    const cached = this.lookupCache.get(name) ?? (name === 'ME' ? undefined : this.client.cachedName(name));
    if (cached) return cached;
    this.assertAlive();
    const run = namingLookup(this.channel, name, this.client.timeouts.namingLookupMs, signal);
    const value = await run;
    this.lookupCache.set(name, value);
    return value;
  }

  /**
   * `STREAM CONNECT` on a new SAM socket. `destination`: I2P base64 destination,
   * `<52>.b32.i2p`, or a name the router knows. Resolves with the raw stream after
   * `RESULT=OK` — which means "request sent", not "peer accepted" (see `firstByteTimeoutMs`).
   */
  async connect(destination: string, options: ConnectOptions = {}): Promise<net.Socket> {
    this.assertAlive();
    return this.whileAlive(options.signal, (signal) => this.connectNow(destination, signal, options.firstByteTimeoutMs));
  }

  private async connectNow(destination: string, signal: AbortSignal, firstByteTimeoutMs: number | undefined): Promise<net.Socket> {
    const conn = await this.client.open(`connect ${this.id}`, signal);
    try {
      const reply = await conn.request(
        formatCommand('STREAM', 'CONNECT', [['ID', this.id], ['DESTINATION', destination], ['SILENT', 'false']]),
        ['STREAM', 'STATUS'],
        'connecting over I2P',
        this.client.timeouts.connectReplyMs,
        signal,
      );
      checkOk(conn, reply, 'connect');
    } catch (e) {
      conn.close();
      throw e;
    }
    const socket = conn.socket;
    if (firstByteTimeoutMs !== undefined) armFirstByteTimer(socket, firstByteTimeoutMs);
    return socket;
  }

  /**
   * One `STREAM ACCEPT` on a new SAM socket: resolves when a peer connects (no time limit;
   * cancel with the signal). SAM 3.1 allows one pending ACCEPT per session: callers loop.
   */
  async accept(options: { signal?: AbortSignal; onPending?: () => void } = {}): Promise<AcceptedStream> {
    this.assertAlive();
    return this.whileAlive(options.signal, (signal) => this.acceptNow(signal, options.onPending));
  }

  private async acceptNow(signal: AbortSignal, onPending: (() => void) | undefined): Promise<AcceptedStream> {
    const conn = await this.client.open(`accept ${this.id}`, signal);
    try {
      const reply = await conn.request(
        formatCommand('STREAM', 'ACCEPT', [['ID', this.id], ['SILENT', 'false']]),
        ['STREAM', 'STATUS'],
        'registering an I2P accept',
        this.client.timeouts.acceptReplyMs,
        signal,
      );
      checkOk(conn, reply, 'accept');
      onPending?.();
      const line = await conn.readLine('waiting for an incoming I2P stream', 0, signal);
      const peerDestination = parsePeerLine(line);
      return { socket: conn.socket, peerDestination };
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /**
   * `STREAM FORWARD`: the router dials `host:port` for every incoming stream and writes the
   * peer's destination line first. Forwarding stops when the returned handle is closed.
   */
  async forward(port: number, host = '127.0.0.1', signal?: AbortSignal): Promise<{ close(): void; closed: Promise<void> }> {
    this.assertAlive();
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TahoeError('BadInput', `invalid forward port ${port}`);
    const conn = await this.client.open(`forward ${this.id}`, signal);
    try {
      const reply = await conn.request(
        formatCommand('STREAM', 'FORWARD', [['ID', this.id], ['PORT', String(port)], ['HOST', host], ['SILENT', 'false']]),
        ['STREAM', 'STATUS'],
        'setting up I2P forwarding',
        this.client.timeouts.acceptReplyMs,
        signal,
      );
      checkOk(conn, reply, 'forward');
    } catch (e) {
      conn.close();
      throw e;
    }
    // Nothing more comes on this socket; keep it flowing so its end is noticed.
    conn.socket.on('error', () => undefined);
    conn.socket.resume();
    const closed = new Promise<void>((resolve) => conn.socket.once('close', () => resolve()));
    return { close: () => conn.close(), closed };
  }

  /** Close the control socket: the router destroys the session and its streams. */
  async close(): Promise<void> {
    if (this.control.socket.destroyed) return;
    this.control.close();
    await this.closed;
  }
}

/**
 * The line an ACCEPT/FORWARD socket receives before the stream: `<dest b64>` (3.1) or
 * `<dest b64> FROM_PORT=n TO_PORT=n` (3.2+). A `STREAM STATUS …` line instead means the
 * session died.
 */
export function parsePeerLine(raw: string): string {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.startsWith('STREAM STATUS')) {
    const reply = parseSamReply(line);
    throw samResultError('accept', reply.pairs.get('RESULT') ?? 'I2P_ERROR', reply.pairs.get('MESSAGE'));
  }
  const dest = line.split(' ')[0];
  try {
    const bytes = i2pBase64Decode(dest, 'peer destination');
    const info = parseDestination(bytes, 'peer destination');
    if (info.length !== bytes.length) throw new Error('trailing bytes');
  } catch (e) {
    throw new TahoeError('SamProtocolError', 'the SAM bridge sent an invalid peer destination line for an incoming stream', {
      cause: e,
      hint: 'is [i2p] sam.port really an I2P SAM bridge?',
      details: { line: describeLineForLog(line) },
    });
  }
  return dest;
}

/**
 * Confirm a dialled stream by the peer's first byte: destroy `socket` with a `Timeout` if no
 * byte arrives from the peer within `ms`, and with `ServerUnreachable` if the router ends
 * the stream before the peer said anything. The latter is how i2pd reports a CONNECT that
 * nobody accepted (the destination's session is closing, or has no ACCEPT pending): it
 * answered OK, then closes the socket ≈ 10 s later without a word (i2p.md §5.5).
 */
function armFirstByteTimer(socket: net.Socket, ms: number): void {
  // Bytes already received include the SAM reply lines; anything beyond means the peer spoke.
  const baseline = socket.bytesRead - socket.readableLength;
  const peerSpoke = () => socket.bytesRead > baseline;
  const timer = setTimeout(() => {
    if (peerSpoke() || socket.destroyed) return;
    socket.destroy(
      new TahoeError('Timeout', `the I2P peer sent nothing within ${ms} ms of connecting`, {
        hint: 'the destination accepted no stream: it may be offline, or its router has not published its LeaseSet yet; retry later',
        details: { timeoutMs: ms },
      }),
    );
  }, ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // First in line, so that consumers see the error rather than a clean end.
  socket.prependOnceListener('end', () => {
    if (peerSpoke()) return;
    clearTimeout(timer);
    socket.destroy(
      new TahoeError('ServerUnreachable', 'the I2P router closed the stream before the peer sent anything: nobody accepted it', {
        hint: 'the destination is not accepting streams right now (offline, restarting, or overloaded); retry later',
      }),
    );
  });
}
