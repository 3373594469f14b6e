/**
 * Host names, IP literals and port numbers as they appear in endpoint strings and hints,
 * and the "non-public numeric address" test that anonymize mode applies before asking Tor.
 *
 * Specs: RFC 1035 §2.3.1 and RFC 1123 §2.1 (host name labels), RFC 791/4291 (address
 * syntax), IANA IPv4 Special-Purpose Address Registry (RFC 6890) for the non-public ranges;
 * the behaviour mirrors foolscap's `is_non_public_numeric_address` (anonymity-checklist
 * AN-3.2): loopback, private, link-local, shared (CGNAT), reserved, documentation,
 * benchmarking, unspecified, multicast and broadcast IPv4 addresses, and *every* IPv6
 * literal, are refused because no Tor exit can (or should) reach them.
 */
import net from 'node:net';
import { TahoeError } from '../../errors.js';

export type HostFamily = 'ipv4' | 'ipv6' | 'name';

const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const DOTTED_QUAD_SHAPE_RE = /^\d+\.\d+\.\d+\.\d+$/;

/** Classify a host: IPv4 dotted quad, IPv6 literal (without brackets), or DNS name. Throws on anything else. */
export function checkHost(host: string, what: string): HostFamily {
  if (host === '') throw new TahoeError('EndpointInvalid', `${what}: the host is empty`, { hint: 'write a host name or IP address before the port, e.g. tcp:example.net:3457' });
  if (net.isIPv4(host)) return 'ipv4';
  if (DOTTED_QUAD_SHAPE_RE.test(host)) {
    throw new TahoeError('EndpointInvalid', `${what}: "${host}" is not a valid IPv4 address`, {
      hint: 'each of the four numbers is 0-255, written without leading zeros',
    });
  }
  if (host.includes(':')) {
    if (net.isIPv6(host)) return 'ipv6';
    throw new TahoeError('EndpointInvalid', `${what}: "${host}" is not a valid IPv6 address`, { hint: 'check the IPv6 literal, e.g. ::1 or 2001:db8::1' });
  }
  // eslint-disable-next-line no-control-regex
  if (/[^\u0000-\u007f]/.test(host)) {
    throw new TahoeError('EndpointInvalid', `${what}: host name "${host}" contains non-ASCII characters`, {
      hint: 'write internationalised names in their ASCII (punycode, xn--…) form',
    });
  }
  if (host.length > 253) throw new TahoeError('EndpointInvalid', `${what}: host name is longer than 253 characters`, { hint: 'check the host name was copied correctly' });
  for (const label of host.split('.')) {
    if (!LABEL_RE.test(label)) {
      throw new TahoeError('EndpointInvalid', `${what}: "${host}" is not a valid host name`, {
        hint: 'host names consist of dot-separated labels of letters, digits and inner hyphens (no spaces, underscores, empty labels or trailing dot)',
      });
    }
  }
  return 'name';
}

/** Parse a decimal port. `allowZero` for listeners (kernel-chosen) and legacy placeholder hints. */
export function parsePort(text: string | undefined, what: string, allowZero = false): number {
  if (text === undefined || text === '') {
    throw new TahoeError('EndpointInvalid', `${what}: the port number is missing`, { hint: 'add a port number, e.g. :3457' });
  }
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) {
    throw new TahoeError('EndpointInvalid', `${what}: "${text}" is not a port number`, {
      hint: 'a port is a decimal number from 1 to 65535, written without sign or leading zeros',
    });
  }
  const port = Number(text);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new TahoeError('EndpointInvalid', `${what}: port ${port} is out of range`, { hint: 'a port is a number from 1 to 65535' });
  }
  return port;
}

/** `host` for display inside `host:port`: IPv6 literals get brackets. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Split `HOST:PORT` where HOST may be a bracketed IPv6 literal. Returns undefined when the
 * string has no port separator at all.
 */
export function splitHostPort(s: string): { host: string; port: string; bracketed: boolean } | undefined {
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return undefined;
    return { host: s.slice(1, close), port: s.slice(close + 2), bracketed: true };
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0) return undefined;
  return { host: s.slice(0, colon), port: s.slice(colon + 1), bracketed: false };
}

// ---------------------------------------------------------------------------------------
// Non-public numeric addresses (AN-3.2)

/** IPv4 ranges no Tor exit should be asked to reach: [network, prefix length]. */
const NON_PUBLIC_IPV4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network", includes the unspecified address
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // shared address space (carrier-grade NAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.88.99.0', 24], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes the limited broadcast address
];

function ipv4ToNumber(dotted: string): number {
  return dotted.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

const NON_PUBLIC_IPV4_RANGES = NON_PUBLIC_IPV4.map(([network, bits]) => {
  const size = 2 ** (32 - bits);
  const start = ipv4ToNumber(network);
  return [start, start + size] as const;
});

/**
 * Numbers in the loose forms `inet_aton` accepts (`127.1`, `0x7f.0.0.1`, `2130706433`,
 * `0177.0.0.1`): a resolver or a Tor exit may read them as addresses, so they are treated
 * as numeric. Returns the 32-bit value, or undefined when `s` is not such a form.
 */
function looseIpv4Value(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0x[0-9a-f]*$/i.test(p)) v = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) v = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) v = Number(p);
    else return undefined;
    if (!Number.isFinite(v)) return undefined;
    values.push(v);
  }
  const last = values.pop() as number;
  if (values.some((v) => v > 255)) return undefined;
  const lastMax = 2 ** (8 * (4 - values.length));
  if (last >= lastMax) return undefined;
  return values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
}

/**
 * True for a numeric host that must not be handed to Tor: any IPv6 literal (with or
 * without brackets), any non-public IPv4 address, and any non-canonical numeric IPv4 form.
 * False for host names and public IPv4 addresses (Tor may try those).
 */
export function isNonPublicNumericAddress(host: string): boolean {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) return true;
  if (h.includes(':')) return net.isIPv6(h) || net.isIPv6(h.split('%')[0]);
  h = h.endsWith('.') ? h.slice(0, -1) : h;
  if (net.isIPv4(h)) {
    const n = ipv4ToNumber(h);
    return NON_PUBLIC_IPV4_RANGES.some(([start, end]) => n >= start && n < end);
  }
  // A loose numeric form is never what a peer meant to publish: refuse it outright.
  return looseIpv4Value(h) !== undefined;
}

const LOOPBACK = (() => {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  return list;
})();

/**
 * True for 127.0.0.0/8 and ::1 in any spelling (also IPv4-mapped, also in brackets): the
 * only addresses the egress gate lets through when the IP address is hidden.
 */
export function isLoopbackAddress(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (net.isIPv4(h)) return LOOPBACK.check(h, 'ipv4');
  if (net.isIPv6(h)) return LOOPBACK.check(h, 'ipv6');
  return false;
}
