/**
 * SAM client against an in-process fake bridge: every way a bridge can misbehave ends in a
 * TahoeError with a kind and hint, and the framing rules hold (one command per write, bytes
 * glued to a reply line reach the stream).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type net from 'node:net';
import { TahoeError, isTahoeError } from '../../../src/errors.js';
import { Logger } from '../../../src/log.js';
import { SamClient, type SamTimeouts } from '../../../src/net/i2p/sam.js';
import { generateDestination } from '../../../src/net/i2p/destination.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { freePort } from '../../helpers/ports.js';
import { HELLO_OK, scripted, startFakeSam, type FakeSam } from './fake-sam.js';

const FAST: Partial<SamTimeouts> = { helloMs: 1_000, sessionCreateMs: 1_000, connectReplyMs: 1_000, acceptReplyMs: 1_000, namingLookupMs: 1_000, destGenerateMs: 1_000 };
const OWN = generateDestination();
const PEER = generateDestination();

function client(fake: FakeSam, timeouts: Partial<SamTimeouts> = FAST, logger?: Logger): SamClient {
  return new SamClient({ endpoint: fake.endpoint, gate: OPEN_GATE, timeouts, logger });
}

/** A fake bridge whose sessions succeed at once, with `stream` deciding STREAM/NAMING replies. */
async function fakeWithSession(t: Parameters<typeof startFakeSam>[0], stream: (line: string) => string | Buffer | undefined | void): Promise<FakeSam> {
  return startFakeSam(
    t,
    scripted((line) => {
      if (line.startsWith('SESSION CREATE')) {
        const dest = /DESTINATION=(\S+)/.exec(line)?.[1];
        return `SESSION STATUS RESULT=OK DESTINATION=${dest === 'TRANSIENT' ? OWN.privateKeyBase64 : dest}\n`;
      }
      return stream(line);
    }),
  );
}

function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

test('HELLO: NOVERSION and I2P_ERROR become SamRefused with the RESULT and MESSAGE', async (t) => {
  const fake = await startFakeSam(t, (line, conn) => conn.write(conn.lines.length === 1 && fake.connections.length === 1 ? 'HELLO REPLY RESULT=NOVERSION\n' : 'HELLO REPLY RESULT=I2P_ERROR MESSAGE="Authentication required"\n'));
  await assert.rejects(client(fake).probe(), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'NOVERSION' && /3\.1/.test(e.hint));
  await assert.rejects(client(fake).probe(), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'I2P_ERROR' && e.details.samMessage === 'Authentication required');
  assert.equal(fake.connections[0].lines[0], 'HELLO VERSION MIN=3.1 MAX=3.1');
});

test('garbage, binary and wrong-command replies are SamProtocolErrors', async (t) => {
  const replies = ['SSH-2.0-OpenSSH_9.2\n', '\x00\x01\x02\xff\n', 'HTTP/1.1 400 Bad Request\n', 'SESSION STATUS RESULT=OK\n', 'HELLO REPLY VERSION=3.1\n', 'HELLO REPLY RESULT=OK VERSION=banana\n', 'HELLO REPLY RESULT=OK VERSION=3.0\n'];
  let i = 0;
  const fake = await startFakeSam(t, (_line, conn) => conn.write(replies[i++]));
  for (const r of replies) {
    await assert.rejects(client(fake).probe(), (e: unknown) => isTahoeError(e, 'SamProtocolError') && e.hint.includes('SAM'), JSON.stringify(r));
  }
});

test('an endless line is cut off at the length cap', async (t) => {
  const fake = await startFakeSam(t, (_line, conn) => {
    const chunk = Buffer.alloc(4096, 0x41);
    for (let k = 0; k < 10; k++) conn.write(chunk);
  });
  await assert.rejects(client(fake).probe(), (e: unknown) => isTahoeError(e, 'SamProtocolError') && /longer than/.test(e.message));
});

test('silence is a Timeout; closing mid-reply is a SamProtocolError; no bridge is I2pUnavailable', async (t) => {
  const silent = await startFakeSam(t, () => undefined);
  const started = Date.now();
  await assert.rejects(client(silent, { helloMs: 300 }).probe(), (e: unknown) => isTahoeError(e, 'Timeout') && e.details.timeoutMs === 300);
  assert.ok(Date.now() - started < 2_000);

  const cut = await startFakeSam(t, (_line, conn) => conn.end('HELLO REPLY RES'));
  await assert.rejects(client(cut).probe(), (e: unknown) => isTahoeError(e, 'SamProtocolError') && /middle of a line/.test(e.message));

  const closed = await startFakeSam(t, (_line, conn) => {
    conn.socket.destroy();
  });
  await assert.rejects(client(closed).probe(), (e: unknown) => e instanceof TahoeError && ['SamProtocolError', 'I2pUnavailable'].includes(e.kind));

  const port = await freePort();
  const nobody = new SamClient({ endpoint: { host: '127.0.0.1', port }, gate: OPEN_GATE, timeouts: FAST });
  await assert.rejects(nobody.probe(), (e: unknown) => isTahoeError(e, 'I2pUnavailable') && e.hint.includes('SAM bridge is enabled'));
});

test('a reply split across segments is reassembled', async (t) => {
  const fake = await startFakeSam(t, (_line, conn) => {
    conn.write('HELLO RE');
    setTimeout(() => conn.write('PLY RESULT=OK VER'), 30);
    setTimeout(() => conn.write('SION=3.1\n'), 60);
  });
  assert.equal(await client(fake).probe(), '3.1');
});

test('one command per write, each sent only after the previous reply', async (t) => {
  let helloAnsweredAt = 0;
  let createSeenAt = 0;
  const fake = await startFakeSam(t, (line, conn) => {
    if (line.startsWith('HELLO')) {
      setTimeout(() => {
        helloAnsweredAt = Date.now();
        conn.write(HELLO_OK);
      }, 150);
    } else if (line.startsWith('SESSION CREATE')) {
      createSeenAt = Date.now();
      conn.write(`SESSION STATUS RESULT=OK DESTINATION=${OWN.privateKeyBase64}\n`);
    } else if (line.startsWith('NAMING LOOKUP')) {
      conn.write(`NAMING REPLY RESULT=OK NAME=ME VALUE=${OWN.destinationBase64}\n`);
    }
  });
  const session = await client(fake).createSession({ destination: 'TRANSIENT', options: { 'inbound.length': '0' } });
  assert.ok(createSeenAt >= helloAnsweredAt && helloAnsweredAt > 0);
  assert.equal(await session.lookup('ME'), OWN.destinationBase64);
  const conn = fake.connections[0];
  // every received chunk holds exactly one complete command line
  for (const chunk of conn.chunks) {
    const text = chunk.toString();
    assert.equal(text.indexOf('\n'), text.length - 1, JSON.stringify(text.slice(0, 60)));
  }
  assert.deepEqual(
    conn.lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['HELLO VERSION', 'SESSION CREATE', 'NAMING LOOKUP'],
  );
  assert.match(conn.lines[1], /^SESSION CREATE STYLE=STREAM ID=\S+ DESTINATION=TRANSIENT SIGNATURE_TYPE=7 inbound\.length=0$/);
  // cached: a second ME lookup sends nothing
  await session.lookup('ME');
  assert.equal(conn.lines.length, 3);
  await session.close();
});

test('production session options are sent by default; test options replace them', async (t) => {
  const fake = await fakeWithSession(t, () => undefined);
  const s1 = await client(fake).createSession({ destination: 'TRANSIENT' });
  assert.match(fake.connections[0].lines[1], / i2cp\.leaseSetEncType=4,0 /);
  assert.match(fake.connections[0].lines[1], /inbound\.quantity=3/);
  const s2 = await client(fake).createSession({ destination: OWN.privateKeyBase64, options: { 'i2cp.leaseSetType': '1' } });
  assert.doesNotMatch(fake.connections[1].lines[1], /leaseSetEncType/);
  assert.match(fake.connections[1].lines[1], /DESTINATION=\S{908} SIGNATURE_TYPE=7 i2cp\.leaseSetType=1$/);
  await Promise.all([s1.close(), s2.close()]);
});

test('SESSION CREATE errors: DUPLICATED_ID, DUPLICATED_DEST, INVALID_KEY, I2P_ERROR, timeout, abort', async (t) => {
  const answers = ['SESSION STATUS RESULT=DUPLICATED_ID\n', 'SESSION STATUS RESULT=DUPLICATED_DEST\n', 'SESSION STATUS RESULT=INVALID_KEY\n', 'SESSION STATUS RESULT=I2P_ERROR MESSAGE="Tunnels not ready"\n'];
  let i = 0;
  const fake = await startFakeSam(t, scripted(() => answers[i++]));
  const c = client(fake);
  await assert.rejects(c.createSession({ destination: 'TRANSIENT', id: 'same' }), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'DUPLICATED_ID');
  await assert.rejects(c.createSession({ destination: OWN.privateKeyBase64 }), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'DUPLICATED_DEST' && /i2p_dest\.privkey/.test(e.hint));
  await assert.rejects(c.createSession({ destination: OWN.privateKeyBase64 }), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'INVALID_KEY');
  await assert.rejects(c.createSession({ destination: 'TRANSIENT' }), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.samMessage === 'Tunnels not ready');
  // silence: the timeout hint talks about tunnels
  await assert.rejects(client(fake, { ...FAST, sessionCreateMs: 200 }).createSession({ destination: 'TRANSIENT' }), (e: unknown) => isTahoeError(e, 'Timeout') && /tunnels/.test(e.hint));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(client(fake, { ...FAST, sessionCreateMs: 5_000 }).createSession({ destination: 'TRANSIENT', signal: ac.signal }), (e: unknown) => isTahoeError(e, 'Aborted'));
  // bad input never reaches the bridge
  const before = fake.connections.length;
  await assert.rejects(c.createSession({ destination: 'not-a-key' }), (e: unknown) => isTahoeError(e, 'I2pAddressInvalid'));
  await assert.rejects(c.createSession({ destination: 'TRANSIENT', options: { 'x y': '1' } }), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  assert.equal(fake.connections.length, before);
});

test('CONNECT: data glued to the OK line reaches the stream first; error results map to kinds', async (t) => {
  const results: Record<string, string> = {
    'gone.b32.i2p': 'STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="Can\'t reach peer"\n',
    'bad.i2p': 'STREAM STATUS RESULT=INVALID_KEY\n',
    'slow.i2p': 'STREAM STATUS RESULT=TIMEOUT\n',
    'noid.i2p': 'STREAM STATUS RESULT=INVALID_ID\n',
  };
  const fake = await fakeWithSession(t, (line) => {
    const dest = /DESTINATION=(\S+)/.exec(line)?.[1] ?? '';
    if (dest in results) return results[dest];
    if (dest === 'glued.i2p') return Buffer.concat([Buffer.from('STREAM STATUS RESULT=OK\nPEER-SPEAKS-FIRST'), Buffer.from([0, 1, 2, 10, 13])]);
    return undefined;
  });
  const session = await client(fake).createSession({ destination: 'TRANSIENT' });
  const s = await session.connect('glued.i2p');
  const peerConn = fake.connections.at(-1);
  setTimeout(() => peerConn?.end(), 50);
  const got = await readAll(s);
  assert.deepEqual(got, Buffer.concat([Buffer.from('PEER-SPEAKS-FIRST'), Buffer.from([0, 1, 2, 10, 13])]));
  await assert.rejects(session.connect('gone.b32.i2p'), (e: unknown) => isTahoeError(e, 'ServerUnreachable') && e.details.result === 'CANT_REACH_PEER');
  await assert.rejects(session.connect('bad.i2p'), (e: unknown) => isTahoeError(e, 'I2pAddressInvalid'));
  await assert.rejects(session.connect('slow.i2p'), (e: unknown) => isTahoeError(e, 'Timeout') && e.details.result === 'TIMEOUT');
  await assert.rejects(session.connect('noid.i2p'), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'INVALID_ID');
  await assert.rejects(session.connect('silent.i2p'), (e: unknown) => isTahoeError(e, 'Timeout'));
  await assert.rejects(session.connect('bad name.i2p'), (e: unknown) => isTahoeError(e, 'BadInput'));
  await session.close();
});

test('CONNECT OK but the peer never speaks: firstByteTimeoutMs destroys the stream with a Timeout', async (t) => {
  const fake = await fakeWithSession(t, (line) => (line.startsWith('STREAM CONNECT') ? 'STREAM STATUS RESULT=OK\n' : undefined));
  const session = await client(fake).createSession({ destination: 'TRANSIENT' });
  const s = await session.connect(PEER.b32, { firstByteTimeoutMs: 200 });
  s.write('ClientHello');
  const err = await new Promise<Error>((resolve) => s.once('error', resolve));
  assert.ok(isTahoeError(err, 'Timeout'));
  // ...and a peer that answers is left alone
  const fake2 = await fakeWithSession(t, (line) => (line.startsWith('STREAM CONNECT') ? 'STREAM STATUS RESULT=OK\n' : undefined));
  const session2 = await client(fake2).createSession({ destination: 'TRANSIENT' });
  const s2 = await session2.connect(PEER.b32, { firstByteTimeoutMs: 200 });
  fake2.connections.at(-1)?.write('ServerHello');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(s2.destroyed, false);
  s2.destroy();
  await Promise.all([session.close(), session2.close()]);
});

test('ACCEPT: status, peer line and data glued into one segment; a STREAM STATUS peer line means the session died', async (t) => {
  let mode: 'glued' | 'dead' | 'garbage' = 'glued';
  const fake = await fakeWithSession(t, (line) => {
    if (!line.startsWith('STREAM ACCEPT')) return undefined;
    if (mode === 'glued') return `STREAM STATUS RESULT=OK\n${PEER.destinationBase64}\nhello from peer`;
    if (mode === 'dead') return 'STREAM STATUS RESULT=OK\nSTREAM STATUS RESULT=I2P_ERROR MESSAGE="Session closed"\n';
    return 'STREAM STATUS RESULT=OK\nnot-a-destination\n';
  });
  const session = await client(fake).createSession({ destination: 'TRANSIENT' });
  let pending = false;
  const accepted = await session.accept({ onPending: () => (pending = true) });
  assert.ok(pending);
  assert.equal(accepted.peerDestination, PEER.destinationBase64);
  const conn = fake.connections.at(-1);
  setTimeout(() => conn?.end(' and bye'), 30);
  assert.equal((await readAll(accepted.socket)).toString(), 'hello from peer and bye');
  mode = 'dead';
  await assert.rejects(session.accept(), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.samMessage === 'Session closed');
  mode = 'garbage';
  await assert.rejects(session.accept(), (e: unknown) => isTahoeError(e, 'SamProtocolError'));
  await session.close();
});

test('a session whose control socket the router closes is reported dead', async (t) => {
  const fake = await fakeWithSession(t, () => undefined);
  const session = await client(fake).createSession({ destination: 'TRANSIENT' });
  assert.equal(session.isAlive, true);
  fake.connections[0].end();
  await session.closed;
  assert.equal(session.isAlive, false);
  await assert.rejects(session.connect(PEER.b32), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'SESSION_CLOSED');
  await assert.rejects(session.lookup('ME'), (e: unknown) => isTahoeError(e, 'SamRefused'));
});

test('a pending ACCEPT or CONNECT is cancelled when the session dies (the router leaves their sockets open)', async (t) => {
  const fake = await fakeWithSession(t, (line) => (line.startsWith('STREAM ACCEPT') ? 'STREAM STATUS RESULT=OK\n' : undefined));
  const session = await client(fake, { ...FAST, connectReplyMs: 30_000 }).createSession({ destination: 'TRANSIENT' });
  const accepting = session.accept();
  const connecting = session.connect(PEER.b32);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  fake.connections[0].end();
  await assert.rejects(accepting, (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'SESSION_CLOSED');
  await assert.rejects(connecting, (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.result === 'SESSION_CLOSED');
  assert.ok(Date.now() - started < 1_000);
  // their SAM sockets were closed too
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(fake.connections.slice(1).every((c) => c.socket.destroyed || c.socket.readableEnded));
});

test('NAMING LOOKUP: KEY_NOT_FOUND, cache, and a VALUE that is not a destination', async (t) => {
  const fake = await startFakeSam(
    t,
    scripted((line) => {
      const name = /NAME=(\S+)/.exec(line)?.[1];
      if (name === 'known.i2p') return `NAMING REPLY RESULT=OK NAME=known.i2p VALUE=${PEER.destinationBase64}\n`;
      if (name === 'weird.i2p') return 'NAMING REPLY RESULT=OK NAME=weird.i2p VALUE=AAAA\n';
      return `NAMING REPLY RESULT=KEY_NOT_FOUND NAME=${name}\n`;
    }),
  );
  const c = client(fake);
  assert.equal(await c.lookup('known.i2p'), PEER.destinationBase64);
  assert.equal(await c.lookup('known.i2p'), PEER.destinationBase64);
  assert.equal(fake.connections.length, 1);
  await assert.rejects(c.lookup('unknown.i2p'), (e: unknown) => isTahoeError(e, 'I2pAddressInvalid') && e.details.result === 'KEY_NOT_FOUND');
  await assert.rejects(c.lookup('weird.i2p'), (e: unknown) => e instanceof TahoeError && ['I2pAddressInvalid', 'SamProtocolError'].includes(e.kind));
});

test('DEST GENERATE: keys checked, mismatches refused', async (t) => {
  let reply = `DEST REPLY PUB=${PEER.destinationBase64} PRIV=${PEER.privateKeyBase64}\n`;
  const fake = await startFakeSam(t, scripted(() => reply));
  const got = await client(fake).generateDestination();
  assert.equal(got.privateKeyBase64, PEER.privateKeyBase64);
  assert.match(fake.connections[0].lines[1], /^DEST GENERATE SIGNATURE_TYPE=7$/);
  reply = `DEST REPLY PUB=${OWN.destinationBase64} PRIV=${PEER.privateKeyBase64}\n`;
  await assert.rejects(client(fake).generateDestination(), (e: unknown) => isTahoeError(e, 'SamProtocolError'));
  reply = 'DEST REPLY RESULT=I2P_ERROR MESSAGE="unknown signature type"\n';
  await assert.rejects(client(fake).generateDestination(), (e: unknown) => isTahoeError(e, 'SamRefused'));
});

test('private keys never reach the log, even at debug level with log_sensitive on', async (t) => {
  const lines: string[] = [];
  const logger = new Logger({ level: 'debug', logSensitive: true, sink: { write: (l) => lines.push(l) } });
  const fake = await fakeWithSession(t, (line) => (line.startsWith('NAMING') ? `NAMING REPLY RESULT=OK NAME=ME VALUE=${OWN.destinationBase64}\n` : undefined));
  const session = await client(fake, FAST, logger).createSession({ destination: OWN.privateKeyBase64 });
  await session.lookup('ME');
  await session.close();
  const all = lines.join('\n');
  assert.ok(lines.length >= 4, 'debug lines were written');
  assert.ok(!all.includes(OWN.privateKeyBase64.slice(600, 660)), 'private key material in the log');
  assert.match(all, /DESTINATION=\[908 chars\]/);
});

test('fuzz: random and mutated bridge replies only ever produce TahoeErrors', async (t) => {
  const valid = [
    HELLO_OK,
    `SESSION STATUS RESULT=OK DESTINATION=${OWN.privateKeyBase64}\n`,
    `NAMING REPLY RESULT=OK NAME=ME VALUE=${OWN.destinationBase64}\n`,
  ];
  let current: string[] = valid;
  const fake = await startFakeSam(t, (_line, conn) => {
    const next = current[conn.lines.length - 1];
    if (next !== undefined) conn.write(next);
  });
  const mutate = (s: string): string => {
    let out = s;
    const n = 1 + crypto.randomInt(4);
    for (let k = 0; k < n; k++) {
      // Earlier steps may have cut the line to nothing; position 0 is still a place to insert.
      const pos = crypto.randomInt(out.length + 1);
      switch (crypto.randomInt(4)) {
        case 0:
          out = out.slice(0, pos) + String.fromCharCode(crypto.randomInt(256)) + out.slice(pos + 1);
          break;
        case 1:
          out = out.slice(0, pos) + out.slice(pos + crypto.randomInt(30));
          break;
        case 2:
          out = out.slice(0, pos) + '\n' + out.slice(pos);
          break;
        default:
          out = out.slice(0, pos) + crypto.randomBytes(crypto.randomInt(20)).toString('latin1') + out.slice(pos);
      }
    }
    return out;
  };
  const fuzzClient = client(fake, { ...FAST, helloMs: 300, sessionCreateMs: 300, namingLookupMs: 300 });
  for (let i = 0; i < 120; i++) {
    const which = crypto.randomInt(3);
    current = valid.map((v, k) => (k === which ? (i % 4 === 0 ? crypto.randomBytes(crypto.randomInt(100)).toString('latin1') + '\n' : mutate(v)) : v));
    try {
      const s = await fuzzClient.createSession({ destination: 'TRANSIENT' });
      try {
        await s.lookup('ME');
      } finally {
        await s.close();
      }
    } catch (e) {
      assert.ok(e instanceof TahoeError, `non-TahoeError: ${String(e)}`);
    }
  }
});
