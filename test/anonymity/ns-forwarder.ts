/**
 * Runs inside the test namespace: listens on the namespace's own 127.0.0.1 and relays each
 * connection to a daemon port on the outer veth address. The node under test thus sees
 * Tor's SOCKS port and the SAM bridge on loopback (as the anonymize policy demands), and
 * the only packets on the veth are this relay's.
 *
 *   node --import tsx ns-forwarder.ts LISTEN_PORT=HOST:PORT [...]
 * Prints "ready" once every listener is open; exits on SIGTERM.
 */
import net from 'node:net';

const specs = process.argv.slice(2).map((arg) => {
  const m = /^(\d+)=([\d.]+):(\d+)$/.exec(arg);
  if (m === null) throw new Error(`bad forward ${arg}: want LISTEN_PORT=HOST:PORT`);
  return { listen: Number(m[1]), host: m[2], port: Number(m[3]) };
});

await Promise.all(specs.map((spec) => new Promise<void>((resolve, reject) => {
  const server = net.createServer((incoming) => {
    const outgoing = net.connect({ host: spec.host, port: spec.port });
    const drop = () => {
      incoming.destroy();
      outgoing.destroy();
    };
    incoming.on('error', drop);
    outgoing.on('error', drop);
    incoming.pipe(outgoing).pipe(incoming);
  });
  server.once('error', reject);
  server.listen(spec.listen, '127.0.0.1', () => resolve());
})));
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
