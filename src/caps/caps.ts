/**
 * Capability strings (spec: shared/specs/tahoe-formats.md §3.1, §3.8, §4, §5; upstream
 * `docs/specifications/uri.rst`, `src/allmydata/uri.py`).
 *
 * Immutable-file caps (CHK, CHK-Verifier, LIT) are parsed into typed values that the rest
 * of tahoe-ts works with. Mutable-file and directory caps (SSK, MDMF, DIR2 and their
 * read-only / verifier / immutable variants) are recognised and their fields checked, so
 * a typo still gets a precise `CapInvalid`; their typed views and derivations live in
 * src/mutable/caps.ts and src/dirnode/caps.ts (`parseAnyCap` there sorts any cap into
 * file, mutable file or directory). Any other string is kept as an opaque `unknown` cap,
 * byte for byte, because directories must carry caps from newer Tahoe versions unchanged.
 */
import { TahoeError } from '../errors.js';
import { base32Decode, base32Encode, isBase32 } from '../crypto/base32.js';
import { storageIndexHash } from '../crypto/derive.js';

export const KEY_LENGTH = 16;
export const HASH_LENGTH = 32;
export const STORAGE_INDEX_LENGTH = 16;

export interface ChkCap {
  readonly type: 'CHK';
  /** AES-128 key (16 bytes). */
  readonly key: Buffer;
  /** Hash of the URI extension block (32 bytes). */
  readonly uebHash: Buffer;
  /** Shares needed (k). */
  readonly needed: number;
  /** Shares total (N). */
  readonly total: number;
  readonly size: number;
}

export interface ChkVerifierCap {
  readonly type: 'CHK-Verifier';
  readonly storageIndex: Buffer;
  readonly uebHash: Buffer;
  readonly needed: number;
  readonly total: number;
  readonly size: number;
}

export interface LitCap {
  readonly type: 'LIT';
  readonly data: Buffer;
}

/** Mutable-file caps, fields checked (typed views and derivations: src/mutable/caps.ts). `extra` holds MDMF's trailing fields. */
export interface MutableCap {
  readonly type: 'SSK' | 'SSK-RO' | 'SSK-Verifier' | 'MDMF' | 'MDMF-RO' | 'MDMF-Verifier';
  /** writekey, readkey or storage index (16 bytes), depending on the type. */
  readonly key: Buffer;
  /** Public-key fingerprint (32 bytes). */
  readonly fingerprint: Buffer;
  readonly extra: readonly string[];
}

export type DirectoryCapType =
  | 'DIR2' | 'DIR2-RO' | 'DIR2-Verifier'
  | 'DIR2-MDMF' | 'DIR2-MDMF-RO' | 'DIR2-MDMF-Verifier'
  | 'DIR2-CHK' | 'DIR2-CHK-Verifier' | 'DIR2-LIT';

/** A directory cap wraps the cap of the file that holds the directory. */
export interface DirectoryCap {
  readonly type: DirectoryCapType;
  readonly file: ChkCap | ChkVerifierCap | LitCap | MutableCap;
}

/** Anything else: carried unchanged (e.g. caps of a newer Tahoe, `ro.`/`imm.` prefixed ones). */
export interface UnknownCap {
  readonly type: 'unknown';
  readonly text: string;
}

export type Cap = ChkCap | ChkVerifierCap | LitCap | MutableCap | DirectoryCap | UnknownCap;
export type ImmutableFileCap = ChkCap | ChkVerifierCap | LitCap;

const MUTABLE_TYPES: ReadonlySet<string> = new Set(['SSK', 'SSK-RO', 'SSK-Verifier', 'MDMF', 'MDMF-RO', 'MDMF-Verifier']);
const MDMF_TYPES: ReadonlySet<string> = new Set(['MDMF', 'MDMF-RO', 'MDMF-Verifier']);

/** Directory type → the file-cap type inside it. */
const DIRECTORY_INNER: Readonly<Record<DirectoryCapType, string>> = {
  DIR2: 'SSK',
  'DIR2-RO': 'SSK-RO',
  'DIR2-Verifier': 'SSK-Verifier',
  'DIR2-MDMF': 'MDMF',
  'DIR2-MDMF-RO': 'MDMF-RO',
  'DIR2-MDMF-Verifier': 'MDMF-Verifier',
  'DIR2-CHK': 'CHK',
  'DIR2-CHK-Verifier': 'CHK-Verifier',
  'DIR2-LIT': 'LIT',
};
const INNER_TO_DIRECTORY = new Map<string, DirectoryCapType>(
  Object.entries(DIRECTORY_INNER).map(([dir, inner]) => [inner, dir as DirectoryCapType]),
);

const KNOWN_TYPES: ReadonlySet<string> = new Set(['CHK', 'CHK-Verifier', 'LIT', ...MUTABLE_TYPES, ...Object.keys(DIRECTORY_INNER)]);

const SHAPES: Readonly<Record<string, string>> = {
  CHK: 'URI:CHK:<key, 26 base32>:<UEB hash, 52 base32>:<k>:<N>:<size>',
  'CHK-Verifier': 'URI:CHK-Verifier:<storage index, 26 base32>:<UEB hash, 52 base32>:<k>:<N>:<size>',
  LIT: 'URI:LIT:<base32 data>',
  SSK: 'URI:SSK:<writekey, 26 base32>:<fingerprint, 52 base32>',
  MDMF: 'URI:MDMF:<writekey, 26 base32>:<fingerprint, 52 base32>[:…]',
};

function invalid(type: string, why: string, text: string): TahoeError {
  const base = type.replace(/^DIR2-?/, '').replace(/-(RO|Verifier)$/, '') || 'SSK';
  const shape = SHAPES[type] ?? SHAPES[base] ?? SHAPES.SSK;
  return new TahoeError('CapInvalid', `invalid URI:${type}: cap: ${why}`, {
    hint: `expected ${shape}; check that the whole cap was copied (no line breaks, no missing characters)`,
    details: { capType: type, reason: why, length: text.length },
  });
}

function decodeField(s: string | undefined, bytes: number, type: string, what: string, text: string): Buffer {
  const chars = Math.ceil((bytes * 8) / 5);
  if (s === undefined || s.length !== chars || !isBase32(s)) {
    throw invalid(type, `${what} must be ${chars} lowercase base32 characters`, text);
  }
  return base32Decode(s);
}

function decodeNumber(s: string | undefined, type: string, what: string, text: string): number {
  if (s === undefined || !/^[0-9]{1,16}$/.test(s)) throw invalid(type, `${what} must be a decimal number`, text);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw invalid(type, `${what} is too large`, text);
  return n;
}

function parseChkFields(type: 'CHK' | 'CHK-Verifier', fields: string[], text: string, label: string): ChkCap | ChkVerifierCap {
  if (fields.length !== 5) throw invalid(label, `expected 5 fields after URI:${label}:, found ${fields.length}`, text);
  const first = decodeField(fields[0], 16, label, type === 'CHK' ? 'the key' : 'the storage index', text);
  const uebHash = decodeField(fields[1], HASH_LENGTH, label, 'the UEB hash', text);
  const needed = decodeNumber(fields[2], label, 'k (shares needed)', text);
  const total = decodeNumber(fields[3], label, 'N (shares total)', text);
  const size = decodeNumber(fields[4], label, 'the size', text);
  if (needed < 1 || total < needed || total > 256) throw invalid(label, `k=${needed}, N=${total} is impossible (need 1 ≤ k ≤ N ≤ 256)`, text);
  return type === 'CHK'
    ? { type, key: first, uebHash, needed, total, size }
    : { type, storageIndex: first, uebHash, needed, total, size };
}

function parseMutableFields(type: MutableCap['type'], fields: string[], text: string, label: string): MutableCap {
  const mdmf = MDMF_TYPES.has(type);
  if (mdmf ? fields.length < 2 : fields.length !== 2) {
    throw invalid(label, `expected ${mdmf ? 'at least ' : ''}2 fields after URI:${label}:, found ${fields.length}`, text);
  }
  const what = type.endsWith('Verifier') ? 'the storage index' : type.endsWith('RO') ? 'the readkey' : 'the writekey';
  const key = decodeField(fields[0], 16, label, what, text);
  const fingerprint = decodeField(fields[1], HASH_LENGTH, label, 'the fingerprint', text);
  return { type, key, fingerprint, extra: fields.slice(2) };
}

function parseFileCap(type: string, rest: string, text: string, label = type): ChkCap | ChkVerifierCap | LitCap | MutableCap {
  if (type === 'LIT') {
    if (!isBase32(rest)) throw invalid(label, 'the data must be lowercase base32', text);
    return { type: 'LIT', data: base32Decode(rest) };
  }
  const fields = rest.split(':');
  if (type === 'CHK' || type === 'CHK-Verifier') return parseChkFields(type, fields, text, label);
  return parseMutableFields(type as MutableCap['type'], fields, text, label);
}

/**
 * Parse any cap string. Known types with a malformed body throw `CapInvalid`; strings
 * that are not known cap types come back as `{ type: 'unknown', text }`.
 */
export function parseCap(text: string): Cap {
  if (typeof text !== 'string') throw new TahoeError('CapInvalid', 'a cap must be a string');
  const m = /^URI:([A-Za-z0-9-]+):(.*)$/s.exec(text);
  if (m === null || !KNOWN_TYPES.has(m[1])) return { type: 'unknown', text };
  const [, type, rest] = m;
  if (type in DIRECTORY_INNER) {
    const dirType = type as DirectoryCapType;
    return { type: dirType, file: parseFileCap(DIRECTORY_INNER[dirType], rest, text, dirType) };
  }
  return parseFileCap(type, rest, text);
}

/** The canonical string of a cap (unknown caps: exactly the text they were parsed from). */
export function formatCap(cap: Cap): string {
  switch (cap.type) {
    case 'unknown':
      return cap.text;
    case 'CHK':
      return `URI:CHK:${base32Encode(cap.key)}:${base32Encode(cap.uebHash)}:${cap.needed}:${cap.total}:${cap.size}`;
    case 'CHK-Verifier':
      return `URI:CHK-Verifier:${base32Encode(cap.storageIndex)}:${base32Encode(cap.uebHash)}:${cap.needed}:${cap.total}:${cap.size}`;
    case 'LIT':
      return `URI:LIT:${base32Encode(cap.data)}`;
    case 'SSK':
    case 'SSK-RO':
    case 'SSK-Verifier':
    case 'MDMF':
    case 'MDMF-RO':
    case 'MDMF-Verifier':
      return [`URI:${cap.type}`, base32Encode(cap.key), base32Encode(cap.fingerprint), ...cap.extra].join(':');
    default: {
      const inner = formatCap(cap.file);
      const dirType = INNER_TO_DIRECTORY.get(cap.file.type);
      if (dirType !== cap.type) throw new TahoeError('Internal', `directory cap ${cap.type} wraps a ${cap.file.type} cap`);
      return `URI:${cap.type}:${inner.slice(inner.indexOf(':', 4) + 1)}`;
    }
  }
}

const NOT_YET: Readonly<Record<string, string>> = {
  mutable: 'is a mutable-file cap: not supported where an immutable file is expected',
  directory: 'is a directory cap: not supported where an immutable file is expected',
  unknown: 'this is not a cap type tahoe-ts knows',
};

/** Parse a cap that must name an immutable file (CHK, CHK-Verifier or LIT). */
export function parseImmutableFileCap(text: string): ImmutableFileCap {
  const cap = parseCap(text.trim());
  switch (cap.type) {
    case 'CHK':
    case 'CHK-Verifier':
    case 'LIT':
      return cap;
    case 'unknown':
      throw new TahoeError('CapInvalid', NOT_YET.unknown, {
        hint: 'immutable-file caps look like URI:CHK:…, URI:CHK-Verifier:… or URI:LIT:…; check that the whole cap was copied',
        details: { capType: 'unknown' },
      });
    default: {
      const mutable = MUTABLE_TYPES.has(cap.type);
      throw new TahoeError('CapInvalid', `URI:${cap.type}: ${mutable ? NOT_YET.mutable : NOT_YET.directory}`, {
        hint: mutable
          ? 'read it as a mutable file (the mutable-file operations take URI:SSK: and URI:MDMF: caps)'
          : 'list it as a directory (the directory operations take URI:DIR2… caps)',
        details: { capType: cap.type, supported: false },
      });
    }
  }
}

/** Parse a cap that must be a CHK read cap (what a download needs). */
export function parseChkCap(text: string): ChkCap {
  const cap = parseImmutableFileCap(text);
  if (cap.type !== 'CHK') {
    throw new TahoeError('CapInvalid', `expected a URI:CHK: read cap, got ${cap.type === 'LIT' ? 'a LIT cap' : 'a verify cap'} (URI:${cap.type}:)`, {
      hint: cap.type === 'CHK-Verifier' ? 'a verify cap can check shares but cannot decrypt them; use the read cap (URI:CHK:)' : 'LIT caps hold their data inline and need no shares',
      details: { capType: cap.type },
    });
  }
  return cap;
}

/** True for caps whose target can never change. */
export function isImmutableCap(cap: Cap): boolean {
  return cap.type === 'CHK' || cap.type === 'CHK-Verifier' || cap.type === 'LIT' || cap.type === 'DIR2-CHK' || cap.type === 'DIR2-CHK-Verifier' || cap.type === 'DIR2-LIT';
}

/** The CHK verify cap for a CHK read cap (its storage index is derived from the key). */
export function chkVerifierOf(cap: ChkCap): ChkVerifierCap {
  return { type: 'CHK-Verifier', storageIndex: storageIndexHash(cap.key), uebHash: cap.uebHash, needed: cap.needed, total: cap.total, size: cap.size };
}

/** The storage index a CHK read or verify cap refers to. */
export function chkStorageIndex(cap: ChkCap | ChkVerifierCap): Buffer {
  return cap.type === 'CHK' ? storageIndexHash(cap.key) : cap.storageIndex;
}
