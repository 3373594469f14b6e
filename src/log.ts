/**
 * A small logger that redacts what could identify a node or its peers.
 *
 * By default (`[node] log_sensitive = false`) every line is passed through `redact()`:
 * onion and I2P addresses and non-loopback IP addresses become `[onion]`, `[i2p]`,
 * `[ip]`. Secrets (caps, swissnums, private keys, fURL/NURL secrets) are *always*
 * redacted, even with log_sensitive on: there is no reason to ever write them to a log.
 * Loopback addresses stay visible: they identify nobody and help debugging.
 *
 * Callers that know a value is sensitive wrap it in `Sensitive` so it prints redacted
 * even when the pattern-based pass would not recognise it (e.g. a clearnet hostname).
 */
import { isIPv4, isIPv6 } from 'node:net';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A value that is printed as `[redacted]` unless sensitive logging is on. */
export class Sensitive<T> {
  constructor(readonly value: T) {}
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  /** The real value, for code paths that must use it (never for printing). */
  reveal(): T {
    return this.value;
  }
}

export function sensitive<T>(value: T): Sensitive<T> {
  return new Sensitive(value);
}

// Secrets: always redacted. No leading \b: a secret glued to other text is still a secret.
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // capability strings: URI:CHK:..., URI:DIR2:..., URI:SSK:..., URI:LIT:... (LIT holds file data)
  [/URI:[A-Za-z0-9-]+:[A-Za-z0-9:._~%-]*/g, 'URI:[cap]'],
  // the same, percent-encoded in a web path or query (/uri/URI%3ACHK%3A…)
  [/URI%3A[A-Za-z0-9%._~:-]*/gi, 'URI:[cap]'],
  // fURL / NURL: keep the scheme, drop the secret path (swissnum) and the pinned identity
  [/pb(\+tor|\+i2p)?:\/\/[^\s"'<>]*/g, 'pb$1://[furl]'],
  // Tahoe node keys and Tor onion key blobs
  [/priv-v0-[a-z2-7]+/g, 'priv-v0-[key]'],
  [/ED25519-V3:[A-Za-z0-9+/=]+/g, 'ED25519-V3:[key]'],
  // Authorization headers ("Authorization: Tahoe-LAFS <base64>", "X-Tahoe-Authorization: lease-renew-secret <base64>");
  // 16+ characters, so that prose such as "Tahoe-LAFS 1.20" stays readable
  [/(Tahoe-LAFS|X-Tahoe-Authorization:?\s*[a-z-]+)\s+[A-Za-z0-9+/_-]{16,}={0,2}/gi, '$1 [secret]'],
  // I2P private keys / destinations in SAM lines (long I2P-base64 runs)
  [/\b(DESTINATION|PRIV|PUB|VALUE)=[A-Za-z0-9~=-]{300,}/g, '$1=[i2p-key]'],
  // I2P private keys anywhere else (key files, error messages): a destination plus its
  // private keys is at least 884 I2P-base64 characters (DSA_SHA1 + ElGamal), 908 for
  // Ed25519 + ElGamal; public destinations (516–524) stay address-class below.
  [/[A-Za-z0-9~-]{880,}={0,2}/g, '[i2p-key]'],
];

// Addresses: redacted unless log_sensitive.
const ADDRESS_PATTERNS: Array<[RegExp, string | ((m: string) => string)]> = [
  // onion names (v3 and v2, with any subdomain), also when glued to other text
  [/(?:[a-z0-9-]+\.)*[a-z2-7]{16,}\.onion/gi, '[onion]'],
  // a v3 onion service id without ".onion", as tor's control port writes it (ServiceID=…, HS_DESC events)
  [/(?<![a-z2-7])[a-z2-7]{56,}(?![a-z2-7])/g, '[onion]'],
  [/(?:[a-z0-9-]+\.)*[a-z2-7]{52,}\.b32\.i2p/gi, '[i2p]'],
  [/\b[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.i2p\b/gi, '[i2p]'],
  // long I2P base64 destinations that appear outside SAM key=value syntax
  [/[A-Za-z0-9~-]{500,}={0,2}/g, '[i2p]'],
  // IPv6 before IPv4 (an IPv4-mapped address is one IPv6 address). Candidates are runs of
  // hex digits, colons and dots; only what net.isIPv6 accepts is redacted (so times like
  // 12:34:56 and MAC addresses stay), after dropping punctuation such as the colon in
  // "2001:db8::7: refused". Loopback stays visible.
  [/(?<![A-Za-z0-9:.])[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*[0-9A-Fa-f](?:%[A-Za-z0-9_.-]+)?/g, redactIpv6Candidate],
  [/(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9]|\.[0-9])/g, (m) => (isIPv4(m) && !keepIpv4(m) ? '[ip]' : m)],
];

/** 127/8 identifies nobody; 0/8 is "this host" (0.0.0.0 in listener descriptions) and also how tor versions look (0.4.9.11). */
function keepIpv4(s: string): boolean {
  return s.startsWith('127.') || s.startsWith('0.');
}

function redactIpv6Candidate(m: string): string {
  const zone = m.indexOf('%');
  const address = zone >= 0 ? m.slice(0, zone) : m;
  if (!address.includes('::') && (address.match(/:/g) ?? []).length < 2) return m;
  if (isIPv6(address)) return isLoopbackV6(address) ? m : '[ip]';
  // An address with a port written after it without brackets ("2001:db8:1:2:3:4:5:6:3457").
  const lastColon = address.lastIndexOf(':');
  const head = address.slice(0, lastColon);
  if (zone < 0 && lastColon > 0 && isIPv6(head) && !isLoopbackV6(head)) return `[ip]${address.slice(lastColon)}`;
  return m;
}

function isLoopbackV6(address: string): boolean {
  const lower = address.toLowerCase();
  return lower === '::1' || /^::ffff:127\./.test(lower) || /^(0{1,4}:){7}0{0,3}1$/.test(lower);
}

/** Remove secrets always; remove addresses unless `revealAddresses`. */
export function redact(text: string, revealAddresses = false): string {
  let out = text;
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  if (!revealAddresses) {
    for (const [re, rep] of ADDRESS_PATTERNS) {
      out = typeof rep === 'string' ? out.replace(re, rep) : out.replace(re, rep);
    }
  }
  return out;
}

/**
 * `TAHOE_TS_LOG_LEVEL` (debug, info, warn, error; any case). Anything else is ignored: an
 * unknown level used to compare as no level at all and let every debug line through.
 */
export function levelFromEnvironment(value: string | undefined): LogLevel | undefined {
  const level = value?.trim().toLowerCase();
  return level !== undefined && Object.hasOwn(LEVEL_ORDER, level) ? (level as LogLevel) : undefined;
}

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** `[node] log_sensitive`: show addresses (secrets stay hidden). */
  logSensitive?: boolean;
  sink?: LogSink;
  /** Component name shown in brackets. */
  component?: string;
}

type LogArg = string | number | boolean | bigint | null | undefined | Error | Sensitive<unknown> | object;

export class Logger {
  private readonly level: LogLevel;
  private readonly logSensitive: boolean;
  private readonly sink: LogSink;
  private readonly component: string | undefined;

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? levelFromEnvironment(process.env.TAHOE_TS_LOG_LEVEL) ?? 'info';
    this.logSensitive = options.logSensitive ?? false;
    this.sink = options.sink ?? { write: (line) => process.stderr.write(line + '\n') };
    this.component = options.component;
  }

  child(component: string): Logger {
    return new Logger({
      level: this.level,
      logSensitive: this.logSensitive,
      sink: this.sink,
      component: this.component ? `${this.component}/${component}` : component,
    });
  }

  get revealsAddresses(): boolean {
    return this.logSensitive;
  }

  debug(...args: LogArg[]): void {
    this.log('debug', args);
  }
  info(...args: LogArg[]): void {
    this.log('info', args);
  }
  warn(...args: LogArg[]): void {
    this.log('warn', args);
  }
  error(...args: LogArg[]): void {
    this.log('error', args);
  }

  /** Format a message exactly as it would be logged (useful for error text shown to users). */
  format(...args: LogArg[]): string {
    return redact(args.map((a) => this.stringify(a)).join(' '), this.logSensitive);
  }

  private stringify(a: LogArg): string {
    if (a instanceof Sensitive) return this.logSensitive ? String(a.value) : '[redacted]';
    if (a instanceof Error) {
      const hint = (a as { hint?: unknown }).hint;
      return typeof hint === 'string' ? `${a.message} (hint: ${hint})` : a.message;
    }
    if (typeof a === 'object' && a !== null) {
      try {
        return JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      } catch {
        return '[unserializable]';
      }
    }
    return String(a);
  }

  private log(level: LogLevel, args: LogArg[]): void {
    if (LEVEL_ORDER[level] < LEVEL_ORDER[this.level]) return;
    const prefix = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)}${this.component ? ` [${this.component}]` : ''}`;
    this.sink.write(`${prefix} ${this.format(...args)}`);
  }
}

/** A logger that drops everything (tests, library use). */
export const silentLogger = new Logger({ level: 'error', sink: { write: () => undefined } });
