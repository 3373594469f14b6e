/**
 * How the web gateway shows directories and files: Tahoe's `?t=json` shapes and the HTML
 * directory listing (spec: Tahoe-LAFS 1.20 docs/frontends/webapi.rst, "Getting Information
 * About A File Or Directory (as JSON)" and "Viewing A Directory (as HTML)";
 * src/allmydata/web/directory.py `_directory_json_metadata`, web/common.py
 * `get_filenode_metadata`). Pure: everything comes in as arguments.
 *
 *   ["dirnode",  {"children": {NAME: [TYPE, {…, "metadata": {…}}]}, "ro_uri", "rw_uri"?, "verify_uri"?, "mutable", "format"}]
 *   ["filenode", {"mutable", "format", "size"?, "ro_uri", "rw_uri"?, "verify_uri"?, "metadata"?}]
 *   ["unknown",  {"rw_uri"?, "ro_uri"?, "metadata"?}]
 *
 * JSON is written as Python's `json.dumps(…, indent=1)` writes it, so link metadata read
 * from a directory (floats such as 1700000000.0) is shown exactly as Tahoe shows it.
 * Caps appear in JSON and in the links of the user's own page; they are never logged.
 */
import { base32Encode } from '../crypto/base32.js';
import { chkVerifierOf, formatCap, parseCap } from '../caps/caps.js';
import { formatMutableCap, verifyCapOf, type MutableFormat } from '../mutable/caps.js';
import { directoryReadCapOf, directoryVerifyCapOf, formatDirectoryCap, isWritableDirectory, parseAnyCap, type DirectoryCap } from '../dirnode/caps.js';
import { PyFloat, pyJsonDumps, type PyJsonObject, type PyJsonValue } from '../dirnode/pyjson.js';
import type { DirectoryChild } from '../dirnode/directory.js';
import { abbreviateSize, html, raw, type RawHtml } from './html.js';

/** The verify cap of any cap text (none for LIT files and directories, unknown caps). */
export function verifyCapText(capText: string | undefined): string | undefined {
  if (capText === undefined) return undefined;
  let any;
  try {
    any = parseAnyCap(capText);
  } catch {
    return undefined;
  }
  switch (any.kind) {
    case 'immutable-file':
      if (any.cap.type === 'LIT') return undefined;
      return formatCap(any.cap.type === 'CHK' ? chkVerifierOf(any.cap) : any.cap);
    case 'mutable-file':
      return formatMutableCap(verifyCapOf(any.cap));
    case 'directory': {
      const v = directoryVerifyCapOf(any.cap);
      return v === undefined ? undefined : formatDirectoryCap(v);
    }
    default:
      return undefined;
  }
}

/** Facts about an immutable file from its cap alone: size and format (CHK or LIT). */
export function immutableFacts(capText: string): { size?: number; format: 'CHK' | 'LIT' } {
  try {
    const cap = parseCap(capText);
    if (cap.type === 'LIT') return { size: cap.data.length, format: 'LIT' };
    if (cap.type === 'CHK' || cap.type === 'CHK-Verifier') return { size: cap.size, format: 'CHK' };
  } catch {
    // not an immutable cap: no facts
  }
  return { format: 'CHK' };
}

/** The format of the file holding a directory: SDMF/MDMF, or CHK/LIT for immutable ones. */
export function directoryFormat(cap: DirectoryCap): string {
  if (cap.kind === 'mutable-directory') return cap.file.format;
  return cap.file.type === 'LIT' ? 'LIT' : 'CHK';
}

function mutableFormatOf(capText: string | undefined): MutableFormat | undefined {
  if (capText === undefined) return undefined;
  try {
    const any = parseAnyCap(capText);
    if (any.kind === 'mutable-file') return any.cap.format;
    if (any.kind === 'directory' && any.cap.kind === 'mutable-directory') return any.cap.file.format;
  } catch {
    return undefined;
  }
  return undefined;
}

/** One entry of a directory's `children`, as Tahoe writes it. */
export function childJson(child: DirectoryChild): [string, PyJsonObject] {
  const data: PyJsonObject = new Map();
  let type: string;
  if (child.kind === 'file') {
    type = 'filenode';
    data.set('mutable', child.mutable === true);
    if (child.mutable === true) {
      data.set('format', mutableFormatOf(child.writeCap ?? child.readCap) ?? 'SDMF');
      // The size of a mutable child is not known without reading it (Tahoe leaves it out too).
    } else {
      const facts = immutableFacts(child.readCap ?? '');
      data.set('format', facts.format);
      if (facts.size !== undefined) data.set('size', facts.size);
    }
  } else if (child.kind === 'directory') {
    type = 'dirnode';
    data.set('mutable', child.mutable === true);
  } else {
    type = 'unknown';
  }
  data.set('metadata', child.metadata);
  if (child.writeCap !== undefined) data.set('rw_uri', child.writeCap);
  if (child.readCap !== undefined) data.set('ro_uri', child.readCap);
  const verify = child.kind === 'unknown' ? undefined : verifyCapText(child.readCap ?? child.writeCap);
  if (verify !== undefined) data.set('verify_uri', verify);
  return [type, data];
}

/** `GET /uri/$DIRCAP?t=json`. */
export function directoryJson(cap: DirectoryCap, children: readonly DirectoryChild[]): PyJsonValue {
  const kids: PyJsonObject = new Map();
  for (const child of children) kids.set(child.name, childJson(child));
  const data: PyJsonObject = new Map<string, PyJsonValue>([['children', kids]]);
  data.set('ro_uri', formatDirectoryCap(directoryReadCapOf(cap)));
  if (isWritableDirectory(cap)) data.set('rw_uri', formatDirectoryCap(cap));
  const verify = directoryVerifyCapOf(cap);
  if (verify !== undefined) data.set('verify_uri', formatDirectoryCap(verify));
  data.set('mutable', cap.kind === 'mutable-directory');
  data.set('format', directoryFormat(cap));
  return ['dirnode', data];
}

export interface FileFacts {
  mutable: boolean;
  format: string;
  size?: number;
  writeCap?: string;
  readCap?: string;
  /** Link metadata when the file was reached through a directory. */
  metadata?: PyJsonObject;
}

/** `GET /uri/$FILECAP?t=json` and `GET /uri/$DIRCAP/…/FILE?t=json` (metadata from the link). */
export function fileJson(facts: FileFacts): PyJsonValue {
  const data: PyJsonObject = new Map<string, PyJsonValue>([['mutable', facts.mutable], ['format', facts.format]]);
  if (facts.size !== undefined) data.set('size', facts.size);
  if (facts.readCap !== undefined) data.set('ro_uri', facts.readCap);
  if (facts.writeCap !== undefined) data.set('rw_uri', facts.writeCap);
  const verify = verifyCapText(facts.readCap ?? facts.writeCap);
  if (verify !== undefined) data.set('verify_uri', verify);
  if (facts.metadata !== undefined) data.set('metadata', facts.metadata);
  return ['filenode', data];
}

/** `t=json` of a cap tahoe-ts does not know (a child of a directory, or `/uri/ro.…`). */
export function unknownJson(writeCap: string | undefined, readCap: string | undefined, metadata?: PyJsonObject): PyJsonValue {
  const data: PyJsonObject = new Map();
  if (writeCap !== undefined) data.set('rw_uri', writeCap);
  if (readCap !== undefined) data.set('ro_uri', readCap);
  if (metadata !== undefined) data.set('metadata', metadata);
  return ['unknown', data];
}

/** Tahoe's web JSON: `json.dumps(data, indent=1) + "\n"`. */
export function renderJson(value: PyJsonValue): string {
  return `${pyJsonDumps(value, { indent: 1 })}\n`;
}

/** Seconds since the epoch from a metadata value (PyFloat, number), if there is one. */
export function metadataTime(metadata: PyJsonObject, key: 'linkmotime' | 'linkcrtime'): number | undefined {
  const tahoe = metadata.get('tahoe');
  const value = tahoe instanceof Map ? tahoe.get(key) : undefined;
  const n = value instanceof PyFloat ? value.value : typeof value === 'number' ? value : undefined;
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

// ------------------------------------------------------------------ HTML

export interface ListingPage {
  cap: DirectoryCap;
  children: readonly DirectoryChild[];
  /** The page's own path, ending in "/" (percent-encoded as requested): links are built on it. */
  basePath: string;
  /** The path below the root cap, for the title ("" for the root). */
  pathText: string;
  /** Format preselected in the forms (`[client] mutable.format`). */
  defaultFormat: MutableFormat;
}

function accessLabel(cap: DirectoryCap): string {
  if (cap.kind === 'immutable-directory') return 'immutable';
  return cap.file.access === 'write' ? 'modifiable' : 'read-only';
}

function abbreviatedStorageIndex(cap: DirectoryCap): string {
  if (cap.kind === 'mutable-directory') return base32Encode(cap.file.storageIndex).slice(0, 5);
  if (cap.file.type === 'LIT') return 'LIT';
  const verify = directoryVerifyCapOf(cap);
  const text = verify === undefined ? '' : formatDirectoryCap(verify);
  return text.split(':')[2]?.slice(0, 5) ?? '';
}

function typeLabel(child: DirectoryChild): string {
  if (child.kind === 'directory') {
    if (child.mutable !== true) return 'DIR-IMM';
    return child.writeCap === undefined ? 'DIR-RO' : 'DIR';
  }
  if (child.kind === 'file') {
    if (child.mutable !== true) return 'FILE';
    return child.writeCap === undefined ? 'MUT-RO' : 'MUT';
  }
  return '?';
}

function isoTime(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/**
 * The HTML page of `GET /uri/$DIRCAP/[SUBDIRS../]`: a table of children with links (built
 * on the page's own path, so no child cap needs to appear), and for writable directories
 * the forms Tahoe's page has (upload, create a directory, attach a cap, unlink).
 */
export function directoryPage(page: ListingPage): string {
  const writable = isWritableDirectory(page.cap);
  const access = accessLabel(page.cap);
  const si = abbreviatedStorageIndex(page.cap);
  const base = page.basePath;
  const rows: RawHtml[] = page.children.map((child) => {
    const href = `${base}${encodeURIComponent(child.name)}${child.kind === 'directory' ? '/' : ''}`;
    const size = child.kind === 'file' && child.mutable !== true ? abbreviateSize(immutableFacts(child.readCap ?? '').size) : child.kind === 'file' ? '?' : '-';
    const unlink = writable
      ? html`<form action="${base}" method="post" enctype="multipart/form-data"><input type="hidden" name="t" value="unlink"><input type="hidden" name="name" value="${child.name}"><input type="hidden" name="when_done" value="${base}"><input type="submit" value="unlink"></form>`
      : raw('-');
    const name = child.kind === 'unknown' ? html`${child.name}` : html`<a href="${href}">${child.name}</a>`;
    return html`<tr><td>${typeLabel(child)}</td><td class="name">${name}</td><td>${size}</td><td>${isoTime(metadataTime(child.metadata, 'linkmotime'))}</td><td>${unlink}</td></tr>
`;
  });
  const formatRadios = (field: string, withChk: boolean): RawHtml => {
    const options: Array<[string, string]> = [...(withChk ? [['chk', 'Immutable'] as [string, string]] : []), ['sdmf', 'SDMF'], ['mdmf', 'MDMF']];
    const preselected = withChk ? 'chk' : page.defaultFormat.toLowerCase();
    return raw(options.map(([value, label]) => `<label><input type="radio" name="${field}" value="${value}"${value === preselected ? ' checked' : ''}> ${label}</label>`).join(' '));
  };
  const forms = writable
    ? html`<h2>Change this directory</h2>
<form action="${base}" method="post" enctype="multipart/form-data"><fieldset><legend>Upload a file to this directory</legend>
<input type="hidden" name="t" value="upload"><input type="hidden" name="when_done" value="${base}">
<input type="file" name="file"> ${formatRadios('format', true)} <input type="submit" value="Upload"></fieldset></form>
<form action="${base}" method="post" enctype="multipart/form-data"><fieldset><legend>Create a new directory in this directory</legend>
<input type="hidden" name="t" value="mkdir"><input type="hidden" name="when_done" value="${base}">
Name: <input type="text" name="name"> ${formatRadios('format', false)} <input type="submit" value="Create"></fieldset></form>
<form action="${base}" method="post" enctype="multipart/form-data"><fieldset><legend>Add a link to a file or directory which is already on the grid</legend>
<input type="hidden" name="t" value="uri"><input type="hidden" name="when_done" value="${base}">
Name: <input type="text" name="name"> Cap: <input type="text" name="uri" size="60"> <input type="submit" value="Attach"></fieldset></form>
`
    : raw('');
  const readOnlyLink = writable
    ? html` · <a href="/uri/${encodeURIComponent(formatDirectoryCap(directoryReadCapOf(page.cap)))}/">Read-only version</a>`
    : raw('');
  const title = `Directory SI=${si} (${access})`;
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tahoe-ts: ${title}</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}td.name{font-family:monospace}form{display:inline;margin:0}fieldset{margin:.6em 0}</style></head>
<body>
<h1>${title}</h1>
<p id="path">${page.pathText === '' ? '/' : page.pathText}</p>
<p><a href="/">Welcome page</a> · <a href="${base}?t=json">JSON</a>${readOnlyLink}</p>
${page.children.length === 0 ? html`<p id="empty">This directory is empty.</p>` : html`<table id="children"><tr><th>Type</th><th>Name</th><th>Size</th><th>Modified</th><th>Unlink</th></tr>
${rows}</table>`}
${forms}</body></html>
`.text;
}
