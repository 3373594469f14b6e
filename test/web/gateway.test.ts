/**
 * The web gateway end to end: a real HTTP server in front of a grid client talking TLS to
 * real storage servers on 127.0.0.1. Every endpoint, status code, Range edge case, JSON
 * shape, the multipart upload (streamed: the spool grows while the body is still being
 * sent), request-forgery rules, bad caps and lost files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { capUrl, formBody, request, startGatewayFixture, statusOf } from './helpers.js';
import { startWebGateway } from '../../src/web/gateway.js';
import { tempDir } from '../helpers/tmp.js';

/** No stack traces, always the kind and a hint. */
function assertTahoeErrorBody(text: string, kind: string): void {
  assert.match(text, new RegExp(`^kind: ${kind}$`, 'm'), text);
  assert.match(text, /^hint: .{10,}/m, text);
  assert.doesNotMatch(text, /\n\s+at .+\(.*:\d+:\d+\)/, 'no stack trace');
}

test('web gateway on a 4-server grid', async (t) => {
  const f = await startGatewayFixture(t);
  const { base } = f;
  const big = randomBytes(300_000 + 17);
  const small = Buffer.from('a small file, stored in its cap');

  let chkCap = '';
  let litCap = '';

  await t.test('PUT /uri stores a file and returns its cap (CHK and LIT)', async () => {
    const r = await request(`${base}/uri`, { method: 'PUT', body: big });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(r.text, /^URI:CHK:[a-z2-7]+:[a-z2-7]+:2:4:300017$/);
    chkCap = r.text;
    const lit = await request(`${base}/uri`, { method: 'PUT', body: small });
    assert.equal(lit.status, 200);
    assert.match(lit.text, /^URI:LIT:/);
    litCap = lit.text;
    // Convergent encryption: the same bytes give the same cap.
    assert.equal((await request(`${base}/uri?format=chk`, { method: 'PUT', body: big })).text, chkCap);
    assert.deepEqual(readdirSync(f.tmp), [], 'spool files are removed');
    const empty = await request(`${base}/uri`, { method: 'PUT', body: Buffer.alloc(0) });
    assert.equal(empty.status, 200);
    assert.equal(empty.text, 'URI:LIT:');
  });

  await t.test('GET /uri/CAP streams the file with Content-Length, ETag, Accept-Ranges', async () => {
    const r = await request(capUrl(base, chkCap));
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(big));
    assert.equal(r.headers['content-length'], String(big.length));
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['content-security-policy'], 'sandbox');
    assert.equal(r.headers['referrer-policy'], 'same-origin');
    assert.match(r.headers.etag ?? '', /^"[a-z2-7]{26}-"$/);
    // An unencoded cap in the path works too (":" is legal in a path segment).
    const plain = await request(`${base}/uri/${chkCap}`);
    assert.ok(plain.body.equals(big));
    const lit = await request(capUrl(base, litCap));
    assert.equal(lit.status, 200);
    assert.ok(lit.body.equals(small));
    assert.match(lit.headers.etag ?? '', /^"lit-[a-z2-7]+-"$/);
    // /cap is a synonym; /named/CAP/NAME types the download by its name.
    assert.ok((await request(`${base}/cap/${encodeURIComponent(chkCap)}`)).body.equals(big));
    const named = await request(`${base}/named/${encodeURIComponent(litCap)}/notes.txt`);
    assert.equal(named.headers['content-type'], 'text/plain; charset=utf-8');
    assert.ok(named.body.equals(small));
  });

  await t.test('filename= and save=true', async () => {
    const r = await request(capUrl(base, litCap, '?filename=r%C3%A9sum%C3%A9%22.pdf&save=true'));
    assert.equal(r.headers['content-type'], 'application/pdf');
    assert.equal(r.headers['content-disposition'], `attachment; filename="r_sum__.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%22.pdf`);
    const inline = await request(capUrl(base, litCap, '?filename=x.html'));
    assert.equal(inline.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(inline.headers['content-disposition'], undefined);
    assert.equal(inline.headers['content-security-policy'], 'sandbox', 'an HTML file cannot script the gateway');
    const injected = await request(capUrl(base, litCap, '?filename=a%0D%0AX-Evil:%201&save=1'));
    assert.equal(injected.status, 200);
    assert.equal(injected.headers['x-evil'], undefined);
  });

  await t.test('HEAD gives the headers and no body', async () => {
    const r = await request(capUrl(base, chkCap), { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(big.length));
    assert.equal(r.body.length, 0);
    const part = await request(capUrl(base, chkCap), { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-length'], '10');
  });

  await t.test('Range: single ranges, suffixes, clipping, coalescing → 206', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-9', 0, 9],
      ['bytes=65530-65545', 65530, 65545], // across a segment boundary
      ['bytes=-100', big.length - 100, big.length - 1],
      ['bytes=300000-', 300000, big.length - 1],
      ['bytes=299990-999999999', 299990, big.length - 1],
      ['bytes=0-9,5-20', 0, 20],
    ];
    for (const [range, start, end] of cases) {
      const r = await request(capUrl(base, chkCap), { headers: { Range: range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${big.length}`, range);
      assert.equal(r.headers['content-length'], String(end - start + 1));
      assert.ok(r.body.equals(big.subarray(start, end + 1)), range);
    }
    const lit = await request(capUrl(base, litCap), { headers: { Range: 'bytes=2-6' } });
    assert.equal(lit.status, 206);
    assert.ok(lit.body.equals(small.subarray(2, 7)));
  });

  await t.test('Range: several ranges → multipart/byteranges', async () => {
    const r = await request(capUrl(base, chkCap), { headers: { Range: 'bytes=0-3, 200000-200009, -5' } });
    assert.equal(r.status, 206);
    const m = /^multipart\/byteranges; boundary=(.+)$/.exec(r.headers['content-type'] ?? '');
    assert.ok(m, r.headers['content-type']);
    assert.equal(r.headers['content-length'], String(r.body.length));
    const parts = r.body.toString('latin1').split(`--${m[1]}`).slice(1, -1);
    const want: Array<[number, number]> = [[0, 3], [200000, 200009], [big.length - 5, big.length - 1]];
    assert.equal(parts.length, 3);
    parts.forEach((p, i) => {
      const [head, data] = p.split('\r\n\r\n');
      assert.match(head, new RegExp(`Content-Range: bytes ${want[i][0]}-${want[i][1]}/${big.length}`));
      assert.ok(Buffer.from(data.slice(0, -2), 'latin1').equals(big.subarray(want[i][0], want[i][1] + 1)), `part ${i}`);
    });
  });

  await t.test('Range: unsatisfiable and invalid → 416 with Content-Range bytes */size; other units ignored', async () => {
    for (const range of ['bytes=300017-', 'bytes=5-2', 'bytes=abc', 'bytes=-0', 'bytes=']) {
      const r = await request(capUrl(base, chkCap), { headers: { Range: range } });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers['content-range'], `bytes */${big.length}`);
      assertTahoeErrorBody(r.text, 'BadInput');
    }
    const emptyFile = await request(capUrl(base, 'URI:LIT:'), { headers: { Range: 'bytes=0-0' } });
    assert.equal(emptyFile.status, 416);
    const other = await request(capUrl(base, litCap), { headers: { Range: 'lines=1-2' } });
    assert.equal(other.status, 200);
    assert.ok(other.body.equals(small));
  });

  await t.test('ETag: If-None-Match → 304, a stale If-Range → the whole file', async () => {
    const first = await request(capUrl(base, chkCap), { method: 'HEAD' });
    const etag = first.headers.etag as string;
    const again = await request(capUrl(base, chkCap), { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const stale = await request(capUrl(base, chkCap), { headers: { Range: 'bytes=0-9', 'If-Range': '"something-else"' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, big.length);
    const fresh = await request(capUrl(base, chkCap), { headers: { Range: 'bytes=0-9', 'If-Range': etag } });
    assert.equal(fresh.status, 206);
  });

  await t.test('GET /uri/CAP?t=json: Tahoe\'s filenode shape', async () => {
    const r = await request(capUrl(base, chkCap, '?t=json'));
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    const [kind, data] = JSON.parse(r.text) as [string, Record<string, unknown>];
    assert.equal(kind, 'filenode');
    assert.equal(data.ro_uri, chkCap);
    assert.match(String(data.verify_uri), /^URI:CHK-Verifier:[a-z2-7]+:[a-z2-7]+:2:4:300017$/);
    assert.equal(data.size, big.length);
    assert.equal(data.mutable, false);
    assert.equal(data.format, 'CHK');
    assert.match(r.headers.etag ?? '', /-json"$/);
    const lit = JSON.parse((await request(capUrl(base, litCap, '?t=json'))).text) as [string, Record<string, unknown>];
    assert.deepEqual(lit, ['filenode', { ro_uri: litCap, size: small.length, mutable: false, format: 'LIT' }]);
    // A verify cap: JSON works, the contents need the read cap.
    const verify = String(data.verify_uri);
    const vj = JSON.parse((await request(capUrl(base, verify, '?t=json'))).text) as [string, Record<string, unknown>];
    assert.deepEqual(vj, ['filenode', { verify_uri: verify, size: big.length, mutable: false, format: 'CHK' }]);
    const vget = await request(capUrl(base, verify));
    assert.equal(vget.status, 400);
    assertTahoeErrorBody(vget.text, 'CapInvalid');
    assert.equal((await request(capUrl(base, chkCap, '?t=uri'))).text, chkCap);
    assert.equal((await request(capUrl(base, chkCap, '?t=bogus'))).status, 400);
  });

  await t.test('bad caps → 400 CapInvalid; directories and mutable files nobody stored → 410', async () => {
    for (const cap of ['garbage', 'URI:CHK:short:2:4:5', `${chkCap.slice(0, -3)}xyz`, 'URI:LIT:!!!']) {
      const r = await request(capUrl(base, cap));
      assert.equal(r.status, 400, `${cap}: ${r.text}`);
      assertTahoeErrorBody(r.text, 'CapInvalid');
      assert.doesNotMatch(r.text, /URI:CHK:[a-z2-7]{10}/, 'caps are not echoed into error bodies');
    }
    const ssk = 'URI:SSK:vdgvd4xsc6rmygvzyfcpnxfxtq:7d3viqmfi4fdu3q3uzgz6xkbiapirdb4bfvtlooeyx3bm5ljd6ua';
    const mutable = await request(capUrl(base, ssk));
    assert.equal(mutable.status, 410, mutable.text);
    assertTahoeErrorBody(mutable.text, 'NotEnoughShares');
    const dir = await request(capUrl(base, 'URI:DIR2:djrdkfawoqihigoett4g6auz6a:jx5mplfpwexnoqff7y5e4zjus4lidm76dcuarpct7cckorh2dpgq', '?t=json'));
    assert.equal(dir.status, 410);
    const child = await request(`${capUrl(base, chkCap)}/child`);
    assert.equal(child.status, 400);
    const badEscape = await request(`${base}/uri/%E0%A4%A`);
    assert.equal(badEscape.status, 400);
  });

  await t.test('GET /uri?uri=CAP redirects (303) keeping other arguments; /uri without uri= is 400', async () => {
    const r = await request(`${base}/uri?uri=${encodeURIComponent(litCap)}&filename=a.txt`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, `/uri/${encodeURIComponent(litCap)}?filename=a.txt`);
    assert.equal((await request(`${base}/uri`)).status, 400);
    assert.equal((await request(`${base}/uri?uri=nonsense`)).status, 400);
  });

  await t.test('POST /uri?t=upload (multipart): cap as text, as an HTML page, or a when_done redirect', async () => {
    const form = formBody([{ name: 't', data: 'upload' }, { name: 'file', filename: 'big.bin', data: big }]);
    const r = await request(`${base}/uri`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.contentType } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, chkCap, 'the same bytes give the same cap as PUT');
    const q = formBody([{ name: 'file', filename: 'small.txt', data: small }]);
    const page = await request(`${base}/uri?t=upload`, { method: 'POST', body: q.body, headers: { 'Content-Type': q.contentType, Accept: 'text/html,*/*' } });
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    assert.ok(page.text.includes(`<code id="cap">${litCap}</code>`));
    const redirect = formBody([{ name: 't', data: 'upload' }, { name: 'when_done', data: '/uri/%(uri)s?t=json' }, { name: 'file', filename: 's', data: small }]);
    const rr = await request(`${base}/uri`, { method: 'POST', body: redirect.body, headers: { 'Content-Type': redirect.contentType } });
    assert.equal(rr.status, 303);
    assert.equal(rr.headers.location, `/uri/${encodeURIComponent(litCap)}?t=json`);
    assert.deepEqual(readdirSync(f.tmp), []);
  });

  await t.test('POST rules: t= required, mkdir makes a directory, no file 400, foreign when_done 400, PUT body is raw', async () => {
    const noT = formBody([{ name: 'file', data: small }]);
    const r1 = await request(`${base}/uri`, { method: 'POST', body: noT.body, headers: { 'Content-Type': noT.contentType } });
    assert.equal(r1.status, 400);
    assert.match(r1.text, /needs t=upload/);
    assert.match((await request(`${base}/uri?t=mkdir`, { method: 'POST' })).text, /^URI:DIR2:/);
    assert.equal((await request(`${base}/uri?t=frobnicate`, { method: 'POST' })).status, 400);
    const noFile = formBody([{ name: 't', data: 'upload' }]);
    const r2 = await request(`${base}/uri`, { method: 'POST', body: noFile.body, headers: { 'Content-Type': noFile.contentType } });
    assert.equal(r2.status, 400);
    assert.match(r2.text, /no field named "file"/);
    // "/\t/…" is "//…" to a browser (tabs are dropped), "/\\…" too: other sites.
    for (const whenDone of ['https://evil.example/?cap=%(uri)s', '//evil.example/%(uri)s', '/\t/evil.example/%(uri)s', '/\\evil.example/%(uri)s']) {
      const foreign = formBody([{ name: 't', data: 'upload' }, { name: 'when_done', data: whenDone }, { name: 'file', data: small }]);
      const r3 = await request(`${base}/uri`, { method: 'POST', body: foreign.body, headers: { 'Content-Type': foreign.contentType } });
      assert.equal(r3.status, 400, `${JSON.stringify(whenDone)}: ${r3.text}`);
    }
    assert.equal((await request(`${base}/uri?t=upload`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } })).status, 400);
    assert.match((await request(`${base}/uri?format=MDMF`, { method: 'PUT', body: 'x' })).text, /^URI:MDMF:/);
    assert.match((await request(`${base}/uri?mutable=true`, { method: 'PUT', body: 'x' })).text, /^URI:SSK:/);
    assert.equal((await request(`${base}/uri?format=XYZ`, { method: 'PUT', body: 'x' })).status, 400);
    assert.match((await request(`${base}/uri?t=mkdir`, { method: 'PUT' })).text, /^URI:DIR2:/);
    assert.equal((await request(capUrl(base, chkCap), { method: 'PUT', body: 'x' })).status, 400);
    const del = await request(capUrl(base, chkCap), { method: 'DELETE' });
    assert.equal(del.status, 405);
    assert.equal(del.headers.allow, 'GET, HEAD');
  });

  await t.test('request forgery: other sites and foreign Host names are refused', async () => {
    const form = formBody([{ name: 't', data: 'upload' }, { name: 'file', data: small }]);
    const headers = { 'Content-Type': form.contentType };
    const evil = await request(`${base}/uri`, { method: 'POST', body: form.body, headers: { ...headers, Origin: 'https://evil.example' } });
    assert.equal(evil.status, 403);
    assertTahoeErrorBody(evil.text, 'BadInput');
    assert.equal((await request(`${base}/uri`, { method: 'POST', body: form.body, headers: { ...headers, Origin: 'null' } })).status, 403);
    assert.equal((await request(`${base}/uri`, { method: 'PUT', body: 'x', headers: { 'Sec-Fetch-Site': 'cross-site' } })).status, 403);
    assert.equal((await request(`${base}/uri`, { method: 'PUT', body: 'x', headers: { 'Sec-Fetch-Site': 'same-site', Origin: base } })).status, 403);
    // Sec-Fetch-Site is set by the browser itself and decides when present.
    const nullOrigin = await request(`${base}/uri`, { method: 'POST', body: form.body, headers: { ...headers, Origin: 'null', 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(nullOrigin.status, 200, nullOrigin.text);
    const same = await request(`${base}/uri`, { method: 'POST', body: form.body, headers: { ...headers, Origin: base, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(same.status, 200, same.text);
    const rebinding = await request(`${base}/?t=json`, { headers: { Host: 'attacker.example:1234' } });
    assert.equal(rebinding.status, 403);
    assert.equal((await request(`${base}/?t=json`, { headers: { Host: `localhost:${f.gateway.port}` } })).status, 200);
  });

  await t.test('welcome JSON: Tahoe\'s shape, every server with its status', async () => {
    const r = await request(`${base}/?t=json`);
    assert.equal(r.status, 200);
    const j = JSON.parse(r.text) as { introducers: { statuses: unknown[] }; servers: Array<Record<string, unknown>> };
    assert.deepEqual(j.introducers.statuses, []);
    assert.equal(j.servers.length, 4);
    for (const s of j.servers) {
      for (const key of ['nodeid', 'connection_status', 'available_space', 'nickname', 'version', 'last_received_data']) assert.ok(key in s, `Tahoe key ${key}`);
      assert.match(String(s.nodeid), /^v0-[a-z2-7]+$/);
      assert.equal(s.connection_status, 'Connected via tcp');
      assert.equal(s.transport, 'tcp');
      assert.equal(s.connected, true);
      assert.equal(typeof s.since, 'number');
      assert.equal(typeof s.last_rtt_ms, 'number');
      assert.equal(typeof s.available_space, 'number');
    }
    assert.deepEqual(j.servers.map((s) => s.nickname).sort(), ['server-0', 'server-1', 'server-2', 'server-3']);
    const html = await request(`${base}/`);
    assert.equal(html.status, 200);
    assert.match(html.headers['content-type'] ?? '', /^text\/html/);
    assert.match(String(html.headers['content-security-policy']), /default-src 'none'/);
    for (let i = 0; i < 4; i++) assert.ok(html.text.includes(`<td class="nickname">server-${i}</td>`));
    assert.equal((await request(`${base}/?t=nope`)).status, 400);
  });

  await t.test('unknown paths 404, bad methods 405, /status JSON', async () => {
    const r = await request(`${base}/no/such/page`);
    assert.equal(r.status, 404);
    assertTahoeErrorBody(r.text, 'BadInput');
    assert.equal((await request(`${base}/`, { method: 'POST' })).status, 405);
    const s = JSON.parse((await request(`${base}/status/?t=json`)).text) as { active: unknown[] };
    assert.deepEqual(s.active, []);
    assert.equal((await request(`${base}/static/x.txt`)).status, 404);
  });

  await t.test('a multipart upload is streamed: the spool grows while the body is still being sent', async () => {
    const total = 8 * 1024 * 1024;
    const chunk = randomBytes(64 * 1024);
    const boundary = '----streamingBoundary';
    let release: () => void = () => undefined;
    const halfway = new Promise<void>((r) => (release = r));
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="t"\r\n\r\nupload\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="s"\r\n\r\n`);
      for (let sent = 0; sent < total; sent += chunk.length) {
        if (sent === total / 2) await halfway;
        yield chunk;
      }
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const upload = request(`${base}/uri`, { method: 'POST', body: body(), headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` } });
    let seen = 0;
    for (let i = 0; i < 200 && seen < total / 2 - 256 * 1024; i++) {
      const s = JSON.parse((await request(`${base}/status/?t=json`)).text) as { active: Array<Record<string, unknown>> };
      seen = Number(s.active[0]?.['bytes-done'] ?? 0);
      if (s.active[0] !== undefined) assert.equal(s.active[0].phase, 'receiving');
      await sleep(50);
    }
    assert.ok(seen >= total / 2 - 256 * 1024, `the gateway had spooled ${seen} bytes before the second half was sent`);
    release();
    const r = await upload;
    assert.equal(r.status, 200, r.text);
    const back = await request(capUrl(base, r.text));
    const want = createHash('sha256');
    for (let sent = 0; sent < total; sent += chunk.length) want.update(chunk);
    assert.equal(createHash('sha256').update(back.body).digest('hex'), want.digest('hex'));
  });

  await t.test('a client that disconnects mid-upload leaves no spool file behind', async () => {
    const chunk = randomBytes(64 * 1024);
    let stop: (e: Error) => void = () => undefined;
    const stopped = new Promise<never>((_, rej) => (stop = rej));
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 16; i++) yield chunk;
      await stopped;
    }
    const upload = request(`${base}/uri`, { method: 'PUT', body: body(), headers: { 'Content-Length': 10 * 1024 * 1024 } });
    for (let i = 0; i < 100 && readdirSync(f.tmp).length === 0; i++) await sleep(20);
    assert.equal(readdirSync(f.tmp).length, 1, 'spooling started');
    stop(new Error('client gives up'));
    await assert.rejects(upload);
    for (let i = 0; i < 100 && readdirSync(f.tmp).length > 0; i++) await sleep(20);
    assert.deepEqual(readdirSync(f.tmp), []);
    assert.equal(f.gateway.operations.size, 0);
  });

  await t.test('lost shares: fewer than k servers → 410 NotEnoughSharesError', async () => {
    await Promise.all(f.grid.nodes.slice(0, 3).map((n) => n.kill()));
    const r = await request(capUrl(base, chkCap));
    assert.equal(r.status, 410, r.text);
    assert.match(r.text, /^NotEnoughSharesError: /);
    assertTahoeErrorBody(r.text, 'NotEnoughShares');
    // The cap alone still answers t=json (no network needed).
    assert.equal((await request(capUrl(base, chkCap, '?t=json'))).status, 200);
    const up = await request(`${base}/uri`, { method: 'PUT', body: randomBytes(1000) });
    assert.equal(up.status, 503, up.text);
    assertTahoeErrorBody(up.text, 'UploadUnhappy');
  });
});

test('web gateway without a grid client (introducer) answers uploads and downloads with 503', async (t) => {
  const tmp = tempDir(t);
  const gw = await startWebGateway({ node: { grid: undefined, status: () => ({ ...statusOf(undefined), nodeType: 'introducer' }) }, webPort: 'tcp:0:interface=127.0.0.1', tempDir: tmp });
  t.after(() => gw.close());
  const base = gw.url.replace(/\/$/, '');
  const put = await request(`${base}/uri`, { method: 'PUT', body: 'x' });
  assert.equal(put.status, 503);
  assertTahoeErrorBody(put.text, 'NodeNotRunning');
  assert.equal((await request(capUrl(base, 'URI:LIT:nbswy3dp'))).status, 503);
  const welcome = await request(`${base}/`);
  assert.equal(welcome.status, 200);
  assert.ok(!welcome.text.includes('upload-form'), 'no upload form without a grid client');
  assert.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test('web.port: no interface binds loopback; unix and bad endpoints are refused; a busy port says so', async (t) => {
  const tmp = tempDir(t);
  const node = { grid: undefined, status: () => statusOf(undefined) };
  const gw = await startWebGateway({ node, webPort: 'tcp:0', tempDir: tmp });
  t.after(() => gw.close());
  assert.equal(gw.host, '127.0.0.1');
  await assert.rejects(startWebGateway({ node, webPort: 'unix:/tmp/x.sock', tempDir: tmp }), (e: Error & { kind?: string }) => e.kind === 'ConfigInvalid');
  await assert.rejects(startWebGateway({ node, webPort: 'tcp:notaport', tempDir: tmp }), (e: Error & { kind?: string }) => e.kind === 'EndpointInvalid');
  await assert.rejects(startWebGateway({ node, webPort: `tcp:${gw.port}:interface=127.0.0.1`, tempDir: tmp }), (e: Error & { kind?: string; hint?: string }) => e.kind === 'ConfigInvalid' && /already running/.test(e.hint ?? ''));
});
