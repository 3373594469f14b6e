/**
 * The CLI's view of directories and mutable files through the node's own web gateway, as
 * Tahoe-LAFS's CLI does it (docs/frontends/webapi.rst: `?t=json`, `?t=mkdir`, `PUT
 * /uri/$DIRCAP/PATH`, `?t=uri`, `DELETE`, `?t=relink`). Every request goes through
 * `GatewayClient` (loopback only, sockets through openSocket); gateway errors come back
 * as the gateway's TahoeError (kind and hint kept), so the CLI prints the same hint.
 */
import type { IncomingMessage } from 'node:http';
import { TahoeError } from '../errors.js';
import { directoryReadCapOf, formatDirectoryCap, parseDirectoryCap } from '../dirnode/caps.js';
import { GatewayClient, readAll, type GatewayReply } from './client.js';

/** A child entry or a node, as `?t=json` shows it. */
export interface NodeData {
  rw_uri?: string;
  ro_uri?: string;
  verify_uri?: string;
  mutable?: boolean;
  format?: string;
  size?: number;
  metadata?: { tahoe?: { linkcrtime?: number; linkmotime?: number }; [key: string]: unknown };
  children?: Record<string, NodeJson>;
}

export type NodeJson = [type: 'dirnode' | 'filenode' | 'unknown', data: NodeData];

export interface WriteOptions {
  /** CHK (default), SDMF or MDMF. */
  format?: string;
  /** Mutable in the node's default format (`mutable=true`). */
  mutable?: boolean;
  /** replace= (default true). */
  replace?: boolean | 'only-files';
  signal?: AbortSignal;
  onSent?: (bytes: number) => void;
}

const MAX_TEXT = 64 * 1024 * 1024;

/** `/uri/CAP/a/b` with every part percent-encoded (names may hold any character but "/"). */
export function treePath(rootCap: string, path: readonly string[], trailingSlash = false): string {
  const tail = path.map((p) => `/${encodeURIComponent(p)}`).join('');
  return `/uri/${encodeURIComponent(rootCap)}${tail}${trailingSlash ? '/' : ''}`;
}

function withQuery(url: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const text = params.toString();
  return text === '' ? url : `${url}?${text}`;
}

function writeQuery(options: WriteOptions): Record<string, string | undefined> {
  const replace = options.replace === undefined ? undefined : String(options.replace);
  const format = options.format === undefined || options.format.toUpperCase() === 'CHK' ? undefined : options.format.toUpperCase();
  return { format, mutable: options.mutable === true && format === undefined ? 'true' : undefined, replace };
}

function expectCap(text: string, what: string): string {
  const cap = text.trim();
  if (!cap.startsWith('URI:') && !cap.startsWith('ro.') && !cap.startsWith('imm.')) {
    throw new TahoeError('ProtocolError', `the gateway answered the ${what} without a cap`, { hint: 'is node.url really a tahoe-ts or Tahoe-LAFS web gateway?' });
  }
  return cap;
}

export class DirectoryClient {
  constructor(readonly gateway: GatewayClient) {}

  static async forNodeDirectory(nodeDirectory: string): Promise<DirectoryClient> {
    return new DirectoryClient(await GatewayClient.forNodeDirectory(nodeDirectory));
  }

  /** The gateway's base URL (for webopen). */
  get base(): URL {
    return this.gateway.base;
  }

  private async call(method: string, url: string, what: string, options: { body?: AsyncIterable<Uint8Array> | Uint8Array; headers?: Record<string, string | number>; signal?: AbortSignal; onSent?: (n: number) => void } = {}): Promise<GatewayReply> {
    const reply = await this.gateway.request(method, url, {
      headers: { Accept: 'text/plain', ...options.headers },
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onSent === undefined ? {} : { onSent: options.onSent }),
    });
    await this.gateway.expectOk(reply, what);
    return reply;
  }

  private async callText(method: string, url: string, what: string, options: Parameters<DirectoryClient['call']>[3] = {}): Promise<{ status: number; text: string }> {
    const reply = await this.call(method, url, what, options);
    return { status: reply.status, text: (await readAll(reply.body, MAX_TEXT)).toString('utf8') };
  }

  /** `POST /uri?t=mkdir`: a new unlinked directory; returns its write cap. */
  async mkdirUnlinked(format?: string, signal?: AbortSignal): Promise<string> {
    const r = await this.callText('POST', withQuery('/uri', { t: 'mkdir', format }), 'mkdir', { ...(signal === undefined ? {} : { signal }) });
    return expectCap(r.text, 'mkdir');
  }

  /** `POST /uri/ROOT/PATH?t=mkdir`: the directory at PATH (created with any missing parents; an existing one is kept). */
  async mkdirAt(rootCap: string, path: readonly string[], format?: string, signal?: AbortSignal): Promise<string> {
    const r = await this.callText('POST', withQuery(treePath(rootCap, path), { t: 'mkdir', format }), 'mkdir', { ...(signal === undefined ? {} : { signal }) });
    return expectCap(r.text, 'mkdir');
  }

  /** `GET …?t=json`. */
  async info(rootCap: string, path: readonly string[], signal?: AbortSignal): Promise<NodeJson> {
    const r = await this.callText('GET', withQuery(treePath(rootCap, path), { t: 'json' }), 'listing', { ...(signal === undefined ? {} : { signal }) });
    return parseNodeJson(r.text);
  }

  /** `GET …?t=json` as the gateway wrote it (for `ls --json`). */
  async infoText(rootCap: string, path: readonly string[], signal?: AbortSignal): Promise<string> {
    return (await this.callText('GET', withQuery(treePath(rootCap, path), { t: 'json' }), 'listing', { ...(signal === undefined ? {} : { signal }) })).text;
  }

  /** `GET …?t=json`, or undefined when nothing has that name (404). */
  async infoIfExists(rootCap: string, path: readonly string[], signal?: AbortSignal): Promise<NodeJson | undefined> {
    try {
      return await this.info(rootCap, path, signal);
    } catch (e) {
      if (e instanceof TahoeError && e.details.httpStatus === 404) return undefined;
      throw e;
    }
  }

  /** `PUT /uri/ROOT/PATH` (or `/uri` for an unlinked file): returns the new file's cap. */
  async put(rootCap: string | undefined, path: readonly string[], body: AsyncIterable<Uint8Array> | Uint8Array, size: number | undefined, options: WriteOptions = {}): Promise<{ cap: string; created: boolean }> {
    const url = withQuery(rootCap === undefined ? '/uri' : treePath(rootCap, path), writeQuery(options));
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = size;
    const r = await this.callText('PUT', url, 'upload', { body, headers, ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.onSent === undefined ? {} : { onSent: options.onSent }) });
    return { cap: expectCap(r.text, 'upload'), created: r.status === 201 };
  }

  /** `PUT /uri/$MUTABLECAP`: replace a mutable file's contents in place (the cap stays the same). */
  async overwrite(cap: string, body: AsyncIterable<Uint8Array> | Uint8Array, size: number | undefined, options: { signal?: AbortSignal; onSent?: (n: number) => void } = {}): Promise<string> {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = size;
    const r = await this.callText('PUT', `/uri/${encodeURIComponent(cap)}`, 'overwrite', { body, headers, ...options });
    return expectCap(r.text, 'overwrite');
  }

  /** `PUT /uri/ROOT/PATH?t=uri`: link `childCap` at PATH. */
  async link(rootCap: string, path: readonly string[], childCap: string, replace: boolean | 'only-files' = true, signal?: AbortSignal): Promise<string> {
    const r = await this.callText('PUT', withQuery(treePath(rootCap, path), { t: 'uri', replace: String(replace) }), 'link', { body: Buffer.from(childCap, 'utf8'), ...(signal === undefined ? {} : { signal }) });
    return r.text.trim();
  }

  /** `DELETE /uri/ROOT/PATH`: unlink; returns the cap that was linked there. */
  async unlink(rootCap: string, path: readonly string[], signal?: AbortSignal): Promise<string> {
    return (await this.callText('DELETE', treePath(rootCap, path), 'unlink', { ...(signal === undefined ? {} : { signal }) })).text.trim();
  }

  /** `GET /uri/ROOT/PATH` (or `/uri/CAP`): the response with a checked Content-Length. */
  async download(rootCap: string, path: readonly string[], signal?: AbortSignal): Promise<{ size: number; body: IncomingMessage }> {
    return this.gateway.download(treePath(rootCap, path), signal === undefined ? {} : { signal });
  }
}

/** Parse `?t=json` text into [type, data], refusing anything else. */
export function parseNodeJson(text: string): NodeJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TahoeError('ProtocolError', 'the gateway\'s JSON could not be parsed', { cause: e, hint: 'is node.url really a tahoe-ts or Tahoe-LAFS web gateway?' });
  }
  if (!Array.isArray(value) || value.length !== 2 || !['dirnode', 'filenode', 'unknown'].includes(value[0] as string) || typeof value[1] !== 'object' || value[1] === null) {
    throw new TahoeError('ProtocolError', 'the gateway\'s JSON is not a [type, data] pair', { hint: 'is node.url really a tahoe-ts or Tahoe-LAFS web gateway?' });
  }
  return value as NodeJson;
}

/** The best cap of a node: the write cap when there is one. */
export function capOf(data: NodeData): string | undefined {
  return data.rw_uri ?? data.ro_uri;
}

/**
 * One key for a directory whatever names it (a write cap, a read cap, two aliases): its
 * read cap, in canonical form. Undefined for anything that is not a directory cap.
 */
export function directoryKeyOf(cap: string | undefined): string | undefined {
  if (cap === undefined) return undefined;
  try {
    return formatDirectoryCap(directoryReadCapOf(parseDirectoryCap(cap)));
  } catch {
    return undefined;
  }
}
