import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { isTahoeError } from '../../src/errors.js';
import { OPEN_GATE } from '../../src/net/socket.js';
import { TcpTransport } from '../../src/net/tcp.js';
import { createPolicy } from '../../src/net/policy.js';
import type { DialTarget } from '../../src/net/transport.js';
import { killAndWait } from '../helpers/processes.js';
import { transportComplianceSuite } from './transport-compliance.js';

/**
 * A loopback address whose connection attempts never complete: a listening socket that
 * never accepts, with its accept queue (backlog 0) filled, so Linux drops further SYNs.
 * Node's net.Server always accepts, so the listener is a small Python process.
 */
async function startStallingTarget(): Promise<{ target: DialTarget; close: () => Promise<void> }> {
  const child: ChildProcess = spawn(
    '/usr/bin/python3',
    ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(3600)'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`python exited with ${code}`)));
  });
  const fillers: net.Socket[] = [];
  // Fill the accept queue until a connection attempt hangs.
  for (let i = 0; i < 16; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) {
      socket.destroy();
      return {
        target: { kind: 'tcp', host: '127.0.0.1', port },
        close: async () => {
          for (const f of fillers) f.destroy();
          await killAndWait(child);
        },
      };
    }
    fillers.push(socket);
  }
  for (const f of fillers) f.destroy();
  await killAndWait(child);
  throw new Error('could not make a stalling loopback target (the accept queue never filled)');
}

transportComplianceSuite('tcp', async () => {
  const transport = new TcpTransport({ gate: OPEN_GATE });
  const stalling = await startStallingTarget();
  return {
    transport,
    listenSpec: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    stallingTarget: stalling.target,
    cleanup: async () => {
      await transport.close();
      await stalling.close();
    },
  };
});

test('tcp listener on ::1 announces an IPv6 hint that dials back', async (t) => {
  const transport = new TcpTransport({ gate: OPEN_GATE });
  t.after(() => transport.close());
  const listener = await transport.listen({ kind: 'tcp', host: '::1', port: 0 }, (s) => s.end('hi'));
  const [hint] = listener.hints;
  assert.equal(hint.kind, 'tcp');
  assert.ok(hint.kind === 'tcp' && hint.host === '::1' && hint.port > 0);
  assert.match(listener.describe(), /\[::1\]:\d+/);
  const s = await transport.dial(hint);
  const data = await new Promise<string>((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('end', () => resolve(text));
  });
  assert.equal(data, 'hi');
});

test('a wildcard listener announces the loopback address', async (t) => {
  const transport = new TcpTransport({ gate: OPEN_GATE });
  t.after(() => transport.close());
  const listener = await transport.listen({ kind: 'tcp', host: '0.0.0.0', port: 0 }, (s) => s.destroy());
  assert.equal(listener.hints[0].kind === 'tcp' && listener.hints[0].host, '127.0.0.1');
});

test('listening on a port in use is a ConfigInvalid error naming the fix', async (t) => {
  const transport = new TcpTransport({ gate: OPEN_GATE });
  t.after(() => transport.close());
  const first = await transport.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, (s) => s.destroy());
  const port = first.hints[0].kind === 'tcp' ? first.hints[0].port : 0;
  await assert.rejects(transport.listen({ kind: 'tcp', host: '127.0.0.1', port }, (s) => s.destroy()), (e: unknown) => {
    assert.ok(isTahoeError(e, 'ConfigInvalid'));
    assert.match(e.hint, /another program/);
    return true;
  });
  await assert.rejects(transport.listen({ kind: 'tcp', host: '192.0.2.1', port: 0 }, (s) => s.destroy()), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /not an address of this machine/.test(e.hint));
});

test('the tcp transport refuses onion/I2P targets and listen specs', async (t) => {
  const transport = new TcpTransport({ gate: OPEN_GATE });
  t.after(() => transport.close());
  const onion: DialTarget = { kind: 'tor', host: 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion', port: 80 };
  assert.equal(transport.canDial(onion), false);
  await assert.rejects(transport.dial(onion), (e: unknown) => isTahoeError(e, 'EndpointInvalid'));
  await assert.rejects(transport.listen({ kind: 'onion', virtualPort: 80 }, (s) => s.destroy()), (e: unknown) => isTahoeError(e, 'EndpointInvalid'));
});

test('with a hiding policy the tcp transport never connects (the gate refuses before a socket exists)', async (t) => {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const policy = createPolicy({ anonymize: true, torEnabled: true, i2pEnabled: true });
  const transport = new TcpTransport({ gate: policy.gate });
  t.after(() => transport.close());
  await assert.rejects(transport.dial({ kind: 'tcp', host: '127.0.0.1', port }), (e: unknown) => isTahoeError(e, 'PrivacyViolation'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(accepted, 0);
});

test('close() ends listeners and open connections; later dials are Aborted', async () => {
  const transport = new TcpTransport({ gate: OPEN_GATE });
  const listener = await transport.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, () => undefined);
  const s = await transport.dial(listener.hints[0]);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  await transport.close();
  await closed;
  assert.equal(transport.describe().ready, false);
  await assert.rejects(transport.dial(listener.hints[0]), (e: unknown) => isTahoeError(e, 'Aborted'));
});
