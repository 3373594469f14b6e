/**
 * Mutable files and directories on the grid, in one place for the facade, the web
 * gateway and the CLI (spec: shared/specs/tahoe-formats.md §4–§6; storage-protocol.md §5).
 *
 *   const { files, directories } = createMutableServices({ broker, leaseSecret, encoding: { k, n }, defaultFormat, immutable });
 *
 * `immutable` (the grid client's convergent upload and download, see `immutableStoreOf`)
 * is needed only for immutable directories (URI:DIR2-CHK:).
 */
import { createMutableGridClient, type MutableGridClient, type MutableGridClientOptions } from './client.js';
import { createDirectoryGridClient, type DirectoryGridClient, type ImmutableStore } from './directory.js';

export interface MutableServicesOptions extends MutableGridClientOptions {
  readonly immutable?: ImmutableStore;
  /** Link timestamps (seconds since the epoch); default: the clock. */
  readonly now?: () => number;
}

export interface MutableServices {
  readonly files: MutableGridClient;
  readonly directories: DirectoryGridClient;
}

export function createMutableServices(options: MutableServicesOptions): MutableServices {
  const files = createMutableGridClient(options);
  const directories = createDirectoryGridClient({
    files,
    ...(options.immutable === undefined ? {} : { immutable: options.immutable }),
    ...(options.defaultFormat === undefined ? {} : { defaultFormat: options.defaultFormat }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { files, directories };
}

export type {
  CreatedMutableFile, ModifyContext, ModifyResult, MutableFileInfo, MutableGridClient, MutableGridClientOptions, MutableModifier,
  MutableReadResult, MutableStat, MutableWriteResult, PublishProblem, SignalOptions, UpdateResult,
} from './client.js';
export type {
  ChildEntries, CreatedDirectory, DirectoryGridClient, DirectoryListing, ImmutableStore, Overwrite, ResolvedPath, SetChildOptions,
} from './directory.js';
export { immutableStoreOf, splitPath } from './directory.js';
export type { Servermap, ShareRecord, MapMode } from './servermap.js';
