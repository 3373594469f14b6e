/**
 * Directory caps (spec: shared/specs/tahoe-formats.md §5; upstream
 * `docs/specifications/uri.rst`, `dirnodes.rst`, `src/allmydata/uri.py`). A directory cap
 * wraps the cap of the file that holds the directory's contents:
 *
 *   URI:DIR2:            SSK write cap        URI:DIR2-MDMF:           MDMF write cap
 *   URI:DIR2-RO:         SSK read cap         URI:DIR2-MDMF-RO:        MDMF read cap
 *   URI:DIR2-Verifier:   SSK verify cap       URI:DIR2-MDMF-Verifier:  MDMF verify cap
 *   URI:DIR2-CHK:        CHK read cap         URI:DIR2-CHK-Verifier:   CHK verify cap
 *   URI:DIR2-LIT:        LIT (contents inline; no verify cap)
 *
 * The fields after the prefix are those of the inner cap. Mutable directories diminish
 * write → read → verify like their files; immutable directories are read-only already.
 */
import { TahoeError } from '../errors.js';
import { chkVerifierOf, formatCap, parseCap, type ChkCap, type ChkVerifierCap, type LitCap } from '../caps/caps.js';
import {
  mutableCapFromParsed, mutableCapToParsed, readCapOf, verifyCapOf, type MutableFileCap, type MutableWriteCap,
} from '../mutable/caps.js';

export interface MutableDirectoryCap {
  readonly kind: 'mutable-directory';
  readonly file: MutableFileCap;
}

export interface ImmutableDirectoryCap {
  readonly kind: 'immutable-directory';
  readonly file: ChkCap | ChkVerifierCap | LitCap;
}

export type DirectoryCap = MutableDirectoryCap | ImmutableDirectoryCap;

const DIRECTORY_HINT = 'directory caps start with URI:DIR2:, URI:DIR2-RO:, URI:DIR2-MDMF:, URI:DIR2-MDMF-RO:, URI:DIR2-CHK:, URI:DIR2-LIT: or a -Verifier form';

/** Parse a `URI:DIR2…` cap; anything else is `CapInvalid`. */
export function parseDirectoryCap(text: string): DirectoryCap {
  const cap = parseCap(typeof text === 'string' ? text.trim() : text);
  switch (cap.type) {
    case 'DIR2': case 'DIR2-RO': case 'DIR2-Verifier': case 'DIR2-MDMF': case 'DIR2-MDMF-RO': case 'DIR2-MDMF-Verifier': {
      const inner = cap.file;
      if (inner.type === 'CHK' || inner.type === 'CHK-Verifier' || inner.type === 'LIT') throw new TahoeError('Internal', 'mutable directory with an immutable inner cap');
      return { kind: 'mutable-directory', file: mutableCapFromParsed(inner) };
    }
    case 'DIR2-CHK': case 'DIR2-CHK-Verifier': case 'DIR2-LIT': {
      const inner = cap.file;
      if (inner.type !== 'CHK' && inner.type !== 'CHK-Verifier' && inner.type !== 'LIT') throw new TahoeError('Internal', 'immutable directory with a mutable inner cap');
      return { kind: 'immutable-directory', file: inner };
    }
    default:
      throw new TahoeError('CapInvalid', `expected a directory cap, got ${cap.type === 'unknown' ? 'an unknown string' : `URI:${cap.type}:`}`, {
        hint: cap.type === 'unknown' ? DIRECTORY_HINT : `this is a file cap; ${DIRECTORY_HINT}`,
        details: { capType: cap.type },
      });
  }
}

const MUTABLE_PREFIX: Readonly<Record<string, string>> = {
  'SDMF/write': 'DIR2', 'SDMF/read': 'DIR2-RO', 'SDMF/verify': 'DIR2-Verifier',
  'MDMF/write': 'DIR2-MDMF', 'MDMF/read': 'DIR2-MDMF-RO', 'MDMF/verify': 'DIR2-MDMF-Verifier',
};
const IMMUTABLE_PREFIX: Readonly<Record<string, string>> = { CHK: 'DIR2-CHK', 'CHK-Verifier': 'DIR2-CHK-Verifier', LIT: 'DIR2-LIT' };

/** The text of a directory cap: the directory prefix, then the inner cap's fields. */
export function formatDirectoryCap(cap: DirectoryCap): string {
  const innerText = formatCap(cap.kind === 'mutable-directory' ? mutableCapToParsed(cap.file) : cap.file);
  const innerPrefix = innerText.slice(0, innerText.indexOf(':', 4) + 1);
  const prefix = cap.kind === 'mutable-directory' ? MUTABLE_PREFIX[`${cap.file.format}/${cap.file.access}`] : IMMUTABLE_PREFIX[cap.file.type];
  return `URI:${prefix}:${innerText.slice(innerPrefix.length)}`;
}

export function isWritableDirectory(cap: DirectoryCap): cap is MutableDirectoryCap & { file: MutableWriteCap } {
  return cap.kind === 'mutable-directory' && cap.file.access === 'write';
}

/** Can this cap read the children (not just verify shares)? */
export function canReadDirectory(cap: DirectoryCap): boolean {
  return cap.kind === 'mutable-directory' ? cap.file.access !== 'verify' : cap.file.type !== 'CHK-Verifier';
}

/** The read-only form: DIR2 → DIR2-RO, DIR2-MDMF → DIR2-MDMF-RO; others are returned as they are. */
export function directoryReadCapOf(cap: DirectoryCap): DirectoryCap {
  if (cap.kind === 'mutable-directory' && cap.file.access === 'write') return { kind: 'mutable-directory', file: readCapOf(cap.file) };
  return cap;
}

/** The verify cap, or undefined for DIR2-LIT (nothing is stored, nothing to verify). */
export function directoryVerifyCapOf(cap: DirectoryCap): DirectoryCap | undefined {
  if (cap.kind === 'mutable-directory') return { kind: 'mutable-directory', file: verifyCapOf(cap.file) };
  if (cap.file.type === 'LIT') return undefined;
  if (cap.file.type === 'CHK') return { kind: 'immutable-directory', file: chkVerifierOf(cap.file) };
  return cap;
}

/** The directory cap that wraps a file cap (Tahoe's `wrap_dirnode_cap`). */
export function wrapFileCap(file: MutableFileCap | ChkCap | ChkVerifierCap | LitCap): DirectoryCap {
  if ('access' in file) return { kind: 'mutable-directory', file };
  return { kind: 'immutable-directory', file };
}

/** Any cap, sorted by what it names (the common parser's result with the typed views). */
export type AnyCap =
  | { readonly kind: 'immutable-file'; readonly cap: ChkCap | ChkVerifierCap | LitCap }
  | { readonly kind: 'mutable-file'; readonly cap: MutableFileCap }
  | { readonly kind: 'directory'; readonly cap: DirectoryCap }
  | { readonly kind: 'unknown'; readonly text: string };

/**
 * Parse any cap string: what a gateway needs to dispatch `/uri/<cap>`. Known types with a
 * malformed body are `CapInvalid`; other strings come back as `unknown`, unchanged.
 */
export function parseAnyCap(text: string): AnyCap {
  const trimmed = typeof text === 'string' ? text.trim() : text;
  const cap = parseCap(trimmed);
  switch (cap.type) {
    case 'CHK': case 'CHK-Verifier': case 'LIT':
      return { kind: 'immutable-file', cap };
    case 'SSK': case 'SSK-RO': case 'SSK-Verifier': case 'MDMF': case 'MDMF-RO': case 'MDMF-Verifier':
      return { kind: 'mutable-file', cap: mutableCapFromParsed(cap) };
    case 'unknown':
      return { kind: 'unknown', text: cap.text };
    default:
      return { kind: 'directory', cap: parseDirectoryCap(trimmed) };
  }
}
