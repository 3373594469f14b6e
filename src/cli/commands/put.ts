/**
 * `tahoe-ts put [FILE|-]`: upload a file through the running node's web gateway
 * (`PUT /uri`, as Tahoe-LAFS's `tahoe put` does) and print its cap on stdout. No FILE
 * or `-` reads stdin. The node is found through `node.url` in the node directory (-d).
 *
 * On a terminal a progress line shows the two phases: sending the file to the node,
 * then the node encoding and pushing shares to the grid (polled from
 * `GET /status/?t=json`). Nothing but the cap goes to stdout.
 */
import { Command, Option } from 'commander';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { TahoeError } from '../../errors.js';
import { GatewayClient } from '../../web/client.js';
import type { OperationJson } from '../../web/operations.js';
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
    .argument('[TO]', '(Tahoe-LAFS: a directory path; not supported yet)')
    .addOption(new Option('--format <FORMAT>', 'file format: CHK (immutable; SDMF and MDMF are not supported yet)').default('CHK'))
    .option('-m, --mutable', '(not supported yet: mutable files)')
    .option('--no-progress', 'no progress line, even on a terminal')
    .addHelpText('after', `
The cap is a secret: anyone holding it can read the file.
Exit codes: 0 uploaded; 2 bad arguments; 69 node not running or not enough servers; 65 data problem.`);
  withNodeDirectory(cmd);
  cmd.action(async (file: string | undefined, to: string | undefined, flags: PutFlags, self: Command) => {
    if (to !== undefined) {
      throw new TahoeError('UsageError', `put FILE ${to}: uploading into a directory is not supported yet`, { hint: 'run `tahoe-ts put FILE` to upload an unlinked file and keep the printed cap' });
    }
    const format = (flags.format ?? 'CHK').toUpperCase();
    if (flags.mutable === true || format === 'SDMF' || format === 'MDMF') {
      throw new TahoeError('UsageError', 'mutable files (--mutable, --format=SDMF/MDMF) are not supported by tahoe-ts yet', { hint: 'leave out --mutable/--format to upload an immutable file' });
    }
    if (format !== 'CHK') throw new TahoeError('UsageError', `--format=${flags.format ?? ''} is not a file format`, { hint: 'use --format=CHK (the default)' });
    const client = await GatewayClient.forNodeDirectory(nodeDirectoryOf(self));
    const fromStdin = file === undefined || file === '-';
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
      const cap = await client.putFile(source, size, {
        onSent: (n) => {
          sent = n;
          progress?.update(n);
        },
      });
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
