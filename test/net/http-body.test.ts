/**
 * net/http-body.ts on a real HTTP server: bodies read whole or refused at the limit with
 * the connection still up, and a request the client abandoned before the reader started
 * (the server was busy with something else first) ends the reader with a TahoeError
 * instead of leaving it waiting for events that never come.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { TahoeError } from '../../src/errors.js';
import { readBodyWithin, requestChunks } from '../../src/net/http-body.js';

async function server(t: { after(fn: () => unknown): void }, handler: (req: IncomingMessage, res: http.ServerResponse) => void): Promise<number> {
  const srv = http.createServer(handler);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

function post(port: number, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    // Chunked: the server learns the size only while reading.
    req.write(body.subarray(0, 1));
    req.end(body.subarray(1));
  });
}

test('readBodyWithin: the whole body, or undefined past the limit with the answer still delivered', async (t) => {
  const port = await server(t, (req, res) => {
    void readBodyWithin(req, 1000).then((body) => res.end(body === undefined ? 'too large' : `got ${body.length}`));
  });
  assert.deepEqual(await post(port, Buffer.alloc(999)), { status: 200, text: 'got 999' });
  assert.deepEqual(await post(port, Buffer.alloc(300_000)), { status: 200, text: 'too large' });
});

test('requestChunks: a request destroyed before reading starts fails at once instead of waiting forever', async (t) => {
  let outcome: Promise<unknown> | undefined;
  const started = new Promise<void>((resolve) => {
    void server(t, (req) => {
      req.once('close', () => {
        // The client is gone and every event has fired; only now does the reader start.
        setImmediate(() => {
          outcome = (async () => {
            for await (const chunk of requestChunks(req)) void chunk;
          })();
          resolve();
        });
      });
    }).then((port) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort');
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('error', () => undefined);
    });
  });
  await started;
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('requestChunks is still waiting after 5 s')), 5000)));
  try {
    await assert.rejects(Promise.race([outcome as Promise<unknown>, hung]), (e: unknown) => e instanceof TahoeError || (e instanceof Error && !e.message.includes('still waiting')));
  } finally {
    clearTimeout(timer);
  }
});
