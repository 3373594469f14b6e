/**
 * `redact()` (src/log.ts) in detail: every spelling of an address a tahoe-ts message can
 * carry is hidden by default (IPv6 with a trailing colon, brackets, zones, a port glued on,
 * IPv4-mapped; onion service ids without ".onion", as tor's control port writes them;
 * percent-encoded caps from web paths), while things that only look similar stay readable
 * (times, tor versions, MAC addresses, loopback). A fuzz pass embeds random addresses and
 * secrets in random text and punctuation: none may survive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { redact, Logger } from '../../src/log.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { onionAddressFromPublicKey } from '../../src/net/hints.js';

const CASES: Array<[string, string]> = [
  ['refusing to ask Tor for 2001:db8::77: no exit', 'refusing to ask Tor for [ip]: no exit'],
  ['connect [2001:db8::77]:3457 failed', 'connect [[ip]]:3457 failed'],
  ['fe80::1%eth0 down', '[ip] down'],
  ['mapped ::ffff:192.0.2.1 here', 'mapped [ip] here'],
  ['2001:db8:1:2:3:4:5:6:3457', '[ip]:3457'],
  ['peer ::77.', 'peer [ip].'],
  ['from 203.0.113.9:443, then 10.0.0.1', 'from [ip]:443, then [ip]'],
  ['ServiceID=aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead', 'ServiceID=[onion]'],
  ['650 HS_DESC UPLOADED aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead UNKNOWN', '650 HS_DESC UPLOADED [onion] UNKNOWN'],
  ['GET /uri/URI%3ACHK%3Aabcd%3Aefgh%3A1%3A2%3A3 500', 'GET /uri/URI:[cap] 500'],
  ['get /uri/uri%3achk%3aabcd', 'get /uri/URI:[cap]'],
  // readable things that merely look like addresses
  ['tor 0.4.9.11 (git-abc) at 12:34:56', 'tor 0.4.9.11 (git-abc) at 12:34:56'],
  ['2026-11-26T17:36:49.579Z INFO ready', '2026-11-26T17:36:49.579Z INFO ready'],
  ['mac aa:bb:cc:dd:ee:ff', 'mac aa:bb:cc:dd:ee:ff'],
  ['socks 127.0.0.1:9050, [::1]:9050, ::ffff:127.0.0.1, listen 0.0.0.0:3457', 'socks 127.0.0.1:9050, [::1]:9050, ::ffff:127.0.0.1, listen 0.0.0.0:3457'],
  ['server v0-ykuecek3 (nickname) sha256 1234:abcd', 'server v0-ykuecek3 (nickname) sha256 1234:abcd'],
  ['real Tahoe-LAFS 1.20 refuses this key', 'real Tahoe-LAFS 1.20 refuses this key'],
  // secrets
  ['Authorization: Tahoe-LAFS c3dpc3NudW1zd2lzc251bXN3aXNzbnVtcw==', 'Authorization: Tahoe-LAFS [secret]'],
  ['X-Tahoe-Authorization: lease-renew-secret 9bQ2Xk3w8z1D0bV1u6A4yWcWmLxkOeB3zR5X0t7q2hY=', 'X-Tahoe-Authorization: lease-renew-secret [secret]'],
];

test('redact(): address spellings hidden, look-alikes kept', () => {
  for (const [input, expected] of CASES) assert.equal(redact(input), expected, input);
});

test('redact(revealAddresses): addresses stay, secrets go', () => {
  const onion = onionAddressFromPublicKey(randomBytes(32));
  const line = `pb+tor://spki@${onion}:3457/swissnumswissnumswissnumswissnu#v=1 at 2001:db8::77: key ED25519-V3:${randomBytes(64).toString('base64')} cap /uri/URI%3ACHK%3Aabc`;
  const out = redact(line, true);
  assert.ok(out.includes('2001:db8::77'), out);
  assert.ok(!out.includes('swissnum') && !out.includes('URI%3A') && !out.includes(onion), out);
});

function randomIpv4(): string {
  // public-looking addresses (not 0/8 or 127/8, which are kept on purpose)
  return [randomInt(1, 127), randomInt(0, 256), randomInt(0, 256), randomInt(0, 256)].join('.');
}

function randomIpv6(): string {
  const groups = Array.from({ length: 8 }, () => randomInt(0, 0x10000).toString(16));
  groups[0] = (0x2000 + randomInt(0, 0x1000)).toString(16);
  const form = randomInt(0, 3);
  if (form === 0) return groups.join(':');
  const cut = randomInt(1, 7);
  const end = randomInt(cut + 1, 8);
  const text = `${groups.slice(0, cut).join(':')}::${groups.slice(end).join(':')}`;
  return form === 1 ? text : text.toUpperCase();
}

const SEPARATORS = [' ', '\t', '(', ')', '"', '=', ',', ';', '/', '@', '[', ']', '<', '>', '\n', '|'];

const WRAPPERS: Array<(s: string) => string> = [
  (s) => ` ${s} `, (s) => `${s}:`, (s) => `(${s})`, (s) => `"${s}"`, (s) => `${s}.`, (s) => `${s},`, (s) => `=${s}`, (s) => `\n${s}\n`, (s) => `<td>${s}</td>`, (s) => `'${s}'`,
];

test('fuzz: random addresses and secrets in random text never survive redact() (and redact never throws)', () => {
  for (let i = 0; i < 5000; i++) {
    const kind = randomInt(0, 6);
    let needle: string;
    let written: string;
    if (kind === 0) written = needle = randomIpv4();
    else if (kind === 1) {
      needle = randomIpv6();
      written = randomInt(0, 2) === 0 ? `[${needle}]:${randomInt(1, 65536)}` : needle;
    } else if (kind === 2) {
      needle = onionAddressFromPublicKey(randomBytes(32)).replace(/\.onion$/, '');
      written = randomInt(0, 2) === 0 ? `${needle}.onion` : needle;
    } else if (kind === 3) {
      needle = base32Encode(randomBytes(32));
      written = `${needle}.b32.i2p`;
    } else if (kind === 4) {
      needle = base32Encode(randomBytes(16));
      written = randomInt(0, 2) === 0 ? `URI:CHK:${needle}:${base32Encode(randomBytes(32))}:3:10:${randomInt(56, 1e9)}` : `/uri/URI%3ACHK%3A${needle}%3Axyz`;
    } else {
      needle = base32Encode(randomBytes(20));
      written = `pb://${base32Encode(randomBytes(20))}@tor:${onionAddressFromPublicKey(randomBytes(32))}:3457/${needle}`;
    }
    const noise = randomBytes(randomInt(0, 40)).toString('latin1').replace(/[^\x20-\xff]/g, ' ');
    // Numeric addresses glued to digits or hex letters are ambiguous text ("624d5:87c9::1" is no
    // address), so they get a separator; names, caps and fURLs are also tested glued to noise.
    const glued = kind >= 2 && randomInt(0, 2) === 0;
    const sep = () => (glued ? '' : SEPARATORS[randomInt(0, SEPARATORS.length)]);
    const text = `${noise}${sep()}${WRAPPERS[randomInt(0, WRAPPERS.length)](written)}${sep()}${noise}`;
    const out = redact(text);
    assert.ok(!out.toLowerCase().includes(needle.toLowerCase()), `kind ${kind}: ${JSON.stringify(text)} → ${JSON.stringify(out)}`);
    assert.equal(redact(out), out, 'redacting twice changes nothing');
  }
});

test('the Logger applies the same rules to every argument (errors, objects, hints)', () => {
  const lines: string[] = [];
  const log = new Logger({ level: 'debug', sink: { write: (l) => lines.push(l) } });
  const err = Object.assign(new Error('cannot reach 2001:db8::5: refused'), { hint: 'check 198.51.100.4' });
  log.debug('failed:', err, { peer: 'fe80::2%eth1', cap: 'URI:CHK:aaaa:bbbb:1:1:1' });
  assert.equal(lines.length, 1);
  assert.ok(!/2001:db8::5|198\.51\.100\.4|fe80::2|aaaa/.test(lines[0]), lines[0]);
});
