/**
 * HTTP byte ranges for file downloads (RFC 9110 §14: `Range`, `Content-Range`,
 * `If-Range`, 206/416), as the web gateway serves them on `GET /uri/$FILECAP`.
 *
 * Decisions, in the order a request meets them:
 *   - a `Range` whose unit is not `bytes` is ignored (RFC 9110 §14.2: MUST ignore);
 *   - a `bytes=` set that does not parse, or holds an invalid spec (`5-2`), or whose
 *     ranges all lie outside the file, is answered 416 with `Content-Range: bytes *\/SIZE`
 *     (Tahoe-LAFS ignores unparseable sets; we reject them, so a client bug shows up);
 *   - satisfiable ranges are clipped to the file, sorted, and overlapping or adjacent
 *     ones coalesced (§14.2 allows it); one range left ⇒ a single-part 206, several ⇒
 *     `multipart/byteranges` (Tahoe-LAFS 1.20 serves only the first range);
 *   - more than `MAX_RANGES` ranges after coalescing ⇒ 416 (§14.2: a server may reject
 *     an excessive number of small ranges).
 *
 * Pure: no I/O. Never throws on any header text (fuzzed in test/web/range.test.ts).
 */

/** One satisfiable range: `start` and `end` are inclusive byte offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeDecision =
  /** Serve the whole representation (no Range, or one to ignore). */
  | { kind: 'full' }
  /** 206 with these ranges (sorted, disjoint, non-adjacent, within the file). */
  | { kind: 'partial'; ranges: ByteRange[] }
  /** 416 Range Not Satisfiable; `reason` goes into the plain-text body. */
  | { kind: 'unsatisfiable'; reason: string };

/** Ranges served per request; beyond this a request is refused (a cheap amplification guard). */
export const MAX_RANGES = 16;
/** Longer Range headers are refused outright. */
const MAX_HEADER_LENGTH = 4096;

const DIGITS = /^[0-9]+$/;

/** Decide how to answer `Range` for a representation of `size` bytes. */
export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const text = header.trim();
  const eq = text.indexOf('=');
  const unit = (eq < 0 ? text : text.slice(0, eq)).trim().toLowerCase();
  if (unit !== 'bytes') return { kind: 'full' };
  if (eq < 0) return { kind: 'unsatisfiable', reason: 'the Range header names no ranges (expected bytes=FIRST-LAST)' };
  if (text.length > MAX_HEADER_LENGTH) return { kind: 'unsatisfiable', reason: `the Range header is longer than ${MAX_HEADER_LENGTH} characters` };
  const specs = text.slice(eq + 1).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'unsatisfiable', reason: 'the Range header names no ranges (expected bytes=FIRST-LAST)' };
  const wanted: ByteRange[] = [];
  for (const spec of specs) {
    const dash = spec.indexOf('-');
    if (dash < 0) return { kind: 'unsatisfiable', reason: `"${printable(spec)}" is not a byte range (expected FIRST-LAST, FIRST- or -SUFFIX)` };
    const first = spec.slice(0, dash).trim();
    const last = spec.slice(dash + 1).trim();
    if (first === '') {
      // suffix-range: the last N bytes
      if (!DIGITS.test(last)) return { kind: 'unsatisfiable', reason: `"${printable(spec)}" is not a byte range` };
      const suffix = toNumber(last);
      if (suffix > 0 && size > 0) wanted.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) {
      return { kind: 'unsatisfiable', reason: `"${printable(spec)}" is not a byte range` };
    }
    const start = toNumber(first);
    const end = last === '' ? Number.MAX_SAFE_INTEGER : toNumber(last);
    if (end < start) return { kind: 'unsatisfiable', reason: `"${printable(spec)}" ends before it starts` };
    if (start < size) wanted.push({ start, end: Math.min(end, size - 1) });
  }
  if (wanted.length === 0) {
    return { kind: 'unsatisfiable', reason: size === 0 ? 'the file is empty: no byte range can be satisfied' : `no requested range starts inside the ${size}-byte file` };
  }
  const ranges = coalesce(wanted);
  if (ranges.length > MAX_RANGES) return { kind: 'unsatisfiable', reason: `more than ${MAX_RANGES} separate ranges were requested` };
  return { kind: 'partial', ranges };
}

/** Sort and merge overlapping or adjacent ranges. */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && r.start <= prev.end + 1) prev.end = Math.max(prev.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** Digit strings beyond 2^53 saturate: any such offset lies past every file we can serve. */
function toNumber(digits: string): number {
  const stripped = digits.replace(/^0+(?=\d)/, '');
  return stripped.length > 15 ? Number.MAX_SAFE_INTEGER : Number(stripped);
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

/** `Content-Range` for one served range. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/**
 * `If-Range` (RFC 9110 §13.1.5): a Range is honoured only when the validator still
 * matches. We send strong ETags and no Last-Modified, so a date never matches.
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (!v.startsWith('"') && !v.startsWith('W/')) return false; // an HTTP date
  return etag !== undefined && v === etag;
}

/** `If-None-Match` (RFC 9110 §13.1.2, weak comparison): true when a 304 is due. */
export function ifNoneMatchHits(header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined || etag === undefined) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  const bare = strip(etag);
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === bare);
}
