/**
 * Key files of the transports (an onion service's key, an I2P destination's keys): written
 * whole or not at all, mode 0600, and durable once the call returns — temporary file,
 * fsync, rename (or link, which refuses an existing file), fsync of the directory. A key
 * that has been announced and is then lost to a power cut changes the node's address for
 * good. config/keys.ts writes the node's own keys the same way (net/ may not import config/).
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Write `data` to `target` (mode 0600); with `exclusive`, fail with EEXIST instead of
 * replacing an existing file. Throws the file system's own errors: callers name the file
 * and the fix.
 */
export async function writeKeyFile(target: string, data: string | Uint8Array, options: { exclusive?: boolean } = {}): Promise<void> {
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temporary, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.exclusive === true) await fs.link(temporary, target);
    else await fs.rename(temporary, target);
  } finally {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
  }
  const directory = await fs.open(path.dirname(target), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
