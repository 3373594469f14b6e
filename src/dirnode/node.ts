/**
 * Directories on top of their files (spec: shared/specs/tahoe-formats.md §5; upstream
 * `docs/specifications/dirnodes.rst`, `src/allmydata/dirnode.py`, `nodemaker.py`): which
 * key packs a directory's children, how a directory's plaintext is read under each kind of
 * cap, and new mutable/immutable directories. Pure: the grid stores and fetches the bytes.
 */
import { TahoeError } from '../errors.js';
import { createMutable, type CreateMutableOptions, type CreatedMutable } from '../mutable/filenode.js';
import { generateSigningKey, keyMaterialOf } from '../mutable/keys.js';
import { canReadDirectory, formatDirectoryCap, wrapFileCap, type DirectoryCap } from './caps.js';
import { literalDirectoryCap, packDirectory, packImmutableDirectory, unpackDirectory, type DirectoryChild, type UnpackedDirectory } from './directory.js';

/** The writekey that encrypts child write caps, when the cap can write. */
export function directoryWritekey(cap: DirectoryCap): Buffer | undefined {
  return cap.kind === 'mutable-directory' && cap.file.access === 'write' ? cap.file.writekey : undefined;
}

/** Read a directory's plaintext with the powers of `cap` (write caps see child write caps). */
export function readDirectory(cap: DirectoryCap, plaintext: Uint8Array): UnpackedDirectory {
  if (!canReadDirectory(cap)) {
    throw new TahoeError('CapInvalid', 'a verify cap cannot list a directory', { hint: 'use the directory\'s read cap (URI:DIR2-RO:…) or write cap' });
  }
  return unpackDirectory(plaintext, { writekey: directoryWritekey(cap), mutable: cap.kind === 'mutable-directory' });
}

/** The new plaintext of a writable directory holding `children`. */
export function packForDirectory(cap: DirectoryCap, children: Iterable<DirectoryChild>): Buffer {
  const writekey = directoryWritekey(cap);
  if (writekey === undefined) {
    throw new TahoeError('CapInvalid', `${cap.kind === 'immutable-directory' ? 'an immutable' : 'a read-only'} directory cannot be changed`, {
      hint: 'use the directory\'s write cap (URI:DIR2:… or URI:DIR2-MDMF:…)',
    });
  }
  return packDirectory(children, { writekey });
}

export interface CreatedMutableDirectory extends CreatedMutable {
  readonly directoryCap: string;
}

/** A new mutable directory (SDMF by default, like Tahoe) holding `children`. */
export async function createMutableDirectory(children: Iterable<DirectoryChild>, options: CreateMutableOptions = {}): Promise<CreatedMutableDirectory> {
  // The writekey comes from the key pair, so the key is made first and the contents
  // packed with it; createMutable then encodes exactly those bytes.
  const key = options.key ?? await generateSigningKey();
  const plaintext = packDirectory(children, { writekey: keyMaterialOf(key).writekey });
  const created = await createMutable(plaintext, { ...options, key });
  return { ...created, directoryCap: formatDirectoryCap(wrapFileCap(created.cap)) };
}

/**
 * Contents of a new immutable directory. Small ones are literal (`cap` is set); larger
 * ones must be uploaded as a CHK file with convergence, and their cap is the CHK cap
 * with `URI:DIR2-CHK:` in front of its fields.
 */
export function immutableDirectoryContents(children: Iterable<DirectoryChild>): { packed: Buffer; cap?: string } {
  const packed = packImmutableDirectory(children);
  const cap = literalDirectoryCap(packed);
  return cap === undefined ? { packed } : { packed, cap };
}
