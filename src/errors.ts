/**
 * Errors with a stable `kind` and a human `hint`, in the spirit of Arti's ErrorKind.
 *
 * The kinds are grouped by *where* the failure happened, because that is what a user
 * needs to know first: is it my configuration, my local Tor/I2P daemon, the network,
 * the peer, or the data itself? The `kind` strings are public API: tests, the web
 * gateway's JSON errors and scripts match on them. Add kinds sparingly.
 */

/** Where a failure happened. */
export type ErrorArea =
  | 'config' // the node's configuration or node directory, or a CLI argument
  | 'input' // a string the user or a peer handed us: cap, endpoint, hint, request
  | 'privacy' // a setting or a connection that could reveal the node's IP address
  | 'local' // a local daemon or resource: tor, i2pd, the disk
  | 'network' // reaching a peer: proxies, circuits, TCP
  | 'peer' // the peer answered, but wrongly or with a refusal
  | 'data' // stored data failed verification or is not retrievable
  | 'internal'; // a bug in tahoe-ts

const KIND_AREAS = {
  // config
  ConfigInvalid: 'config',
  ConfigUnknownKey: 'config',
  NodeDirInvalid: 'config',
  UsageError: 'config',
  // input
  BadInput: 'input',
  EndpointInvalid: 'input',
  CapInvalid: 'input',
  OnionAddressInvalid: 'input',
  I2pAddressInvalid: 'input',
  NotFound: 'input',
  // privacy
  PrivacyViolation: 'privacy',
  // local daemons and resources
  TorUnavailable: 'local',
  TorControlError: 'local',
  TorAuthFailed: 'local',
  TorBootstrapTimeout: 'local',
  I2pUnavailable: 'local',
  SamRefused: 'local',
  SamProtocolError: 'local',
  DiskError: 'local',
  NodeNotRunning: 'local',
  // network
  ServerUnreachable: 'network',
  ProxyRefused: 'network',
  ProxyProtocolError: 'network',
  OnionNotFound: 'network',
  OnionUnreachable: 'network',
  OnionAuthRequired: 'network',
  Timeout: 'network',
  Aborted: 'network',
  // peer
  TlsPinMismatch: 'peer',
  ProtocolError: 'peer',
  ServerRejected: 'peer',
  // data
  ShareCorrupt: 'data',
  NotEnoughShares: 'data',
  UploadUnhappy: 'data',
  IntegrityError: 'data',
  WriteConflict: 'data',
  // internal
  Internal: 'internal',
} as const satisfies Record<string, ErrorArea>;

export type ErrorKind = keyof typeof KIND_AREAS;

export const ERROR_KINDS: readonly ErrorKind[] = Object.keys(KIND_AREAS) as ErrorKind[];

/** A generic hint per kind, used when the thrower has nothing more specific to say. */
const DEFAULT_HINTS: Record<ErrorKind, string> = {
  ConfigInvalid: 'fix the named setting in tahoe.cfg; `tahoe-ts check-config` lists every problem',
  ConfigUnknownKey: 'remove or correct the named key; `tahoe-ts check-config` suggests the nearest valid key',
  NodeDirInvalid: 'check the node directory (-d DIR) exists, belongs to you, and private/ is mode 0700',
  UsageError: 'see `tahoe-ts <command> --help`',
  BadInput: 'check the value you supplied',
  EndpointInvalid: 'see docs/configuration.md for the endpoint and hint syntax',
  CapInvalid: 'check that the capability string was copied whole (caps start with URI:)',
  OnionAddressInvalid: 'a v3 onion address is 56 base32 characters plus ".onion"; check for a typo',
  I2pAddressInvalid: 'an I2P address is 52 base32 characters plus ".b32.i2p", or an I2P base64 destination',
  NotFound: 'nothing has that name: check the path (names are case-sensitive) or list the directory',
  PrivacyViolation: 'this setting or connection could reveal your IP address; see docs/anonymity.md',
  TorUnavailable: 'is tor running? set [tor] socks.port or control.port, or [tor] launch = true',
  TorControlError: 'tor refused a control command; check the tor log',
  TorAuthFailed: 'tahoe-ts could not authenticate to tor\'s control port; check the cookie file is readable (group debian-tor)',
  TorBootstrapTimeout: 'tor did not finish bootstrapping; check your network connection and system clock',
  I2pUnavailable: 'ensure an I2P router is running and its SAM bridge is enabled ([i2p] sam.port, default tcp:127.0.0.1:7656)',
  SamRefused: 'the I2P router refused the request; check the i2pd log',
  SamProtocolError: 'the SAM bridge sent something unexpected; is [i2p] sam.port really a SAM bridge?',
  DiskError: 'check free space and permissions of the node directory',
  NodeNotRunning: 'start the node with `tahoe-ts run` (or pass -d for another node directory)',
  ServerUnreachable: 'the server may be offline; tahoe-ts retries with backoff',
  ProxyRefused: 'the proxy (tor) could not open the connection; the server may be offline',
  ProxyProtocolError: 'the SOCKS proxy sent an invalid reply; is [tor] socks.port really tor\'s SOCKS port?',
  OnionNotFound: 'the onion service has not published a descriptor: it may be offline or just starting',
  OnionUnreachable: 'the onion service did not answer in time; retry later',
  OnionAuthRequired: 'this onion service needs client authorization: add its ClientAuthV3 key',
  Timeout: 'the operation took too long; Tor and I2P can be slow, raise the timeout if needed',
  Aborted: 'the operation was cancelled',
  TlsPinMismatch: 'the server\'s certificate does not match its NURL: wrong address, or an attack',
  ProtocolError: 'the peer sent an invalid response; it may run an incompatible version',
  ServerRejected: 'the server refused the request',
  ShareCorrupt: 'a share failed verification; tahoe-ts uses another share when it can',
  NotEnoughShares: 'fewer than k valid shares could be found; more servers need to be reachable',
  UploadUnhappy: 'not enough servers accepted shares; connect to more servers or lower shares.happy',
  IntegrityError: 'data failed verification: it was corrupted or tampered with',
  WriteConflict: 'another client changed this mutable file or directory at the same time; read it again and retry',
  Internal: 'this is a bug in tahoe-ts; please report it with the log',
};

export function areaOf(kind: ErrorKind): ErrorArea {
  return KIND_AREAS[kind];
}

export interface TahoeErrorOptions {
  /** What the user can do about it. Defaults to a generic hint for the kind. */
  hint?: string;
  cause?: unknown;
  /** Machine-readable extra facts (a config key, a SOCKS reply code, an HTTP status). */
  details?: Record<string, string | number | boolean | undefined>;
}

export class TahoeError extends Error {
  readonly kind: ErrorKind;
  readonly area: ErrorArea;
  readonly hint: string;
  readonly details: Record<string, string | number | boolean | undefined>;

  constructor(kind: ErrorKind, message: string, options: TahoeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TahoeError';
    this.kind = kind;
    this.area = KIND_AREAS[kind];
    this.hint = options.hint ?? DEFAULT_HINTS[kind];
    this.details = options.details ?? {};
  }

  /** One line for humans: "message (hint: ...)". */
  describe(): string {
    return `${this.message}\n  hint: ${this.hint}`;
  }

  toJSON(): { kind: ErrorKind; area: ErrorArea; message: string; hint: string; details: TahoeError['details'] } {
    return { kind: this.kind, area: this.area, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isTahoeError(e: unknown, kind?: ErrorKind): e is TahoeError {
  return e instanceof TahoeError && (kind === undefined || e.kind === kind);
}

/** Wrap anything thrown into a TahoeError, keeping TahoeErrors as they are. */
export function asTahoeError(e: unknown, fallbackKind: ErrorKind = 'Internal', hint?: string): TahoeError {
  if (e instanceof TahoeError) return e;
  if (e instanceof Error && e.name === 'AbortError') return new TahoeError('Aborted', e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new TahoeError(fallbackKind, message, { cause: e, hint });
}

/** Throw `Aborted` if the signal has fired; call at the top of each async step. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReasonOf(signal);
}

/** Why an aborted signal was aborted, as a TahoeError (its reason if it is one). */
export function abortReasonOf(signal: AbortSignal): TahoeError {
  const reason: unknown = signal.reason;
  if (reason instanceof TahoeError) return reason;
  return new TahoeError('Aborted', reason instanceof Error ? reason.message : 'operation aborted', { cause: reason });
}
