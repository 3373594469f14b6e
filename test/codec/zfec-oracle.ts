/**
 * A driver for test/codec/zfec_oracle.py: one long-lived `/usr/bin/python3` child running
 * Debian's python3-zfec (the reference implementation of tahoe-formats.md §3.5), spoken to
 * over stdin/stdout with length-prefixed JSON headers, so hundreds of cases take seconds.
 * Used by the oracle test and by bench/codec.ts.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const SYSTEM_PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'zfec_oracle.py');

/** Whether python3-zfec can be imported; the reason when it cannot. */
export function zfecAvailability(): { available: true; version: string } | { available: false; reason: string } {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import zfec; print(zfec.__version__)'], { encoding: 'utf8' });
  if (probe.error !== undefined) return { available: false, reason: `${SYSTEM_PYTHON}: ${probe.error.message}` };
  if (probe.status !== 0) return { available: false, reason: `python3-zfec is not importable by ${SYSTEM_PYTHON} (apt-get install python3-zfec)` };
  return { available: true, version: probe.stdout.trim() };
}

interface ReplyHeader {
  ok: boolean;
  payload: number;
  error?: string;
  seconds?: number[];
  cpu_seconds?: number[];
}

export interface OracleRequest {
  k: number;
  n: number;
  /** Bytes per piece/block. */
  size: number;
  shares?: readonly number[];
  iterations?: number;
}

export class ZfecOracle {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  /** Unconsumed reply bytes, kept as chunks so large replies are not re-copied per chunk. */
  private chunks: Buffer[] = [];
  private bufferedLength = 0;
  private waiting: (() => void) | undefined;
  private ended = false;
  private exitReason = '';
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.child = spawn(SYSTEM_PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bufferedLength += chunk.length;
      this.waiting?.();
    });
    this.child.on('exit', (code, signal) => {
      this.exitReason = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`;
      this.ended = true;
      this.waiting?.();
    });
  }

  /** zfec.Encoder(k, n).encode(pieces[, shares]) → the blocks. */
  async encode(k: number, n: number, pieces: readonly Uint8Array[], shares?: readonly number[]): Promise<Uint8Array[]> {
    const size = pieces[0].length;
    const { payload } = await this.call({ op: 'encode', k, n, size, shares }, pieces);
    const count = shares === undefined ? n : shares.length;
    return splitBlocks(payload, count, size);
  }

  /** zfec.Decoder(k, n).decode(blocks, shares) → the k pieces. */
  async decode(k: number, n: number, blocks: readonly Uint8Array[], shares: readonly number[]): Promise<Uint8Array[]> {
    const size = blocks[0].length;
    const { payload } = await this.call({ op: 'decode', k, n, size, shares }, blocks);
    return splitBlocks(payload, k, size);
  }

  /** Wall-clock and CPU seconds per call of zfec encode/decode, timed inside python. */
  async time(op: 'bench-encode' | 'bench-decode', request: OracleRequest, data: readonly Uint8Array[]): Promise<{ samples: number[]; cpuSamples: number[] }> {
    const { header } = await this.call({ op, ...request }, data);
    return { samples: header.seconds ?? [], cpuSamples: header.cpu_seconds ?? [] };
  }

  async close(): Promise<void> {
    if (this.ended) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private call(request: Record<string, unknown>, data: readonly Uint8Array[]): Promise<{ header: ReplyHeader; payload: Buffer }> {
    const run = async (): Promise<{ header: ReplyHeader; payload: Buffer }> => {
      const payloadLength = data.reduce((sum, d) => sum + d.length, 0);
      const header = Buffer.from(JSON.stringify({ ...request, payload: payloadLength }));
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(header.length);
      this.child.stdin.write(prefix);
      this.child.stdin.write(header);
      for (const d of data) this.child.stdin.write(d);
      const replyLength = (await this.take(4)).readUInt32BE(0);
      const reply = JSON.parse((await this.take(replyLength)).toString('utf8')) as ReplyHeader;
      const payload = await this.take(reply.payload);
      if (!reply.ok) throw new Error(`python3-zfec oracle failed: ${reply.error ?? 'unknown error'}`);
      return { header: reply, payload };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async take(count: number): Promise<Buffer> {
    while (this.bufferedLength < count) {
      if (this.ended) throw new Error(`python3-zfec oracle exited (${this.exitReason})`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const rest = all.subarray(count);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedLength = rest.length;
    return all.subarray(0, count);
  }
}

function splitBlocks(payload: Buffer, count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new Uint8Array(payload.subarray(i * size, (i + 1) * size)));
}
