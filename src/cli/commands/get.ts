/**
 * `tahoe-ts get FROM [OUT|-]`: download a file through the running node's web gateway
 * (`GET /uri/$CAP` or `GET /uri/$DIRCAP/PATH`, as Tahoe-LAFS's `tahoe get` does). FROM is
 * a cap, ALIAS:PATH, a PATH below the tahoe: alias, or DIRCAP/PATH. No OUT or `-` writes
 * to stdout.
 *
 * OUT is written through a temporary file beside it and renamed into place only when
 * every byte announced by the gateway has arrived (the gateway has verified them
 * against the cap's hashes): a failed or interrupted download never leaves a truncated
 * file under OUT, and never clobbers an existing OUT with one.
 */
import { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { TahoeError } from '../../errors.js';
import { parseCap } from '../../caps/caps.js';
import { DirectoryClient } from '../../web/directory-client.js';
import { resolveGridArgument, type GridPath } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { ProgressLine } from '../progress.js';
import { SECRET_ARGUMENT_HELP, secretArgument } from '../secret-argument.js';

interface GetFlags {
  progress?: boolean;
}

export function register(program: Command): void {
  const cmd = new Command('get')
    .description('Download a file from the grid through the running node.')
    .argument('<FROM>', `the file: a cap (URI:CHK:…, URI:LIT:…, URI:SSK:…, URI:MDMF:…), ALIAS:PATH, PATH (below tahoe:) or DIRCAP/PATH; ${SECRET_ARGUMENT_HELP} (a file named "-" is tahoe:-)`)
    .argument('[OUT]', 'where to write it; "-" or nothing writes to stdout')
    .option('--no-progress', 'no progress line, even on a terminal')
    .addHelpText('after', `
Exit codes: 0 downloaded; 2 bad cap, path or arguments, no such file; 69 node not running; 65 file not retrievable (not enough shares).`);
  withNodeDirectory(cmd);
  cmd.action(async (fromText: string, out: string | undefined, flags: GetFlags, self: Command) => {
    const nodeDirectory = nodeDirectoryOf(self);
    const from = await sourceOf(nodeDirectory, await secretArgument(fromText, 'cap', 'tahoe-ts get - OUT < cap.txt'));
    const client = await DirectoryClient.forNodeDirectory(nodeDirectory);
    const toStdout = out === undefined || out === '-';
    const partial = toStdout ? undefined : path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.tahoe-ts-${randomBytes(6).toString('hex')}.part`);
    let interrupted = false;
    const onSigint = (): void => {
      interrupted = true;
      void (partial === undefined ? Promise.resolve() : rm(partial, { force: true })).finally(() => process.exit(EXIT.INTERRUPTED));
    };
    process.once('SIGINT', onSigint);
    const progress = flags.progress === false ? undefined : new ProgressLine('receiving', undefined);
    try {
      const { size, body } = await client.download(from.rootCap, from.path).catch((e: unknown) => {
        if (e instanceof TahoeError && e.details.httpStatus === 404) {
          throw new TahoeError('NotFound', `${fromText}: no such file`, { hint: 'check the path with `tahoe-ts ls`; names are case-sensitive', cause: e });
        }
        throw e;
      });
      progress?.phase('receiving', size);
      const sink: Writable = partial === undefined ? process.stdout : createWriteStream(partial, { flags: 'wx', mode: 0o644 });
      const sinkError = new Promise<never>((_, reject) => sink.once('error', (e: NodeJS.ErrnoException) => reject(sinkFailure(e, out))));
      sinkError.catch(() => undefined);
      let received = 0;
      const copy = (async () => {
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            received += chunk.length;
            progress?.update(received);
            if (!sink.write(chunk)) await once(sink, 'drain');
          }
        } catch (e) {
          throw new TahoeError('ServerUnreachable', `the download broke off after ${received} of ${size} bytes`, { cause: e, hint: 'the node lost the connection or its servers; see its log (logs/tahoe-ts.log) and retry' });
        }
      })();
      await Promise.race([copy, sinkError]);
      if (received !== size) {
        throw new TahoeError('IntegrityError', `the node sent ${received} of ${size} bytes: the file could not be read completely`, { hint: 'not enough servers may be reachable; see the node\'s welcome page, then retry' });
      }
      if (partial !== undefined) {
        sink.end();
        await Promise.race([once(sink, 'close'), sinkError]);
        await rename(partial, path.resolve(out as string));
      }
      progress?.clear();
    } catch (e) {
      progress?.clear();
      if (partial !== undefined) await rm(partial, { force: true });
      if (interrupted) return;
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}

/** FROM as a cap or a path; a word that is neither a cap nor under an existing alias is a bad cap (exit 2). */
async function sourceOf(nodeDirectory: string, fromText: string): Promise<GridPath> {
  const text = fromText.trim();
  if (text.startsWith('URI:') && !text.includes('/') && !text.includes(':./') && parseCap(text).type === 'unknown') {
    throw new TahoeError('CapInvalid', 'the first argument is not a cap', { hint: 'caps start with URI: (e.g. URI:CHK:…); check that the whole cap was copied' });
  }
  try {
    return await resolveGridArgument(nodeDirectory, text);
  } catch (e) {
    if (e instanceof TahoeError && e.details.reason === 'no-default-alias') {
      throw new TahoeError('CapInvalid', `"${text.slice(0, 60)}" is not a cap, and there is no tahoe: alias to find it under`, {
        hint: 'give a cap (URI:…) or ALIAS:PATH; `tahoe-ts create-alias tahoe` creates the default alias',
        cause: e,
      });
    }
    throw e;
  }
}

function sinkFailure(e: NodeJS.ErrnoException, out: string | undefined): TahoeError {
  if (e.code === 'EPIPE') return new TahoeError('Aborted', 'stdout was closed before the download finished', { hint: 'the program reading the output stopped early' });
  return new TahoeError('DiskError', `cannot write ${out ?? 'stdout'}: ${e.code ?? e.message}`, {
    cause: e,
    details: { code: e.code },
    hint: e.code === 'ENOSPC' ? 'the disk is full' : e.code === 'EACCES' ? 'check the permissions of the output directory' : 'check the output path',
  });
}
