/**
 * An in-process fake SAM bridge for fault injection: every received line is handed to a
 * script that answers (or misbehaves). It records the raw chunks each connection received,
 * so tests can check that the client sends one command per write.
 */
import net from 'node:net';
import type { TestContext } from 'node:test';

export class FakeSamConn {
  readonly lines: string[] = [];
  readonly chunks: Buffer[] = [];
  private buffered = '';

  constructor(
    readonly socket: net.Socket,
    private readonly onLine: (line: string, conn: FakeSamConn) => void | Promise<void>,
  ) {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.toString('latin1');
      for (;;) {
        const nl = this.buffered.indexOf('\n');
        if (nl < 0) break;
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.lines.push(line);
        void this.onLine(line, this);
      }
    });
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  end(data?: string | Buffer): void {
    if (data === undefined) this.socket.end();
    else this.socket.end(data);
  }
}

export interface FakeSam {
  port: number;
  endpoint: { host: string; port: number };
  connections: FakeSamConn[];
  close(): Promise<void>;
}

export const HELLO_OK = 'HELLO REPLY RESULT=OK VERSION=3.1\n';

/** Start a fake bridge on 127.0.0.1; closed (with all its sockets) after the test. */
export async function startFakeSam(
  t: Pick<TestContext, 'after'>,
  onLine: (line: string, conn: FakeSamConn) => void | Promise<void>,
): Promise<FakeSam> {
  const connections: FakeSamConn[] = [];
  const server = net.createServer((socket) => connections.push(new FakeSamConn(socket, onLine)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const close = async () => {
    for (const c of connections) c.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return { port: address.port, endpoint: { host: '127.0.0.1', port: address.port }, connections, close };
}

/** A fake that answers HELLO with OK and every other line with `reply(line)` (undefined = silence). */
export function scripted(reply: (line: string, conn: FakeSamConn) => string | Buffer | undefined | void): (line: string, conn: FakeSamConn) => void {
  return (line, conn) => {
    if (line.startsWith('HELLO VERSION')) {
      conn.write(HELLO_OK);
      return;
    }
    const answer = reply(line, conn);
    if (answer !== undefined) conn.write(answer);
  };
}
