/** In-memory share sinks and readers for immutable-format tests. */
import type { ShareSink } from '../../src/immutable/encoder.js';
import type { ShareReader } from '../../src/immutable/decoder.js';
import type { ByteSource } from '../../src/immutable/source.js';
import { TahoeError } from '../../src/errors.js';

/** Collects every share in memory and records the write pattern. */
export class MemorySink implements ShareSink {
  readonly shares = new Map<number, Buffer>();
  readonly writes: Array<{ shareNumber: number; offset: number; length: number }> = [];
  async writeShare(shareNumber: number, offset: number, bytes: Uint8Array): Promise<void> {
    this.writes.push({ shareNumber, offset, length: bytes.length });
    let share = this.shares.get(shareNumber) ?? Buffer.alloc(0);
    if (share.length < offset + bytes.length) {
      const grown = Buffer.alloc(offset + bytes.length);
      share.copy(grown);
      share = grown;
    }
    share.set(bytes, offset);
    this.shares.set(shareNumber, share);
  }
}

/** A reader over bytes in memory, counting what it was asked for. */
export class MemoryReader implements ShareReader {
  readonly reads: Array<[number, number]> = [];
  constructor(readonly shareNumber: number, public bytes: Buffer, readonly description?: string) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.reads.push([offset, length]);
    return this.bytes.subarray(offset, offset + length);
  }
  get bytesRead(): number {
    return this.reads.reduce((sum, [, l]) => sum + l, 0);
  }
}

/** A reader that fails every read (an unreachable server). */
export class FailingReader implements ShareReader {
  constructor(readonly shareNumber: number) {}
  async read(): Promise<Uint8Array> {
    throw new TahoeError('ServerUnreachable', `server for share ${this.shareNumber} is down`);
  }
}

export function readersFor(shares: ReadonlyMap<number, Buffer>, which?: readonly number[]): MemoryReader[] {
  return (which ?? [...shares.keys()]).map((n) => new MemoryReader(n, Buffer.from(shares.get(n) as Buffer)));
}

/** The test-vector recipe: `(seed * (length // len(seed) + 1))[:length]`. */
export function vectorData(seed: Buffer, length: number): Buffer {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i += seed.length) seed.copy(data, i, 0, Math.min(seed.length, length - i));
  return data;
}

/** A deterministic pseudo-random file of any size, generated chunk by chunk (never all in memory). */
export function generatedSource(size: number, seed = 1, chunk = 65536): ByteSource {
  return function* () {
    let x = seed >>> 0 || 1;
    for (let pos = 0; pos < size; pos += chunk) {
      const out = Buffer.alloc(Math.min(chunk, size - pos));
      for (let i = 0; i < out.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[i] = x & 0xff;
      }
      yield out;
    }
  };
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

export async function sourceBytes(source: ByteSource): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of source()) parts.push(c);
  return Buffer.concat(parts);
}
