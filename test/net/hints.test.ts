import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { isTahoeError, type ErrorKind } from '../../src/errors.js';
import {
  clientEndpointToDialTarget,
  clientEndpointToSocketEndpoint,
  formatClientEndpoint,
  formatFurl,
  formatHint,
  formatNurl,
  formatServerEndpoint,
  formatServiceUrl,
  formatTubLocation,
  formatTubPort,
  hintToDialTarget,
  nurlsFromHints,
  isLoopbackAddress,
  isNonPublicNumericAddress,
  nurlToDialTarget,
  parseClientEndpoint,
  parseDescriptor,
  parseFurl,
  parseHint,
  parseNurl,
  parseServerEndpoint,
  parseServiceUrl,
  parseTubLocation,
  parseTubPort,
} from '../../src/net/hints.js';
import { destinationToB32, i2pBase64Decode, i2pBase64Encode } from '../../src/net/i2p/address.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const BAD_ONION = `b${ONION.slice(1)}`; // one-character typo: checksum mismatch
const B32 = `${'a'.repeat(52)}.b32.i2p`;
const DEST = i2pBase64Encode(Buffer.concat([randomBytes(384), Buffer.from([5, 0, 4, 0, 7, 0, 0])]));
const TUBID = 'sisi4zenj7cxncgvdog7szg3yxbrnamy';
const SWISS = 'xphmwz6lx24rh2nxlinnixphmwz6lx24';
const SPKI = createHash('sha256').update('a certificate').digest('base64url');

function assertKind(fn: () => unknown, kind: ErrorKind, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTahoeError(e, kind), `expected ${kind}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.ok(e.hint.length > 10, 'a specific hint');
    if (pattern) assert.match(`${e.message} | ${e.hint}`, pattern);
    return true;
  });
}

/** parse, format, parse again: the value survives, and the formatted string is a fixed point. */
function roundTrip<T>(parse: (s: string) => T, format: (v: T) => string, input: string, expected?: T): T {
  const value = parse(input);
  if (expected !== undefined) assert.deepEqual(value, expected, input);
  const text = format(value);
  assert.deepEqual(parse(text), value, `${input} → ${text}`);
  assert.equal(format(parse(text)), text);
  return value;
}

test('Twisted descriptor syntax: escapes, keyword/positional mixing, duplicates', () => {
  const d = parseDescriptor('onion:80:hiddenServiceDir=C\\:\\\\x:a=b=c');
  assert.equal(d.type, 'onion');
  assert.deepEqual(d.args, ['80']);
  assert.equal(d.kwargs.get('hiddenServiceDir'), 'C:\\x');
  assert.equal(d.kwargs.get('a'), 'b=c'); // after the first "=", "=" is literal
  assertKind(() => parseDescriptor('tcp:1:a=1:a=2'), 'EndpointInvalid', /twice/);
  assertKind(() => parseDescriptor('tcp:1\\'), 'EndpointInvalid', /backslash/);
  assertKind(() => parseDescriptor(':1'), 'EndpointInvalid', /endpoint type/);
  assertKind(() => parseDescriptor('tcp:=1'), 'EndpointInvalid', /without a key/);
  assertKind(() => parseDescriptor('tcp:1\n'), 'EndpointInvalid', /control character/);
});

test('server endpoints: every form round-trips', () => {
  const fmt = formatServerEndpoint;
  const parse = (s: string) => parseServerEndpoint(s);
  roundTrip(parse, fmt, '3457', { type: 'tcp', port: 3457 });
  roundTrip(parse, fmt, 'tcp:3457', { type: 'tcp', port: 3457 });
  roundTrip(parse, fmt, 'tcp:port=3457:interface=127.0.0.1', { type: 'tcp', port: 3457, interface: '127.0.0.1' });
  roundTrip(parse, fmt, 'tcp:3457:interface=127.0.0.1', { type: 'tcp', port: 3457, interface: '127.0.0.1' });
  roundTrip(parse, fmt, 'tcp:interface=127.0.0.1:8098', { type: 'tcp', port: 8098, interface: '127.0.0.1' });
  roundTrip(parse, fmt, 'tcp:0:backlog=5', { type: 'tcp', port: 0, backlog: 5 });
  roundTrip(parse, fmt, 'tcp6:3457:interface=\\:\\:1', { type: 'tcp6', port: 3457, interface: '::1' });
  roundTrip(parse, fmt, 'listen:tor', { type: 'listen', transport: 'tor' });
  roundTrip(parse, fmt, 'listen:i2p', { type: 'listen', transport: 'i2p' });
  roundTrip(parse, fmt, 'unix:/run/tahoe/web.sock:mode=660:lockfile=1', { type: 'unix', path: '/run/tahoe/web.sock', mode: 0o660, lockfile: true });
  roundTrip(parse, fmt, 'unix:address=/a\\:b', { type: 'unix', path: '/a:b' });
  roundTrip(parse, fmt, 'onion:80', { type: 'onion', virtualPort: 80 });
  roundTrip(parse, fmt, 'onion:80:hiddenServiceDir=/var/lib/tor/my_service', { type: 'onion', virtualPort: 80, hiddenServiceDir: '/var/lib/tor/my_service' });
  roundTrip(parse, fmt, 'onion:80:hiddenServiceDir=C\\:\\\\x', { type: 'onion', virtualPort: 80, hiddenServiceDir: 'C:\\x' });
  roundTrip(parse, fmt, 'onion:80:externalPort=80:localPort=8098', { type: 'onion', virtualPort: 80, localPort: 8098 });
  roundTrip(parse, fmt, 'onion:externalPort=3457:privateKeyFile=private/tor_onion.privkey', { type: 'onion', virtualPort: 3457, privateKeyFile: 'private/tor_onion.privkey' });
  const i2p = roundTrip(parse, fmt, 'i2p:private/i2p_dest.privkey:3457:api=SAM:apiEndpoint=tcp\\:127.0.0.1\\:7656', {
    type: 'i2p',
    keyFile: 'private/i2p_dest.privkey',
    port: 3457,
    api: 'SAM',
    apiEndpoint: { type: 'tcp', host: '127.0.0.1', port: 7656 },
  });
  // Byte-identical to what Tahoe 1.20's i2p_provider.get_listener builds.
  assert.equal(fmt(i2p), 'i2p:private/i2p_dest.privkey:3457:api=SAM:apiEndpoint=tcp\\:127.0.0.1\\:7656');
  roundTrip(parse, fmt, 'i2p:key:apiEndpoint=unix\\:/run/sam', { type: 'i2p', keyFile: 'key', apiEndpoint: { type: 'unix', path: '/run/sam' } });
  roundTrip(parse, fmt, 'disabled', { type: 'disabled' });
});

test('server endpoints: errors name the problem', () => {
  const p = (s: string) => () => parseServerEndpoint(s, 'tub.port');
  assertKind(p(''), 'EndpointInvalid', /empty/);
  assertKind(p('tcp'), 'EndpointInvalid', /port number is missing/);
  assertKind(p('tcp:65536'), 'EndpointInvalid', /out of range/);
  assertKind(p('tcp:99999999999999999999'), 'EndpointInvalid', /not a port/);
  assertKind(p('tcp:-1'), 'EndpointInvalid', /not a port/);
  assertKind(p('tcp:3457:interface=localhost'), 'EndpointInvalid', /not an IP address/);
  assertKind(p('tcp:3457:interface=999.1.1.1'), 'EndpointInvalid', /IPv4/);
  assertKind(p('tcp:3457:frobnicate=1'), 'EndpointInvalid', /unknown option "frobnicate="/);
  assertKind(p('tcp:3457:port=3458'), 'EndpointInvalid', /twice/);
  assertKind(p('tcp:1:2'), 'EndpointInvalid', /too many/);
  assertKind(p('ssl:443'), 'EndpointInvalid', /unknown endpoint type "ssl"/);
  assertKind(p('listen:bluetooth'), 'EndpointInvalid', /listen:tor or listen:i2p/);
  assertKind(p('onion:80:controlPort=9051'), 'EndpointInvalid', /control\.port/);
  assertKind(p('onion:80:externalPort=81'), 'EndpointInvalid', /twice with different values/);
  assertKind(p('onion:80:hiddenServiceDir=/a:privateKeyFile=/b'), 'EndpointInvalid', /not both/);
  assertKind(p('onion:0'), 'EndpointInvalid', /out of range/);
  assertKind(p('unix:/x:mode=999'), 'EndpointInvalid', /octal/);
  assertKind(p('i2p:key:1:api=BOB'), 'EndpointInvalid', /SAM/);
  assertKind(p('i2p:key:1:apiEndpoint=tcp\\:127.0.0.1'), 'EndpointInvalid', /no port/);
});

test('tub.port lists', () => {
  roundTrip(parseTubPort, formatTubPort, 'disabled', { type: 'disabled' });
  roundTrip(parseTubPort, formatTubPort, '3457,listen:tor,listen:i2p', {
    type: 'endpoints',
    endpoints: [{ type: 'tcp', port: 3457 }, { type: 'listen', transport: 'tor' }, { type: 'listen', transport: 'i2p' }],
  });
  // Tahoe 1.20 refuses these four spellings of "port 0" (PortAssignmentRequired); so do we, and more.
  for (const zero of ['0', 'tcp:0', 'tcp:port=0', 'tcp:0:interface=127.0.0.1', 'tcp6:0']) {
    assertKind(() => parseTubPort(zero), 'EndpointInvalid', /fixed port/);
  }
  assertKind(() => parseTubPort(''), 'EndpointInvalid', /empty/);
  assertKind(() => parseTubPort('   '), 'EndpointInvalid', /empty/);
  assertKind(() => parseTubPort('tcp:1,'), 'EndpointInvalid', /empty item/);
  assertKind(() => parseTubPort('tcp:1, tcp:2'), 'EndpointInvalid', /spaces/);
  assertKind(() => parseTubPort('disabled,tcp:1'), 'EndpointInvalid', /cannot be combined/);
  assert.throws(() => formatTubPort({ type: 'endpoints', endpoints: [{ type: 'unix', path: '/a,b' }] }), /comma/);
});

test('connection hints: every form round-trips', () => {
  const parse = (s: string) => parseHint(s);
  roundTrip(parse, formatHint, 'tcp:example.net:3456', { type: 'tcp', host: 'example.net', port: 3456 });
  roundTrip(parse, formatHint, 'tcp:127.1:34399', { type: 'tcp', host: '127.1', port: 34399 });
  roundTrip(parse, formatHint, 'tcp:[2001:db8::1]:3456', { type: 'tcp', host: '2001:db8::1', port: 3456 });
  roundTrip(parse, formatHint, 'tcp:host=example.net:port=3456', { type: 'tcp', host: 'example.net', port: 3456 });
  roundTrip(parse, formatHint, 'tcp:example.net:port=3456', { type: 'tcp', host: 'example.net', port: 3456 });
  roundTrip(parse, formatHint, 'tcp:host=example.net:3456', { type: 'tcp', host: 'example.net', port: 3456 });
  roundTrip(parse, formatHint, 'tcp:host=\\:\\:1:port=80', { type: 'tcp', host: '::1', port: 80 });
  roundTrip(parse, formatHint, 'example.net:3456', { type: 'tcp', host: 'example.net', port: 3456, legacy: true });
  roundTrip(parse, formatHint, '10.0.0.1:3456', { type: 'tcp', host: '10.0.0.1', port: 3456, legacy: true });
  roundTrip(parse, formatHint, 'client.fakelocation:0', { type: 'tcp', host: 'client.fakelocation', port: 0, legacy: true });
  roundTrip(parse, formatHint, `tor:${ONION}:3457`, { type: 'tor', host: ONION, port: 3457 });
  roundTrip(parse, formatHint, 'tor:example.net:80', { type: 'tor', host: 'example.net', port: 80 });
  roundTrip(parse, formatHint, `i2p:${B32}:3457`, { type: 'i2p', address: B32, port: 3457 });
  roundTrip(parse, formatHint, `i2p:${B32}`, { type: 'i2p', address: B32 });
  roundTrip(parse, formatHint, 'i2p:tahoe.i2p', { type: 'i2p', address: 'tahoe.i2p' });
  roundTrip(parse, formatHint, `i2p:${DEST}:3457`, { type: 'i2p', address: DEST, port: 3457 });
  // Foolscap's rule: "type:123" is a legacy tcp hint to host "type".
  roundTrip(parse, formatHint, 'tor:80', { type: 'tcp', host: 'tor', port: 80, legacy: true });
  roundTrip((s) => parseHint(s, { allowUnknown: true }), formatHint, 'future:a=1:b', { type: 'unknown', text: 'future:a=1:b' });
});

test('connection hints: errors', () => {
  const p = (s: string) => () => parseHint(s);
  assertKind(p(''), 'EndpointInvalid', /empty/);
  assertKind(p('tcp:example.net'), 'EndpointInvalid', /no port/);
  assertKind(p('tcp:2001:db8::1:80'), 'EndpointInvalid', /brackets/);
  assertKind(p('tcp:[10.0.0.1]:80'), 'EndpointInvalid', /only IPv6/);
  assertKind(p('tcp:exa mple.net:80'), 'EndpointInvalid', /space/);
  assertKind(p('tcp:under_score.net:80'), 'EndpointInvalid', /host name/);
  assertKind(p('tcp:bücher.de:80'), 'EndpointInvalid', /punycode/);
  assertKind(p('tcp:300.1.1.1:80'), 'EndpointInvalid', /IPv4/);
  assertKind(p('tcp:example.net:080'), 'EndpointInvalid', /leading zeros/);
  assertKind(p('TCP:example.net:80'), 'EndpointInvalid', /lower case/);
  assertKind(p('future:thing'), 'EndpointInvalid', /not a connection hint/);
  assertKind(p(`tor:${BAD_ONION}:80`), 'OnionAddressInvalid', /checksum|typo/);
  assertKind(p('ualhejtq2p7ohfbb.onion:29212'), 'OnionAddressInvalid', /version 2/);
  assertKind(p('i2p:'), 'I2pAddressInvalid', /empty/);
  assertKind(p('i2p:nope'), 'I2pAddressInvalid');
  assertKind(p(`i2p:${B32}:0`), 'EndpointInvalid', /out of range/);
});

test('client endpoints ([tor] socks.port, control.port, [i2p] sam.port)', () => {
  const parse = (s: string) => parseClientEndpoint(s);
  roundTrip(parse, formatClientEndpoint, 'tcp:127.0.0.1:9050', { type: 'tcp', host: '127.0.0.1', port: 9050 });
  roundTrip(parse, formatClientEndpoint, 'tcp:host=localhost:port=9051', { type: 'tcp', host: 'localhost', port: 9051 });
  const v6 = roundTrip(parse, formatClientEndpoint, 'tcp:[::1]:9050', { type: 'tcp', host: '::1', port: 9050 });
  assert.equal(formatClientEndpoint(v6), 'tcp:host=\\:\\:1:port=9050'); // Twisted has no brackets
  roundTrip(parse, formatClientEndpoint, 'unix:/var/run/tor/control', { type: 'unix', path: '/var/run/tor/control' });
  roundTrip(parse, formatClientEndpoint, 'unix:path=private/tor.control', { type: 'unix', path: 'private/tor.control' });
  roundTrip(parse, formatClientEndpoint, `tor:${ONION}:80`, { type: 'tor', host: ONION, port: 80 });
  roundTrip(parse, formatClientEndpoint, `i2p:${B32}:3457`, { type: 'i2p', address: B32, port: 3457 });
  assertKind(() => parseClientEndpoint('9050'), 'EndpointInvalid', /tcp:127\.0\.0\.1:9050/);
  assertKind(() => parseClientEndpoint('tcp:127.0.0.1:0'), 'EndpointInvalid', /out of range/);
  assertKind(() => parseClientEndpoint('unix:'), 'EndpointInvalid', /empty/);
  assertKind(() => parseClientEndpoint('unix:/a:timeout=3'), 'EndpointInvalid', /unknown option/);
  assertKind(() => parseClientEndpoint('socks5:127.0.0.1:9050'), 'EndpointInvalid', /unknown endpoint type/);
  assert.deepEqual(clientEndpointToSocketEndpoint(parseClientEndpoint('unix:/run/tor/socks')), { path: '/run/tor/socks' });
  assert.deepEqual(clientEndpointToSocketEndpoint(parseClientEndpoint('tcp:127.0.0.1:9050')), { host: '127.0.0.1', port: 9050 });
  assertKind(() => clientEndpointToSocketEndpoint(parseClientEndpoint(`tor:${ONION}:80`)), 'EndpointInvalid', /local daemon/);
  assert.deepEqual(clientEndpointToDialTarget(parseClientEndpoint(`tcp:${ONION}:80`)), { kind: 'tor', host: ONION, port: 80 });
});

test('tub.location: 1.20 and original-design items round-trip', () => {
  roundTrip(parseTubLocation, formatTubLocation, 'disabled', { type: 'disabled' });
  roundTrip(parseTubLocation, formatTubLocation, 'AUTO', { type: 'items', items: [{ type: 'auto', spelling: 'AUTO' }] });
  roundTrip(parseTubLocation, formatTubLocation, 'UNREACHABLE', { type: 'items', items: [{ type: 'unreachable' }] });
  roundTrip(parseTubLocation, formatTubLocation, 'AUTODETECT,onion:80:hiddenServiceDir=/var/lib/tor/my_service', {
    type: 'items',
    items: [
      { type: 'auto', spelling: 'AUTODETECT' },
      { type: 'onion', endpoint: { type: 'onion', virtualPort: 80, hiddenServiceDir: '/var/lib/tor/my_service' } },
    ],
  });
  const mixed = `AUTO,tcp:example.net:3456,example.org:3457,tor:${ONION}:3457,i2p:${B32}:3457`;
  const loc = roundTrip(parseTubLocation, formatTubLocation, mixed);
  assert.equal(formatTubLocation(loc), mixed); // published exactly as written
  assert.deepEqual(parseTubLocation('  AUTO  '), parseTubLocation('AUTO')); // the value is stripped like 1.20 does
});

test('tub.location: errors', () => {
  assertKind(() => parseTubLocation(''), 'EndpointInvalid', /empty/);
  assertKind(() => parseTubLocation('AUTO, tcp:a.b:1'), 'EndpointInvalid', /spaces/);
  assertKind(() => parseTubLocation('AUTO,,tcp:a.b:1'), 'EndpointInvalid', /empty item/);
  assertKind(() => parseTubLocation('auto'), 'EndpointInvalid', /upper case/);
  assertKind(() => parseTubLocation('UNREACHABLE,tcp:a.b:1'), 'EndpointInvalid', /UNREACHABLE/);
  assertKind(() => parseTubLocation('disabled,AUTO'), 'EndpointInvalid', /cannot be combined/);
  assertKind(() => parseTubLocation('future:x'), 'EndpointInvalid', /not a connection hint/);
  assertKind(() => parseTubLocation('onion:80:localPort=x'), 'EndpointInvalid', /not a port/);
  assertKind(() => parseTubLocation(`tor:${BAD_ONION}:3457`), 'OnionAddressInvalid');
});

test('fURLs: hints, empty hint lists, unknown hint types', () => {
  const parse = parseFurl;
  roundTrip(parse, formatFurl, `pb://${TUBID}@tcp:127.1:34399/${SWISS}`, {
    tubId: TUBID,
    hints: [{ type: 'tcp', host: '127.1', port: 34399 }],
    swissnum: SWISS,
  });
  roundTrip(parse, formatFurl, `pb://${TUBID}@localhost:47877,tor:${ONION}:3457,i2p:${B32}:3457/${SWISS}`);
  // foolscap (and url.rst footnote 1): an empty location is allowed and means no hints.
  roundTrip(parse, formatFurl, `pb://${TUBID}@/${SWISS}`, { tubId: TUBID, hints: [], swissnum: SWISS });
  const future = roundTrip(parse, formatFurl, `pb://${TUBID}@quic:example.net:1,tcp:example.net:2/${SWISS}`);
  assert.equal(future.hints[0].type, 'unknown');
  assertKind(() => parseFurl(`pb://${TUBID}@tcp:a.b:1,,tcp:a.b:2/${SWISS}`), 'EndpointInvalid', /empty/);
  assertKind(() => parseFurl(`pb://${TUBID.slice(1)}@tcp:a.b:1/${SWISS}`), 'EndpointInvalid', /TubID/);
  assertKind(() => parseFurl(`pb://${TUBID.toUpperCase()}@tcp:a.b:1/${SWISS}`), 'EndpointInvalid', /TubID/);
  assertKind(() => parseFurl(`pb://${TUBID}@tcp:a.b:1/`), 'EndpointInvalid', /no secret/);
  assertKind(() => parseFurl(`pb://${TUBID}@tcp:a.b:1/a/b`), 'EndpointInvalid', /secret/);
  assertKind(() => parseFurl(`pb://${TUBID}@tcp:a.b:1`), 'EndpointInvalid', /"\/"/);
  assertKind(() => parseFurl(`pb://${TUBID}tcp:a.b:1/${SWISS}`), 'EndpointInvalid', /"@"/);
  assertKind(() => parseFurl(`pb://${TUBID}@tcp:a.b:1/${SWISS}#v=1`), 'EndpointInvalid', /NURL/);
  assertKind(() => parseFurl(`pb://${TUBID}@tcp:a.b:1/${SWISS}?x=1`), 'EndpointInvalid', /query/);
  assertKind(() => parseFurl(`http://${TUBID}@tcp:a.b:1/${SWISS}`), 'EndpointInvalid', /pb:\/\//);
  assertKind(() => parseFurl(`pb://${TUBID}@tor:${BAD_ONION}:1/${SWISS}`), 'OnionAddressInvalid');
  // The secret never appears in error messages.
  try {
    parseFurl(`pb://${TUBID}@tcp:a.b:1/${SWISS}!`);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isTahoeError(e, 'EndpointInvalid'));
    assert.ok(!e.message.includes(SWISS) && !e.hint.includes(SWISS));
  }
});

test('NURLs: pb, pb+tor, pb+i2p; #v=1 required', () => {
  roundTrip(parseNurl, formatNurl, `pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=1`, { scheme: 'pb', spkiHash: SPKI, host: '127.0.0.1', port: 3456, swissnum: SWISS });
  roundTrip(parseNurl, formatNurl, `pb://${SPKI}@[::1]:3456/${SWISS}#v=1`, { scheme: 'pb', spkiHash: SPKI, host: '::1', port: 3456, swissnum: SWISS });
  roundTrip(parseNurl, formatNurl, `pb+tor://${SPKI}@${ONION}:3457/${SWISS}#v=1`, { scheme: 'pb+tor', spkiHash: SPKI, host: ONION, port: 3457, swissnum: SWISS });
  roundTrip(parseNurl, formatNurl, `pb+i2p://${SPKI}@${B32}/${SWISS}#v=1`, { scheme: 'pb+i2p', spkiHash: SPKI, host: B32, swissnum: SWISS });
  roundTrip(parseNurl, formatNurl, `pb+i2p://${SPKI}@tahoe.i2p:3457/${SWISS}#v=1`, { scheme: 'pb+i2p', spkiHash: SPKI, host: 'tahoe.i2p', port: 3457, swissnum: SWISS });
  assertKind(() => parseNurl(`pb://${SPKI}@127.0.0.1:3456/${SWISS}`), 'EndpointInvalid', /fURL/);
  assertKind(() => parseNurl(`pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=2`), 'EndpointInvalid', /only #v=1/);
  assertKind(() => parseNurl(`pb://${SPKI.slice(1)}@127.0.0.1:3456/${SWISS}#v=1`), 'EndpointInvalid', /43 characters/);
  assertKind(() => parseNurl(`pb://${SPKI.slice(1)}+@127.0.0.1:3456/${SWISS}#v=1`), 'EndpointInvalid', /base64url/);
  assertKind(() => parseNurl(`pb://${SPKI.slice(0, 42)}${SPKI.endsWith('B') ? 'C' : 'B'}@127.0.0.1:3456/${SWISS}#v=1`), 'EndpointInvalid', /base64url/); // non-canonical last char
  assertKind(() => parseNurl(`pb://${SPKI}@127.0.0.1:3456,127.0.0.2:3456/${SWISS}#v=1`), 'EndpointInvalid', /several locations/);
  assertKind(() => parseNurl(`pb://${SPKI}@tcp:127.0.0.1:3456/${SWISS}#v=1`), 'EndpointInvalid', /prefix/);
  assertKind(() => parseNurl(`pb://${SPKI}@127.0.0.1/${SWISS}#v=1`), 'EndpointInvalid', /no port/);
  assertKind(() => parseNurl(`pb+tor://${SPKI}@${ONION}/${SWISS}#v=1`), 'EndpointInvalid', /port/);
  assertKind(() => parseNurl(`pb+tor://${SPKI}@${BAD_ONION}:1/${SWISS}#v=1`), 'OnionAddressInvalid');
  assertKind(() => parseNurl(`pb+i2p://${SPKI}@example.com:1/${SWISS}#v=1`), 'I2pAddressInvalid', /\.i2p/);
  assertKind(() => parseNurl(`pb+onion://${SPKI}@x:1/${SWISS}#v=1`), 'EndpointInvalid', /pb\+tor/);
  // fURL or NURL, told apart by #v=1
  assert.equal(parseServiceUrl(`pb://${TUBID}@tcp:a.b:1/${SWISS}`).version, 0);
  const v1 = parseServiceUrl(`pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=1`);
  assert.equal(v1.version, 1);
  assert.equal(formatServiceUrl(v1), `pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=1`);
});

test('nurlsFromHints: one NURL per tcp:, tor: and i2p: hint, none for legacy HOST:PORT and unknown hints', () => {
  const hints = [`tcp:127.0.0.1:3456`, `tor:${ONION}:3457`, `i2p:${B32}`, `i2p:${B32}:3458`, 'example.net:3459', 'tcp:[::1]:3460', 'zzz:whatever', `i2p:${DEST}`].map((h) => parseHint(h, { allowUnknown: true }));
  const nurls = nurlsFromHints(SPKI, SWISS, hints);
  assert.deepEqual(nurls.map(formatNurl), [
    `pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=1`,
    `pb+tor://${SPKI}@${ONION}:3457/${SWISS}#v=1`,
    `pb+i2p://${SPKI}@${B32}/${SWISS}#v=1`,
    `pb+i2p://${SPKI}@${B32}:3458/${SWISS}#v=1`,
    `pb://${SPKI}@[::1]:3460/${SWISS}#v=1`,
    // A full destination in a hint: a NURL names it by its b32 address (the only form pb+i2p takes).
    `pb+i2p://${SPKI}@${destinationToB32(i2pBase64Decode(DEST))}/${SWISS}#v=1`,
  ]);
  // Every NURL made is one the parser takes back.
  for (const n of nurls) assert.deepEqual(parseNurl(formatNurl(n)), n);
  assert.deepEqual(nurlsFromHints(SPKI, SWISS, []), []);
});

test('hints and NURLs become dial targets; .onion and .i2p names never become tcp targets', () => {
  assert.deepEqual(hintToDialTarget(parseHint('tcp:example.net:3456')), { kind: 'tcp', host: 'example.net', port: 3456 });
  assert.deepEqual(hintToDialTarget(parseHint(`tor:${ONION}:3457`)), { kind: 'tor', host: ONION, port: 3457 });
  assert.deepEqual(hintToDialTarget(parseHint(`${ONION}:3457`)), { kind: 'tor', host: ONION, port: 3457 });
  assert.deepEqual(hintToDialTarget(parseHint(`tcp:${ONION}:3457`)), { kind: 'tor', host: ONION, port: 3457 });
  assert.deepEqual(hintToDialTarget(parseHint('tcp:tahoe.i2p:3457')), { kind: 'i2p', address: 'tahoe.i2p', port: 3457 });
  assert.deepEqual(hintToDialTarget(parseHint(`i2p:${B32}`)), { kind: 'i2p', address: B32 });
  assertKind(() => hintToDialTarget(parseHint('client.fakelocation:0')), 'EndpointInvalid', /placeholder/);
  assertKind(() => hintToDialTarget(parseHint('quic:x', { allowUnknown: true })), 'EndpointInvalid', /not supported/);
  assert.deepEqual(nurlToDialTarget(parseNurl(`pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=1`)), { kind: 'tcp', host: '127.0.0.1', port: 3456 });
  assert.deepEqual(nurlToDialTarget(parseNurl(`pb://${SPKI}@${ONION}:3456/${SWISS}#v=1`)), { kind: 'tor', host: ONION, port: 3456 });
  assert.deepEqual(nurlToDialTarget(parseNurl(`pb+tor://${SPKI}@${ONION}:3456/${SWISS}#v=1`)), { kind: 'tor', host: ONION, port: 3456 });
  assert.deepEqual(nurlToDialTarget(parseNurl(`pb+i2p://${SPKI}@${B32}:1/${SWISS}#v=1`)), { kind: 'i2p', address: B32, port: 1 });
});

test('isNonPublicNumericAddress (AN-3.2) and isLoopbackAddress', () => {
  const nonPublic = [
    '127.0.0.1', '127.255.0.3', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.0.1',
    '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.255', '240.0.0.1',
    '255.255.255.255', '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.18.0.1', '192.0.0.8',
    '::1', '::', '2001:db8::1', '2a00:1450::1', '[::1]', 'fe80::1%eth0', '::ffff:8.8.8.8',
    '127.1', '2130706433', '0x7f.0.0.1', '0177.0.0.1', '10.1',
  ];
  for (const h of nonPublic) assert.equal(isNonPublicNumericAddress(h), true, h);
  const publicOrName = ['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.32.0.1', '11.0.0.1', 'example.net', ONION, 'localhost', '1.2.3.4.example'];
  for (const h of publicOrName) assert.equal(isNonPublicNumericAddress(h), false, h);
  for (const h of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(h), true, h);
  for (const h of ['localhost', '128.0.0.1', '10.0.0.1', '::', '0.0.0.0', '::2']) assert.equal(isLoopbackAddress(h), false, h);
});

test('tub.location written with the double quotes of the original design document is accepted', () => {
  const quoted = parseTubLocation('"AUTODETECT,onion:80:hiddenServiceDir=/var/lib/tor/my_service"');
  assert.deepEqual(quoted, parseTubLocation('AUTODETECT,onion:80:hiddenServiceDir=/var/lib/tor/my_service'));
  assert.throws(() => parseTubLocation('"AUTODETECT'), (e: unknown) => isTahoeError(e));
});
