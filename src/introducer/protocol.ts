/**
 * The tahoe-ts HTTPS introducer protocol: paths, limits and the CBOR messages, both
 * directions, with strict parsers (every failure a `BadInput` or `ProtocolError` with a
 * hint). The protocol itself is documented in docs/introducer-protocol.md; it reuses the
 * storage protocol's conventions (shared/specs/storage-protocol.md §1–§4: TLS with a
 * self-signed certificate pinned by the NURL's SPKI hash, `Authorization: Tahoe-LAFS
 * <base64(swissnum)>`, CBOR bodies) and carries announcements in Tahoe's signed form
 * (§7, announcement.ts).
 *
 *   GET  /introducer/v1/version                         → VersionInfo
 *   POST /introducer/v1/publish        body Signed      → PublishResult  (409 StaleInfo)
 *   GET  /introducer/v1/announcements?service=S&epoch=E&since=V&wait=MS → PollResult
 */
import { TahoeError } from '../errors.js';
import { decodeCbor, encodeCbor, type CborValue } from '../storage/cbor.js';
import { MAX_ANNOUNCEMENT_BYTES, type SignedAnnouncement } from './announcement.js';

export const PROTOCOL_VERSION = 1;
export const PATHS = {
  version: '/introducer/v1/version',
  publish: '/introducer/v1/publish',
  announcements: '/introducer/v1/announcements',
} as const;

/** Limits both sides enforce. */
export const LIMITS = {
  /** A publish request body: one signed announcement plus CBOR framing. */
  publishBody: MAX_ANNOUNCEMENT_BYTES + 1024,
  /** A poll response (a full snapshot of a large grid). */
  pollResponse: 32 * 1024 * 1024,
  /** Other responses. */
  smallResponse: 64 * 1024,
  /** Error bodies read by the client. */
  errorBody: 4096,
  /** Announcements in one poll response (a snapshot). */
  announcementsPerResponse: 100_000,
} as const;

export const SERVICE_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const EPOCH_RE = /^[a-z2-7]{1,64}$/;

function bad(what: string, problem: string): TahoeError {
  return new TahoeError('BadInput', `${what}: ${problem}`, { hint: 'see docs/introducer-protocol.md for the message formats' });
}

function asMap(v: unknown, what: string): Map<unknown, unknown> {
  if (!(v instanceof Map)) throw bad(what, 'expected a CBOR map');
  return v;
}

/** A map with text keys; unknown keys are ignored (later protocol versions may add some). */
function textMap(v: unknown, what: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, val] of asMap(v, what)) {
    if (typeof k !== 'string') throw bad(what, 'map keys must be text strings');
    out.set(k, val);
  }
  return out;
}

function need(m: Map<string, unknown>, key: string, what: string): unknown {
  if (!m.has(key)) throw bad(what, `missing "${key}"`);
  return m.get(key);
}

function text(v: unknown, what: string, max = 1024): string {
  if (typeof v !== 'string') throw bad(what, 'expected a text string');
  if (v.length > max) throw bad(what, `longer than ${max} characters`);
  return v;
}

function uint(v: unknown, what: string): number {
  if (typeof v === 'bigint') {
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(what, 'integer out of range');
    return Number(v);
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(what, 'expected an unsigned integer');
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw bad(what, 'expected a boolean');
  return v;
}

function array(v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw bad(what, 'expected an array');
  if (v.length > max) throw bad(what, `more than ${max} elements`);
  return v;
}

/** Decode a CBOR body, re-labelling the decoder's error for this protocol. */
export function decodeBody(bytes: Uint8Array, what: string): unknown {
  try {
    return decodeCbor(bytes, what);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new TahoeError('BadInput', message, { cause, hint: 'the body must be one well-formed CBOR item; see docs/introducer-protocol.md' });
  }
}

// ------------------------------------------------------------------ signed announcements

export function signedToCbor(s: SignedAnnouncement): CborValue {
  return { msg: s.msg, sig: s.sig, key: s.key };
}

export function parseSigned(v: unknown, what = 'signed announcement'): SignedAnnouncement {
  const m = textMap(v, what);
  const msg = need(m, 'msg', what);
  if (!(msg instanceof Uint8Array)) throw bad(what, '"msg" must be a byte string (the UTF-8 JSON text)');
  if (msg.length > MAX_ANNOUNCEMENT_BYTES) throw bad(what, `"msg" is ${msg.length} bytes (limit ${MAX_ANNOUNCEMENT_BYTES})`);
  return { msg, sig: text(need(m, 'sig', what), `${what} sig`, 200), key: text(need(m, 'key', what), `${what} key`, 200) };
}

export function encodePublishRequest(s: SignedAnnouncement): Buffer {
  return encodeCbor(signedToCbor(s));
}

export function parsePublishRequest(body: Uint8Array): SignedAnnouncement {
  return parseSigned(decodeBody(body, 'publish request'), 'publish request');
}

// ------------------------------------------------------------------ version

export interface VersionInfo {
  applicationVersion: string;
  protocol: number;
  epoch: string;
  refreshIntervalMs: number;
  maxAnnouncementBytes: number;
}

export function encodeVersion(v: VersionInfo): Buffer {
  return encodeCbor({
    'application-version': v.applicationVersion,
    protocol: v.protocol,
    epoch: v.epoch,
    'refresh-interval-ms': v.refreshIntervalMs,
    'max-announcement-size': v.maxAnnouncementBytes,
  });
}

export function parseVersion(body: Uint8Array): VersionInfo {
  const what = 'introducer version';
  const m = textMap(decodeBody(body, what), what);
  return {
    applicationVersion: text(need(m, 'application-version', what), `${what} application-version`),
    protocol: uint(need(m, 'protocol', what), `${what} protocol`),
    epoch: epoch(need(m, 'epoch', what), what),
    refreshIntervalMs: uint(need(m, 'refresh-interval-ms', what), `${what} refresh-interval-ms`),
    maxAnnouncementBytes: uint(need(m, 'max-announcement-size', what), `${what} max-announcement-size`),
  };
}

function epoch(v: unknown, what: string): string {
  const e = text(v, `${what} epoch`, 64);
  if (!EPOCH_RE.test(e)) throw bad(what, 'epoch is not lowercase base32');
  return e;
}

// ------------------------------------------------------------------ publish

export type PublishStatus = 'accepted' | 'refreshed' | 'duplicate';

export interface PublishResult {
  status: PublishStatus;
  epoch: string;
  refreshIntervalMs: number;
}

export function encodePublishResult(r: PublishResult): Buffer {
  return encodeCbor({ status: r.status, epoch: r.epoch, 'refresh-interval-ms': r.refreshIntervalMs });
}

export function parsePublishResult(body: Uint8Array): PublishResult {
  const what = 'publish response';
  const m = textMap(decodeBody(body, what), what);
  const status = text(need(m, 'status', what), `${what} status`, 32);
  if (status !== 'accepted' && status !== 'refreshed' && status !== 'duplicate') throw bad(what, `unknown status "${status.slice(0, 32)}"`);
  return { status, epoch: epoch(need(m, 'epoch', what), what), refreshIntervalMs: uint(need(m, 'refresh-interval-ms', what), `${what} refresh-interval-ms`) };
}

/** 409 body: the introducer holds this seqnum (or a higher one) for our key already. */
export interface StaleInfo {
  currentSeqnum: number;
}

export function encodeStale(s: StaleInfo): Buffer {
  return encodeCbor({ 'current-seqnum': s.currentSeqnum });
}

export function parseStale(body: Uint8Array): StaleInfo {
  const what = 'stale-announcement response';
  const m = textMap(decodeBody(body, what), what);
  return { currentSeqnum: uint(need(m, 'current-seqnum', what), `${what} current-seqnum`) };
}

// ------------------------------------------------------------------ poll

export interface PollQuery {
  service: string;
  /** The epoch the subscriber's view comes from (absent on the first poll). */
  epoch?: string;
  /** The version the subscriber's view is at (absent on the first poll). */
  since?: number;
  /** Hold the request up to this long when nothing changed (0 = answer at once). */
  waitMs: number;
}

export function formatPollQuery(q: PollQuery): string {
  const p = new URLSearchParams({ service: q.service });
  if (q.epoch !== undefined) p.set('epoch', q.epoch);
  if (q.since !== undefined) p.set('since', String(q.since));
  p.set('wait', String(Math.max(0, Math.floor(q.waitMs))));
  return `${PATHS.announcements}?${p.toString()}`;
}

/** Parse the query of a poll request; `BadInput` for anything odd. */
export function parsePollQuery(search: string): PollQuery {
  const what = 'announcements query';
  const params = new URLSearchParams(search);
  const seen = new Set<string>();
  for (const k of params.keys()) {
    if (seen.has(k)) throw bad(what, `"${k.slice(0, 20)}" given twice`);
    seen.add(k);
    if (!['service', 'epoch', 'since', 'wait'].includes(k)) throw bad(what, `unknown parameter "${k.slice(0, 20)}"`);
  }
  const service = params.get('service');
  if (service === null || !SERVICE_NAME_RE.test(service)) throw bad(what, 'service must be a service name such as "storage"');
  const epochValue = params.get('epoch');
  if (epochValue !== null && !EPOCH_RE.test(epochValue)) throw bad(what, 'epoch must be lowercase base32');
  const num = (name: string): number | undefined => {
    const v = params.get(name);
    if (v === null) return undefined;
    if (!/^(0|[1-9][0-9]{0,15})$/.test(v) || !Number.isSafeInteger(Number(v))) throw bad(what, `${name} must be a non-negative integer`);
    return Number(v);
  };
  const since = num('since');
  const waitMs = num('wait') ?? 0;
  if ((epochValue === null) !== (since === undefined)) throw bad(what, 'epoch and since go together');
  const q: PollQuery = { service, waitMs };
  if (epochValue !== null) q.epoch = epochValue;
  if (since !== undefined) q.since = since;
  return q;
}

export interface PollResult {
  epoch: string;
  version: number;
  /** A full snapshot of the service (else: changes since the asked version). */
  full: boolean;
  /**
   * False while the introducer is warming up after a restart: announcements missing from
   * a full snapshot may just not have been republished yet, so do not drop them.
   */
  complete: boolean;
  announcements: SignedAnnouncement[];
  /** Keys (`v0-…`) whose announcement for this service was withdrawn or expired. */
  removed: string[];
}

export function encodePollResult(r: PollResult): Buffer {
  return encodeCbor({
    epoch: r.epoch,
    version: r.version,
    full: r.full,
    complete: r.complete,
    announcements: r.announcements.map(signedToCbor),
    removed: r.removed,
  });
}

/**
 * Parse a poll response. Entries are checked for shape here; signatures are checked by the
 * subscriber, one by one (a bad entry is dropped, not the whole response).
 */
export function parsePollResult(body: Uint8Array): PollResult {
  const what = 'announcements response';
  const m = textMap(decodeBody(body, what), what);
  const anns = array(need(m, 'announcements', what), `${what} announcements`, LIMITS.announcementsPerResponse);
  const removed = array(need(m, 'removed', what), `${what} removed`, LIMITS.announcementsPerResponse);
  return {
    epoch: epoch(need(m, 'epoch', what), what),
    version: uint(need(m, 'version', what), `${what} version`),
    full: bool(need(m, 'full', what), `${what} full`),
    complete: bool(need(m, 'complete', what), `${what} complete`),
    announcements: anns.map((a, i) => parseSigned(a, `${what} announcement ${i + 1}`)),
    removed: removed.map((k, i) => text(k, `${what} removed ${i + 1}`, 200)),
  };
}
