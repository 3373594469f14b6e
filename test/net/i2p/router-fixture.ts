/**
 * One real offline i2pd per test file (src/testnet/i2pd.ts), stopped after the file, with
 * its log printed when a step fails. Without i2pd installed the test fails under CI=true
 * and is skipped loudly otherwise.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import type { TestContext } from 'node:test';
import { TahoeError } from '../../../src/errors.js';
import { findI2pdExecutable } from '../../../src/net/i2p/router-process.js';
import { startI2pRouter, type I2pRouter } from '../../../src/testnet/i2pd.js';
import { tempDir } from '../../helpers/tmp.js';

export async function startTestRouter(t: TestContext): Promise<I2pRouter | undefined> {
  try {
    findI2pdExecutable();
  } catch (e) {
    const msg = `!!! i2pd not installed (${(e as Error).message}): apt-get install i2pd`;
    if (process.env.CI === 'true') throw new Error(msg, { cause: e });
    process.stderr.write(`\n${msg} — SKIPPING\n\n`);
    t.skip(msg);
    return undefined;
  }
  const dir = tempDir(t, 'tahoe-ts-i2pd-');
  const router = await startI2pRouter({ dir });
  // registered after tempDir's cleanup, so it runs first (after hooks run in reverse order)
  t.after(() => router.stop());
  return router;
}

/** Run `fn`; if it throws, print the router's log before re-throwing. */
export function withRouterLog(router: I2pRouter, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      const tail = await router.logTail(60);
      process.stderr.write(`\n--- i2pd log (router pid ${router.pid}) ---\n${tail}\n`);
      throw e;
    }
  };
}

/** Read exactly `n` bytes from a stream (rejects on end/error before that), hashing them. */
export function readExactly(stream: NodeJS.ReadableStream & { destroyed?: boolean }, n: number, timeoutMs = 30_000): Promise<{ sha256: string; bytes: number; first: Buffer }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let got = 0;
    let first = Buffer.alloc(0);
    const timer = setTimeout(() => done(new TahoeError('Timeout', `read ${got}/${n} bytes within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      const take = chunk.subarray(0, n - got);
      if (first.length < 64) first = Buffer.concat([first, take.subarray(0, 64 - first.length)]);
      hash.update(take);
      got += take.length;
      if (got >= n) done();
    };
    const onEnd = () => done(new Error(`stream ended after ${got}/${n} bytes`));
    const onError = (e: Error) => done(e);
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      if (err) reject(err);
      else resolve({ sha256: hash.digest('hex'), bytes: got, first });
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Write `data` in 64 KiB pieces, respecting backpressure. */
export async function writeAll(socket: net.Socket | NodeJS.WritableStream, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += 65536) {
    const ok = socket.write(data.subarray(off, off + 65536));
    if (!ok) await new Promise<void>((resolve) => socket.once('drain', () => resolve()));
  }
}
