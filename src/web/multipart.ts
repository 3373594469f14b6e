/**
 * A streaming `multipart/form-data` reader (RFC 7578, body syntax from RFC 2046 §5.1.1)
 * for the gateway's HTML-form upload, `POST /uri?t=upload`: the `file` part is handed
 * on chunk by chunk as it arrives (the gateway writes it to its spool file), every other
 * part is a small text field (`t`, `when_done`, `format`, …) collected in memory within
 * fixed limits. Memory stays bounded by one network chunk plus the delimiter, whatever
 * the file size.
 *
 * Every malformed body (no boundary, truncated, oversized headers or fields, a part
 * without a name) fails with a `BadInput` TahoeError; nothing else is ever thrown
 * (fuzzed in test/web/multipart.test.ts).
 */
import { TahoeError } from '../errors.js';

export interface MultipartLimits {
  /** Bytes of one part's header section (default 16 KiB). */
  maxHeaderBytes: number;
  /** Bytes of one text field (default 64 KiB). */
  maxFieldBytes: number;
  /** Parts in one body (default 64). */
  maxParts: number;
}

export const DEFAULT_MULTIPART_LIMITS: MultipartLimits = { maxHeaderBytes: 16 * 1024, maxFieldBytes: 64 * 1024, maxParts: 64 };

export interface FilePartInfo {
  /** The form field name (the gateway streams the part named `file`). */
  name: string;
  /** `filename=` from Content-Disposition, as the browser sent it. */
  filename?: string;
  contentType?: string;
}

export interface MultipartHandlers {
  /** Which parts are streamed rather than collected as text. */
  isFilePart(info: FilePartInfo): boolean;
  onFileStart(info: FilePartInfo): Promise<void> | void;
  /** Awaited before the next chunk is parsed: backpressure reaches the network. */
  onFileData(chunk: Buffer): Promise<void> | void;
  onFileEnd(): Promise<void> | void;
}

export interface MultipartResult {
  /** Text fields in arrival order (a repeated name keeps its first value, as Tahoe's get_arg). */
  fields: Map<string, string>;
  /** Names of the streamed parts, in order. */
  files: string[];
}

const BOUNDARY_CHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$/;

function bad(message: string, hint = 'send the form as multipart/form-data, e.g. curl -F file=@FILE "http://127.0.0.1:3456/uri?t=upload"'): TahoeError {
  return new TahoeError('BadInput', message, { hint });
}

/** The boundary of a `multipart/form-data` Content-Type, or a BadInput error. */
export function multipartBoundary(contentType: string | undefined): string {
  if (contentType === undefined) throw bad('the upload has no Content-Type: expected multipart/form-data');
  const [type, params] = splitParams(contentType);
  if (type.toLowerCase() !== 'multipart/form-data') {
    throw bad(`the upload's Content-Type is ${printable(type)}, not multipart/form-data`, 'POST /uri?t=upload takes an HTML form body; to send raw bytes use PUT /uri');
  }
  const boundary = params.get('boundary');
  if (boundary === undefined || !BOUNDARY_CHARS.test(boundary) || boundary.endsWith(' ')) {
    throw bad('the multipart/form-data Content-Type has no valid boundary= parameter');
  }
  return boundary;
}

/** Split `value; a=b; c="d"` into the value and its parameters (names lower-cased). */
function splitParams(header: string): [string, Map<string, string>] {
  const params = new Map<string, string>();
  let i = header.indexOf(';');
  const value = (i < 0 ? header : header.slice(0, i)).trim();
  while (i >= 0 && i < header.length) {
    i++; // past ';'
    while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
    const eq = header.indexOf('=', i);
    const semi = header.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      i = semi;
      continue;
    }
    const name = header.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (j < header.length && (header[j] === ' ' || header[j] === '\t')) j++;
    let v = '';
    if (header[j] === '"') {
      j++;
      while (j < header.length && header[j] !== '"') {
        if (header[j] === '\\' && j + 1 < header.length) j++;
        v += header[j];
        j++;
      }
      j++; // closing quote (or end)
      const next = header.indexOf(';', j);
      i = next;
    } else {
      const next = header.indexOf(';', j);
      v = (next < 0 ? header.slice(j) : header.slice(j, next)).trim();
      i = next;
    }
    if (name !== '' && !params.has(name)) params.set(name, v);
  }
  return [value, params];
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}…` : clean;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

/**
 * Read a whole multipart body. `chunks` is the request; file parts go to `handlers`,
 * text fields come back in the result. Trailing bytes after the closing delimiter
 * (the epilogue) are ignored.
 */
export async function readMultipart(
  chunks: AsyncIterable<Buffer | Uint8Array | string>,
  boundary: string,
  handlers: MultipartHandlers,
  limits: MultipartLimits = DEFAULT_MULTIPART_LIMITS,
): Promise<MultipartResult> {
  // The body starts with "--boundary"; a virtual CRLF in front lets one delimiter
  // pattern, CRLF "--" boundary, find the first one too.
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const fields = new Map<string, string>();
  const files: string[] = [];
  let pending: Buffer = Buffer.from('\r\n');
  let state = 'preamble' as State;
  let parts = 0;
  let current: { streaming: boolean; name: string; text: Buffer[]; textBytes: number } | undefined;

  const startPart = async (headerText: string): Promise<void> => {
    parts++;
    if (parts > limits.maxParts) throw bad(`the form has more than ${limits.maxParts} parts`);
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw bad(`a form part has a malformed header line "${printable(line)}"`);
      const key = line.slice(0, colon).trim().toLowerCase();
      if (!headers.has(key)) headers.set(key, line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition');
    if (disposition === undefined) throw bad('a form part has no Content-Disposition header');
    const [kind, params] = splitParams(disposition);
    if (kind.toLowerCase() !== 'form-data') throw bad(`a form part's Content-Disposition is "${printable(kind)}", not form-data`);
    const name = params.get('name');
    if (name === undefined) throw bad('a form part has no name= in its Content-Disposition');
    const info: FilePartInfo = { name };
    const filename = params.get('filename');
    if (filename !== undefined) info.filename = filename;
    const contentType = headers.get('content-type');
    if (contentType !== undefined) info.contentType = contentType;
    const streaming = handlers.isFilePart(info);
    current = { streaming, name, text: [], textBytes: 0 };
    if (streaming) {
      files.push(name);
      await handlers.onFileStart(info);
    }
  };

  const partData = async (data: Buffer): Promise<void> => {
    if (current === undefined || data.length === 0) return;
    if (current.streaming) {
      await handlers.onFileData(data);
      return;
    }
    current.textBytes += data.length;
    if (current.textBytes > limits.maxFieldBytes) {
      throw bad(`the form field "${printable(current.name)}" is larger than ${limits.maxFieldBytes} bytes`, 'only the field named "file" may carry file contents');
    }
    current.text.push(Buffer.from(data));
  };

  const endPart = async (): Promise<void> => {
    if (current === undefined) return;
    const part = current;
    current = undefined;
    if (part.streaming) await handlers.onFileEnd();
    else if (!fields.has(part.name)) fields.set(part.name, Buffer.concat(part.text).toString('utf8'));
  };

  /** Process as much of `pending` as possible; returns when more input is needed. */
  const step = async (final: boolean): Promise<void> => {
    for (;;) {
      switch (state) {
        case 'preamble':
        case 'body': {
          const at = pending.indexOf(delimiter);
          if (at < 0) {
            // Keep a tail that could be the start of a delimiter.
            const keep = Math.min(pending.length, delimiter.length - 1);
            if (state === 'body') await partData(pending.subarray(0, pending.length - keep));
            pending = Buffer.from(pending.subarray(pending.length - keep));
            return;
          }
          if (state === 'body') {
            await partData(pending.subarray(0, at));
            await endPart();
          }
          pending = pending.subarray(at + delimiter.length);
          state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          // "--" closes the body; otherwise optional whitespace, then CRLF, then headers.
          if (pending.length < 2) {
            if (final) throw bad('the form body ends right after a boundary (truncated upload?)');
            return;
          }
          if (pending[0] === 0x2d && pending[1] === 0x2d) {
            state = 'done';
            pending = Buffer.alloc(0);
            return;
          }
          const crlf = pending.indexOf('\r\n');
          if (crlf < 0) {
            if (pending.length > 256) throw bad('garbage after a multipart boundary');
            if (final) throw bad('the form body ends right after a boundary (truncated upload?)');
            return;
          }
          if (!/^[ \t]*$/.test(pending.subarray(0, crlf).toString('latin1'))) throw bad('garbage after a multipart boundary');
          pending = pending.subarray(crlf + 2);
          state = 'headers';
          break;
        }
        case 'headers': {
          // An empty header section is allowed: CRLF right away.
          if (pending.length >= 2 && pending[0] === 0x0d && pending[1] === 0x0a) {
            pending = pending.subarray(2);
            await startPart('');
            state = 'body';
            break;
          }
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) {
            if (pending.length > limits.maxHeaderBytes) throw bad(`a form part's headers are longer than ${limits.maxHeaderBytes} bytes`);
            if (final) throw bad('the form body ends inside a part\'s headers (truncated upload?)');
            return;
          }
          if (end > limits.maxHeaderBytes) throw bad(`a form part's headers are longer than ${limits.maxHeaderBytes} bytes`);
          const headerText = pending.subarray(0, end).toString('utf8');
          pending = pending.subarray(end + 4);
          await startPart(headerText);
          state = 'body';
          break;
        }
        case 'done':
          pending = Buffer.alloc(0);
          return;
      }
    }
  };

  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (state === 'done') continue; // epilogue
    pending = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
    await step(false);
  }
  if (state !== 'done') await step(true);
  if (state !== 'done') throw bad(state === 'preamble' ? 'the form body holds no multipart boundary' : 'the form body ends before its closing boundary (truncated upload?)');
  return { fields, files };
}
