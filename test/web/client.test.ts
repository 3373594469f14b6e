/**
 * The CLI's gateway client (src/web/client.ts) against a plain HTTP server on 127.0.0.1:
 * a body that fails while it is being sent (a local file that became unreadable) is
 * reported as what it is, a DiskError about the data, not as a broken connection to the
 * node; a refused connection is NodeNotRunning; a long upload into a slow reader waits for
 * `drain` many times without piling up listeners (it once added a `close` listener per wait:
 * MaxListenersExceededWarning during `tahoe-ts demo`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type net from 'node:net';
import { TahoeError } from '../../src/errors.js';
import { GatewayClient } from '../../src/web/client.js';

/** A gateway stand-in that answers every request with a cap once it has read the body (`read` says how). */
async function sink(t: { after(fn: () => unknown): void }, read: (req: http.IncomingMessage) => void = (req) => req.resume()): Promise<URL> {
  const server = http.createServer((req, res) => {
    read(req);
    req.on('end', () => res.end('URI:LIT:aaaa'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
}

test('a body that fails mid-upload is a DiskError about the data, with a hint', async (t) => {
  const client = new GatewayClient(await sink(t));
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield Buffer.alloc(1024);
    throw Object.assign(new Error('input/output error'), { code: 'EIO' });
  }
  await assert.rejects(client.request('PUT', '/uri', { body: failing() }), (e: unknown) => {
    assert.ok(e instanceof TahoeError, String(e));
    assert.equal(e.kind, 'DiskError');
    assert.match(e.message, /cannot read the data being uploaded: EIO/);
    assert.ok(e.hint.length > 10);
    return true;
  });
});

test('nothing listening at node.url is NodeNotRunning', async (t) => {
  const url = await sink(t);
  const closed = new URL(url);
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closed.port = String((server.address() as net.AddressInfo).port);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await assert.rejects(new GatewayClient(closed).request('GET', '/'), (e: unknown) => e instanceof TahoeError && e.kind === 'NodeNotRunning');
});

test('a long upload into a slow reader leaves no listeners behind while it waits for drain', async (t) => {
  // Read slowly so that the client's buffer fills again and again.
  const url = await sink(t, (req) =>
    req.on('data', () => {
      req.pause();
      setTimeout(() => req.resume(), 1);
    }),
  );
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const client = new GatewayClient(url);
  let chunks = 0;
  async function* body(): AsyncGenerator<Uint8Array> {
    for (; chunks < 256; chunks++) yield Buffer.alloc(64 * 1024);
  }
  const reply = await client.request('PUT', '/uri', { body: body() });
  assert.equal(reply.status, 200);
  reply.body.resume();
  await once(reply.body, 'end');
  assert.equal(chunks, 256);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
});
