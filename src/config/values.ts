/**
 * Parsers for the value syntaxes tahoe.cfg uses, each throwing `ConfigInvalid` naming
 * `[section] key` and the fix.
 *
 * Spec: shared/specs/configuration.md §2: integers (Python `int()` of the stripped text),
 * `reserved_space` sizes (Tahoe `util/abbreviate.py parse_abbreviated_size`: a number,
 * an optional case-insensitive scale K M G T P E, an optional `i` for powers of 1024, an
 * optional `B`), lease durations (`util/time_format.py parse_duration`: a number and a
 * unit day/month/year, plural allowed; a month is 31 days, a year 365 days) and dates
 * (`parse_date`: YYYY-MM-DD).
 */
import { TahoeError } from '../errors.js';

/** Where a value came from, for messages: `[storage] reserved_space` in `/n/tahoe.cfg line 9`. */
export interface ValueSource {
  section: string;
  key: string;
  file?: string;
  line?: number;
}

export function invalidValue(src: ValueSource, problem: string, hint: string): TahoeError {
  const where = src.file === undefined ? '' : src.line === undefined ? `${src.file}: ` : `${src.file} line ${src.line}: `;
  return new TahoeError('ConfigInvalid', `${where}[${src.section}] ${src.key} ${problem}`, {
    hint,
    details: { file: src.file, line: src.line, section: src.section, key: src.key },
  });
}

/** A decimal integer (optional sign, surrounding spaces allowed as Python's `int()` does). */
export function parseIntValue(text: string, src: ValueSource, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const t = text.trim();
  const range = min > Number.MIN_SAFE_INTEGER && max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : min > Number.MIN_SAFE_INTEGER ? ` of at least ${min}` : '';
  if (!/^[+-]?\d+$/.test(t)) {
    throw invalidValue(src, `is ${JSON.stringify(text)}, which is not a whole number`, `write a whole number${range}, e.g. ${Math.max(min, Math.min(max, 3))}`);
  }
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidValue(src, `is ${t}, out of range`, `write a whole number${range}`);
  }
  return n;
}

const SIZE_SCALE: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const SIZE_SCALE_BINARY: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };

/**
 * `reserved_space` and similar sizes: `1G`, `100MB`, `100 M`, `100000kb`, `1MiB`,
 * `1024 Ki`, `1048576B`. Empty means 0. Returns bytes (a safe integer).
 */
export function parseSize(text: string, src: ValueSource): number {
  const t = text.trim();
  if (t === '') return 0;
  const m = /^(\d+)\s*([KMGTPE]?)(I?)(B?)$/i.exec(t);
  if (m === null) {
    throw invalidValue(src, `is ${JSON.stringify(text)}, which is not a size`,
      'write a number with an optional K, M, G, T, P or E, then "i" for powers of 1024 and an optional B: 1G, 100MB, 512MiB');
  }
  const scale = m[3] !== '' ? SIZE_SCALE_BINARY[m[2].toUpperCase()] : SIZE_SCALE[m[2].toUpperCase()];
  const bytes = Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) throw invalidValue(src, `is ${JSON.stringify(text)}, too large`, 'write a size below 8 PiB');
  return bytes;
}

const DAY = 86_400;

/** Lease durations: `31 days`, `2 months`, `1year`. Returns seconds. */
export function parseDuration(text: string, src: ValueSource): number {
  const m = /^\s*(\d+)\s*(day|month|mo|year)s?\s*$/i.exec(text);
  if (m === null) {
    throw invalidValue(src, `is ${JSON.stringify(text)}, which is not a duration`, 'write a number and a unit: "31 days", "2 months" or "1 year"');
  }
  const unit = m[2].toLowerCase();
  const seconds = Number(m[1]) * (unit === 'day' ? DAY : unit === 'year' ? 365 * DAY : 31 * DAY);
  if (!Number.isSafeInteger(seconds)) throw invalidValue(src, 'is too long', 'write a shorter duration');
  return seconds;
}

/** A calendar date `YYYY-MM-DD` (UTC midnight). */
export function parseDate(text: string, src: ValueSource): Date {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})\s*$/.exec(text);
  const d = m === null ? undefined : new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (m === null || d === undefined || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw invalidValue(src, `is ${JSON.stringify(text)}, which is not a date`, 'write the date as YYYY-MM-DD, e.g. 2026-01-31');
  }
  return d;
}

/** Comma-separated list, items stripped, empty items dropped (Tahoe's `peers.preferred`, `plugins`). */
export function parseList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
