/** Helpers for TLS tests: a duplex that is deliberately not a net.Socket. */
import { Duplex } from 'node:stream';

/**
 * Wrap a socket in a plain `Duplex` so code under test cannot rely on net.Socket
 * features — the way a SOCKS or SAM stream will look.
 */
export function opaqueDuplex(sock: Duplex): Duplex {
  const d = new Duplex({
    read() {
      sock.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, (err) => cb(err ?? null));
    },
    final(cb) {
      sock.end();
      cb();
    },
    destroy(err, cb) {
      sock.destroy();
      cb(err);
    },
  });
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause();
  });
  sock.on('end', () => d.push(null));
  sock.on('error', (e) => d.destroy(e));
  sock.on('close', () => d.destroy());
  return d;
}
