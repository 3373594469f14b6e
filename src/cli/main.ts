/**
 * tahoe-ts command line: argument parsing and printing only. Commands either talk to a
 * running node over its web gateway, or call node/ to create and run nodes.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { TahoeError, asTahoeError } from '../errors.js';
import { redact } from '../log.js';
import { COMMAND_MODULES } from './commands/index.js';
import { DEFAULT_NODE_DIRECTORY } from './context.js';
import { EXIT } from './exit-codes.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('tahoe-ts')
    .description('A Tahoe-LAFS node with native Tor and I2P support (compatible with Tahoe-LAFS 1.20)')
    .version(packageVersion(), '-V, --version', 'print the tahoe-ts version')
    .option('-d, --node-directory <DIR>', `node directory (default: ${DEFAULT_NODE_DIRECTORY})`)
    .enablePositionalOptions(false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const mod of COMMAND_MODULES) mod.register(program);
  return program;
}

/** Map an error kind to an exit code. */
export function exitCodeFor(err: TahoeError): number {
  switch (err.area) {
    case 'config':
      return err.kind === 'UsageError' ? EXIT.USAGE : EXIT.CONFIG;
    case 'privacy':
      return EXIT.CONFIG;
    case 'input':
      return EXIT.USAGE;
    case 'local':
    case 'network':
      return EXIT.UNAVAILABLE;
    case 'data':
      return EXIT.DATA;
    case 'peer':
      return EXIT.FAILURE;
    default:
      return EXIT.SOFTWARE;
  }
}

/** Print an error for a human: message, kind, hint. Addresses are redacted. */
export function reportError(err: TahoeError): void {
  const reveal = process.env.TAHOE_TS_LOG_SENSITIVE === '1';
  process.stderr.write(`error: ${redact(err.message, reveal)}\n  kind: ${err.kind}\n  hint: ${redact(err.hint, reveal)}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    if (process.exitCode === undefined) process.exitCode = EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0
      process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    const err = asTahoeError(e);
    reportError(err);
    if (err.kind === 'Internal' && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    process.exitCode = exitCodeFor(err);
  }
}
