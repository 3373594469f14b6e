/**
 * From parsed hints, NURLs and client endpoints to what transports and sockets take:
 * `DialTarget` (src/net/transport.ts) and `SocketEndpoint` (src/net/socket.ts).
 *
 * A `.onion` name is only ever reachable through Tor and an `.i2p` name only through I2P,
 * whatever hint type carries it (a legacy `X.onion:PORT` hint, a `pb://` NURL naming an
 * onion): such names become `tor` / `i2p` targets here, so that no code path can hand
 * them to the system resolver (Tahoe 1.20 does, storage-protocol.md §8).
 */
import { TahoeError } from '../../errors.js';
import type { DialTarget } from '../transport.js';
import type { SocketEndpoint } from '../socket.js';
import { isOnionName } from '../tor/onion-address.js';
import type { ClientEndpoint, ConnectionHint } from './client.js';
import type { Nurl } from './furl.js';
import { formatHint } from './client.js';

function placeholderPort(description: string): TahoeError {
  return new TahoeError('EndpointInvalid', `${description} has port 0, a placeholder that cannot be dialled`, {
    hint: 'the server announces no reachable address in this hint; it may be reachable through another hint',
  });
}

function byName(host: string, port: number | undefined): DialTarget | undefined {
  if (isOnionName(host)) {
    if (port === undefined) throw new TahoeError('EndpointInvalid', `an onion target needs a port`, { hint: 'write HOST.onion:PORT' });
    return { kind: 'tor', host, port };
  }
  if (/\.i2p$/i.test(host)) return port === undefined ? { kind: 'i2p', address: host } : { kind: 'i2p', address: host, port };
  return undefined;
}

/** The target a connection hint stands for. Throws for unknown hint types and placeholder port 0. */
export function hintToDialTarget(hint: ConnectionHint): DialTarget {
  switch (hint.type) {
    case 'tcp':
      if (hint.port === 0) throw placeholderPort(`hint ${formatHint(hint)}`);
      return byName(hint.host, hint.port) ?? { kind: 'tcp', host: hint.host, port: hint.port };
    case 'tor':
      if (hint.port === 0) throw placeholderPort(`hint ${formatHint(hint)}`);
      return { kind: 'tor', host: hint.host, port: hint.port };
    case 'i2p':
      return hint.port === undefined ? { kind: 'i2p', address: hint.address } : { kind: 'i2p', address: hint.address, port: hint.port };
    case 'unknown':
      throw new TahoeError('EndpointInvalid', `hint type "${hint.text.split(':')[0]}" is not supported by this version of tahoe-ts`, {
        hint: 'the server also needs a tcp:, tor: or i2p: hint for tahoe-ts to reach it',
      });
  }
}

/** The target of a NURL: `pb+tor` ⇒ tor, `pb+i2p` ⇒ i2p, `pb` ⇒ tcp (or tor/i2p for .onion/.i2p names). */
export function nurlToDialTarget(nurl: Nurl): DialTarget {
  switch (nurl.scheme) {
    case 'pb+tor':
      return { kind: 'tor', host: nurl.host, port: nurl.port ?? 0 };
    case 'pb+i2p':
      return nurl.port === undefined ? { kind: 'i2p', address: nurl.host } : { kind: 'i2p', address: nurl.host, port: nurl.port };
    case 'pb':
      if (nurl.port === undefined) throw new TahoeError('EndpointInvalid', 'a pb:// NURL needs a port', { hint: 'write HOST:PORT' });
      return byName(nurl.host, nurl.port) ?? { kind: 'tcp', host: nurl.host, port: nurl.port };
  }
}

/** The target of a client endpoint descriptor (`tcp:` / `tor:` / `i2p:`); `unix:` has none. */
export function clientEndpointToDialTarget(ep: ClientEndpoint): DialTarget {
  switch (ep.type) {
    case 'tcp':
      return byName(ep.host, ep.port) ?? { kind: 'tcp', host: ep.host, port: ep.port };
    case 'tor':
      return { kind: 'tor', host: ep.host, port: ep.port };
    case 'i2p':
      return ep.port === undefined ? { kind: 'i2p', address: ep.address } : { kind: 'i2p', address: ep.address, port: ep.port };
    case 'unix':
      throw new TahoeError('EndpointInvalid', `unix:${ep.path} is a local socket, not a network target`, { hint: 'use a tcp:, tor: or i2p: endpoint here' });
  }
}

/**
 * The socket to open for a local daemon endpoint (`[tor] socks.port`, `control.port`,
 * `[i2p] sam.port`): `tcp:HOST:PORT` or `unix:PATH`.
 */
export function clientEndpointToSocketEndpoint(ep: ClientEndpoint): SocketEndpoint {
  switch (ep.type) {
    case 'tcp':
      return { host: ep.host, port: ep.port };
    case 'unix':
      return { path: ep.path };
    default:
      throw new TahoeError('EndpointInvalid', `a ${ep.type}: endpoint cannot name a local daemon`, {
        hint: 'write the daemon\'s address as tcp:127.0.0.1:PORT or unix:PATH',
      });
  }
}
