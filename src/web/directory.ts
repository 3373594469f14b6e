/**
 * The web gateway's directories and mutable files: Tahoe-LAFS's `/uri/$DIRCAP/[SUBDIRS../]NAME`
 * paths and `/uri/$MUTABLECAP`, with Tahoe's verbs, arguments and status codes.
 *
 * Spec: Tahoe-LAFS 1.20 docs/frontends/webapi.rst ("Child Lookup", "Writing/Uploading A
 * File", "Creating A New Directory", "Getting Information About A File Or Directory",
 * "Attaching an Existing File or Directory", "Adding Multiple Files or Directories",
 * "Unlinking", "Renaming", "Moving", "Browser Operations"); src/allmydata/web/directory.py,
 * filenode.py, common.py (`humanize_exception`, `should_create_intermediate_directories`)
 * where the document is silent. docs/web-api.md lists every path and every difference.
 *
 *   GET    /uri/$DIRCAP[/PATH]/           HTML listing; t=json, t=uri, t=readonly-uri
 *   GET    /uri/$DIRCAP/PATH/FILE         the file (ranges); t=json with the link's metadata
 *   PUT    /uri/$DIRCAP/PATH/FILE         upload into the path (intermediate directories made),
 *                                         or overwrite a mutable file in place (offset=N: MDMF partial write)
 *   PUT    /uri/$MUTABLECAP               overwrite in place (same cap)
 *   PUT    …?t=uri                        link the cap in the body;  PUT …?t=mkdir
 *   POST   …?t=mkdir|mkdir-with-children|mkdir-immutable [&name=]
 *   POST   …?t=upload|uri|unlink|delete|rename|relink|move|set_children [&when_done=]
 *   DELETE /uri/$DIRCAP/PATH/NAME         unlink (returns the child's cap)
 *   POST   /uri?t=mkdir…, PUT /uri?format=SDMF|MDMF|mutable=true   unlinked directories and mutable files
 *
 * Status codes as Tahoe's: 404 no such child, 409 the name is taken (replace=false) or a
 * file is in the way of a directory to create, or a concurrent write that kept
 * conflicting, 400 bad names, caps and arguments, 410 unrecoverable. Writes through a
 * read-only or immutable cap are 403 here (Tahoe answers 500).
 *
 * Every change to a directory is a read-modify-write with conflict retries
 * (src/grid/mutable/directory.ts). Mutable files are held in memory, as in Tahoe; immutable
 * uploads are spooled to disk and streamed by the gateway's own upload path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { TahoeError, asTahoeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { GridClient } from '../grid/client.js';
import { MAX_DIRECTORY_BYTES, type Overwrite } from '../grid/mutable/directory.js';
import {
  directoryReadCapOf, formatDirectoryCap, isWritableDirectory, parseAnyCap, type DirectoryCap,
} from '../dirnode/caps.js';
import { normalizeName, type ChildInput, type DirectoryChild } from '../dirnode/directory.js';
import { pyJsonLoads, type PyJsonObject, type PyJsonValue } from '../dirnode/pyjson.js';
import { formatMutableCap, readCapOf, type MutableFileCap, type MutableFormat } from '../mutable/caps.js';
import { readBodyWithin, requestChunks } from '../net/http-body.js';
import { webError } from './http-errors.js';
import { SpoolFile } from './spool.js';
import type { OperationHandle, OperationTable } from './operations.js';
import { multipartBoundary, readMultipart } from './multipart.js';
import { contentRange, decideRange, type ByteRange } from './range.js';
import { attachmentDisposition, contentTypeFor } from './mime.js';
import { directoryJson, directoryPage, fileJson, immutableFacts, renderJson, unknownJson } from './directory-view.js';

/** Mutable files live in memory (as in Tahoe): larger bodies are refused with 413. The bound directories have too. */
export const MAX_MUTABLE_BYTES = MAX_DIRECTORY_BYTES;
/** JSON bodies (mkdir-with-children, set_children) and caps in PUT t=uri bodies. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;
const MAX_FORM_BYTES = 64 * 1024;

const JSON_TYPE = 'text/plain; charset=utf-8'; // Tahoe answers t=json as text/plain
const TEXT_TYPE = 'text/plain; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** t= values for which PUT/POST do not create missing intermediate directories (Tahoe's list, plus the newer verbs). */
const NO_INTERMEDIATES: ReadonlySet<string> = new Set(['delete', 'unlink', 'rename', 'relink', 'move', 'rename-form', 'check']);
const MKDIR_VERBS: ReadonlySet<string> = new Set(['mkdir', 'mkdir-with-children', 'mkdir-immutable']);
const JSON_BODY_VERBS: ReadonlySet<string> = new Set(['mkdir-with-children', 'mkdir-immutable', 'set_children', 'set-children']);

export interface DirectoryRoutesOptions {
  /** The node's grid client (throws the gateway's 503 on nodes without one). */
  grid(): GridClient;
  /** `[node] tempdir`: where uploads are spooled. */
  tempDir: string;
  operations: OperationTable;
  logger?: Logger;
  /** `[client] mutable.format`: new mutable files and directories (default SDMF). */
  defaultMutableFormat?: MutableFormat;
  /** The gateway's immutable download (ranges, ETags, Content-Type from `filename`). */
  serveImmutable(req: IncomingMessage, res: ServerResponse, cap: string, args: URLSearchParams, filename: string | undefined, signal: AbortSignal): Promise<void>;
  /** The gateway's immutable upload of a spooled body (convergent encryption). */
  uploadImmutable(grid: GridClient, spool: SpoolFile, op: OperationHandle, signal: AbortSignal): Promise<string>;
}

type TreeNode =
  | { readonly kind: 'directory'; readonly cap: string; readonly dir: DirectoryCap }
  | { readonly kind: 'mutable'; readonly cap: string; readonly file: MutableFileCap }
  | { readonly kind: 'immutable'; readonly cap: string }
  | { readonly kind: 'unknown'; readonly writeCap?: string; readonly readCap?: string };

type DirectoryNode = Extract<TreeNode, { kind: 'directory' }>;

/** Where a request's path led: a node (with the link it came through), or a free name in a directory. */
interface Position {
  readonly node?: TreeNode;
  readonly parent?: DirectoryNode;
  readonly name?: string;
  readonly child?: DirectoryChild;
  /** The names below the root cap. */
  readonly path: readonly string[];
}

type UploadHow = { readonly mutable: false } | { readonly mutable: true; readonly format: MutableFormat };

/** Arguments of a request: the query first, then the fields of a POSTed form (Tahoe's get_arg). */
class RequestArgs {
  constructor(readonly query: URLSearchParams, private readonly fields: ReadonlyMap<string, string> = new Map()) {}

  get(name: string): string | undefined {
    return this.query.get(name) ?? this.fields.get(name) ?? undefined;
  }

  get t(): string {
    return (this.get('t') ?? '').trim();
  }
}

interface RequestBody {
  readonly args: RequestArgs;
  /** The `file` part of a multipart form, spooled to disk. */
  readonly formFile?: { readonly spool: SpoolFile; readonly filename?: string };
  /** A small JSON body, read whole. */
  readonly json?: Buffer;
  /** PUT t=uri: the cap in the body (trimmed), read before anything changes. */
  readonly linkCap?: string;
}

/** Caps the directory routes answer for (the gateway serves immutable files itself). */
export function isTreeCap(capText: string): boolean {
  try {
    const any = parseAnyCap(capText);
    return any.kind === 'directory' || any.kind === 'mutable-file';
  } catch {
    return false;
  }
}

export function isMutableFileCap(capText: string): boolean {
  try {
    return parseAnyCap(capText).kind === 'mutable-file';
  } catch {
    return false;
  }
}

function nodeOfCap(capText: string): TreeNode {
  const any = parseAnyCap(capText);
  switch (any.kind) {
    case 'directory':
      return { kind: 'directory', cap: formatDirectoryCap(any.cap), dir: any.cap };
    case 'mutable-file':
      return { kind: 'mutable', cap: formatMutableCap(any.cap), file: any.cap };
    case 'immutable-file':
      return { kind: 'immutable', cap: capText.trim() };
    default:
      return { kind: 'unknown', readCap: any.text };
  }
}

function nodeOfChild(child: DirectoryChild): TreeNode {
  const cap = child.writeCap ?? child.readCap;
  if (child.kind === 'unknown' || cap === undefined) {
    return { kind: 'unknown', ...(child.writeCap === undefined ? {} : { writeCap: child.writeCap }), ...(child.readCap === undefined ? {} : { readCap: child.readCap }) };
  }
  return nodeOfCap(cap);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', 't', '1', 'on', 'yes'].includes(value.trim().toLowerCase());
}

/** Tahoe's `parse_replace_arg`: true/t/1/on, false/f/0/off, or only-files. */
function replaceArg(args: RequestArgs): Overwrite {
  const value = (args.get('replace') ?? 'true').trim().toLowerCase();
  if (value === 'only-files') return 'only-files';
  if (['true', 't', '1', 'on'].includes(value)) return true;
  if (['false', 'f', '0', 'off'].includes(value)) return false;
  throw webError(400, 'BadInput', `invalid replace= argument: "${value.slice(0, 20)}"`, 'use replace=true (default), replace=false or replace=only-files');
}

function existing(name: string): TahoeError {
  return webError(409, 'BadInput', `There was already a child named "${name}", and you asked me to not replace it.`, 'choose another name, or allow replacing it (replace=true, the default)', { reason: 'exists', name });
}

function notFound(name: string): TahoeError {
  return webError(404, 'NotFound', `No such child: ${name}`, 'list the directory (?t=json) to see its children; names are case-sensitive', { name });
}

function forbidden(what: string, hint: string): TahoeError {
  return webError(403, 'CapInvalid', what, hint);
}

function putToDirectory(): TahoeError {
  return webError(400, 'BadInput', 'PUT to a directory', 'PUT a file to /uri/$DIRCAP/NAME, or use t=mkdir or t=uri');
}

function badDirectoryPost(t: string): TahoeError {
  return webError(400, 'BadInput', `POST to a directory with bad t=${t.slice(0, 40)}`, 'use t=mkdir, mkdir-with-children, mkdir-immutable, upload, uri, unlink, rename, relink or set_children');
}

function immutableNeedsChildren(): TahoeError {
  return webError(400, 'BadInput', 'mkdir-immutable needs the children in the body', 'an immutable directory cannot be changed later: give every child now');
}

function offsetNeedsFile(): TahoeError {
  return webError(400, 'BadInput', 'offset= needs an existing mutable file', 'leave out offset= to create the file');
}

/** The `file` field of an upload form. */
function formFileOf(body: RequestBody): NonNullable<RequestBody['formFile']> {
  if (body.formFile === undefined) throw webError(400, 'BadInput', 'the upload form has no field named "file"', 'name the file input "file": <input type="file" name="file">');
  return body.formFile;
}

/** POST t=uri: the cap to link (uri=). */
function setUriCap(args: RequestArgs): string {
  const childCap = (args.get('uri') ?? '').trim();
  if (childCap === '') throw webError(400, 'BadInput', 'set-uri requires a uri', 'give the cap to link as uri=');
  return childCap;
}

/** PUT t=uri: the cap to link (the request body). */
function linkCapOf(body: RequestBody): string {
  if (body.linkCap === undefined || body.linkCap === '') throw webError(400, 'BadInput', 'PUT t=uri needs the cap as the request body', 'send the cap to link as the body');
  return body.linkCap;
}

function requireWritableDirectory(node: DirectoryNode | undefined, action: string): DirectoryNode {
  if (node === undefined) throw webError(400, 'BadInput', `cannot ${action}: this object has no parent directory here`, 'address it through a directory (/uri/$DIRCAP/NAME)');
  if (isWritableDirectory(node.dir)) return node;
  throw forbidden(
    `cannot ${action}: the directory was reached through ${node.dir.kind === 'immutable-directory' ? 'an immutable' : 'a read-only'} cap`,
    node.dir.kind === 'immutable-directory' ? 'immutable directories never change: make a new one' : 'use the directory\'s write cap (URI:DIR2:… or URI:DIR2-MDMF:…) in the URL',
  );
}

/** A name from an argument: NFC, no "/" (Tahoe refuses slashes in names). */
function childName(value: string | undefined, what: string, options: { allowEmpty?: boolean } = {}): string {
  const name = (value ?? '').trim();
  if (name === '' && options.allowEmpty !== true) throw webError(400, 'BadInput', `${what} requires a name`, `give ${what === 'upload' ? 'name= or a file name in the form' : 'name='}`);
  if (name.includes('/')) throw webError(400, 'BadInput', `${what}: the name "${name.slice(0, 80)}" may not contain a slash`, 'names are single path components; give the directory in the URL');
  return normalizeName(name);
}

/** `format=` of a new file: CHK (default), SDMF, MDMF (any case); `mutable=true` = the default mutable format. */
function uploadHow(args: RequestArgs, defaultFormat: MutableFormat): UploadHow {
  const format = (args.get('format') ?? '').trim().toUpperCase();
  if (format === 'SDMF' || format === 'MDMF') return { mutable: true, format };
  if (format !== '' && format !== 'CHK') throw unknownFormat(format);
  if (format === '' && isTrue(args.get('mutable'))) return { mutable: true, format: defaultFormat };
  return { mutable: false };
}

/** `format=` of a new directory: SDMF or MDMF (default: `[client] mutable.format`). */
function directoryFormatArg(args: RequestArgs, defaultFormat: MutableFormat): MutableFormat {
  const format = (args.get('format') ?? '').trim().toUpperCase();
  if (format === '') return defaultFormat;
  if (format === 'SDMF' || format === 'MDMF') return format;
  if (format === 'CHK') throw webError(400, 'BadInput', 'format=CHK: mutable directories are SDMF or MDMF files', 'use format=SDMF or format=MDMF, or t=mkdir-immutable for an immutable directory');
  throw unknownFormat(format);
}

function unknownFormat(format: string): TahoeError {
  return webError(400, 'BadInput', `Unknown format: ${format.slice(0, 20)}, I know CHK, SDMF, MDMF`, 'use format=CHK (immutable), format=SDMF or format=MDMF');
}

/**
 * `when_done` redirects stay on this gateway: a redirect to another site would hand it the
 * new cap (substituted for `%(uri)s`). Tahoe allows any URL; we do not. The value is judged
 * as a browser resolves a Location header (WHATWG URL), which drops tabs and newlines and
 * reads backslashes as slashes, so "/\t/evil.example" is refused like "//evil.example".
 * Paths (`/uri/…`) and relative references (Tahoe's forms use ".") are fine.
 */
export function sameSiteRedirect(value: string): string {
  const refused = (): TahoeError => webError(400, 'BadInput', 'when_done must stay on this gateway (a path such as /uri/%(uri)s or ".", not a URL of another site)', 'redirects to other sites could leak the new cap: give a path on this gateway');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value) || URL.canParse(value)) throw refused();
  const here = 'http://gateway.invalid';
  let resolved: URL;
  try {
    resolved = new URL(value, `${here}/uri/x/`);
  } catch {
    throw refused();
  }
  if (resolved.origin !== here) throw refused();
  return value;
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string | number> = {}): void {
  const bytes = Buffer.from(text, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', TEXT_TYPE);
  res.setHeader('Content-Length', bytes.length);
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

function sendTyped(res: ServerResponse, type: string, body: string, headers: Record<string, string | number> = {}): void {
  sendText(res, 200, body, { 'Content-Type': type, ...headers });
}

function redirect(res: ServerResponse, location: string): void {
  sendText(res, 303, `${location}\n`, { Location: location });
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Read a whole request body of at most `limit` bytes. Not `for await` over the request:
 * leaving that loop early destroys the connection, and the 413 would never arrive.
 */
async function readBody(req: IncomingMessage, limit: number, what: string, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(what, limit);
  let body: Buffer | undefined;
  try {
    body = await readBodyWithin(req, limit);
  } catch (e) {
    throw new TahoeError('Aborted', 'the request ended before its body was complete', { cause: e, hint: 'the client disconnected; send the request again' });
  }
  if (signal.aborted) throw asTahoeError(signal.reason, 'Aborted');
  if (body === undefined) throw tooLarge(what, limit);
  return body;
}

function tooLarge(what: string, limit: number): TahoeError {
  return webError(413, 'BadInput', `${what} is larger than ${limit} bytes`, what.startsWith('a mutable')
    ? 'mutable files are held in memory: upload large files as immutable files (leave out format= and mutable=)'
    : 'send a smaller body');
}

/** Directory-layer errors with Tahoe's status codes (a taken name is 409 Conflict). */
function withStatus(e: unknown): TahoeError {
  const err = asTahoeError(e);
  if (err.details.httpStatus === undefined && err.details.reason === 'exists') {
    return new TahoeError(err.kind, err.message, { hint: err.hint, cause: err, details: { ...err.details, httpStatus: 409 } });
  }
  return err;
}

/** Children given as Tahoe's `t=json` "children" object: {NAME: [TYPE, {rw_uri, ro_uri, metadata}]}. */
export function parseChildrenJson(body: Uint8Array | undefined, options: { keepMissingMetadata: boolean }): Array<[string, ChildInput]> {
  if (body === undefined || Buffer.from(body).toString('utf8').trim() === '') return [];
  const hint = 'send a JSON object {"NAME": ["filenode", {"rw_uri": …, "ro_uri": …, "metadata": {…}}], …} as the body (not a form)';
  const value = pyJsonLoads(body, 'BadInput');
  if (!(value instanceof Map)) throw webError(400, 'BadInput', 'the children must be a JSON object', hint);
  const out: Array<[string, ChildInput]> = [];
  for (const [name, entry] of value) {
    if (!Array.isArray(entry) || entry.length < 2 || !(entry[1] instanceof Map)) {
      throw webError(400, 'BadInput', `child "${name.slice(0, 80)}" is not a [TYPE, PROPDICT] pair`, hint);
    }
    const props = entry[1];
    const cap = (key: string): string | undefined => {
      const v: PyJsonValue | undefined = props.get(key);
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') throw webError(400, 'BadInput', `child "${name.slice(0, 80)}": ${key} must be a string`, hint);
      return v.trim();
    };
    const metadata = props.get('metadata');
    if (metadata !== undefined && metadata !== null && !(metadata instanceof Map)) {
      throw webError(400, 'BadInput', `child "${name.slice(0, 80)}": metadata must be a JSON object`, hint);
    }
    const writeCap = cap('rw_uri');
    const readCap = cap('ro_uri');
    const input: ChildInput = {
      ...(writeCap === undefined ? {} : { writeCap }),
      ...(readCap === undefined ? {} : { readCap }),
      ...(metadata instanceof Map ? { metadata } : options.keepMissingMetadata ? {} : { metadata: new Map() as PyJsonObject }),
    };
    out.push([name, input]);
  }
  return out;
}

export class DirectoryRoutes {
  private readonly log: Logger;
  private readonly defaultFormat: MutableFormat;

  constructor(private readonly options: DirectoryRoutesOptions) {
    this.log = (options.logger ?? silentLogger).child('web-dir');
    this.defaultFormat = options.defaultMutableFormat ?? 'SDMF';
  }

  // ---------------------------------------------------------------- /uri (no cap)

  /** Requests on `/uri` itself that create directories or mutable files. */
  wantsUnlinked(method: string, query: URLSearchParams): boolean {
    const args = new RequestArgs(query);
    if (method === 'PUT') return args.t === 'mkdir' || (args.t === '' && isMutableUploadArgs(args));
    if (method === 'POST') return MKDIR_VERBS.has(args.t);
    return false;
  }

  async unlinked(req: IncomingMessage, res: ServerResponse, method: string, query: URLSearchParams, signal: AbortSignal): Promise<void> {
    const args = new RequestArgs(query);
    const grid = this.options.grid();
    const t = args.t;
    if (t === 'mkdir') {
      req.resume();
      const { cap } = await grid.directories.createDirectory([], { format: directoryFormatArg(args, this.defaultFormat), signal });
      if (isTrue(args.get('redirect_to_result'))) return redirect(res, `/uri/${encodeURIComponent(cap)}/`);
      return sendText(res, 200, cap);
    }
    if (t === 'mkdir-with-children' || t === 'mkdir-immutable') {
      const body = await readBody(req, MAX_JSON_BYTES, 'the children JSON', signal);
      const children = parseChildrenJson(body, { keepMissingMetadata: false });
      if (t === 'mkdir-immutable') {
        if (children.length === 0) throw immutableNeedsChildren();
        return sendText(res, 200, (await grid.directories.createImmutableDirectory(children, { signal }).catch((e: unknown) => { throw withStatus(e); })).cap);
      }
      return sendText(res, 200, (await grid.directories.createDirectory(children, { format: directoryFormatArg(args, this.defaultFormat), signal })).cap);
    }
    // PUT /uri?format=SDMF|MDMF (or mutable=true): a new mutable file holding the body.
    const how = uploadHow(args, this.defaultFormat);
    if (!how.mutable) throw new TahoeError('Internal', 'unlinked request routed to the directory handler without a mutable format');
    const data = await readBody(req, MAX_MUTABLE_BYTES, 'a mutable file', signal);
    const created = await this.createMutable(grid, data, how.format, signal);
    sendText(res, 200, created);
  }

  /** A spooled upload as a new mutable file (the gateway's POST /uri?t=upload with format=SDMF|MDMF). */
  async createMutableFromSpool(spool: SpoolFile, format: MutableFormat | undefined, signal: AbortSignal): Promise<string> {
    const data = await readSpool(spool);
    return this.createMutable(this.options.grid(), data, format ?? this.defaultFormat, signal);
  }

  private async createMutable(grid: GridClient, data: Buffer, format: MutableFormat, signal: AbortSignal): Promise<string> {
    const op = this.options.operations.begin('upload', data.length);
    try {
      const created = await grid.mutable.createMutableFile(data, { format, signal });
      op.setStorageIndex(created.storageIndex);
      this.log.info(`created a ${format} mutable file of ${data.length} bytes (${created.sharesPlaced} shares on ${created.servers} servers)`);
      return created.cap;
    } finally {
      op.done();
    }
  }

  // ---------------------------------------------------------------- /uri/$CAP[/PATH]

  /**
   * A request for a directory cap or a mutable-file cap, followed by `segments` (the
   * path below it, percent-decoded; a trailing "" is the trailing slash).
   */
  async handle(req: IncomingMessage, res: ServerResponse, method: string, capText: string, segments: readonly string[], query: URLSearchParams, signal: AbortSignal): Promise<void> {
    const names = [...segments];
    // A trailing slash says the last name is a directory (created like the others if missing).
    const trailingSlash = names.length > 0 && names[names.length - 1] === '';
    if (trailingSlash) names.pop();
    if (names.some((n) => n === '')) {
      throw webError(400, 'BadInput', 'The webapi does not allow empty pathname components, i.e. a double slash', 'remove the doubled "/" from the path');
    }
    const root = nodeOfCap(capText.trim());
    if (root.kind !== 'directory' && names.length > 0) {
      throw webError(400, 'BadInput', `Files have no children, certainly not named "${names[0].slice(0, 80)}"`, 'use /uri/$FILECAP for a file; paths follow directory caps (/uri/$DIRCAP/NAME)');
    }
    if (!['GET', 'HEAD', 'PUT', 'POST', 'DELETE'].includes(method)) {
      throw webError(405, 'BadInput', `${method.slice(0, 16)} is not allowed here`, 'use GET, HEAD, PUT, POST or DELETE', { allow: 'GET, HEAD, PUT, POST, DELETE' });
    }
    let body: RequestBody | undefined;
    try {
      body = await this.readArguments(req, method, query, signal);
      // Refused before anything changes, not after the upload it would have followed.
      const whenDone = body.args.get('when_done');
      if (method === 'POST' && whenDone !== undefined && whenDone !== '') sameSiteRedirect(whenDone);
      const position = await this.locate(root, names, method, body, trailingSlash, signal);
      await this.dispatch(req, res, method, position, body, signal);
    } catch (e) {
      throw withStatus(e);
    } finally {
      await body?.formFile?.spool.remove();
    }
  }

  /** Serve a mutable file named by its cap alone (`/named/$MUTABLECAP/NAME`). */
  async serveMutableCap(req: IncomingMessage, res: ServerResponse, capText: string, query: URLSearchParams, filename: string | undefined, signal: AbortSignal): Promise<void> {
    const node = nodeOfCap(capText.trim());
    if (node.kind !== 'mutable') throw new TahoeError('Internal', 'serveMutableCap needs a mutable-file cap');
    const args = new RequestArgs(query);
    if (args.t !== '') throw webError(400, 'BadInput', `GET file: bad t=${args.t.slice(0, 40)}`, 'use /uri/$FILECAP?t=json for facts about the file');
    await this.serveMutable(req, res, node, args, filename, signal);
  }

  /** POST arguments may come in a form body; JSON bodies are read for the verbs that take them. */
  private async readArguments(req: IncomingMessage, method: string, query: URLSearchParams, signal: AbortSignal): Promise<RequestBody> {
    if (method === 'PUT' && new RequestArgs(query).t === 'uri') {
      const linkCap = (await readBody(req, MAX_FORM_BYTES, 'the cap', signal)).toString('utf8').trim();
      return { args: new RequestArgs(query), linkCap };
    }
    if (method !== 'POST') return { args: new RequestArgs(query) };
    const type = (headerValue(req.headers['content-type']) ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'multipart/form-data') {
      const form = await readUploadForm(req, multipartBoundary(req.headers['content-type']), this.options.tempDir, signal);
      return { args: new RequestArgs(query, form.fields), ...(form.file === undefined ? {} : { formFile: form.file }) };
    }
    if (type === 'application/x-www-form-urlencoded') {
      const text = (await readBody(req, MAX_FORM_BYTES, 'the form', signal)).toString('utf8');
      return { args: new RequestArgs(query, new Map(new URLSearchParams(text))) };
    }
    const args = new RequestArgs(query);
    if (JSON_BODY_VERBS.has(args.t)) return { args, json: await readBody(req, MAX_JSON_BYTES, 'the children JSON', signal) };
    req.resume();
    return { args };
  }

  // ---------------------------------------------------------------- traversal

  private async listChildren(node: DirectoryNode, signal: AbortSignal): Promise<DirectoryChild[]> {
    return [...(await this.options.grid().directories.listDirectory(node.cap, { signal })).children];
  }

  /**
   * Follow `names` from `root` (Tahoe's `DirectoryNodeHandler._got_child`): PUT and POST
   * create missing intermediate directories (except for the verbs that only remove or
   * rename); a missing last name is created for the mkdir verbs, and is a free place for
   * PUT and POST t=upload; anything else missing is 404.
   */
  private async locate(root: TreeNode, names: readonly string[], method: string, body: RequestBody, trailingSlash: boolean, signal: AbortSignal): Promise<Position> {
    const t = body.args.t;
    const makeIntermediates = (method === 'PUT' || method === 'POST') && !NO_INTERMEDIATES.has(t);
    let position: Position = { node: root, path: [] };
    let checked = false;
    for (let i = 0; i < names.length; i++) {
      const here = position.node;
      const name = normalizeName(names[i]);
      const path = [...position.path, name];
      const terminal = i === names.length - 1 && !trailingSlash;
      if (here === undefined || here.kind !== 'directory') {
        throw webError(400, 'BadInput', `"${position.name ?? ''}" is a file, so it has no child "${name.slice(0, 80)}"`, 'a path can only go through directories');
      }
      const child = (await this.listChildren(here, signal)).find((c) => c.name === name);
      if (child === undefined) {
        if (!terminal) {
          if (!makeIntermediates) throw notFound(name);
          // Everything from here on is new, so the request's end is known: refuse now what
          // would be refused there, before a directory is made for it.
          if (!checked) this.refuseBeforeCreating(method, body, trailingSlash, names[names.length - 1]);
          checked = true;
          const made = await this.makeSubdirectory(here, name, { children: [], overwrite: false, format: this.defaultFormat, signal, reuseExisting: true });
          position = { node: nodeOfCap(made.cap), parent: here, name, path, ...(made.child === undefined ? {} : { child: made.child }) };
          continue;
        }
        if ((method === 'POST' || method === 'PUT') && MKDIR_VERBS.has(t) && !(method === 'PUT' && t !== 'mkdir')) {
          const immutable = t === 'mkdir-immutable';
          const children = t === 'mkdir' ? [] : parseChildrenJson(body.json, { keepMissingMetadata: false });
          const made = await this.makeSubdirectory(here, name, {
            children, overwrite: false, signal, reuseExisting: t === 'mkdir',
            ...(immutable ? { immutable } : { format: directoryFormatArg(body.args, this.defaultFormat) }),
          });
          return { node: nodeOfCap(made.cap), parent: here, name, path, ...(made.child === undefined ? {} : { child: made.child }) };
        }
        if ((method === 'PUT' && (t === '' || t === 'uri')) || (method === 'POST' && t === 'upload')) {
          return { parent: here, name, path };
        }
        throw notFound(name);
      }
      if (!terminal && makeIntermediates && child.kind !== 'directory') {
        throw webError(409, 'BadInput', `Unable to create directory "${name.slice(0, 80)}": a file was in the way`, 'remove or rename the file, or choose another path', { name });
      }
      position = { node: nodeOfChild(child), parent: here, name, child, path };
    }
    return position;
  }

  /**
   * The checks the request would meet at the end of its path, for a path whose missing
   * intermediate directories are about to be made. Below the first one everything is new:
   * the request ends on a new, empty directory (a trailing slash) or on a free name in
   * one, so what happens there is known without the grid. Each check is the one (with the
   * answer) that `directory` or `placeholder` would make after the directories exist.
   */
  private refuseBeforeCreating(method: string, body: RequestBody, endsInDirectory: boolean, lastName: string): void {
    const args = body.args;
    const t = args.t;
    if (endsInDirectory) {
      if (method === 'PUT') {
        if (t === 'mkdir') return;
        if (t !== 'uri') throw putToDirectory();
        linkCapOf(body);
        replaceArg(args);
        return;
      }
      switch (t) {
        case 'mkdir':
        case 'mkdir-with-children':
        case 'mkdir-immutable': {
          const nameArg = args.get('name');
          if (nameArg === undefined || nameArg === '') return;
          childName(nameArg, t);
          this.newDirectoryArguments(t, body, true);
          if (t === 'mkdir') replaceArg(args);
          return;
        }
        case 'upload': {
          const file = formFileOf(body);
          childName(args.get('name') ?? file.filename, 'upload');
          replaceArg(args);
          uploadHow(args, this.defaultFormat);
          return;
        }
        case 'uri':
          setUriCap(args);
          childName(args.get('name'), 'set-uri');
          replaceArg(args);
          return;
        case 'set_children':
        case 'set-children':
          parseChildrenJson(body.json, { keepMissingMetadata: true });
          replaceArg(args);
          return;
        default:
          throw badDirectoryPost(t);
      }
    }
    if (MKDIR_VERBS.has(t) && (method === 'POST' || t === 'mkdir')) {
      this.newDirectoryArguments(t, body, false);
      return;
    }
    if (method === 'PUT' && t === '') {
      if (args.get('offset') !== undefined) throw offsetNeedsFile();
      replaceArg(args);
      uploadHow(args, this.defaultFormat);
      return;
    }
    if (method === 'PUT' && t === 'uri') {
      replaceArg(args);
      linkCapOf(body);
      return;
    }
    if (method === 'POST' && t === 'upload') {
      formFileOf(body);
      replaceArg(args);
      uploadHow(args, this.defaultFormat);
      return;
    }
    throw notFound(lastName);
  }

  /** The arguments of a new directory (children JSON, format), checked as the mkdir verbs check them. */
  private newDirectoryArguments(t: string, body: RequestBody, named: boolean): void {
    const children = t === 'mkdir' ? [] : parseChildrenJson(body.json, { keepMissingMetadata: false });
    if (t === 'mkdir-immutable') {
      if (named && children.length === 0) throw immutableNeedsChildren();
    } else {
      directoryFormatArg(body.args, this.defaultFormat);
    }
  }

  /**
   * Create a directory and link it as `name` in `parent`. With `reuseExisting`, a
   * directory someone else linked there meanwhile is used instead (mkdir -p semantics).
   */
  private async makeSubdirectory(
    parent: DirectoryNode,
    name: string,
    options: { children: Array<[string, ChildInput]>; overwrite: Overwrite; format?: MutableFormat; immutable?: boolean; signal: AbortSignal; reuseExisting: boolean },
  ): Promise<{ cap: string; child?: DirectoryChild }> {
    requireWritableDirectory(parent, `create the directory "${name}"`);
    const dirs = this.options.grid().directories;
    const created = options.immutable === true
      ? await dirs.createImmutableDirectory(options.children, { signal: options.signal })
      : await dirs.createDirectory(options.children, { format: options.format ?? this.defaultFormat, signal: options.signal });
    try {
      const child = await dirs.setChild(parent.cap, name, { writeCap: created.cap }, { overwrite: options.overwrite, signal: options.signal });
      return { cap: created.cap, child };
    } catch (e) {
      const err = asTahoeError(e);
      if (!options.reuseExisting || err.details.reason !== 'exists') throw e;
      const theirs = (await this.listChildren(parent, options.signal)).find((c) => c.name === name);
      if (theirs === undefined) throw e;
      if (theirs.kind !== 'directory') throw webError(409, 'BadInput', `Unable to create directory "${name.slice(0, 80)}": a file was in the way`, 'remove or rename the file, or choose another path', { name });
      const cap = theirs.writeCap ?? theirs.readCap;
      if (cap === undefined) throw e;
      return { cap, child: theirs };
    }
  }

  // ---------------------------------------------------------------- dispatch

  private async dispatch(req: IncomingMessage, res: ServerResponse, method: string, position: Position, body: RequestBody, signal: AbortSignal): Promise<void> {
    const node = position.node;
    if (node === undefined) return this.placeholder(req, res, method, position, body, signal);
    switch (node.kind) {
      case 'directory':
        return this.directory(req, res, method, node, position, body, signal);
      case 'mutable':
      case 'immutable':
        return this.file(req, res, method, node, position, body, signal);
      case 'unknown':
        return this.unknown(req, res, method, node, position, body, signal);
    }
  }

  private async finishPost(res: ServerResponse, body: RequestBody, text: string): Promise<void> {
    const whenDone = body.args.get('when_done');
    if (whenDone !== undefined && whenDone !== '') return redirect(res, sameSiteRedirect(whenDone));
    sendText(res, 200, text);
  }

  // ---------------------------------------------------------------- directories

  private async directory(req: IncomingMessage, res: ServerResponse, method: string, node: DirectoryNode, position: Position, body: RequestBody, signal: AbortSignal): Promise<void> {
    const args = body.args;
    const t = args.t;
    const grid = this.options.grid();
    if (method === 'GET' || method === 'HEAD') {
      if (t === '' || t === 'json') {
        const listing = await grid.directories.listDirectory(node.cap, { signal });
        if (t === 'json') return sendTyped(res, JSON_TYPE, renderJson(directoryJson(node.dir, listing.children)));
        const pathname = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
        const basePath = pathname.endsWith('/') ? pathname : `${pathname}/`;
        const page = directoryPage({ cap: node.dir, children: listing.children, basePath, pathText: position.path.join('/'), defaultFormat: this.defaultFormat });
        return sendTyped(res, HTML_TYPE, page, { 'Content-Security-Policy': PAGE_CSP, 'X-Frame-Options': 'DENY' });
      }
      if (t === 'uri') return sendText(res, 200, node.cap);
      if (t === 'readonly-uri') return sendText(res, 200, formatDirectoryCap(directoryReadCapOf(node.dir)));
      throw webError(400, 'BadInput', `GET directory: bad t=${t.slice(0, 40)}`, 'use no t= (HTML), t=json, t=uri or t=readonly-uri');
    }
    if (method === 'DELETE') return this.unlinkFromParent(res, position, signal);
    if (method === 'PUT') {
      if (t === 'mkdir') {
        req.resume();
        return sendText(res, 200, node.cap);
      }
      if (t === 'uri') return this.replaceWithCap(res, position, body, signal, true);
      throw putToDirectory();
    }
    // POST
    switch (t) {
      case 'mkdir':
      case 'mkdir-with-children':
      case 'mkdir-immutable': {
        const nameArg = args.get('name');
        if (nameArg === undefined || nameArg === '') return this.finishPost(res, body, node.cap);
        const name = childName(nameArg, t);
        const immutable = t === 'mkdir-immutable';
        const children = t === 'mkdir' ? [] : parseChildrenJson(body.json, { keepMissingMetadata: false });
        if (immutable && children.length === 0) throw immutableNeedsChildren();
        const made = await this.makeSubdirectory(node, name, {
          children, signal, reuseExisting: false,
          // Tahoe: t=mkdir replaces an existing child unless replace=false; the others never replace.
          overwrite: t === 'mkdir' ? replaceArg(args) : false,
          ...(immutable ? { immutable } : { format: directoryFormatArg(args, this.defaultFormat) }),
        });
        return this.finishPost(res, body, made.cap);
      }
      case 'upload': {
        const file = formFileOf(body);
        const name = childName(args.get('name') ?? file.filename, 'upload');
        requireWritableDirectory(node, `upload "${name}"`);
        const child = (await this.listChildren(node, signal)).find((c) => c.name === name);
        const cap = await this.uploadInto(node, name, child, { spool: file.spool }, args, signal);
        return this.finishPost(res, body, cap);
      }
      case 'uri': {
        const childCap = setUriCap(args);
        const name = childName(args.get('name'), 'set-uri');
        requireWritableDirectory(node, `link "${name}"`);
        await grid.directories.setChild(node.cap, name, { writeCap: childCap }, { overwrite: replaceArg(args), signal });
        return this.finishPost(res, body, childCap);
      }
      case 'delete':
      case 'unlink': {
        const name = childName(args.get('name'), t, { allowEmpty: true });
        requireWritableDirectory(node, `unlink "${name}"`);
        await this.deleteChild(node, name, signal);
        return this.finishPost(res, body, 'thing unlinked');
      }
      case 'rename':
      case 'relink':
      case 'move':
        await this.relink(node, args, t, signal);
        return this.finishPost(res, body, 'thing moved');
      case 'set_children':
      case 'set-children': {
        requireWritableDirectory(node, 'set children');
        const children = parseChildrenJson(body.json, { keepMissingMetadata: true });
        await grid.directories.setChildren(node.cap, children, { overwrite: replaceArg(args), signal });
        return this.finishPost(res, body, 'Okay so I did it.');
      }
      default:
        throw badDirectoryPost(t);
    }
  }

  private async deleteChild(parent: DirectoryNode, name: string, signal: AbortSignal): Promise<DirectoryChild | undefined> {
    try {
      return await this.options.grid().directories.deleteChild(parent.cap, name, { signal });
    } catch (e) {
      if (asTahoeError(e).kind === 'NotFound') throw notFound(name);
      throw e;
    }
  }

  /** t=rename / t=relink / t=move: from_name, to_name, and optionally to_dir (a cap[/path], or a path below this directory). */
  private async relink(node: DirectoryNode, args: RequestArgs, t: string, signal: AbortSignal): Promise<void> {
    const fromArg = args.get('from_name');
    if (fromArg === undefined) throw webError(400, 'BadInput', 'from_name= is required', `POST ?t=${t}&from_name=OLD&to_name=NEW`);
    const toArg = args.get('to_name');
    if (t === 'rename' && toArg === undefined) throw webError(400, 'BadInput', 'to_name= is required for rename', 'POST ?t=rename&from_name=OLD&to_name=NEW');
    const from = childName(fromArg, 'from_name');
    const to = childName(toArg ?? fromArg, 'to_name');
    const replace = replaceArg(args);
    requireWritableDirectory(node, `rename "${from}"`);
    const dirs = this.options.grid().directories;
    const toDir = (args.get('to_dir') ?? '').trim();
    try {
      if (toDir === '') {
        await dirs.renameChild(node.cap, from, to, { overwrite: replace, signal });
        return;
      }
      const target = await this.targetDirectory(node, toDir, args.get('target_type'), signal);
      requireWritableDirectory(target, `move "${from}" there`);
      await dirs.moveChild(node.cap, from, target.cap, to, { overwrite: replace, signal });
    } catch (e) {
      const err = asTahoeError(e);
      if (err.kind === 'NotFound') throw notFound(String(err.details.name ?? from));
      throw err;
    }
  }

  private async targetDirectory(node: DirectoryNode, toDir: string, targetType: string | undefined, signal: AbortSignal): Promise<DirectoryNode> {
    const notDirectory = (): TahoeError => webError(400, 'BadInput', 'to_dir is not a directory', 'to_dir= is a directory cap (optionally followed by /PATH) or a path below this directory');
    let start: TreeNode;
    let rest: string[];
    if (toDir.startsWith('URI:') || targetType === 'uri') {
      const [capPart, ...pathParts] = toDir.split('/');
      start = nodeOfCap(capPart);
      rest = pathParts;
    } else {
      start = node;
      rest = toDir.split('/');
    }
    let current = start;
    for (const part of rest.filter((p) => p !== '')) {
      if (current.kind !== 'directory') throw notDirectory();
      const name = normalizeName(part);
      const child = (await this.listChildren(current, signal)).find((c) => c.name === name);
      if (child === undefined) throw notFound(name);
      current = nodeOfChild(child);
    }
    if (current.kind !== 'directory') throw notDirectory();
    return current;
  }

  // ---------------------------------------------------------------- files

  private async file(
    req: IncomingMessage, res: ServerResponse, method: string,
    node: Extract<TreeNode, { kind: 'mutable' | 'immutable' }>, position: Position, body: RequestBody, signal: AbortSignal,
  ): Promise<void> {
    const args = body.args;
    const t = args.t;
    if (method === 'GET' || method === 'HEAD') {
      if (t === '') {
        if (node.kind === 'immutable') return this.options.serveImmutable(req, res, node.cap, args.query, position.name, signal);
        return this.serveMutable(req, res, node, args, args.get('filename') ?? position.name, signal);
      }
      if (t === 'json') return sendTyped(res, JSON_TYPE, renderJson(await this.fileFacts(node, position.child?.metadata, signal)));
      if (t === 'uri') return sendText(res, 200, node.cap);
      if (t === 'readonly-uri') return sendText(res, 200, node.kind === 'mutable' && node.file.access === 'write' ? formatMutableCap(readCapOf(node.file)) : node.cap);
      throw webError(400, 'BadInput', `GET file: bad t=${t.slice(0, 40)}`, 'use no t= (the contents), t=json, t=uri or t=readonly-uri');
    }
    if (method === 'DELETE') return this.unlinkFromParent(res, position, signal);
    const replace = replaceArg(args);
    if (method === 'PUT') {
      if (t === 'uri') return this.replaceWithCap(res, position, body, signal, true);
      if (t !== '') throw webError(400, 'BadInput', `PUT to a file: bad t=${t.slice(0, 40)}`, 'PUT the new contents with no t=, or a cap with t=uri');
      if (node.kind === 'mutable') {
        const cap = await this.overwriteMutable(req, node, args, signal);
        return sendText(res, 200, cap);
      }
      if (args.get('offset') !== undefined) throw webError(400, 'BadInput', 'offset= is only valid for mutable files', 'immutable files are replaced whole: leave out offset=');
      if (replace === false) throw existing(position.name ?? '');
      const parent = requireWritableDirectory(position.parent, `replace "${position.name ?? ''}"`);
      const cap = await this.uploadInto(parent, position.name ?? '', position.child, { request: req }, args, signal);
      return sendText(res, 200, cap);
    }
    // POST
    if (t !== 'upload') throw webError(400, 'BadInput', `POST to file: bad t=${t.slice(0, 40)}`, 'POST t=upload with a form, or use PUT');
    const file = formFileOf(body);
    let cap: string;
    if (node.kind === 'mutable') {
      cap = await this.overwriteMutableWith(node, await readSpool(file.spool), undefined, signal);
    } else {
      if (replace === false) throw existing(position.name ?? '');
      const parent = requireWritableDirectory(position.parent, `replace "${position.name ?? ''}"`);
      cap = await this.uploadInto(parent, position.name ?? '', position.child, { spool: file.spool }, args, signal);
    }
    return this.finishPost(res, body, cap);
  }

  private async fileFacts(node: Extract<TreeNode, { kind: 'mutable' | 'immutable' }>, metadata: PyJsonObject | undefined, signal: AbortSignal): Promise<PyJsonValue> {
    const withMetadata = metadata === undefined ? {} : { metadata };
    if (node.kind === 'immutable') {
      const facts = immutableFacts(node.cap);
      return fileJson({ mutable: false, format: facts.format, ...(facts.size === undefined ? {} : { size: facts.size }), readCap: node.cap, ...withMetadata });
    }
    const info = this.options.grid().mutable.mutableFileInfo(node.cap);
    // Tahoe maps the servers for t=json so that the size is known.
    const size = info.access === 'verify' ? undefined : (await this.options.grid().mutable.statMutableFile(node.cap, { signal })).size;
    return fileJson({
      mutable: true, format: info.format, ...(size === undefined ? {} : { size }),
      ...(info.writeCap === undefined ? {} : { writeCap: info.writeCap }),
      ...(info.readCap === undefined ? {} : { readCap: info.readCap }),
      ...withMetadata,
    });
  }

  /** PUT body → the mutable file: whole, or at offset= (MDMF partial write; SDMF is rewritten). */
  private async overwriteMutable(req: IncomingMessage, node: Extract<TreeNode, { kind: 'mutable' }>, args: RequestArgs, signal: AbortSignal): Promise<string> {
    if (node.file.access !== 'write') throw this.readOnlyMutable(node);
    const offsetArg = args.get('offset');
    let offset: number | undefined;
    if (offsetArg !== undefined) {
      offset = /^\d{1,15}$/.test(offsetArg.trim()) ? Number(offsetArg.trim()) : NaN;
      if (!Number.isSafeInteger(offset)) throw webError(400, 'BadInput', `offset=${offsetArg.slice(0, 20)} is not a byte offset`, 'give a non-negative integer, at most the file\'s size');
    }
    const data = await readBody(req, MAX_MUTABLE_BYTES, 'a mutable file', signal);
    return this.overwriteMutableWith(node, data, offset, signal);
  }

  private async overwriteMutableWith(node: Extract<TreeNode, { kind: 'mutable' }>, data: Buffer, offset: number | undefined, signal: AbortSignal): Promise<string> {
    if (node.file.access !== 'write') throw this.readOnlyMutable(node);
    const files = this.options.grid().mutable;
    const op = this.options.operations.begin('upload', data.length, files.mutableFileInfo(node.cap).storageIndex);
    try {
      if (offset === undefined) await files.overwriteMutableFile(node.cap, data, { signal });
      else await files.updateMutableFile(node.cap, offset, data, { signal });
    } finally {
      op.done();
    }
    return node.cap;
  }

  private readOnlyMutable(node: Extract<TreeNode, { kind: 'mutable' }>): TahoeError {
    return forbidden(`this mutable file was reached through a ${node.file.access} cap, which cannot change it`, `use the file's write cap (URI:${node.file.format === 'SDMF' ? 'SSK' : 'MDMF'}:…), or a directory write cap above it`);
  }

  /**
   * Store a new file as `name` in `parent` (replacing `existingChild`): a mutable child
   * reached through a write cap is overwritten in place (same cap), as Tahoe does;
   * anything else is uploaded (format= / mutable=) and linked.
   */
  private async uploadInto(
    parent: DirectoryNode, name: string, existingChild: DirectoryChild | undefined,
    source: { spool: SpoolFile } | { request: IncomingMessage }, args: RequestArgs, signal: AbortSignal,
  ): Promise<string> {
    const replace = replaceArg(args);
    if (existingChild !== undefined) {
      const node = nodeOfChild(existingChild);
      if (node.kind === 'mutable' && node.file.access === 'write') {
        const data = 'spool' in source ? await readSpool(source.spool) : await readBody(source.request, MAX_MUTABLE_BYTES, 'a mutable file', signal);
        return this.overwriteMutableWith(node, data, undefined, signal);
      }
      if (replace === false) throw existing(name);
      if (replace === 'only-files' && node.kind === 'directory') throw existing(name);
    }
    requireWritableDirectory(parent, `store "${name}"`);
    const grid = this.options.grid();
    const how = uploadHow(args, this.defaultFormat);
    let cap: string;
    if (how.mutable) {
      const data = 'spool' in source ? await readSpool(source.spool) : await readBody(source.request, MAX_MUTABLE_BYTES, 'a mutable file', signal);
      cap = await this.createMutable(grid, data, how.format, signal);
    } else if ('spool' in source) {
      cap = await this.uploadSpool(grid, source.spool, signal);
    } else {
      const spool = await SpoolFile.create(this.options.tempDir);
      try {
        const op = this.options.operations.begin('upload', Number(source.request.headers['content-length'] ?? 0) || 0);
        try {
          await spoolRequest(source.request, spool, op, signal);
          cap = await this.options.uploadImmutable(grid, spool, op, signal);
        } finally {
          op.done();
        }
      } finally {
        await spool.remove();
      }
    }
    const child = how.mutable ? { writeCap: cap } : { readCap: cap };
    await grid.directories.setChild(parent.cap, name, child, { overwrite: replace, signal });
    return cap;
  }

  private async uploadSpool(grid: GridClient, spool: SpoolFile, signal: AbortSignal): Promise<string> {
    const op = this.options.operations.begin('upload', spool.size);
    op.received(spool.size);
    try {
      return await this.options.uploadImmutable(grid, spool, op, signal);
    } finally {
      op.done();
    }
  }

  /** GET/HEAD of a mutable file's contents, with byte ranges (the file is read in the ranges asked for). */
  private async serveMutable(req: IncomingMessage, res: ServerResponse, node: Extract<TreeNode, { kind: 'mutable' }>, args: RequestArgs, filename: string | undefined, signal: AbortSignal): Promise<void> {
    if (node.file.access === 'verify') {
      throw new TahoeError('CapInvalid', 'a verify cap can check shares but cannot decrypt the file', { hint: 'read with the read cap (URI:SSK-RO:… / URI:MDMF-RO:…) or the write cap; ?t=json works with a verify cap' });
    }
    const files = this.options.grid().mutable;
    const headers: Record<string, string | number> = {
      'Content-Type': contentTypeFor(filename),
      'Accept-Ranges': 'bytes',
      'Content-Security-Policy': 'sandbox',
      'Cache-Control': 'no-store',
    };
    if (isTrue(args.get('save')) && filename !== undefined && filename !== '') headers['Content-Disposition'] = attachmentDisposition(filename);
    const rangeHeader = headerValue(req.headers['if-range']) === undefined ? headerValue(req.headers.range) : undefined;
    const head = req.method === 'HEAD';
    if (rangeHeader === undefined && !head) {
      const op = this.options.operations.begin('download', 0);
      try {
        const read = await files.readMutableFile(node.cap, { signal });
        return writeWhole(res, 200, { ...headers, 'Content-Length': read.data.length }, read.data);
      } finally {
        op.done();
      }
    }
    const { size } = await files.statMutableFile(node.cap, { signal });
    const decision = decideRange(rangeHeader, size);
    if (decision.kind === 'unsatisfiable') {
      throw webError(416, 'BadInput', `Range "${(rangeHeader ?? '').slice(0, 60)}" cannot be satisfied: ${decision.reason}`, `ask for bytes within 0-${Math.max(0, size - 1)} of this ${size}-byte file`, { contentRange: `bytes */${size}` });
    }
    const readRange = async (r: ByteRange): Promise<Buffer> => (await files.readMutableFile(node.cap, { offset: r.start, length: r.end - r.start + 1, signal })).data;
    if (decision.kind === 'full') {
      if (head) return writeWhole(res, 200, { ...headers, 'Content-Length': size }, undefined);
      const read = await files.readMutableFile(node.cap, { signal });
      return writeWhole(res, 200, { ...headers, 'Content-Length': read.data.length }, read.data);
    }
    if (decision.ranges.length === 1) {
      const [r] = decision.ranges;
      const partHeaders = { ...headers, 'Content-Length': r.end - r.start + 1, 'Content-Range': contentRange(r, size) };
      return writeWhole(res, 206, partHeaders, head ? undefined : await readRange(r));
    }
    const boundary = `tahoe-ts-${randomBytes(12).toString('hex')}`;
    // HEAD counts the parts' bytes instead of reading (or allocating) them.
    const parts: Buffer[] = [];
    let length = 0;
    for (const r of decision.ranges) {
      const partHeader = Buffer.from(`\r\n--${boundary}\r\nContent-Type: ${String(headers['Content-Type'])}\r\nContent-Range: ${contentRange(r, size)}\r\n\r\n`, 'latin1');
      parts.push(partHeader);
      length += partHeader.length + (r.end - r.start + 1);
      if (!head) parts.push(await readRange(r));
    }
    const closing = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
    parts.push(closing);
    length += closing.length;
    return writeWhole(res, 206, { ...headers, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': length }, head ? undefined : Buffer.concat(parts));
  }

  // ---------------------------------------------------------------- unknown caps, free names, links

  private async unknown(req: IncomingMessage, res: ServerResponse, method: string, node: Extract<TreeNode, { kind: 'unknown' }>, position: Position, body: RequestBody, signal: AbortSignal): Promise<void> {
    const t = body.args.t;
    if (method === 'GET' || method === 'HEAD') {
      if (t === 'json') return sendTyped(res, JSON_TYPE, renderJson(unknownJson(node.writeCap, node.readCap, position.child?.metadata)));
      if (t === 'uri') return sendText(res, 200, node.writeCap ?? node.readCap ?? '');
      if (t === 'readonly-uri') return sendText(res, 200, node.readCap ?? '');
      throw webError(400, 'BadInput', 'this child\'s cap is of a kind tahoe-ts does not know, so it cannot be read', 'a newer Tahoe-LAFS may know it; ?t=json shows the cap');
    }
    if (method === 'DELETE') return this.unlinkFromParent(res, position, signal);
    if (method === 'PUT' && t === 'uri') return this.replaceWithCap(res, position, body, signal, true);
    throw webError(400, 'BadInput', 'this child\'s cap is of a kind tahoe-ts does not know: it can only be listed, replaced (t=uri) or unlinked', 'a newer Tahoe-LAFS may know it');
  }

  /** A free name in a directory: PUT uploads (201 Created), PUT t=uri links, POST t=upload uploads a form's file. */
  private async placeholder(req: IncomingMessage, res: ServerResponse, method: string, position: Position, body: RequestBody, signal: AbortSignal): Promise<void> {
    const parent = requireWritableDirectory(position.parent, `create "${position.name ?? ''}"`);
    const name = position.name ?? '';
    const args = body.args;
    if (method === 'PUT' && args.t === '') {
      if (args.get('offset') !== undefined) throw offsetNeedsFile();
      const cap = await this.uploadInto(parent, name, undefined, { request: req }, args, signal);
      return sendText(res, 201, cap);
    }
    if (method === 'PUT' && args.t === 'uri') return this.replaceWithCap(res, position, body, signal, false);
    if (method === 'POST' && args.t === 'upload') {
      const file = formFileOf(body);
      const cap = await this.uploadInto(parent, name, undefined, { spool: file.spool }, args, signal);
      return this.finishPost(res, body, cap);
    }
    throw notFound(name);
  }

  /** PUT …?t=uri: link the cap in the body at this name (replace=false: 409 if taken). */
  private async replaceWithCap(res: ServerResponse, position: Position, body: RequestBody, signal: AbortSignal, occupied: boolean): Promise<void> {
    const replace = replaceArg(body.args);
    if (occupied && replace === false) throw existing(position.name ?? '');
    const parent = requireWritableDirectory(position.parent, `link "${position.name ?? ''}"`);
    const childCap = linkCapOf(body);
    await this.options.grid().directories.setChild(parent.cap, position.name ?? '', { writeCap: childCap }, { overwrite: replace, signal });
    sendText(res, 200, childCap);
  }

  private async unlinkFromParent(res: ServerResponse, position: Position, signal: AbortSignal): Promise<void> {
    const parent = requireWritableDirectory(position.parent, 'unlink it');
    const name = position.name ?? '';
    const removed = await this.deleteChild(parent, name, signal);
    sendText(res, 200, removed?.writeCap ?? removed?.readCap ?? '');
  }
}

function isMutableUploadArgs(args: RequestArgs): boolean {
  const format = (args.get('format') ?? '').trim().toUpperCase();
  return format === 'SDMF' || format === 'MDMF' || (format === '' && isTrue(args.get('mutable')));
}

/** A spooled upload, read whole (mutable files are held in memory). */
async function readSpool(spool: SpoolFile): Promise<Buffer> {
  if (spool.size > MAX_MUTABLE_BYTES) throw tooLarge('a mutable file', MAX_MUTABLE_BYTES);
  const parts: Buffer[] = [];
  for await (const chunk of spool.source()()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** An upload form: its text fields, and its `file` field spooled to disk. */
export interface UploadForm {
  readonly fields: ReadonlyMap<string, string>;
  readonly file?: { readonly spool: SpoolFile; readonly filename?: string };
}

/**
 * Read a multipart form whose one `file` field goes to a spool file in `tempDir` (a second
 * one is a 400), for the gateway's POST /uri and the directory routes. On failure the spool
 * file is removed; on success the caller removes it when done.
 */
export async function readUploadForm(req: IncomingMessage, boundary: string, tempDir: string, signal: AbortSignal, onFileBytes?: (bytes: number) => void): Promise<UploadForm> {
  let spool: SpoolFile | undefined;
  let filename: string | undefined;
  try {
    const form = await readMultipart(requestChunks(req), boundary, {
      isFilePart: (info) => info.name === 'file',
      onFileStart: async (info) => {
        if (spool !== undefined) throw webError(400, 'BadInput', 'the form has more than one field named "file"', 'upload one file per request');
        spool = await SpoolFile.create(tempDir);
        filename = info.filename;
      },
      onFileData: async (chunk) => {
        if (signal.aborted) throw asTahoeError(signal.reason, 'Aborted');
        await spool?.write(chunk);
        onFileBytes?.(spool?.size ?? 0);
      },
      onFileEnd: async () => {
        await spool?.finish();
      },
    });
    const file = spool === undefined ? undefined : { spool, ...(filename === undefined ? {} : { filename }) };
    return { fields: form.fields, ...(file === undefined ? {} : { file }) };
  } catch (e) {
    await (spool as SpoolFile | undefined)?.remove();
    throw e;
  }
}

/**
 * The request body to a spool file, with its own backpressure (the gateway's uploads use it
 * too). A failing write (a full disk) leaves the connection up for the error answer.
 */
export async function spoolRequest(req: IncomingMessage, spool: SpoolFile, op: OperationHandle, signal: AbortSignal): Promise<void> {
  const chunks = requestChunks(req);
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw new TahoeError('Aborted', 'the upload ended before its body was complete', { cause: e, hint: 'the client disconnected; upload again' });
      }
      if (next.done === true) break;
      if (signal.aborted) throw asTahoeError(signal.reason, 'Aborted');
      await spool.write(next.value);
      op.received(spool.size);
    }
  } finally {
    await chunks.return(undefined);
  }
  await spool.finish();
}

function writeWhole(res: ServerResponse, status: number, headers: Record<string, string | number>, body: Buffer | undefined): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(body);
}
