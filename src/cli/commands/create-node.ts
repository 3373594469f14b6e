/**
 * `tahoe-ts create-node | create-client | create-introducer [DIR]`: make a node directory
 * with Tahoe-LAFS 1.20's options (shared/specs/configuration.md §4). Printing only; the
 * work is config/create.ts.
 */
import { Command, Option } from 'commander';
import path from 'node:path';
import { TahoeError } from '../../errors.js';
import { createNode, LISTENERS, type CreateNodeOptions, type CreatedNode, type ListenerName } from '../../config/create.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

interface CreateFlags {
  basedir?: string;
  nodeDirectory?: string;
  nickname?: string;
  introducer?: string;
  listen?: string;
  hostname?: string;
  port?: string;
  location?: string;
  hideIp?: boolean;
  sharesNeeded?: string;
  sharesHappy?: string;
  sharesTotal?: string;
  webport?: string;
  torLaunch?: boolean;
  torControlPort?: string;
  torExecutable?: string;
  i2pLaunch?: boolean;
  i2pSamPort?: string;
  i2pExecutable?: string;
  storageDir?: string;
  storage?: boolean;
  helper?: boolean;
}

type Kind = CreateNodeOptions['command'];

function shareCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new TahoeError('UsageError', `--${name} must be a whole number, not "${value}"`, { hint: 'the defaults are --shares-needed=3 --shares-happy=7 --shares-total=10' });
  return Number(value.trim());
}

function listeners(value: string | undefined): ListenerName[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim().toLowerCase());
  for (const l of items) {
    if (!(LISTENERS as readonly string[]).includes(l)) {
      throw new TahoeError('UsageError', `--listen=${value}: "${l}" is not a listener type`, { hint: `use a comma list of ${LISTENERS.join(', ')} (e.g. --listen=tor,i2p)` });
    }
  }
  return items as ListenerName[];
}

/** The target directory: positional DIR, else -C/--basedir, else -d (before or after the command). */
function targetDirectory(kind: Kind, dirArg: string | undefined, flags: CreateFlags, cmd: Command): string {
  const given = [dirArg, flags.basedir].filter((d): d is string => d !== undefined);
  if (given.length > 1 && path.resolve(given[0]) !== path.resolve(given[1])) {
    throw new TahoeError('UsageError', 'the node directory is given twice (DIR and --basedir) with different values', { hint: 'give it once' });
  }
  if (given.length > 0) return path.resolve(given[0]);
  const explicitD = cmd.opts<CreateFlags>().nodeDirectory ?? cmd.parent?.opts<CreateFlags>().nodeDirectory ?? process.env.TAHOE_TS_NODE_DIRECTORY;
  if (kind === 'create-introducer' && explicitD === undefined) {
    throw new TahoeError('UsageError', 'create-introducer needs a directory', { hint: 'run `tahoe-ts create-introducer DIR`' });
  }
  return nodeDirectoryOf(cmd);
}

function print(created: CreatedNode, kind: Kind): void {
  const out = process.stdout;
  out.write(`${kind === 'create-introducer' ? 'Introducer' : 'Node'} created in ${created.directory}\n`);
  out.write(`  server ID:    ${created.serverId}\n`);
  out.write(`  tub.port:     ${created.tubPort}\n`);
  out.write(`  tub.location: ${created.tubLocation}\n`);
  if (created.onionAddress !== undefined) out.write(`  onion service: ${created.onionAddress} (key in private/tor_onion.privkey)\n`);
  if (created.i2pAddress !== undefined) out.write(`  I2P destination: ${created.i2pAddress} (key in private/i2p_dest.privkey)\n`);
  for (const note of created.notes) out.write(` Note: ${note}\n`);
}

function addWhereOptions(cmd: Command): Command {
  return cmd
    .option('--listen <LIST>', `comma list of listener types: ${LISTENERS.join(', ')}`, 'tcp')
    .option('--hostname <NAME>', 'with --listen=tcp: the name or address others reach this node at (a free port is chosen)')
    .option('--port <ENDPOINT>', 'listen on this endpoint (e.g. tcp:3457:interface=127.0.0.1); needs --location')
    .option('--location <HINTS>', 'announce these connection hints (e.g. tor:ADDR.onion:3457); needs --port')
    .option('--tor-launch', 'with --listen=tor: launch a private tor when the node starts')
    .option('--tor-control-port <ENDPOINT>', 'with --listen=tor: control port of a running tor (e.g. unix:/var/run/tor/control)')
    .option('--tor-executable <PATH>', 'with --tor-launch: the tor binary (default: tor on $PATH)')
    .option('--i2p-launch', 'with --listen=i2p: launch an I2P router when the node starts')
    .option('--i2p-sam-port <ENDPOINT>', 'with --listen=i2p: SAM bridge of a running router (default tcp:127.0.0.1:7656)')
    .option('--i2p-executable <PATH>', 'with --i2p-launch: the router binary');
}

function addClientOptions(cmd: Command, webDefault: string): Command {
  return cmd
    .option('-n, --nickname <NAME>', 'the node\'s nickname')
    .option('-i, --introducer <URL>', 'introducer fURL, or its NURLs (space-separated, quoted), written to private/introducers.yaml as "default"')
    .option('-p, --webport <ENDPOINT>', `web gateway endpoint, or "none" (default ${webDefault})`)
    .option('--shares-needed <K>', 'shares needed to read a file (default 3)')
    .option('--shares-happy <H>', 'servers that must hold shares for an upload to succeed (default 7)')
    .option('--shares-total <N>', 'shares written per file (default 10)');
}

function register1(program: Command, kind: Kind): void {
  const descriptions: Record<Kind, string> = {
    'create-node': 'Create a node directory for a client and storage server.',
    'create-client': 'Create a node directory for a client only (it does not listen and stores nothing for others).',
    'create-introducer': 'Create a node directory for an introducer.',
  };
  const cmd = new Command(kind)
    .description(descriptions[kind])
    .argument('[DIR]', 'the node directory to create (must not exist, or be empty)')
    .option('-C, --basedir <DIR>', 'the node directory (same as DIR)')
    .option('--hide-ip', 'refuse anything that could reveal this node\'s IP address (reveal-IP-address = false, [connections] tcp = tor)');
  withNodeDirectory(cmd);
  if (kind !== 'create-introducer') addClientOptions(cmd, 'tcp:3456:interface=127.0.0.1');
  else cmd.option('-n, --nickname <NAME>', 'the introducer\'s nickname');
  if (kind === 'create-node') {
    cmd.option('--storage-dir <PATH>', 'where to keep shares (default: storage/ in the node directory)');
    cmd.addOption(new Option('--no-storage', 'do not offer storage to other nodes'));
    cmd.option('--helper', 'run an upload helper (not implemented by tahoe-ts yet)');
  }
  if (kind !== 'create-client') addWhereOptions(cmd);
  const examples = kind === 'create-client'
    ? ['tahoe-ts create-client --introducer=pb://… ~/.tahoe-ts', 'tahoe-ts create-client --hide-ip --introducer=pb://… DIR      (reaches every server through Tor)']
    : [`tahoe-ts ${kind} --hostname=example.net DIR`, `tahoe-ts ${kind} --listen=tor --tor-launch --hide-ip DIR      (onion-only)`, `tahoe-ts ${kind} --listen=tor,i2p --hide-ip DIR`];
  cmd.addHelpText('after', `
Examples:
${examples.map((e) => `  ${e}`).join('\n')}

Exit codes: 0 created; 2 bad or conflicting options; 78 the directory is not empty or
the options would make a node that could reveal its IP address.
See docs/cli.md and docs/configuration.md.`);
  cmd.action(async (dirArg: string | undefined, flags: CreateFlags, self: Command) => {
    const directory = targetDirectory(kind, dirArg, flags, self);
    const created = await createNode({
      directory,
      command: kind,
      nickname: flags.nickname,
      introducer: flags.introducer,
      listen: kind === 'create-client' ? undefined : listeners(flags.listen),
      hostname: flags.hostname,
      port: flags.port,
      location: flags.location,
      hideIp: flags.hideIp ?? false,
      sharesNeeded: shareCount('shares-needed', flags.sharesNeeded),
      sharesHappy: shareCount('shares-happy', flags.sharesHappy),
      sharesTotal: shareCount('shares-total', flags.sharesTotal),
      webport: flags.webport,
      torLaunch: flags.torLaunch ?? false,
      torControlPort: flags.torControlPort,
      torExecutable: flags.torExecutable,
      i2pLaunch: flags.i2pLaunch ?? false,
      i2pSamPort: flags.i2pSamPort,
      i2pExecutable: flags.i2pExecutable,
      storageDir: flags.storageDir,
      noStorage: flags.storage === false,
      helper: flags.helper ?? false,
    });
    print(created, kind);
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}

export function register(program: Command): void {
  register1(program, 'create-node');
  register1(program, 'create-client');
  register1(program, 'create-introducer');
}
