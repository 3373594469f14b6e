/**
 * Netstrings (spec: tahoe-lafs `src/allmydata/util/netstring.py`; D. J. Bernstein's
 * netstrings): `dec(len) ":" bytes ","`.
 */
import { TahoeError } from '../errors.js';

export function netstring(data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([Buffer.from(`${body.length}:`, 'ascii'), body, Buffer.from(',', 'ascii')]);
}

/**
 * Split a concatenation of netstrings. With `count`, exactly that many must be present
 * and nothing may follow (trailing data is an error unless `allowTrailing`).
 */
export function splitNetstrings(data: Uint8Array, count?: number, allowTrailing = false): { items: Buffer[]; rest: Buffer } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const items: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length && (count === undefined || items.length < count)) {
    const colon = buf.indexOf(0x3a, pos);
    if (colon < 0 || colon - pos > 20 || colon === pos) throw bad('missing length');
    const lenText = buf.toString('ascii', pos, colon);
    if (!/^(0|[1-9][0-9]*)$/.test(lenText)) throw bad('bad length');
    const len = Number(lenText);
    const end = colon + 1 + len;
    if (end >= buf.length || buf[end] !== 0x2c) throw bad('truncated or missing comma');
    items.push(buf.subarray(colon + 1, end));
    pos = end + 1;
  }
  if (count !== undefined && items.length !== count) throw bad(`expected ${count} netstrings, found ${items.length}`);
  const rest = buf.subarray(pos);
  if (!allowTrailing && count !== undefined && rest.length > 0) throw bad('trailing data after netstrings');
  return { items, rest };
}

function bad(why: string): TahoeError {
  return new TahoeError('IntegrityError', `malformed netstring: ${why}`);
}
