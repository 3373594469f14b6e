/**
 * CBOR as the storage protocol uses it (RFC 8949 via `cborg`).
 *
 * Spec: shared/specs/storage-protocol.md §4: sets are tag 258 around an array
 * (`#6.258([* uint])`), maps may have integer or byte-string keys (decoded with
 * `useMaps`), integers may exceed 2^53 (decoded as bigint). Decoding is strict about
 * what cborg can check (no duplicate map keys, no undefined, no unknown tags); the
 * shape of each message is checked by `messages.ts`. Every failure is a TahoeError
 * of kind `BadInput` so the server can answer 400 and the client can re-classify.
 */
import { decode, encode, Tagged } from 'cborg';
import { TahoeError } from '../errors.js';

export const CBOR_MIME_TYPE = 'application/cbor';
const SET_TAG = 258;

/** Values we encode: JSON-like plus bytes, bigint, Map (any keys) and Set (of uints). */
export type CborValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | CborValue[]
  | Set<number | bigint>
  | Map<CborValue, CborValue>
  | { [key: string]: CborValue };

/** Replace Sets by tag-258 arrays (sorted, like Python's canonical set order is irrelevant but stable output helps tests). */
function prepare(v: CborValue): unknown {
  if (v instanceof Set) {
    const items = [...v].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new Tagged(SET_TAG, items);
  }
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(prepare);
  if (v instanceof Map) {
    const m = new Map<unknown, unknown>();
    for (const [k, val] of v) m.set(k, prepare(val));
    return m;
  }
  const o: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) o[k] = prepare(val);
  return o;
}

export function encodeCbor(value: CborValue): Buffer {
  const bytes = encode(prepare(value));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decode one CBOR item. Maps come back as `Map` (keys may be strings, numbers, bigints
 * or Uint8Arrays), tag-258 arrays as `Set`. Throws `BadInput` on anything malformed.
 */
export function decodeCbor(bytes: Uint8Array, what = 'CBOR body'): unknown {
  try {
    return decode(bytes, {
      useMaps: true,
      rejectDuplicateMapKeys: true,
      allowUndefined: false,
      allowInfinity: false,
      allowNaN: false,
      tags: {
        [SET_TAG]: (inner: () => unknown) => {
          const items = inner();
          if (!Array.isArray(items)) throw new Error('tag 258 must wrap an array');
          const set = new Set<unknown>();
          for (const item of items) {
            if (set.has(item)) throw new Error('tag 258 set has a duplicate element');
            set.add(item);
          }
          return set;
        },
      },
    });
  } catch (e) {
    if (e instanceof TahoeError) throw e;
    throw new TahoeError('BadInput', `invalid ${what}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: 'the body must be one well-formed CBOR item (RFC 8949) as the storage protocol specifies',
    });
  }
}

// ---- typed accessors used by the message parsers ----

export function bad(what: string, problem: string): TahoeError {
  return new TahoeError('BadInput', `${what}: ${problem}`, {
    hint: 'see the storage protocol message schemas (docs/storage-server.md, storage-protocol.md §5)',
  });
}

export function asMap(v: unknown, what: string): Map<unknown, unknown> {
  if (!(v instanceof Map)) throw bad(what, 'expected a map');
  return v;
}

/** A map with exactly the given text keys (CDDL maps are closed); optional keys may be absent. */
export function fields(v: unknown, what: string, required: readonly string[], optional: readonly string[] = []): Map<string, unknown> {
  const m = asMap(v, what);
  const out = new Map<string, unknown>();
  for (const [k, val] of m) {
    if (typeof k !== 'string') throw bad(what, 'map keys must be text strings');
    if (!required.includes(k) && !optional.includes(k)) throw bad(what, `unexpected key "${k.slice(0, 40)}"`);
    out.set(k, val);
  }
  for (const k of required) if (!out.has(k)) throw bad(what, `missing key "${k}"`);
  return out;
}

/** An unsigned integer; bigints beyond 2^53 are returned as bigint. */
export function asUint(v: unknown, what: string): number | bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw bad(what, 'expected an unsigned integer');
    return v;
  }
  if (typeof v === 'bigint') {
    if (v < 0n) throw bad(what, 'expected an unsigned integer');
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  throw bad(what, 'expected an unsigned integer');
}

/** An unsigned integer that must fit a JS number (offsets, sizes, share numbers). */
export function asSafeUint(v: unknown, what: string): number {
  const n = asUint(v, what);
  if (typeof n === 'bigint') throw bad(what, 'integer too large');
  return n;
}

export function asBytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(what, 'expected a byte string');
  return v;
}

export function asText(v: unknown, what: string): string {
  if (typeof v !== 'string') throw bad(what, 'expected a text string');
  return v;
}

export function asBool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw bad(what, 'expected a boolean');
  return v;
}

export function asArray(v: unknown, what: string, max?: number): unknown[] {
  if (!Array.isArray(v)) throw bad(what, 'expected an array');
  if (max !== undefined && v.length > max) throw bad(what, `at most ${max} elements allowed`);
  return v;
}

/** A tag-258 set of unsigned integers (share numbers). */
export function asUintSet(v: unknown, what: string, max?: number): number[] {
  if (!(v instanceof Set)) throw bad(what, 'expected a set (CBOR tag 258)');
  if (max !== undefined && v.size > max) throw bad(what, `at most ${max} elements allowed`);
  return [...v].map((x) => asSafeUint(x, `${what} element`)).sort((a, b) => a - b);
}
