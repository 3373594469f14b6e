/**
 * `tahoe-ts create-alias ALIAS`, `add-alias ALIAS DIRCAP`, `list-aliases [--json]`: the
 * starting directories in `private/aliases`, as Tahoe-LAFS's commands of the same names
 * (docs/frontends/CLI.rst; src/allmydata/scripts/tahoe_add_alias.py). create-alias makes
 * the directory through the running node (`POST /uri?t=mkdir`); add-alias and
 * list-aliases need no node.
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { addAlias, checkAliasName, readAliases } from '../../config/aliases.js';
import { directoryReadCapOf, formatDirectoryCap, parseDirectoryCap } from '../../dirnode/caps.js';
import { DirectoryClient } from '../../web/directory-client.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

export function register(program: Command): void {
  const create = new Command('create-alias')
    .description('Create a new directory on the grid and remember it as ALIAS (in private/aliases).')
    .argument('<ALIAS>', 'the alias name ("tahoe" is the default alias; a trailing colon is allowed)')
    .option('--format <FORMAT>', 'SDMF or MDMF (default: [client] mutable.format of the node)')
    .addHelpText('after', `
Example: tahoe-ts create-alias tahoe     (then: tahoe-ts ls tahoe:)
The directory's write cap goes into private/aliases only, never to the terminal.
Exit codes: 0 created; 2 bad name or the alias exists; 69 node not running.`);
  withNodeDirectory(create);
  create.action(async (alias: string, flags: { format?: string }, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const name = checkAliasName(alias);
    const existing = (await readAliases(dir)).get(name);
    if (existing !== undefined && existing.line !== 0) {
      throw new TahoeError('UsageError', `Alias "${name}" already exists!`, { hint: 'choose another name; `tahoe-ts list-aliases` shows them' });
    }
    const client = await DirectoryClient.forNodeDirectory(dir);
    const cap = await client.mkdirUnlinked(flags.format);
    await addAlias(dir, name, cap);
    process.stdout.write(`Alias '${name}' created\n`);
  });
  create.copyInheritedSettings(program);
  program.addCommand(create);

  const add = new Command('add-alias')
    .description('Remember an existing directory (by its cap) as ALIAS.')
    .argument('<ALIAS>', 'the alias name')
    .argument('<DIRCAP>', 'a directory cap (URI:DIR2:…, URI:DIR2-RO:…, URI:DIR2-MDMF:…, …)')
    .addHelpText('after', `
Caps on the command line are visible to other users of this machine (ps): on a shared
machine prefer create-alias, or add the line "ALIAS: DIRCAP" to private/aliases yourself.
Exit codes: 0 added; 2 bad name, bad cap, or the alias exists.`);
  withNodeDirectory(add);
  add.action(async (alias: string, cap: string, _flags: unknown, self: Command) => {
    const name = checkAliasName(alias);
    const canonical = formatDirectoryCap(parseDirectoryCap(cap.trim()));
    await addAlias(nodeDirectoryOf(self), name, canonical);
    process.stdout.write(`Alias '${name}' added\n`);
  });
  add.copyInheritedSettings(program);
  program.addCommand(add);

  const list = new Command('list-aliases')
    .description('List the aliases of this node directory.')
    .option('--readonly-uri', 'show the read-only caps')
    .option('--json', 'JSON: {ALIAS: {"readwrite": CAP, "readonly": CAP}} (as Tahoe-LAFS)')
    .addHelpText('after', `
The output holds caps (secrets): anyone who sees a write cap can change the directory.`);
  withNodeDirectory(list);
  list.action(async (flags: { readonlyUri?: boolean; json?: boolean }, self: Command) => {
    const aliases = await readAliases(nodeDirectoryOf(self));
    const names = [...aliases.keys()].sort();
    const details: Record<string, { readwrite: string; readonly: string }> = {};
    for (const name of names) {
      const entry = aliases.get(name);
      if (entry === undefined) continue;
      let readwrite = entry.cap;
      let readonly = entry.cap;
      try {
        const parsed = parseDirectoryCap(entry.cap);
        readwrite = formatDirectoryCap(parsed);
        readonly = formatDirectoryCap(directoryReadCapOf(parsed));
      } catch {
        // shown as written; using it reports the problem with a hint
      }
      details[name] = { readwrite, readonly };
    }
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify(details, null, 4)}\n`);
      return;
    }
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) process.stdout.write(`${name.padStart(width)}: ${flags.readonlyUri === true ? details[name].readonly : details[name].readwrite}\n`);
  });
  list.copyInheritedSettings(program);
  program.addCommand(list);
}
