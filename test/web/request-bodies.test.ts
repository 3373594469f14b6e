/**
 * Refused request bodies: a body the gateway stops reading (too large, a malformed form)
 * must still get its error answer, and must never take the gateway down. Reading a request
 * with `for await` destroys it on an early exit: the client then saw a reset instead of
 * the 413, and the gateway's "close after answering" step threw on the vanished socket,
 * an uncaught exception that ended the node's process.
 *
 * The refusals come before any grid access, so the gateway runs without a grid client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../helpers/tmp.js';
import { startWebGateway } from '../../src/web/gateway.js';
import { capUrl, formBody, request, statusOf, type Reply } from './helpers.js';

const DIRCAP = 'URI:DIR2:ovjy4yhylqlfoqg2vcze36dhde:4d4f47qko2xm5g7osgo2yyidi5m4muyo2vjjy53q4vjju2u55mfa';

/** A chunked body (no Content-Length): the limit is only found while reading. */
async function* chunked(total: number, chunk = 4096): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += chunk) yield Buffer.alloc(Math.min(chunk, total - sent), 0x61);
}

function assertRefused(reply: Reply, status: number): void {
  assert.equal(reply.status, status, reply.text);
  assert.match(reply.text, /^kind: BadInput$/m, reply.text);
  assert.match(reply.text, /^hint: .{10,}/m, reply.text);
}

test('refused request bodies get their answer and leave the gateway serving', async (t) => {
  const gateway = await startWebGateway({ node: { grid: undefined, status: () => statusOf(undefined) }, webPort: 'tcp:0:interface=127.0.0.1', tempDir: tempDir(t, 'tahoe-ts-web-bodies-') });
  t.after(() => gateway.close());
  const base = gateway.url.replace(/\/$/, '');

  await t.test('an oversized chunked form body is a 413, not a reset', async () => {
    const reply = await request(capUrl(base, DIRCAP, '?t=unlink'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: chunked(200 * 1024),
    });
    assertRefused(reply, 413);
  });

  await t.test('a form refused halfway (a second "file" field) is a 400, also on /uri/$DIRCAP', async () => {
    const { body, contentType } = formBody([
      { name: 'file', filename: 'a.txt', data: 'first' },
      { name: 'file', filename: 'b.txt', data: Buffer.alloc(256 * 1024, 0x62) },
    ]);
    async function* slowly(): AsyncGenerator<Buffer> {
      for (let i = 0; i < body.length; i += 16 * 1024) yield body.subarray(i, i + 16 * 1024);
    }
    assertRefused(await request(capUrl(base, DIRCAP, '?t=upload'), { method: 'POST', headers: { 'Content-Type': contentType }, body: slowly() }), 400);
  });

  await t.test('the gateway still answers afterwards', async () => {
    const welcome = await request(`${base}/?t=json`);
    assert.equal(welcome.status, 200, welcome.text);
  });
});
