import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isTahoeError } from '../../../src/errors.js';
import {
  ControlReplyParser,
  MAX_LINE_BYTES,
  isAsyncReply,
  parseArguments,
  parseBootstrapPhase,
  parseEvent,
  parseGetInfoReply,
  parseSocksListeners,
  quoteString,
  readQuotedString,
  type ControlReply,
} from '../../../src/net/tor/control-protocol.js';
import { tahoeError } from './expect.js';

// Shaped like tor 0.4.9.11's answers (tor.md §2.7), with events interleaved between replies.
const TRANSCRIPT = [
  '250-PROTOCOLINFO 1',
  '250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/var/lib/tor/control_auth_cookie"',
  '250-VERSION Tor="0.4.9.11"',
  '250 OK',
  '650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=45 TAG=requesting_descriptors SUMMARY="Asking for relay descriptors"',
  '250-version=0.4.9.11',
  '250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting"',
  '250-net/listeners/socks="127.0.0.1:35339" "unix:/run/tor/socks"',
  '250 OK',
  '650-CONF_CHANGED',
  '650-MaxCircuitDirtiness=601',
  '650 OK',
  '250+config-text=',
  'SocksPort 9050',
  '..leading dot',
  '.',
  '250 OK',
  '650 HS_DESC UPLOADED aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead UNKNOWN $ABCDEF0123456789ABCDEF0123456789ABCDEF01~auth1 REPLICA=1',
  '552 Unrecognized key "foo"',
].join('\r\n') + '\r\n';

function parseAll(text: string | Buffer, splits: number[] = []): ControlReply[] {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const parser = new ControlReplyParser();
  const out: ControlReply[] = [];
  let from = 0;
  for (const at of [...splits, bytes.length]) {
    out.push(...parser.push(bytes.subarray(from, at)));
    from = at;
  }
  return out;
}

test('replies: mid, data and final lines; events kept separate', () => {
  const replies = parseAll(TRANSCRIPT);
  assert.deepEqual(replies.map((r) => r.code), [250, 650, 250, 650, 250, 650, 552]);
  assert.deepEqual(replies.map(isAsyncReply), [false, true, false, true, false, true, false]);
  const info = parseGetInfoReply(replies[2]);
  assert.equal(info.version, '0.4.9.11');
  assert.deepEqual(parseSocksListeners(info['net/listeners/socks']), [{ host: '127.0.0.1', port: 35339 }, { path: '/run/tor/socks' }]);
  assert.equal(parseGetInfoReply(replies[4])['config-text'], 'SocksPort 9050\n.leading dot');
  const phase = parseBootstrapPhase(info['status/bootstrap-phase']);
  assert.deepEqual(phase, { progress: 0, tag: 'starting', summary: 'Starting', severity: 'NOTICE' });
});

test('replies survive any split of the byte stream (bare \\n line ends too)', () => {
  const whole = parseAll(TRANSCRIPT);
  const bytes = Buffer.from(TRANSCRIPT);
  for (let i = 0; i < 200; i++) {
    const splits = [...new Set(Array.from({ length: 1 + (i % 12) }, () => Math.floor(Math.random() * bytes.length)))].sort((a, b) => a - b);
    assert.deepEqual(parseAll(bytes, splits), whole);
  }
  assert.deepEqual(parseAll(TRANSCRIPT.replace(/\r\n/g, '\n')), whole);
  // Byte-wise feeding.
  assert.deepEqual(parseAll(bytes, Array.from({ length: bytes.length }, (_, i) => i)), whole);
});

test('events are typed: STATUS_CLIENT bootstrap (any argument order), HS_DESC, unknown ones', () => {
  const replies = parseAll(TRANSCRIPT);
  const boot = parseEvent(replies[1]);
  assert.equal(boot.type, 'STATUS_CLIENT');
  assert.ok(boot.type === 'STATUS_CLIENT' && boot.bootstrap?.progress === 45 && boot.bootstrap.summary === 'Asking for relay descriptors');
  const hs = parseEvent(replies[5]);
  assert.deepEqual(hs, {
    type: 'HS_DESC',
    action: 'UPLOADED',
    address: 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead',
    authType: 'UNKNOWN',
    hsDir: '$ABCDEF0123456789ABCDEF0123456789ABCDEF01~auth1',
    replica: '1',
  });
  const warn = parseEvent(parseAll('650 STATUS_CLIENT WARN BOOTSTRAP SUMMARY="Connecting to a relay" PROGRESS=5 TAG=conn WARNING="Connection refused" REASON=CONNECTREFUSED COUNT=3 RECOMMENDATION=ignore HOST=$AB HOSTADDR=127.0.0.1:9\r\n')[0]);
  assert.ok(warn.type === 'STATUS_CLIENT');
  assert.deepEqual(warn.bootstrap, {
    progress: 5, tag: 'conn', summary: 'Connecting to a relay', severity: 'WARN', warning: 'Connection refused',
    reason: 'CONNECTREFUSED', recommendation: 'ignore', count: 3, host: '$AB', hostAddress: '127.0.0.1:9',
  });
  const other = parseEvent(parseAll('650 STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED\r\n')[0]);
  assert.ok(other.type === 'STATUS_CLIENT' && other.action === 'CIRCUIT_ESTABLISHED' && other.bootstrap === undefined);
  const failed = parseEvent(parseAll('650 HS_DESC FAILED aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead NO_AUTH $AB~x DESCID REASON=UPLOAD_REJECTED\r\n')[0]);
  assert.ok(failed.type === 'HS_DESC' && failed.reason === 'UPLOAD_REJECTED' && failed.descriptorId === 'DESCID');
  const circ = parseEvent(parseAll('650 CIRC 1 BUILT\r\n')[0]);
  assert.ok(circ.type === 'OTHER' && circ.name === 'CIRC');
  assert.throws(() => parseEvent(parseAll('650 HS_DESC UPLOADED\r\n')[0]), tahoeError('TorControlError'));
});

test('CStrings: C escapes, octal, \\x ⇒ x, UTF-8; quoting round-trips', () => {
  assert.equal(readQuotedString('"a\\nb\\tc\\r\\\\\\"\\q"', 0).value, 'a\nb\tc\r\\"q');
  assert.equal(readQuotedString('"\\101\\0\\377x"', 0).value, Buffer.from([0x41, 0, 0xff, 0x78]).toString('utf8'));
  assert.equal(readQuotedString('"\\303\\251t\\303\\251"', 0).value, 'été');
  assert.deepEqual(readQuotedString('"ab" rest', 0), { value: 'ab', end: 4 });
  for (const s of ['plain', 'with "quotes" and \\ backslash', 'new\nline\ttab', 'ünïcode']) {
    assert.equal(readQuotedString(quoteString(s), 0).value, s);
  }
  assert.throws(() => readQuotedString('"unterminated', 0), tahoeError('TorControlError'));
  assert.throws(() => readQuotedString('"bad \\400"', 0), tahoeError('TorControlError'));
  assert.deepEqual(parseArguments('NOTICE BOOTSTRAP PROGRESS=5 SUMMARY="a b" EMPTY= "pos quoted"'), {
    positional: ['NOTICE', 'BOOTSTRAP', 'pos quoted'],
    values: Object.assign(Object.create(null) as object, { PROGRESS: '5', SUMMARY: 'a b', EMPTY: '' }),
  });
});

test('listener addresses: IPv4, [IPv6], unix; garbage refused', () => {
  assert.deepEqual(parseSocksListeners(''), []);
  assert.deepEqual(parseSocksListeners('"[::1]:9050" "unix:/a b/socks"'), [{ host: '::1', port: 9050 }, { path: '/a b/socks' }]);
  for (const bad of ['"127.0.0.1"', '"127.0.0.1:0"', '"127.0.0.1:99999"', '"unix:"', 'A=B', '"a:b:c"']) {
    assert.throws(() => parseSocksListeners(bad), tahoeError('TorControlError'), bad);
  }
});

test('malformed input: garbage lines, oversized lines and replies ⇒ TorControlError', () => {
  for (const bad of ['HTTP/1.1 200 OK\r\n', '25 OK\r\n', '2500 OK\r\n', '250*OK\r\n', '\r\n']) {
    assert.throws(() => parseAll(bad), tahoeError('TorControlError', (e) => e.details.reason === 'protocol'), JSON.stringify(bad));
  }
  const parser = new ControlReplyParser();
  assert.throws(() => {
    for (let i = 0; i < 20; i++) parser.push(Buffer.alloc(MAX_LINE_BYTES / 16, 0x41));
  }, tahoeError('TorControlError', (e) => /longer than/.test(e.message)));
  const midLines = new ControlReplyParser();
  assert.throws(() => {
    const line = Buffer.from('250-' + 'x'.repeat(1 << 16) + '\r\n');
    for (let i = 0; i < 400; i++) midLines.push(line);
  }, tahoeError('TorControlError', (e) => /reply longer/.test(e.message)));
});

test('fuzz: random and mutated replies never throw anything but TahoeErrors', () => {
  const base = Buffer.from(TRANSCRIPT);
  let parsedSome = 0;
  for (let i = 0; i < 3000; i++) {
    let input: Buffer;
    if (i % 3 === 0) input = randomBytes(Math.floor(Math.random() * 400));
    else {
      input = Buffer.from(base);
      const edits = 1 + Math.floor(Math.random() * 8);
      for (let j = 0; j < edits; j++) {
        const at = Math.floor(Math.random() * input.length);
        const pick = Math.random();
        if (pick < 0.5) input[at] = Math.floor(Math.random() * 256);
        else if (pick < 0.75) input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + Math.floor(Math.random() * 20))]);
        else input = Buffer.concat([input.subarray(0, at), Buffer.from(['"', '\\', '=', ' ', '\r\n', '.\r\n', '650 ', '250+'][j % 8]), input.subarray(at)]);
      }
    }
    try {
      const replies = parseAll(input, [Math.floor(Math.random() * input.length)]);
      for (const reply of replies) {
        parsedSome++;
        for (const fn of [() => parseEvent(reply), () => parseGetInfoReply(reply)]) {
          try {
            fn();
          } catch (e) {
            assert.ok(isTahoeError(e), `non-TahoeError: ${String(e)}`);
          }
        }
        for (const line of reply.lines) {
          for (const fn of [() => parseArguments(line.text), () => parseSocksListeners(line.text), () => parseBootstrapPhase(line.text)]) {
            try {
              fn();
            } catch (e) {
              assert.ok(isTahoeError(e), `non-TahoeError: ${String(e)} for ${JSON.stringify(line.text)}`);
            }
          }
        }
      }
    } catch (e) {
      assert.ok(isTahoeError(e), `non-TahoeError: ${String(e)}`);
    }
  }
  assert.ok(parsedSome > 1000, `mutations still parse often enough to exercise the event parsers (${parsedSome})`);
});

test('listeners bound to all interfaces are dialled on loopback', async () => {
  const { dialableListener } = await import('../../../src/net/tor/control-protocol.js');
  assert.deepEqual(parseSocksListeners('"0.0.0.0:9050" "[::]:9150" "127.0.0.2:1" "unix:/s"').map(dialableListener), [
    { host: '127.0.0.1', port: 9050 },
    { host: '::1', port: 9150 },
    { host: '127.0.0.2', port: 1 },
    { path: '/s' },
  ]);
});
