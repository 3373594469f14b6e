/**
 * LIT files (spec: shared/specs/tahoe-formats.md §3.1; upstream `uri.py` LiteralFileURI):
 * files of 55 bytes or less live entirely inside their cap, `URI:LIT:<base32 data>`, and
 * are never sent to servers. The empty file is `URI:LIT:`.
 */
import { TahoeError } from '../errors.js';
import { formatCap, type LitCap } from '../caps/caps.js';
import { LIT_SIZE_THRESHOLD } from './params.js';

export function isLiteralSize(size: number): boolean {
  return size <= LIT_SIZE_THRESHOLD;
}

export function litCap(data: Uint8Array): LitCap {
  if (data.length > LIT_SIZE_THRESHOLD) {
    throw new TahoeError('BadInput', `a LIT cap holds at most ${LIT_SIZE_THRESHOLD} bytes, this file has ${data.length}`, {
      hint: 'larger files are CHK-encoded into shares (encodeChk)',
    });
  }
  return { type: 'LIT', data: Buffer.from(data) };
}

export function litCapString(data: Uint8Array): string {
  return formatCap(litCap(data));
}
