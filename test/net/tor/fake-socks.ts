/**
 * An in-process SOCKS5 server for fault injection only (reply codes tor would need a
 * whole network to produce, garbage, slow answers). Real behaviour is tested against tor.
 */
import net from 'node:net';
import type { Defer } from './offline-tor.js';

export interface SocksRequest {
  methods: number[];
  username?: string;
  password?: string;
  command: number;
  atyp: number;
  host: string;
  port: number;
}

export class FakeConnection {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffer.length < n) {
      if (this.ended) throw new Error('client closed');
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Whatever arrived beyond what was read (e.g. optimistic data), after a short wait. */
  async rest(waitMs = 50): Promise<Buffer> {
    await new Promise((r) => setTimeout(r, waitMs));
    const out = this.buffer;
    this.buffer = Buffer.alloc(0);
    return out;
  }

  get closedByClient(): boolean {
    return this.ended;
  }

  whenClosed(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  write(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  async greeting(): Promise<number[]> {
    const [version, count] = await this.read(2);
    if (version !== 5) throw new Error(`bad greeting version ${version}`);
    return [...(await this.read(count))];
  }

  async auth(): Promise<{ username: string; password: string }> {
    const [, ulen] = await this.read(2);
    const username = (await this.read(ulen)).toString('utf8');
    const [plen] = await this.read(1);
    const password = (await this.read(plen)).toString('utf8');
    return { username, password };
  }

  async request(): Promise<{ command: number; atyp: number; host: string; port: number }> {
    const [, command, , atyp] = await this.read(4);
    let host: string;
    if (atyp === 1) host = [...(await this.read(4))].join('.');
    else if (atyp === 3) host = (await this.read((await this.read(1))[0])).toString('utf8');
    else if (atyp === 4) host = (await this.read(16)).toString('hex');
    else throw new Error(`bad atyp ${atyp}`);
    const port = (await this.read(2)).readUInt16BE(0);
    return { command, atyp, host, port };
  }
}

export interface FakeSocksServer {
  endpoint: { host: string; port: number } | { path: string };
  requests: SocksRequest[];
  connections: FakeConnection[];
}

/** Tor's failure reply: 05 REP 00 01 00000000 0000. */
export function replyBytes(code: number): number[] {
  return [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
}

/**
 * Handles each connection with `script`; the default script behaves like tor answering
 * `reply` (default success) and then echoing data back.
 */
export async function startFakeSocks(
  scope: Defer,
  options: { script?: (c: FakeConnection, server: FakeSocksServer) => Promise<void>; reply?: number; unixPath?: string } = {},
): Promise<FakeSocksServer> {
  const server = net.createServer();
  const state: FakeSocksServer = { endpoint: { host: '127.0.0.1', port: 0 }, requests: [], connections: [] };
  const script = options.script ?? ((c, s) => standardSession(c, s, options.reply ?? 0));
  server.on('connection', (socket) => {
    const c = new FakeConnection(socket);
    state.connections.push(c);
    script(c, state).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => (options.unixPath ? server.listen(options.unixPath, resolve) : server.listen(0, '127.0.0.1', resolve)));
  const address = server.address();
  state.endpoint = options.unixPath ? { path: options.unixPath } : { host: '127.0.0.1', port: (address as net.AddressInfo).port };
  scope.after(
    () =>
      new Promise<void>((resolve) => {
        for (const c of state.connections) c.socket.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

export async function standardSession(c: FakeConnection, s: FakeSocksServer, reply: number, replyTail: number[] = []): Promise<void> {
  const methods = await c.greeting();
  const record: SocksRequest = { methods, command: 0, atyp: 0, host: '', port: 0 };
  if (methods.includes(2)) {
    c.write([5, 2]);
    Object.assign(record, await c.auth());
    c.write([1, 0]);
  } else c.write([5, 0]);
  Object.assign(record, await c.request());
  s.requests.push(record);
  c.write([...replyBytes(reply), ...replyTail]);
  if (reply !== 0) {
    c.socket.end();
    return;
  }
  c.socket.on('data', (d: Buffer) => c.socket.write(d));
  const early = await c.rest(0);
  if (early.length > 0) c.socket.write(early);
}
