/**
 * `tahoe-ts cp [-r] FROM… TO`: copy between the local disk and the grid, both ways, and
 * between places on the grid, through the running node, as Tahoe-LAFS's `tahoe cp`
 * (docs/frontends/CLI.rst "cp"; src/allmydata/scripts/tahoe_cp.py).
 *
 * An argument without an alias is a local path (write ./a:b for a local name with a
 * colon); ALIAS:PATH, DIRCAP/PATH and caps are on the grid. The rules are Unix cp's and
 * Tahoe's:
 *   - a single file to a target that is not a directory: copied as the target;
 *   - otherwise the target is a directory (created if missing): each named source goes in
 *     under its own name (cp -r photos tahoe:backup makes tahoe:backup/photos), an
 *     unnamed directory (a dircap, an alias) gives its contents;
 *   - directories need -r; an unnamed file (a bare file cap) cannot go into a directory.
 * Immutable files copied grid→grid are linked by cap (no data moves); mutable ones are
 * read and stored as new immutable files, as Tahoe does. Local files are written through
 * a temporary file and renamed into place, so a failed copy never leaves a truncated file.
 */
import { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../../errors.js';
import { compareCodePoints } from '../../dirnode/directory.js';
import { DirectoryClient, capOf, directoryKeyOf, type NodeData, type NodeJson } from '../../web/directory-client.js';
import { readAliases } from '../../config/aliases.js';
import { resolvePath, describeGridPath, type GridPath } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { ProgressLine } from '../progress.js';

interface CpFlags {
  recursive?: boolean;
  progress?: boolean;
  verbose?: boolean;
}

type Place =
  | { readonly where: 'local'; readonly path: string }
  | { readonly where: 'grid'; readonly rootCap: string; readonly path: readonly string[] };

type Source =
  | { readonly kind: 'file'; readonly place: Place; readonly name?: string; readonly size?: number; readonly grid?: NodeData }
  | { readonly kind: 'directory'; readonly place: Place; readonly name?: string; readonly key?: string };

interface Counts {
  files: number;
  directories: number;
}

function localMissing(p: string, e: unknown): TahoeError {
  return new TahoeError('UsageError', `${p}: no such file or directory`, { hint: 'check the local path', cause: e });
}

function gridMissing(p: GridPath, e: unknown): TahoeError {
  return new TahoeError('NotFound', `${describeGridPath(p)}: no such file or directory`, { hint: 'check the path with `tahoe-ts ls`; names are case-sensitive', cause: e });
}

async function localKind(p: string): Promise<'file' | 'directory' | 'missing' | 'other'> {
  try {
    const st = await stat(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new TahoeError('UsageError', `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { hint: 'check the path and its permissions', cause: e });
  }
}

function describePlace(place: Place): string {
  return place.where === 'local' ? place.path : place.path.length === 0 ? 'the target' : place.path.join('/');
}

function child(place: Place, name: string): Place {
  return place.where === 'local' ? { where: 'local', path: path.join(place.path, name) } : { where: 'grid', rootCap: place.rootCap, path: [...place.path, name] };
}

class Copier {
  readonly counts: Counts = { files: 0, directories: 0 };
  /**
   * The grid directories this copy made or filled. The source is read as the copy goes,
   * so copying a directory into itself (cp -r tahoe:a tahoe:a/b) would meet its own copy
   * and copy that too, for ever; those directories are skipped instead.
   */
  private readonly targets = new Set<string>();

  constructor(private readonly client: DirectoryClient, private readonly flags: CpFlags) {}

  async source(arg: string, resolved: GridPath | { kind: 'local'; path: string }): Promise<Source> {
    if (resolved.kind === 'local') {
      const kind = await localKind(resolved.path);
      if (kind === 'missing') throw localMissing(resolved.path, undefined);
      if (kind === 'other') throw new TahoeError('UsageError', `${resolved.path} is neither a file nor a directory`, { hint: 'cp copies regular files and directories' });
      const base = path.basename(path.resolve(resolved.path));
      if (kind === 'directory') return { kind: 'directory', place: { where: 'local', path: resolved.path }, name: base };
      return { kind: 'file', place: { where: 'local', path: resolved.path }, name: base, size: (await stat(resolved.path)).size };
    }
    const info = await this.client.infoIfExists(resolved.rootCap, resolved.path);
    if (info === undefined) throw gridMissing(resolved, undefined);
    const [type, data] = info;
    const name = resolved.path.at(-1);
    const place: Place = { where: 'grid', rootCap: resolved.rootCap, path: resolved.path };
    const key = directoryKeyOf(capOf(data));
    if (type === 'dirnode') return { kind: 'directory', place, ...(name === undefined ? {} : { name }), ...(key === undefined ? {} : { key }) };
    if (type === 'filenode') return { kind: 'file', place, ...(name === undefined ? {} : { name }), ...(data.size === undefined ? {} : { size: data.size }), grid: data };
    throw new TahoeError('UsageError', `${arg}: a cap of a kind tahoe-ts does not know cannot be copied`, { hint: 'a newer Tahoe-LAFS may know it; `tahoe-ts ln` can link it' });
  }

  /**
   * What is at the target: a directory, a file, or nothing. An existing grid directory
   * receives the copy, so it is never copied itself (met as a source through another name).
   */
  async targetKind(place: Place): Promise<{ kind: 'file' | 'directory' | 'missing'; key?: string }> {
    if (place.where === 'local') {
      const kind = await localKind(place.path);
      if (kind === 'other') throw new TahoeError('UsageError', `${place.path} is neither a file nor a directory`, { hint: 'copy to a directory or a file name' });
      return { kind };
    }
    const info = await this.client.infoIfExists(place.rootCap, place.path);
    if (info === undefined) return { kind: 'missing' };
    if (info[0] !== 'dirnode') return { kind: 'file' };
    const key = directoryKeyOf(capOf(info[1]));
    if (key === undefined) return { kind: 'directory' };
    this.targets.add(key);
    return { kind: 'directory', key };
  }

  /** Make (or reuse) the directory at `place`; for the grid, its key (directoryKeyOf). */
  async ensureDirectory(place: Place): Promise<string | undefined> {
    let key: string | undefined;
    if (place.where === 'local') {
      await mkdir(place.path, { recursive: true });
    } else {
      key = directoryKeyOf(await this.client.mkdirAt(place.rootCap, place.path));
      if (key !== undefined) this.targets.add(key);
    }
    this.counts.directories++;
    return key;
  }

  /**
   * A grid directory copied onto itself (two names for one directory: two aliases, a cap
   * and a path) would have each of its files copied over itself — mutable ones replaced
   * by immutable copies. Refused, as cp(1) refuses to copy a file onto itself.
   */
  refuseSameDirectory(from: Extract<Source, { kind: 'directory' }>, fromLabel: string, targetKey: string | undefined, targetLabel: string): void {
    if (from.key === undefined || targetKey !== from.key) return;
    throw new TahoeError('UsageError', `${fromLabel} and ${targetLabel} are the same directory`, {
      hint: 'copy it to a place outside itself; two aliases (or a cap and a path) can name one directory: `tahoe-ts list-aliases` shows them',
    });
  }

  async copyFile(from: Extract<Source, { kind: 'file' }>, to: Place): Promise<void> {
    if (from.place.where === 'local' && to.where === 'local') {
      throw new TahoeError('UsageError', 'cp copies to or from the grid; both paths are local here', { hint: 'use cp(1) for local copies, or give the grid side as ALIAS:PATH' });
    }
    const label = from.name ?? 'file';
    const progress = this.flags.progress === false ? undefined : new ProgressLine(label.slice(0, 10), from.size);
    try {
      if (from.place.where === 'local' && to.where === 'grid') {
        await this.client.put(to.rootCap, to.path, createReadStream(from.place.path, { highWaterMark: 256 * 1024 }), from.size, { replace: true, onSent: (n) => progress?.update(n) });
      } else if (from.place.where === 'grid' && to.where === 'grid') {
        const cap = from.grid === undefined ? undefined : capOf(from.grid);
        if (from.grid?.mutable !== true && cap !== undefined) {
          await this.client.link(to.rootCap, to.path, from.grid?.ro_uri ?? cap, true);
        } else {
          const { size, body } = await this.client.download(from.place.rootCap, from.place.path);
          await this.client.put(to.rootCap, to.path, body, size, { replace: true, onSent: (n) => progress?.update(n) });
        }
      } else if (from.place.where === 'grid' && to.where === 'local') {
        await this.downloadTo(from.place, to.path, progress);
      }
    } finally {
      progress?.clear();
    }
    if (this.flags.verbose === true) process.stderr.write(`copied ${label}\n`);
    this.counts.files++;
  }

  private async downloadTo(from: Extract<Place, { where: 'grid' }>, out: string, progress: ProgressLine | undefined): Promise<void> {
    const target = path.resolve(out);
    const partial = path.join(path.dirname(target), `.${path.basename(target)}.tahoe-ts-${randomBytes(6).toString('hex')}.part`);
    const { size, body } = await this.client.download(from.rootCap, from.path);
    const sink = createWriteStream(partial, { flags: 'wx', mode: 0o644 });
    let received = 0;
    try {
      const failed = new Promise<never>((_, reject) => sink.once('error', (e: NodeJS.ErrnoException) => reject(new TahoeError('DiskError', `cannot write ${out}: ${e.code ?? e.message}`, { cause: e, hint: e.code === 'ENOSPC' ? 'the disk is full' : 'check the output path and its permissions' }))));
      failed.catch(() => undefined);
      const copy = (async () => {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          received += chunk.length;
          progress?.update(received);
          if (!sink.write(chunk)) await once(sink, 'drain');
        }
      })();
      await Promise.race([copy, failed]);
      if (received !== size) throw new TahoeError('IntegrityError', `the node sent ${received} of ${size} bytes of ${out}`, { hint: 'not enough servers may be reachable; see the node\'s welcome page, then retry' });
      sink.end();
      await Promise.race([once(sink, 'close'), failed]);
      await rename(partial, target);
    } catch (e) {
      sink.destroy();
      await rm(partial, { force: true });
      throw e;
    }
  }

  /** Copy a directory's children into `to` (which exists). */
  async copyContents(from: Extract<Source, { kind: 'directory' }>, to: Place): Promise<void> {
    if (from.place.where === 'local') {
      const entries = (await readdir(from.place.path, { withFileTypes: true })).sort((a, b) => compareCodePoints(a.name, b.name));
      for (const entry of entries) {
        const place = child(from.place, entry.name);
        if (entry.isDirectory()) await this.copyDirectory({ kind: 'directory', place, name: entry.name }, child(to, entry.name));
        else if (entry.isFile()) await this.copyFile({ kind: 'file', place, name: entry.name, size: (await stat(path.join(from.place.path, entry.name))).size }, child(to, entry.name));
        else process.stderr.write(`skipping ${path.join(from.place.path, entry.name)}: neither a file nor a directory\n`);
      }
      return;
    }
    const [type, data] = await this.client.info(from.place.rootCap, from.place.path);
    if (type !== 'dirnode') throw new TahoeError('Internal', 'a directory source is no longer a directory');
    const children = Object.entries(data.children ?? {}).sort(([a], [b]) => compareCodePoints(a, b));
    for (const [name, [childType, childData]] of children as Array<[string, NodeJson]>) {
      const place = child(from.place, name);
      if (childType === 'dirnode' && this.targets.has(directoryKeyOf(childData.ro_uri ?? childData.rw_uri) ?? '')) {
        process.stderr.write(`skipping ${name}: it is part of this copy's target (a directory copied into itself)\n`);
        continue;
      }
      const key = directoryKeyOf(capOf(childData));
      if (childType === 'dirnode') await this.copyDirectory({ kind: 'directory', place, name, ...(key === undefined ? {} : { key }) }, child(to, name));
      else if (childType === 'filenode') await this.copyFile({ kind: 'file', place, name, ...(childData.size === undefined ? {} : { size: childData.size }), grid: childData }, child(to, name));
      else process.stderr.write(`skipping ${name}: a cap of a kind tahoe-ts does not know\n`);
    }
  }

  async copyDirectory(from: Extract<Source, { kind: 'directory' }>, to: Place): Promise<void> {
    if (this.flags.recursive !== true) {
      throw new TahoeError('UsageError', `${from.name ?? 'the source'} is a directory`, { hint: 'use cp -r to copy directories' });
    }
    if (from.place.where === 'local' && to.where === 'local') {
      throw new TahoeError('UsageError', 'cp copies to or from the grid; both paths are local here', { hint: 'use cp(1) for local copies' });
    }
    this.refuseSameDirectory(from, from.name ?? 'the source', await this.ensureDirectory(to), describePlace(to));
    await this.copyContents(from, to);
  }
}

export function register(program: Command): void {
  const cmd = new Command('cp')
    .description('Copy files and directories between the local disk and the grid (both ways), or within the grid.')
    .usage('[options] FROM… TO')
    .argument('<PATHS...>', 'FROM… TO: sources (local paths, ALIAS:PATH, DIRCAP/PATH, caps), then the target (a local path or ALIAS:PATH / DIRCAP/PATH; a directory if it ends with "/")')
    .option('-r, --recursive', 'copy directories and everything below them')
    .option('-v, --verbose', 'name each file as it is copied (on stderr)')
    .option('--no-progress', 'no progress line, even on a terminal')
    .addHelpText('after', `
Examples:
  tahoe-ts cp notes.txt tahoe:            # → tahoe:notes.txt
  tahoe-ts cp -r ~/photos tahoe:backup/   # → tahoe:backup/photos/…
  tahoe-ts cp tahoe:notes.txt ./copy.txt
  tahoe-ts cp -r tahoe:backup/photos ./restored
Exit codes: 0 copied; 2 bad arguments, paths or aliases, a directory without -r; 69 node not running; 65 data problem.`);
  withNodeDirectory(cmd);
  cmd.action(async (args: string[], flags: CpFlags, self: Command) => {
    if (args.length < 2) throw new TahoeError('UsageError', 'cp needs at least one source and a target', { hint: 'tahoe-ts cp FROM… TO' });
    const nodeDirectory = nodeDirectoryOf(self);
    const aliases = await readAliases(nodeDirectory);
    const resolved = args.map((a) => resolvePath(a, aliases, { defaultAlias: null }));
    const targetArg = args[args.length - 1];
    const target = resolved[resolved.length - 1];
    const client = await DirectoryClient.forNodeDirectory(nodeDirectory);
    const copier = new Copier(client, flags);
    const sources: Source[] = [];
    for (let i = 0; i < args.length - 1; i++) sources.push(await copier.source(args[i], resolved[i]));
    const targetPlace: Place = target.kind === 'local' ? { where: 'local', path: target.path } : { where: 'grid', rootCap: target.rootCap, path: target.path };
    const { kind: targetState, key: targetKey } = await copier.targetKind(targetPlace);
    const endsWithSlash = targetArg.endsWith('/') || (target.kind === 'grid' && target.path.length === 0);
    const single = sources.length === 1 ? sources[0] : undefined;

    if (single?.kind === 'file' && targetState !== 'directory' && !endsWithSlash) {
      await copier.copyFile(single, targetPlace);
    } else {
      if (targetState === 'file') {
        throw new TahoeError('UsageError', `${targetArg} is a file: ${sources.length > 1 ? 'several sources need a directory as the target' : 'a directory cannot be copied onto a file'}`, { hint: 'give a directory (ending with "/") as the target' });
      }
      if (targetState === 'missing') await copier.ensureDirectory(targetPlace);
      // Before anything is copied: an unnamed directory (an alias, a cap) whose contents would go into itself.
      sources.forEach((source, i) => {
        if (source.kind === 'directory' && source.name === undefined) copier.refuseSameDirectory(source, args[i], targetKey, targetArg);
      });
      for (const source of sources) {
        if (source.kind === 'directory' && flags.recursive !== true) {
          throw new TahoeError('UsageError', `${source.name ?? 'a source'} is a directory`, { hint: 'use cp -r to copy directories' });
        }
        if (source.name === undefined) {
          if (source.kind === 'file') {
            throw new TahoeError('UsageError', 'a file given by its cap alone has no name to copy into a directory', { hint: 'give the target file name: tahoe-ts cp CAP ALIAS:DIR/NAME' });
          }
          await copier.copyContents(source, targetPlace);
          continue;
        }
        const into = child(targetPlace, source.name);
        if (source.kind === 'file') await copier.copyFile(source, into);
        else await copier.copyDirectory(source, into);
      }
    }
    const { files, directories } = copier.counts;
    process.stdout.write(`Success: ${files} file${files === 1 ? '' : 's'} copied${directories > 0 ? `, ${directories} director${directories === 1 ? 'y' : 'ies'} made or reused` : ''}\n`);
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
