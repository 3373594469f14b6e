/**
 * `tahoe-ts ln FROM TO`: link the file or directory at FROM (a path, or a cap) at TO as
 * well, like a Unix hard link, as Tahoe-LAFS's `tahoe ln`. Both names then lead to the
 * same object; changing a mutable one through either name changes it for both.
 */
import { Command } from 'commander';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { linkPath } from './mv.js';

export function register(program: Command): void {
  const cmd = new Command('ln')
    .description('Link an existing file or directory (by path or cap) at another path.')
    .argument('<FROM>', 'ALIAS:PATH, PATH (below tahoe:), DIRCAP/PATH, or a cap')
    .argument('<TO>', 'the new path; an existing directory (or a path ending in "/") receives it under its own name')
    .addHelpText('after', `
Examples: tahoe-ts ln tahoe:photos work:shared-photos; tahoe-ts ln URI:CHK:… tahoe:docs/manual.pdf
Exit codes: 0 linked; 2 no such FROM, bad path or alias, a directory in the way; 69 node not running.`);
  withNodeDirectory(cmd);
  cmd.action(async (from: string, to: string, _flags: unknown, self: Command) => {
    await linkPath(nodeDirectoryOf(self), from, to, false);
    process.stdout.write('OK\n');
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
