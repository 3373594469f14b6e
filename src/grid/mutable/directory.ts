/**
 * Directories on the grid (spec: shared/specs/tahoe-formats.md §5; upstream
 * `docs/specifications/dirnodes.rst`, `src/allmydata/dirnode.py`, `nodemaker.py`).
 *
 * A mutable directory is a mutable file (SDMF by default, MDMF on request) whose contents
 * the pure dirnode room packs and unpacks; every change is a read-modify-write of that
 * file through `modifyMutableFile`, which re-reads and re-applies the change when another
 * client wrote in between (Tahoe's `MutableFileNode.modify` with the dirnode's `Adder` /
 * `Deleter` modifiers), so concurrent changes to different children all survive.
 * Immutable directories (DIR2-CHK, DIR2-LIT) are packed once and stored as an immutable
 * file through the `ImmutableStore` the caller provides (the grid client's uploader).
 *
 * Link metadata follows Tahoe's `update_metadata`: a new link gets
 * `{"tahoe": {"linkcrtime": now, "linkmotime": now}}`; replacing a child keeps its
 * `linkcrtime` and sets `linkmotime`. Initial children of a new directory keep exactly the
 * metadata they are given, as in Tahoe's `create_new_mutable_directory`.
 */
import { TahoeError, throwIfAborted } from '../../errors.js';
import { formatCap } from '../../caps/caps.js';
import { formatMutableCap, parseMutableCap, type MutableFormat } from '../../mutable/caps.js';
import { generateSigningKey, keyMaterialOf } from '../../mutable/keys.js';
import {
  canReadDirectory, directoryReadCapOf, formatDirectoryCap, isWritableDirectory, parseDirectoryCap, wrapFileCap,
  type DirectoryCap, type MutableDirectoryCap,
} from '../../dirnode/caps.js';
import {
  makeChild, normalizeName, packDirectory, packImmutableDirectory, updateMetadata,
  type ChildInput, type DirectoryChild, type PyJsonObject, type SkippedChild,
} from '../../dirnode/directory.js';
import { packForDirectory, readDirectory } from '../../dirnode/node.js';
import type { MutableWriteCap } from '../../mutable/caps.js';
import { bytesSource } from '../../immutable/source.js';
import type { GridClient } from '../client.js';
import type { MutableGridClient, SignalOptions } from './client.js';

/**
 * Directories are read whole into memory, so an immutable directory whose cap states more
 * bytes than this is refused before anything is downloaded. Mutable directories are
 * mutable files, which the web gateway bounds at the same size (MAX_MUTABLE_BYTES).
 */
export const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;

/** Where immutable directories are stored: the grid's immutable upload and download. */
export interface ImmutableStore {
  /** Upload with convergent encryption; returns URI:CHK:… or URI:LIT:…. */
  upload(data: Buffer, options?: SignalOptions): Promise<string>;
  download(cap: string, options?: SignalOptions): Promise<Buffer>;
}

/** The grid client's immutable upload (convergent) and download as an `ImmutableStore`. */
export function immutableStoreOf(grid: Pick<GridClient, 'uploadImmutable' | 'downloadImmutable'>): ImmutableStore {
  return {
    async upload(data, options = {}) {
      return (await grid.uploadImmutable(bytesSource(data), data.length, options.signal === undefined ? {} : { signal: options.signal })).cap;
    },
    async download(cap, options = {}) {
      const handle = await grid.downloadImmutable(cap, options.signal === undefined ? {} : { signal: options.signal });
      const parts: Uint8Array[] = [];
      for await (const chunk of handle.stream) parts.push(chunk);
      return Buffer.concat(parts);
    },
  };
}

export interface DirectoryGridClientOptions {
  readonly files: MutableGridClient;
  /** Needed for DIR2-CHK directories (creating and reading them). */
  readonly immutable?: ImmutableStore;
  /** Format of new mutable directories (default SDMF, as Tahoe). */
  readonly defaultFormat?: MutableFormat;
  /** Seconds since the epoch, as Python's time.time() (link timestamps). */
  readonly now?: () => number;
}

export interface DirectoryListing {
  /** The directory cap as given (canonical form). Write caps are secret: never log them. */
  readonly cap: string;
  readonly readCap: string;
  readonly writable: boolean;
  readonly mutable: boolean;
  /** Children in code-point order of their names. */
  readonly children: readonly DirectoryChild[];
  /** Entries Tahoe would drop too (caps breaking the directory's rules). */
  readonly skipped: readonly SkippedChild[];
  /** Mutable directories: the seqnum of the version read. */
  readonly seqnum?: number;
}

export interface CreatedDirectory {
  readonly cap: string;
  readonly readCap: string;
}

export type Overwrite = boolean | 'only-files';

export interface SetChildOptions extends SignalOptions {
  /** Replace an existing child (default true); 'only-files': but never a directory. */
  readonly overwrite?: Overwrite;
}

/** The node at a path: a directory or a file (or a cap tahoe-ts does not know). */
export interface ResolvedPath {
  /** The best cap the path gives: the write cap when every step was writable, else the read cap. */
  readonly cap: string;
  readonly kind: DirectoryChild['kind'];
  /** The entry in its parent (undefined for the root itself). */
  readonly child?: DirectoryChild;
  /** The parent directory's cap (undefined for the root itself). */
  readonly parentCap?: string;
}

export type ChildEntries = Iterable<readonly [string, ChildInput]>;

export interface DirectoryGridClient {
  createDirectory(children?: ChildEntries, options?: SignalOptions & { format?: MutableFormat }): Promise<CreatedDirectory>;
  createImmutableDirectory(children: ChildEntries, options?: SignalOptions): Promise<CreatedDirectory>;
  listDirectory(cap: string, options?: SignalOptions): Promise<DirectoryListing>;
  getChild(cap: string, name: string, options?: SignalOptions): Promise<DirectoryChild>;
  resolvePath(cap: string, path: string | readonly string[], options?: SignalOptions): Promise<ResolvedPath>;
  setChild(cap: string, name: string, child: ChildInput, options?: SetChildOptions): Promise<DirectoryChild>;
  setChildren(cap: string, children: ChildEntries, options?: SetChildOptions): Promise<DirectoryChild[]>;
  deleteChild(cap: string, name: string, options?: SignalOptions & { mustExist?: boolean }): Promise<DirectoryChild | undefined>;
  renameChild(cap: string, from: string, to: string, options?: SetChildOptions): Promise<DirectoryChild>;
  moveChild(fromCap: string, name: string, toCap: string, newName?: string, options?: SetChildOptions): Promise<DirectoryChild>;
  /** Create a new directory and link it as `name`; returns its write cap. */
  mkdir(cap: string, name: string, options?: SignalOptions & { format?: MutableFormat; children?: ChildEntries }): Promise<string>;
  /** `mkdir -p`: every missing directory along `path`; returns the last one's cap. */
  mkdirp(cap: string, path: string | readonly string[], options?: SignalOptions & { format?: MutableFormat }): Promise<string>;
}

export function createDirectoryGridClient(options: DirectoryGridClientOptions): DirectoryGridClient {
  return new GridDirectories(options);
}

/** Split `a/b/c` into NFC names (empty components — doubled or trailing slashes — are ignored). */
export function splitPath(path: string | readonly string[]): string[] {
  const parts = typeof path === 'string' ? path.split('/') : [...path];
  return parts.filter((p) => p.length > 0).map(normalizeName);
}

function notFound(name: string): TahoeError {
  return new TahoeError('NotFound', `no child named "${name}" in this directory`, {
    hint: 'list the directory to see its children; names are case-sensitive',
    details: { name },
  });
}

function exists(name: string, isDirectory: boolean): TahoeError {
  return new TahoeError('BadInput', `"${name}" already exists${isDirectory ? ' and is a directory' : ''}`, {
    hint: isDirectory ? 'directories are not replaced here: remove it first or choose another name' : 'choose another name, or allow replacing it',
    details: { name, reason: 'exists' },
  });
}

function directoryTooLarge(size: number): TahoeError {
  return new TahoeError('BadInput', `this immutable directory is ${size} bytes, more than the ${MAX_DIRECTORY_BYTES} tahoe-ts reads into memory`, {
    hint: 'tahoe-ts holds a directory whole while it reads it; ask whoever made it for a tree of smaller directories, or read it with Tahoe-LAFS',
    details: { size, limit: MAX_DIRECTORY_BYTES, reason: 'too-large' },
  });
}

function notDirectory(name: string): TahoeError {
  return new TahoeError('BadInput', `"${name}" is not a directory`, { hint: 'a path can only go through directories', details: { name, reason: 'not-a-directory' } });
}

function requireWritable(cap: DirectoryCap): MutableDirectoryCap & { file: MutableWriteCap } {
  if (isWritableDirectory(cap)) return cap;
  throw new TahoeError('CapInvalid', `${cap.kind === 'immutable-directory' ? 'an immutable' : 'a read-only'} directory cannot be changed`, {
    hint: cap.kind === 'immutable-directory'
      ? 'immutable directories (URI:DIR2-CHK:, URI:DIR2-LIT:) never change: make a new one'
      : 'use the directory\'s write cap (URI:DIR2:… or URI:DIR2-MDMF:…); a read cap only lists',
    details: { access: cap.kind === 'immutable-directory' ? 'immutable' : cap.file.access },
  });
}

function capOfChild(child: DirectoryChild): string {
  const cap = child.writeCap ?? child.readCap;
  if (cap === undefined) throw new TahoeError('IntegrityError', `child "${child.name}" has no cap`, { hint: 'the directory entry is damaged; remove it' });
  return cap;
}

function childInput(child: DirectoryChild, metadata: PyJsonObject): ChildInput {
  return { ...(child.writeCap === undefined ? {} : { writeCap: child.writeCap }), ...(child.readCap === undefined ? {} : { readCap: child.readCap }), metadata };
}

function sameCaps(a: DirectoryChild, b: DirectoryChild): boolean {
  return a.writeCap === b.writeCap && a.readCap === b.readCap;
}

class GridDirectories implements DirectoryGridClient {
  private readonly files: MutableGridClient;
  private readonly now: () => number;

  constructor(private readonly options: DirectoryGridClientOptions) {
    this.files = options.files;
    this.now = options.now ?? ((): number => Date.now() / 1000);
  }

  // ------------------------------------------------------------------ create

  async createDirectory(children: ChildEntries = [], options: SignalOptions & { format?: MutableFormat } = {}): Promise<CreatedDirectory> {
    const entries = [...children].map(([name, input]) => makeChild(name, input));
    // The writekey that encrypts child write caps comes from the key pair: make it first.
    const key = await generateSigningKey();
    const plaintext = packDirectory(entries, { writekey: keyMaterialOf(key).writekey });
    const created = await this.files.createMutableFile(plaintext, {
      key, format: options.format ?? this.options.defaultFormat ?? 'SDMF',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const cap = wrapFileCap(parseMutableCap(created.cap));
    return { cap: formatDirectoryCap(cap), readCap: formatDirectoryCap(directoryReadCapOf(cap)) };
  }

  async createImmutableDirectory(children: ChildEntries, options: SignalOptions = {}): Promise<CreatedDirectory> {
    const entries = [...children].map(([name, input]) => makeChild(name, input, { deepImmutable: true }));
    const packed = packImmutableDirectory(entries);
    const store = this.immutableStore();
    const fileCap = await store.upload(packed, options);
    const text = fileCap.startsWith('URI:LIT:') ? `URI:DIR2-LIT:${fileCap.slice('URI:LIT:'.length)}` : fileCap.startsWith('URI:CHK:') ? `URI:DIR2-CHK:${fileCap.slice('URI:CHK:'.length)}` : undefined;
    if (text === undefined) throw new TahoeError('Internal', 'the immutable store returned neither a CHK nor a LIT cap');
    const cap = formatDirectoryCap(parseDirectoryCap(text));
    return { cap, readCap: cap };
  }

  // ------------------------------------------------------------------ read

  async listDirectory(capText: string, options: SignalOptions = {}): Promise<DirectoryListing> {
    const cap = parseDirectoryCap(capText);
    if (!canReadDirectory(cap)) {
      throw new TahoeError('CapInvalid', 'a verify cap cannot list a directory', { hint: 'use the directory\'s read cap (URI:DIR2-RO:…) or write cap' });
    }
    let plaintext: Buffer;
    let seqnum: number | undefined;
    if (cap.kind === 'mutable-directory') {
      const read = await this.files.readMutableFile(formatMutableCap(cap.file), options);
      plaintext = read.data;
      seqnum = read.seqnum;
    } else if (cap.file.type === 'LIT') {
      plaintext = cap.file.data;
    } else {
      // The cap states the size and the download verifies it: check before fetching a byte.
      if (cap.file.size > MAX_DIRECTORY_BYTES) throw directoryTooLarge(cap.file.size);
      plaintext = await this.immutableStore().download(formatCap(cap.file), options);
    }
    const { children, skipped } = readDirectory(cap, plaintext);
    return {
      cap: formatDirectoryCap(cap),
      readCap: formatDirectoryCap(directoryReadCapOf(cap)),
      writable: isWritableDirectory(cap),
      mutable: cap.kind === 'mutable-directory',
      children, skipped,
      ...(seqnum === undefined ? {} : { seqnum }),
    };
  }

  async getChild(cap: string, name: string, options: SignalOptions = {}): Promise<DirectoryChild> {
    const wanted = normalizeName(name);
    const child = (await this.listDirectory(cap, options)).children.find((c) => c.name === wanted);
    if (child === undefined) throw notFound(wanted);
    return child;
  }

  async resolvePath(capText: string, path: string | readonly string[], options: SignalOptions = {}): Promise<ResolvedPath> {
    const names = splitPath(path);
    let current = formatDirectoryCap(parseDirectoryCap(capText));
    let resolved: ResolvedPath = { cap: current, kind: 'directory' };
    for (let i = 0; i < names.length; i++) {
      throwIfAborted(options.signal);
      if (resolved.kind !== 'directory') throw notDirectory(names[i - 1]);
      const child = await this.getChild(current, names[i], options);
      resolved = { cap: capOfChild(child), kind: child.kind, child, parentCap: current };
      current = resolved.cap;
    }
    return resolved;
  }

  // ------------------------------------------------------------------ change

  /**
   * Read-modify-write of a mutable directory. `change` gets the current children, the
   * time and whether this is the first try, and returns the new children (or undefined:
   * no change). After a conflict it runs again on fresh contents, which may already hold
   * this very change (a conflicting write can land on some servers), so on later tries it
   * must accept its own result — as Tahoe's `Deleter`, which insists on the child only
   * the first time.
   */
  private async modify<T>(capText: string, change: (children: DirectoryChild[], now: number, first: boolean) => { children: DirectoryChild[]; result: T } | undefined, signal?: AbortSignal): Promise<T | undefined> {
    const cap = requireWritable(parseDirectoryCap(capText));
    let result: T | undefined;
    await this.files.modifyMutableFile(formatMutableCap(cap.file), (old, context) => {
      result = undefined;
      const changed = change(readDirectory(cap, old).children, this.now(), context.attempt === 1);
      if (changed === undefined) return undefined;
      result = changed.result;
      return packForDirectory(cap, changed.children);
    }, signal === undefined ? {} : { signal });
    return result;
  }

  async setChild(cap: string, name: string, input: ChildInput, options: SetChildOptions = {}): Promise<DirectoryChild> {
    const [added] = await this.setChildren(cap, [[name, input]], options);
    return added;
  }

  async setChildren(cap: string, entries: ChildEntries, options: SetChildOptions = {}): Promise<DirectoryChild[]> {
    requireWritable(parseDirectoryCap(cap));
    const overwrite = options.overwrite ?? true;
    const wanted = [...entries].map(([name, input]) => ({ child: makeChild(name, input), metadata: input.metadata }));
    const result = await this.modify(cap, (children, now, first) => {
      const byName = new Map(children.map((c) => [c.name, c] as const));
      const added: DirectoryChild[] = [];
      for (const { child, metadata } of wanted) {
        const existing = byName.get(child.name);
        if (existing !== undefined && !first && overwrite !== true && sameCaps(existing, child)) {
          added.push(existing); // our own link, from a write that conflicted half-way
          continue;
        }
        if (existing !== undefined) {
          if (overwrite === false) throw exists(child.name, existing.kind === 'directory');
          if (overwrite === 'only-files' && existing.kind === 'directory') throw exists(child.name, true);
        }
        const linked: DirectoryChild = { ...child, metadata: updateMetadata(existing?.metadata, metadata, now) };
        byName.set(child.name, linked);
        added.push(linked);
      }
      return { children: [...byName.values()], result: added };
    }, options.signal);
    return result ?? [];
  }

  async deleteChild(cap: string, name: string, options: SignalOptions & { mustExist?: boolean } = {}): Promise<DirectoryChild | undefined> {
    return this.deleteIf(cap, name, () => true, options.mustExist ?? true, options.signal);
  }

  private async deleteIf(cap: string, name: string, accept: (child: DirectoryChild) => boolean, mustExist: boolean, signal?: AbortSignal): Promise<DirectoryChild | undefined> {
    const wanted = normalizeName(name);
    return this.modify(cap, (children, _now, first) => {
      const victim = children.find((c) => c.name === wanted);
      if (victim === undefined || !accept(victim)) {
        if (mustExist && first && victim === undefined) throw notFound(wanted);
        return undefined;
      }
      return { children: children.filter((c) => c !== victim), result: victim };
    }, signal);
  }

  async renameChild(cap: string, from: string, to: string, options: SetChildOptions = {}): Promise<DirectoryChild> {
    const source = normalizeName(from);
    const target = normalizeName(to);
    const overwrite = options.overwrite ?? true;
    makeChild(target, {}); // check the new name before any network work
    let firstSeen: DirectoryChild | undefined;
    // Set when a try finds nothing to change: the directory is then not written at all.
    let unchanged: DirectoryChild | undefined;
    const result = await this.modify(cap, (children, now, first) => {
      unchanged = undefined;
      const moving = children.find((c) => c.name === source);
      const existing = children.find((c) => c.name === target);
      if (moving === undefined) {
        if (first) throw notFound(source);
        // Gone on a later try: our own rename landed before the conflict, or someone
        // removed the child meanwhile. Either way there is nothing left to move.
        unchanged = existing !== undefined && firstSeen !== undefined && sameCaps(existing, firstSeen) ? existing : firstSeen;
        return undefined;
      }
      firstSeen ??= moving;
      if (source === target) {
        unchanged = moving;
        return undefined;
      }
      if (existing !== undefined) {
        if (overwrite === false) throw exists(target, existing.kind === 'directory');
        if (overwrite === 'only-files' && existing.kind === 'directory') throw exists(target, true);
      }
      // As Tahoe's move_child_to: link under the new name (keeping the user metadata, new
      // link times), then unlink the old name — here in one write.
      const moved = { ...makeChild(target, childInput(moving, moving.metadata)), metadata: updateMetadata(existing?.metadata, moving.metadata, now) };
      return { children: [...children.filter((c) => c !== moving && c !== existing), moved], result: moved };
    }, options.signal);
    const renamed = result ?? unchanged;
    if (renamed === undefined) throw new TahoeError('Internal', 'rename produced no result');
    return renamed;
  }

  async moveChild(fromCap: string, name: string, toCap: string, newName: string = name, options: SetChildOptions = {}): Promise<DirectoryChild> {
    const from = requireWritable(parseDirectoryCap(fromCap));
    const to = requireWritable(parseDirectoryCap(toCap));
    if (from.file.storageIndex.equals(to.file.storageIndex)) return this.renameChild(fromCap, name, newName, options);
    const moving = await this.getChild(fromCap, name, options);
    const moved = await this.setChild(toCap, newName, childInput(moving, moving.metadata), options);
    // Unlink only the child that was moved: if someone replaced it meanwhile, keep theirs.
    await this.deleteIf(fromCap, moving.name, (c) => sameCaps(c, moving), false, options.signal);
    return moved;
  }

  async mkdir(cap: string, name: string, options: SignalOptions & { format?: MutableFormat; children?: ChildEntries } = {}): Promise<string> {
    requireWritable(parseDirectoryCap(cap));
    makeChild(name, {}); // check the name before creating anything
    const created = await this.createDirectory(options.children ?? [], options);
    await this.setChild(cap, name, { writeCap: created.cap }, { overwrite: false, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    return created.cap;
  }

  async mkdirp(cap: string, path: string | readonly string[], options: SignalOptions & { format?: MutableFormat } = {}): Promise<string> {
    let current = formatDirectoryCap(parseDirectoryCap(cap));
    for (const name of splitPath(path)) {
      const listing = await this.listDirectory(current, options);
      const existing = listing.children.find((c) => c.name === name);
      if (existing !== undefined) {
        if (existing.kind !== 'directory') throw notDirectory(name);
        current = capOfChild(existing);
        continue;
      }
      try {
        current = await this.mkdir(current, name, options);
      } catch (e) {
        // Someone else made it in the meantime: use theirs (ours stays unlinked).
        if (!(e instanceof TahoeError && e.details.reason === 'exists')) throw e;
        const theirs = await this.getChild(current, name, options);
        if (theirs.kind !== 'directory') throw notDirectory(name);
        current = capOfChild(theirs);
      }
    }
    return current;
  }

  private immutableStore(): ImmutableStore {
    if (this.options.immutable !== undefined) return this.options.immutable;
    throw new TahoeError('Internal', 'this directory client has no immutable store, so it cannot handle URI:DIR2-CHK: directories', {
      hint: 'create the directory client with `immutable` (the grid client\'s upload and download)',
    });
  }
}
