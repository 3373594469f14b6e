/**
 * Byte ranges: the set of ranges an immutable upload has received, and the HTTP
 * `Range` / `Content-Range` headers of the storage protocol.
 *
 * Spec: shared/specs/storage-protocol.md §5 (PATCH `Content-Range: bytes a-b/total|*`,
 * inclusive; GET `Range: bytes=a-b`, one closed range; 206 with `Content-Range:
 * bytes a-b/*`), following RFC 9110 §14 syntax as parsed by the 1.20 server (werkzeug).
 */

/** A half-open byte range `[begin, end)`. */
export interface ByteRange {
  begin: number;
  end: number;
}

/** A set of disjoint, sorted half-open ranges. */
export class RangeSet {
  private ranges: ByteRange[] = [];

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  toArray(): ByteRange[] {
    return this.ranges.map((r) => ({ ...r }));
  }

  /** Add `[begin, end)`, merging with touching or overlapping ranges. */
  add(begin: number, end: number): void {
    if (end <= begin) return;
    const out: ByteRange[] = [];
    let placed = false;
    for (const r of this.ranges) {
      if (r.end < begin) out.push(r);
      else if (r.begin > end) {
        if (!placed) {
          out.push({ begin, end });
          placed = true;
        }
        out.push(r);
      } else {
        begin = Math.min(begin, r.begin);
        end = Math.max(end, r.end);
      }
    }
    if (!placed) out.push({ begin, end });
    this.ranges = out;
  }

  /** The parts of `[begin, end)` that are in the set. */
  intersect(begin: number, end: number): ByteRange[] {
    const out: ByteRange[] = [];
    for (const r of this.ranges) {
      const b = Math.max(begin, r.begin);
      const e = Math.min(end, r.end);
      if (b < e) out.push({ begin: b, end: e });
    }
    return out;
  }

  /** The parts of `[begin, end)` that are not in the set. */
  missing(begin: number, end: number): ByteRange[] {
    const out: ByteRange[] = [];
    let cursor = begin;
    for (const r of this.ranges) {
      if (r.end <= cursor) continue;
      if (r.begin >= end) break;
      if (r.begin > cursor) out.push({ begin: cursor, end: Math.min(r.begin, end) });
      cursor = Math.max(cursor, r.end);
      if (cursor >= end) break;
    }
    if (cursor < end) out.push({ begin: cursor, end });
    return out;
  }

  covers(begin: number, end: number): boolean {
    return this.missing(begin, end).length === 0;
  }
}

/** A parsed `Content-Range` request header: inclusive first/last, total or undefined for `*`. */
export interface ContentRange {
  first: number;
  last: number;
  total: number | undefined;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function parseDecimal(s: string): number | undefined {
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Parse `Content-Range: bytes <first>-<last>/<total|*>`. Returns undefined when the
 * header is missing or unusable (the server answers 416). Like the 1.20 server, a
 * known total only has to exceed `first`; writes past the allocation are caught later.
 */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s+([0-9]+)-([0-9]+)\/([0-9]+|\*)\s*$/i.exec(header);
  if (!m) return undefined;
  const first = parseDecimal(m[1]);
  const last = parseDecimal(m[2]);
  const total = m[3] === '*' ? undefined : parseDecimal(m[3]);
  if (first === undefined || last === undefined || last < first) return undefined;
  if (m[3] !== '*' && (total === undefined || first >= total)) return undefined;
  return { first, last, total };
}

export function formatContentRange(first: number, last: number, total?: number): string {
  return `bytes ${first}-${last}/${total === undefined ? '*' : total}`;
}

/** A parsed single closed `Range: bytes=<first>-<last>` request header. */
export interface RequestedRange {
  first: number;
  last: number;
}

/**
 * Parse a `Range` header the way the 1.20 server accepts it: unit `bytes`, exactly one
 * range, both ends given, first ≤ last. Anything else yields undefined (416).
 */
export function parseRangeHeader(header: string): RequestedRange | undefined {
  const m = /^\s*bytes\s*=\s*([0-9]+)\s*-\s*([0-9]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const first = parseDecimal(m[1]);
  const last = parseDecimal(m[2]);
  if (first === undefined || last === undefined || last < first) return undefined;
  return { first, last };
}

/** Parse a response's `Content-Range: bytes a-b/*|total` (client side). */
export function parseResponseContentRange(header: string | undefined): { first: number; last: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s+([0-9]+)-([0-9]+)\/([0-9]+|\*)\s*$/i.exec(header);
  if (!m) return undefined;
  const first = parseDecimal(m[1]);
  const last = parseDecimal(m[2]);
  if (first === undefined || last === undefined || last < first) return undefined;
  return { first, last };
}
