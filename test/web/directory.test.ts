/**
 * Directories and mutable files through the web gateway, end to end: a real HTTP server in
 * front of a grid client talking TLS to four real storage servers on 127.0.0.1. Every
 * path of docs/web-api.md's directory section: unlinked mkdir (SDMF, MDMF, with children,
 * immutable), JSON shapes compared with webapi.rst's examples, PUT into a path (with
 * intermediate directories, 201/200, replace=false 409), mutable files (create,
 * overwrite in place, MDMF offset writes, ranges, read caps refused), t=uri, t=rename,
 * t=relink, DELETE, t=upload forms with when_done, set_children, the HTML listing, and
 * the status codes of every refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { capUrl, formBody, request, startGatewayFixture, type Reply } from './helpers.js';
import { pyJsonLoads } from '../../src/dirnode/pyjson.js';

type Json = [string, Record<string, unknown>];

function parse(reply: Reply): Json {
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text) as Json;
}

/** No stack traces, always the kind and a hint. */
function assertError(reply: Reply, status: number, kind: string): void {
  assert.equal(reply.status, status, `${reply.status}: ${reply.text}`);
  assert.match(reply.text, new RegExp(`^kind: ${kind}$`, 'm'), reply.text);
  assert.match(reply.text, /^hint: .{10,}/m, reply.text);
  assert.doesNotMatch(reply.text, /\n\s+at .+\(.*:\d+:\d+\)/);
}

/** `/uri/CAP/a/b` with every name percent-encoded. */
function pathUrl(base: string, cap: string, path: string, query = ''): string {
  const tail = path === '' ? '' : `/${path.split('/').map((p) => encodeURIComponent(p)).join('/')}`;
  return `${base}/uri/${encodeURIComponent(cap)}${tail}${query}`;
}

const DIR_KEYS_RW = ['children', 'format', 'mutable', 'ro_uri', 'rw_uri', 'verify_uri'];

test('directories and mutable files through the web gateway', async (t) => {
  const f = await startGatewayFixture(t);
  const { base } = f;
  let root = '';
  const big = randomBytes(70_000);

  await t.test('unlinked mkdir: POST and PUT /uri?t=mkdir (SDMF default, format=mdmf), redirect_to_result', async () => {
    const r = await request(`${base}/uri?t=mkdir`, { method: 'POST' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /^URI:DIR2:[a-z2-7]{26}:[a-z2-7]{52}$/);
    root = r.text;
    const mdmf = await request(`${base}/uri?t=mkdir&format=MDMF`, { method: 'PUT' });
    assert.match(mdmf.text, /^URI:DIR2-MDMF:[a-z2-7]{26}:[a-z2-7]{52}$/);
    const go = await request(`${base}/uri?t=mkdir&redirect_to_result=true`, { method: 'POST' });
    assert.equal(go.status, 303);
    assert.match(go.headers.location ?? '', /^\/uri\/URI%3ADIR2%3A[a-z2-7]+%3A[a-z2-7]+\/$/);
    assertError(await request(`${base}/uri?t=mkdir&format=chk`, { method: 'POST' }), 400, 'BadInput');
    assertError(await request(`${base}/uri?t=mkdir&format=zzz`, { method: 'POST' }), 400, 'BadInput');
  });

  await t.test('t=json of an empty directory has webapi.rst\'s keys; a read cap has no rw_uri', async () => {
    const [type, data] = parse(await request(pathUrl(base, root, '', '?t=json')));
    assert.equal(type, 'dirnode');
    assert.deepEqual(Object.keys(data).sort(), DIR_KEYS_RW);
    assert.deepEqual(data.children, {});
    assert.equal(data.rw_uri, root);
    assert.match(String(data.ro_uri), /^URI:DIR2-RO:/);
    assert.match(String(data.verify_uri), /^URI:DIR2-Verifier:/);
    assert.equal(data.mutable, true);
    assert.equal(data.format, 'SDMF');
    const [, ro] = parse(await request(pathUrl(base, String(data.ro_uri), '', '?t=json')));
    assert.equal(ro.rw_uri, undefined);
    assert.equal(ro.ro_uri, data.ro_uri);
    assert.equal((await request(pathUrl(base, root, '', '?t=uri'))).text, root);
    assert.equal((await request(pathUrl(base, root, '', '?t=readonly-uri'))).text, data.ro_uri);
  });

  let fileCap = '';
  await t.test('PUT into a path creates the intermediate directories (201), replaces (200), replace=false is 409', async () => {
    const put = await request(pathUrl(base, root, 'docs/2026/big.bin'), { method: 'PUT', body: big });
    assert.equal(put.status, 201, put.text);
    assert.match(put.text, /^URI:CHK:[a-z2-7]+:[a-z2-7]+:2:4:70000$/);
    fileCap = put.text;
    const back = await request(pathUrl(base, root, 'docs/2026/big.bin'));
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(big), 'back.body.equals(big)');
    assert.equal(back.headers['content-length'], String(big.length));
    const again = await request(pathUrl(base, root, 'docs/2026/big.bin'), { method: 'PUT', body: Buffer.from('replaced') });
    assert.equal(again.status, 200, 'an existing file was replaced');
    assert.match(again.text, /^URI:LIT:/);
    assert.equal((await request(pathUrl(base, root, 'docs/2026/big.bin'))).text, 'replaced');
    assertError(await request(pathUrl(base, root, 'docs/2026/big.bin', '?replace=false'), { method: 'PUT', body: 'x' }), 409, 'BadInput');
    assert.equal((await request(pathUrl(base, root, 'docs/2026/big.bin', '?t=uri'))).text, again.text);
    // Put the big file back (linking its cap) for the JSON checks below.
    const link = await request(pathUrl(base, root, 'docs/2026/big.bin', '?t=uri'), { method: 'PUT', body: fileCap });
    assert.equal(link.status, 200, link.text);
    assert.equal(link.text, fileCap);
    assert.deepEqual(readdirSync(f.tmp), [], 'no spool file left');
  });

  await t.test('child JSON shapes: filenode and dirnode entries with metadata as webapi.rst shows them', async () => {
    const [type, data] = parse(await request(pathUrl(base, root, 'docs/2026', '?t=json')));
    assert.equal(type, 'dirnode');
    const children = data.children as Record<string, Json>;
    const [ctype, child] = children['big.bin'];
    assert.equal(ctype, 'filenode');
    assert.deepEqual(Object.keys(child).sort(), ['format', 'metadata', 'mutable', 'ro_uri', 'size', 'verify_uri']);
    assert.equal(child.ro_uri, fileCap);
    assert.equal(child.size, 70000);
    assert.equal(child.mutable, false);
    assert.equal(child.format, 'CHK');
    assert.match(String(child.verify_uri), /^URI:CHK-Verifier:/);
    const tahoe = (child.metadata as { tahoe: { linkcrtime: number; linkmotime: number } }).tahoe;
    assert.ok(Math.abs(tahoe.linkcrtime - Date.now() / 1000) < 120, 'Math.abs(tahoe.linkcrtime - Date.now() / 1000) < 120');
    assert.ok(tahoe.linkmotime >= tahoe.linkcrtime, 'replacing kept linkcrtime, set a newer linkmotime');
    const [, top] = parse(await request(pathUrl(base, root, '', '?t=json')));
    const [dtype, dir] = (top.children as Record<string, Json>).docs;
    assert.equal(dtype, 'dirnode');
    assert.deepEqual(Object.keys(dir).sort(), ['metadata', 'mutable', 'ro_uri', 'rw_uri', 'verify_uri']);
    assert.match(String(dir.rw_uri), /^URI:DIR2:/);
    // The file through its path: its own facts plus the link's metadata; the raw text is Python's json.dumps(indent=1).
    const raw = await request(pathUrl(base, root, 'docs/2026/big.bin', '?t=json'));
    const [ftype, file] = parse(raw);
    assert.equal(ftype, 'filenode');
    assert.deepEqual(Object.keys(file).sort(), ['format', 'metadata', 'mutable', 'ro_uri', 'size', 'verify_uri']);
    assert.match(raw.text, /^\[\n "filenode",\n \{\n {2}"mutable": false,\n/);
    assert.match(raw.text, /"linkcrtime": \d+\.\d+/, 'link times are floats, as Tahoe writes them');
    assert.ok(raw.text.endsWith('\n'), 'raw.text.endsWith(\'\n\')');
  });

  let mutableCap = '';
  await t.test('mutable files: PUT /uri?format=SDMF, GET, overwrite in place (same cap), t=json with size', async () => {
    const created = await request(`${base}/uri?format=SDMF`, { method: 'PUT', body: 'version one' });
    assert.equal(created.status, 200, created.text);
    assert.match(created.text, /^URI:SSK:[a-z2-7]{26}:[a-z2-7]{52}$/);
    mutableCap = created.text;
    assert.equal((await request(capUrl(base, mutableCap))).text, 'version one');
    const over = await request(capUrl(base, mutableCap), { method: 'PUT', body: 'version two, longer' });
    assert.equal(over.status, 200, over.text);
    assert.equal(over.text, mutableCap, 'the same cap');
    const got = await request(capUrl(base, mutableCap));
    assert.equal(got.text, 'version two, longer');
    assert.equal(got.headers['accept-ranges'], 'bytes');
    const [type, data] = parse(await request(capUrl(base, mutableCap, '?t=json')));
    assert.equal(type, 'filenode');
    assert.deepEqual(data, {
      mutable: true, format: 'SDMF', size: 19, ro_uri: data.ro_uri, rw_uri: mutableCap, verify_uri: data.verify_uri,
    });
    assert.match(String(data.ro_uri), /^URI:SSK-RO:/);
    assert.match(String(data.verify_uri), /^URI:SSK-Verifier:/);
    const ranged = await request(capUrl(base, mutableCap), { headers: { Range: 'bytes=8-10' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.text, 'two');
    assert.equal(ranged.headers['content-range'], 'bytes 8-10/19');
    const head = await request(capUrl(base, mutableCap), { method: 'HEAD' });
    assert.equal(head.headers['content-length'], '19');
    assert.equal(head.body.length, 0);
    // Several ranges: multipart/byteranges; HEAD announces the same length without a body.
    const parts = await request(capUrl(base, mutableCap), { headers: { Range: 'bytes=0-6,8-10' } });
    assert.equal(parts.status, 206);
    assert.match(parts.headers['content-type'] ?? '', /^multipart\/byteranges; boundary=/);
    assert.match(parts.text, /Content-Range: bytes 0-6\/19\r\n\r\nversion\r\n/);
    assert.match(parts.text, /Content-Range: bytes 8-10\/19\r\n\r\ntwo\r\n/);
    assert.equal(parts.headers['content-length'], String(parts.body.length));
    const headParts = await request(capUrl(base, mutableCap), { method: 'HEAD', headers: { Range: 'bytes=0-6,8-10' } });
    assert.equal(headParts.status, 206);
    assert.equal(headParts.headers['content-length'], String(parts.body.length), 'HEAD announces the GET\'s length');
    assert.equal(headParts.body.length, 0);
    assertError(await request(capUrl(base, mutableCap), { headers: { Range: 'bytes=50-60' } }), 416, 'BadInput');
    // A read cap reads but cannot write; a verify cap cannot read.
    assert.equal((await request(capUrl(base, String(data.ro_uri)))).text, 'version two, longer');
    assertError(await request(capUrl(base, String(data.ro_uri)), { method: 'PUT', body: 'no' }), 403, 'CapInvalid');
    assertError(await request(capUrl(base, String(data.verify_uri))), 400, 'CapInvalid');
    assertError(await request(`${capUrl(base, mutableCap)}/child`), 400, 'BadInput');
    const named = await request(`${base}/named/${encodeURIComponent(mutableCap)}/notes.txt`);
    assert.equal(named.text, 'version two, longer');
    assert.match(named.headers['content-type'] ?? '', /^text\/plain/);
    const plain = await request(`${base}/uri?mutable=true`, { method: 'PUT', body: 'default format' });
    assert.match(plain.text, /^URI:SSK:/, 'mutable=true uses the default mutable format');
  });

  await t.test('MDMF: offset= writes in place (partial write), a form upload with format=mdmf', async () => {
    const original = randomBytes(300_000);
    const created = await request(`${base}/uri?format=mdmf`, { method: 'PUT', body: original });
    assert.match(created.text, /^URI:MDMF:/);
    const cap = created.text;
    const patch = Buffer.from('PATCHED-IN-PLACE');
    const w = await request(capUrl(base, cap, '?offset=200000'), { method: 'PUT', body: patch });
    assert.equal(w.status, 200, w.text);
    const expected = Buffer.from(original);
    patch.copy(expected, 200_000);
    assert.ok((await request(capUrl(base, cap))).body.equals(expected), '(await request(capUrl(base, cap))).body.equals(expected)');
    const appended = await request(capUrl(base, cap, '?offset=300000'), { method: 'PUT', body: 'tail' });
    assert.equal(appended.status, 200);
    assert.equal((await request(capUrl(base, cap), { headers: { Range: 'bytes=-4' } })).text, 'tail');
    assertError(await request(capUrl(base, cap, '?offset=-3'), { method: 'PUT', body: 'x' }), 400, 'BadInput');
    assertError(await request(capUrl(base, cap, '?offset=999999999'), { method: 'PUT', body: 'x' }), 400, 'BadInput');
    const form = formBody([{ name: 't', data: 'upload' }, { name: 'format', data: 'mdmf' }, { name: 'file', filename: 'm.txt', data: 'from a form' }]);
    const posted = await request(`${base}/uri`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.contentType } });
    assert.equal(posted.status, 200, posted.text);
    assert.match(posted.text, /^URI:MDMF:/);
    assert.equal((await request(capUrl(base, posted.text))).text, 'from a form');
  });

  await t.test('a mutable child: PUT format=MDMF into a path, PUT again overwrites it in place (the link keeps its cap)', async () => {
    const first = await request(pathUrl(base, root, 'notes/todo.txt', '?format=MDMF'), { method: 'PUT', body: 'buy milk' });
    assert.equal(first.status, 201, first.text);
    assert.match(first.text, /^URI:MDMF:/);
    const second = await request(pathUrl(base, root, 'notes/todo.txt'), { method: 'PUT', body: 'buy milk and bread' });
    assert.equal(second.status, 200);
    assert.equal(second.text, first.text, 'overwritten in place');
    assert.equal((await request(pathUrl(base, root, 'notes/todo.txt'))).text, 'buy milk and bread');
    const partial = await request(pathUrl(base, root, 'notes/todo.txt', '?offset=4'), { method: 'PUT', body: 'MILK' });
    assert.equal(partial.status, 200);
    assert.equal((await request(pathUrl(base, root, 'notes/todo.txt'))).text, 'buy MILK and bread');
    const [, listing] = parse(await request(pathUrl(base, root, 'notes', '?t=json')));
    const [, todo] = (listing.children as Record<string, Json>)['todo.txt'];
    assert.deepEqual(Object.keys(todo).sort(), ['format', 'metadata', 'mutable', 'ro_uri', 'rw_uri', 'verify_uri'], 'no size for a mutable child (not read)');
    assert.equal(todo.format, 'MDMF');
    assert.equal(todo.rw_uri, first.text);
    const [, viaPath] = parse(await request(pathUrl(base, root, 'notes/todo.txt', '?t=json')));
    assert.equal(viaPath.size, 18);
    assert.ok(viaPath.metadata !== undefined, 'viaPath.metadata !== undefined');
  });

  await t.test('POST t=mkdir&name=, terminal mkdir of a path, a file in the way is 409, a missing child 404', async () => {
    const made = await request(pathUrl(base, root, '', '?t=mkdir&name=projects'), { method: 'POST' });
    assert.match(made.text, /^URI:DIR2:/);
    const deep = await request(pathUrl(base, root, 'projects/a/b', '?t=mkdir&format=mdmf'), { method: 'POST' });
    assert.match(deep.text, /^URI:DIR2-MDMF:/, 'format= applies to the last directory');
    const again = await request(pathUrl(base, root, 'projects/a/b', '?t=mkdir'), { method: 'POST' });
    assert.equal(again.text, deep.text, 'an existing directory is left as it is');
    const [, a] = parse(await request(pathUrl(base, root, 'projects/a', '?t=json')));
    assert.equal(a.format, 'SDMF', 'intermediate directories use the default format');
    assertError(await request(pathUrl(base, root, 'docs/2026/big.bin/inner/x', '?t=mkdir'), { method: 'POST' }), 409, 'BadInput');
    assertError(await request(pathUrl(base, root, 'nothing-here')), 404, 'NotFound');
    assertError(await request(pathUrl(base, root, 'nothing/deeper', '?t=json')), 404, 'NotFound');
    assertError(await request(`${pathUrl(base, root, 'docs')}//x`), 400, 'BadInput');
    assertError(await request(pathUrl(base, root, 'docs', '?t=bogus')), 400, 'BadInput');
    assertError(await request(pathUrl(base, root, '', '?t=bogus'), { method: 'POST' }), 400, 'BadInput');
    assertError(await request(pathUrl(base, root, 'docs/2026/big.bin/x')), 400, 'BadInput');
  });

  await t.test('t=uri links a cap (replace=false 409; unknown caps need ro./imm.), DELETE returns the cap and the child is gone', async () => {
    const link = await request(pathUrl(base, root, '', `?t=uri&name=${encodeURIComponent('lié.bin')}&uri=${encodeURIComponent(fileCap)}`), { method: 'POST' });
    assert.equal(link.status, 200, link.text);
    assert.equal(link.text, fileCap);
    const got = await request(pathUrl(base, root, 'lié.bin'));
    assert.ok(got.body.equals(big), 'got.body.equals(big)');
    assertError(await request(pathUrl(base, root, '', `?t=uri&name=${encodeURIComponent('lié.bin')}&uri=${encodeURIComponent(fileCap)}&replace=false`), { method: 'POST' }), 409, 'BadInput');
    assertError(await request(pathUrl(base, root, '', '?t=uri&name=future&uri=x-tahoe-future:abc'), { method: 'POST' }), 400, 'CapInvalid');
    const future = await request(pathUrl(base, root, '', '?t=uri&name=future&uri=ro.x-tahoe-future:abc'), { method: 'POST' });
    assert.equal(future.status, 200, future.text);
    const [utype, unknown] = parse(await request(pathUrl(base, root, 'future', '?t=json')));
    assert.equal(utype, 'unknown');
    assert.equal(unknown.ro_uri, 'ro.x-tahoe-future:abc');
    assertError(await request(pathUrl(base, root, 'future')), 400, 'BadInput');
    const del = await request(pathUrl(base, root, 'lié.bin'), { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(del.text, fileCap);
    assertError(await request(pathUrl(base, root, 'lié.bin')), 404, 'NotFound');
    assertError(await request(pathUrl(base, root, 'lié.bin'), { method: 'DELETE' }), 404, 'NotFound');
    assertError(await request(pathUrl(base, root, ''), { method: 'DELETE' }), 400, 'BadInput');
    const unlink = await request(pathUrl(base, root, '', '?t=unlink&name=future'), { method: 'POST' });
    assert.equal(unlink.text, 'thing unlinked');
  });

  await t.test('t=rename keeps metadata, replace=false 409; t=relink and rename with to_dir move between directories', async () => {
    await request(pathUrl(base, root, 'moves/one.txt'), { method: 'PUT', body: 'one' });
    await request(pathUrl(base, root, 'moves/two.txt'), { method: 'PUT', body: 'two' });
    const [, before] = parse(await request(pathUrl(base, root, 'moves/one.txt', '?t=json')));
    const r = await request(pathUrl(base, root, 'moves', '?t=rename&from_name=one.txt&to_name=uno.txt'), { method: 'POST' });
    assert.equal(r.status, 200, r.text);
    const [, after] = parse(await request(pathUrl(base, root, 'moves/uno.txt', '?t=json')));
    assert.equal(after.ro_uri, before.ro_uri);
    assertError(await request(pathUrl(base, root, 'moves/one.txt')), 404, 'NotFound');
    assertError(await request(pathUrl(base, root, 'moves', '?t=rename&from_name=uno.txt&to_name=two.txt&replace=false'), { method: 'POST' }), 409, 'BadInput');
    assertError(await request(pathUrl(base, root, 'moves', '?t=rename&from_name=missing&to_name=x'), { method: 'POST' }), 404, 'NotFound');
    assertError(await request(pathUrl(base, root, 'moves', '?t=rename&from_name=uno.txt&to_name=a/b'), { method: 'POST' }), 400, 'BadInput');
    assertError(await request(pathUrl(base, root, 'moves', '?t=rename&from_name=uno.txt'), { method: 'POST' }), 400, 'BadInput');
    const [, projects] = parse(await request(pathUrl(base, root, 'projects', '?t=json')));
    const relink = await request(pathUrl(base, root, 'moves', `?t=relink&from_name=uno.txt&to_dir=${encodeURIComponent(String(projects.rw_uri))}&to_name=moved.txt`), { method: 'POST' });
    assert.equal(relink.status, 200, relink.text);
    assert.equal((await request(pathUrl(base, root, 'projects/moved.txt'))).text, 'one');
    assertError(await request(pathUrl(base, root, 'moves/uno.txt')), 404, 'NotFound');
    const rename = await request(pathUrl(base, root, 'moves', '?t=rename&from_name=two.txt&to_name=deux.txt&to_dir=projects'), { method: 'POST' });
    assert.equal(rename.status, 404, 'to_dir names a path below this directory: moves/projects does not exist');
    const intoSub = await request(pathUrl(base, root, '', '?t=relink&from_name=moves&to_dir=projects/a'), { method: 'POST' });
    assert.equal(intoSub.status, 200, intoSub.text);
    assert.equal((await request(pathUrl(base, root, 'projects/a/moves/two.txt'))).text, 'two');
  });

  await t.test('mkdir-with-children keeps the given metadata; mkdir-immutable refuses mutable children; set_children', async () => {
    const children = `{"readme": ["filenode", {"ro_uri": "${fileCap}", "metadata": {"ctime": 1202777696.7564139, "mtime": 1202777696.0, "tahoe": {"linkcrtime": 1202777696.7564139, "linkmotime": 1202777696.7564139}}}], "sub": ["dirnode", {"rw_uri": "${root}"}]}`;
    const made = await request(`${base}/uri?t=mkdir-with-children`, { method: 'POST', body: children });
    assert.equal(made.status, 200, made.text);
    const raw = await request(pathUrl(base, made.text, 'readme', '?t=json'));
    const metadata = pyJsonLoads(raw.text);
    assert.ok(Array.isArray(metadata), 'Array.isArray(metadata)');
    // As Python's json.loads + json.dumps: the shortest repr of the double, 1.0 stays 1.0.
    assert.match(raw.text, /"ctime": 1202777696\.756414,\n *"mtime": 1202777696\.0,/, 'floats as Tahoe (Python) writes them');
    const [, sub] = parse(await request(pathUrl(base, made.text, 'sub', '?t=json')));
    assert.equal(sub.rw_uri, root);
    assert.deepEqual((parse(await request(pathUrl(base, made.text, '', '?t=json')))[1].children as Record<string, Json>).sub[1].metadata, {}, 'no metadata given: {}');
    const immutable = await request(`${base}/uri?t=mkdir-immutable`, { method: 'POST', body: `{"big": ["filenode", {"ro_uri": "${fileCap}"}]}` });
    assert.equal(immutable.status, 200, immutable.text);
    assert.match(immutable.text, /^URI:DIR2-(CHK|LIT):/);
    const [, imm] = parse(await request(pathUrl(base, immutable.text, '', '?t=json')));
    assert.equal(imm.mutable, false);
    assert.equal(imm.rw_uri, undefined);
    assert.ok((await request(pathUrl(base, immutable.text, 'big'))).body.equals(big), '(await request(pathUrl(base, immutable.text, \'big\'))).body.equals(big)');
    assertError(await request(pathUrl(base, immutable.text, 'new.txt'), { method: 'PUT', body: 'x' }), 403, 'CapInvalid');
    assertError(await request(`${base}/uri?t=mkdir-immutable`, { method: 'POST', body: `{"d": ["dirnode", {"rw_uri": "${root}"}]}` }), 400, 'CapInvalid');
    assertError(await request(`${base}/uri?t=mkdir-immutable`, { method: 'POST', body: '' }), 400, 'BadInput');
    assertError(await request(`${base}/uri?t=mkdir-with-children`, { method: 'POST', body: '{"a": 1}' }), 400, 'BadInput');
    assertError(await request(`${base}/uri?t=mkdir-with-children`, { method: 'POST', body: '{not json' }), 400, 'BadInput');
    const inPlace = await request(pathUrl(base, root, 'kids', '?t=mkdir-with-children'), { method: 'POST', body: `{"f": ["filenode", {"ro_uri": "${fileCap}"}]}` });
    assert.match(inPlace.text, /^URI:DIR2:/);
    assert.ok((await request(pathUrl(base, root, 'kids/f'))).body.equals(big), '(await request(pathUrl(base, root, \'kids/f\'))).body.equals(big)');
    const set = await request(pathUrl(base, root, 'kids', '?t=set_children'), { method: 'POST', body: `{"g": ["filenode", {"ro_uri": "${fileCap}", "metadata": {"note": "x"}}], "f": ["filenode", {"ro_uri": "${fileCap}"}]}` });
    assert.equal(set.status, 200, set.text);
    const [, kids] = parse(await request(pathUrl(base, root, 'kids', '?t=json')));
    const entries = kids.children as Record<string, Json>;
    assert.deepEqual(Object.keys(entries).sort(), ['f', 'g']);
    assert.equal((entries.g[1].metadata as { note: string }).note, 'x');
    assertError(await request(pathUrl(base, root, 'kids', '?t=set-children&replace=false'), { method: 'POST', body: `{"g": ["filenode", {"ro_uri": "${fileCap}"}]}` }), 409, 'BadInput');
  });

  await t.test('POST t=upload into a directory (name from the form), when_done redirects stay on the gateway', async () => {
    const form = formBody([{ name: 't', data: 'upload' }, { name: 'when_done', data: '.' }, { name: 'file', filename: 'photo.jpg', data: big }]);
    const r = await request(pathUrl(base, root, 'uploads/'), { method: 'POST', body: form.body, headers: { 'Content-Type': form.contentType } });
    assert.equal(r.status, 303, r.text);
    assert.equal(r.headers.location, '.');
    const back = await request(pathUrl(base, root, 'uploads/photo.jpg'));
    assert.ok(back.body.equals(big), 'back.body.equals(big)');
    assert.equal(back.headers['content-type'], 'image/jpeg', 'typed by its name');
    const named = formBody([{ name: 't', data: 'upload' }, { name: 'name', data: 'renamed.txt' }, { name: 'format', data: 'sdmf' }, { name: 'file', filename: 'x', data: 'mutable via form' }]);
    const m = await request(pathUrl(base, root, 'uploads'), { method: 'POST', body: named.body, headers: { 'Content-Type': named.contentType } });
    assert.match(m.text, /^URI:SSK:/);
    // Browsers drop the tab and read "/\t/evil.example" as "//evil.example": another site.
    for (const whenDone of ['https://evil.example/%(uri)s', '/\t/evil.example/%(uri)s', '/\\evil.example/%(uri)s', '//evil.example/%(uri)s']) {
      const evil = formBody([{ name: 't', data: 'upload' }, { name: 'when_done', data: whenDone }, { name: 'file', filename: 'y', data: 'x' }]);
      assertError(await request(pathUrl(base, root, 'uploads'), { method: 'POST', body: evil.body, headers: { 'Content-Type': evil.contentType } }), 400, 'BadInput');
    }
    assert.equal((await request(pathUrl(base, root, 'uploads/y'))).status, 404, 'a refused when_done stores nothing');
    const noName = formBody([{ name: 't', data: 'upload' }, { name: 'file', data: 'x' }]);
    assertError(await request(pathUrl(base, root, 'uploads'), { method: 'POST', body: noName.body, headers: { 'Content-Type': noName.contentType } }), 400, 'BadInput');
    const slash = formBody([{ name: 't', data: 'upload' }, { name: 'name', data: 'a/b' }, { name: 'file', data: 'x' }]);
    assertError(await request(pathUrl(base, root, 'uploads'), { method: 'POST', body: slash.body, headers: { 'Content-Type': slash.contentType } }), 400, 'BadInput');
    assert.deepEqual(readdirSync(f.tmp), [], 'no spool file left');
  });

  await t.test('read-only directories: everything reads, every change is 403 with a hint', async () => {
    const ro = (await request(pathUrl(base, root, '', '?t=readonly-uri'))).text;
    assert.ok((await request(pathUrl(base, ro, 'docs/2026/big.bin'))).body.equals(big), '(await request(pathUrl(base, ro, \'docs/2026/big.bin\'))).body.equals(big)');
    const [, docs] = parse(await request(pathUrl(base, ro, 'docs', '?t=json')));
    assert.equal(docs.rw_uri, undefined, 'a read-only path gives read-only children');
    assert.match(String(docs.ro_uri), /^URI:DIR2-RO:/);
    assertError(await request(pathUrl(base, ro, 'new.txt'), { method: 'PUT', body: 'x' }), 403, 'CapInvalid');
    assertError(await request(pathUrl(base, ro, 'docs/new.txt'), { method: 'PUT', body: 'x' }), 403, 'CapInvalid');
    assertError(await request(pathUrl(base, ro, 'docs'), { method: 'DELETE' }), 403, 'CapInvalid');
    assertError(await request(pathUrl(base, ro, '', '?t=mkdir&name=z'), { method: 'POST' }), 403, 'CapInvalid');
    assertError(await request(pathUrl(base, ro, 'notes/todo.txt'), { method: 'PUT', body: 'x' }), 403, 'CapInvalid');
    assert.equal((await request(pathUrl(base, ro, 'notes/todo.txt'))).text, 'buy MILK and bread');
  });

  await t.test('HTML listing: names, types, sizes and links built on the page path; no child caps; forms only when writable', async () => {
    const page = await request(pathUrl(base, root, 'docs/2026/'), { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    assert.match(String(page.headers['content-security-policy'] ?? ''), /default-src 'none'/);
    assert.ok(page.text.includes('big.bin'), 'page.text.includes(\'big.bin\')');
    assert.ok(page.text.includes('70.00 kB'), 'page.text.includes(\'70.00 kB\')');
    assert.match(page.text, /href="\/uri\/URI%3ADIR2%3A[a-z2-7]+%3A[a-z2-7]+\/docs\/2026\/big\.bin"/);
    assert.ok(!page.text.includes(fileCap.slice(8, 30)), 'the child\'s cap is not on the page');
    assert.match(page.text, /Read-only version/);
    assert.match(page.text, /name="t" value="upload"/);
    assert.match(page.text, /\(modifiable\)/);
    const top = await request(pathUrl(base, root, ''));
    assert.match(top.text, /<td>DIR<\/td><td class="name"><a href="[^"]+\/docs\/">docs<\/a>/);
    const ro = (await request(pathUrl(base, root, '', '?t=readonly-uri'))).text;
    const roPage = await request(pathUrl(base, ro, ''));
    assert.match(roPage.text, /\(read-only\)/);
    assert.doesNotMatch(roPage.text, /<form/);
    assert.ok(!roPage.text.includes(root), 'a read-only page never shows the write cap');
    const escaped = await request(pathUrl(base, root, '<script>.txt'), { method: 'PUT', body: 'x' });
    assert.equal(escaped.status, 201);
    const withScript = await request(pathUrl(base, root, ''));
    assert.ok(!withScript.text.includes('<script>'), 'names are escaped');
    assert.ok(withScript.text.includes('&lt;script&gt;.txt'), 'withScript.text.includes(\'&lt;script&gt;.txt\')');
  });

  await t.test('a request refused at the end of a missing path makes none of its intermediate directories', async () => {
    const dir = (await request(`${base}/uri?t=mkdir`, { method: 'POST' })).text;
    const form = (parts: Parameters<typeof formBody>[0]): { body: Buffer; headers: Record<string, string> } => {
      const b = formBody(parts);
      return { body: b.body, headers: { 'Content-Type': b.contentType } };
    };
    const refused: Array<[string, string, Parameters<typeof request>[1], number, string]> = [
      ['a form without a file field, into new/dir/', 'new/dir/', { method: 'POST', ...form([{ name: 't', data: 'upload' }, { name: 'name', data: 'x.txt' }]) }, 400, 'BadInput'],
      ['a form without a file field, at new/dir/x.txt', 'new/dir/x.txt', { method: 'POST', ...form([{ name: 't', data: 'upload' }]) }, 400, 'BadInput'],
      ['an upload named with a slash', 'new/dir/', { method: 'POST', ...form([{ name: 't', data: 'upload' }, { name: 'name', data: 'a/b' }, { name: 'file', data: 'x' }]) }, 400, 'BadInput'],
      ['an upload with an unknown format', 'new/x.txt', { method: 'POST', ...form([{ name: 't', data: 'upload' }, { name: 'format', data: 'zzz' }, { name: 'file', data: 'x' }]) }, 400, 'BadInput'],
      ['t=uri without uri=', 'new/dir/?t=uri&name=x', { method: 'POST' }, 400, 'BadInput'],
      ['t=uri at a missing name (only a free place for PUT and uploads)', `new/x?t=uri&name=x&uri=${encodeURIComponent(fileCap)}`, { method: 'POST' }, 404, 'NotFound'],
      ['an unknown t=', 'new/dir/?t=bogus', { method: 'POST' }, 400, 'BadInput'],
      ['set_children with a bad body', 'new/dir/?t=set_children', { method: 'POST', body: '{not json' }, 400, 'BadInput'],
      ['mkdir-with-children with a bad body', 'new/dir/x?t=mkdir-with-children', { method: 'POST', body: '{"a": 1}' }, 400, 'BadInput'],
      ['mkdir&name= with format=chk', 'new/dir/?t=mkdir&name=x&format=chk', { method: 'POST' }, 400, 'BadInput'],
      ['mkdir-immutable&name= without children', 'new/dir/?t=mkdir-immutable&name=x', { method: 'POST', body: '' }, 400, 'BadInput'],
      ['mkdir at the end with an unknown format', 'new/dir/x?t=mkdir&format=zzz', { method: 'POST' }, 400, 'BadInput'],
      ['PUT with an unknown format', 'new/x.txt?format=zzz', { method: 'PUT', body: 'x' }, 400, 'BadInput'],
      ['PUT with a bad replace=', 'new/x.txt?replace=maybe', { method: 'PUT', body: 'x' }, 400, 'BadInput'],
      ['PUT with offset= (a new file has nothing to write into)', 'new/x.txt?offset=3', { method: 'PUT', body: 'x' }, 400, 'BadInput'],
      ['PUT t=uri with no cap in the body', 'new/x?t=uri', { method: 'PUT', body: '' }, 400, 'BadInput'],
      ['PUT to a directory', 'new/dir/?t=bogus', { method: 'PUT', body: 'x' }, 400, 'BadInput'],
    ];
    for (const [what, path, options, status, kind] of refused) {
      const [names, query = ''] = path.split('?');
      const url = `${pathUrl(base, dir, names.replace(/\/$/, ''))}${names.endsWith('/') ? '/' : ''}${query === '' ? '' : `?${query}`}`;
      const reply = await request(url, options);
      assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.text}`);
      assertError(reply, status, kind);
      assert.deepEqual(parse(await request(pathUrl(base, dir, '', '?t=json')))[1].children, {}, `${what}: nothing was made`);
    }
    // The same path works once the request is whole (and makes the directories then).
    const ok = form([{ name: 't', data: 'upload' }, { name: 'name', data: 'x.txt' }, { name: 'file', data: 'now' }]);
    assert.equal((await request(`${pathUrl(base, dir, 'new/dir')}/`, { method: 'POST', ...ok })).status, 200);
    assert.equal((await request(pathUrl(base, dir, 'new/dir/x.txt'))).text, 'now');
    assert.deepEqual(readdirSync(f.tmp), [], 'no spool file left');
  });

  await t.test('concurrent links into one directory through one gateway all survive (read-modify-write with retries)', async () => {
    const dir = (await request(`${base}/uri?t=mkdir`, { method: 'POST' })).text;
    const names = Array.from({ length: 5 }, (_, i) => `n${i}`);
    const replies = await Promise.all(names.map((n) => request(pathUrl(base, dir, n), { method: 'PUT', body: `content ${n}` })));
    for (const r of replies) assert.equal(r.status, 201, r.text);
    const [, listing] = parse(await request(pathUrl(base, dir, '', '?t=json')));
    assert.deepEqual(Object.keys(listing.children as object).sort(), names);
  });
});
