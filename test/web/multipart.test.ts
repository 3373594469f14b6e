/**
 * The streaming multipart reader (src/web/multipart.ts): real browser-shaped bodies cut
 * into every chunk size (the delimiter split across chunks), the file part streamed
 * with bounded buffering, limits, and a fuzz run where every failure is a BadInput.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { isTahoeError } from '../../src/errors.js';
import { multipartBoundary, readMultipart, type MultipartHandlers } from '../../src/web/multipart.js';

const BOUNDARY = '----WebKitFormBoundary7MA4YWxkTrZu0gW';

function form(parts: Array<{ name: string; filename?: string; type?: string; data: Buffer | string }>, boundary = BOUNDARY, preamble = ''): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type !== undefined) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\nepilogue is ignored`));
  return Buffer.concat(chunks);
}

async function* cut(body: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, Math.min(body.length, i + size));
}

interface Collected {
  file?: Buffer;
  filename?: string;
  maxChunk: number;
}

function collector(): { handlers: MultipartHandlers; out: Collected } {
  const out: Collected = { maxChunk: 0 };
  const parts: Buffer[] = [];
  return {
    out,
    handlers: {
      isFilePart: (info) => info.name === 'file',
      onFileStart: (info) => {
        out.filename = info.filename;
      },
      onFileData: (chunk) => {
        out.maxChunk = Math.max(out.maxChunk, chunk.length);
        parts.push(Buffer.from(chunk));
      },
      onFileEnd: () => {
        out.file = Buffer.concat(parts);
      },
    },
  };
}

test('multipart: boundary from Content-Type', () => {
  assert.equal(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`), BOUNDARY);
  assert.equal(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b:c"'), 'a b:c');
  assert.equal(multipartBoundary('Multipart/Form-Data;boundary=x'), 'x');
  for (const bad of [undefined, 'text/plain', 'multipart/form-data', 'multipart/form-data; boundary=', `multipart/form-data; boundary=${'x'.repeat(71)}`, 'multipart/form-data; boundary=a\u0000b']) {
    assert.throws(() => multipartBoundary(bad), (e) => isTahoeError(e, 'BadInput'), String(bad));
  }
});

test('multipart: fields and a binary file survive every chunking, delimiter split anywhere', async () => {
  // The file holds CRLF and dashes that look almost like a delimiter.
  const file = Buffer.concat([randomBytes(3000), Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}X\r\n--`), randomBytes(500)]);
  const body = form([
    { name: 't', data: 'upload' },
    // Browsers send quotes in file names as %22 (WHATWG HTML multipart encoding); it is kept as sent.
    { name: 'file', filename: 'a %22quoted%22 näme.bin', type: 'application/octet-stream', data: file },
    { name: 'when_done', data: '/uri/%(uri)s' },
  ], BOUNDARY, 'preamble to ignore\r\n');
  for (const size of [1, 2, 3, 7, 41, 42, 43, 100, 4096, body.length]) {
    const { handlers, out } = collector();
    const result = await readMultipart(cut(body, size), BOUNDARY, handlers);
    assert.equal(result.fields.get('t'), 'upload', `chunk ${size}`);
    assert.equal(result.fields.get('when_done'), '/uri/%(uri)s');
    assert.deepEqual(result.files, ['file']);
    assert.ok(out.file?.equals(file), `file bytes intact with chunk size ${size}`);
    assert.equal(out.filename, 'a %22quoted%22 näme.bin');
  }
});

test('multipart: a 16 MiB file part is streamed, never held whole', async () => {
  const total = 16 * 1024 * 1024;
  const hash = createHash('sha256');
  const source = randomBytes(64 * 1024);
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n`);
    for (let sent = 0; sent < total; sent += source.length) {
      hash.update(source);
      yield source;
    }
    yield Buffer.from(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="t"\r\n\r\nupload\r\n--${BOUNDARY}--\r\n`);
  }
  const got = createHash('sha256');
  let bytes = 0;
  let maxChunk = 0;
  const result = await readMultipart(body(), BOUNDARY, {
    isFilePart: (i) => i.name === 'file',
    onFileStart: () => undefined,
    onFileData: (c) => {
      got.update(c);
      bytes += c.length;
      maxChunk = Math.max(maxChunk, c.length);
    },
    onFileEnd: () => undefined,
  });
  assert.equal(bytes, total);
  assert.equal(got.digest('hex'), hash.digest('hex'));
  assert.equal(result.fields.get('t'), 'upload');
  assert.ok(maxChunk <= source.length + 100, `chunks handed on as they come (largest ${maxChunk})`);
});

test('multipart: backpressure — the next chunk waits for the file handler', async () => {
  const body = form([{ name: 'file', data: randomBytes(10_000) }]);
  let inHandler = false;
  await readMultipart(cut(body, 500), BOUNDARY, {
    isFilePart: () => true,
    onFileStart: () => undefined,
    onFileData: async () => {
      assert.equal(inHandler, false, 'handlers never overlap');
      inHandler = true;
      await new Promise((r) => setTimeout(r, 1));
      inHandler = false;
    },
    onFileEnd: () => undefined,
  });
});

const BAD_BODIES: Array<[string, Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['no boundary at all', Buffer.from('just some bytes')],
  ['truncated in a part', Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc`)],
  ['truncated in headers', Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; na`)],
  ['truncated after boundary', Buffer.from(`--${BOUNDARY}`)],
  ['no Content-Disposition', Buffer.from(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${BOUNDARY}--`)],
  ['no name', Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${BOUNDARY}--`)],
  ['not form-data', Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: attachment; name="x"\r\n\r\nx\r\n--${BOUNDARY}--`)],
  ['bad header line', Buffer.from(`--${BOUNDARY}\r\nnonsense\r\n\r\nx\r\n--${BOUNDARY}--`)],
  ['garbage after boundary', Buffer.from(`--${BOUNDARY}garbage\r\nContent-Disposition: form-data; name="x"\r\n\r\nx\r\n--${BOUNDARY}--`)],
  ['oversized field', form([{ name: 'when_done', data: 'x'.repeat(70_000) }])],
  ['oversized headers', Buffer.from(`--${BOUNDARY}\r\nX-Long: ${'y'.repeat(20_000)}\r\n\r\n`)],
  ['too many parts', form(Array.from({ length: 70 }, (_, i) => ({ name: `f${i}`, data: 'v' })))],
];

for (const [name, body] of BAD_BODIES) {
  test(`multipart: ${name} → BadInput`, async () => {
    const { handlers } = collector();
    await assert.rejects(readMultipart(cut(body, 37), BOUNDARY, handlers), (e) => isTahoeError(e, 'BadInput') && e.hint.length > 10);
  });
}

test('multipart fuzz: random and mutated bodies only ever fail with BadInput', async () => {
  const good = form([{ name: 't', data: 'upload' }, { name: 'file', filename: 'x', data: randomBytes(300) }]);
  for (let i = 0; i < 3000; i++) {
    let body: Buffer;
    if (i % 4 === 0) {
      body = randomBytes(i % 600);
    } else {
      body = Buffer.from(good);
      const flips = 1 + (i % 6);
      for (let f = 0; f < flips; f++) {
        const pos = Math.floor(Math.random() * body.length);
        body[pos] = i % 2 === 0 ? Math.floor(Math.random() * 256) : [0x0d, 0x0a, 0x2d, 0x22, 0x3b][f % 5];
      }
      if (i % 5 === 0) body = body.subarray(0, Math.floor(Math.random() * body.length));
    }
    const { handlers } = collector();
    try {
      await readMultipart(cut(body, 1 + (i % 97)), BOUNDARY, handlers, { maxHeaderBytes: 1024, maxFieldBytes: 256, maxParts: 8 });
    } catch (e) {
      assert.ok(isTahoeError(e, 'BadInput'), `iteration ${i}: ${String(e)}`);
    }
  }
});
