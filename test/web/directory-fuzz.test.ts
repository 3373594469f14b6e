/**
 * The directory routes and their parsers against garbage. Pure parsers first (children
 * JSON of mkdir-with-children / set_children, the CLI's reading of `?t=json`): random and
 * mutated inputs give a result or a TahoeError, never anything else. Then random and
 * mutated requests against a live gateway on a real grid (paths below a directory,
 * every t=, random arguments and bodies): every answer is a proper response with a kind
 * and a hint for errors, never a 500 or a stack trace, and afterwards the directory still
 * lists and its files still read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, startGatewayFixture } from './helpers.js';
import { parseChildrenJson } from '../../src/web/directory.js';
import { parseNodeJson } from '../../src/web/directory-client.js';
import { TahoeError } from '../../src/errors.js';

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

function mutate(s: string, alphabet: readonly string[]): string {
  const chars = s.split('');
  const n = 1 + Math.floor(Math.random() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(Math.random() * (chars.length + 1));
    const op = Math.random();
    if (op < 0.35) chars.splice(pos, 1 + Math.floor(Math.random() * 3));
    else if (op < 0.8) chars.splice(pos, 0, pick(alphabet));
    else chars[pos] = String.fromCharCode(32 + Math.floor(Math.random() * 95));
  }
  return chars.join('');
}

const JSON_BITS = ['{', '}', '[', ']', '"', ':', ',', 'null', '1e999', '-0', 'NaN', '"\\u0000"', '"rw_uri"', '"ro_uri"', '"metadata"', '"URI:CHK:"', '"ro.x"', '"imm.y"', '"a/b"', '""', 'true', '1.5', '\\', '\u00e9'];

function expectResultOrTahoeError(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TahoeError, `${what}: ${String(e)}`);
    assert.ok(e.hint.length > 5, `${what}: a hint`);
  }
}

test('children JSON and t=json parsers: results or TahoeErrors, nothing else', () => {
  const seeds = [
    '{"a": ["filenode", {"ro_uri": "URI:LIT:nbswy3dp", "metadata": {"tahoe": {"linkcrtime": 1.5}}}], "d": ["dirnode", {"rw_uri": "URI:DIR2:aaaa:bbbb"}]}',
    '{}',
    '{"x": ["unknown", {"ro_uri": "ro.future"}]}',
  ];
  for (let i = 0; i < 3000; i++) {
    const text = Math.random() < 0.8 ? mutate(pick(seeds), JSON_BITS) : randomBytes(Math.floor(Math.random() * 60)).toString('latin1');
    expectResultOrTahoeError(() => parseChildrenJson(Buffer.from(text, 'utf8'), { keepMissingMetadata: Math.random() < 0.5 }), `children ${JSON.stringify(text)}`);
    expectResultOrTahoeError(() => parseChildrenJson(randomBytes(Math.floor(Math.random() * 40)), { keepMissingMetadata: false }), 'random bytes');
  }
  const nodeSeeds = ['["dirnode", {"children": {}, "ro_uri": "URI:DIR2-RO:a:b", "mutable": true}]', '["filenode", {"size": 3}]', '["unknown", {}]'];
  for (let i = 0; i < 3000; i++) {
    const text = Math.random() < 0.8 ? mutate(pick(nodeSeeds), JSON_BITS) : randomBytes(Math.floor(Math.random() * 60)).toString('latin1');
    expectResultOrTahoeError(() => parseNodeJson(text), `node ${JSON.stringify(text)}`);
  }
  // A name-by-name check of what must be refused.
  for (const bad of ['[]', '"x"', '{"a": 1}', '{"a": ["filenode"]}', '{"a": ["filenode", {"ro_uri": 5}]}', '{"a": ["filenode", {"metadata": [1]}]}']) {
    assert.throws(() => parseChildrenJson(Buffer.from(bad), { keepMissingMetadata: false }), (e: unknown) => e instanceof TahoeError && e.kind === 'BadInput', bad);
  }
});

test('directory routes fuzz: random requests below a directory get proper answers; the directory survives', async (t) => {
  const f = await startGatewayFixture(t);
  const { base } = f;
  const root = (await request(`${base}/uri?t=mkdir`, { method: 'POST' })).text;
  const enc = encodeURIComponent(root);
  const file = randomBytes(3000);
  assert.equal((await request(`${base}/uri/${enc}/keep/file.bin`, { method: 'PUT', body: file })).status, 201);
  const mutable = (await request(`${base}/uri/${enc}/keep/m.txt?format=MDMF`, { method: 'PUT', body: 'mutable text' })).text;
  const caps = [root, mutable, 'URI:CHK:aaaa:bbbb:2:4:5', 'ro.x-future', 'URI:DIR2-RO:aaaaaaaaaaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'junk', ''];
  const paths = ['', '/', '/keep', '/keep/', '/keep/file.bin', '/keep/m.txt', '/new', '/new/deeper/x', '/keep/file.bin/child', '//x', '/%2F', '/caf%C3%A9', '/a%00b'];
  const ts = ['', 'json', 'uri', 'readonly-uri', 'mkdir', 'mkdir-with-children', 'mkdir-immutable', 'upload', 'uri', 'unlink', 'delete', 'rename', 'relink', 'move', 'set_children', 'set-children', 'check', 'info', 'bogus'];
  const argNames = ['name', 'from_name', 'to_name', 'to_dir', 'replace', 'format', 'offset', 'uri', 'when_done', 'mutable', 'target_type', 'redirect_to_result', 'filename', 'save'];
  const argValues = ['x', 'keep', 'file.bin', 'a/b', '', 'true', 'false', 'only-files', 'maybe', 'sdmf', 'MDMF', 'chk', 'zz', '-1', '0', '5', '99999999999999999999', root, mutable, 'ro.x', '.', '/uri', 'https://evil.example/', 'URI:', 'keep/'];
  const methods = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];
  const bodies = (): Buffer | string | undefined => {
    const r = Math.random();
    if (r < 0.25) return undefined;
    if (r < 0.5) return mutate(`{"k": ["filenode", {"ro_uri": "URI:LIT:nbswy3dp", "metadata": {"a": 1}}], "d": ["dirnode", {"rw_uri": "${root}"}]}`, JSON_BITS);
    if (r < 0.7) return randomBytes(Math.floor(Math.random() * 200));
    return pick([root, mutable, 'ro.future-cap', '', 'not a cap']);
  };
  // Requests that mostly make sense (so the fuzz also reaches the changing paths), then noise.
  const templates: Array<[string, string, Record<string, string>]> = [
    ['GET', '', { t: 'json' }], ['GET', '/keep/', {}], ['PUT', '/new/x', {}], ['PUT', '/keep/m.txt', { offset: '3' }],
    ['POST', '', { t: 'mkdir', name: 'made' }], ['POST', '/keep', { t: 'rename', from_name: 'file.bin', to_name: 'renamed' }],
    ['POST', '/keep', { t: 'rename', from_name: 'renamed', to_name: 'file.bin' }], ['POST', '', { t: 'uri', name: 'link', uri: mutable }],
    ['DELETE', '/made', {}], ['POST', '', { t: 'set_children' }], ['PUT', '/new/y', { t: 'uri' }], ['POST', '/new', { t: 'relink', from_name: 'x', to_dir: 'keep' }],
  ];
  const statuses = new Map<number, number>();
  const rounds = 400;
  for (let i = 0; i < rounds; i++) {
    const cap = Math.random() < 0.85 ? root : pick(caps);
    const template = Math.random() < 0.5 ? pick(templates) : undefined;
    const p = template !== undefined ? template[1] : Math.random() < 0.3 ? mutate(pick(paths), ['/', '%', '%2F', '..', 'é', ':', '?', '#']) : pick(paths);
    const query = new URLSearchParams(template?.[2] ?? {});
    if (template === undefined) query.set('t', Math.random() < 0.9 ? pick(ts) : mutate(pick(ts), ['-', '_', 'x']));
    for (let a = 0; a < Math.floor(Math.random() * (template === undefined ? 4 : 2)); a++) query.set(pick(argNames), pick(argValues));
    const method = template?.[0] ?? pick(methods);
    const body = method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : bodies();
    const url = `${base}/uri/${encodeURIComponent(cap)}${p}?${query.toString()}`;
    let r;
    try {
      r = await request(url, { method, ...(body === undefined ? {} : { body }), timeoutMs: 60_000 });
    } catch (e) {
      if (e instanceof TypeError || (e as NodeJS.ErrnoException).code === 'ERR_UNESCAPED_CHARACTERS') continue;
      throw new Error(`${method} ${p}?${query.toString()}: ${String(e)}`, { cause: e });
    }
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    assert.ok(r.status < 500 || r.status === 503, `${method} ${p}?${query.toString()} → ${r.status}: ${r.text}`);
    if (r.status >= 400 && method !== 'HEAD') {
      assert.match(r.text, /^kind: [A-Za-z]+$/m, `${method} ${p}?${query.toString()} → ${r.status}: ${r.text}`);
      assert.match(r.text, /^hint: .{5,}/m, `${method} ${p} → a hint`);
      assert.doesNotMatch(r.text, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    }
  }
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  // The directory is still a directory that lists, and a read-only view of it still reads.
  const listing = await request(`${base}/uri/${enc}/?t=json`);
  assert.equal(listing.status, 200, listing.text);
  const [type] = JSON.parse(listing.text) as [string];
  assert.equal(type, 'dirnode');
  assert.equal((await request(`${base}/?t=json`)).status, 200, 'still serving');
  assert.equal((await request(`${base}/uri/${encodeURIComponent(mutable)}`)).status < 500, true);
});
