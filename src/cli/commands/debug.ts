/**
 * `tahoe-ts debug chk-cap | encode | decode`: the immutable-file formats (docs/formats.md)
 * on local files, without any server. `encode` writes exactly the bytes a client would
 * send to storage servers, one file per share number; `decode` reads them back with full
 * verification from whichever share files are present.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { formatCap, parseImmutableFileCap } from '../../caps/caps.js';
import { base32Encode } from '../../crypto/base32.js';
import { readSecret } from '../../config/keys.js';
import { parseConvergenceSecret } from '../../immutable/convergence.js';
import { ChkFileReader, type ShareReader } from '../../immutable/decoder.js';
import { encodeChk, planChkUpload, type ShareSink } from '../../immutable/encoder.js';
import { isLiteralSize, litCap } from '../../immutable/lit.js';
import { DEFAULT_ENCODING, type EncodingParameters } from '../../immutable/params.js';
import type { ByteSource } from '../../immutable/source.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { SECRET_ARGUMENT_HELP, secretArgument } from '../secret-argument.js';

interface EncodingFlags {
  convergence?: string;
  needed: string;
  total: string;
  maxSegmentSize: string;
}

function integerOption(value: string, flag: string, min: number): number {
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new TahoeError('UsageError', `${flag} must be a whole number ≥ ${min}, not ${JSON.stringify(value)}`, { hint: `see \`tahoe-ts debug --help\`` });
  }
  return Number(value);
}

function encodingParameters(flags: EncodingFlags): EncodingParameters {
  return {
    k: integerOption(flags.needed, '-k', 1),
    n: integerOption(flags.total, '-N', 1),
    maxSegmentSize: integerOption(flags.maxSegmentSize, '--max-segment-size', 1),
  };
}

/** `--convergence` wins; else the node directory's private/convergence; else a clear error. */
async function convergenceSecret(flags: EncodingFlags, cmd: Command): Promise<Buffer> {
  if (flags.convergence !== undefined) return parseConvergenceSecret(flags.convergence, '--convergence');
  const nodeDirectory = nodeDirectoryOf(cmd);
  const secret = await readSecret(nodeDirectory, 'convergence');
  if (secret === undefined) {
    throw new TahoeError('UsageError', `no convergence secret: ${path.join(nodeDirectory, 'private', 'convergence')} does not exist`, {
      hint: 'pass --convergence <base32> (the text of a node\'s private/convergence), or -d NODEDIR for a node that has one',
    });
  }
  return secret;
}

async function openInput(file: string): Promise<{ size: number; source: ByteSource }> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (cause) {
    throw new TahoeError('BadInput', `cannot read ${file}: ${(cause as Error).message}`, { cause, hint: 'check the path and its permissions' });
  }
  if (!stat.isFile()) throw new TahoeError('BadInput', `${file} is not a regular file`, { hint: 'give the path of a file to encode' });
  // A fresh stream per pass: convergent keys read the file twice.
  return { size: stat.size, source: () => createReadStream(file, { highWaterMark: 1 << 20 }) };
}

async function readSmall(file: string, size: number): Promise<Buffer> {
  const data = await fs.readFile(file);
  if (data.length !== size) throw new TahoeError('BadInput', `${file} changed while it was being read`, { hint: 'encode a file that is not being written to' });
  return data;
}

/** One file per share number in `dir`, written at the offsets the encoder asks for. */
class DirectorySink implements ShareSink {
  private readonly handles = new Map<number, fs.FileHandle>();
  constructor(private readonly dir: string) {}
  async writeShare(shareNumber: number, offset: number, bytes: Uint8Array): Promise<void> {
    let handle = this.handles.get(shareNumber);
    if (handle === undefined) {
      handle = await fs.open(path.join(this.dir, String(shareNumber)), 'w', 0o644);
      this.handles.set(shareNumber, handle);
    }
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, offset + written);
      written += bytesWritten;
    }
  }
  async close(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.close()));
  }
}

/** A share file read with positioned reads. */
class FileShareReader implements ShareReader {
  constructor(readonly shareNumber: number, readonly description: string, private readonly handle: fs.FileHandle) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  }
}

function diskError(cause: unknown, what: string): TahoeError {
  return new TahoeError('DiskError', `${what}: ${(cause as Error).message}`, { cause, hint: 'check the path, free space and permissions' });
}

async function chkCapCommand(file: string, flags: EncodingFlags, cmd: Command): Promise<void> {
  const { size, source } = await openInput(file);
  if (isLiteralSize(size)) {
    process.stdout.write(formatCap(litCap(await readSmall(file, size))) + '\n');
    return;
  }
  const params = encodingParameters(flags);
  const upload = await planChkUpload({ params, size, source, convergenceSecret: await convergenceSecret(flags, cmd) });
  // The UEB hash needs every share's hashes, so the cap needs a full encode; the sink drops the bytes.
  const result = await encodeChk(upload, source, { writeShare: async () => undefined });
  process.stdout.write(result.capString + '\n');
}

async function encodeCommand(file: string, flags: EncodingFlags & { out: string }, cmd: Command): Promise<void> {
  const { size, source } = await openInput(file);
  if (isLiteralSize(size)) {
    process.stdout.write(formatCap(litCap(await readSmall(file, size))) + '\n');
    process.stderr.write(`${size} bytes fit in a LIT cap: no shares written\n`);
    return;
  }
  const params = encodingParameters(flags);
  const secret = await convergenceSecret(flags, cmd);
  try {
    await fs.mkdir(flags.out, { recursive: true });
  } catch (cause) {
    throw diskError(cause, `cannot create ${flags.out}`);
  }
  const upload = await planChkUpload({ params, size, source, convergenceSecret: secret });
  const sink = new DirectorySink(flags.out);
  let result;
  try {
    result = await encodeChk(upload, source, sink);
  } catch (e) {
    if (e instanceof TahoeError) throw e;
    throw diskError(e, `writing shares to ${flags.out} failed`);
  } finally {
    await sink.close();
  }
  process.stdout.write(result.capString + '\n');
  process.stderr.write(`wrote ${params.n} shares of ${result.shareSize} bytes to ${flags.out} (storage index ${base32Encode(result.storageIndex)})\n`);
}

async function decodeCommand(dir: string, capText: string, flags: { out?: string }): Promise<void> {
  const cap = parseImmutableFileCap(capText);
  if (cap.type === 'LIT') {
    await writeOutput(flags.out, async (write) => write(cap.data));
    return;
  }
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (cause) {
    throw new TahoeError('BadInput', `cannot list ${dir}: ${(cause as Error).message}`, { cause, hint: 'give the directory `tahoe-ts debug encode --out` wrote' });
  }
  const shareFiles = names.filter((n) => /^(0|[1-9][0-9]{0,2})$/.test(n)).map(Number).filter((n) => n < cap.total).sort((a, b) => a - b);
  const handles: fs.FileHandle[] = [];
  try {
    const readers: ShareReader[] = [];
    for (const shareNumber of shareFiles) {
      const file = path.join(dir, String(shareNumber));
      try {
        const handle = await fs.open(file, 'r');
        handles.push(handle);
        readers.push(new FileShareReader(shareNumber, file, handle));
      } catch (cause) {
        process.stderr.write(`warning: cannot open ${file}: ${(cause as Error).message}\n`);
      }
    }
    const onShareFailure = (f: { shareNumber: number; error: TahoeError }): void => {
      process.stderr.write(`warning: share ${f.shareNumber} rejected: ${f.error.kind}: ${f.error.message}\n`);
    };
    const file = await ChkFileReader.open(cap, readers, { onShareFailure });
    if (cap.type === 'CHK-Verifier') {
      const { healthy } = await file.verifyShares();
      process.stdout.write(`${healthy.length} of ${cap.total} shares verified: ${healthy.join(' ') || '(none)'}\n`);
      if (healthy.length < cap.needed) {
        throw new TahoeError('NotEnoughShares', `only ${healthy.length} valid shares in ${dir}, ${cap.needed} are needed`, { details: { needed: cap.needed, usable: healthy.length } });
      }
      return;
    }
    await writeOutput(flags.out, async (write) => {
      for await (const chunk of file.read()) await write(chunk);
    });
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
}

/** Stream to stdout, or to FILE via FILE.partial renamed only after everything verified. */
async function writeOutput(out: string | undefined, produce: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  if (out === undefined) {
    await produce((bytes) => new Promise<void>((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(diskError(e, 'writing to stdout')) : resolve()))));
    return;
  }
  const partial = `${out}.partial`;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(partial, 'w', 0o644);
  } catch (cause) {
    throw diskError(cause, `cannot write ${partial}`);
  }
  try {
    await produce(async (bytes) => {
      await handle.write(bytes);
    });
    await handle.close();
    await fs.rename(partial, out);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.rm(partial, { force: true });
    throw e;
  }
}

function addEncodingOptions(cmd: Command): Command {
  return withNodeDirectory(cmd)
    .option('--convergence <BASE32>', 'convergence secret as stored in private/convergence (default: read it from -d NODEDIR)')
    .option('-k, --needed <K>', 'shares needed to read the file', String(DEFAULT_ENCODING.k))
    .option('-N, --total <N>', 'shares produced', String(DEFAULT_ENCODING.n))
    .option('--max-segment-size <BYTES>', 'maximum segment size (the upstream test vectors use 131072)', String(DEFAULT_ENCODING.maxSegmentSize));
}

export function register(program: Command): void {
  // Other rooms may add their own debug subcommands: share the parent command.
  const debug = program.commands.find((c) => c.name() === 'debug') ?? program.command('debug').description('inspect formats and data without a running node');
  addEncodingOptions(debug.command('chk-cap <FILE>').description('print the cap FILE would get (LIT or CHK), without contacting any server'))
    .action(async (file: string, flags: EncodingFlags, cmd: Command) => chkCapCommand(file, flags, cmd));
  addEncodingOptions(debug.command('encode <FILE>').description('encode FILE into share files DIR/0, DIR/1, … (the bytes a client uploads) and print its cap'))
    .requiredOption('--out <DIR>', 'directory for the share files')
    .action(async (file: string, flags: EncodingFlags & { out: string }, cmd: Command) => encodeCommand(file, flags, cmd));
  debug.command('decode')
    .description('rebuild a file from the share files in DIR (any k of them), verifying everything; with a verify cap, check the shares')
    .argument('<DIR>', 'the share files (as `debug encode --out` wrote them)')
    .argument('<CAP>', `the read or verify cap; ${SECRET_ARGUMENT_HELP}`)
    .option('--out <FILE>', 'write the file here (default: standard output)')
    .action(async (dir: string, cap: string, flags: { out?: string }) =>
      decodeCommand(dir, await secretArgument(cap, 'cap', 'tahoe-ts debug decode DIR - < cap.txt'), flags));
}
