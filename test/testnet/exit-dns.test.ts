/**
 * The private Tor network's exit name server (src/testnet/exit-dns.ts): answers for
 * `localhost` names only, echoes the question byte for byte (mixed case), drops anything
 * malformed, and its parser turns every bad packet into a TahoeError (fuzzed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { isTahoeError } from '../../src/errors.js';
import { answerDnsQuery, isLoopbackName, parseDnsQuery, startExitDns } from '../../src/testnet/exit-dns.js';

function query(name: string, type = 1, id = 0x1234): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0, type >> 8, type & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

async function ask(port: number, packet: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.send(packet, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

test('localhost and *.localhost are loopback names, nothing else is', () => {
  for (const n of ['localhost', 'LocalHost', 'localhost.', 'a.localhost', 'x.y.LOCALHOST']) assert.ok(isLoopbackName(n), n);
  for (const n of ['localhost.com', 'mylocalhost', 'example.com', 'vm', '']) assert.ok(!isLoopbackName(n), n);
});

test('answers A for loopback names with 127.0.0.1, echoing the mixed-case question; NXDOMAIN otherwise', async (t) => {
  const dns = await startExitDns();
  t.after(() => dns.close());
  assert.equal(dns.resolvConf, `nameserver 127.0.0.1:${dns.port}\n`);

  const q = query('StoRage-1.LocalHost', 1, 0xbeef);
  const a = await ask(dns.port, q);
  assert.ok(a);
  assert.equal(a.readUInt16BE(0), 0xbeef);
  assert.equal(a.readUInt16BE(2) & 0x800f, 0x8000, 'a response, rcode 0');
  assert.equal(a.readUInt16BE(6), 1, 'one answer');
  assert.ok(a.subarray(12, q.length).equals(q.subarray(12)), 'the question is echoed byte for byte');
  assert.deepEqual([...a.subarray(a.length - 4)], [127, 0, 0, 1]);

  const aaaa = await ask(dns.port, query('localhost', 28));
  assert.ok(aaaa);
  assert.equal(aaaa.readUInt16BE(2) & 0x000f, 0, 'a known name');
  assert.equal(aaaa.readUInt16BE(6), 0, 'but no IPv6 address');

  const other = await ask(dns.port, query('example.com'));
  assert.ok(other);
  assert.equal(other.readUInt16BE(2) & 0x000f, 3, 'NXDOMAIN');
  assert.equal(other.readUInt16BE(6), 0);

  // Malformed packets get no answer at all.
  assert.equal(await ask(dns.port, Buffer.from([1, 2, 3]), 300), undefined);
  assert.deepEqual(dns.queries().map((x) => [x.name, x.type, x.answered]), [
    ['storage-1.localhost', 1, true],
    ['localhost', 28, false],
    ['example.com', 1, false],
  ]);
});

test('the query parser refuses responses, several questions, compression, truncation and odd bytes', () => {
  const good = query('a.localhost');
  const bad = (mutate: (b: Buffer) => Buffer, why: RegExp) =>
    assert.throws(() => parseDnsQuery(mutate(Buffer.from(good))), (e: unknown) => isTahoeError(e, 'BadInput') && why.test(e.message));
  bad((b) => b.subarray(0, 11), /header/);
  bad((b) => (b.writeUInt16BE(0x8100, 2), b), /response/);
  bad((b) => (b.writeUInt16BE(0x2800, 2), b), /standard query/);
  bad((b) => (b.writeUInt16BE(2, 4), b), /one question/);
  bad((b) => ((b[12] = 0xc0), b), /compressed/);
  bad((b) => b.subarray(0, 14), /past the end/);
  bad((b) => b.subarray(0, b.length - 2), /type runs past/);
  bad((b) => ((b[13] = 0x20), b), /unusual bytes/);
  bad(() => Buffer.concat([good, Buffer.alloc(600)]), /512/);
  assert.equal(parseDnsQuery(good).name, 'a.localhost');
});

test('fuzz: random and mutated packets either parse (and get a well-formed answer) or fail with a TahoeError', () => {
  const seeds = [query('localhost'), query('x.localhost', 28), query('example.org')];
  let parsed = 0;
  for (let i = 0; i < 5000; i++) {
    let packet: Buffer;
    if (i % 3 === 0) packet = randomBytes(Math.floor(Math.random() * 80));
    else {
      packet = Buffer.from(seeds[i % seeds.length]);
      for (let j = 0; j < 1 + (i % 4); j++) packet[Math.floor(Math.random() * packet.length)] = Math.floor(Math.random() * 256);
      if (i % 7 === 0) packet = packet.subarray(0, Math.floor(Math.random() * packet.length));
    }
    try {
      const q = parseDnsQuery(packet);
      parsed++;
      const { response } = answerDnsQuery(packet, q);
      assert.equal(response.readUInt16BE(0), q.id);
      assert.ok(response.length >= 12 + (q.end - 12));
    } catch (e) {
      assert.ok(isTahoeError(e, 'BadInput'), String(e));
    }
  }
  assert.ok(parsed > 100, `some mutated packets still parse (${parsed})`);
});
