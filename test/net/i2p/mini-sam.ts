/**
 * A tiny in-process SAM 3.1 "router" for deterministic transport tests: sessions are created
 * at once; CONNECT is paired with the target session's pending ACCEPT (one at a time, as in
 * SAM 3.1) and answered OK when the ACCEPT has taken the stream — like a router whose
 * connect waits for the peer (Java I2P's streaming connect), not like i2pd 2.45, which says
 * OK first (that behaviour is covered by the real-router tests); a destination without a
 * live session is CANT_REACH_PEER, a CONNECT nobody accepts within 10 s is TIMEOUT, and one
 * reserved destination never answers a CONNECT (the stalling target). Streams are spliced
 * socket to socket; like SAM, no half-close: when one side ends, both are closed.
 */
import net from 'node:net';
import { generateDestination, parsePrivateKey } from '../../../src/net/i2p/destination.js';

interface MiniSession {
  id: string;
  priv: string;
  pub: string;
  b32: string;
  control: net.Socket;
  pendingAccept: net.Socket | undefined;
  waitingConnectors: Array<{ socket: net.Socket; from: string; timer: NodeJS.Timeout }>;
}

export interface MiniSam {
  endpoint: { host: string; port: number };
  /** A b32 address whose CONNECT is never answered. */
  stallAddress: string;
  sessions(): number;
  close(): Promise<void>;
}

function splice(a: net.Socket, b: net.Socket): void {
  // One side ending closes the whole stream (after what was sent is delivered).
  const endBoth = () => {
    a.end();
    b.end();
  };
  // A reset on one side ends the other gracefully too, so what was written (the peer line)
  // still arrives, as with i2pd where the SYN reaches the acceptor before the CLOSE.
  a.on('error', endBoth);
  b.on('error', endBoth);
  a.once('end', endBoth);
  b.once('end', endBoth);
  a.once('close', endBoth);
  b.once('close', endBoth);
  a.pipe(b, { end: false });
  b.pipe(a, { end: false });
}

export async function startMiniSam(t: { after(fn: () => Promise<void>): void }): Promise<MiniSam> {
  const sessions = new Map<string, MiniSession>();
  const byAddress = new Map<string, MiniSession>();
  const stall = generateDestination();
  const sockets = new Set<net.Socket>();

  const pair = (target: MiniSession, connector: net.Socket, from: string) => {
    const acceptor = target.pendingAccept;
    if (!acceptor) return false;
    target.pendingAccept = undefined;
    if (!connector.destroyed) connector.write('STREAM STATUS RESULT=OK\n');
    acceptor.write(`${from}\n`);
    // A connector that already hung up still reaches the acceptor (SYN then CLOSE).
    if (connector.destroyed) acceptor.end();
    else splice(acceptor, connector);
    return true;
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let raw = false;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (raw) return;
        const nl = buffered.indexOf(0x0a);
        if (nl < 0) return;
        const line = buffered.subarray(0, nl).toString('latin1');
        buffered = buffered.subarray(nl + 1);
        handle(line);
      }
    };
    /** Leave command mode: stop parsing, give back bytes already read. */
    const goRaw = () => {
      raw = true;
      socket.off('data', onData);
      socket.pause();
      if (buffered.length > 0) socket.unshift(buffered);
      buffered = Buffer.alloc(0);
    };
    const handle = (line: string) => {
      const words = line.split(' ');
      const args = new Map(words.slice(2).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
      const verb = `${words[0]} ${words[1] ?? ''}`;
      if (verb === 'HELLO VERSION') return void socket.write('HELLO REPLY RESULT=OK VERSION=3.1\n');
      if (verb === 'SESSION CREATE') {
        const id = args.get('ID') ?? '';
        if (sessions.has(id)) return void socket.write('SESSION STATUS RESULT=DUPLICATED_ID\n');
        let priv = args.get('DESTINATION') ?? '';
        let info: { destinationBase64: string; b32: string };
        if (priv === 'TRANSIENT') {
          const d = generateDestination();
          priv = d.privateKeyBase64;
          info = d;
        } else {
          try {
            info = parsePrivateKey(priv);
          } catch {
            return void socket.write('SESSION STATUS RESULT=INVALID_KEY\n');
          }
        }
        if (byAddress.has(info.b32)) return void socket.write('SESSION STATUS RESULT=DUPLICATED_DEST\n');
        const session: MiniSession = { id, priv, pub: info.destinationBase64, b32: info.b32, control: socket, pendingAccept: undefined, waitingConnectors: [] };
        sessions.set(id, session);
        byAddress.set(info.b32, session);
        byAddress.set(info.destinationBase64, session);
        socket.once('close', () => {
          sessions.delete(id);
          byAddress.delete(session.b32);
          byAddress.delete(session.pub);
          session.pendingAccept?.destroy();
          for (const w of session.waitingConnectors) {
            clearTimeout(w.timer);
            w.socket.destroy();
          }
        });
        return void socket.write(`SESSION STATUS RESULT=OK DESTINATION=${priv}\n`);
      }
      if (verb === 'NAMING LOOKUP') {
        const name = args.get('NAME') ?? '';
        const own = [...sessions.values()].find((s) => s.control === socket);
        const found = name === 'ME' ? own : byAddress.get(name);
        return void socket.write(found ? `NAMING REPLY RESULT=OK NAME=${name} VALUE=${found.pub}\n` : `NAMING REPLY RESULT=KEY_NOT_FOUND NAME=${name}\n`);
      }
      const session = sessions.get(args.get('ID') ?? '');
      if (verb === 'STREAM ACCEPT') {
        if (!session) return void socket.write('STREAM STATUS RESULT=INVALID_ID\n');
        if (session.pendingAccept) return void socket.write('STREAM STATUS RESULT=I2P_ERROR MESSAGE="Already accepting"\n');
        socket.write('STREAM STATUS RESULT=OK\n');
        goRaw();
        session.pendingAccept = socket;
        socket.once('close', () => {
          if (session.pendingAccept === socket) session.pendingAccept = undefined;
        });
        const waiting = session.waitingConnectors.shift();
        if (waiting) {
          clearTimeout(waiting.timer);
          pair(session, waiting.socket, waiting.from);
        }
        return;
      }
      if (verb === 'STREAM CONNECT') {
        if (!session) return void socket.write('STREAM STATUS RESULT=INVALID_ID\n');
        const dest = args.get('DESTINATION') ?? '';
        if (dest === stall.b32) return goRaw(); // never answered
        const target = byAddress.get(dest);
        if (!target) return void socket.write('STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="Can\'t reach peer"\n');
        goRaw();
        if (!pair(target, socket, session.pub)) {
          const timer = setTimeout(() => {
            target.waitingConnectors = target.waitingConnectors.filter((w) => w.socket !== socket);
            socket.end('STREAM STATUS RESULT=TIMEOUT MESSAGE="nobody accepted"\n');
          }, 10_000);
          target.waitingConnectors.push({ socket, from: session.pub, timer });
        }
        return;
      }
      socket.write('SESSION STATUS RESULT=I2P_ERROR MESSAGE="unknown command"\n');
      socket.destroy();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return { endpoint: { host: '127.0.0.1', port }, stallAddress: stall.b32, sessions: () => sessions.size, close };
}
