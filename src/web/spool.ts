/**
 * Spool files: an upload's body goes to a private temporary file in the node's
 * `[node] tempdir` (default `tmp/`) before it is encoded, because a convergent key is a
 * hash of the whole plaintext and the encoder must then read the plaintext a second
 * time (shared/specs/tahoe-formats.md §6; Tahoe-LAFS spools the same way). Memory stays
 * flat: bytes go to disk as they arrive and come back in fixed-size reads.
 *
 * A spool file is created 0600 with a random name, and removed when the request ends —
 * also when the client disconnects or the upload fails. Files left behind by a crash
 * carry the `SPOOL_PREFIX` and are removed at the next gateway start.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../errors.js';
import type { ByteSource } from '../immutable/source.js';

export const SPOOL_PREFIX = 'tahoe-ts-upload-';
const READ_CHUNK = 256 * 1024;

function diskError(action: string, e: unknown): TahoeError {
  const code = (e as NodeJS.ErrnoException).code;
  return new TahoeError('DiskError', `cannot ${action} the upload's spool file: ${code ?? (e instanceof Error ? e.message : String(e))}`, {
    cause: e,
    details: { code },
    hint: code === 'ENOSPC'
      ? 'the disk holding [node] tempdir is full: uploads are spooled there first; free space or point tempdir elsewhere'
      : 'check that [node] tempdir (default tmp/ in the node directory) exists and is writable',
  });
}

export class SpoolFile {
  private written = 0;
  private closed = false;

  private constructor(readonly path: string, private handle: FileHandle | undefined) {}

  /** Create an empty spool file in `dir` (created 0700 if missing). */
  static async create(dir: string): Promise<SpoolFile> {
    const file = path.join(dir, `${SPOOL_PREFIX}${randomBytes(12).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(file, 'wx', 0o600);
      return new SpoolFile(file, handle);
    } catch (e) {
      throw diskError('create', e);
    }
  }

  get size(): number {
    return this.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.handle === undefined) throw new TahoeError('Internal', 'write to a finished spool file');
    let offset = 0;
    try {
      while (offset < chunk.length) {
        const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
    } catch (e) {
      throw diskError('write', e);
    }
    this.written += chunk.length;
  }

  /** Close for writing; the contents can then be read any number of times. */
  async finish(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    try {
      await h?.close();
    } catch (e) {
      throw diskError('close', e);
    }
  }

  /** A fresh pass over the spooled bytes for each call; every chunk is a new buffer the consumer may keep. */
  source(): ByteSource {
    return () => createReadStream(this.path, { highWaterMark: READ_CHUNK }) as AsyncIterable<Uint8Array>;
  }

  /**
   * Like `source()`, but every pass reads into one buffer of its own, so a chunk is valid
   * only until the next one is asked for. For consumers that hash or copy each chunk before
   * asking for the next (the CHK uploader: convergence pass, encoder): a gigabyte upload
   * then allocates 256 KiB per pass instead of two gigabytes that the GC must reclaim.
   */
  transientSource(): ByteSource {
    const file = this.path;
    return async function* () {
      let handle: FileHandle;
      try {
        handle = await open(file, 'r');
      } catch (e) {
        throw diskError('read', e);
      }
      try {
        const buffer = Buffer.allocUnsafe(READ_CHUNK);
        for (;;) {
          let bytesRead: number;
          try {
            ({ bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null));
          } catch (e) {
            throw diskError('read', e);
          }
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close().catch(() => undefined);
      }
    };
  }

  /** Delete the file (idempotent; never throws). */
  async remove(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.handle?.close();
    } catch {
      // already closed or failed: removal below is what matters
    }
    this.handle = undefined;
    await rm(this.path, { force: true }).catch(() => undefined);
  }
}

/** Remove spool files a crashed gateway left in `dir`. Returns how many were removed. */
export async function removeStaleSpools(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const stale = names.filter((n) => n.startsWith(SPOOL_PREFIX));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true }).catch(() => undefined)));
  return stale.length;
}
