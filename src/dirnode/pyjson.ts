/**
 * JSON exactly as Python's `json.dumps` (default arguments) writes it and `json.loads`
 * reads it, for dirnode metadata (spec: shared/specs/tahoe-formats.md §5; Python `json`
 * module documentation; upstream `src/allmydata/dirnode.py` uses `json.dumps(metadata)`).
 *
 * Byte-compatibility needs three things JavaScript's JSON does not give:
 *  - separators `", "` and `": "`, every non-ASCII character (and DEL) as `\uXXXX`;
 *  - objects keep insertion order, also for keys like "1" that JS objects would move to
 *    the front: objects are `Map`s here;
 *  - Python tells ints from floats (`1` vs `1.0`) and prints floats with `repr`
 *    (shortest round-trip digits, exponent form below 1e-4 and from 1e16, `NaN`,
 *    `Infinity`): floats read from text are `PyFloat`s, JS numbers with a fraction are
 *    floats too, integral JS numbers and bigints are ints.
 */
import { TahoeError, type ErrorKind } from '../errors.js';

/** A Python float (needed when the value is integral, e.g. 1.0, or not finite). */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

export type PyJsonValue = null | boolean | string | number | bigint | PyFloat | PyJsonValue[] | PyJsonObject;
export type PyJsonObject = Map<string, PyJsonValue>;

/** Build an object from entries, in order. */
export function pyObject(entries: Iterable<readonly [string, PyJsonValue]> = []): PyJsonObject {
  return new Map(entries);
}

/** Python's `repr(float)`. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip.
  const [mantissa, expText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const decpt = Number(expText) + 1;
  if (decpt <= -4 || decpt > 16) {
    const exp = decpt - 1;
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

function dumpString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/**
 * `json.dumps(value)` with Python's defaults; `indent` as `json.dumps(value, indent=N)`
 * (items end with "," and a newline, keys still take ": "), which Tahoe's web API uses.
 */
export function pyJsonDumps(value: PyJsonValue, options: { indent?: number } = {}): string {
  const parts: string[] = [];
  const seen = new Set<object>();
  const indent = options.indent;
  let depth = 0;
  const newline = (): string => (indent === undefined ? '' : `\n${' '.repeat(indent * depth)}`);
  const itemSeparator = indent === undefined ? ', ' : ',';
  const walk = (v: PyJsonValue): void => {
    if (v === null) parts.push('null');
    else if (v === true) parts.push('true');
    else if (v === false) parts.push('false');
    else if (typeof v === 'string') parts.push(dumpString(v));
    else if (typeof v === 'bigint') parts.push(v.toString());
    else if (typeof v === 'number') parts.push(Number.isInteger(v) ? BigInt(v).toString() : pythonFloatRepr(v));
    else if (v instanceof PyFloat) parts.push(pythonFloatRepr(v.value));
    else {
      if (seen.has(v)) throw new TahoeError('BadInput', 'circular reference in JSON value');
      seen.add(v);
      if (Array.isArray(v)) {
        if (v.length === 0) {
          parts.push('[]');
        } else {
          parts.push('[');
          depth++;
          v.forEach((item, i) => {
            if (i > 0) parts.push(itemSeparator);
            parts.push(newline());
            walk(item);
          });
          depth--;
          parts.push(newline(), ']');
        }
      } else if (v instanceof Map) {
        if (v.size === 0) {
          parts.push('{}');
        } else {
          parts.push('{');
          depth++;
          let first = true;
          for (const [k, item] of v) {
            if (typeof k !== 'string') throw new TahoeError('BadInput', 'JSON object keys must be strings');
            if (!first) parts.push(itemSeparator);
            first = false;
            parts.push(newline(), dumpString(k), ': ');
            walk(item);
          }
          depth--;
          parts.push(newline(), '}');
        }
      } else {
        throw new TahoeError('BadInput', `cannot serialise a ${typeof v} as JSON`, { hint: 'metadata objects are Maps (see src/dirnode/pyjson.ts)' });
      }
      seen.delete(v);
    }
  };
  walk(value);
  return parts.join('');
}

const MAX_DEPTH = 500;

/**
 * `json.loads(text)`: Python's grammar (NaN/Infinity allowed, control characters in
 * strings refused, duplicate keys: last value at the first position). Errors are
 * TahoeErrors of `kind` (default `BadInput`).
 */
export function pyJsonLoads(input: string | Uint8Array, kind: ErrorKind = 'BadInput'): PyJsonValue {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }) // strips a UTF-8 BOM, as json.loads(bytes) does
        .decode(input);
    } catch (cause) {
      throw new TahoeError(kind, 'JSON is not valid UTF-8', { cause });
    }
  }
  let pos = 0;
  const fail = (why: string): TahoeError => new TahoeError(kind, `invalid JSON at character ${pos}: ${why}`, { details: { position: pos } });
  const ws = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };
  const parseString = (): string => {
    pos++; // opening quote
    let out = '';
    for (;;) {
      if (pos >= text.length) throw fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        return out;
      }
      if (c < 0x20) throw fail('control character in string');
      if (c !== 0x5c) {
        out += text[pos++];
        continue;
      }
      const e = text[pos + 1];
      pos += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = text.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          throw fail('bad escape');
      }
    }
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
  const parseValue = (depth: number): PyJsonValue => {
    if (depth > MAX_DEPTH) throw fail('nested too deeply');
    ws();
    if (pos >= text.length) throw fail('expected a value');
    const c = text[pos];
    if (c === '"') return parseString();
    if (c === '{') {
      pos++;
      const obj: PyJsonObject = new Map();
      ws();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') throw fail('expected a property name in double quotes');
        const key = parseString();
        ws();
        if (text[pos] !== ':') throw fail("expected ':'");
        pos++;
        obj.set(key, parseValue(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        throw fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      pos++;
      const arr: PyJsonValue[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        throw fail("expected ',' or ']'");
      }
    }
    for (const [word, value] of [['null', null], ['true', true], ['false', false], ['NaN', new PyFloat(NaN)], ['Infinity', new PyFloat(Infinity)], ['-Infinity', new PyFloat(-Infinity)]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) throw fail('expected a value');
    pos += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const big = BigInt(m[0]);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    return new PyFloat(Number(m[0]));
  };
  const value = parseValue(0);
  ws();
  if (pos !== text.length) throw fail('extra data');
  return value;
}

/** Plain-JS view (numbers for floats, objects for Maps) for display; not for re-serialising. */
export function toPlainJson(value: PyJsonValue): unknown {
  if (value instanceof PyFloat) return value.value;
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toPlainJson);
  if (value instanceof Map) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of value) out[k] = toPlainJson(v);
    return out;
  }
  return value;
}
