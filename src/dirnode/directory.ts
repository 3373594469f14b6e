/**
 * Directory contents: packing, unpacking, child-cap encryption, child-cap rules (spec:
 * shared/specs/tahoe-formats.md §1.5 and §5; upstream `docs/specifications/dirnodes.rst`,
 * `src/allmydata/dirnode.py`, `unknown.py`, `nodemaker.py`, `uri.py`).
 *
 * The plaintext of a directory is, for each child in code-point order of its NFC name:
 *
 *   netstring( netstring(name UTF-8) ‖ netstring(ro_uri) ‖ netstring(rwcapdata) ‖ netstring(json.dumps(metadata)) )
 *
 * In a writable directory every child gets rwcapdata (also when it has no write cap):
 *   salt = tagged_hash(DIRNODE_CHILD_SALT, rw_uri, 16)
 *   key  = tagged_pair_hash(DIRNODE_CHILD_WRITECAP, salt, directory writekey, 16)
 *   rwcapdata = salt ‖ AES-128-CTR(key, rw_uri) ‖ tahoe_hmac(key, salt ‖ ciphertext)
 * Read-only views and immutable directories (DIR2-CHK, DIR2-LIT) store an empty string.
 *
 * Caps this version does not know are kept as "unknown" children. Their read caps carry
 * Tahoe's alleged-strength prefixes: `ro.` (alleged read-only) in mutable directories,
 * `imm.` (alleged immutable) in immutable ones; `ro.` is dropped when stored. Immutable
 * directories accept only children that cannot change.
 */
import { TahoeError } from '../errors.js';
import { netstring, splitNetstrings } from '../crypto/netstring.js';
import { aesCtr } from '../crypto/aes.js';
import { tahoeHmac } from '../crypto/hmac.js';
import { dirnodeChildCapKey, dirnodeChildSalt, sskReadkey } from '../crypto/derive.js';
import { base32Encode } from '../crypto/base32.js';
import { parseCap, type Cap } from '../caps/caps.js';
import { PyFloat, pyJsonDumps, pyJsonLoads, type PyJsonObject, type PyJsonValue } from './pyjson.js';

export const ALLEGED_READONLY_PREFIX = 'ro.';
export const ALLEGED_IMMUTABLE_PREFIX = 'imm.';
/** Directories whose packed contents fit are stored inline as URI:DIR2-LIT: (like LIT files). */
export const LITERAL_DIRECTORY_MAX = 55;

export type ChildKind = 'file' | 'directory' | 'unknown';

export interface DirectoryChild {
  /** NFC-normalised name. */
  readonly name: string;
  readonly kind: ChildKind;
  /** Whether the child can change (undefined for unknown caps). */
  readonly mutable: boolean | undefined;
  /** Write cap (absent for read-only children and in read-only views). */
  readonly writeCap?: string;
  /** Read cap; for unknown caps with the `ro.`/`imm.` prefix Tahoe adds. */
  readonly readCap?: string;
  readonly metadata: PyJsonObject;
  /**
   * The entry bytes this child was unpacked from, re-used verbatim by `packDirectory`
   * (as Tahoe does) when packing for the same writekey. Build a new child to change it.
   */
  readonly packed?: { readonly entry: Buffer; readonly writekey: Buffer | undefined };
}

/** NFC, as Tahoe normalises names going into and out of directories. */
export function normalizeName(name: string): string {
  return name.normalize('NFC');
}

/** Compare by Unicode code point (Python's str order), not UTF-16 code unit. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const d = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number);
    if (d !== 0) return d;
  }
}

/** rwcapdata for a child of a writable directory. */
export function encryptChildWriteCap(writekey: Uint8Array, rwUri: Uint8Array): Buffer {
  const salt = dirnodeChildSalt(rwUri);
  const key = dirnodeChildCapKey(salt, writekey);
  const ciphertext = aesCtr(key, rwUri);
  return Buffer.concat([salt, ciphertext, tahoeHmac(key, Buffer.concat([salt, ciphertext]))]);
}

/** Inverse of `encryptChildWriteCap` (the MAC is not checked, as in Tahoe ≥ 1.3). */
export function decryptChildWriteCap(writekey: Uint8Array, rwcapdata: Uint8Array): Buffer {
  const data = Buffer.from(rwcapdata.buffer, rwcapdata.byteOffset, rwcapdata.byteLength);
  const salt = data.subarray(0, 16);
  // Python slicing [16:-32]: empty when the data is too short to hold salt and MAC.
  const ciphertext = data.length >= 48 ? data.subarray(16, data.length - 32) : Buffer.alloc(0);
  return aesCtr(dirnodeChildCapKey(salt, writekey), ciphertext);
}

interface Classified {
  readonly kind: ChildKind;
  readonly mutable: boolean | undefined;
  readonly writeCap?: string;
  readonly readCap?: string;
}

function constraintError(message: string, name: string): TahoeError {
  return new TahoeError('CapInvalid', `child "${name}": ${message}`, {
    hint: 'immutable directories take only immutable children (URI:CHK:, URI:LIT:, URI:DIR2-CHK:, URI:DIR2-LIT:); read-only places take no write caps',
    details: { name },
  });
}

function isKnown(cap: Cap): boolean {
  return cap.type !== 'unknown';
}

/** The read-only form of a known cap that Tahoe makes a node for, or undefined. */
function knownChild(cap: Cap, text: string): Classified | undefined {
  switch (cap.type) {
    case 'CHK': case 'LIT': case 'CHK-Verifier':
      return { kind: 'file', mutable: false, readCap: text };
    case 'SSK': case 'MDMF':
      return { kind: 'file', mutable: true, writeCap: text, readCap: readCapText(cap.type === 'SSK' ? 'SSK-RO' : 'MDMF-RO', cap) };
    case 'SSK-RO': case 'MDMF-RO':
      return { kind: 'file', mutable: true, readCap: text };
    case 'DIR2': case 'DIR2-MDMF':
      return { kind: 'directory', mutable: true, writeCap: text, readCap: readCapText(cap.type === 'DIR2' ? 'DIR2-RO' : 'DIR2-MDMF-RO', cap.file) };
    case 'DIR2-RO': case 'DIR2-MDMF-RO':
      return { kind: 'directory', mutable: true, readCap: text };
    case 'DIR2-CHK': case 'DIR2-LIT':
      return { kind: 'directory', mutable: false, readCap: text };
    default:
      // Verifier caps other than CHK-Verifier get no node in Tahoe: they stay unknown.
      return undefined;
  }
}

function readCapText(type: string, cap: Cap): string {
  if (!('fingerprint' in cap)) throw new TahoeError('Internal', 'read cap of a non-mutable cap');
  // readkey = H(writekey); the common parser holds the writekey in `key`.
  const readkey = sskReadkey(cap.key);
  const extra = cap.extra.length > 0 ? `:${cap.extra.join(':')}` : '';
  return `URI:${type}:${base32Encode(readkey)}:${base32Encode(cap.fingerprint)}${type.includes('MDMF') ? extra : ''}`;
}


/**
 * Tahoe's `from_string` with alleged-strength prefixes: returns the parsed cap when the
 * prefix (and `deepImmutable`) allow it, or an error message when a known cap breaks the
 * constraint, or undefined for caps Tahoe does not know.
 */
function capFromString(text: string, deepImmutable: boolean): { cap?: Cap; error?: string; bare: string } {
  let bare = text;
  let canBeMutable = !deepImmutable;
  let canBeWriteable = !deepImmutable;
  if (bare.startsWith(ALLEGED_IMMUTABLE_PREFIX)) {
    canBeMutable = canBeWriteable = false;
    bare = bare.slice(ALLEGED_IMMUTABLE_PREFIX.length);
  } else if (bare.startsWith(ALLEGED_READONLY_PREFIX)) {
    canBeWriteable = false;
    bare = bare.slice(ALLEGED_READONLY_PREFIX.length);
  }
  let cap: Cap;
  try {
    cap = parseCap(bare);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), bare };
  }
  if (!isKnown(cap)) return { bare };
  const writeable = cap.type === 'SSK' || cap.type === 'MDMF' || cap.type === 'DIR2' || cap.type === 'DIR2-MDMF';
  const mutableRead = cap.type === 'SSK-RO' || cap.type === 'MDMF-RO' || cap.type === 'DIR2-RO' || cap.type === 'DIR2-MDMF-RO';
  if (writeable && !canBeWriteable) return { error: `URI:${cap.type} write cap used in ${canBeMutable ? 'a read-only' : 'an immutable'} context`, bare };
  if (mutableRead && !canBeMutable) return { error: `URI:${cap.type} read cap to a mutable object used in an immutable context`, bare };
  return { cap, bare };
}

/**
 * Classify a child given as (write cap, read cap), as Tahoe's nodemaker and UnknownNode
 * do. Throws `CapInvalid` for a cap that breaks the context's constraints (e.g. a write
 * cap in an immutable directory, an unprefixed unknown cap without a read cap).
 */
export function classifyChild(writeCapIn: string | undefined, readCapIn: string | undefined, deepImmutable: boolean, name = '<unknown name>'): Classified {
  const rw = writeCapIn === undefined || writeCapIn === '' ? undefined : writeCapIn;
  let ro = readCapIn === undefined || readCapIn === '' ? undefined : readCapIn;
  const big = rw ?? ro;
  if (big === undefined) return { kind: 'unknown', mutable: undefined };
  const parsed = capFromString(big, deepImmutable);
  if (parsed.cap !== undefined) {
    const known = knownChild(parsed.cap, parsed.bare);
    if (known !== undefined) {
      if (deepImmutable && known.mutable === true) throw constraintError('a mutable child cannot be put in an immutable directory', name);
      return known;
    }
  }
  // Unknown, malformed, constrained, or a verifier Tahoe makes no node for: UnknownNode's
  // rules decide (a bad write cap may still travel beside a good read cap).
  let unknownRw = rw;
  if (unknownRw !== undefined) {
    if (deepImmutable) {
      if (!(unknownRw.startsWith(ALLEGED_IMMUTABLE_PREFIX) && ro === undefined)) {
        throw constraintError('cannot attach an unknown write cap as an immutable child', name);
      }
    }
    if (ro === undefined) {
      if (!(unknownRw.startsWith(ALLEGED_READONLY_PREFIX) || unknownRw.startsWith(ALLEGED_IMMUTABLE_PREFIX))) {
        throw constraintError('cannot attach an unknown cap without a read cap: it might be a write cap', name);
      }
      ro = unknownRw;
      unknownRw = undefined;
    } else if (ro.startsWith(ALLEGED_IMMUTABLE_PREFIX)) {
      throw constraintError('an entry with a write cap cannot have a read cap alleged immutable', name);
    }
  }
  if (ro !== undefined) {
    const check = capFromString(ro, deepImmutable);
    if (check.error !== undefined) throw constraintError(check.error, name);
  }
  if (deepImmutable) {
    if (ro === undefined) return { kind: 'unknown', mutable: undefined };
    const readCap = ro.startsWith(ALLEGED_IMMUTABLE_PREFIX) ? ro
      : ro.startsWith(ALLEGED_READONLY_PREFIX) ? ALLEGED_IMMUTABLE_PREFIX + ro.slice(ALLEGED_READONLY_PREFIX.length)
        : ALLEGED_IMMUTABLE_PREFIX + ro;
    return { kind: 'unknown', mutable: undefined, readCap };
  }
  const readCap = ro === undefined ? undefined
    : ro.startsWith(ALLEGED_READONLY_PREFIX) || ro.startsWith(ALLEGED_IMMUTABLE_PREFIX) ? ro : ALLEGED_READONLY_PREFIX + ro;
  return { kind: 'unknown', mutable: undefined, ...(unknownRw !== undefined ? { writeCap: unknownRw } : {}), ...(readCap !== undefined ? { readCap } : {}) };
}

export interface ChildInput {
  readonly writeCap?: string;
  readonly readCap?: string;
  readonly metadata?: PyJsonObject;
}

/** A new child entry (name normalised, caps classified). Throws `CapInvalid`/`BadInput`. */
export function makeChild(name: string, input: ChildInput, options: { deepImmutable?: boolean } = {}): DirectoryChild {
  if (typeof name !== 'string' || name.length === 0) throw new TahoeError('BadInput', 'a child name must be a non-empty string', { hint: 'give the child a name' });
  if (name.includes('/')) throw new TahoeError('BadInput', `child name "${name}" contains "/"`, { hint: 'names are single path components; create the parent directories first' });
  const normalized = normalizeName(name);
  const classified = classifyChild(input.writeCap, input.readCap, options.deepImmutable ?? false, normalized);
  return { name: normalized, ...classified, metadata: input.metadata ?? new Map() };
}

/** Drop the write cap, as a read-only view of the child (Tahoe's `_create_readonly_node`). */
export function readOnlyChild(child: DirectoryChild): DirectoryChild {
  if (child.writeCap === undefined) return child;
  const { writeCap: _dropped, packed: _packed, ...rest } = child;
  return rest;
}

/** What `packDirectory` stores in the ro_uri slot (Tahoe's `strip_prefix_for_ro`). */
export function storedReadCap(readCap: string | undefined, deepImmutable: boolean): string {
  const ro = readCap ?? '';
  if (ro.startsWith(ALLEGED_IMMUTABLE_PREFIX)) return deepImmutable ? ro.slice(ALLEGED_IMMUTABLE_PREFIX.length) : ro;
  if (ro.startsWith(ALLEGED_READONLY_PREFIX)) return ro.slice(ALLEGED_READONLY_PREFIX.length);
  return ro;
}

export interface PackOptions {
  /** The directory's writekey: child write caps are encrypted with it. Absent: read-only/immutable packing. */
  readonly writekey?: Uint8Array;
  /** Immutable directory (DIR2-CHK/DIR2-LIT): every child must be immutable. */
  readonly deepImmutable?: boolean;
}

function sameKey(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** Pack children into directory plaintext (byte-compatible with Tahoe 1.20). */
export function packDirectory(children: Iterable<DirectoryChild>, options: PackOptions = {}): Buffer {
  const deepImmutable = options.deepImmutable ?? false;
  if (deepImmutable && options.writekey !== undefined) throw new TahoeError('Internal', 'immutable directories have no writekey');
  const byName = new Map<string, DirectoryChild>();
  for (const child of children) {
    const name = normalizeName(child.name);
    if (byName.has(name)) throw new TahoeError('BadInput', `two children are named "${name}"`, { hint: 'names are unique within a directory (after NFC normalisation)' });
    byName.set(name, child);
  }
  const names = [...byName.keys()].sort(compareCodePoints);
  const entries: Buffer[] = [];
  for (const name of names) {
    const child = byName.get(name) as DirectoryChild;
    if (deepImmutable && (child.writeCap !== undefined || child.mutable === true)) {
      throw constraintError('is not allowed in an immutable directory', name);
    }
    if (child.packed !== undefined && child.name === name && sameKey(child.packed.writekey, options.writekey)) {
      entries.push(netstring(child.packed.entry));
      continue;
    }
    const rwcap = options.writekey === undefined ? Buffer.alloc(0) : encryptChildWriteCap(options.writekey, Buffer.from(child.writeCap ?? '', 'utf8'));
    const entry = Buffer.concat([
      netstring(Buffer.from(name, 'utf8')),
      netstring(Buffer.from(storedReadCap(child.readCap, deepImmutable), 'utf8')),
      netstring(rwcap),
      netstring(Buffer.from(pyJsonDumps(child.metadata), 'utf8')),
    ]);
    entries.push(netstring(entry));
  }
  return Buffer.concat(entries);
}

export interface UnpackOptions {
  /** Writable directory: decrypt child write caps with this writekey. */
  readonly writekey?: Uint8Array;
  /** False for DIR2-CHK / DIR2-LIT: stored write-cap data is then an error. Default true. */
  readonly mutable?: boolean;
}

export interface SkippedChild {
  readonly name: string;
  readonly reason: string;
}

export interface UnpackedDirectory {
  readonly children: DirectoryChild[];
  /** Entries Tahoe would also drop (caps breaking the directory's constraints). */
  readonly skipped: SkippedChild[];
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function integrity(message: string, cause?: unknown): TahoeError {
  return new TahoeError('IntegrityError', `directory contents: ${message}`, {
    hint: 'the directory was damaged or written by incompatible software; its older versions may still be readable',
    cause,
  });
}

/**
 * Unpack directory plaintext. Malformed framing, names that are not UTF-8, metadata that
 * is not a JSON object, or write-cap data in an immutable directory make the whole
 * directory unreadable (`IntegrityError`), as in Tahoe; children whose caps break the
 * directory's constraints are skipped and reported.
 */
export function unpackDirectory(data: Uint8Array, options: UnpackOptions = {}): UnpackedDirectory {
  const mutable = options.mutable ?? true;
  const writekey = options.writekey === undefined ? undefined : Buffer.from(options.writekey);
  const children: DirectoryChild[] = [];
  const skipped: SkippedChild[] = [];
  const byName = new Map<string, number>();
  if (data.length === 0) return { children, skipped };
  let entries: Buffer[];
  try {
    entries = splitNetstrings(data).items;
  } catch (e) {
    throw integrity('bad framing', e);
  }
  for (const entry of entries) {
    let fields: Buffer[];
    try {
      fields = splitNetstrings(entry, 4, true).items;
    } catch (e) {
      throw integrity('bad entry framing', e);
    }
    const [nameBytes, roBytes, rwcapdata, metadataBytes] = fields;
    if (!mutable && rwcapdata.length > 0) throw integrity('an immutable directory holds encrypted write-cap data');
    let name: string;
    try {
      name = normalizeName(UTF8.decode(nameBytes));
    } catch (e) {
      throw integrity('a child name is not valid UTF-8', e);
    }
    // Caps are ASCII; one that is not even UTF-8 cannot be used, so that child is
    // skipped rather than making the whole directory unreadable.
    let ro: string;
    let rw = '';
    try {
      ro = UTF8.decode(roBytes);
      if (writekey !== undefined) rw = UTF8.decode(decryptChildWriteCap(writekey, rwcapdata));
    } catch {
      skipped.push({ name, reason: 'a cap of this child is not valid UTF-8 (damaged, or encrypted with another writekey)' });
      continue;
    }
    // Tahoe ≥ 1.6 strips trailing spaces (room for padding the length of caps).
    rw = rw.replace(/ +$/, '');
    ro = ro.replace(/ +$/, '');
    let classified: Classified;
    try {
      classified = classifyChild(rw || undefined, ro || undefined, !mutable, name);
    } catch (e) {
      if (e instanceof TahoeError && e.kind === 'CapInvalid') {
        skipped.push({ name, reason: e.message });
        continue;
      }
      throw e;
    }
    if (!mutable && classified.mutable === true) {
      skipped.push({ name, reason: 'mutable child in an immutable directory' });
      continue;
    }
    const metadata = pyJsonLoads(metadataBytes, 'IntegrityError');
    if (!(metadata instanceof Map)) throw integrity(`metadata of "${name}" is not a JSON object`);
    const child: DirectoryChild = { name, ...classified, metadata, packed: { entry, writekey } };
    const previous = byName.get(name);
    if (previous === undefined) {
      byName.set(name, children.length);
      children.push(child);
    } else {
      children[previous] = child; // a Python dict keeps the last value
    }
  }
  return { children, skipped };
}

/**
 * Tahoe's `update_metadata`: replace user metadata (keeping `tahoe`), then set
 * `tahoe.linkcrtime` (once) and `tahoe.linkmotime` (always) to `now` (seconds).
 */
export function updateMetadata(old: PyJsonObject | undefined, replacement: PyJsonObject | undefined, now: number): PyJsonObject {
  let metadata: PyJsonObject = new Map(old ?? []);
  const oldCtime = metadata.get('ctime');
  if (replacement !== undefined) {
    const next: PyJsonObject = new Map(replacement);
    next.delete('tahoe');
    const tahoe = metadata.get('tahoe');
    if (tahoe !== undefined) next.set('tahoe', tahoe);
    metadata = next;
  }
  const existing = metadata.get('tahoe');
  const sys: PyJsonObject = existing instanceof Map ? new Map(existing) : new Map();
  if (!sys.has('linkcrtime')) sys.set('linkcrtime', oldCtime !== undefined ? oldCtime : new PyFloat(now));
  sys.set('linkmotime', new PyFloat(now));
  metadata.set('tahoe', sys);
  return metadata;
}

/** Convenience: metadata for a freshly linked child. */
export function newLinkMetadata(now = Date.now() / 1000, user?: PyJsonObject): PyJsonObject {
  return updateMetadata(undefined, user, now);
}

/** Pack an immutable directory (every child immutable, no write-cap data). */
export function packImmutableDirectory(children: Iterable<DirectoryChild>): Buffer {
  return packDirectory(children, { deepImmutable: true });
}

/** The URI:DIR2-LIT: cap of packed immutable-directory contents, if small enough to be literal. */
export function literalDirectoryCap(packed: Uint8Array): string | undefined {
  return packed.length <= LITERAL_DIRECTORY_MAX ? `URI:DIR2-LIT:${base32Encode(packed)}` : undefined;
}

export type { PyJsonObject, PyJsonValue };
