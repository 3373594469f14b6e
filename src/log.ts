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

// Secrets: always redacted.
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // capability strings: URI:CHK:..., URI:DIR2:..., URI:SSK:..., URI:LIT:... (LIT holds file data)
  [/\bURI:[A-Za-z0-9-]+:[A-Za-z0-9:._~%-]*/g, 'URI:[cap]'],
  // fURL / NURL: keep the scheme, drop the secret path (swissnum) and the pinned identity
  [/\bpb(\+tor|\+i2p)?:\/\/[^\s"'<>]*/g, 'pb$1://[furl]'],
  // Tahoe node keys and Tor onion key blobs
  [/\bpriv-v0-[a-z2-7]+/g, 'priv-v0-[key]'],
  [/\bED25519-V3:[A-Za-z0-9+/=]+/g, 'ED25519-V3:[key]'],
  // Authorization headers
  [/(Tahoe-LAFS|X-Tahoe-Authorization:?\s*[a-z-]+)\s+[A-Za-z0-9+/=]+/gi, '$1 [secret]'],
  // I2P private keys / destinations in SAM lines (long I2P-base64 runs)
  [/\b(DESTINATION|PRIV|PUB|VALUE)=[A-Za-z0-9~=-]{300,}/g, '$1=[i2p-key]'],
];

// Addresses: redacted unless log_sensitive.
const ADDRESS_PATTERNS: Array<[RegExp, string | ((m: string) => string)]> = [
  [/\b[a-z2-7]{56}\.onion\b/gi, '[onion]'],
  [/\b[a-z2-7]{16}\.onion\b/gi, '[onion]'],
  [/\b[a-z2-7]{52,}\.b32\.i2p\b/gi, '[i2p]'],
  [/\b[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.i2p\b/gi, '[i2p]'],
  // long I2P base64 destinations that appear outside SAM key=value syntax
  [/[A-Za-z0-9~-]{500,}={0,2}/g, '[i2p]'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, (m) => (isLoopbackV4(m) ? m : '[ip]')],
  // IPv6: at least two groups and a "::" or seven colons; keep ::1
  [/(?<![A-Za-z0-9:])(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}(?![A-Za-z0-9:])|(?<![A-Za-z0-9:])(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?(?![A-Za-z0-9:])/gi,
    (m) => (m === '::1' ? m : '[ip]')],
];

function isLoopbackV4(s: string): boolean {
  return s.startsWith('127.');
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
    this.level = options.level ?? (process.env.TAHOE_TS_LOG_LEVEL as LogLevel | undefined) ?? 'info';
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
