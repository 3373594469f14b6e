/**
 * What every command needs: the node directory (from -d/--node-directory given before
 * or after the subcommand, else $TAHOE_TS_NODE_DIRECTORY, else ~/.tahoe-ts) and output streams.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';

export const DEFAULT_NODE_DIRECTORY = path.join(os.homedir(), '.tahoe-ts');

/** Add `-d/--node-directory` to a subcommand (the top-level program has it too). */
export function withNodeDirectory(cmd: Command): Command {
  return cmd.option('-d, --node-directory <DIR>', `node directory (default: ${DEFAULT_NODE_DIRECTORY})`);
}

/** Resolve the node directory: the subcommand's -d wins over the program's -d. */
export function nodeDirectoryOf(cmd: Command): string {
  let dir: string | undefined;
  for (let c: Command | null = cmd; c; c = c.parent) {
    const v = c.opts<{ nodeDirectory?: string }>().nodeDirectory;
    if (v !== undefined) {
      dir = v;
      break;
    }
  }
  dir ??= process.env.TAHOE_TS_NODE_DIRECTORY ?? DEFAULT_NODE_DIRECTORY;
  return path.resolve(dir);
}
