/**
 * The storage protocol's CBOR messages: typed shapes, builders and strict parsers for
 * both directions (the server parses requests, the client parses responses).
 *
 * Spec: shared/specs/storage-protocol.md §4–§5 and the CDDL schemas of tahoe-lafs
 * `docs/specifications/http-storage-node-protocol.rst` as enforced by the 1.20 server:
 *   allocate:   { share-numbers: #6.258([0*256 uint]), allocated-size: uint }
 *   corrupt:    { reason: tstr .size (1..32765) }
 *   read-test-write: { test-write-vectors: { 0*256 uint => { test: [0*30 {offset, size,
 *               specimen}], write: [* {offset, data}], new-length: uint / null } },
 *               read-vector: [0*30 {offset, size}] }
 * Maps are closed: unknown keys are rejected.
 */
import { TahoeError } from '../errors.js';
import {
  asArray,
  asBool,
  asBytes,
  asMap,
  asSafeUint,
  asText,
  asUint,
  asUintSet,
  bad,
  decodeCbor,
  encodeCbor,
  fields,
} from './cbor.js';
import type { CborValue } from './cbor.js';
import type { ByteRange } from './ranges.js';

export const STORAGE_V1 = 'http://allmydata.org/tahoe/protocols/storage/v1';
/** 1.20's MAX_MUTABLE_SHARE_SIZE (`mutable/layout.py`): 69 105 TB, beyond 2^53. */
export const MAX_MUTABLE_SHARE_SIZE = 69_105n * 1000n ** 4n;
export const MAX_SHARES_PER_REQUEST = 256;
export const MAX_TEST_VECTORS = 30;
export const MAX_READ_VECTORS = 30;
export const MAX_CORRUPTION_REASON = 32_765;

// ---------------------------------------------------------------- version

export interface VersionInfo {
  maximumImmutableShareSize: bigint;
  maximumMutableShareSize: bigint;
  availableSpace: bigint;
  applicationVersion: string;
  /** Every key of the v1 map, for callers that look for legacy flags. */
  raw: Map<string, unknown>;
}

function uintForWire(n: bigint): number | bigint {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

const te = new TextEncoder();

/** The version body: a map with **byte-string keys**, as 1.20 sends it. */
export function buildVersionResponse(v: { maximumImmutableShareSize: bigint; maximumMutableShareSize: bigint; availableSpace: bigint; applicationVersion: string }): Buffer {
  const inner = new Map<CborValue, CborValue>([
    [te.encode('maximum-immutable-share-size'), uintForWire(v.maximumImmutableShareSize)],
    [te.encode('maximum-mutable-share-size'), uintForWire(v.maximumMutableShareSize)],
    [te.encode('available-space'), uintForWire(v.availableSpace)],
  ]);
  return encodeCbor(
    new Map<CborValue, CborValue>([
      [te.encode(STORAGE_V1), inner],
      [te.encode('application-version'), te.encode(v.applicationVersion)],
    ]),
  );
}

function keyText(k: unknown): string | undefined {
  if (k instanceof Uint8Array) return Buffer.from(k).toString('utf8');
  if (typeof k === 'string') return k;
  return undefined;
}

function toBig(v: unknown, what: string): bigint {
  const n = asUint(v, what);
  return typeof n === 'bigint' ? n : BigInt(n);
}

export function parseVersionResponse(body: Uint8Array): VersionInfo {
  const top = asMap(decodeCbor(body, 'version response'), 'version response');
  let v1: Map<unknown, unknown> | undefined;
  let appVersion = '';
  for (const [k, val] of top) {
    const name = keyText(k);
    if (name === STORAGE_V1) v1 = asMap(val, 'version v1 map');
    else if (name === 'application-version') appVersion = val instanceof Uint8Array ? Buffer.from(val).toString('utf8') : asText(val, 'application-version');
  }
  if (v1 === undefined) throw bad('version response', `missing key "${STORAGE_V1}"`);
  const raw = new Map<string, unknown>();
  for (const [k, val] of v1) {
    const name = keyText(k);
    if (name !== undefined) raw.set(name, val);
  }
  const need = (name: string): bigint => {
    if (!raw.has(name)) throw bad('version response', `missing "${name}"`);
    return toBig(raw.get(name), name);
  };
  const maximumImmutableShareSize = need('maximum-immutable-share-size');
  const maximumMutableShareSize = need('maximum-mutable-share-size');
  const availableSpace = raw.has('available-space') ? need('available-space') : maximumImmutableShareSize;
  return { maximumImmutableShareSize, maximumMutableShareSize, availableSpace, applicationVersion: appVersion, raw };
}

// ---------------------------------------------------------------- immutable allocate

export interface AllocateRequest {
  shareNumbers: number[];
  /** A bigint here means "more than any disk": nothing can be allocated. */
  allocatedSize: number | bigint;
}

export function buildAllocateRequest(r: { shareNumbers: Iterable<number>; allocatedSize: number | bigint }): Buffer {
  return encodeCbor({ 'share-numbers': new Set(r.shareNumbers), 'allocated-size': r.allocatedSize });
}

export function parseAllocateRequest(body: Uint8Array): AllocateRequest {
  const f = fields(decodeCbor(body, 'allocate request'), 'allocate request', ['share-numbers', 'allocated-size']);
  return {
    shareNumbers: asUintSet(f.get('share-numbers'), 'share-numbers', MAX_SHARES_PER_REQUEST),
    allocatedSize: asUint(f.get('allocated-size'), 'allocated-size'),
  };
}

export interface AllocateResponse {
  alreadyHave: number[];
  allocated: number[];
}

export function buildAllocateResponse(r: AllocateResponse): Buffer {
  return encodeCbor({ 'already-have': new Set(r.alreadyHave), allocated: new Set(r.allocated) });
}

export function parseAllocateResponse(body: Uint8Array): AllocateResponse {
  const f = fields(decodeCbor(body, 'allocate response'), 'allocate response', ['already-have', 'allocated']);
  return { alreadyHave: asUintSet(f.get('already-have'), 'already-have'), allocated: asUintSet(f.get('allocated'), 'allocated') };
}

// ---------------------------------------------------------------- immutable write

export function buildWriteResponse(required: ByteRange[]): Buffer {
  return encodeCbor({ required: required.map((r) => ({ begin: r.begin, end: r.end })) });
}

export function parseWriteResponse(body: Uint8Array): ByteRange[] {
  const f = fields(decodeCbor(body, 'write response'), 'write response', ['required']);
  return asArray(f.get('required'), 'required').map((item) => {
    const r = fields(item, 'required range', ['begin', 'end']);
    const begin = asSafeUint(r.get('begin'), 'begin');
    const end = asSafeUint(r.get('end'), 'end');
    if (end < begin) throw bad('required range', 'end before begin');
    return { begin, end };
  });
}

// ---------------------------------------------------------------- share lists

export function buildShareSet(shares: Iterable<number>): Buffer {
  return encodeCbor(new Set(shares));
}

export function parseShareSet(body: Uint8Array, what = 'share list'): number[] {
  return asUintSet(decodeCbor(body, what), what);
}

// ---------------------------------------------------------------- corruption advice

export function buildCorruptRequest(reason: string): Buffer {
  return encodeCbor({ reason });
}

export function parseCorruptRequest(body: Uint8Array): string {
  const f = fields(decodeCbor(body, 'corruption advice'), 'corruption advice', ['reason']);
  const reason = asText(f.get('reason'), 'reason');
  const size = Buffer.byteLength(reason, 'utf8');
  if (size < 1 || size > MAX_CORRUPTION_REASON) throw bad('reason', `must be 1..${MAX_CORRUPTION_REASON} bytes`);
  return reason;
}

// ---------------------------------------------------------------- mutable read-test-write

export interface TestVector {
  offset: number;
  size: number;
  specimen: Uint8Array;
}
export interface WriteVector {
  offset: number;
  data: Uint8Array;
}
export interface ShareTestWrite {
  test: TestVector[];
  write: WriteVector[];
  /** null: leave the length alone; 0: delete the share; smaller: truncate. */
  newLength: number | null;
}
export interface ReadVector {
  offset: number;
  size: number;
}
export interface ReadTestWriteRequest {
  testWriteVectors: Map<number, ShareTestWrite>;
  readVector: ReadVector[];
}

export function buildReadTestWriteRequest(r: ReadTestWriteRequest): Buffer {
  const tw = new Map<CborValue, CborValue>();
  for (const [shnum, v] of r.testWriteVectors) {
    tw.set(shnum, {
      test: v.test.map((t) => ({ offset: t.offset, size: t.size, specimen: t.specimen })),
      write: v.write.map((w) => ({ offset: w.offset, data: w.data })),
      'new-length': v.newLength,
    });
  }
  return encodeCbor({
    'test-write-vectors': tw,
    'read-vector': r.readVector.map((v) => ({ offset: v.offset, size: v.size })),
  });
}

/**
 * Offsets and sizes that do not fit a JS number cannot address any real share; they
 * are rejected as bad input (the 1.20 server would fail with 500 later).
 */
export function parseReadTestWriteRequest(body: Uint8Array): ReadTestWriteRequest {
  const f = fields(decodeCbor(body, 'read-test-write request'), 'read-test-write request', ['test-write-vectors', 'read-vector']);
  const twv = asMap(f.get('test-write-vectors'), 'test-write-vectors');
  if (twv.size > MAX_SHARES_PER_REQUEST) throw bad('test-write-vectors', `at most ${MAX_SHARES_PER_REQUEST} shares`);
  const testWriteVectors = new Map<number, ShareTestWrite>();
  for (const [k, v] of twv) {
    const shnum = asSafeUint(k, 'share number');
    const sf = fields(v, `test-write vector for share ${shnum}`, ['test', 'write', 'new-length']);
    const test = asArray(sf.get('test'), 'test', MAX_TEST_VECTORS).map((t) => {
      const tf = fields(t, 'test vector', ['offset', 'size', 'specimen']);
      return { offset: asSafeUint(tf.get('offset'), 'offset'), size: asSafeUint(tf.get('size'), 'size'), specimen: asBytes(tf.get('specimen'), 'specimen') };
    });
    const write = asArray(sf.get('write'), 'write').map((w) => {
      const wf = fields(w, 'write vector', ['offset', 'data']);
      return { offset: asSafeUint(wf.get('offset'), 'offset'), data: asBytes(wf.get('data'), 'data') };
    });
    const nl = sf.get('new-length');
    const newLength = nl === null ? null : asSafeUint(nl, 'new-length');
    testWriteVectors.set(shnum, { test, write, newLength });
  }
  const readVector = asArray(f.get('read-vector'), 'read-vector', MAX_READ_VECTORS).map((r) => {
    const rf = fields(r, 'read vector', ['offset', 'size']);
    return { offset: asSafeUint(rf.get('offset'), 'offset'), size: asSafeUint(rf.get('size'), 'size') };
  });
  return { testWriteVectors, readVector };
}

export interface ReadTestWriteResponse {
  success: boolean;
  data: Map<number, Uint8Array[]>;
}

export function buildReadTestWriteResponse(r: ReadTestWriteResponse): Buffer {
  const data = new Map<CborValue, CborValue>();
  for (const [shnum, reads] of [...r.data].sort((a, b) => a[0] - b[0])) data.set(shnum, reads);
  return encodeCbor({ success: r.success, data });
}

export function parseReadTestWriteResponse(body: Uint8Array): ReadTestWriteResponse {
  const f = fields(decodeCbor(body, 'read-test-write response'), 'read-test-write response', ['success', 'data']);
  const data = new Map<number, Uint8Array[]>();
  for (const [k, v] of asMap(f.get('data'), 'data')) {
    if (typeof k !== 'number' && typeof k !== 'bigint') throw bad('data', 'keys must be unsigned integers');
    data.set(asSafeUint(k, 'share number'), asArray(v, 'read results').map((b) => asBytes(b, 'read result')));
  }
  return { success: asBool(f.get('success'), 'success'), data };
}

/** Re-classify a parse failure of a *response* as the peer's fault. */
export function asProtocolError(e: unknown, what: string): TahoeError {
  const message = e instanceof Error ? e.message : String(e);
  return new TahoeError('ProtocolError', `invalid ${what} from the storage server: ${message}`, {
    cause: e,
    hint: 'the server sent a response that does not follow the storage protocol; it may run an incompatible version',
  });
}
