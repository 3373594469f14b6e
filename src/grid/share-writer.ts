/**
 * Streams one share to one storage server: `PATCH /storage/v1/immutable/:si/:sh` in
 * batches of at most about 1 MB (what 1.20 clients send; storage-protocol.md §4–§5; small
 * blocks are merged, blocks of 256 KiB or more go alone), one batch in
 * flight per share, with a bounded queue so the encoder can run ahead of a server by at
 * most `maxQueuedBytes` and no further (backpressure: memory stays flat with file size).
 *
 * Bytes from `holdFrom` on (the share's hash trees, share hash chain and UEB, which the
 * encoder writes last) are held back until `commit()`: a share becomes complete, and so
 * readable, only when its last byte arrives, so holding the tail lets the uploader check
 * servers-of-happiness once more before any share of the file becomes readable.
 */
import { TahoeError, asTahoeError, type ErrorKind } from '../errors.js';
import type { StorageApi } from './storage-api.js';

export interface ShareWriterOptions {
  api: StorageApi;
  storageIndex: Uint8Array;
  shareNumber: number;
  uploadSecret: Uint8Array;
  shareSize: number;
  /** Offset of the share tail that waits for `commit()`. */
  holdFrom: number;
  batchBytes: number;
  maxQueuedBytes: number;
  timeoutMs: number;
  /** Network failures are retried this many times (PATCHes of identical bytes are idempotent). */
  retries: number;
  retryDelayMs: number;
  signal: AbortSignal;
  /** Told once, when the writer gives up. */
  onFailure: (error: TahoeError) => void;
  /** Told after every acknowledged batch. */
  onAcked: (bytes: number) => void;
  /** Whether a failure is worth a retry (network trouble, not a refusal). */
  isRetryable: (error: TahoeError) => boolean;
}

type Mode = 'streaming' | 'flushing' | 'committing';

/**
 * Chunks at least this large are sent alone rather than merged into a batch (1 MiB
 * segments at k ≤ 4 give blocks of 256 KiB and more): each merge is a copy of the whole
 * batch, and at 3.3 bytes of shares per plaintext byte those copies are a third of the
 * upload's garbage.
 */
const SOLO_BYTES = 256 * 1024;
export type WriterState = 'active' | 'complete' | 'failed';

interface Pending {
  offset: number;
  bytes: Uint8Array;
}

export class ShareWriter {
  state: WriterState = 'active';
  error?: TahoeError;
  /** Bytes the server acknowledged. */
  acked = 0;
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  private mode: Mode = 'streaming';
  private pumping = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly o: ShareWriterOptions) {}

  get shareNumber(): number {
    return this.o.shareNumber;
  }

  /** Queue bytes; resolves once the queue is below its bound again (or the writer failed). */
  async write(offset: number, bytes: Uint8Array): Promise<void> {
    if (this.state !== 'active') return;
    if (offset + bytes.length > this.o.shareSize) {
      this.fail(new TahoeError('Internal', `write beyond the ${this.o.shareSize}-byte share ${this.o.shareNumber}`));
      return;
    }
    this.queue.push({ offset, bytes });
    this.queuedBytes += bytes.length;
    this.pump();
    // The held tail waits for commit(), which comes only after this write returns: it must
    // not wait for queue space (it is small and bounded by the share layout anyway).
    if (offset >= this.o.holdFrom) return;
    while (this.state === 'active' && this.queuedBytes > this.o.maxQueuedBytes) await this.changed();
  }

  /** Send everything before the held tail, also a last partial batch; resolves when it is acknowledged. */
  async flush(): Promise<void> {
    if (this.mode === 'streaming') this.mode = 'flushing';
    this.pump();
    while (this.state === 'active' && (this.pumping || this.sendable() !== undefined)) await this.changed();
  }

  /** Send the held tail too; resolves when the server reports the share complete (or the writer failed). */
  async commit(): Promise<void> {
    this.mode = 'committing';
    this.pump();
    while (this.state === 'active' && (this.pumping || this.queue.length > 0)) await this.changed();
    if (this.state === 'active') {
      this.fail(new TahoeError('ProtocolError', `the server did not report share ${this.o.shareNumber} complete after its last byte`, {
        hint: 'the storage server may be buggy or the share size changed; the upload is retried elsewhere',
      }));
    }
  }

  /** Give up (the upload failed elsewhere); queued bytes are dropped. */
  cancel(error: TahoeError): void {
    if (this.state === 'active') this.fail(error, false);
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private fail(error: TahoeError, report = true): void {
    if (this.state !== 'active') return;
    this.state = 'failed';
    this.error = error;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.notify();
    if (report) this.o.onFailure(error);
  }

  /** The next batch allowed in the current mode: contiguous queued chunks, or undefined. */
  private sendable(): { count: number; length: number } | undefined {
    let count = 0;
    let length = 0;
    let stop: 'size' | 'gap' | 'hold' | 'end' = 'end';
    for (const p of this.queue) {
      if (count > 0 && p.offset !== this.queue[count - 1].offset + this.queue[count - 1].bytes.length) {
        stop = 'gap';
        break;
      }
      if (this.mode !== 'committing' && p.offset + p.bytes.length > this.o.holdFrom) {
        stop = 'hold';
        break;
      }
      if (p.bytes.length >= Math.min(this.o.batchBytes, SOLO_BYTES)) {
        // Large blocks go out as they are: merging them would copy every byte once more.
        if (count === 0) {
          count = 1;
          length = p.bytes.length;
        }
        stop = 'size';
        break;
      }
      if (length > 0 && length + p.bytes.length > this.o.batchBytes) {
        stop = 'size';
        break;
      }
      count++;
      length += p.bytes.length;
      if (length >= this.o.batchBytes) {
        stop = 'size';
        break;
      }
    }
    if (count === 0) return undefined;
    // While streaming, short batches wait for more bytes (fewer, larger PATCHes) — unless
    // the held tail follows: then every byte before it has been written.
    if (this.mode === 'streaming' && stop === 'end') return undefined;
    return { count, length };
  }

  private pump(): void {
    if (this.pumping || this.state !== 'active') return;
    const batch = this.sendable();
    if (batch === undefined) return;
    this.pumping = true;
    void this.send(batch).finally(() => {
      this.pumping = false;
      this.notify();
      this.pump();
    });
  }

  private async send(batch: { count: number; length: number }): Promise<void> {
    const parts = this.queue.slice(0, batch.count);
    const offset = parts[0].offset;
    const data = parts.length === 1 ? parts[0].bytes : Buffer.concat(parts.map((p) => p.bytes), batch.length);
    // Keep only the merged copy for a retry, so a batch is never held twice.
    this.queue.splice(0, batch.count, { offset, bytes: data });
    for (let attempt = 0; ; attempt++) {
      if (this.state !== 'active') return;
      try {
        if (this.o.signal.aborted) throw asTahoeError(this.o.signal.reason ?? new TahoeError('Aborted', 'upload aborted'), 'Aborted');
        const result = await this.o.api.writeImmutable(this.o.storageIndex, this.o.shareNumber, this.o.uploadSecret, offset, data, {
          signal: this.o.signal,
          timeoutMs: this.o.timeoutMs,
        });
        if (this.state !== 'active') return;
        this.queue.shift();
        this.queuedBytes -= batch.length;
        this.acked += batch.length;
        this.o.onAcked(batch.length);
        if (result.complete) {
          if (this.queue.length > 0) {
            this.fail(new TahoeError('ProtocolError', `the server reported share ${this.o.shareNumber} complete before its last byte`, { hint: 'the storage server is buggy; another server will be used' }));
            return;
          }
          this.state = 'complete';
        }
        return;
      } catch (e) {
        const error = asTahoeError(e, 'ServerUnreachable');
        if (this.o.signal.aborted || attempt >= this.o.retries || !this.o.isRetryable(error)) {
          this.fail(error);
          return;
        }
        await delay(this.o.retryDelayMs * (attempt + 1), this.o.signal);
      }
    }
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A dropped connection is worth another try; a timeout already waited long enough. */
export const RETRYABLE_WRITE_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['ServerUnreachable', 'ProxyRefused']);
