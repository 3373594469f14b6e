/**
 * Plaintext sources for the encoder: a function that opens a fresh pass over the bytes
 * (convergent keys need two passes: one to hash, one to encrypt), and a reader that cuts
 * whatever chunk sizes the source yields into exact segment-sized pieces without
 * buffering more than one segment.
 */
import { TahoeError } from '../errors.js';

export type ByteChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Opens a new pass over the plaintext, from its first byte. */
export type ByteSource = () => ByteChunks;

/** A source over bytes already in memory (tests, small files). */
export function bytesSource(data: Uint8Array, chunkSize = 65536): ByteSource {
  return function* () {
    for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, Math.min(data.length, i + chunkSize));
  };
}

function sourceChanged(expected: number, got: string): TahoeError {
  return new TahoeError('BadInput', `the plaintext source yielded ${got} bytes where ${expected} were announced`, {
    hint: 'the file changed while it was being read, or the size passed to the encoder is wrong; upload a stable copy',
    details: { expected },
  });
}

/** Reads exact-length pieces from a chunk stream. */
export class ExactReader {
  private readonly iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);
  private consumed = 0;

  constructor(chunks: ByteChunks, private readonly announcedSize: number) {
    this.iterator = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  }

  /** The next `length` bytes, copied into `target` (or a new buffer). Fails on a short source. */
  async read(length: number, target: Uint8Array = new Uint8Array(length)): Promise<Uint8Array> {
    let filled = 0;
    while (filled < length) {
      if (this.pending.length === 0) {
        const next = await this.iterator.next();
        if (next.done === true) throw sourceChanged(this.announcedSize, `only ${this.consumed + filled}`);
        const chunk: unknown = next.value;
        if (!(chunk instanceof Uint8Array)) {
          throw new TahoeError('BadInput', 'the plaintext source yielded something other than bytes', { hint: 'yield Uint8Array or Buffer chunks' });
        }
        this.pending = chunk;
        continue;
      }
      const take = Math.min(length - filled, this.pending.length);
      target.set(this.pending.subarray(0, take), filled);
      this.pending = this.pending.subarray(take);
      filled += take;
    }
    this.consumed += length;
    return target.subarray(0, length);
  }

  /** Confirm the source has nothing left (it must match its announced size exactly). */
  async expectEnd(): Promise<void> {
    while (this.pending.length === 0) {
      const next = await this.iterator.next();
      if (next.done === true) return;
      this.pending = next.value;
    }
    await this.close();
    throw sourceChanged(this.announcedSize, 'more than');
  }

  /** Stop the underlying iterator early (closes files behind generator sources). */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}
