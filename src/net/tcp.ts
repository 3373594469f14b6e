/**
 * The direct TCP transport: `dial` opens a socket through the egress choke point
 * (net/socket.ts `openSocket`, purpose `direct`, so the privacy policy's gate decides);
 * `listen` binds a TCP server whose hints are the bound address.
 *
 * Implements the `Transport` interface of net/transport.ts; test/net/transport-compliance.ts
 * is its specification in tests. Accepted connections allow half-open streams, so a peer
 * may finish sending (FIN) and still read the answer.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TahoeError, throwIfAborted } from '../errors.js';
import { openSocket, type EgressGate } from './socket.js';
import type { ConnectionHandler, DialOptions, DialTarget, Listener, ListenSpec, Transport, TransportStatus } from './transport.js';

export interface TcpTransportOptions {
  /** The privacy policy's gate (`Policy.gate`), or `OPEN_GATE` for tests and offline tools. */
  gate: EgressGate;
}

/** A wildcard bind is announced as the loopback address of the same family: the only address known to reach it. */
function hintHostFor(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::' || address === '::0') return '::1';
  return address;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): TahoeError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const hints: Record<string, string> = {
    EADDRINUSE: `another program already listens on ${where}: stop it, or choose another port in tub.port / web.port`,
    EADDRNOTAVAIL: `${host} is not an address of this machine: use 127.0.0.1 or one of this machine's addresses in interface=`,
    EACCES: `ports below 1024 need privileges: choose a port above 1023`,
  };
  return new TahoeError('ConfigInvalid', `cannot listen on ${where}: ${err.code ?? err.message}`, {
    cause: err,
    hint: hints[err.code ?? ''] ?? 'check the interface address and port of the listener',
    details: { code: err.code },
  });
}

export class TcpTransport implements Transport {
  readonly name = 'tcp' as const;
  readonly hidesIp = false;
  private readonly gate: EgressGate;
  private readonly listeners = new Set<Listener>();
  /** Every socket dialled or accepted, so close() can release them all. */
  private readonly sockets = new Set<net.Socket>();
  private closed = false;

  constructor(options: TcpTransportOptions) {
    this.gate = options.gate;
  }

  canDial(target: DialTarget): boolean {
    return target.kind === 'tcp';
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  async dial(target: DialTarget, options: DialOptions = {}): Promise<Duplex> {
    if (this.closed) throw new TahoeError('Aborted', 'the tcp transport is closed', { hint: 'the node is shutting down' });
    if (target.kind !== 'tcp') {
      throw new TahoeError('EndpointInvalid', `the tcp transport cannot dial a ${target.kind} target`, { hint: 'onion and I2P addresses are dialled through the tor / i2p transports' });
    }
    throwIfAborted(options.signal);
    options.onProgress?.({ transport: 'tcp', phase: 'connecting' });
    const socket = await openSocket(
      { host: target.host, port: target.port },
      { gate: this.gate, purpose: 'direct', signal: options.signal, timeoutMs: options.timeoutMs },
    );
    if (this.closed) {
      socket.destroy();
      throw new TahoeError('Aborted', 'the tcp transport was closed while connecting', { hint: 'the node is shutting down' });
    }
    socket.setNoDelay(true);
    this.track(socket);
    options.onProgress?.({ transport: 'tcp', phase: 'connected' });
    return socket;
  }

  async listen(spec: ListenSpec, onConnection: ConnectionHandler): Promise<Listener> {
    if (this.closed) throw new TahoeError('Aborted', 'the tcp transport is closed', { hint: 'the node is shutting down' });
    if (spec.kind !== 'tcp') {
      throw new TahoeError('EndpointInvalid', `the tcp transport cannot listen on a ${spec.kind} endpoint`, { hint: 'onion and I2P listeners are created by the tor / i2p transports' });
    }
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, spec.host, spec.port)));
      server.listen({ host: spec.host, port: spec.port, exclusive: true }, () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    const hints: DialTarget[] = [{ kind: 'tcp', host: hintHostFor(address.address), port: address.port }];
    const description = `tcp listener on ${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    let open = true;
    server.on('error', () => undefined); // after listening, errors concern single connections; they surface on those sockets
    server.on('connection', (socket: net.Socket) => {
      if (!open || this.closed) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      this.track(socket);
      onConnection(socket, { transport: 'tcp', peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    });
    const listener: Listener = {
      hints,
      describe: () => (open ? description : `${description} (closed)`),
      close: async () => {
        if (!open) return;
        open = false;
        this.listeners.delete(listener);
        // close() stops accepting at once; its callback would wait for every accepted stream to end,
        // which is their owners' business, so we do not wait for it.
        server.close();
      },
    };
    this.listeners.add(listener);
    return listener;
  }

  describe(): TransportStatus {
    return {
      name: 'tcp',
      ready: !this.closed,
      summary: this.closed ? 'direct TCP (closed)' : `direct TCP, ${this.listeners.size} listener${this.listeners.size === 1 ? '' : 's'}, ${this.sockets.size} open connection${this.sockets.size === 1 ? '' : 's'}`,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.listeners].map((l) => l.close()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
