/**
 * Reading HTTP request bodies on our HTTPS servers (storage, introducer) without losing the
 * connection when we stop early.
 *
 * Iterating an `IncomingMessage` with `for await` destroys the request — and with it the
 * socket — when the loop exits early, so a server that refuses an oversized chunked body
 * from inside the loop answers with a connection reset instead of its 413. These helpers
 * stop reading instead; the caller answers, and the server drains or closes as it chooses.
 */
import type { IncomingMessage } from 'node:http';
import { TahoeError } from '../errors.js';

/**
 * The request body as an async iterable that, unlike iterating the request itself, does
 * not destroy the connection when the consumer stops early (a 409 or 413 must still reach
 * the client; the error path then closes the connection with `Connection: close`).
 */
export async function* requestChunks(req: IncomingMessage): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = req.readableEnded;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= 4) req.pause();
    wake?.();
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onFailure = (err?: Error) => {
    failure ??= err instanceof Error ? err : new TahoeError('ServerUnreachable', 'the client closed the connection mid-request');
    wake?.();
  };
  const onClose = () => {
    if (!req.complete) onFailure();
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onFailure);
  req.on('aborted', onFailure);
  req.on('close', onClose);
  // A request destroyed before we looked (the client went away while the caller was busy
  // elsewhere) emits nothing more: without this check the loop would wait forever.
  if (req.destroyed && !ended) onFailure(req.errored ?? undefined);
  req.resume();
  try {
    while (true) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length < 2 && !ended) req.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onFailure);
    req.off('aborted', onFailure);
    req.off('close', onClose);
    if (!ended) req.pause();
  }
}

/**
 * The whole body, or `undefined` as soon as it grows past `limit` bytes (then the rest is
 * left unread for the caller to refuse). Memory stays at most `limit` plus one chunk.
 */
export async function readBodyWithin(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of requestChunks(req)) {
    size += chunk.length;
    if (size > limit) return undefined;
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}
