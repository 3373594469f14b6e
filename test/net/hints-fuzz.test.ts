/**
 * Fuzz test of every endpoint/hint/URL/address parser: random strings and mutations of
 * valid ones. Every failure must be a TahoeError of an input kind with a hint (never a
 * TypeError, RangeError or a hang); every success must survive format → parse unchanged.
 *
 * Reproduce a failure with FUZZ_SEED=<seed printed in the failure message>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { isTahoeError } from '../../src/errors.js';
import {
  checkHost,
  formatClientEndpoint,
  formatDescriptor,
  formatFurl,
  formatHint,
  formatNurl,
  formatServerEndpoint,
  formatServiceUrl,
  formatTubLocation,
  formatTubPort,
  hintToDialTarget,
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
import { parseOnionAddress } from '../../src/net/tor/onion-address.js';
import { i2pBase64Decode, i2pBase64Encode, parseI2pAddress } from '../../src/net/i2p/address.js';

const INPUT_KINDS = new Set(['EndpointInvalid', 'OnionAddressInvalid', 'I2pAddressInvalid']);
const TOTAL_INPUTS = 100_000;

// A small deterministic PRNG (xorshift32) so a failing case can be replayed.
function makeRandom(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const B32 = `${'a'.repeat(51)}q.b32.i2p`;
const DEST = i2pBase64Encode(Buffer.concat([randomBytes(384), Buffer.from([5, 0, 4, 0, 7, 0, 0])]));
const TUBID = 'sisi4zenj7cxncgvdog7szg3yxbrnamy';
const SWISS = 'xphmwz6lx24rh2nxlinnixphmwz6lx24';
const SPKI = createHash('sha256').update('spki').digest('base64url');

const SEEDS = [
  '3457', 'tcp:3457', 'tcp:port=3457:interface=127.0.0.1', 'tcp:interface=127.0.0.1:8098', 'tcp6:3457:interface=\\:\\:1',
  'tcp:0:backlog=5', 'unix:/run/x.sock:mode=660:lockfile=1', 'listen:tor', 'listen:i2p', 'disabled', 'AUTO', 'AUTODETECT', 'UNREACHABLE',
  'onion:80:hiddenServiceDir=/var/lib/tor/my_service', 'onion:80:hiddenServiceDir=C\\:\\\\x', 'onion:80:externalPort=80:localPort=8098',
  'i2p:private/i2p_dest.privkey:3457:api=SAM:apiEndpoint=tcp\\:127.0.0.1\\:7656',
  'tcp:example.net:3456', 'tcp:[2001:db8::1]:3456', 'tcp:host=example.net:port=3456', 'tcp:host=\\:\\:1:port=80', 'example.net:3456',
  'client.fakelocation:0', `tor:${ONION}:3457`, `${ONION}:3457`, `i2p:${B32}:3457`, `i2p:${B32}`, 'i2p:tahoe.i2p', `i2p:${DEST}:3457`,
  'tcp:127.0.0.1:9050', 'unix:/var/run/tor/control', 'unix:path=private/tor.control',
  `AUTO,tcp:example.net:3456,example.org:3457,tor:${ONION}:3457,i2p:${B32}:3457`,
  'AUTODETECT,onion:80:hiddenServiceDir=/var/lib/tor/my_service', '3457,listen:tor,listen:i2p',
  `pb://${TUBID}@tcp:127.1:34399/${SWISS}`, `pb://${TUBID}@localhost:47877,tor:${ONION}:3457,quic:x/${SWISS}`, `pb://${TUBID}@/${SWISS}`,
  `pb://${SPKI}@127.0.0.1:3456/${SWISS}#v=1`, `pb://${SPKI}@[::1]:3456/${SWISS}#v=1`, `pb+tor://${SPKI}@${ONION}:3457/${SWISS}#v=1`,
  `pb+i2p://${SPKI}@${B32}/${SWISS}#v=1`, `pb+i2p://${SPKI}@tahoe.i2p:3457/${SWISS}#v=1`,
  ONION, 'ualhejtq2p7ohfbb.onion', B32, 'tahoe.i2p', DEST, '127.0.0.1', '::1', '10.1', '0x7f.0.0.1', '2130706433',
];

const ALPHABET = [
  ':', ':', '=', '\\', ',', '/', '@', '#', '[', ']', '.', '-', '~', '_', ' ', '%', '+', '?', '0', '1', '9', 'a', 'z', 'A', 'Z', '2', '7',
  'é', '\u0000', '\n', '\u2028', '😀', '\uD800', 'ı', 'K', 'ſ',
];
const SPLICES = ['99999999999999999999', '65536', '-1', '0', '00080', '\\:', '\\\\', '\\=', '=', '::', ',,', 'tcp:', 'tor:', 'i2p:', 'onion:', 'unix:',
  '.onion', '.b32.i2p', '.i2p', '#v=1', 'pb://', '@', '[::1]', 'interface=', 'hiddenServiceDir=', '1e3', '0x10', 'NaN', 'Infinity', 'constructor', '__proto__'];

function mutate(s: string, rnd: (n: number) => number): string {
  const chars = Array.from(s);
  const rounds = 1 + rnd(4);
  for (let r = 0; r < rounds; r++) {
    const pos = chars.length === 0 ? 0 : rnd(chars.length + 1);
    switch (rnd(8)) {
      case 0: // replace a character
        if (chars.length > 0) chars[Math.min(pos, chars.length - 1)] = ALPHABET[rnd(ALPHABET.length)];
        break;
      case 1: // insert a character
        chars.splice(pos, 0, ALPHABET[rnd(ALPHABET.length)]);
        break;
      case 2: // delete a run
        chars.splice(pos, 1 + rnd(4));
        break;
      case 3: // splice in a loaded token
        chars.splice(pos, 0, ...Array.from(SPLICES[rnd(SPLICES.length)]));
        break;
      case 4: // empty a ':'-separated part
        return chars.join('').split(':').map((p, i) => (i === rnd(4) ? '' : p)).join(':');
      case 5: // cross over with another seed
        return chars.slice(0, pos).join('') + SEEDS[rnd(SEEDS.length)].slice(rnd(20));
      case 6: // flip case of a character
        if (chars.length > 0) {
          const i = Math.min(pos, chars.length - 1);
          chars[i] = chars[i] === chars[i].toUpperCase() ? chars[i].toLowerCase() : chars[i].toUpperCase();
        }
        break;
      default: // truncate
        chars.length = Math.min(chars.length, pos);
    }
  }
  return chars.join('');
}

function randomString(rnd: (n: number) => number): string {
  const n = rnd(60);
  let s = '';
  for (let i = 0; i < n; i++) s += rnd(3) === 0 ? SPLICES[rnd(SPLICES.length)] : ALPHABET[rnd(ALPHABET.length)];
  return s;
}

interface Target {
  name: string;
  /** Parses, and on success checks the round trip; throws what the parser throws. */
  run(input: string): void;
}

function roundTripTarget<T>(name: string, parse: (s: string) => T, format: (v: T) => string): Target {
  return {
    name,
    run(input) {
      const value = parse(input);
      const text = format(value);
      assert.deepStrictEqual(parse(text), value, `${name}: ${JSON.stringify(input)} → ${JSON.stringify(text)} does not round-trip`);
    },
  };
}

const TARGETS: Target[] = [
  roundTripTarget('parseDescriptor', parseDescriptor, (d) => formatDescriptor(d.type, d.args, [...d.kwargs])),
  roundTripTarget('parseServerEndpoint', (s) => parseServerEndpoint(s), formatServerEndpoint),
  roundTripTarget('parseClientEndpoint', (s) => parseClientEndpoint(s), formatClientEndpoint),
  roundTripTarget('parseHint', (s) => parseHint(s), formatHint),
  roundTripTarget('parseHint(allowUnknown)', (s) => parseHint(s, { allowUnknown: true }), formatHint),
  roundTripTarget('parseTubLocation', parseTubLocation, formatTubLocation),
  roundTripTarget('parseTubPort', parseTubPort, formatTubPort),
  roundTripTarget('parseFurl', parseFurl, formatFurl),
  roundTripTarget('parseNurl', parseNurl, formatNurl),
  roundTripTarget('parseServiceUrl', parseServiceUrl, formatServiceUrl),
  roundTripTarget('parseOnionAddress', parseOnionAddress, (v) => v.address),
  roundTripTarget('parseI2pAddress', parseI2pAddress, (v) => v.address),
  roundTripTarget('i2pBase64Decode', (s) => i2pBase64Decode(s), i2pBase64Encode),
  { name: 'checkHost', run: (s) => void checkHost(s, 'fuzz') },
  {
    name: 'address predicates and dial targets',
    run(s) {
      assert.equal(typeof isNonPublicNumericAddress(s), 'boolean');
      assert.equal(typeof isLoopbackAddress(s), 'boolean');
      const hint = parseHint(s, { allowUnknown: true });
      if (hint.type !== 'unknown' && !(hint.type !== 'i2p' && hint.port === 0)) hintToDialTarget(hint);
      if (s.includes('#')) nurlToDialTarget(parseNurl(s));
    },
  },
];

test(`fuzz: ${TOTAL_INPUTS} random and mutated inputs through every parser`, () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const rnd = makeRandom(seed);
  const successes = new Map<string, number>(TARGETS.map((t) => [t.name, 0]));
  const started = performance.now();
  // Stack traces are most of the cost of a throw; the failure message below carries the input instead.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (let i = 0; i < TOTAL_INPUTS; i++) {
      const r = rnd(10);
      const input = r < 2 ? randomString(rnd) : r < 3 ? SEEDS[rnd(SEEDS.length)] : mutate(SEEDS[rnd(SEEDS.length)], rnd);
      for (const target of TARGETS) {
        try {
          target.run(input);
          successes.set(target.name, (successes.get(target.name) ?? 0) + 1);
        } catch (e) {
          if (isTahoeError(e) && INPUT_KINDS.has(e.kind) && e.hint.length > 0) continue;
          assert.fail(`FUZZ_SEED=${seed} input #${i} ${JSON.stringify(input)}: ${target.name} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`fuzz seed ${seed}: ${TOTAL_INPUTS} inputs × ${TARGETS.length} parsers in ${seconds.toFixed(1)} s; successes ${JSON.stringify(Object.fromEntries(successes))}\n`);
  // The mutations must reach the success paths too, or the round-trip check tests nothing.
  for (const [name, count] of successes) assert.ok(count > 50, `${name} succeeded only ${count} times`);
});
