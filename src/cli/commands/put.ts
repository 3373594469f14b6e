/**
 * `tahoe-ts put [FILE|-] [TO]`: upload a file through the running node's web gateway, as
 * Tahoe-LAFS's `tahoe put` does, and print its cap on stdout. No FILE or `-` reads stdin.
 * The node is found through `node.url` in the node directory (-d).
 *
 *   put FILE                 PUT /uri: an unlinked immutable file (its read cap)
 *   put --mutable FILE       PUT /uri?format=…: a new mutable file (its write cap)
 *   put FILE ALIAS:PATH      PUT /uri/$DIRCAP/PATH: linked there (parents created; a
 *                            mutable file already there is overwritten in place)
 *   put FILE MUTABLE-WRITECAP  PUT /uri/$WRITECAP: overwrite in place (the same cap)
 *
 * On a terminal a progress line shows the two phases: sending the file to the node,
 * then the node encoding and pushing shares to the grid (polled from
 * `GET /status/?t=json`). Nothing but the cap goes to stdout.
 */
import { Command, Option } from 'commander';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TahoeError } from '../../errors.js';
import { parseCap } from '../../caps/caps.js';
import type { GatewayClient } from '../../web/client.js';
import { DirectoryClient } from '../../web/directory-client.js';
import type { OperationJson } from '../../web/operations.js';
import { resolveGridArgument } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { ProgressLine } from '../progress.js';

interface PutFlags {
  format?: string;
  mutable?: boolean;
  progress?: boolean;
}

export function register(program: Command): void {
  const cmd = new Command('put')
    .description('Upload a file to the grid through the running node; print its cap (read capability).')
    .argument('[FILE]', 'file to upload; "-" or nothing reads stdin')
    .argument('[TO]', 'where to link it: ALIAS:PATH, PATH (below tahoe:), DIRCAP/PATH; or a mutable file\'s write cap to overwrite')
    .addOption(new Option('--format <FORMAT>', 'file format: CHK (immutable), SDMF or MDMF (mutable)').default('CHK'))
    .option('-m, --mutable', 'a mutable file in the node\'s default format ([client] mutable.format); prints its write cap')
    .option('--no-progress', 'no progress line, even on a terminal')
    .addHelpText('after', `
Examples:
  tahoe-ts put photo.jpg                    # unlinked: prints URI:CHK:…
  tahoe-ts put photo.jpg tahoe:photos/a.jpg # linked (photos/ is created if missing)
  tahoe-ts put --mutable notes.txt          # prints URI:SSK:… (the write cap)
  tahoe-ts put notes.txt URI:SSK:…          # overwrites that mutable file, same cap
The cap is a secret: anyone holding it can read the file (a write cap: change it).
Exit codes: 0 uploaded; 2 bad arguments, path or alias; 69 node not running or not enough servers; 65 data problem (a concurrent writer: WriteConflict).`);
  withNodeDirectory(cmd);
  cmd.action(async (file: string | undefined, to: string | undefined, flags: PutFlags, self: Command) => {
    const format = (flags.format ?? 'CHK').toUpperCase();
    if (format !== 'CHK' && format !== 'SDMF' && format !== 'MDMF') throw new TahoeError('UsageError', `--format=${flags.format ?? ''} is not a file format`, { hint: 'use --format=CHK (the default), SDMF or MDMF' });
    const nodeDirectory = nodeDirectoryOf(self);
    const fromStdin = file === undefined || file === '-';
    const destination = to === undefined ? undefined : await putDestination(nodeDirectory, to, fromStdin ? undefined : file);
    const tree = await DirectoryClient.forNodeDirectory(nodeDirectory);
    const client = tree.gateway;
    let size: number | undefined;
    if (!fromStdin) {
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new TahoeError('UsageError', `${file} is not a regular file`, { hint: 'put uploads one file; for stdin use -' });
        size = st.size;
      } catch (e) {
        if (e instanceof TahoeError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        throw new TahoeError('UsageError', `cannot read ${file}: ${code ?? String(e)}`, { hint: code === 'ENOENT' ? 'check the file name' : 'check the file\'s permissions' });
      }
    }
    const source: AsyncIterable<Uint8Array> = fromStdin ? process.stdin : createReadStream(file, { highWaterMark: 256 * 1024 });
    const progress = flags.progress === false ? undefined : new ProgressLine('sending', size);
    let sent = 0;
    const gridPhase = progress === undefined ? undefined : watchGridPhase(client, progress, () => sent, size);
    try {
      const onSent = (n: number): void => {
        sent = n;
        progress?.update(n);
      };
      const writeOptions = { format, mutable: flags.mutable === true, onSent };
      const cap = destination === undefined
        ? (await tree.put(undefined, [], source, size, writeOptions)).cap
        : destination.kind === 'overwrite'
          ? await tree.overwrite(destination.cap, source, size, { onSent })
          : (await tree.put(destination.rootCap, destination.path, source, size, writeOptions)).cap;
      gridPhase?.stop();
      progress?.clear();
      process.stdout.write(`${cap}\n`);
    } catch (e) {
      gridPhase?.stop();
      progress?.clear();
      throw e;
    }
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}

type PutDestination = { kind: 'overwrite'; cap: string } | { kind: 'path'; rootCap: string; path: readonly string[] };

/** TO: a mutable write cap (overwrite in place) or a path where the new file is linked. */
async function putDestination(nodeDirectory: string, to: string, localFile: string | undefined): Promise<PutDestination> {
  const text = to.trim();
  if (text.startsWith('URI:') && !text.includes('/') && !text.includes(':./')) {
    const cap = parseCap(text);
    if (cap.type === 'SSK' || cap.type === 'MDMF') return { kind: 'overwrite', cap: text };
    if (!cap.type.startsWith('DIR2')) {
      throw new TahoeError('UsageError', `put FILE ${cap.type === 'unknown' ? 'CAP' : `URI:${cap.type}:…`}: only a mutable file's write cap can be overwritten`, {
        hint: cap.type === 'SSK-RO' || cap.type === 'MDMF-RO' ? 'this is a read cap: use the write cap (URI:SSK:… or URI:MDMF:…)' : 'to link the new file into a directory give DIRCAP/NAME or ALIAS:NAME',
      });
    }
  }
  const target = await resolveGridArgument(nodeDirectory, text);
  if (target.trailingSlash || target.path.length === 0) {
    if (localFile === undefined) throw new TahoeError('UsageError', `put - ${to}: give the new file's name (${to.replace(/\/?$/, '/')}NAME)`, { hint: 'data from stdin has no name of its own' });
    return { kind: 'path', rootCap: target.rootCap, path: [...target.path, path.basename(localFile)] };
  }
  return { kind: 'path', rootCap: target.rootCap, path: target.path };
}

/**
 * Once the whole file is with the node, show what the node does with it: poll the
 * gateway's active operations and follow the upload of our size.
 */
function watchGridPhase(client: GatewayClient, progress: ProgressLine, sentBytes: () => number, size: number | undefined): { stop(): void } {
  let stopped = false;
  let inGridPhase = false;
  let currentLabel = '';
  const abort = new AbortController();
  const timer = setInterval(() => {
    if (stopped || size === undefined || sentBytes() < size) return;
    void client.activeOperations(abort.signal).then((ops) => {
      if (stopped) return;
      const op = pickUpload(ops, size);
      if (op === undefined) return;
      const label = op.phase === 'hashing' ? 'hashing' : op.phase === 'placing' ? 'placing' : op.phase === 'receiving' ? 'sending' : 'pushing';
      if (!inGridPhase || label !== currentLabel) {
        inGridPhase = true;
        currentLabel = label;
        progress.phase(label, op['total-size']);
      }
      progress.update(op['bytes-done']);
    }, () => undefined);
  }, 500);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      abort.abort();
    },
  };
}

/** The newest upload of our size (several concurrent uploads of one size are rare and harmless to confuse). */
function pickUpload(ops: OperationJson[], size: number): OperationJson | undefined {
  return ops.filter((o) => o.type === 'upload' && o['total-size'] === size).sort((a, b) => b.started - a.started)[0];
}
