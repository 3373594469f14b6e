/**
 * The privacy rules, in one place: startup validation of the configuration
 * (`checkPrivacy`), the egress gate every socket passes (`Policy.gate`, used by
 * net/socket.ts `openSocket`), and the per-dial check (`Policy.checkDial`).
 *
 * Specs: shared/specs/configuration.md §2 (tub.port/tub.location pairing), §3 (Tahoe 1.20's
 * `reveal-IP-address = false` vetoes), §3a (the original design's `anonymize`), and
 * anonymity-checklist.md AN-1 (startup validation), AN-2 (one egress choke point, no local
 * name resolution), AN-3 (hints and names).
 *
 * The two spellings are one setting: `anonymize = true` means `reveal-IP-address = false`
 * plus `[connections] tcp = tor`. Giving both with opposite meanings is an error. They
 * differ in one default only, which each spelling's documentation fixes: a missing
 * `tub.location` means AUTO under `reveal-IP-address = false` (an error: 1.20 refuses it)
 * but "announce nothing" under `anonymize = true` (the original design allows it). When
 * both are set (consistently), the anonymize reading applies.
 *
 * tahoe-ts is stricter than 1.20 where 1.20 leaks: listeners on non-loopback interfaces,
 * Tor/I2P daemon endpoints off the machine, clear-net `tor:` hints in our own location.
 */
import { TahoeError } from '../errors.js';
import type { DaemonPurpose, EgressGate, EgressPurpose, SocketEndpoint } from './socket.js';
import type { DialTarget, TransportName } from './transport.js';
import { isOnionName, parseOnionAddress } from './tor/onion-address.js';
import { parseI2pAddress } from './i2p/address.js';
import { checkHost, isLoopbackAddress, isNonPublicNumericAddress, parsePort } from './hints/host.js';
import { parseClientEndpoint, type ClientEndpoint } from './hints/client.js';
import { parseServerEndpoint, type ServerEndpoint } from './hints/server.js';
import { parseTubLocation, parseTubPort, type TubLocation, type TubPort } from './hints/location.js';

export interface PrivacySettings {
  /** [node] anonymize (original spelling); undefined if absent */
  anonymize?: boolean;
  /** [node] reveal-IP-address (1.20 spelling); undefined if absent */
  revealIpAddress?: boolean;
  /** raw [connections] tcp; undefined if absent (default tcp) */
  connectionsTcp?: string;
  /** raw [node] tub.port; undefined if absent */
  tubPort?: string;
  /** raw [node] tub.location; undefined if absent (= AUTO) */
  tubLocation?: string;
  /** raw [node] web.port */
  webPort?: string;
  /** [tor] enabled */
  torEnabled: boolean;
  /** [i2p] enabled */
  i2pEnabled: boolean;
  /** raw [tor] socks.port, [tor] control.port, [i2p] sam.port (for the egress gate) */
  torSocksPort?: string;
  torControlPort?: string;
  i2pSamPort?: string;
}

export interface PrivacyProblem {
  /** Stable rule id (see RULES); tests and docs/endpoints.md refer to it. */
  rule: string;
  /** The offending setting, e.g. "[node] tub.location". */
  key: string;
  message: string;
  /** The fix. */
  hint: string;
}

/** Rule ids, one per check (each has its own test in test/net/policy.test.ts). */
export const RULES = {
  contradiction: 'anonymize-contradicts-reveal-ip',
  invalidValue: 'invalid-value',
  tcpHandlerInvalid: 'connections-tcp-invalid',
  directTcpWhenHidden: 'direct-tcp-when-hidden',
  torRequiredButDisabled: 'tor-required-but-disabled',
  i2pRequiredButDisabled: 'i2p-required-but-disabled',
  autoLocationWhenHidden: 'auto-location-when-hidden',
  tcpHintWhenHidden: 'tcp-hint-when-hidden',
  clearnetTorHintWhenHidden: 'clearnet-tor-hint-when-hidden',
  listenerNotLoopbackWhenHidden: 'listener-not-loopback-when-hidden',
  daemonNotLoopbackWhenHidden: 'daemon-endpoint-not-loopback-when-hidden',
  disabledPairing: 'tub-disabled-pairing',
} as const;

export type TcpHandler = 'tcp' | 'tor' | 'disabled';

const KEY = {
  anonymize: '[node] anonymize',
  revealIp: '[node] reveal-IP-address',
  tcp: '[connections] tcp',
  tubPort: '[node] tub.port',
  tubLocation: '[node] tub.location',
  webPort: '[node] web.port',
  torEnabled: '[tor] enabled',
  i2pEnabled: '[i2p] enabled',
  torSocks: '[tor] socks.port',
  torControl: '[tor] control.port',
  i2pSam: '[i2p] sam.port',
} as const;

/** True when the node must not reveal its IP address (either spelling; a contradiction counts as hiding: fail closed). */
export function isHidingIp(s: PrivacySettings): boolean {
  return s.anonymize === true || s.revealIpAddress === false;
}

/**
 * What `[connections] tcp` resolves to: the written value (case-insensitive), else `tor`
 * under `anonymize = true`, else `tcp` (1.20's default). Undefined for an invalid value.
 */
export function effectiveTcpHandler(s: PrivacySettings): TcpHandler | undefined {
  if (s.connectionsTcp === undefined) return s.anonymize === true ? 'tor' : 'tcp';
  const v = s.connectionsTcp.trim().toLowerCase();
  return v === 'tcp' || v === 'tor' || v === 'disabled' ? v : undefined;
}

export interface TubDefaults {
  /**
   * When tub.port is absent: `null` = do not listen at all; otherwise the interface on
   * which to bind a kernel-chosen port that is then remembered in `client.port`
   * (`''` = all interfaces, as 1.20 does; `127.0.0.1` when hiding the IP).
   */
  portInterface: string | null;
  /** When tub.location is absent: AUTO (1.20) or UNREACHABLE (anonymize: announce nothing). */
  location: 'AUTO' | 'UNREACHABLE';
}

/** What absent `tub.port` / `tub.location` mean under these privacy settings (see the module comment). */
export function tubDefaults(s: PrivacySettings): TubDefaults {
  const location = s.anonymize === true && s.tubLocation === undefined ? 'UNREACHABLE' : 'AUTO';
  let portInterface: string | null = isHidingIp(s) ? '127.0.0.1' : '';
  // anonymize with neither key: a client that listens nowhere (the original design's client use case 3).
  if (s.anonymize === true && s.tubLocation === undefined && s.tubPort === undefined) portInterface = null;
  return { location, portInterface };
}

// ---------------------------------------------------------------------------------------
// Startup validation

interface Parsed {
  tubPort?: TubPort;
  tubLocation?: TubLocation;
  webPort?: ServerEndpoint;
  daemons: Array<{ key: string; endpoint: ClientEndpoint }>;
}

function parseAll(s: PrivacySettings, problems: PrivacyProblem[]): Parsed {
  const out: Parsed = { daemons: [] };
  const attempt = <T>(key: string, raw: string | undefined, parse: (v: string) => T): T | undefined => {
    if (raw === undefined) return undefined;
    try {
      return parse(raw);
    } catch (e) {
      if (!(e instanceof TahoeError)) throw e;
      problems.push({ rule: RULES.invalidValue, key, message: `${key} = ${raw}: ${e.message}`, hint: e.hint });
      return undefined;
    }
  };
  out.tubPort = attempt(KEY.tubPort, s.tubPort, parseTubPort);
  out.tubLocation = attempt(KEY.tubLocation, s.tubLocation, parseTubLocation);
  // `web.port =` (empty) means "no web gateway": Tahoe 1.20 writes it for introducers and --webport=none.
  const webPort = s.webPort?.trim() === '' ? undefined : s.webPort;
  out.webPort = attempt(KEY.webPort, webPort, (v) => parseServerEndpoint(v.trim(), KEY.webPort));
  for (const [key, raw] of [
    [KEY.torSocks, s.torSocksPort],
    [KEY.torControl, s.torControlPort],
    [KEY.i2pSam, s.i2pSamPort],
  ] as const) {
    // An empty value means "use the defaults" (configuration.md §2).
    if (raw === undefined || raw.trim() === '') continue;
    const endpoint = attempt(key, raw, (v) => parseClientEndpoint(v.trim(), key));
    if (endpoint) out.daemons.push({ key, endpoint });
  }
  return out;
}

/** Listeners that bind something other than loopback: tcp/tcp6 without interface= or with a public one. */
function exposedListener(ep: ServerEndpoint): string | undefined {
  if (ep.type !== 'tcp' && ep.type !== 'tcp6') return undefined;
  if (ep.interface === undefined) return 'every network interface';
  return isLoopbackAddress(ep.interface) ? undefined : `interface ${ep.interface}`;
}

/**
 * Validate the privacy-relevant settings. Pure: never throws for bad values (each becomes
 * a problem) and never touches the network or the disk. An empty list means "may start".
 */
export function checkPrivacy(s: PrivacySettings): PrivacyProblem[] {
  const problems: PrivacyProblem[] = [];
  const add = (rule: string, key: string, message: string, hint: string) => problems.push({ rule, key, message, hint });
  const parsed = parseAll(s, problems);
  const hiding = isHidingIp(s);
  const spelling = s.anonymize === true ? `${KEY.anonymize} = true` : `${KEY.revealIp} = false`;

  // The two spellings are one setting.
  if (s.anonymize !== undefined && s.revealIpAddress !== undefined && s.anonymize === s.revealIpAddress) {
    add(
      RULES.contradiction,
      KEY.anonymize,
      `${KEY.anonymize} = ${s.anonymize} contradicts ${KEY.revealIp} = ${s.revealIpAddress}: they are one setting`,
      s.anonymize
        ? 'to hide your IP address remove reveal-IP-address (or set it to false); to reveal it remove anonymize'
        : 'to hide your IP address remove anonymize (or set it to true); otherwise remove reveal-IP-address = false',
    );
  }

  // [connections] tcp
  const tcp = effectiveTcpHandler(s);
  if (tcp === undefined) {
    add(
      RULES.tcpHandlerInvalid,
      KEY.tcp,
      `${KEY.tcp} = ${s.connectionsTcp ?? ''} is not a connection handler`,
      s.connectionsTcp?.trim().toLowerCase() === 'i2p'
        ? 'tcp = i2p is not supported (I2P has no exits): write tcp = tor or tcp = disabled'
        : 'write tcp = tcp, tcp = tor or tcp = disabled',
    );
  } else if (hiding && tcp === 'tcp') {
    add(
      RULES.directTcpWhenHidden,
      KEY.tcp,
      s.connectionsTcp === undefined
        ? `${spelling}, but ${KEY.tcp} is not set and defaults to tcp (direct connections reveal your IP address)`
        : `${spelling}, but ${KEY.tcp} = tcp makes direct connections that reveal your IP address`,
      'set [connections] tcp = tor (reach tcp: hints through Tor) or tcp = disabled (use only onion and I2P servers)',
    );
  }
  if (tcp === 'tor' && !s.torEnabled) {
    add(
      RULES.torRequiredButDisabled,
      KEY.torEnabled,
      s.anonymize === true && s.connectionsTcp === undefined
        ? `${KEY.anonymize} = true sends every connection through Tor, but ${KEY.torEnabled} = false`
        : `${KEY.tcp} = tor needs Tor, but ${KEY.torEnabled} = false`,
      'set [tor] enabled = true (or remove it), or use [connections] tcp = disabled',
    );
  }

  // Listeners that need a daemon that is switched off (AN-1.4, as far as configuration can tell).
  const tubEndpoints = parsed.tubPort?.type === 'endpoints' ? parsed.tubPort.endpoints : [];
  const locationItems = parsed.tubLocation?.type === 'items' ? parsed.tubLocation.items : [];
  if (!s.torEnabled && (tubEndpoints.some((e) => e.type === 'onion' || (e.type === 'listen' && e.transport === 'tor')) || locationItems.some((i) => i.type === 'onion'))) {
    add(RULES.torRequiredButDisabled, KEY.torEnabled, `an onion service is configured (tub.port or tub.location), but ${KEY.torEnabled} = false`, 'set [tor] enabled = true, or remove the onion listener');
  }
  if (!s.i2pEnabled && tubEndpoints.some((e) => e.type === 'i2p' || (e.type === 'listen' && e.transport === 'i2p'))) {
    add(RULES.i2pRequiredButDisabled, KEY.i2pEnabled, `tub.port listens on I2P, but ${KEY.i2pEnabled} = false`, 'set [i2p] enabled = true, or remove listen:i2p from tub.port');
  }

  // tub.port / tub.location "disabled" must pair (1.20 node.py), except that anonymize with no tub.location announces nothing.
  const portDisabled = parsed.tubPort?.type === 'disabled';
  const locationDisabled = parsed.tubLocation?.type === 'disabled';
  const locationAbsentUnderAnonymize = s.anonymize === true && s.tubLocation === undefined;
  if (portDisabled && !locationDisabled && !locationAbsentUnderAnonymize && (s.tubLocation === undefined || parsed.tubLocation)) {
    add(RULES.disabledPairing, KEY.tubLocation, 'tub.port is disabled, but tub.location is not', 'set tub.location = disabled as well (a node that does not listen has no location)');
  }
  if (locationDisabled && !portDisabled && (s.tubPort === undefined || parsed.tubPort)) {
    add(RULES.disabledPairing, KEY.tubPort, 'tub.location is disabled, but tub.port is not', 'set tub.port = disabled as well, or give tub.location the addresses to announce');
  }

  if (hiding) {
    // tub.location: AUTO, tcp hints and clear-net names reveal the address.
    if (s.tubLocation === undefined && !locationAbsentUnderAnonymize && !portDisabled) {
      add(
        RULES.autoLocationWhenHidden,
        KEY.tubLocation,
        `${spelling}, but tub.location is not set, which means AUTO: announce every local IP address`,
        'set tub.location = disabled (and tub.port = disabled) for a client, or tor:<your onion>.onion:PORT / i2p:<address>.b32.i2p:PORT for a server',
      );
    }
    for (const item of locationItems) {
      if (item.type === 'auto') {
        add(RULES.autoLocationWhenHidden, KEY.tubLocation, `${spelling}, but tub.location contains ${item.spelling}, which announces your IP addresses`, `remove ${item.spelling}; announce only onion or I2P addresses (or UNREACHABLE)`);
      } else if (item.type === 'hint' && item.hint.type === 'tcp') {
        const written = item.hint.legacy ? `${item.hint.host}:${item.hint.port}` : `tcp:${item.hint.host}:${item.hint.port}`;
        add(
          RULES.tcpHintWhenHidden,
          KEY.tubLocation,
          `${spelling}, but tub.location contains the TCP hint ${written}`,
          isOnionName(item.hint.host)
            ? `write it as tor:${item.hint.host}:${item.hint.port} (Tahoe 1.20 treats a bare HOST:PORT as a TCP hint)`
            : 'remove TCP hints; announce only tor:<onion>.onion:PORT or i2p:<address>.b32.i2p:PORT',
        );
      } else if (item.type === 'hint' && item.hint.type === 'tor' && !isOnionName(item.hint.host)) {
        add(
          RULES.clearnetTorHintWhenHidden,
          KEY.tubLocation,
          `${spelling}, but tub.location announces the clear-net name ${item.hint.host} (as a tor: hint), which points at your IP address`,
          'announce your onion service address instead: tor:<56 characters>.onion:PORT',
        );
      }
    }
    // Listeners: only loopback (AN-1.3). Absent tub.port binds 127.0.0.1 when hiding (tubDefaults).
    for (const [key, endpoints] of [
      [KEY.tubPort, tubEndpoints],
      [KEY.webPort, parsed.webPort ? [parsed.webPort] : []],
    ] as const) {
      for (const ep of endpoints) {
        const exposed = exposedListener(ep);
        if (exposed === undefined || (ep.type !== 'tcp' && ep.type !== 'tcp6')) continue;
        add(
          RULES.listenerNotLoopbackWhenHidden,
          key,
          `${spelling}, but ${key} listens on ${exposed} (port ${ep.port}), reachable from the network without Tor`,
          `bind to loopback: e.g. ${ep.type}:${ep.port}:interface=${ep.type === 'tcp6' ? '\\:\\:1' : '127.0.0.1'} (Tor or I2P forward to it)`,
        );
      }
    }
    // Local daemons: loopback or unix sockets only (AN-2.1), numeric so nothing is resolved.
    for (const { key, endpoint } of parsed.daemons) {
      if (endpoint.type === 'unix') continue;
      if (endpoint.type === 'tcp' && isLoopbackAddress(endpoint.host)) continue;
      const where = endpoint.type === 'tcp' || endpoint.type === 'tor' ? endpoint.host : endpoint.address;
      add(
        RULES.daemonNotLoopbackWhenHidden,
        key,
        `${spelling}, but ${key} points at ${where}, not at this machine's loopback interface`,
        endpoint.type === 'tcp' && endpoint.host === 'localhost'
          ? `write tcp:127.0.0.1:${endpoint.port}: names are never resolved locally when hiding the IP address`
          : 'run tor / the I2P router on this machine and write tcp:127.0.0.1:PORT or unix:/path/to/socket',
      );
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Runtime: the egress gate and the dial check

export interface Policy {
  readonly hideIp: boolean;
  /** What `[connections] tcp` resolved to (the router uses it). */
  readonly tcpHandler: TcpHandler;
  readonly gate: EgressGate;
  /** Throws (PrivacyViolation or an input kind) unless `target` may be dialled through `via`. */
  checkDial(target: DialTarget, via: TransportName): void;
}

function violation(message: string, hint: string, details: Record<string, string> = {}): TahoeError {
  return new TahoeError('PrivacyViolation', message, { hint, details });
}

function describeEndpoint(ep: SocketEndpoint): string {
  return 'path' in ep ? `unix:${ep.path}` : `${ep.host}:${ep.port}`;
}

const DAEMON_PURPOSES: ReadonlySet<EgressPurpose> = new Set(['tor-socks', 'tor-control', 'i2p-sam', 'local']);
const PINNED_PURPOSES: ReadonlySet<EgressPurpose> = new Set<DaemonPurpose>(['tor-socks', 'tor-control', 'i2p-sam']);

function daemonHint(purpose: EgressPurpose): string {
  return purpose === 'i2p-sam'
    ? 'set [i2p] sam.port = tcp:127.0.0.1:7656 (an I2P router on this machine)'
    : purpose === 'local'
      ? 'connect to 127.0.0.1 or ::1'
      : 'set [tor] socks.port / control.port to tcp:127.0.0.1:PORT or unix:PATH (tor on this machine)';
}

/**
 * The gate openSocket consults. Always: no socket to a `.onion`/`.i2p` name (it would leak
 * the name to the resolver). When hiding: no direct peer connections at all; daemon
 * connections only to numeric loopback addresses or unix sockets (AN-2.1), and only to
 * the Tor SOCKS/control and I2P SAM endpoints admitted for that purpose: configured,
 * discovery candidates, or learned from a daemon we launched or authenticated to (tor's
 * SOCKS port may be known only at run time, from GETINFO net/listeners/socks).
 */
function makeGate(hideIp: boolean): EgressGate {
  const admitted = new Map<string, string>();
  const keyOf = (endpoint: SocketEndpoint, purpose: EgressPurpose) => `${purpose} ${describeEndpoint(endpoint)}`;
  return {
    allowNameResolution: !hideIp,
    admit(endpoint: SocketEndpoint, purpose: DaemonPurpose, source: string): void {
      if (!PINNED_PURPOSES.has(purpose)) throw new TahoeError('Internal', `cannot admit an endpoint for ${String(purpose)}`, { hint: 'this is a bug in tahoe-ts' });
      admitted.set(keyOf(endpoint, purpose), source);
    },
    check(endpoint: SocketEndpoint, purpose: EgressPurpose): void {
      // A trailing dot (fully qualified name) reaches the resolver just the same.
      if (!('path' in endpoint) && /\.(onion|i2p)\.?$/i.test(endpoint.host)) {
        throw violation(`refusing a plain socket to ${endpoint.host}: onion and I2P names are reached only through Tor or I2P`, 'this is a bug in tahoe-ts if you see it: such names must be routed to the tor or i2p transport', { purpose });
      }
      if (!hideIp) return;
      if (purpose === 'direct') {
        throw violation(`refusing a direct connection to ${describeEndpoint(endpoint)}: it would reveal your IP address`, 'anonymize / reveal-IP-address = false is on: peers are reached through Tor or I2P only', { purpose });
      }
      if (!DAEMON_PURPOSES.has(purpose)) throw violation(`refusing a socket for unknown purpose ${purpose}`, 'this is a bug in tahoe-ts');
      if (!('path' in endpoint) && !isLoopbackAddress(endpoint.host)) {
        throw violation(
          `refusing to connect to ${describeEndpoint(endpoint)} for ${purpose}: only loopback addresses and unix sockets are allowed while hiding your IP address`,
          daemonHint(purpose),
          { purpose },
        );
      }
      if (PINNED_PURPOSES.has(purpose) && !admitted.has(keyOf(endpoint, purpose))) {
        throw violation(
          `refusing to connect to ${describeEndpoint(endpoint)} for ${purpose}: while hiding your IP address only the configured, discovered or launched ${purpose === 'i2p-sam' ? 'I2P SAM' : 'Tor'} endpoints may be used`,
          `${daemonHint(purpose)}; if you see this without having changed anything, it is a bug in tahoe-ts`,
          { purpose },
        );
      }
    },
  };
}

/** Validate a target's syntax (a target can be built by code, not only parsed). */
function checkTargetSyntax(target: DialTarget): void {
  if (target.kind === 'i2p') {
    parseI2pAddress(target.address);
    if (target.port !== undefined) parsePort(String(target.port), 'I2P target');
    return;
  }
  if (!Number.isInteger(target.port)) throw new TahoeError('EndpointInvalid', `port ${String(target.port)} is not a number`, { hint: 'a port is a number from 1 to 65535' });
  parsePort(String(target.port), `${target.kind} target`);
  if (isOnionName(target.host)) parseOnionAddress(target.host);
  else checkHost(target.host, `${target.kind} target`);
}

export function createPolicy(s: PrivacySettings): Policy {
  const problems = checkPrivacy(s);
  if (problems.length > 0) {
    const list = problems.map((p) => `  - ${p.key}: ${p.message}`).join('\n');
    throw new TahoeError('PrivacyViolation', `refusing to start: ${problems.length} problem${problems.length === 1 ? '' : 's'} with the privacy settings:\n${list}`, {
      hint: problems.length === 1 ? problems[0].hint : `${problems[0].hint} (and see each item above; \`tahoe-ts check-config\` lists them all with fixes)`,
      details: { rules: [...new Set(problems.map((p) => p.rule))].join(','), keys: [...new Set(problems.map((p) => p.key))].join(',') },
    });
  }
  const hideIp = isHidingIp(s);
  const tcpHandler = effectiveTcpHandler(s) as TcpHandler; // validated above
  return {
    hideIp,
    tcpHandler,
    gate: makeGate(hideIp),
    checkDial(target: DialTarget, via: TransportName): void {
      checkTargetSyntax(target);
      if (via === 'i2p') {
        if (target.kind !== 'i2p') throw new TahoeError('Internal', `a ${target.kind} target cannot be dialled through I2P`, { hint: 'this is a bug in the connection router' });
        return;
      }
      if (target.kind === 'i2p') {
        throw violation(`an I2P address can only be dialled through I2P, not ${via}`, 'this is a bug in the connection router: I2P addresses must use the i2p transport');
      }
      const host = target.host;
      if (via === 'tcp') {
        if (target.kind !== 'tcp' || isOnionName(host) || /\.i2p$/i.test(host)) {
          throw violation(`refusing to dial ${isOnionName(host) ? 'an onion address' : host} directly`, 'onion addresses are reached only through Tor; start tor or set [tor] socks.port');
        }
        if (hideIp) {
          throw violation(`refusing a direct TCP connection to ${host}: it would reveal your IP address`, 'with anonymize / reveal-IP-address = false, tcp: hints go through Tor ([connections] tcp = tor)');
        }
        return;
      }
      // via tor: names go to Tor unresolved; numeric hosts only if a Tor exit can reach them (AN-3.2).
      if (/\.i2p$/i.test(host)) throw new TahoeError('EndpointInvalid', `${host} is an I2P name; Tor cannot reach it`, { hint: 'reach I2P servers through their i2p: hint ([i2p] enabled)' });
      if (!isOnionName(host) && isNonPublicNumericAddress(host)) {
        const message = `refusing to ask Tor for ${host}: no Tor exit can reach a private, local or IPv6 address`;
        const hint = 'the server must announce a public address or an onion address';
        throw hideIp ? violation(message, hint) : new TahoeError('EndpointInvalid', message, { hint });
      }
    },
  };
}
