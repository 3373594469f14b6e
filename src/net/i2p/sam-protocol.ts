/**
 * SAM v3 wire format: reply-line parsing, command building, and the mapping of SAM
 * result codes to TahoeErrors with hints. No I/O here (the socket side is sam.ts).
 *
 * Spec: i2p.www `i2p2www/pages/site/docs/api/samv3.html` ("Encoding and Escaping",
 * HELLO, SESSION, STREAM, NAMING, DEST); behaviour of i2pd 2.45.1 in shared/specs/i2p.md
 * §1–§2. We speak 3.1 (what i2pd 2.45 offers), but parse replies leniently enough for
 * 3.2+ bridges: several spaces between pairs, double-quoted values with \" and \\ escapes,
 * keys without a value.
 */
import { TahoeError } from '../../errors.js';

/** Longest reply line we accept (a DEST REPLY with an RSA-4096 key is ≈ 3.3 KB). */
export const MAX_SAM_LINE_BYTES = 16 * 1024;

export interface SamReply {
  /** e.g. "HELLO", "SESSION", "STREAM", "NAMING", "DEST" */
  command: string;
  /** e.g. "REPLY", "STATUS" ("" when the line has a single word) */
  subcommand: string;
  /** KEY=VALUE pairs; a key given without '=' maps to "". */
  pairs: Map<string, string>;
}

function protocolError(message: string, line: string | undefined): TahoeError {
  return new TahoeError('SamProtocolError', message, {
    hint: 'the SAM bridge sent something unexpected; is [i2p] sam.port really an I2P SAM bridge (i2pd, or Java I2P with SAM enabled)?',
    details: line === undefined ? {} : { line: describeLineForLog(line) },
  });
}

/**
 * Parse one reply line (without the trailing "\n"; a trailing "\r" is tolerated).
 * Throws `SamProtocolError` for anything that is not `WORD [WORD] [KEY[=VALUE]]…`.
 */
export function parseSamReply(raw: string): SamReply {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) throw protocolError('SAM reply contains control characters', line);
  let i = 0;
  const n = line.length;
  const skipSpaces = () => {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  };
  const readWord = (): string => {
    const start = i;
    while (i < n && line[i] !== ' ' && line[i] !== '\t') i++;
    return line.slice(start, i);
  };
  skipSpaces();
  const command = readWord();
  if (!/^[A-Z][A-Z0-9_]*$/.test(command)) throw protocolError(`SAM reply does not start with a command word`, line);
  skipSpaces();
  let subcommand = '';
  const save = i;
  const second = readWord();
  if (/^[A-Z][A-Z0-9_]*$/.test(second)) subcommand = second;
  else i = save;
  const pairs = new Map<string, string>();
  for (;;) {
    skipSpaces();
    if (i >= n) break;
    const keyStart = i;
    while (i < n && line[i] !== '=' && line[i] !== ' ' && line[i] !== '\t' && line[i] !== '"') i++;
    const key = line.slice(keyStart, i);
    if (key.length === 0) throw protocolError('SAM reply has an empty key', line);
    if (i >= n || line[i] === ' ' || line[i] === '\t') {
      pairs.set(key, '');
      continue;
    }
    if (line[i] === '"') throw protocolError('SAM reply has a quote inside a key', line);
    i++; // '='
    let value = '';
    if (line[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = line[i];
        if (c === '\\' && i + 1 < n && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          value += line[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) throw protocolError('SAM reply has an unterminated quoted value', line);
      if (i < n && line[i] !== ' ' && line[i] !== '\t') throw protocolError('SAM reply has text glued to a quoted value', line);
    } else {
      const start = i;
      while (i < n && line[i] !== ' ' && line[i] !== '\t') i++;
      value = line.slice(start, i);
      if (value.includes('"')) throw protocolError('SAM reply has a stray quote in a value', line);
    }
    if (pairs.has(key)) throw protocolError(`SAM reply repeats the key ${key}`, line);
    pairs.set(key, value);
  }
  return { command, subcommand, pairs };
}

/** Check that a reply is `COMMAND SUBCOMMAND …` as expected, else `SamProtocolError`. */
export function expectReply(reply: SamReply, command: string, subcommand: string, line: string): void {
  if (reply.command !== command || reply.subcommand !== subcommand) {
    throw protocolError(`expected "${command} ${subcommand}" from the SAM bridge, got "${reply.command} ${reply.subcommand}"`, line);
  }
}

// ---------------------------------------------------------------------------------------
// Commands

const OPTION_KEY_RE = /^[A-Za-z0-9._-]+$/;
// Option values go on the command line unquoted: 3.1 bridges do not parse quotes reliably.
const OPTION_VALUE_RE = /^[\x21-\x7e]*$/;

/**
 * Validate I2CP/streaming options for `SESSION CREATE` (they come from tahoe.cfg or code).
 * Throws `ConfigInvalid` naming the bad option.
 */
export function validateSessionOptions(options: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(options)) {
    if (!OPTION_KEY_RE.test(key) || !OPTION_VALUE_RE.test(value) || value.includes('"')) {
      throw new TahoeError('ConfigInvalid', `invalid I2P session option ${JSON.stringify(key)}=${JSON.stringify(value)}`, {
        hint: 'session option keys use letters, digits, "." "_" "-"; values must be printable ASCII without spaces or quotes (e.g. inbound.quantity=3)',
      });
    }
    const reserved = ['STYLE', 'ID', 'DESTINATION', 'SIGNATURE_TYPE', 'SILENT', 'PORT', 'HOST'];
    if (reserved.includes(key)) {
      throw new TahoeError('ConfigInvalid', `I2P session option ${key} is set by tahoe-ts itself`, {
        hint: `remove ${key} from the session options`,
      });
    }
  }
}

/**
 * Build one command line (with "\n"). Values are validated, never quoted: a value with a
 * space, quote or control character is a bug or hostile input and is refused.
 */
export function formatCommand(command: string, subcommand: string, args: ReadonlyArray<readonly [string, string]>): string {
  let line = `${command} ${subcommand}`;
  for (const [key, value] of args) {
    if (!OPTION_KEY_RE.test(key) && !/^[A-Z_]+$/.test(key)) throw new TahoeError('Internal', `bad SAM key ${key}`);
    if (!OPTION_VALUE_RE.test(value) || value.includes('"')) {
      throw new TahoeError('BadInput', `value for SAM ${key} contains spaces, quotes or control characters`, {
        hint: 'I2P names and destinations never contain spaces; check the address',
      });
    }
    line += ` ${key}=${value}`;
  }
  return line + '\n';
}

/** A line safe to log: key material replaced by its length. */
export function describeLineForLog(line: string): string {
  return line
    .replace(/\b(DESTINATION|PRIV|PUB|VALUE)=("[^"]*"|\S{40,})/g, (_m, key: string, value: string) => `${key}=[${value.length} chars]`)
    .slice(0, 300);
}

// ---------------------------------------------------------------------------------------
// Result codes → errors

export type SamOperation = 'hello' | 'session' | 'connect' | 'accept' | 'forward' | 'lookup' | 'generate';

const OPERATION_TEXT: Record<SamOperation, string> = {
  hello: 'SAM handshake',
  session: 'creating the I2P session',
  connect: 'connecting over I2P',
  accept: 'waiting for an I2P connection',
  forward: 'setting up I2P forwarding',
  lookup: 'looking up an I2P name',
  generate: 'generating an I2P destination',
};

/**
 * The error for a non-OK `RESULT`. Every code the SAM 3.3 spec defines is mapped; unknown
 * codes become `SamRefused` too. `details.result` always holds the code and
 * `details.samMessage` the bridge's MESSAGE, if any.
 */
export function samResultError(op: SamOperation, result: string, message: string | undefined, extra: { target?: string } = {}): TahoeError {
  const what = OPERATION_TEXT[op];
  const details = { result, samMessage: message, operation: op };
  const text = `${what} failed: RESULT=${result}${message ? ` (${message})` : ''}${extra.target ? ` for ${extra.target}` : ''}`;
  switch (result) {
    case 'NOVERSION':
      return new TahoeError('SamRefused', text, {
        details,
        hint: 'the I2P router does not speak SAM 3.1; upgrade i2pd (≥ 2.x) or Java I2P (≥ 0.9.14)',
      });
    case 'DUPLICATED_ID':
      return new TahoeError('SamRefused', text, {
        details,
        hint: 'another session on this router already uses the same session ID; retry (tahoe-ts picks random IDs) or restart the router',
      });
    case 'DUPLICATED_DEST':
      return new TahoeError('SamRefused', text, {
        details,
        hint: 'this I2P destination is already in use on the router: is another tahoe-ts node running with the same private/i2p_dest.privkey?',
      });
    case 'INVALID_KEY':
      if (op === 'session') {
        return new TahoeError('SamRefused', text, {
          details,
          hint: 'the router rejected the private key: check private/i2p_dest.privkey (remove it to create a new address)',
        });
      }
      return new TahoeError('I2pAddressInvalid', text, {
        details,
        hint: op === 'lookup'
          ? 'the router does not know this name; use a <52 chars>.b32.i2p address or the full base64 destination'
          : 'the I2P address is not a valid destination, .b32.i2p address or known .i2p name',
      });
    case 'KEY_NOT_FOUND':
      return new TahoeError('I2pAddressInvalid', text, {
        details,
        hint: 'the router\'s address book does not know this name; use a <52 chars>.b32.i2p address or the full base64 destination',
      });
    case 'INVALID_ID':
      return new TahoeError('SamRefused', text, {
        details,
        hint: 'the I2P session is gone on the router (it restarted, or the session socket closed); tahoe-ts creates a new one on the next attempt',
      });
    case 'CANT_REACH_PEER':
      return new TahoeError('ServerUnreachable', text, {
        details,
        hint: 'the I2P destination is not reachable: it may be offline or its LeaseSet not yet published; retry later',
      });
    case 'TIMEOUT':
      return new TahoeError('Timeout', text, {
        details,
        hint: 'the I2P router timed out reaching the peer; I2P tunnels can be slow, retry later',
      });
    case 'PEER_NOT_FOUND':
      return new TahoeError('ServerUnreachable', text, {
        details,
        hint: 'the router could not find the peer\'s LeaseSet; it may be offline',
      });
    case 'ALREADY_ACCEPTING':
      return new TahoeError('SamRefused', text, {
        details,
        hint: 'the router allows only one pending STREAM ACCEPT per session (SAM 3.1); this is a tahoe-ts bug if you see it',
      });
    case 'I2P_ERROR':
    default:
      return new TahoeError('SamRefused', text, {
        details,
        hint: 'the I2P router refused the request; check the router log (i2pd.log) for details',
      });
  }
}
