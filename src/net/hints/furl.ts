/**
 * fURLs (Foolscap, "version 0") and NURLs (HTTPS storage, "version 1").
 *
 * Specs: tahoe-lafs `docs/specifications/url.rst`; foolscap `furl.py` (`pb://TUBID@HINTS/NAME`,
 * hints comma-separated, an empty hint list allowed, an empty hint an error);
 * shared/specs/storage-protocol.md §1 (TubID = 32 base32 chars; SPKI hash = 43 chars of
 * unpadded base64url; exactly one netloc per NURL; `#v=1` marks version 1 and its absence
 * means a fURL; schemes `pb`, `pb+tor`, and the spec-only `pb+i2p`).
 *
 * An empty hint list (`pb://TUBID@/SWISSNUM`) is what Foolscap writes for a Tub with no
 * location (UNREACHABLE-style): it parses, and the router reports such a server as
 * unreachable. Foolscap ignores hints of types it does not know; so do we (they parse as
 * `unknown` and are never dialled), but a malformed hint of a known type is an error.
 */
import { TahoeError } from '../../errors.js';
import { isBase32 } from '../../crypto/base32.js';
import { isOnionName, parseOnionAddress } from '../tor/onion-address.js';
import { parseI2pAddress } from '../i2p/address.js';
import { rejectControlCharacters } from './descriptor.js';
import { formatHint, parseHint, type ConnectionHint } from './client.js';
import { checkHost, hostForUrl, parsePort, splitHostPort } from './host.js';

export interface Furl {
  /** 32 lowercase base32 characters: base32(SHA1(DER certificate)). */
  tubId: string;
  hints: ConnectionHint[];
  /** The object's secret name (the storage swissnum: 32 base32 characters). Never log it. */
  swissnum: string;
}

export type NurlScheme = 'pb' | 'pb+tor' | 'pb+i2p';

export interface Nurl {
  scheme: NurlScheme;
  /** base64url(SHA-256(DER SubjectPublicKeyInfo)), 43 characters, no padding. */
  spkiHash: string;
  /** Host name or IP address (`pb`), host name — normally `.onion` — (`pb+tor`), or `.i2p` address (`pb+i2p`). */
  host: string;
  /** Required for `pb` and `pb+tor`; optional for `pb+i2p` (SAM 3.1 streams have no ports). */
  port?: number;
  swissnum: string;
}

const SWISSNUM_RE = /^[A-Za-z0-9._~-]+$/;
const SPKI_HASH_RE = /^[A-Za-z0-9_-]{43}$/;

function bad(message: string, hint: string): TahoeError {
  return new TahoeError('EndpointInvalid', message, { hint });
}

/** Error text never contains the swissnum: describe a URL by its scheme only. */
function checkSwissnum(swissnum: string, what: string): void {
  if (swissnum === '') throw bad(`${what} has no secret (nothing after the last "/")`, 'copy the whole URL, including the part after the last "/"');
  if (!SWISSNUM_RE.test(swissnum)) {
    throw bad(`${what} has an invalid secret part (it may contain only letters, digits, ".", "_", "~" and "-")`, 'copy the URL again; it may have been cut or wrapped');
  }
}

function splitUrl(text: string, prefix: string, what: string): { user: string; netloc: string; swissnum: string; fragment: string | undefined } {
  rejectControlCharacters(text, what);
  const body = text.slice(prefix.length);
  const at = body.indexOf('@');
  if (at < 0) throw bad(`${what} has no "@"`, `a ${what} looks like ${prefix}ID@LOCATION/SECRET`);
  const user = body.slice(0, at);
  const afterAt = body.slice(at + 1);
  const slash = afterAt.indexOf('/');
  if (slash < 0) throw bad(`${what} has no "/" before its secret`, `a ${what} looks like ${prefix}ID@LOCATION/SECRET`);
  const netloc = afterAt.slice(0, slash);
  let rest = afterAt.slice(slash + 1);
  let fragment: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  if (rest.includes('?')) throw bad(`${what} has a query part ("?"), which is not allowed`, 'remove everything from "?" on');
  return { user, netloc, swissnum: rest, fragment };
}

/** Parse a fURL `pb://TUBID@HINT,HINT/SWISSNUM`. */
export function parseFurl(text: string): Furl {
  const what = 'fURL';
  if (!text.startsWith('pb://')) {
    if (/^pb\+(tor|i2p):\/\//.test(text)) throw bad(`this is a NURL, not a fURL`, 'NURLs (with #v=1) are used for HTTPS storage; pass it where a NURL is expected');
    throw bad(`${what} must start with "pb://"`, 'copy the whole fURL, starting with pb://');
  }
  const { user, netloc, swissnum, fragment } = splitUrl(text, 'pb://', what);
  if (fragment !== undefined) {
    if (fragment === 'v=1') throw bad('this is a NURL (it ends in #v=1), not a fURL', 'pass it where a NURL is expected');
    throw bad(`${what} has an unexpected "#" part`, 'remove everything from "#" on');
  }
  if (user.length !== 32 || !isBase32(user)) {
    throw bad(`${what} TubID "${user}" is not 32 lowercase base32 characters`, 'the part between pb:// and @ is the server\'s TubID; copy the fURL again');
  }
  checkSwissnum(swissnum, what);
  const hints = netloc === '' ? [] : netloc.split(',').map((h) => parseHint(h, { allowUnknown: true, what: 'fURL connection hint' }));
  return { tubId: user, hints, swissnum };
}

export function formatFurl(furl: Furl): string {
  return `pb://${furl.tubId}@${furl.hints.map(formatHint).join(',')}/${furl.swissnum}`;
}

function parseNurlNetloc(scheme: NurlScheme, netloc: string): { host: string; port?: number } {
  const what = `${scheme}:// NURL`;
  if (netloc === '') throw bad(`${what} has no host`, 'a NURL looks like pb://HASH@HOST:PORT/SECRET#v=1');
  if (netloc.includes(',')) throw bad(`${what} names several locations`, 'a NURL has exactly one HOST:PORT; the server announces one NURL per location');
  if (/^(tcp|tor|i2p):/.test(netloc)) throw bad(`${what} location "${netloc}" has a hint-type prefix`, 'write the location as HOST:PORT without tcp:/tor:/i2p: (the scheme says how to connect)');
  if (scheme === 'pb+i2p') {
    const colon = netloc.indexOf(':');
    const address = colon < 0 ? netloc : netloc.slice(0, colon);
    if (!/\.i2p$/.test(address)) throw new TahoeError('I2pAddressInvalid', `${what} host "${address}" is not an .i2p address`, { hint: 'pb+i2p NURLs name a <52 chars>.b32.i2p address or an .i2p host name' });
    parseI2pAddress(address);
    return colon < 0 ? { host: address } : { host: address, port: parsePort(netloc.slice(colon + 1), what) };
  }
  const hp = splitHostPort(netloc);
  if (!hp) throw bad(`${what} location "${netloc}" has no port`, 'write HOST:PORT');
  if (hp.host.includes(':') && !hp.bracketed) throw bad(`${what} location "${netloc}" is ambiguous`, 'write IPv6 addresses in brackets: [2001:db8::1]:3457');
  if (hp.bracketed && !hp.host.includes(':')) throw bad(`${what}: only IPv6 addresses are written in brackets`, `write ${hp.host}:PORT`);
  if (isOnionName(hp.host)) parseOnionAddress(hp.host);
  else {
    checkHost(hp.host, what);
    if (/\.i2p$/i.test(hp.host)) throw bad(`${what} names an .i2p host`, 'I2P servers are reached with pb+i2p:// NURLs');
  }
  return { host: hp.host, port: parsePort(hp.port, what) };
}

/** Parse a version-1 NURL: `pb://HASH@HOST:PORT/SWISSNUM#v=1`, `pb+tor://…`, `pb+i2p://…`. */
export function parseNurl(text: string): Nurl {
  const m = /^(pb|pb\+tor|pb\+i2p):\/\//.exec(text);
  if (!m) throw bad('a NURL must start with pb://, pb+tor:// or pb+i2p://', 'copy the whole NURL from the server\'s announcement');
  const scheme = m[1] as NurlScheme;
  const what = `${scheme}:// NURL`;
  const { user, netloc, swissnum, fragment } = splitUrl(text, m[0], what);
  if (fragment === undefined) throw bad(`${what} has no "#v=1": without it, it is a fURL`, 'HTTPS storage NURLs end in #v=1; a fURL (Foolscap) is parsed with parseFurl');
  if (fragment !== 'v=1') throw bad(`${what} has version fragment "#${fragment}"; only #v=1 is supported`, 'this server may run a newer protocol version; use its fURL or upgrade tahoe-ts');
  if (!SPKI_HASH_RE.test(user) || Buffer.from(user, 'base64url').toString('base64url') !== user) {
    throw bad(`${what} certificate hash is not 43 characters of unpadded base64url`, 'the part between :// and @ pins the server\'s key; copy the NURL again');
  }
  checkSwissnum(swissnum, what);
  const loc = parseNurlNetloc(scheme, netloc);
  if (scheme === 'pb+tor' && loc.port === undefined) throw bad(`${what} has no port`, 'write HOST.onion:PORT');
  const nurl: Nurl = { scheme, spkiHash: user, host: loc.host, swissnum };
  if (loc.port !== undefined) nurl.port = loc.port;
  return nurl;
}

export function formatNurl(nurl: Nurl): string {
  const port = nurl.port === undefined ? '' : `:${nurl.port}`;
  return `${nurl.scheme}://${nurl.spkiHash}@${hostForUrl(nurl.host)}${port}/${nurl.swissnum}#v=1`;
}

/**
 * The NURLs a server announces for its location hints, one per hint, in hint order:
 * `tcp:` ⇒ `pb://`, `tor:` ⇒ `pb+tor://`, `i2p:` ⇒ `pb+i2p://` (anonymity checklist G-1:
 * 1.20 makes none for `i2p:`; only tahoe-ts reads them). Legacy `HOST:PORT` hints and hints
 * of unknown types get none: 1.20's storage server makes no NURL for a legacy hint
 * (storage-protocol.md §1), and an introducer follows the same rule, so such a location is
 * reached through the fURL only. An `i2p:` hint written as a full destination is named by
 * its `.b32.i2p` address, the only destination form a NURL carries.
 */
export function nurlsFromHints(spkiHash: string, swissnum: string, hints: readonly ConnectionHint[]): Nurl[] {
  const out: Nurl[] = [];
  for (const h of hints) {
    if (h.type === 'tcp' && h.legacy !== true) out.push({ scheme: 'pb', spkiHash, host: h.host, port: h.port, swissnum });
    else if (h.type === 'tor') out.push({ scheme: 'pb+tor', spkiHash, host: h.host, port: h.port, swissnum });
    else if (h.type === 'i2p') {
      const address = parseI2pAddress(h.address);
      const host = address.kind === 'destination' ? address.b32 : address.address;
      out.push(h.port === undefined ? { scheme: 'pb+i2p', spkiHash, host, swissnum } : { scheme: 'pb+i2p', spkiHash, host, port: h.port, swissnum });
    }
  }
  return out;
}

/** A fURL or a NURL, told apart by the `#v=1` fragment as url.rst prescribes. */
export type ServiceUrl = { version: 0; furl: Furl } | { version: 1; nurl: Nurl };

export function parseServiceUrl(text: string): ServiceUrl {
  return text.includes('#') || !text.startsWith('pb://') ? { version: 1, nurl: parseNurl(text) } : { version: 0, furl: parseFurl(text) };
}

export function formatServiceUrl(url: ServiceUrl): string {
  return url.version === 0 ? formatFurl(url.furl) : formatNurl(url.nurl);
}
