/**
 * `tahoe-ts webopen [PATH]`: the web gateway's page for a directory or file, as
 * Tahoe-LAFS's `tahoe webopen`. tahoe-ts prints the URL instead of starting a browser: the
 * node's code never starts other programs (a browser could reach the network on its own,
 * outside the privacy policy), and on a headless machine there is nothing to start. Open
 * it yourself: `xdg-open "$(tahoe-ts webopen tahoe:)"`.
 */
import { Command } from 'commander';
import { readNodeUrl } from '../../web/client.js';
import { treePath } from '../../web/directory-client.js';
import { resolveGridArgument } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

export function register(program: Command): void {
  const cmd = new Command('webopen')
    .description('Print the web gateway URL of a directory or file (default: the tahoe: alias).')
    .argument('[PATH]', 'ALIAS:PATH, PATH (below tahoe:), DIRCAP/PATH or a cap')
    .option('--info', 'the ?t=json page instead of the HTML listing')
    .addHelpText('after', `
The URL contains the cap: anyone who gets it can open the directory. Open it in a browser
on this machine only (the gateway listens on loopback).`);
  withNodeDirectory(cmd);
  cmd.action(async (pathArg: string | undefined, flags: { info?: boolean }, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const base = await readNodeUrl(dir);
    const target = await resolveGridArgument(dir, pathArg);
    const isDirectory = target.path.length === 0 || target.trailingSlash;
    const url = new URL(`${treePath(target.rootCap, target.path, isDirectory && target.rootCap.startsWith('URI:DIR2'))}${flags.info === true ? '?t=json' : ''}`, base);
    process.stdout.write(`${url.href}\n`);
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
