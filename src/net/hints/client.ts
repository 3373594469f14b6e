/**
 * Client-side strings: Foolscap connection hints (what a server publishes in its fURL and
 * `tub.location`) and Twisted client endpoint descriptors (`[tor] socks.port`,
 * `[tor] control.port`, `[i2p] sam.port`).
 *
 * Specs: foolscap `doc/connection-handlers.rst` and `src/foolscap/connections/{tcp,tor,i2p}.py`
 * (hint grammar: `tcp:HOST:PORT` with HOST a name, dotted quad or `[IPv6]`; legacy
 * `HOST:PORT` means tcp; `tor:HOST:PORT`; `i2p:ADDR[:PORT]`; unknown `TYPE:…` hints from
 * the future are ignored by a client), Twisted `clientFromString` (`tcp:host=H:port=P`,
 * `unix:path=P`), shared/specs/configuration.md §2 and i2p.md §4.
 *
 * Parsers are strict: anything they accept formats back to a string that parses to the
 * same value (tested by round-trip and fuzz tests).
 */
import { TahoeError } from '../../errors.js';
import { isOnionName, parseOnionAddress } from '../tor/onion-address.js';
import { parseI2pAddress } from '../i2p/address.js';
import { checkFields, escapeValue, formatDescriptor, parseDescriptor, rejectControlCharacters } from './descriptor.js';
import { checkHost, hostForUrl, parsePort, splitHostPort } from './host.js';

/** A connection hint, as published in fURLs and `tub.location`. */
export type ConnectionHint =
  /** `tcp:HOST:PORT`; `legacy` when written as bare `HOST:PORT` (kept so it is republished as written). */
  | { type: 'tcp'; host: string; port: number; legacy?: true }
  /** `tor:HOST:PORT`, normally a v3 `.onion` name. */
  | { type: 'tor'; host: string; port: number }
  /** `i2p:ADDR[:PORT]` with ADDR a `.b32.i2p` address, a `name.i2p` or an I2P-base64 destination. */
  | { type: 'i2p'; address: string; port?: number }
  /** A `TYPE:…` hint of a type this version does not know (fURLs only; never dialled). */
  | { type: 'unknown'; text: string };

/** A Twisted client endpoint descriptor, as used for the local Tor and I2P daemons. */
export type ClientEndpoint =
  | { type: 'tcp'; host: string; port: number }
  | { type: 'tor'; host: string; port: number }
  | { type: 'i2p'; address: string; port?: number }
  | { type: 'unix'; path: string };

const KNOWN_HINT_TYPES = ['tcp', 'tor', 'i2p'];
const HINT_FORMS = 'tcp:HOST:PORT, tor:ADDRESS.onion:PORT, i2p:ADDRESS.b32.i2p[:PORT] or HOST:PORT';
/** foolscap's legacy `HOST:PORT` pattern: a DNS name or dotted quad, then digits. */
const LEGACY_HINT_RE = /^([A-Za-z0-9.-]+):([0-9]+)$/;
const UNKNOWN_HINT_RE = /^[A-Za-z0-9]+:[^,/\s]*$/;

/** Host validation shared by tcp and tor: onion names must be valid v3 addresses, `.i2p` names valid I2P names. */
function checkHintHost(host: string, what: string): void {
  if (isOnionName(host)) {
    parseOnionAddress(host);
    return;
  }
  checkHost(host, what);
  if (/\.i2p$/i.test(host)) parseI2pAddress(host);
}

/**
 * Parse the `HOST:PORT` part of a tcp/tor hint or client descriptor, in the compact form
 * (`example.net:3457`, `[2001:db8::1]:3457`) or Twisted's keyword forms (`host=H:port=P`,
 * `H:port=P`, `host=H:P`, with `\:` escapes).
 */
function parseHostAndPort(type: string, rest: string, what: string, allowZeroPort: boolean): { host: string; port: number } {
  if (!/[=\\]/.test(rest)) {
    const hp = splitHostPort(rest);
    if (!hp) {
      throw new TahoeError('EndpointInvalid', `${what}: "${type}:${rest}" has no port`, { hint: `write ${type}:HOST:PORT, e.g. ${type}:example.net:3457` });
    }
    if (hp.host.includes(':') && !hp.bracketed) {
      throw new TahoeError('EndpointInvalid', `${what}: "${type}:${rest}" has too many ":" fields`, {
        hint: `write IPv6 addresses in brackets, e.g. ${type}:[2001:db8::1]:3457`,
      });
    }
    if (hp.bracketed && !hp.host.includes(':')) {
      throw new TahoeError('EndpointInvalid', `${what}: only IPv6 addresses are written in brackets`, { hint: `write ${type}:${hp.host}:PORT` });
    }
    checkHintHost(hp.host, what);
    return { host: hp.host, port: parsePort(hp.port, what, allowZeroPort) };
  }
  const d = parseDescriptor(`${type}:${rest}`, what);
  checkFields(d, ['host', 'port'], 2, what, `${type}:host=example.net:port=3457`);
  let host = d.kwargs.get('host');
  let port = d.kwargs.get('port');
  const args = [...d.args];
  // Twisted: with host= given, a single positional field is the port.
  if (host === undefined) host = args.shift();
  if (port === undefined) port = args.shift();
  if (args.length > 0 || host === undefined) {
    throw new TahoeError('EndpointInvalid', `${what}: "${type}:${rest}" gives the host or port twice`, { hint: `write ${type}:HOST:PORT` });
  }
  checkHintHost(host, what);
  return { host, port: parsePort(port, what, allowZeroPort) };
}

function parseI2pRest(rest: string, what: string): { address: string; port?: number } {
  // No I2P address form contains ':', so the first one starts the port.
  const colon = rest.indexOf(':');
  const address = colon < 0 ? rest : rest.slice(0, colon);
  if (address === '') throw new TahoeError('I2pAddressInvalid', `${what}: the I2P address is empty`, { hint: 'write i2p:<52 chars>.b32.i2p:PORT' });
  parseI2pAddress(address);
  if (colon < 0) return { address };
  return { address, port: parsePort(rest.slice(colon + 1), what) };
}

export interface ParseHintOptions {
  /** Keep `TYPE:…` hints of unknown types (fURLs from newer peers) instead of failing. */
  allowUnknown?: boolean;
  what?: string;
}

/** Parse one connection hint. */
export function parseHint(text: string, options: ParseHintOptions = {}): ConnectionHint {
  const what = options.what ?? 'connection hint';
  rejectControlCharacters(text, what);
  if (text === '') throw new TahoeError('EndpointInvalid', `${what} is empty`, { hint: `remove the extra comma, or write ${HINT_FORMS}` });
  if (/[\s,/]/.test(text)) {
    throw new TahoeError('EndpointInvalid', `${what} "${text}" contains a space, comma or slash`, {
      hint: 'hints are separated by commas without spaces; Tahoe 1.20 would publish a broken hint',
    });
  }
  const legacy = LEGACY_HINT_RE.exec(text);
  if (legacy) {
    checkHintHost(legacy[1], what);
    return { type: 'tcp', host: legacy[1], port: parsePort(legacy[2], what, true), legacy: true };
  }
  const colon = text.indexOf(':');
  const type = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (type === 'tcp' || type === 'tor') {
    // Port 0 is accepted: it is the conventional "not reachable" placeholder (torsocks setups).
    const { host, port } = parseHostAndPort(type, rest, what, true);
    return { type, host, port };
  }
  if (type === 'i2p') return { type: 'i2p', ...parseI2pRest(rest, what) };
  if (KNOWN_HINT_TYPES.includes(type.toLowerCase())) {
    throw new TahoeError('EndpointInvalid', `${what} "${text}": write the hint type in lower case`, { hint: `e.g. ${type.toLowerCase()}:${rest}` });
  }
  if (options.allowUnknown && UNKNOWN_HINT_RE.test(text)) return { type: 'unknown', text };
  throw new TahoeError('EndpointInvalid', `${what} "${text}" is not a connection hint tahoe-ts understands`, { hint: `write ${HINT_FORMS}` });
}

export function formatHint(hint: ConnectionHint): string {
  switch (hint.type) {
    case 'tcp':
      return hint.legacy ? `${hint.host}:${hint.port}` : `tcp:${hostForUrl(hint.host)}:${hint.port}`;
    case 'tor':
      return `tor:${hostForUrl(hint.host)}:${hint.port}`;
    case 'i2p':
      return hint.port === undefined ? `i2p:${hint.address}` : `i2p:${hint.address}:${hint.port}`;
    case 'unknown':
      return hint.text;
  }
}

// ---------------------------------------------------------------------------------------
// Client endpoint descriptors

const CLIENT_FORMS = 'tcp:127.0.0.1:9050, unix:/run/tor/socks, tor:HOST:PORT or i2p:ADDRESS[:PORT]';

/** Parse a client endpoint descriptor such as `tcp:127.0.0.1:9051` or `unix:/var/run/tor/control`. */
export function parseClientEndpoint(text: string, what = 'client endpoint'): ClientEndpoint {
  rejectControlCharacters(text, what);
  if (text === '') throw new TahoeError('EndpointInvalid', `${what} is empty`, { hint: `write e.g. ${CLIENT_FORMS}` });
  const colon = text.indexOf(':');
  const type = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  switch (type) {
    case 'tcp':
    case 'tor': {
      if (/\s/.test(rest)) throw new TahoeError('EndpointInvalid', `${what} "${text}" contains a space`, { hint: `write e.g. ${type}:127.0.0.1:9050` });
      const { host, port } = parseHostAndPort(type, rest, what, false);
      return { type, host, port };
    }
    case 'i2p':
      return { type: 'i2p', ...parseI2pRest(rest, what) };
    case 'unix': {
      const d = parseDescriptor(text, what);
      checkFields(d, ['path'], 1, what, 'unix:/var/run/tor/control');
      const path = d.args[0] ?? d.kwargs.get('path');
      if (d.args.length > 0 && d.kwargs.has('path')) {
        throw new TahoeError('EndpointInvalid', `${what} gives the socket path twice`, { hint: 'write unix:PATH' });
      }
      if (path === undefined || path === '') throw new TahoeError('EndpointInvalid', `${what}: the unix socket path is empty`, { hint: 'write unix:/var/run/tor/control' });
      return { type: 'unix', path };
    }
    default:
      if (/^\d+$/.test(text)) {
        throw new TahoeError('EndpointInvalid', `${what} "${text}" is a bare port number`, { hint: `client endpoints name the host too: write tcp:127.0.0.1:${text}` });
      }
      throw new TahoeError('EndpointInvalid', `${what} "${text}" has an unknown endpoint type "${type}"`, { hint: `write e.g. ${CLIENT_FORMS}` });
  }
}

export function formatClientEndpoint(ep: ClientEndpoint): string {
  switch (ep.type) {
    case 'tcp':
    case 'tor':
      // Twisted's clientFromString has no bracket syntax: IPv6 hosts use escaped colons.
      return ep.host.includes(':') ? `${ep.type}:host=${escapeValue(ep.host)}:port=${ep.port}` : `${ep.type}:${ep.host}:${ep.port}`;
    case 'i2p':
      return ep.port === undefined ? `i2p:${ep.address}` : `i2p:${ep.address}:${ep.port}`;
    case 'unix':
      return formatDescriptor('unix', [ep.path]);
  }
}
