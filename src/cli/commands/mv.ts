/**
 * `tahoe-ts mv FROM TO` and (through `linkPath`) `tahoe-ts ln FROM TO`, as Tahoe-LAFS's
 * `tahoe mv` / `tahoe ln` (src/allmydata/scripts/tahoe_mv.py): read FROM's cap
 * (`?t=json`), link it at TO (`PUT …?t=uri&replace=only-files`: a file may be replaced, a
 * directory never), then — for mv — unlink FROM. When TO is a directory (or ends with
 * "/"), the entry goes inside it under FROM's name. The original is removed only after
 * the new link is in place, so a failure never loses the entry.
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { DirectoryClient, capOf, directoryKeyOf } from '../../web/directory-client.js';
import { describeGridPath, resolveGridArgument, type GridPath } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

function missing(p: GridPath, e: unknown): TahoeError {
  return new TahoeError('NotFound', `${describeGridPath(p)}: no such file or directory`, { hint: 'check the path with `tahoe-ts ls`; names are case-sensitive', cause: e });
}

/**
 * The keys (directoryKeyOf) of the directories from `rootCap` down `path`, as far as they
 * exist: the root, then one per name.
 */
async function directoriesOnTheWay(client: DirectoryClient, rootCap: string, path: readonly string[]): Promise<string[]> {
  const root = directoryKeyOf(rootCap);
  if (root === undefined) return [];
  const keys = [root];
  for (let depth = 1; depth <= path.length; depth++) {
    const info = await client.infoIfExists(rootCap, path.slice(0, depth));
    const key = info?.[0] === 'dirnode' ? directoryKeyOf(capOf(info[1])) : undefined;
    if (key === undefined) break;
    keys.push(key);
  }
  return keys;
}

/** Link FROM's cap at TO; with `move`, unlink FROM afterwards. */
export async function linkPath(nodeDirectory: string, fromArg: string, toArg: string, move: boolean): Promise<void> {
  const from = await resolveGridArgument(nodeDirectory, fromArg);
  const to = await resolveGridArgument(nodeDirectory, toArg);
  const client = await DirectoryClient.forNodeDirectory(nodeDirectory);
  let cap: string | undefined;
  let isDirectory: boolean;
  if (from.path.length === 0 && from.alias === undefined) {
    cap = from.rootCap; // a bare cap: link it as it is
    isDirectory = directoryKeyOf(cap) !== undefined;
  } else {
    const info = await client.infoIfExists(from.rootCap, from.path);
    if (info === undefined) throw missing(from, undefined);
    cap = capOf(info[1]);
    isDirectory = info[0] === 'dirnode';
  }
  if (cap === undefined) throw new TahoeError('IntegrityError', `${describeGridPath(from)} has no cap`, { hint: 'the directory entry is damaged; unlink it' });
  if (move && from.path.length === 0) {
    throw new TahoeError('UsageError', `${fromArg}: a starting directory (an alias or a cap) cannot be moved`, { hint: 'use `tahoe-ts ln` to link it somewhere, or name something inside it' });
  }
  let targetPath = [...to.path];
  const target = await client.infoIfExists(to.rootCap, to.path);
  if (to.trailingSlash || to.path.length === 0 || target?.[0] === 'dirnode') {
    const name = from.path.at(-1);
    if (name === undefined) throw new TahoeError('UsageError', `${fromArg} has no name to give it inside ${toArg}`, { hint: 'give the new name: tahoe-ts ln CAP ALIAS:DIR/NAME' });
    targetPath = [...targetPath, name];
  }
  const intoItself = (): TahoeError =>
    // It would then be reachable only through itself: lost to every alias.
    new TahoeError('UsageError', `cannot move ${fromArg} into itself (${toArg})`, { hint: 'choose a target outside it; `tahoe-ts ln` links it there as well without unlinking it' });
  if (move && from.rootCap === to.rootCap && targetPath.join('/') === from.path.join('/')) return;
  if (move && from.rootCap === to.rootCap && targetPath.length > from.path.length && from.path.every((name, i) => targetPath[i] === name)) throw intoItself();
  if (move) {
    // The same checks by cap, for names the paths do not show to be one: two aliases for
    // one directory, a cap, an alias for a directory inside FROM. The directories on the
    // way to the new link (one lookup each) must not include FROM; and when the new link
    // would be FROM's own entry, there is nothing to move (linking it over itself and then
    // unlinking FROM would lose it).
    const onTheWay = await directoriesOnTheWay(client, to.rootCap, targetPath.slice(0, -1));
    const moving = isDirectory ? directoryKeyOf(cap) : undefined;
    if (moving !== undefined && onTheWay.includes(moving)) throw intoItself();
    if (onTheWay.length === targetPath.length && targetPath.at(-1)?.normalize('NFC') === from.path.at(-1)?.normalize('NFC')) {
      const fromParent = await client.infoIfExists(from.rootCap, from.path.slice(0, -1));
      const fromParentKey = fromParent === undefined ? undefined : directoryKeyOf(capOf(fromParent[1]));
      if (fromParentKey !== undefined && fromParentKey === onTheWay.at(-1)) return;
    }
  }
  try {
    await client.link(to.rootCap, targetPath, cap, 'only-files');
  } catch (e) {
    if (e instanceof TahoeError && e.details.httpStatus === 409) {
      throw new TahoeError('UsageError', `${toArg}: a directory of that name is in the way`, { hint: 'directories are never replaced: choose another name or remove it first', cause: e, details: { reason: 'exists' } });
    }
    throw e;
  }
  if (move) {
    try {
      await client.unlink(from.rootCap, from.path);
    } catch (e) {
      throw new TahoeError(e instanceof TahoeError ? e.kind : 'Internal', `linked at ${toArg}, but the original could not be unlinked: ${e instanceof Error ? e.message : String(e)}`, {
        hint: `both names now lead to it; remove the old one with \`tahoe-ts rm ${fromArg}\``,
        cause: e,
      });
    }
  }
}

export function register(program: Command): void {
  const cmd = new Command('mv')
    .description('Move or rename a file or directory on the grid (link at TO, then unlink FROM).')
    .argument('<FROM>', 'ALIAS:PATH, PATH (below tahoe:) or DIRCAP/PATH')
    .argument('<TO>', 'the new path; an existing directory (or a path ending in "/") receives it under its own name')
    .addHelpText('after', `
Examples: tahoe-ts mv tahoe:draft.txt tahoe:final.txt; tahoe-ts mv tahoe:final.txt work:
A directory at TO is never replaced; a file at TO is.
Exit codes: 0 moved; 2 no such FROM, bad path or alias, a directory in the way; 69 node not running.`);
  withNodeDirectory(cmd);
  cmd.action(async (from: string, to: string, _flags: unknown, self: Command) => {
    await linkPath(nodeDirectoryOf(self), from, to, true);
    process.stdout.write('OK\n');
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
