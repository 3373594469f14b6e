/**
 * The web gateway (Tahoe-LAFS's "web-API", WAPI): an HTTP server on `[node] web.port`
 * that speaks Tahoe's paths, so Tahoe's own tools and scripts work against tahoe-ts.
 *
 * Spec: Tahoe-LAFS 1.20 docs/frontends/webapi.rst (paths, query arguments, status codes,
 * JSON shapes), src/allmydata/web/{root,filenode,unlinked,common}.py (behaviour where
 * the doc is silent); shared/specs/configuration.md §2 (`web.port`, `web.static`,
 * `tempdir`), §6 (`node.url`, `private/api_auth_token`). docs/web-api.md lists every
 * path and every difference from Tahoe.
 *
 *   GET  /                     welcome page (HTML; `?t=json` Tahoe's welcome JSON)
 *   PUT  /uri                  body = file → 200, the cap as text
 *   POST /uri?t=upload         multipart form, field `file` → the cap (or `when_done` redirect)
 *   GET  /uri?uri=CAP          303 to /uri/CAP (the welcome page's download form)
 *   GET  /uri/CAP              the file: Content-Length, Range/206/416, ETag, filename=, save=
 *   HEAD /uri/CAP              the same headers, no body
 *   GET  /uri/CAP?t=json       ["filenode", {ro_uri, verify_uri, size, mutable, format}]
 *   GET  /named/CAP/NAME       the file, typed by NAME (also /file/…)
 *   GET  /status/?t=json       active uploads and downloads
 *   GET  /static/…             files from `web.static` (default public_html/)
 *
 * Streams all the way: an upload is spooled to a file in the node's tempdir as it
 * arrives (convergent keys need two passes), a download goes from the grid to the socket
 * segment by segment with backpressure. Memory does not grow with file size.
 *
 * Request forgery: state-changing requests (PUT, POST, DELETE) coming from another web
 * site (Sec-Fetch-Site, else Origin) are refused; POST needs an explicit `t=`; on a
 * loopback listener, requests whose Host header is not a loopback name are refused (DNS
 * rebinding). `Referrer-Policy: same-origin` keeps caps in URLs from leaking to other sites.
 *
 * Only net/ opens sockets: the listening socket comes from net/tls.ts `listenTcp`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TahoeError, asTahoeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sha256 } from '../crypto/hashes.js';
import { base32Encode } from '../crypto/base32.js';
import { parseCap } from '../caps/caps.js';
import { listenTcp, type TcpListenerHandle } from '../net/tls.js';
import { isLoopbackAddress, hostForUrl } from '../net/hints/host.js';
import { parseServerEndpoint } from '../net/hints/server.js';
import type { GridClient, FileInfo } from '../grid/client.js';
import type { NodeStatus, TahoeNode, TahoeNodeApi, WebGateway, WebGatewayFactory } from '../node/node.js';
import { webError, sendError } from './http-errors.js';
import { contentRange, decideRange, ifNoneMatchHits, ifRangeAllows, type ByteRange } from './range.js';
import { multipartBoundary } from './multipart.js';
import { SpoolFile, removeStaleSpools } from './spool.js';
import { OperationTable, type OperationHandle } from './operations.js';
import { welcomeHtml, welcomeJson } from './welcome.js';
import { attachmentDisposition, contentTypeFor } from './mime.js';
import { escapeHtml } from './html.js';
import { DirectoryRoutes, isMutableFileCap, isTreeCap, readUploadForm, sameSiteRedirect, spoolRequest, type UploadForm } from './directory.js';

/** What the gateway needs from a node: the grid client and the status for the welcome page. */
export interface GatewayNode {
  /** Absent on nodes without a grid client (introducers): uploads and downloads get 503. */
  readonly grid: GridClient | undefined;
  status(): NodeStatus;
}

export interface WebGatewayOptions {
  node: GatewayNode;
  /** `[node] web.port`: `tcp:PORT[:interface=ADDR]` or `tcp6:…`; port 0 = kernel-chosen. */
  webPort: string;
  /** `[node] tempdir`: where uploads are spooled. */
  tempDir: string;
  /** `[node] web.static`, served under /static/ when the directory exists. */
  staticDir?: string;
  logger?: Logger;
  /** `[node] log_sensitive`: show addresses on pages and in error bodies. */
  revealAddresses?: boolean;
  /** `[client] mutable.format`: new mutable files and directories (default SDMF). */
  defaultMutableFormat?: 'SDMF' | 'MDMF';
}

export interface RunningWebGateway extends WebGateway {
  readonly host: string;
  readonly port: number;
  readonly operations: OperationTable;
}

type Args = URLSearchParams;

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const UNSAFE_METHODS: ReadonlySet<string> = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

/** The loopback address to bind when `web.port` names no interface (Tahoe would bind every interface). */
function listenAddress(webPort: string): { host: string; port: number } {
  const ep = parseServerEndpoint(webPort.trim(), '[node] web.port');
  if (ep.type === 'tcp') return { host: ep.interface ?? '127.0.0.1', port: ep.port };
  if (ep.type === 'tcp6') return { host: ep.interface ?? '::1', port: ep.port };
  throw new TahoeError('ConfigInvalid', `[node] web.port = ${webPort}: the web gateway listens on tcp: or tcp6: endpoints only`, {
    hint: 'write web.port = tcp:3456:interface=127.0.0.1 (the gateway is for programs on this machine)',
  });
}

/** Start a gateway for `node`. */
export async function startWebGateway(options: WebGatewayOptions): Promise<RunningWebGateway> {
  const gateway = new Gateway(options);
  await gateway.start();
  return gateway;
}

/** The factory `TahoeNode.start` and `tahoe-ts run` / `demo` use. */
export const createWebGateway: WebGatewayFactory = async (context) => {
  const node = context.node as TahoeNode & TahoeNodeApi;
  return startWebGateway({
    node: {
      get grid() {
        return node.services.grid;
      },
      status: () => node.status(),
    },
    webPort: context.webPort,
    tempDir: node.config.node.tempdir,
    staticDir: node.config.node.webStatic,
    logger: context.logger,
    revealAddresses: node.config.node.logSensitive,
    defaultMutableFormat: node.config.client.mutableFormat === 'mdmf' ? 'MDMF' : 'SDMF',
  });
};

class Gateway implements RunningWebGateway {
  readonly operations = new OperationTable();
  private readonly log: Logger;
  private readonly reveal: boolean;
  private readonly server: http.Server;
  private listener: TcpListenerHandle | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly controllers = new Set<AbortController>();
  private bound = { host: '127.0.0.1', port: 0 };
  private closing = false;
  /** Directories and mutable files (directory.ts). */
  private readonly tree: DirectoryRoutes;

  constructor(private readonly options: WebGatewayOptions) {
    this.log = (options.logger ?? silentLogger).child('web');
    this.reveal = options.revealAddresses ?? false;
    this.tree = new DirectoryRoutes({
      grid: () => this.requireGrid(),
      tempDir: options.tempDir,
      operations: this.operations,
      logger: this.log,
      ...(options.defaultMutableFormat === undefined ? {} : { defaultMutableFormat: options.defaultMutableFormat }),
      serveImmutable: (req, res, cap, args, filename, signal) => this.getFile(req, res, cap, args, filename, signal),
      uploadImmutable: (grid, spool, op, signal) => this.upload(grid, spool, op, signal),
    });
    // requestTimeout 0: a large upload may take longer than Node's default 5 minutes;
    // stalled peers are still cut by headersTimeout and the socket idle timeout.
    this.server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000, maxHeaderSize: 32 * 1024 }, (req, res) => {
      const p = this.dispatch(req, res);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    });
    this.server.on('clientError', (err, socket) => {
      if (!socket.writable || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const body = 'malformed HTTP request\nkind: BadInput\nhint: send a valid HTTP/1.1 request\n';
      socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    this.server.setTimeout(10 * 60_000);
  }

  get host(): string {
    return this.bound.host;
  }
  get port(): number {
    return this.bound.port;
  }
  get url(): string {
    return `http://${hostForUrl(this.bound.host)}:${this.bound.port}/`;
  }

  async start(): Promise<void> {
    const want = listenAddress(this.options.webPort);
    const removed = await removeStaleSpools(this.options.tempDir);
    if (removed > 0) this.log.info(`removed ${removed} spool file(s) left by an earlier run`);
    try {
      this.listener = await listenTcp(want.host, want.port, (socket) => this.server.emit('connection', socket));
    } catch (e) {
      const err = asTahoeError(e);
      throw new TahoeError('ConfigInvalid', `the web gateway cannot listen on ${want.host}:${want.port}: ${err.message}`, {
        cause: e,
        details: err.details,
        hint: err.details.code === 'EADDRINUSE'
          ? 'another process uses this port (is this node already running?): stop it, or set [node] web.port to another port'
          : 'check [node] web.port in tahoe.cfg (e.g. tcp:3456:interface=127.0.0.1)',
      });
    }
    this.bound = { host: want.host, port: this.listener.port };
    this.log.info(`web gateway listening on ${this.url}`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const c of this.controllers) c.abort(new TahoeError('Aborted', 'the node is shutting down', { hint: 'retry once the node runs again' }));
    await this.listener?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Let handlers remove their spool files.
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }

  // ---------------------------------------------------------------- dispatch

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    // Kept here: a request destroyed by an early exit from reading its body has no socket any more.
    const socket = req.socket;
    this.controllers.add(controller);
    res.on('close', () => {
      this.controllers.delete(controller);
      if (!res.writableFinished) controller.abort(new TahoeError('Aborted', 'the client closed the connection', { hint: 'nothing to do: the request was abandoned' }));
    });
    // Caps in URLs must not travel to other sites; same-origin requests keep their Origin header.
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    try {
      await this.route(req, res, controller.signal);
    } catch (e) {
      const err = sendError(res, e, this.reveal);
      if (err.kind === 'Internal') this.log.error(`${req.method ?? '?'} ${describePath(req.url)}:`, err);
      else if (err.kind !== 'Aborted') this.log.debug(`${req.method ?? '?'} ${describePath(req.url)}: ${err.kind}:`, err.message);
      // A body we did not read would be parsed as the next request: close instead.
      if (!req.complete) res.once('finish', () => socket.destroy());
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const method = req.method ?? 'GET';
    this.checkHost(req);
    if (UNSAFE_METHODS.has(method)) checkSameOrigin(req);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway.invalid');
    } catch {
      throw webError(400, 'BadInput', 'the request URL cannot be parsed', 'check the URL');
    }
    const segments = decodeSegments(url.pathname);
    const args = url.searchParams;
    const [first, ...rest] = segments;
    switch (first) {
      case '':
        if (rest.length > 0) break;
        allow(method, ['GET', 'HEAD']);
        return this.welcome(req, res, args);
      case 'uri':
      case 'cap':
        return this.uriTree(req, res, method, rest, args, signal);
      case 'named':
      case 'file': {
        allow(method, ['GET', 'HEAD']);
        if (rest.length < 1 || rest[0] === '') throw webError(404, 'BadInput', `/${first} must be followed by a file cap and a name`, `use /${first}/$FILECAP/NAME`);
        const name = rest.length > 1 ? rest[rest.length - 1] : undefined;
        return this.getFile(req, res, rest[0], args, name, signal);
      }
      case 'status':
        if (rest.length > 1 || (rest.length === 1 && rest[0] !== '')) break;
        allow(method, ['GET', 'HEAD']);
        return this.status(res, args);
      case 'static':
        allow(method, ['GET', 'HEAD']);
        return this.staticFile(res, rest);
      default:
        break;
    }
    throw webError(404, 'BadInput', `no such page: ${describePath(req.url)}`, 'see docs/web-api.md for the gateway\'s paths (/uri, /uri/$CAP, /?t=json, /status)');
  }

  /** DNS rebinding: a loopback listener only answers requests addressed to a loopback name. */
  private checkHost(req: IncomingMessage): void {
    if (!isLoopbackAddress(this.bound.host)) return;
    const host = req.headers.host;
    if (host === undefined) return; // HTTP/1.0
    const name = hostName(host);
    if (name === 'localhost' || isLoopbackAddress(name)) return;
    throw webError(403, 'BadInput', `refusing a request for host "${host.slice(0, 80)}" on a loopback-only gateway`, `address the gateway as http://127.0.0.1:${this.bound.port}/ (names other than localhost could be a DNS-rebinding attack)`);
  }

  // ---------------------------------------------------------------- welcome, status, static

  private welcome(req: IncomingMessage, res: ServerResponse, args: Args): void {
    const status = this.options.node.status();
    const fromLoopback = isLoopbackAddress(req.socket.remoteAddress ?? '');
    const reveal = this.reveal || (fromLoopback && isTrue(args.get('show_addresses')));
    if (args.get('t') === 'json') {
      sendBody(res, 200, JSON_TYPE, JSON.stringify(welcomeJson(status, { revealAddresses: reveal }), null, 1) + '\n', { 'Cache-Control': 'no-store' });
      return;
    }
    const t = args.get('t');
    if (t !== null && t !== '') throw webError(400, 'BadInput', `the welcome page has no t=${t.slice(0, 40)}`, 'use / or /?t=json');
    const page = welcomeHtml(status, { revealAddresses: reveal, offerReveal: fromLoopback && !this.reveal, now: Date.now(), canUpload: this.options.node.grid !== undefined });
    sendBody(res, 200, HTML_TYPE, page, { 'Content-Security-Policy': PAGE_CSP, 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' });
  }

  private status(res: ServerResponse, args: Args): void {
    const json = this.operations.json();
    if (args.get('t') === 'json') {
      sendBody(res, 200, JSON_TYPE, JSON.stringify(json, null, 1) + '\n', { 'Cache-Control': 'no-store' });
      return;
    }
    const rows = json.active.map((op) => `<tr><td>${op.type}</td><td>${op['total-size']}</td><td>${escapeHtml(op.status)}</td><td>${op['bytes-done']}</td></tr>`).join('\n');
    const page = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tahoe-ts: active operations</title></head><body>
<h1>Active operations</h1>${json.active.length === 0 ? '<p>None.</p>' : `<table><tr><th>Type</th><th>Size</th><th>Status</th><th>Bytes done</th></tr>${rows}</table>`}
<p><a href="/">Welcome page</a> · <a href="/status/?t=json">JSON</a></p></body></html>\n`;
    sendBody(res, 200, HTML_TYPE, page, { 'Content-Security-Policy': PAGE_CSP, 'Cache-Control': 'no-store' });
  }

  private async staticFile(res: ServerResponse, segments: string[]): Promise<void> {
    const root = this.options.staticDir;
    const notFound = () => webError(404, 'BadInput', 'no such static file', `static files are served from [node] web.static${root === undefined ? '' : ` (${path.basename(root)}/)`}`);
    if (root === undefined || segments.length === 0 || segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.') || s.includes('/') || s.includes('\0'))) throw notFound();
    const file = path.join(root, ...segments);
    if (!file.startsWith(path.resolve(root) + path.sep)) throw notFound();
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw notFound();
      size = st.size;
    } catch (e) {
      if (e instanceof TahoeError) throw e;
      throw notFound();
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', contentTypeFor(file));
    res.setHeader('Content-Length', size);
    if (res.req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    await once(res, 'close');
  }

  // ---------------------------------------------------------------- /uri

  private async uriTree(req: IncomingMessage, res: ServerResponse, method: string, rest: string[], args: Args, signal: AbortSignal): Promise<void> {
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
      switch (method) {
        case 'GET':
        case 'HEAD':
          return redirectToCap(res, args);
        case 'PUT':
          if (this.tree.wantsUnlinked(method, args)) return this.tree.unlinked(req, res, method, args, signal);
          return this.putUnlinked(req, res, args, signal);
        case 'POST':
          if (this.tree.wantsUnlinked(method, args)) return this.tree.unlinked(req, res, method, args, signal);
          return this.postUnlinked(req, res, args, signal);
        default:
          throw methodNotAllowed(method, ['GET', 'HEAD', 'PUT', 'POST']);
      }
    }
    const [cap, ...children] = rest;
    if (isTreeCap(cap)) return this.tree.handle(req, res, method, cap, children, args, signal);
    const childPath = children.filter((c) => c !== '');
    if (childPath.length > 0) {
      throw webError(400, 'BadInput', `files have no children (the cap is followed by "/${childPath.join('/').slice(0, 40)}")`, 'use /uri/$FILECAP, or /named/$FILECAP/NAME to give the download a name');
    }
    switch (method) {
      case 'GET':
      case 'HEAD':
        return this.getFile(req, res, cap, args, undefined, signal);
      case 'PUT':
      case 'POST':
        throw webError(400, 'BadInput', `${method} /uri/$FILECAP changes a mutable file, and this cap is not one`, 'immutable files cannot be modified: upload a new file with PUT /uri');
      default:
        throw methodNotAllowed(method, ['GET', 'HEAD']);
    }
  }

  private requireGrid(): GridClient {
    const grid = this.options.node.grid;
    if (grid === undefined) {
      throw webError(503, 'NodeNotRunning', 'this node has no grid client (it is an introducer or its client is not running)', 'use the web gateway of a client node (tahoe-ts create-client / create-node)');
    }
    return grid;
  }

  /** `format=` / `mutable=` (webapi.rst): CHK (immutable), SDMF or MDMF; `mutable=true` = `[client] mutable.format`. */
  private checkFormat(args: Args, fields?: ReadonlyMap<string, string>): { mutable: false } | { mutable: true; format?: 'SDMF' | 'MDMF' } {
    const get = (k: string) => args.get(k) ?? fields?.get(k) ?? undefined;
    const format = get('format')?.trim().toUpperCase();
    if (format === 'SDMF' || format === 'MDMF') return { mutable: true, format };
    if (format !== undefined && format !== '' && format !== 'CHK') {
      throw webError(400, 'BadInput', `format=${format.slice(0, 20)} is not a file format`, 'use format=CHK (immutable), format=SDMF or format=MDMF (mutable)');
    }
    const mutable = get('mutable');
    if ((format === undefined || format === '') && mutable !== undefined && isTrue(mutable)) return { mutable: true };
    return { mutable: false };
  }

  /** PUT /uri: the body is the file. */
  private async putUnlinked(req: IncomingMessage, res: ServerResponse, args: Args, signal: AbortSignal): Promise<void> {
    const t = (args.get('t') ?? '').trim();
    if (t !== '') throw webError(400, 'BadInput', `PUT /uri does not take t=${t.slice(0, 40)}`, '/uri accepts PUT (upload a file), POST?t=upload (HTML form) and GET?uri=CAP');
    this.checkFormat(args);
    const grid = this.requireGrid();
    const declared = Number(req.headers['content-length'] ?? 0);
    const op = this.operations.begin('upload', Number.isSafeInteger(declared) ? declared : 0);
    let spool: SpoolFile | undefined;
    let cap: string;
    try {
      spool = await SpoolFile.create(this.options.tempDir);
      await spoolRequest(req, spool, op, signal);
      cap = await this.upload(grid, spool, op, signal);
    } finally {
      op.done();
      await spool?.remove();
    }
    sendBody(res, 200, TEXT_TYPE, cap, { 'Cache-Control': 'no-store' });
  }

  /** POST /uri?t=upload: an HTML form with a `file` field. */
  private async postUnlinked(req: IncomingMessage, res: ServerResponse, args: Args, signal: AbortSignal): Promise<void> {
    const queryT = args.get('t')?.trim();
    if (queryT !== undefined) checkPostT(queryT);
    this.checkFormat(args);
    const grid = this.requireGrid();
    const boundary = multipartBoundary(req.headers['content-type']);
    const op = this.operations.begin('upload', Number(req.headers['content-length'] ?? 0) || 0);
    let form: UploadForm | undefined;
    let cap: string;
    let size: number;
    let redirect: string | undefined;
    try {
      form = await readUploadForm(req, boundary, this.options.tempDir, signal, (bytes) => op.received(bytes));
      const t = queryT ?? form.fields.get('t')?.trim();
      if (t === undefined || t === '') {
        throw webError(400, 'BadInput', 'POST /uri needs t=upload', 'send t=upload in the query or as a form field (Tahoe\'s upload form has <input type="hidden" name="t" value="upload">)');
      }
      checkPostT(t);
      const how = this.checkFormat(args, form.fields);
      const spool = form.file?.spool;
      if (spool === undefined) throw webError(400, 'BadInput', 'the upload form has no field named "file"', 'name the file input "file": <input type="file" name="file">');
      const whenDone = args.get('when_done') ?? form.fields.get('when_done');
      redirect = whenDone === undefined || whenDone === '' ? undefined : sameSiteRedirect(whenDone);
      size = spool.size;
      cap = how.mutable ? await this.tree.createMutableFromSpool(spool, how.format, signal) : await this.upload(grid, spool, op, signal);
    } finally {
      op.done();
      await form?.file?.spool.remove();
    }
    if (redirect !== undefined) {
      const location = redirect.replaceAll('%(uri)s', encodeURIComponent(cap));
      sendBody(res, 303, TEXT_TYPE, `${location}\n`, { Location: location, 'Cache-Control': 'no-store' });
    } else if (prefersHtml(req)) {
      sendBody(res, 200, HTML_TYPE, uploadResultPage(cap, form.file?.filename, size), { 'Content-Security-Policy': PAGE_CSP, 'Cache-Control': 'no-store' });
    } else {
      sendBody(res, 200, TEXT_TYPE, cap, { 'Cache-Control': 'no-store' });
    }
  }

  private async upload(grid: GridClient, spool: SpoolFile, op: OperationHandle, signal: AbortSignal): Promise<string> {
    throwIfSignalled(signal);
    // The uploader hashes or copies each chunk before asking for the next: one read buffer per pass.
    const result = await grid.uploadImmutable(spool.transientSource(), spool.size, { signal, onProgress: (p) => op.progress(p) });
    if (result.storageIndex !== undefined) op.setStorageIndex(result.storageIndex);
    this.log.info(`uploaded ${result.size} bytes (${result.sharesPlaced} shares on ${result.servers} servers, ${result.elapsedMs} ms)`);
    return result.cap;
  }

  // ---------------------------------------------------------------- GET /uri/CAP

  private async getFile(req: IncomingMessage, res: ServerResponse, capText: string, args: Args, nameFromPath: string | undefined, signal: AbortSignal): Promise<void> {
    if (isMutableFileCap(capText)) return this.tree.serveMutableCap(req, res, capText, args, nameFromPath, signal);
    const grid = this.requireGrid();
    const cap = capText.trim();
    const info = await grid.fileInfo(cap, { signal });
    const t = (args.get('t') ?? '').trim();
    const etag = etagFor(cap, info, t);
    if (t === 'json') {
      if (ifNoneMatchHits(req.headers['if-none-match'], etag)) return notModified(res, etag);
      sendBody(res, 200, JSON_TYPE, JSON.stringify(fileJson(cap, info), null, 1) + '\n', { ETag: etag });
      return;
    }
    if (t === 'uri' || t === 'readonly-uri') {
      sendBody(res, 200, TEXT_TYPE, cap, {});
      return;
    }
    if (t !== '') throw webError(400, 'BadInput', `GET file: bad t=${t.slice(0, 40)}`, 'use t=json, t=uri, or no t= to download the contents');
    if (info.verifyCap !== undefined && cap.startsWith('URI:CHK-Verifier:')) {
      throw new TahoeError('CapInvalid', 'a verify cap (URI:CHK-Verifier:) can check shares but cannot decrypt the file', { hint: 'download with the read cap (URI:CHK:…); ?t=json works with a verify cap' });
    }
    const filename = args.get('filename') ?? nameFromPath;
    const headers: Record<string, string | number> = {
      'Content-Type': contentTypeFor(filename ?? undefined),
      'Accept-Ranges': 'bytes',
      ETag: etag,
      // An HTML file from the grid must not run scripts with the gateway's origin.
      'Content-Security-Policy': 'sandbox',
    };
    if (isTrue(args.get('save')) && filename !== undefined && filename !== '') headers['Content-Disposition'] = attachmentDisposition(filename);
    if (ifNoneMatchHits(req.headers['if-none-match'], etag)) return notModified(res, etag);
    const rangeHeader = ifRangeAllows(headerValue(req.headers['if-range']), etag) ? headerValue(req.headers.range) : undefined;
    const decision = decideRange(rangeHeader, info.size);
    const head = req.method === 'HEAD';
    if (decision.kind === 'unsatisfiable') {
      throw webError(416, 'BadInput', `Range "${(rangeHeader ?? '').slice(0, 60)}" cannot be satisfied: ${decision.reason}`, `ask for bytes within 0-${Math.max(0, info.size - 1)} of this ${info.size}-byte file, e.g. Range: bytes=0-1023`, { contentRange: `bytes */${info.size}` });
    }
    if (decision.kind === 'full') {
      if (head) return sendHead(res, 200, { ...headers, 'Content-Length': info.size });
      const op = this.operations.begin('download', info.size, info.storageIndex);
      try {
        const download = await grid.downloadImmutable(cap, { signal, onProgress: (p) => op.progress(p) });
        const stream = await primed(download.stream);
        writeHead(res, 200, { ...headers, 'Content-Length': info.size });
        await pipeOut(res, stream, signal);
      } finally {
        op.done();
      }
      return;
    }
    if (decision.ranges.length === 1) {
      const [r] = decision.ranges;
      const partHeaders = { ...headers, 'Content-Length': r.end - r.start + 1, 'Content-Range': contentRange(r, info.size) };
      if (head) return sendHead(res, 206, partHeaders);
      const op = this.operations.begin('download', r.end - r.start + 1, info.storageIndex);
      try {
        const download = await grid.downloadImmutable(cap, { offset: r.start, length: r.end - r.start + 1, signal, onProgress: (p) => op.progress(p) });
        const stream = await primed(download.stream);
        writeHead(res, 206, partHeaders);
        await pipeOut(res, stream, signal);
      } finally {
        op.done();
      }
      return;
    }
    await this.multiRange(res, grid, cap, info.size, String(headers['Content-Type']), { ...headers }, decision.ranges, head, signal);
  }

  /** 206 multipart/byteranges (RFC 9110 §14.6): one download per range, in order. */
  private async multiRange(res: ServerResponse, grid: GridClient, cap: string, size: number, partType: string, headers: Record<string, string | number>, ranges: ByteRange[], head: boolean, signal: AbortSignal): Promise<void> {
    const boundary = `tahoe-ts-${randomBytes(12).toString('hex')}`;
    const partHead = (r: ByteRange) => Buffer.from(`\r\n--${boundary}\r\nContent-Type: ${partType}\r\nContent-Range: ${contentRange(r, size)}\r\n\r\n`, 'latin1');
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
    const length = ranges.reduce((n, r) => n + partHead(r).length + (r.end - r.start + 1), 0) + tail.length;
    const all: Record<string, string | number> = { ...headers, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': length };
    if (head) return sendHead(res, 206, all);
    const total = ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
    const op = this.operations.begin('download', total);
    try {
      let done = 0;
      // Decode the first range's first segment before answering, so a lost file is a proper 410.
      const first = await grid.downloadImmutable(cap, { offset: ranges[0].start, length: ranges[0].end - ranges[0].start + 1, signal });
      let stream = await primed(first.stream);
      writeHead(res, 206, all);
      for (let i = 0; i < ranges.length; i++) {
        const r = ranges[i];
        if (i > 0) stream = (await grid.downloadImmutable(cap, { offset: r.start, length: r.end - r.start + 1, signal })).stream;
        await writeOut(res, partHead(r), signal);
        await pipeOut(res, stream, signal, false);
        done += r.end - r.start + 1;
        op.progress({ phase: 'downloading', bytesDone: done, bytesTotal: total });
      }
      await writeOut(res, tail, signal);
      res.end();
    } finally {
      op.done();
    }
  }
}

// ------------------------------------------------------------------ helpers

function decodeSegments(pathname: string): string[] {
  const raw = pathname.split('/').slice(1);
  try {
    return raw.map((s) => decodeURIComponent(s));
  } catch {
    throw webError(400, 'BadInput', 'the request path has an invalid %-escape', 'percent-encode caps as UTF-8 (":" may be written as %3A or left as it is)');
  }
}

/** For logs: the path with caps and query removed (caps are secrets). */
function describePath(url: string | undefined): string {
  const p = (url ?? '/').split('?')[0];
  const parts = p.split('/');
  if (['uri', 'cap', 'named', 'file'].includes(parts[1] ?? '') && parts.length > 2) return `/${parts[1]}/[cap]${parts.length > 3 ? '/…' : ''}`;
  return p.length > 80 ? `${p.slice(0, 80)}…` : p;
}

function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Cross-site request forgery: a browser tells us where a request comes from (Origin,
 * Sec-Fetch-Site); another site's form must not upload through our gateway. Programs
 * (curl, tahoe-ts put) send neither header and pass.
 */
function checkSameOrigin(req: IncomingMessage): void {
  const hint = 'state-changing requests are accepted from the gateway\'s own pages and from programs, not from other web sites';
  // Browsers set Sec-Fetch-Site themselves (page scripts cannot); when it is there it decides.
  const site = headerValue(req.headers['sec-fetch-site']);
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    throw webError(403, 'BadInput', `refusing a ${req.method ?? ''} request sent by another web site (Sec-Fetch-Site: ${site.slice(0, 20)})`, hint);
  }
  const origin = headerValue(req.headers.origin);
  if (origin === undefined) return;
  let originHost: string | undefined;
  try {
    const u = new URL(origin);
    originHost = u.protocol === 'http:' ? u.host.toLowerCase() : undefined;
  } catch {
    originHost = undefined; // "null" (sandboxed frames, file: pages) and garbage
  }
  const host = headerValue(req.headers.host)?.trim().toLowerCase();
  if (originHost === undefined || host === undefined || originHost !== host) {
    throw webError(403, 'BadInput', `refusing a ${req.method ?? ''} request from origin ${origin.slice(0, 80)}`, hint);
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) throw methodNotAllowed(method, methods);
}

function methodNotAllowed(method: string, methods: string[]): TahoeError {
  return webError(405, 'BadInput', `${method.slice(0, 16)} is not allowed here`, `this path accepts ${methods.join(', ')}`, { allow: methods.join(', ') });
}

function checkPostT(t: string): void {
  if (t === 'upload') return;
  if (t === 'mkdir' || t === 'mkdir-with-children' || t === 'mkdir-immutable') {
    throw webError(400, 'BadInput', `POST /uri with t=${t} in the form body`, `give t=${t} in the query string: POST /uri?t=${t}`);
  }
  throw webError(400, 'BadInput', `POST /uri does not take t=${t.slice(0, 40)}`, '/uri accepts PUT, POST?t=upload and GET?uri=CAP');
}

function isTrue(v: string | null | undefined): boolean {
  return v !== null && v !== undefined && ['true', 't', '1', 'yes', 'on'].includes(v.trim().toLowerCase());
}

function prefersHtml(req: IncomingMessage): boolean {
  const accept = headerValue(req.headers.accept) ?? '';
  return accept.includes('text/html');
}

function throwIfSignalled(signal: AbortSignal): void {
  if (signal.aborted) throw asTahoeError(signal.reason, 'Aborted');
}

function etagFor(cap: string, info: FileInfo, t: string): string {
  // Tahoe uses the storage index for CHK; LIT files have none, so their cap's hash stands in.
  const id = info.storageIndex ?? `lit-${base32Encode(sha256(Buffer.from(cap, 'utf8')).subarray(0, 16))}`;
  return `"${id}-${t}"`;
}

function fileJson(cap: string, info: FileInfo): [string, Record<string, unknown>] {
  const verifier = cap.startsWith('URI:CHK-Verifier:');
  const data: Record<string, unknown> = {};
  if (!verifier) data.ro_uri = cap;
  if (info.verifyCap !== undefined) data.verify_uri = info.verifyCap;
  data.size = info.size;
  data.mutable = false;
  data.format = info.format;
  return ['filenode', data];
}

function redirectToCap(res: ServerResponse, args: Args): void {
  const cap = args.get('uri')?.trim();
  if (cap === undefined || cap === '') throw webError(400, 'BadInput', 'GET /uri requires uri=', 'use /uri?uri=$CAP or /uri/$CAP');
  const parsed = parseCap(cap);
  if (parsed.type === 'unknown') throw new TahoeError('CapInvalid', 'the uri= argument is not a cap', { hint: 'caps start with URI: (e.g. URI:CHK:…); check that the whole cap was copied' });
  const rest = new URLSearchParams();
  for (const [k, v] of args) if (k !== 'uri') rest.append(k, v);
  const query = rest.toString();
  const location = `/uri/${encodeURIComponent(cap)}${query === '' ? '' : `?${query}`}`;
  sendBody(res, 303, TEXT_TYPE, `${location}\n`, { Location: location });
}

function uploadResultPage(cap: string, filename: string | undefined, size: number): string {
  const link = `/uri/${encodeURIComponent(cap)}${filename === undefined || filename === '' ? '' : `?filename=${encodeURIComponent(filename)}`}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Upload finished</title></head>
<body>
<h1>Upload finished</h1>
<p>${escapeHtml(filename ?? 'The file')} (${size} bytes) is stored. Its cap (keep it secret: anyone holding it can read the file):</p>
<p><code id="cap">${escapeHtml(cap)}</code></p>
<p><a id="download" href="${escapeHtml(link)}">Download it</a> · <a href="/">Back to the welcome page</a></p>
</body></html>
`;
}

function writeHead(res: ServerResponse, status: number, headers: Record<string, string | number>): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.flushHeaders();
}

function sendHead(res: ServerResponse, status: number, headers: Record<string, string | number>): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end();
}

function sendBody(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string | number>): void {
  const bytes = Buffer.from(body, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', bytes.length);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

function notModified(res: ServerResponse, etag: string): void {
  res.statusCode = 304;
  res.setHeader('ETag', etag);
  res.end();
}

async function writeOut(res: ServerResponse, chunk: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!res.write(chunk)) await once(res, 'drain', { signal });
}

/**
 * Wait for a download's first chunk before the status line goes out: the downloader
 * locates shares lazily, so "not enough shares" often shows only at the first segment,
 * and that should be a 410, not a cut connection.
 */
async function primed(stream: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array>> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    [Symbol.asyncIterator]: () => {
      let pending: IteratorResult<Uint8Array> | undefined = first;
      return {
        next: async () => {
          if (pending !== undefined) {
            const r = pending;
            pending = undefined;
            return r;
          }
          return iterator.next();
        },
        return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
      };
    },
  };
}

/** Copy a download to the response with backpressure; `end` closes the response. */
async function pipeOut(res: ServerResponse, stream: AsyncIterable<Uint8Array>, signal: AbortSignal, end = true): Promise<void> {
  for await (const chunk of stream) {
    throwIfSignalled(signal);
    await writeOut(res, chunk, signal);
  }
  if (end) res.end();
}
