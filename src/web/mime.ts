/**
 * Content-Type from a file name, for `GET /uri/$FILECAP?filename=NAME` and
 * `/named/$FILECAP/NAME` (Tahoe-LAFS webapi.rst, "Viewing/Downloading a File"). A small
 * table of common types is enough: unknown names get application/octet-stream, and
 * downloads carry `X-Content-Type-Options: nosniff`.
 */

const TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8', text: 'text/plain; charset=utf-8', md: 'text/markdown; charset=utf-8', rst: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8', log: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8', json: 'application/json', xml: 'application/xml',
  svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', ico: 'image/x-icon', avif: 'image/avif',
  pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip', tgz: 'application/gzip', bz2: 'application/x-bzip2', xz: 'application/x-xz',
  tar: 'application/x-tar', '7z': 'application/x-7z-compressed', zst: 'application/zstd',
  mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', flac: 'audio/flac', wav: 'audio/wav', opus: 'audio/ogg',
  mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', mkv: 'video/x-matroska', ogv: 'video/ogg', mov: 'video/quicktime',
  woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf',
  wasm: 'application/wasm', epub: 'application/epub+zip', odt: 'application/vnd.oasis.opendocument.text',
};

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export function contentTypeFor(filename: string | undefined): string {
  if (filename === undefined) return DEFAULT_CONTENT_TYPE;
  const dot = filename.lastIndexOf('.');
  if (dot < 0 || dot === filename.length - 1) return DEFAULT_CONTENT_TYPE;
  return TYPES[filename.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}

/**
 * `Content-Disposition: attachment` for `save=true`. Tahoe echoes the filename bytes
 * as given; here the name is made header-safe (no CR/LF/quotes can break out) with an
 * ASCII fallback plus RFC 6266 / RFC 8187 `filename*` for the exact UTF-8 name.
 */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  let encoded: string;
  try {
    encoded = encodeURIComponent(filename);
  } catch {
    encoded = encodeURIComponent(ascii); // lone surrogates cannot be UTF-8 encoded
  }
  encoded = encoded.replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
