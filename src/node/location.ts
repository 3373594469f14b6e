/**
 * What a node announces: the connection hints of `tub.location`, resolved against the
 * listeners that actually started.
 *
 * Spec: shared/specs/configuration.md §2 (`tub.location`: hints as written; `AUTO` = every
 * local IPv4 interface address, 127.0.0.1 and RFC 1918 included, with the tub port;
 * `disabled` = nothing) and §3a (`AUTODETECT` ≡ `AUTO`, `UNREACHABLE` = nothing,
 * `onion:PORT:hiddenServiceDir=…` = the address of the onion service that item creates).
 * The privacy policy has already refused AUTO and TCP hints when the node hides its IP.
 */
import os from 'node:os';
import type { ConnectionHint, LocationItem, TubLocation } from '../net/hints.js';
import type { DialTarget } from '../net/transport.js';

export interface LocationContext {
  /** The port of the first TCP listener (what AUTO announces), if any. */
  tcpPort?: number;
  /** The hint each `onion:` location item's listener published. */
  onionHints: ReadonlyMap<LocationItem, DialTarget>;
  /** Local IPv4 addresses (default: the machine's interfaces). */
  interfaceAddresses?: () => string[];
}

/** Every IPv4 address of this machine, non-loopback first, 127.0.0.1 last. */
export function localIpv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !out.includes(a.address)) out.push(a.address);
  }
  return [...out.filter((a) => !a.startsWith('127.')), ...out.filter((a) => a.startsWith('127.'))];
}

function targetToHint(t: DialTarget): ConnectionHint {
  if (t.kind === 'i2p') return t.port === undefined ? { type: 'i2p', address: t.address } : { type: 'i2p', address: t.address, port: t.port };
  return { type: t.kind, host: t.host, port: t.port };
}

/** The hints to announce, in order, without duplicates. */
export function announcedHints(location: TubLocation, context: LocationContext): ConnectionHint[] {
  if (location.type === 'disabled') return [];
  const out: ConnectionHint[] = [];
  const seen = new Set<string>();
  const add = (h: ConnectionHint): void => {
    const id = JSON.stringify(h.type === 'tcp' ? { t: 'tcp', h: h.host, p: h.port } : h);
    if (seen.has(id)) return;
    seen.add(id);
    out.push(h);
  };
  for (const item of location.items) {
    switch (item.type) {
      case 'hint':
        add(item.hint);
        break;
      case 'auto':
        if (context.tcpPort !== undefined) {
          for (const address of (context.interfaceAddresses ?? localIpv4Addresses)()) add({ type: 'tcp', host: address, port: context.tcpPort });
        }
        break;
      case 'onion': {
        const hint = context.onionHints.get(item);
        if (hint !== undefined) add(targetToHint(hint));
        break;
      }
      case 'unreachable':
        break;
    }
  }
  return out;
}
