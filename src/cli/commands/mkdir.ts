/**
 * `tahoe-ts mkdir [PATH]`: a new directory through the running node, as Tahoe-LAFS's
 * `tahoe mkdir` (docs/frontends/CLI.rst). Without PATH the directory is unlinked and its
 * write cap is printed; with PATH (ALIAS:PATH, PATH below tahoe:, DIRCAP/PATH) it is
 * created there, with any missing parents, and its cap is printed. An existing
 * directory at PATH is left as it is.
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { DirectoryClient } from '../../web/directory-client.js';
import { resolveGridArgument } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

export function register(program: Command): void {
  const cmd = new Command('mkdir')
    .description('Create a directory on the grid (unlinked, or at PATH) and print its write cap.')
    .argument('[PATH]', 'where to create it: ALIAS:PATH, PATH (below tahoe:) or DIRCAP/PATH')
    .option('--format <FORMAT>', 'SDMF or MDMF (default: [client] mutable.format of the node)')
    .addHelpText('after', `
Examples:
  tahoe-ts mkdir                      # a new unlinked directory: prints URI:DIR2:…
  tahoe-ts mkdir tahoe:photos/2026    # creates photos/ too if it is missing
Exit codes: 0 created (or already there); 2 bad path or alias; 69 node not running; 1 a file is in the way.`);
  withNodeDirectory(cmd);
  cmd.action(async (pathArg: string | undefined, flags: { format?: string }, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const format = flags.format?.toUpperCase();
    if (format !== undefined && format !== 'SDMF' && format !== 'MDMF') {
      throw new TahoeError('UsageError', `--format=${flags.format ?? ''}: directories are SDMF or MDMF`, { hint: 'use --format=SDMF or --format=MDMF' });
    }
    const client = await DirectoryClient.forNodeDirectory(dir);
    if (pathArg === undefined) {
      process.stdout.write(`${await client.mkdirUnlinked(format)}\n`);
      return;
    }
    const target = await resolveGridArgument(dir, pathArg);
    process.stdout.write(`${await client.mkdirAt(target.rootCap, target.path, format)}\n`);
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
