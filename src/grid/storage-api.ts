/**
 * The storage verbs the grid uses, as one narrow interface (the GBS endpoints of
 * shared/specs/storage-protocol.md §5 that immutable upload and download need).
 *
 * The storage room's `StorageClient` provides them over any duplex stream; the broker
 * wraps one per server (see `defaultStorageApiFactory` in client.ts). Keeping the grid to
 * this interface lets fault-injection tests wrap a real client (delay, fail, stall) without
 * a fake server.
 */
import type { Duplex } from 'node:stream';
import type { Nurl } from '../net/hints.js';

export interface StorageVersion {
  maximumImmutableShareSize: bigint;
  availableSpace: bigint;
  applicationVersion: string;
}

export interface AllocateSecrets {
  renewSecret: Uint8Array;
  cancelSecret: Uint8Array;
  uploadSecret: Uint8Array;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface StorageApi {
  version(options?: CallOptions): Promise<StorageVersion>;
  /** `GET /storage/v1/immutable/:si/shares` */
  listImmutableShares(storageIndex: Uint8Array, options?: CallOptions): Promise<number[]>;
  /** `POST /storage/v1/immutable/:si` */
  allocateImmutable(
    storageIndex: Uint8Array,
    request: { shareNumbers: readonly number[]; allocatedSize: number } & AllocateSecrets,
    options?: CallOptions,
  ): Promise<{ alreadyHave: number[]; allocated: number[] }>;
  /** `PATCH /storage/v1/immutable/:si/:sh`; `complete` when the share is whole (201). */
  writeImmutable(storageIndex: Uint8Array, shareNumber: number, uploadSecret: Uint8Array, offset: number, data: Uint8Array, options?: CallOptions): Promise<{ complete: boolean }>;
  /** `PUT /storage/v1/immutable/:si/:sh/abort` */
  abortImmutable(storageIndex: Uint8Array, shareNumber: number, uploadSecret: Uint8Array, options?: CallOptions): Promise<void>;
  /** `GET /storage/v1/immutable/:si/:sh` with `Range`; fewer bytes only at the share's end. */
  readImmutable(storageIndex: Uint8Array, shareNumber: number, offset: number, length: number, options?: CallOptions): Promise<Uint8Array>;
  /** `POST /storage/v1/immutable/:si/:sh/corrupt` */
  adviseCorruptImmutable(storageIndex: Uint8Array, shareNumber: number, reason: string, options?: CallOptions): Promise<void>;
  /** `PUT /storage/v1/lease/:si` */
  renewLease(storageIndex: Uint8Array, renewSecret: Uint8Array, cancelSecret: Uint8Array, options?: CallOptions): Promise<void>;
  /** Drop pooled connections. */
  close(): Promise<void>;
}

export interface StorageApiParams {
  nurl: Nurl;
  /** Opens a fresh stream to the server (through the router, isolated per server). */
  connect: (signal?: AbortSignal) => Promise<Duplex>;
  /** For error messages: the server's nickname/id (no secrets). */
  peer: string;
}

export type StorageApiFactory = (params: StorageApiParams) => StorageApi;
