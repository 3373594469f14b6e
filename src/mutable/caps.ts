/**
 * Mutable-file caps (spec: shared/specs/tahoe-formats.md §4; upstream
 * `docs/specifications/uri.rst`, `src/allmydata/uri.py`):
 *
 *   URI:SSK:<writekey>:<fingerprint>            URI:MDMF:<writekey>:<fingerprint>[:…]
 *   URI:SSK-RO:<readkey>:<fingerprint>          URI:MDMF-RO:<readkey>:<fingerprint>[:…]
 *   URI:SSK-Verifier:<SI>:<fingerprint>         URI:MDMF-Verifier:<SI>:<fingerprint>[:…]
 *
 * 16-byte keys/SI as 26 base32 characters, the 32-byte fingerprint as 52. Each cap can be
 * diminished: write → read (readkey = H(writekey)) → verify (SI = H(readkey)). MDMF caps
 * may carry extra `:`-separated fields (reserved for hints); they are ignored when read
 * and kept when a parsed cap is formatted again (Tahoe itself drops them). Field syntax is
 * checked by the common parser in src/caps/caps.ts; this module adds the typed view and
 * the derivations.
 */
import { TahoeError } from '../errors.js';
import { base32Encode } from '../crypto/base32.js';
import { sskReadkey, sskStorageIndex } from '../crypto/derive.js';
import { parseCap, type MutableCap } from '../caps/caps.js';

export type MutableFormat = 'SDMF' | 'MDMF';
export type MutableAccess = 'write' | 'read' | 'verify';

interface MutableCapBase {
  readonly format: MutableFormat;
  readonly storageIndex: Buffer;
  /** Hash of the file's public key (32 bytes); shares must carry a key with this hash. */
  readonly fingerprint: Buffer;
  /** MDMF only: extra fields after the fingerprint, kept verbatim. */
  readonly extra: readonly string[];
}

export interface MutableWriteCap extends MutableCapBase {
  readonly access: 'write';
  readonly writekey: Buffer;
  readonly readkey: Buffer;
}

export interface MutableReadCap extends MutableCapBase {
  readonly access: 'read';
  readonly readkey: Buffer;
}

export interface MutableVerifyCap extends MutableCapBase {
  readonly access: 'verify';
}

export type MutableFileCap = MutableWriteCap | MutableReadCap | MutableVerifyCap;

const PREFIX: Readonly<Record<MutableFormat, Record<MutableAccess, MutableCap['type']>>> = {
  SDMF: { write: 'SSK', read: 'SSK-RO', verify: 'SSK-Verifier' },
  MDMF: { write: 'MDMF', read: 'MDMF-RO', verify: 'MDMF-Verifier' },
};

function checkLength(value: Uint8Array, length: number, what: string): Buffer {
  if (value.length !== length) throw new TahoeError('BadInput', `${what} must be ${length} bytes, not ${value.length}`);
  return Buffer.from(value);
}

export function mutableWriteCap(format: MutableFormat, writekey: Uint8Array, fingerprint: Uint8Array, extra: readonly string[] = []): MutableWriteCap {
  const wk = checkLength(writekey, 16, 'a writekey');
  const readkey = sskReadkey(wk);
  return { format, access: 'write', writekey: wk, readkey, storageIndex: sskStorageIndex(readkey), fingerprint: checkLength(fingerprint, 32, 'a fingerprint'), extra: format === 'MDMF' ? [...extra] : [] };
}

export function mutableReadCap(format: MutableFormat, readkey: Uint8Array, fingerprint: Uint8Array, extra: readonly string[] = []): MutableReadCap {
  const rk = checkLength(readkey, 16, 'a readkey');
  return { format, access: 'read', readkey: rk, storageIndex: sskStorageIndex(rk), fingerprint: checkLength(fingerprint, 32, 'a fingerprint'), extra: format === 'MDMF' ? [...extra] : [] };
}

export function mutableVerifyCap(format: MutableFormat, storageIndex: Uint8Array, fingerprint: Uint8Array, extra: readonly string[] = []): MutableVerifyCap {
  return { format, access: 'verify', storageIndex: checkLength(storageIndex, 16, 'a storage index'), fingerprint: checkLength(fingerprint, 32, 'a fingerprint'), extra: format === 'MDMF' ? [...extra] : [] };
}

/** The typed view of a mutable cap the common parser returned (also used for DIR2 inner caps). */
export function mutableCapFromParsed(cap: MutableCap): MutableFileCap {
  const format: MutableFormat = cap.type.startsWith('MDMF') ? 'MDMF' : 'SDMF';
  if (cap.type.endsWith('-Verifier')) return mutableVerifyCap(format, cap.key, cap.fingerprint, cap.extra);
  if (cap.type.endsWith('-RO')) return mutableReadCap(format, cap.key, cap.fingerprint, cap.extra);
  return mutableWriteCap(format, cap.key, cap.fingerprint, cap.extra);
}

/** The common parser's representation (for src/caps/caps.ts `formatCap`, dirnode wrapping). */
export function mutableCapToParsed(cap: MutableFileCap): MutableCap {
  const key = cap.access === 'write' ? cap.writekey : cap.access === 'read' ? cap.readkey : cap.storageIndex;
  return { type: PREFIX[cap.format][cap.access], key, fingerprint: cap.fingerprint, extra: cap.extra };
}

/**
 * Parse `URI:SSK…` / `URI:MDMF…` caps. Anything else (including directory caps) is
 * `CapInvalid` with a hint naming the expected forms.
 */
export function parseMutableCap(text: string): MutableFileCap {
  const cap = parseCap(typeof text === 'string' ? text.trim() : text);
  switch (cap.type) {
    case 'SSK': case 'SSK-RO': case 'SSK-Verifier': case 'MDMF': case 'MDMF-RO': case 'MDMF-Verifier':
      return mutableCapFromParsed(cap);
    default:
      throw new TahoeError('CapInvalid', `expected a mutable-file cap, got ${cap.type === 'unknown' ? 'an unknown string' : `URI:${cap.type}:`}`, {
        hint: cap.type.startsWith('DIR2')
          ? 'this is a directory cap; use it as a directory, not as a file'
          : 'mutable-file caps start with URI:SSK:, URI:SSK-RO:, URI:SSK-Verifier:, URI:MDMF:, URI:MDMF-RO: or URI:MDMF-Verifier:',
        details: { capType: cap.type },
      });
  }
}

export function formatMutableCap(cap: MutableFileCap): string {
  const key = cap.access === 'write' ? cap.writekey : cap.access === 'read' ? cap.readkey : cap.storageIndex;
  return [`URI:${PREFIX[cap.format][cap.access]}`, base32Encode(key), base32Encode(cap.fingerprint), ...cap.extra].join(':');
}

/** Diminish a write or read cap to its read cap (a read cap is returned unchanged). */
export function readCapOf(cap: MutableWriteCap | MutableReadCap): MutableReadCap {
  if (cap.access === 'read') return cap;
  return { format: cap.format, access: 'read', readkey: cap.readkey, storageIndex: cap.storageIndex, fingerprint: cap.fingerprint, extra: cap.extra };
}

export function verifyCapOf(cap: MutableFileCap): MutableVerifyCap {
  if (cap.access === 'verify') return cap;
  return { format: cap.format, access: 'verify', storageIndex: cap.storageIndex, fingerprint: cap.fingerprint, extra: cap.extra };
}

/** Throw `CapInvalid` unless the cap can write. */
export function requireWriteCap(cap: MutableFileCap, action = 'change this mutable file'): MutableWriteCap {
  if (cap.access === 'write') return cap;
  throw new TahoeError('CapInvalid', `a ${cap.access} cap cannot ${action}`, {
    hint: `use the write cap (URI:${PREFIX[cap.format].write}:…); a ${cap.access} cap only allows ${cap.access === 'read' ? 'reading' : 'checking'}`,
    details: { access: cap.access },
  });
}

/** Throw `CapInvalid` unless the cap can decrypt. */
export function requireReadCap(cap: MutableFileCap): MutableWriteCap | MutableReadCap {
  if (cap.access !== 'verify') return cap;
  throw new TahoeError('CapInvalid', 'a verify cap cannot read a mutable file', {
    hint: `use the read cap (URI:${PREFIX[cap.format].read}:…) or the write cap; a verify cap only checks shares`,
    details: { access: cap.access },
  });
}
