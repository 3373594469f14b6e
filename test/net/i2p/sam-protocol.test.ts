import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { TahoeError, isTahoeError } from '../../../src/errors.js';
import {
  describeLineForLog,
  formatCommand,
  parseSamReply,
  samResultError,
  validateSessionOptions,
} from '../../../src/net/i2p/sam-protocol.js';
import { parsePeerLine } from '../../../src/net/i2p/sam.js';
import { generateDestination } from '../../../src/net/i2p/destination.js';

test('parseSamReply: commands, pairs, base64 padding, quotes, empty values', () => {
  const r = parseSamReply('HELLO REPLY RESULT=OK VERSION=3.1');
  assert.equal(r.command, 'HELLO');
  assert.equal(r.subcommand, 'REPLY');
  assert.deepEqual([...r.pairs], [['RESULT', 'OK'], ['VERSION', '3.1']]);
  // '=' padding inside a value stays (the split is on the first '=')
  const v = parseSamReply('NAMING REPLY RESULT=OK NAME=ME VALUE=abc-~==');
  assert.equal(v.pairs.get('VALUE'), 'abc-~==');
  const q = parseSamReply('SESSION STATUS RESULT=I2P_ERROR MESSAGE="Session \\"x\\" already \\\\ exists"');
  assert.equal(q.pairs.get('MESSAGE'), 'Session "x" already \\ exists');
  const spaces = parseSamReply('STREAM  STATUS   RESULT=OK  MESSAGE=  X\r');
  assert.equal(spaces.subcommand, 'STATUS');
  assert.equal(spaces.pairs.get('MESSAGE'), '');
  assert.equal(spaces.pairs.get('X'), '');
  assert.equal(parseSamReply('PONG').subcommand, '');
});

test('parseSamReply rejects garbage with SamProtocolError', () => {
  for (const bad of ['', '   ', 'hello reply', '123 REPLY', 'HELLO REPLY RESULT="OK', 'HELLO REPLY =x', 'HELLO REPLY A=1 A=2', 'HELLO REPLY A="x"y', 'HELLO\x00 REPLY', 'HELLO REPLY A=b"c', 'X Y "k"=v']) {
    assert.throws(() => parseSamReply(bad), (e: unknown) => isTahoeError(e, 'SamProtocolError') && e.hint.includes('SAM'), JSON.stringify(bad));
  }
});

test('fuzz: parseSamReply and parsePeerLine fail only with TahoeErrors', () => {
  const samples = [
    'HELLO REPLY RESULT=OK VERSION=3.1',
    'SESSION STATUS RESULT=OK DESTINATION=' + generateDestination().privateKeyBase64,
    'STREAM STATUS RESULT=I2P_ERROR MESSAGE="no such session"',
    'NAMING REPLY RESULT=OK NAME=ME VALUE=' + generateDestination().destinationBase64,
    generateDestination().destinationBase64 + ' FROM_PORT=0 TO_PORT=0',
  ];
  const alphabet = ' ="\\=ABZaz09-~\t\r\x00\x7fé';
  for (let i = 0; i < 5000; i++) {
    let s = samples[i % samples.length];
    const edits = 1 + (i % 5);
    for (let k = 0; k < edits; k++) {
      const pos = crypto.randomInt(s.length + 1);
      const op = crypto.randomInt(3);
      if (op === 0) s = s.slice(0, pos) + alphabet[crypto.randomInt(alphabet.length)] + s.slice(pos);
      else if (op === 1) s = s.slice(0, pos) + s.slice(pos + 1 + crypto.randomInt(5));
      else s = s.slice(0, pos);
    }
    if (i % 7 === 0) s = crypto.randomBytes(crypto.randomInt(200)).toString('latin1');
    for (const fn of [() => parseSamReply(s), () => parsePeerLine(s)]) {
      try {
        fn();
      } catch (e) {
        assert.ok(e instanceof TahoeError, `non-TahoeError for ${JSON.stringify(s)}: ${String(e)}`);
      }
    }
  }
});

test('parsePeerLine: 3.1 and 3.2 forms; a STREAM STATUS line means the session died', () => {
  const d = generateDestination().destinationBase64;
  assert.equal(parsePeerLine(d), d);
  assert.equal(parsePeerLine(`${d} FROM_PORT=0 TO_PORT=3457`), d);
  assert.throws(() => parsePeerLine('STREAM STATUS RESULT=I2P_ERROR MESSAGE="session closed"'), (e: unknown) => isTahoeError(e, 'SamRefused') && e.details.samMessage === 'session closed');
  assert.throws(() => parsePeerLine(d.slice(0, 500)), (e: unknown) => isTahoeError(e, 'SamProtocolError'));
});

test('formatCommand: one line, refuses spaces, quotes and newlines in values', () => {
  assert.equal(formatCommand('STREAM', 'CONNECT', [['ID', 'a'], ['DESTINATION', 'x.b32.i2p'], ['SILENT', 'false']]), 'STREAM CONNECT ID=a DESTINATION=x.b32.i2p SILENT=false\n');
  for (const bad of ['a b', 'a\nSTREAM CONNECT', 'a"b', 'a\tb', 'é']) {
    assert.throws(() => formatCommand('NAMING', 'LOOKUP', [['NAME', bad]]), (e: unknown) => isTahoeError(e, 'BadInput'), bad);
  }
});

test('validateSessionOptions refuses injection and reserved keys', () => {
  validateSessionOptions({ 'inbound.length': '0', 'i2cp.leaseSetEncType': '4,0' });
  const bads: Array<Record<string, string>> = [{ 'a b': '1' }, { x: '1 STYLE=RAW' }, { x: 'a\nb' }, { DESTINATION: 'x' }, { SIGNATURE_TYPE: '0' }, { x: '"' }];
  for (const bad of bads) {
    assert.throws(() => validateSessionOptions(bad), (e: unknown) => isTahoeError(e, 'ConfigInvalid'), JSON.stringify(bad));
  }
});

test('samResultError maps every SAM result code to a kind with a hint and the RESULT in details', () => {
  const expected: Array<[Parameters<typeof samResultError>[0], string, string]> = [
    ['hello', 'NOVERSION', 'SamRefused'],
    ['hello', 'I2P_ERROR', 'SamRefused'],
    ['session', 'DUPLICATED_ID', 'SamRefused'],
    ['session', 'DUPLICATED_DEST', 'SamRefused'],
    ['session', 'INVALID_KEY', 'SamRefused'],
    ['session', 'I2P_ERROR', 'SamRefused'],
    ['connect', 'CANT_REACH_PEER', 'ServerUnreachable'],
    ['connect', 'TIMEOUT', 'Timeout'],
    ['connect', 'INVALID_KEY', 'I2pAddressInvalid'],
    ['connect', 'INVALID_ID', 'SamRefused'],
    ['connect', 'I2P_ERROR', 'SamRefused'],
    ['connect', 'PEER_NOT_FOUND', 'ServerUnreachable'],
    ['accept', 'ALREADY_ACCEPTING', 'SamRefused'],
    ['lookup', 'KEY_NOT_FOUND', 'I2pAddressInvalid'],
    ['lookup', 'INVALID_KEY', 'I2pAddressInvalid'],
    ['generate', 'SOMETHING_NEW', 'SamRefused'],
  ];
  const hints = new Set<string>();
  for (const [op, result, kind] of expected) {
    const e = samResultError(op, result, 'msg');
    assert.equal(e.kind, kind, `${op} ${result}`);
    assert.equal(e.details.result, result);
    assert.equal(e.details.samMessage, 'msg');
    assert.ok(e.hint.length > 20);
    hints.add(e.hint);
  }
  assert.ok(hints.size >= 10, 'hints are specific to the result');
});

test('describeLineForLog hides private keys and destinations', () => {
  const d = generateDestination();
  const line = `SESSION CREATE STYLE=STREAM ID=x DESTINATION=${d.privateKeyBase64} SIGNATURE_TYPE=7`;
  const logged = describeLineForLog(line);
  assert.ok(!logged.includes(d.privateKeyBase64.slice(0, 40)));
  assert.match(logged, /DESTINATION=\[908 chars\]/);
  assert.match(describeLineForLog(`DEST REPLY PUB=${d.destinationBase64} PRIV=${d.privateKeyBase64}`), /^DEST REPLY PUB=\[524 chars\] PRIV=\[908 chars\]$/);
});
