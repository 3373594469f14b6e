/**
 * Active uploads and downloads, for `GET /status/?t=json` (Tahoe-LAFS webapi.rst,
 * "Other Useful Pages": `{"active": [op-dict…]}` with Tahoe's keys `type`,
 * `storage-index-string`, `total-size`, `status`, `progress-hash`,
 * `progress-ciphertext`, `progress-encode-push` for uploads and `progress` for
 * downloads). tahoe-ts adds `id`, `phase`, `bytes-done` and `started` (epoch seconds).
 * `tahoe-ts put` polls it to show the grid phase of an upload. Finished operations
 * drop out of the list, as in Tahoe.
 */
import type { TransferProgress } from '../grid/client.js';

export interface OperationJson {
  id: number;
  type: 'upload' | 'download';
  'storage-index-string': string;
  'total-size': number;
  status: string;
  phase: TransferProgress['phase'] | 'receiving';
  'bytes-done': number;
  started: number;
  'progress-hash'?: number;
  'progress-ciphertext'?: number;
  'progress-encode-push'?: number;
  progress?: number;
}

interface Operation {
  id: number;
  type: 'upload' | 'download';
  storageIndex: string;
  totalSize: number;
  phase: OperationJson['phase'];
  bytesDone: number;
  started: number;
}

export class OperationTable {
  private nextId = 1;
  private readonly active = new Map<number, Operation>();

  /** Register an operation; call the returned handle's `progress`/`done`. */
  begin(type: 'upload' | 'download', totalSize: number, storageIndex = ''): OperationHandle {
    const op: Operation = { id: this.nextId++, type, storageIndex, totalSize, phase: type === 'upload' ? 'receiving' : 'downloading', bytesDone: 0, started: Date.now() };
    this.active.set(op.id, op);
    return {
      id: op.id,
      progress: (p: TransferProgress) => {
        op.phase = p.phase;
        op.bytesDone = p.bytesDone;
        if (p.bytesTotal > 0) op.totalSize = p.bytesTotal;
      },
      received: (bytes: number) => {
        op.bytesDone = bytes;
      },
      setStorageIndex: (si: string) => {
        op.storageIndex = si;
      },
      done: () => {
        this.active.delete(op.id);
      },
    };
  }

  get size(): number {
    return this.active.size;
  }

  json(): { active: OperationJson[] } {
    return { active: [...this.active.values()].map(toJson) };
  }
}

export interface OperationHandle {
  readonly id: number;
  progress(p: TransferProgress): void;
  /** Upload body bytes received so far (before the grid phase). */
  received(bytes: number): void;
  setStorageIndex(si: string): void;
  done(): void;
}

function fraction(done: number, total: number): number {
  return total <= 0 ? 1 : Math.min(1, done / total);
}

function toJson(op: Operation): OperationJson {
  const base: OperationJson = {
    id: op.id,
    type: op.type,
    'storage-index-string': op.storageIndex,
    'total-size': op.totalSize,
    status: describe(op),
    phase: op.phase,
    'bytes-done': op.bytesDone,
    started: op.started / 1000,
  };
  if (op.type === 'download') return { ...base, progress: fraction(op.bytesDone, op.totalSize) };
  const f = fraction(op.bytesDone, op.totalSize);
  const hash = op.phase === 'receiving' ? 0 : op.phase === 'hashing' ? f : 1;
  const push = op.phase === 'uploading' ? f : op.phase === 'done' ? 1 : 0;
  return { ...base, 'progress-hash': hash, 'progress-ciphertext': push, 'progress-encode-push': push };
}

function describe(op: Operation): string {
  switch (op.phase) {
    case 'receiving':
      return 'receiving the file';
    case 'hashing':
      return 'hashing (convergent key)';
    case 'placing':
      return 'finding storage servers';
    case 'uploading':
      return 'encoding and pushing shares';
    case 'downloading':
      return 'downloading';
    case 'done':
      return 'finished';
  }
}
