/**
 * A listener restarted within seconds waits out its dying destination also across a
 * restart of tahoe-ts: closing a key-file listener notes the time and the router in
 * `<keyFile>.closed` (0600), and the next listen on that key and router waits until
 * SAME_KEY_REUSE_DELAY_MS has passed (i2pd keeps a closed destination ≈ 5 s and a new
 * session inside that window shares the dying one). Markers for another router, in the
 * future, or garbled are ignored. On the in-process mini SAM router (sessions at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isTahoeError } from '../../../src/errors.js';
import { I2pTransport } from '../../../src/net/i2p/transport.js';
import { OFFLINE_SAM_TIMEOUTS } from '../../../src/net/i2p/sam.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { tempDir } from '../../helpers/tmp.js';
import { startMiniSam } from './mini-sam.js';

const DELAY_MS = 1_500;

test('a restarted listener waits out its dying destination, using the close marker next to the key file', async (t) => {
  const sam = await startMiniSam(t);
  const dir = tempDir(t);
  const where = `${sam.endpoint.host}:${sam.endpoint.port}`;
  const transport = () => {
    const tr = new I2pTransport({ sam: { endpoint: sam.endpoint, gate: OPEN_GATE, timeouts: OFFLINE_SAM_TIMEOUTS }, sessionOptions: {}, sameKeyReuseDelayMs: DELAY_MS });
    t.after(() => tr.close());
    return tr;
  };
  const timedListen = async (keyFile: string): Promise<number> => {
    const tr = transport();
    const started = Date.now();
    const listener = await tr.listen({ kind: 'i2p', keyFile, port: 3457 }, (s) => s.destroy());
    const ms = Date.now() - started;
    await listener.close();
    return ms;
  };

  // Closing writes the marker.
  const first = path.join(dir, 'a', 'i2p_dest.privkey');
  await timedListen(first);
  const marker = await readFile(`${first}.closed`, 'utf8');
  const m = /^(\d+) (\S+)\n$/.exec(marker);
  assert.ok(m, `marker format: ${JSON.stringify(marker)}`);
  assert.equal(m[2], where);
  assert.ok(Math.abs(Number(m[1]) - Date.now()) < 5_000);
  assert.equal(statSync(`${first}.closed`).mode & 0o777, 0o600);

  // A key this process never used, with a fresh marker (as left by a previous tahoe-ts run): wait.
  const restarted = path.join(dir, 'b', 'i2p_dest.privkey');
  await timedListen(restarted); // creates the key
  // this process's own note of that close is stale by now; the marker says "just closed"
  await new Promise((r) => setTimeout(r, DELAY_MS));
  await writeFile(`${restarted}.closed`, `${Date.now()} ${where}\n`);
  const waited = await timedListen(restarted);
  assert.ok(waited >= DELAY_MS - 100, `waited ${waited} ms for the dying destination`);

  // Markers that must not make it wait.
  for (const [name, text] of [
    ['another router', `${Date.now()} 127.0.0.1:1\n`],
    ['the future', `${Date.now() + 3_600_000} ${where}\n`],
    ['garbage', 'not a time\n'],
  ] as const) {
    const keyFile = path.join(dir, name.replace(/ /g, '-'), 'i2p_dest.privkey');
    await timedListen(keyFile);
    await new Promise((r) => setTimeout(r, DELAY_MS));
    await writeFile(`${keyFile}.closed`, text);
    const waited = await timedListen(keyFile);
    assert.ok(waited < DELAY_MS - 300, `${name}: no wait (${waited} ms)`);
  }
});

test('two listens started together on one key: one listens, the other is refused before it waits or makes a session', async (t) => {
  const sam = await startMiniSam(t);
  const dir = tempDir(t);
  const tr = new I2pTransport({ sam: { endpoint: sam.endpoint, gate: OPEN_GATE, timeouts: OFFLINE_SAM_TIMEOUTS }, sessionOptions: {}, sameKeyReuseDelayMs: DELAY_MS });
  t.after(() => tr.close());
  const refused = (e: unknown): boolean => isTahoeError(e, 'BadInput') && /already listening/.test(e.message) && /own key file/.test(e.hint);
  const race = async (keyFile: string): Promise<number> => {
    const started = Date.now();
    const results = await Promise.allSettled([0, 1, 2].map(() => tr.listen({ kind: 'i2p', keyFile }, (s) => s.destroy())));
    const listening = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    assert.equal(listening.length, 1, `exactly one listener (${results.map((r) => (r.status === 'fulfilled' ? 'listening' : String(r.reason))).join('; ')})`);
    for (const r of results) if (r.status === 'rejected') assert.ok(refused(r.reason), String(r.reason));
    assert.equal(sam.sessions(), 1, 'one session on the router');
    await listening[0].close();
    return Date.now() - started;
  };
  // A new key: nothing to wait for, the race is over the session creation.
  const keyFile = path.join(dir, 'i2p_dest.privkey');
  await race(keyFile);
  // Just closed: every listen waits out the dying destination; the check came before the wait.
  const waited = await race(keyFile);
  assert.ok(waited >= DELAY_MS - 100, `waited ${waited} ms`);
  // After the listener closed, the key can be listened on again.
  const again = await tr.listen({ kind: 'i2p', keyFile }, (s) => s.destroy());
  await again.close();
});
