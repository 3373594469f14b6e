/**
 * `[node] tub.location` and `[node] tub.port` lists.
 *
 * Specs: shared/specs/configuration.md §2 (Tahoe 1.20 `node.py _tub_portlocation`: both are
 * comma-separated, split without stripping; empty ⇒ error; `disabled` on its own; `AUTO`;
 * tub.port `0`/`tcp:0`… ⇒ error) and §3a (the original design's items `AUTODETECT`,
 * `UNREACHABLE` and server descriptors `onion:PORT:hiddenServiceDir=…` meaning "announce
 * this onion service").
 *
 * Spaces around commas are refused rather than trimmed: Tahoe 1.20 publishes each item
 * verbatim, and a hint with a leading space is silently ignored by every Foolscap client.
 */
import { TahoeError } from '../../errors.js';
import { rejectControlCharacters } from './descriptor.js';
import { formatHint, parseHint, type ConnectionHint } from './client.js';
import { formatServerEndpoint, parseServerEndpoint, type OnionServerEndpoint, type ServerEndpoint } from './server.js';

export type LocationItem =
  /** Announce the addresses of every local interface (`AUTO` in 1.20, `AUTODETECT` in the original design). */
  | { type: 'auto'; spelling: 'AUTO' | 'AUTODETECT' }
  /** Announce nothing (original design). */
  | { type: 'unreachable' }
  /** A connection hint to announce as written. */
  | { type: 'hint'; hint: ConnectionHint }
  /** Create this onion service and announce its address (original design). */
  | { type: 'onion'; endpoint: OnionServerEndpoint };

export type TubLocation = { type: 'disabled' } | { type: 'items'; items: LocationItem[] };
export type TubPort = { type: 'disabled' } | { type: 'endpoints'; endpoints: ServerEndpoint[] };

function splitList(value: string, key: string): string[] {
  rejectControlCharacters(value, key);
  const text = value.trim();
  if (text === '') {
    throw new TahoeError('EndpointInvalid', `${key} is empty`, {
      hint: key === 'tub.location' ? 'remove the line (= AUTO), or write disabled, UNREACHABLE or a list of hints' : 'remove the line, or write disabled or e.g. tcp:3457',
    });
  }
  const items = text.split(',');
  for (const item of items) {
    if (item === '') throw new TahoeError('EndpointInvalid', `${key} has an empty item`, { hint: 'remove the doubled or trailing comma' });
    if (item !== item.trim()) {
      throw new TahoeError('EndpointInvalid', `${key} item "${item}" has spaces around it`, {
        hint: 'separate items with commas only (no spaces): Tahoe 1.20 would publish the space and peers would ignore the hint',
      });
    }
  }
  return items;
}

function rejectDisabledInList(items: string[], key: string): void {
  if (items.length > 1 && items.includes('disabled')) {
    throw new TahoeError('EndpointInvalid', `${key}: "disabled" cannot be combined with other items`, { hint: `write ${key} = disabled on its own, or remove "disabled"` });
  }
}

/** Parse one `tub.location` item. */
export function parseLocationItem(item: string): LocationItem {
  if (item === 'AUTO' || item === 'AUTODETECT') return { type: 'auto', spelling: item };
  if (item === 'UNREACHABLE') return { type: 'unreachable' };
  if (/^(auto|autodetect|unreachable)$/i.test(item)) {
    throw new TahoeError('EndpointInvalid', `tub.location item "${item}" must be written in upper case`, { hint: `write ${item.toUpperCase()}: these keywords are case-sensitive, as in Tahoe` });
  }
  if (item.startsWith('onion:')) {
    const endpoint = parseServerEndpoint(item, 'tub.location onion item');
    if (endpoint.type !== 'onion') throw new TahoeError('Internal', 'onion: item parsed as another type');
    return { type: 'onion', endpoint };
  }
  return { type: 'hint', hint: parseHint(item, { what: 'tub.location hint' }) };
}

export function formatLocationItem(item: LocationItem): string {
  switch (item.type) {
    case 'auto':
      return item.spelling;
    case 'unreachable':
      return 'UNREACHABLE';
    case 'hint':
      return formatHint(item.hint);
    case 'onion':
      return formatServerEndpoint(item.endpoint);
  }
}

/** Parse `[node] tub.location` (the raw value; absent is the caller's business: it means AUTO in 1.20). */
export function parseTubLocation(value: string): TubLocation {
  // The original design document writes `tub.location = "AUTODETECT,onion:80:…"` with
  // double quotes; ConfigParser keeps them as part of the value. Accept that spelling.
  const unquoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  const items = splitList(unquoted, 'tub.location');
  if (items.length === 1 && items[0] === 'disabled') return { type: 'disabled' };
  rejectDisabledInList(items, 'tub.location');
  const parsed = items.map(parseLocationItem);
  if (parsed.length > 1 && parsed.some((i) => i.type === 'unreachable')) {
    throw new TahoeError('EndpointInvalid', 'tub.location: UNREACHABLE cannot be combined with other items', {
      hint: 'UNREACHABLE means "announce nothing": write it alone, or list only what should be announced',
    });
  }
  return { type: 'items', items: parsed };
}

function joinList(parts: string[], key: string): string {
  for (const p of parts) {
    if (p.includes(',')) {
      throw new TahoeError('EndpointInvalid', `${key} item "${p}" contains a comma, which cannot be written in a ${key} list`, {
        hint: 'rename the file or directory so that its path has no comma',
      });
    }
  }
  return parts.join(',');
}

export function formatTubLocation(loc: TubLocation): string {
  if (loc.type === 'disabled') return 'disabled';
  return joinList(loc.items.map(formatLocationItem), 'tub.location');
}

/** Parse `[node] tub.port`: `disabled`, or a comma list of server endpoints with fixed ports. */
export function parseTubPort(value: string): TubPort {
  const items = splitList(value, 'tub.port');
  if (items.length === 1 && items[0] === 'disabled') return { type: 'disabled' };
  rejectDisabledInList(items, 'tub.port');
  const endpoints = items.map((item) => parseServerEndpoint(item, 'tub.port'));
  for (const ep of endpoints) {
    if ((ep.type === 'tcp' || ep.type === 'tcp6') && ep.port === 0) {
      throw new TahoeError('EndpointInvalid', 'tub.port must name a fixed port, not 0', {
        hint: 'the announced location must stay valid across restarts: write e.g. tcp:3457:interface=127.0.0.1, or remove tub.port to let the node pick a port once and remember it',
      });
    }
  }
  return { type: 'endpoints', endpoints };
}

export function formatTubPort(port: TubPort): string {
  if (port.type === 'disabled') return 'disabled';
  return joinList(port.endpoints.map(formatServerEndpoint), 'tub.port');
}
