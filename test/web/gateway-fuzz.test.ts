/**
 * The gateway against garbage: random and mutated requests (paths, caps, query
 * arguments, headers, bodies) and malformed HTTP on raw sockets. Every answer must be a
 * proper response — 2xx/3xx/304, or an error body with a kind and a hint, never a stack
 * trace, never a 500 — and the gateway must keep serving afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { capUrl, request, startGatewayFixture } from './helpers.js';

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

function mutate(s: string): string {
  const chars = s.split('');
  const n = 1 + Math.floor(Math.random() * 3);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(Math.random() * (chars.length + 1));
    const op = Math.random();
    if (op < 0.4) chars.splice(pos, 1);
    else if (op < 0.8) chars.splice(pos, 0, pick(['%', ':', '/', '?', '&', '=', '%00', '%ZZ', 'é', '..', '#', ' ', '\\', 'A', '9']));
    else chars[pos] = String.fromCharCode(33 + Math.floor(Math.random() * 94));
  }
  return chars.join('');
}

function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
    socket.setTimeout(3000, () => socket.destroy());
    socket.end(bytes);
  });
}

test('gateway fuzz: random requests get proper answers and the gateway survives', async (t) => {
  const f = await startGatewayFixture(t);
  const { base } = f;
  const cap = (await request(`${base}/uri`, { method: 'PUT', body: randomBytes(5000) })).text;
  const lit = (await request(`${base}/uri`, { method: 'PUT', body: 'short' })).text;
  const paths = ['/', '/?t=json', '/uri', `/uri/${encodeURIComponent(cap)}`, `/uri/${cap}`, `/uri/${encodeURIComponent(lit)}?t=json`, '/named/x/y', '/status/?t=json', '/static/a', '/cap/', `/uri?uri=${encodeURIComponent(cap)}`];
  const methods = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH'];
  const headerNames = ['Range', 'If-Range', 'If-None-Match', 'Content-Type', 'Origin', 'Sec-Fetch-Site', 'Accept'];
  const headerValues = ['bytes=0-1', 'bytes=-1', 'bytes=9999999999999999999-', 'multipart/form-data; boundary=x', 'multipart/form-data', '"x"', 'null', 'same-origin', 'text/html', '*/*', 'bytes=0-0,1-1,2-2'];
  const statuses = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const p = Math.random() < 0.7 ? mutate(pick(paths)) : pick(paths);
    const method = pick(methods);
    const headers: Record<string, string> = {};
    for (let h = 0; h < Math.floor(Math.random() * 3); h++) headers[pick(headerNames)] = pick(headerValues);
    const body = method === 'GET' || method === 'HEAD' ? undefined : Math.random() < 0.5 ? randomBytes(Math.floor(Math.random() * 300)) : `--x\r\nContent-Disposition: form-data; name="${pick(['t', 'file', 'when_done'])}"\r\n\r\n${pick(['upload', 'mkdir', '/uri/%(uri)s', 'http://x'])}\r\n--x--\r\n`;
    let r;
    try {
      r = await request(`${base}${p.startsWith('/') ? '' : '/'}${p}`, { method, headers, ...(body === undefined ? {} : { body }), timeoutMs: 30_000 });
    } catch (e) {
      // A path Node's own client refuses to send (e.g. with a space) is not a gateway failure.
      if (e instanceof TypeError || (e as NodeJS.ErrnoException).code === 'ERR_UNESCAPED_CHARACTERS') continue;
      throw new Error(`${method} ${p} ${JSON.stringify(headers)}: ${String(e)}`, { cause: e });
    }
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    assert.ok(r.status < 500 || r.status === 501 || r.status === 503, `${method} ${p} ${JSON.stringify(headers)} → ${r.status}: ${r.text}`);
    if (r.status >= 400 && method !== 'HEAD') {
      assert.match(r.text, /^kind: [A-Za-z]+$/m, `${method} ${p} → ${r.status}: ${r.text}`);
      assert.match(r.text, /^hint: .{5,}/m);
      assert.doesNotMatch(r.text, /\n\s+at .+:\d+:\d+/);
    }
  }
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);

  // Malformed HTTP on raw sockets.
  const junk = [
    Buffer.from('GARBAGE\r\n\r\n'),
    Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n'),
    Buffer.from(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
    Buffer.from('PUT /uri HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
    Buffer.from('PUT /uri HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nshort'),
    Buffer.from(`GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(5000)}\r\n`),
    randomBytes(2000),
  ];
  for (const bytes of junk) {
    const answer = await raw(f.gateway.port, bytes);
    if (answer !== '') assert.match(answer, /^HTTP\/1\.1 (4\d\d|200)/, answer.slice(0, 200));
  }
  assert.deepEqual((await request(capUrl(base, lit))).text, 'short', 'still serving');
  assert.equal((await request(`${base}/?t=json`)).status, 200);
});
