/**
 * Tor control protocol, the pure part: reply framing, CStrings, `Key=Value` arguments and
 * the typed events tahoe-ts listens to. No I/O here, so every function can be fuzzed.
 *
 * Spec: torspec `control-spec.txt` §2.3 (replies: `NNN-`, `NNN+` with a dot-stuffed data
 * block, `NNN ` final line), §2.1.1 (CStrings), §4.1 (asynchronous events, code 650),
 * §4.1.10 (STATUS_CLIENT), §4.1.25 (HS_DESC), §5.5 (bootstrap phases); summarised in
 * shared/specs/tor.md §2.
 */
import { TahoeError } from '../../errors.js';
import type { SocketEndpoint } from '../socket.js';

export interface ReplyLine {
  /** Three-digit status code, e.g. 250. */
  code: number;
  /** '-' mid line, '+' followed by a data block, ' ' final line. */
  separator: '-' | '+' | ' ';
  text: string;
  /** The un-dot-stuffed data block after a '+' line (lines joined with "\n"). */
  data?: string;
}

export interface ControlReply {
  /** Code of the final line (all lines of a reply share it in practice). */
  code: number;
  lines: ReplyLine[];
}

/** Limits that keep a hostile or confused peer from growing our memory without bound. */
export const MAX_LINE_BYTES = 1 << 20;
export const MAX_REPLY_BYTES = 16 << 20;

const LINE_PATTERN = /^([0-9]{3})([ +-])(.*)$/s;

export function controlProtocolError(message: string, details: Record<string, string | number | undefined> = {}): TahoeError {
  return new TahoeError('TorControlError', `tor control protocol: ${message}`, {
    hint: 'the control port sent something that is not tor\'s control protocol; is [tor] control.port really tor\'s ControlPort?',
    details: { reason: 'protocol', ...details },
  });
}

/**
 * Incremental reply parser: feed it bytes as they arrive, get whole replies back.
 * Throws a `TorControlError` (reason "protocol") on anything that is not a reply.
 */
export class ControlReplyParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lines: ReplyLine[] = [];
  private replyBytes = 0;
  private dataLines: string[] | undefined;

  push(chunk: Uint8Array): ControlReply[] {
    const replies: ControlReply[] = [];
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (;;) {
      const newline = buffer.indexOf(0x0a);
      if (newline < 0) {
        this.pendingBytes += buffer.length;
        if (this.pendingBytes > MAX_LINE_BYTES) throw controlProtocolError(`line longer than ${MAX_LINE_BYTES} bytes`);
        if (buffer.length > 0) this.pending.push(buffer);
        return replies;
      }
      const head = buffer.subarray(0, newline);
      buffer = buffer.subarray(newline + 1);
      let line = this.pending.length > 0 ? Buffer.concat([...this.pending, head]) : head;
      this.pending = [];
      this.pendingBytes = 0;
      if (line.length > MAX_LINE_BYTES) throw controlProtocolError(`line longer than ${MAX_LINE_BYTES} bytes`);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      const reply = this.takeLine(line.toString('utf8'));
      if (reply) replies.push(reply);
    }
  }

  /** True when a reply has started but not finished (used to detect truncated streams). */
  get midReply(): boolean {
    return this.lines.length > 0 || this.dataLines !== undefined || this.pendingBytes > 0;
  }

  private takeLine(line: string): ControlReply | undefined {
    this.replyBytes += line.length + 2;
    if (this.replyBytes > MAX_REPLY_BYTES) throw controlProtocolError(`reply longer than ${MAX_REPLY_BYTES} bytes`);
    if (this.dataLines !== undefined) {
      if (line === '.') {
        this.lines[this.lines.length - 1].data = this.dataLines.join('\n');
        this.dataLines = undefined;
      } else {
        this.dataLines.push(line.startsWith('.') ? line.slice(1) : line);
      }
      return undefined;
    }
    const match = LINE_PATTERN.exec(line);
    if (!match) throw controlProtocolError('malformed reply line', { line: line.slice(0, 80) });
    const code = Number(match[1]);
    const separator = match[2] as ReplyLine['separator'];
    this.lines.push({ code, separator, text: match[3] });
    if (separator === '+') this.dataLines = [];
    if (separator !== ' ') return undefined;
    const reply = { code, lines: this.lines };
    this.lines = [];
    this.replyBytes = 0;
    return reply;
  }
}

/** True for asynchronous event replies (code 6xx), which never answer a command. */
export function isAsyncReply(reply: ControlReply): boolean {
  return reply.code >= 600 && reply.code < 700;
}

/**
 * Decode a quoted CString starting at `text[start]` (which must be '"').
 * Returns the value and the index just past the closing quote.
 */
export function readQuotedString(text: string, start: number): { value: string; end: number } {
  if (text[start] !== '"') throw controlProtocolError('expected a quoted string');
  const bytes: number[] = [];
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) break;
      if (next >= '0' && next <= '7') {
        let digits = '';
        let j = i + 1;
        while (j < text.length && digits.length < 3 && text[j] >= '0' && text[j] <= '7') digits += text[j++];
        const value = parseInt(digits, 8);
        if (value > 0xff) throw controlProtocolError('octal escape out of range');
        bytes.push(value);
        i = j;
        continue;
      }
      const simple: Record<string, number> = { n: 0x0a, t: 0x09, r: 0x0d };
      bytes.push(...Buffer.from(simple[next] !== undefined ? String.fromCharCode(simple[next]) : next, 'utf8'));
      i += 2;
      continue;
    }
    bytes.push(...Buffer.from(c, 'utf8'));
    i++;
  }
  throw controlProtocolError('unterminated quoted string');
}

/** Quote a string for a command argument (the inverse of readQuotedString for our uses). */
export function quoteString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

export interface ParsedArguments {
  /** Words without '=' in order (e.g. the action of an event). */
  positional: string[];
  /** `Key=Value` pairs; quoted values are decoded. Later duplicates win. */
  values: Record<string, string>;
}

/**
 * Split a line of space-separated arguments into positional words and `Key=Value` pairs,
 * where a value (or a whole word) may be a quoted CString.
 */
export function parseArguments(text: string): ParsedArguments {
  const positional: string[] = [];
  const values: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    if (text[i] === '"') {
      const { value, end } = readQuotedString(text, i);
      positional.push(value);
      i = end;
      continue;
    }
    let j = i;
    while (j < text.length && text[j] !== ' ' && text[j] !== '=') j++;
    const word = text.slice(i, j);
    if (text[j] !== '=') {
      positional.push(word);
      i = j;
      continue;
    }
    if (text[j + 1] === '"') {
      const { value, end } = readQuotedString(text, j + 1);
      values[word] = value;
      i = end;
    } else {
      let k = j + 1;
      while (k < text.length && text[k] !== ' ') k++;
      values[word] = text.slice(j + 1, k);
      i = k;
    }
  }
  return { positional, values };
}

/** Read a GETINFO reply into `key → value` (data blocks for multi-line values). */
export function parseGetInfoReply(reply: ControlReply): Record<string, string> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of reply.lines) {
    if (line.separator === ' ') continue; // the final "250 OK"
    const eq = line.text.indexOf('=');
    if (eq < 0) throw controlProtocolError('GETINFO line without "="', { line: line.text.slice(0, 80) });
    const key = line.text.slice(0, eq);
    result[key] = line.separator === '+' ? (line.data ?? '') : line.text.slice(eq + 1);
  }
  return result;
}

/**
 * `GETINFO net/listeners/socks`: space-separated quoted addresses, e.g.
 * `"127.0.0.1:9050" "unix:/run/tor/socks"`. Parsed listeners keep unix sockets (G-9).
 */
export function parseSocksListeners(value: string): SocketEndpoint[] {
  const { positional, values } = parseArguments(value);
  if (Object.keys(values).length > 0) throw controlProtocolError('unexpected key=value in a listener list');
  return positional.map(parseListenerAddress);
}

export function parseListenerAddress(address: string): SocketEndpoint {
  if (address.startsWith('unix:')) {
    const socketPath = address.slice(5);
    if (socketPath.length === 0) throw controlProtocolError('empty unix listener path');
    return { path: socketPath };
  }
  const bracketed = /^\[([0-9a-fA-F:.]+)\]:([0-9]{1,5})$/.exec(address);
  const plain = /^([^:\s]+):([0-9]{1,5})$/.exec(address);
  const match = bracketed ?? plain;
  if (!match) throw controlProtocolError('unparsable listener address', { address: address.slice(0, 80) });
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw controlProtocolError('listener port out of range', { port });
  return { host: match[1], port };
}

/**
 * A listener tor reports as bound to all interfaces (`0.0.0.0:9050`, `[::]:9050`) is
 * dialled on loopback: that is where it is reachable, and the only place the privacy
 * policy lets a SOCKS connection go.
 */
export function dialableListener(endpoint: SocketEndpoint): SocketEndpoint {
  if ('path' in endpoint) return endpoint;
  if (endpoint.host === '0.0.0.0') return { host: '127.0.0.1', port: endpoint.port };
  if (endpoint.host === '::') return { host: '::1', port: endpoint.port };
  return endpoint;
}

// ---------------------------------------------------------------------------------------
// Events

export interface BootstrapStatus {
  /** 0–100 */
  progress: number;
  tag: string;
  summary: string;
  /** NOTICE normally; WARN when tor has a problem (then `warning`/`reason`/`recommendation`). */
  severity: string;
  warning?: string;
  reason?: string;
  recommendation?: string;
  count?: number;
  host?: string;
  hostAddress?: string;
}

export interface StatusClientEvent {
  type: 'STATUS_CLIENT';
  severity: string;
  /** e.g. BOOTSTRAP, CIRCUIT_ESTABLISHED, DANGEROUS_SOCKS; unknown actions are kept. */
  action: string;
  args: Record<string, string>;
  /** Present for action BOOTSTRAP. */
  bootstrap?: BootstrapStatus;
}

export type HsDescAction = 'REQUESTED' | 'UPLOAD' | 'RECEIVED' | 'UPLOADED' | 'IGNORE' | 'FAILED' | 'CREATED' | string;

export interface HsDescEvent {
  type: 'HS_DESC';
  action: HsDescAction;
  /** 56 base32 characters for v3 (no ".onion"), or "UNKNOWN". */
  address: string;
  authType: string;
  hsDir: string;
  descriptorId?: string;
  reason?: string;
  replica?: string;
  hsDirIndex?: string;
}

export interface OtherEvent {
  type: 'OTHER';
  /** The event keyword, e.g. "CIRC". */
  name: string;
  lines: ReplyLine[];
}

export type TorEvent = StatusClientEvent | HsDescEvent | OtherEvent;

/** Parse the text after `650 ` of a bootstrap status (STATUS_CLIENT event or GETINFO value). */
export function parseBootstrapStatus(severity: string, values: Record<string, string>): BootstrapStatus {
  const progress = Number(values.PROGRESS);
  if (!Number.isInteger(progress) || progress < 0 || progress > 100) {
    throw controlProtocolError('bootstrap status without a valid PROGRESS', { progress: values.PROGRESS });
  }
  const status: BootstrapStatus = { progress, tag: values.TAG ?? '', summary: values.SUMMARY ?? '', severity };
  if (values.WARNING !== undefined) status.warning = values.WARNING;
  if (values.REASON !== undefined) status.reason = values.REASON;
  if (values.RECOMMENDATION !== undefined) status.recommendation = values.RECOMMENDATION;
  if (values.COUNT !== undefined && /^[0-9]+$/.test(values.COUNT)) status.count = Number(values.COUNT);
  if (values.HOST !== undefined) status.host = values.HOST;
  if (values.HOSTADDR !== undefined) status.hostAddress = values.HOSTADDR;
  return status;
}

/** `GETINFO status/bootstrap-phase` value: `NOTICE BOOTSTRAP PROGRESS=… TAG=… SUMMARY="…"`. */
export function parseBootstrapPhase(value: string): BootstrapStatus {
  const { positional, values } = parseArguments(value);
  if (positional[1] !== 'BOOTSTRAP') throw controlProtocolError('unexpected bootstrap-phase value', { value: value.slice(0, 80) });
  return parseBootstrapStatus(positional[0] ?? 'NOTICE', values);
}

/** Turn an asynchronous (650) reply into a typed event. */
export function parseEvent(reply: ControlReply): TorEvent {
  const first = reply.lines[0];
  const space = first.text.indexOf(' ');
  const name = space < 0 ? first.text : first.text.slice(0, space);
  const rest = space < 0 ? '' : first.text.slice(space + 1);
  if (name === 'STATUS_CLIENT') {
    const { positional, values } = parseArguments(rest);
    const severity = positional[0] ?? '';
    const action = positional[1] ?? '';
    const event: StatusClientEvent = { type: 'STATUS_CLIENT', severity, action, args: values };
    if (action === 'BOOTSTRAP') event.bootstrap = parseBootstrapStatus(severity, values);
    return event;
  }
  if (name === 'HS_DESC') {
    const { positional, values } = parseArguments(rest);
    if (positional.length < 4) throw controlProtocolError('HS_DESC event with too few fields', { fields: positional.length });
    const event: HsDescEvent = {
      type: 'HS_DESC',
      action: positional[0],
      address: positional[1],
      authType: positional[2],
      hsDir: positional[3],
    };
    if (positional[4] !== undefined) event.descriptorId = positional[4];
    if (values.REASON !== undefined) event.reason = values.REASON;
    if (values.REPLICA !== undefined) event.replica = values.REPLICA;
    if (values.HSDIR_INDEX !== undefined) event.hsDirIndex = values.HSDIR_INDEX;
    return event;
  }
  return { type: 'OTHER', name, lines: reply.lines };
}
