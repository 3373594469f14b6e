/**
 * `tahoe-ts get CAP [OUT|-]`: download a file through the running node's web gateway
 * (`GET /uri/$CAP`, as Tahoe-LAFS's `tahoe get` does). No OUT or `-` writes to stdout.
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
import { GatewayClient } from '../../web/client.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { ProgressLine } from '../progress.js';

interface GetFlags {
  progress?: boolean;
}

export function register(program: Command): void {
  const cmd = new Command('get')
    .description('Download a file from the grid through the running node.')
    .argument('<CAP>', 'the file\'s cap (URI:CHK:… or URI:LIT:…)')
    .argument('[OUT]', 'where to write it; "-" or nothing writes to stdout')
    .option('--no-progress', 'no progress line, even on a terminal')
    .addHelpText('after', `
Exit codes: 0 downloaded; 2 bad cap or arguments; 69 node not running; 65 file not retrievable (not enough shares).`);
  withNodeDirectory(cmd);
  cmd.action(async (capText: string, out: string | undefined, flags: GetFlags, self: Command) => {
    const cap = capText.trim();
    if (parseCap(cap).type === 'unknown') {
      throw new TahoeError('CapInvalid', 'the first argument is not a cap', { hint: 'caps start with URI: (e.g. URI:CHK:…); check that the whole cap was copied' });
    }
    const client = await GatewayClient.forNodeDirectory(nodeDirectoryOf(self));
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
      const { size, body } = await client.getFile(cap);
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

function sinkFailure(e: NodeJS.ErrnoException, out: string | undefined): TahoeError {
  if (e.code === 'EPIPE') return new TahoeError('Aborted', 'stdout was closed before the download finished', { hint: 'the program reading the output stopped early' });
  return new TahoeError('DiskError', `cannot write ${out ?? 'stdout'}: ${e.code ?? e.message}`, {
    cause: e,
    details: { code: e.code },
    hint: e.code === 'ENOSPC' ? 'the disk is full' : e.code === 'EACCES' ? 'check the permissions of the output directory' : 'check the output path',
  });
}
