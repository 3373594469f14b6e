/**
 * Test helpers for the web gateway: a gateway in front of a real grid (test/grid/fixture.ts:
 * real storage servers over TLS on 127.0.0.1) and a small raw HTTP client that shows
 * exactly what the gateway sent (status, headers, body bytes).
 */
import http from 'node:http';
import type { TestContext } from 'node:test';
import type { Readable } from 'node:stream';
import { startGrid, type TestGrid } from '../grid/fixture.js';
import { tempDir } from '../helpers/tmp.js';
import type { GridClient, GridClientOptions } from '../../src/grid/client.js';
import type { NodeStatus } from '../../src/node/node.js';
import { startWebGateway, type GatewayNode, type RunningWebGateway } from '../../src/web/gateway.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string | AsyncIterable<Buffer> | Readable;
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
}

/** One HTTP request on a fresh connection (no agent: nothing is pooled between tests). */
export function request(url: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false, timeout: options.timeoutMs ?? 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      void (async () => {
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          }
          req.end();
        } catch (e) {
          req.destroy(e as Error);
        }
      })();
    }
  });
}

/** A multipart/form-data body, as a browser sends it. */
export function formBody(parts: Array<{ name: string; filename?: string; data: Buffer | string }>, boundary = '----tahoeTsTestBoundary8f3a'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}\r\n${p.filename === undefined ? '' : 'Content-Type: application/octet-stream\r\n'}\r\n`));
    chunks.push(Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A node status for a grid client that runs without a node runtime. */
export function statusOf(grid: GridClient | undefined, nickname = 'web-test-client'): NodeStatus {
  return {
    nodeType: 'client',
    nickname,
    serverId: 'v0-webtestclientaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    listeners: [],
    transports: [{ name: 'tcp', ready: true, summary: 'direct TCP' }],
    introducers: [],
    servers: grid?.serverStatuses() ?? [],
  };
}

export interface GatewayFixture {
  grid: TestGrid;
  client: GridClient;
  gateway: RunningWebGateway;
  /** http://127.0.0.1:PORT (no trailing slash) */
  base: string;
  tmp: string;
}

/** A grid of `servers` real storage servers, a grid client (k=2, happy=3, n=4) and a gateway. */
export async function startGatewayFixture(
  t: Pick<TestContext, 'after'>,
  options: { servers?: number; client?: Partial<Omit<GridClientOptions, 'router'>>; revealAddresses?: boolean } = {},
): Promise<GatewayFixture> {
  const grid = await startGrid(t, { servers: options.servers ?? 4 });
  const client = await grid.client({ encoding: { k: 2, happy: 3, n: 4, maxSegmentSize: 64 * 1024 }, ...options.client });
  const tmp = tempDir(t, 'tahoe-ts-web-tmp-');
  const node: GatewayNode = { grid: client, status: () => statusOf(client) };
  const gateway = await startWebGateway({ node, webPort: 'tcp:0:interface=127.0.0.1', tempDir: tmp, ...(options.revealAddresses === undefined ? {} : { revealAddresses: options.revealAddresses }) });
  t.after(() => gateway.close());
  return { grid, client, gateway, base: gateway.url.replace(/\/$/, ''), tmp };
}

export function capUrl(base: string, cap: string, query = ''): string {
  return `${base}/uri/${encodeURIComponent(cap)}${query}`;
}
