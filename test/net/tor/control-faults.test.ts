/**
 * The control client against a fake control port that misbehaves (fault injection only;
 * the real protocol is tested against tor in control.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TahoeError } from '../../../src/errors.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { connectTorControl, TorControlClient } from '../../../src/net/tor/control.js';
import { tahoeError } from './expect.js';
import { privateTempDir, type Defer } from './offline-tor.js';

/** A control port that answers each received line with `answer(line)` (undefined = silence). */
async function fakeControl(scope: Defer, answer: (line: string, socket: net.Socket) => string | undefined): Promise<{ host: string; port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      let i: number;
      while ((i = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 2);
        const reply = answer(line, socket);
        if (reply !== undefined) socket.write(reply);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  scope.after(
    () =>
      new Promise((r) => {
        for (const socket of sockets) socket.destroy();
        server.close(r);
      }),
  );
  return { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
}

test('garbage instead of a reply ⇒ TorControlError (protocol) and the connection is dropped', async (t) => {
  const endpoint = await fakeControl(t, () => 'HTTP/1.0 400 Bad Request\r\n\r\n');
  await assert.rejects(connectTorControl(endpoint, { gate: OPEN_GATE }), tahoeError('TorControlError', (e) => e.details.reason === 'protocol' && /ControlPort/.test(e.hint)));
});

test('an endless line ⇒ TorControlError, not unbounded memory', async (t) => {
  const endpoint = await fakeControl(t, (_line, socket) => {
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    for (let i = 0; i < 8; i++) socket.write(chunk);
    return undefined;
  });
  const client = await TorControlClient.connect(endpoint, { gate: OPEN_GATE });
  await assert.rejects(client.protocolInfo(), tahoeError('TorControlError', (e) => /longer than/.test(e.message)));
  assert.equal(client.closed, true);
});

test('a control port that never answers ⇒ Timeout; abort ⇒ Aborted; the connection stays in order', async (t) => {
  let seen = 0;
  const endpoint = await fakeControl(t, () => {
    seen++;
    return seen === 3 ? '250-version=0.4.9.11\r\n250 OK\r\n' : undefined;
  });
  const client = await TorControlClient.connect(endpoint, { gate: OPEN_GATE });
  t.after(() => client.close());
  await assert.rejects(client.getVersion({ timeoutMs: 200 }), tahoeError('Timeout', (e) => e.details.command === 'GETINFO'));
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(client.getVersion({ signal: controller.signal }), tahoeError('Aborted'));
  // Replies come in command order, so an abandoned request keeps its place in the queue: the
  // one reply the fake sends (after the third line) answers the first, abandoned, request
  // and must not be mistaken for the answer to the third.
  await assert.rejects(client.getVersion({ timeoutMs: 300 }), tahoeError('Timeout'));
});

test('AUTHCHALLENGE answers that are malformed or unproven are refused', async (t) => {
  const dir = privateTempDir(t);
  const cookie = path.join(dir, 'cookie');
  writeFileSync(cookie, randomBytes(32));
  const protocolInfo = `250-PROTOCOLINFO 1\r\n250-AUTH METHODS=SAFECOOKIE COOKIEFILE="${cookie}"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n`;
  const answers: Record<string, string> = {
    malformed: '250 AUTHCHALLENGE SERVERHASH=zz SERVERNONCE=00\r\n',
    unproven: `250 AUTHCHALLENGE SERVERHASH=${'00'.repeat(32)} SERVERNONCE=${'11'.repeat(32)}\r\n`,
    refused: '515 Authentication failed\r\n',
  };
  for (const [name, challenge] of Object.entries(answers)) {
    let authenticateSent = false;
    const endpoint = await fakeControl(t, (line) => {
      if (line.startsWith('PROTOCOLINFO')) return protocolInfo;
      if (line.startsWith('AUTHCHALLENGE')) return challenge;
      if (line.startsWith('AUTHENTICATE')) authenticateSent = true;
      return '250 OK\r\n';
    });
    const expected = name === 'malformed' ? 'TorControlError' : name === 'unproven' ? 'TorAuthFailed' : 'TorControlError';
    await assert.rejects(connectTorControl(endpoint, { gate: OPEN_GATE }), tahoeError(expected), name);
    assert.equal(authenticateSent, false, `${name}: our proof is never sent to an unproven server`);
  }
});

test('no usable method, NULL auth, and unknown methods are handled', async (t) => {
  const only = (methods: string) => `250-PROTOCOLINFO 1\r\n250-AUTH METHODS=${methods}\r\n250 OK\r\n`;
  const noMethods = await fakeControl(t, (line) => (line.startsWith('PROTOCOLINFO') ? only('FUTUREAUTH') : '250 OK\r\n'));
  await assert.rejects(connectTorControl(noMethods, { gate: OPEN_GATE }), tahoeError('TorAuthFailed', (e) => /CookieAuthentication/.test(e.hint)));
  let bare = '';
  const nullAuth = await fakeControl(t, (line) => {
    if (line.startsWith('PROTOCOLINFO')) return only('NULL,FUTUREAUTH');
    if (line.startsWith('AUTHENTICATE')) bare = line;
    return '250 OK\r\n';
  });
  const client = await connectTorControl(nullAuth, { gate: OPEN_GATE });
  await client.close();
  assert.equal(bare, 'AUTHENTICATE');
  const cookieNoFile = await fakeControl(t, (line) => (line.startsWith('PROTOCOLINFO') ? only('COOKIE') : '250 OK\r\n'));
  await assert.rejects(connectTorControl(cookieNoFile, { gate: OPEN_GATE }), tahoeError('TorAuthFailed', (e) => /CookieAuthFile/.test(e.hint)));
});

test('fuzz: random replies to every step never surface anything but TahoeErrors', async (t) => {
  let n = 0;
  const endpoint = await fakeControl(t, () => {
    n++;
    const kind = n % 4;
    if (kind === 0) return randomBytes(n % 50).toString('latin1') + '\r\n';
    if (kind === 1) return `250-${randomBytes(10).toString('base64')}\r\n250 OK\r\n`;
    if (kind === 2) return `${200 + (n % 400)} ${randomBytes(5).toString('hex')}\r\n`;
    return '250+x=\r\n.bad\r\n';
  });
  for (let i = 0; i < 60; i++) {
    try {
      const client = await connectTorControl(endpoint, { gate: OPEN_GATE, timeoutMs: 300 });
      await client.getInfo(['version'], { timeoutMs: 300 }).catch((e: unknown) => assert.ok(e instanceof TahoeError, String(e)));
      await client.close();
    } catch (e) {
      assert.ok(e instanceof TahoeError, `non-TahoeError: ${String(e)}`);
    }
  }
});
