/**
 * When tor goes away under a running node (a system tor restarts, a launched tor crashes),
 * the Tor transport notices the closed control connection, sets tor up again with
 * backoff, and re-adds its onion services with the same keys — tested against a real
 * offline tor (tor.md §7) that is stopped and started again at the same control socket.
 * Whether an onion service exists is asked from tor itself: adding the same key from a
 * second control connection must fail while it exists and succeed once it is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { isTahoeError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import { OPEN_GATE, type SocketEndpoint } from '../../../src/net/socket.js';
import { connectTorControl } from '../../../src/net/tor/control.js';
import { loadOrCreateOnionKey } from '../../../src/net/tor/onion-key.js';
import { connectTorProvider, type TorProviderOptions } from '../../../src/net/tor/provider.js';
import { TorTransport } from '../../../src/net/tor/transport.js';
import { killAndWait } from '../../helpers/processes.js';
import { privateTempDir, waitFor, type Defer } from './offline-tor.js';

interface RestartableTor {
  control: SocketEndpoint;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** An offline tor that can be stopped and started again with the same data directory and control socket. */
function restartableTor(t: Defer): RestartableTor {
  const base = privateTempDir(t, 'tahoe-ts-tor-restart-');
  const dataDir = path.join(base, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const socketPath = path.join(base, 'ctl');
  let child: ChildProcess | undefined;
  t.after(() => (child ? killAndWait(child) : undefined));
  return {
    control: { path: socketPath },
    async start() {
      const args = ['-f', '/dev/null', '--ignore-missing-torrc', '--DataDirectory', dataDir, '--DisableNetwork', '1', '--SocksPort', '0', '--ControlPort', `unix:${socketPath}`, '--CookieAuthentication', '1', '--GeoIPFile', '', '--GeoIPv6File', ''];
      const proc = spawn('tor', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let output = '';
      proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      await waitFor(() => {
        if (proc.exitCode !== null) throw new Error(`tor exited:\n${output}`);
        return existsSync(socketPath) && existsSync(path.join(dataDir, 'control_auth_cookie'));
      }, 20_000, 'tor to open its control socket');
    },
    async stop() {
      if (child) await killAndWait(child);
      child = undefined;
    },
  };
}

/** True while tor has an onion service with this key (a second ADD_ONION of it collides). */
async function onionExists(control: SocketEndpoint, blob: string): Promise<boolean> {
  const probe = await connectTorControl(control, { gate: OPEN_GATE });
  try {
    const added = await probe.addOnion({ key: blob, ports: [{ virtualPort: 80, target: { host: '127.0.0.1', port: 9 } }] });
    await probe.delOnion(added.serviceId);
    return false;
  } catch (e) {
    if (isTahoeError(e, 'TorControlError')) return true;
    throw e;
  } finally {
    await probe.close();
  }
}

function capturingLogger(lines: string[]): Logger {
  return new Logger({ logSensitive: true, sink: { write: (line) => void lines.push(line) } });
}

test('tor restarts: the transport reconnects and re-adds its onion service with the same key; dials wait within their limit', async (t) => {
  const tor = restartableTor(t);
  await tor.start();
  const base = privateTempDir(t);
  const keyFile = path.join(base, 'private', 'tor_onion.privkey');
  mkdirSync(path.dirname(keyFile), { mode: 0o700 });
  const { key } = await loadOrCreateOnionKey({ keyFile });
  // tor has no SOCKS listener while offline: socks.port is given so that attaching works
  const providerOptions: TorProviderOptions = { gate: OPEN_GATE, controlPort: tor.control, socksPort: 'tcp:127.0.0.1:9' };
  const lines: string[] = [];
  let reconnects = 0;
  const transport = new TorTransport({
    provider: await connectTorProvider(providerOptions),
    reconnect: () => {
      reconnects++;
      return connectTorProvider(providerOptions);
    },
    reconnectBackoffMs: { min: 50, max: 400 },
    gate: OPEN_GATE,
    waitForPublication: false,
    logger: capturingLogger(lines),
  });
  t.after(() => transport.close());
  const listener = await transport.listen({ kind: 'onion', virtualPort: 80, keyFile }, (s) => s.destroy());
  assert.equal(listener.hints[0].kind === 'tor' && listener.hints[0].host, key.address);
  assert.equal(await onionExists(tor.control, key.blob), true, 'the onion service exists');

  await tor.stop();
  await waitFor(() => /reconnecting/.test(transport.describe().summary), 5_000, 'the transport to notice');
  assert.equal(transport.describe().ready, false);
  await assert.rejects(transport.dial({ kind: 'tor', host: key.address, port: 80 }, { timeoutMs: 300 }), (e: unknown) => isTahoeError(e, 'Timeout') && /not available within/.test(e.message));
  await waitFor(() => reconnects >= 2, 5_000, 'a few reconnection attempts');

  await tor.start();
  await waitFor(() => transport.describe().ready, 10_000, 'the transport to reconnect');
  await waitFor(() => lines.some((l) => /onion service .* is back/.test(l)), 10_000, 'the onion service to be re-added');
  assert.equal(await onionExists(tor.control, key.blob), true, 'the onion service exists on the new tor, with the same key');
  assert.ok(lines.some((l) => /WARN .*lost the connection to tor.*re-adding 1 onion service/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /connected to tor again/.test(l)));

  // Closing the listener removes the service from the new tor.
  await listener.close();
  assert.equal(await onionExists(tor.control, key.blob), false, 'DEL_ONION went to the new tor');
});

test('close() while tor is away ends the reconnection attempts', async (t) => {
  const tor = restartableTor(t);
  await tor.start();
  const providerOptions: TorProviderOptions = { gate: OPEN_GATE, controlPort: tor.control, socksPort: 'tcp:127.0.0.1:9' };
  let reconnects = 0;
  const transport = new TorTransport({
    provider: await connectTorProvider(providerOptions),
    reconnect: () => {
      reconnects++;
      return connectTorProvider(providerOptions);
    },
    reconnectBackoffMs: { min: 50, max: 100 },
    gate: OPEN_GATE,
  });
  await tor.stop();
  await waitFor(() => reconnects >= 1, 5_000, 'a reconnection attempt');
  await transport.close();
  const after = reconnects;
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(reconnects <= after + 1, `no more attempts after close (${after} → ${reconnects})`);
});

test('without reconnect, a lost tor is reported once, naming the onion services that are gone', async (t) => {
  const tor = restartableTor(t);
  await tor.start();
  const lines: string[] = [];
  const transport = new TorTransport({ provider: await connectTorProvider({ gate: OPEN_GATE, controlPort: tor.control, socksPort: 'tcp:127.0.0.1:9' }), gate: OPEN_GATE, waitForPublication: false, logger: capturingLogger(lines) });
  t.after(() => transport.close());
  await transport.listen({ kind: 'onion', virtualPort: 80 }, (s) => s.destroy());
  await tor.stop();
  await waitFor(() => lines.some((l) => /ERROR .*lost the connection to tor.*1 onion service is gone.*restart the node/.test(l)), 5_000, 'the error');
  assert.equal(transport.describe().ready, false);
});
