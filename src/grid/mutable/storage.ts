/**
 * The mutable-share verbs of the storage protocol, as the mutable grid layer uses them
 * (spec: shared/specs/storage-protocol.md §5: `GET /storage/v1/mutable/:si/shares`,
 * `GET /storage/v1/mutable/:si/:sh` with `Range`, `POST /storage/v1/mutable/:si/read-test-write`,
 * `POST /storage/v1/mutable/:si/:sh/corrupt`).
 *
 * The grid's `StorageApi` (storage-api.ts) names only what immutable files need; the
 * storage room's `StorageClient`, which the broker uses by default, also speaks these.
 * `mutableApiOf` checks that a server's client does, so a test factory that wraps only
 * the immutable verbs fails loudly instead of silently.
 */
import { TahoeError, isTahoeError } from '../../errors.js';
import type { ReadTestWriteRequest, ReadTestWriteResponse } from '../../storage/messages.js';
import type { StorageServer } from '../broker.js';
import type { CallOptions, StorageApi } from '../storage-api.js';

export interface WriteSecrets {
  writeEnabler: Uint8Array;
  renewSecret: Uint8Array;
  cancelSecret: Uint8Array;
}

export interface MutableStorageApi {
  listMutableShares(storageIndex: Uint8Array, options?: CallOptions): Promise<number[]>;
  /** Fewer bytes than asked only at the share's end. */
  readMutable(storageIndex: Uint8Array, shareNumber: number, offset: number, length: number, options?: CallOptions): Promise<Uint8Array>;
  readTestWrite(storageIndex: Uint8Array, secrets: WriteSecrets, request: ReadTestWriteRequest, options?: CallOptions): Promise<ReadTestWriteResponse>;
  adviseCorruptMutable(storageIndex: Uint8Array, shareNumber: number, reason: string, options?: CallOptions): Promise<void>;
}

function hasMutableVerbs(api: StorageApi): api is StorageApi & MutableStorageApi {
  return 'listMutableShares' in api && typeof api.listMutableShares === 'function'
    && 'readMutable' in api && typeof api.readMutable === 'function'
    && 'readTestWrite' in api && typeof api.readTestWrite === 'function'
    && 'adviseCorruptMutable' in api && typeof api.adviseCorruptMutable === 'function';
}

/** The server's client as a `MutableStorageApi`; `ServerUnreachable` while it is disconnected. */
export function mutableApiOf(server: StorageServer): MutableStorageApi {
  const api = server.api;
  if (api === undefined) {
    throw new TahoeError('ServerUnreachable', `${server.label} is not connected`, { hint: 'tahoe-ts reconnects with backoff; the other servers are used meanwhile' });
  }
  if (!hasMutableVerbs(api)) {
    throw new TahoeError('Internal', `the storage client for ${server.label} has no mutable-share operations`, {
      hint: 'the grid client was given a storageApiFactory whose clients only speak the immutable verbs; wrap the storage room\'s StorageClient whole',
    });
  }
  return api;
}

/** A 401 from read-test-write: the server keeps this file's shares under another write enabler. */
export function isWriteEnablerMismatch(e: unknown): boolean {
  return isTahoeError(e, 'ServerRejected') && e.details.status === 401;
}

export function writeEnablerError(server: StorageServer, cause: unknown): TahoeError {
  return new TahoeError('ServerRejected', `${server.label} refused the write enabler for this mutable file (HTTP 401)`, {
    hint: 'the server holds this file\'s shares under another write enabler: it was probably set up again with a new TLS certificate (so a new TubID), or the shares were planted by someone without the write cap. Those shares cannot be updated there; the other servers were written. Ask the server\'s operator, or repair the file onto other servers',
    details: { status: 401, writeEnabler: 'mismatch', server: server.label },
    cause,
  });
}
