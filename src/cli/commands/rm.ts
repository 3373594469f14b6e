/**
 * `tahoe-ts rm PATH…` (also `unlink`): remove names from their directories through the
 * running node (`DELETE /uri/$DIRCAP/PATH`), as Tahoe-LAFS's `tahoe unlink`/`tahoe rm`.
 * Only the link goes: the file or directory stays readable by anyone holding its cap.
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { DirectoryClient } from '../../web/directory-client.js';
import { describeGridPath, resolveGridArgument } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

function registerAs(program: Command, name: 'rm' | 'unlink'): void {
  const cmd = new Command(name)
    .description('Unlink files or directories from their parent directory (the data stays on the grid).')
    .argument('<PATH...>', 'ALIAS:PATH, PATH (below tahoe:) or DIRCAP/PATH')
    .addHelpText('after', `
Exit codes: 0 unlinked; 2 no such name, bad path or alias; 69 node not running; 65 the directory cannot be read.`);
  withNodeDirectory(cmd);
  cmd.action(async (paths: string[], _flags: unknown, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const client = await DirectoryClient.forNodeDirectory(dir);
    for (const arg of paths) {
      const target = await resolveGridArgument(dir, arg);
      if (target.path.length === 0) {
        throw new TahoeError('UsageError', `${arg}: cannot unlink a starting directory (an alias or a cap) itself`, { hint: 'name something inside it, e.g. tahoe:NAME; to forget an alias, edit private/aliases' });
      }
      try {
        await client.unlink(target.rootCap, target.path);
      } catch (e) {
        if (e instanceof TahoeError && e.details.httpStatus === 404) {
          throw new TahoeError('NotFound', `${describeGridPath(target)}: no such file or directory`, { hint: 'check the path with `tahoe-ts ls`; names are case-sensitive', cause: e });
        }
        throw e;
      }
    }
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}

export function register(program: Command): void {
  registerAs(program, 'rm');
  registerAs(program, 'unlink');
}
