/**
 * `tahoe-ts admin storage-announcement [-d DIR] [--json]`: print this node's storage
 * server entry in the `private/servers.yaml` form a real Tahoe-LAFS 1.20 client accepts
 * (storage-protocol.md §7), so the client can use this server with no introducer.
 * With --json, print the full announcement dict instead.
 *
 * The output contains the storage swissnum (the fURL/NURL secret): share it only with
 * clients that should use this server.
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { loadNodeDirectory } from '../../config/node-dir.js';
import { FILES, readNodeFile, readNodeKey } from '../../config/keys.js';
import { permutationSeedOf, serverIdOf } from '../../crypto/node-key.js';
import type { ConnectionHint, TubLocation } from '../../net/hints.js';
import { loadStorageIdentity } from '../../storage/identity.js';
import { buildStorageAnnouncement, formatServersYaml } from '../../storage/announcement.js';
import type { StorageAnnouncementInput } from '../../storage/announcement.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { EXIT } from '../exit-codes.js';

/** The hints a storage announcement can carry: tub.location must name them explicitly. */
export function announceableHints(location: TubLocation): ConnectionHint[] {
  if (location.type === 'disabled') {
    throw new TahoeError('ConfigInvalid', 'tub.location is disabled: this node announces no address', {
      hint: 'set [node] tub.location to the address clients should use, e.g. tcp:192.0.2.7:3457 or tor:XXXX.onion:3457',
    });
  }
  const hints: ConnectionHint[] = [];
  for (const item of location.items) {
    if (item.type === 'hint') hints.push(item.hint);
    else if (item.type === 'auto') {
      throw new TahoeError('ConfigInvalid', 'tub.location is AUTO, which names no address clients can copy', {
        hint: 'set [node] tub.location explicitly, e.g. tcp:192.0.2.7:3457 (or tcp:127.0.0.1:PORT for a test grid on one machine)',
      });
    } else if (item.type === 'onion') {
      throw new TahoeError('ConfigInvalid', 'tub.location asks for an onion service whose address is only known once tor has created it', {
        hint: 'start the node once, then put its tor:XXXX.onion:PORT hint into [node] tub.location',
      });
    }
  }
  if (hints.length === 0) {
    throw new TahoeError('ConfigInvalid', 'tub.location names no address (UNREACHABLE)', {
      hint: 'set [node] tub.location to the address clients should use',
    });
  }
  return hints;
}

export async function storageAnnouncementFor(nodeDirectory: string): Promise<{ serverId: string; input: StorageAnnouncementInput }> {
  const { config } = await loadNodeDirectory(nodeDirectory);
  if (!config.storage.enabled) {
    throw new TahoeError('ConfigInvalid', 'this node does not run a storage server ([storage] enabled = false)', {
      hint: 'set [storage] enabled = true in tahoe.cfg to offer storage',
    });
  }
  const hints = announceableHints(config.node.tubLocation);
  const key = await readNodeKey(nodeDirectory);
  if (key === undefined) {
    throw new TahoeError('NodeDirInvalid', `${nodeDirectory} has no ${FILES.nodePrivkey}`, {
      hint: 'create the node with `tahoe-ts create-node`, or start it once so that it creates its key',
    });
  }
  const identity = await loadStorageIdentity(nodeDirectory, { hints });
  const seedFile = (await readNodeFile(nodeDirectory, FILES.permutationSeed))?.trim();
  return {
    serverId: serverIdOf(key.publicKey),
    input: {
      nickname: config.node.nickname,
      furl: identity.furl,
      nurls: identity.nurls,
      permutationSeedBase32: seedFile || permutationSeedOf(key.publicKey),
    },
  };
}

export function register(program: Command): void {
  const admin = new Command('admin').description('Administrative commands for a node directory.');
  const cmd = new Command('storage-announcement')
    .description('Print this storage server\'s entry for a Tahoe-LAFS client\'s private/servers.yaml.')
    .option('--json', 'print the full announcement dict as JSON instead')
    .addHelpText('after', `
Paste the output into private/servers.yaml of a Tahoe-LAFS 1.20 (or tahoe-ts) client, or merge
its "storage:" entry into an existing file, and restart the client. The output holds the storage
secret (swissnum): give it only to clients that should store data here.
See docs/storage-server.md.`);
  withNodeDirectory(cmd);
  cmd.action(async (flags: { json?: boolean }, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const { serverId, input } = await storageAnnouncementFor(dir);
    if (input.nurls.length === 0) {
      process.stderr.write('warning: tub.location has no tcp: or tor: hint, so no HTTPS NURL is announced; Tahoe-LAFS clients will not be able to use this server\n');
    }
    if (flags.json) process.stdout.write(JSON.stringify({ 'server-id': serverId, ann: buildStorageAnnouncement(input) }, null, 2) + '\n');
    else process.stdout.write(formatServersYaml(serverId, input));
    process.exitCode = EXIT.OK;
  });
  cmd.copyInheritedSettings(program);
  admin.addCommand(cmd);
  admin.copyInheritedSettings(program);
  program.addCommand(admin);
}
