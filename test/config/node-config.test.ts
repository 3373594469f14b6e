/** Validator and typed configuration: unknown keys, defaults, value syntaxes, cross-key rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { parseCfg } from '../../src/config/cfg.js';
import { NodeConfig } from '../../src/config/node-config.js';
import { EXTENSION_KEYS, KEYS, SECTIONS, isKeyValid, keySpec } from '../../src/config/schema.js';
import { editDistance, nearest, validateCfg } from '../../src/config/validate.js';
import { parseDate, parseDuration, parseIntValue, parseSize } from '../../src/config/values.js';
import { TahoeError, isTahoeError } from '../../src/errors.js';

const DIR = '/srv/node';
const cfgOf = (text: string) => parseCfg(text, `${DIR}/tahoe.cfg`);
const configOf = (text: string, type: 'client' | 'introducer' = 'client') => new NodeConfig(cfgOf(text), DIR, type);

test('schema: the 1.20 keys of configuration.md §1 are all there, extensions are marked', () => {
  const listed = {
    node: 'log_gatherer.furl nickname reveal-ip-address tempdir timeout.disconnect timeout.keepalive tub.location tub.port web.port web.static',
    connections: 'tcp',
    tor: 'control.port enabled launch socks.port tor.executable onion onion.local_port onion.external_port onion.private_key_file',
    i2p: 'enabled i2p.configdir i2p.executable launch sam.port dest dest.port dest.private_key_file',
    client: 'helper.furl introducer.furl key_generator.furl mutable.format peers.preferred shares.happy shares.needed shares.total shares._max_immutable_segment_size_for_testing storage.plugins force_foolscap',
    storage: 'debug_discard enabled anonymous expire.cutoff_date expire.enabled expire.immutable expire.mode expire.mutable expire.override_lease_duration readonly reserved_space storage_dir plugins grid_management force_foolscap',
    sftpd: 'accounts.file enabled host_privkey_file host_pubkey_file port',
    helper: 'enabled',
  };
  for (const [section, keys] of Object.entries(listed)) {
    for (const k of keys.split(' ')) assert.equal(keySpec(section, k)?.origin, 'tahoe-1.20', `[${section}] ${k}`);
  }
  const tahoeCount = KEYS.filter((k) => k.origin === 'tahoe-1.20').length;
  assert.equal(tahoeCount, Object.values(listed).join(' ').split(' ').length, 'no invented 1.20 keys');
  assert.deepEqual(EXTENSION_KEYS.map((k) => `[${k.section}] ${k.key}`).sort(),
    ['[i2p] sam.options', '[node] anonymize', '[node] log_sensitive', '[tor] bootstrap_timeout', '[tor] launch.extra_torrc']);
  for (const k of KEYS) assert.ok(k.note.length > 5, `note for [${k.section}] ${k.key}`);
  assert.ok(isKeyValid('storageserver.plugins.foo', 'anything', 'client'));
  assert.ok(!isKeyValid('storageserver.plugins.', 'anything', 'client'));
  assert.ok(isKeyValid('grid_managers', 'x', 'client'));
  assert.ok(!isKeyValid('client', 'shares.needed', 'introducer'));
  assert.ok(SECTIONS.every((s) => s.note.length > 0));
});

test('did you mean: edit distance finds typos, a key from another section is pointed at', () => {
  assert.equal(editDistance('anonymise', 'anonymize'), 1);
  assert.equal(editDistance('tub.prot', 'tub.port'), 1);
  assert.equal(nearest('anonymise', ['anonymize', 'nickname']), 'anonymize');
  assert.equal(nearest('zzzzzzzz', ['anonymize', 'nickname']), undefined);
  const problems = validateCfg(cfgOf('[node]\nanonymise = true\nreveal-ip-adress = false\nsocks.port = tcp:127.0.0.1:9050\nTub.Prot = tcp:1\n[Node]\nx = 1\n'), 'client');
  const byKey = new Map(problems.map((p) => [p.key ?? p.section, p]));
  assert.match(byKey.get('anonymise')?.hint ?? '', /did you mean anonymize\?/);
  assert.match(byKey.get('reveal-ip-adress')?.hint ?? '', /did you mean reveal-ip-address\?/);
  assert.match(byKey.get('socks.port')?.hint ?? '', /belongs in \[tor\]/);
  assert.match(byKey.get('tub.prot')?.message ?? '', /line 5: \[node\] Tub\.Prot is not a known key/);
  assert.match(byKey.get('Node')?.hint ?? '', /did you mean \[node\]\? \(section names are case-sensitive\)/);
  for (const p of problems) assert.equal(p.kind, 'ConfigUnknownKey');
});

test('introducer nodes: client sections are unknown there, [DEFAULT] keys show through everywhere', () => {
  const problems = validateCfg(cfgOf('[node]\nnickname = i\n[client]\nshares.needed = 3\n'), 'introducer');
  assert.equal(problems.length, 1);
  assert.match(problems[0].hint, /no \[client\] section/);
  const d = validateCfg(cfgOf('[DEFAULT]\nnickname = d\n[node]\n[tor]\n'), 'client');
  assert.equal(d.length, 1);
  assert.match(d[0].message, /\[DEFAULT\] nickname appears in every section, and \[tor\] has no key "nickname"/);
});

test('values: booleans, ints, enums, fURLs with #, endpoints, extension warnings', () => {
  const problems = validateCfg(cfgOf([
    '[node]', 'reveal-IP-address = maybe', 'tub.port = tcp:0', 'web.port = tcp:notaport', 'anonymize = false', 'timeout.keepalive = soon',
    '[client]', 'mutable.format = MDMF', 'shares.total = 300', 'helper.furl = pb://a@b:1/c #comment',
    '[connections]', 'tcp = i2p',
    '[tor]', 'socks.port = 9050', 'onion.local_port = 70000',
    '[storage]', 'reserved_space = 12 cubits', 'expire.mode = never', 'expire.cutoff_date = 2026-02-30',
  ].join('\n') + '\n'), 'client');
  const msg = (key: string) => problems.filter((p) => p.key === key || p.message.includes(`] ${key} `)).map((p) => `${p.severity}: ${p.message} | ${p.hint}`).join('\n');
  assert.match(msg('reveal-IP-address'), /not a boolean/);
  assert.match(msg('tub.port'), /error: .*tub\.port is invalid/);
  assert.match(msg('web.port'), /error: .*web\.port is invalid/);
  assert.match(msg('anonymize'), /warning: .*tahoe-ts extension \| real Tahoe-LAFS 1\.20 refuses/);
  assert.match(msg('timeout.keepalive'), /not a whole number/);
  assert.equal(msg('mutable.format'), '', 'enum values are case-insensitive where Tahoe lower-cases them');
  assert.match(msg('shares.total'), /out of range \| write a whole number from 1 to 256/);
  assert.match(msg('helper.furl'), /contains "#"/);
  assert.match(msg('tcp'), /use one of: tcp, tor, disabled/);
  assert.match(msg('socks.port'), /bare port number/);
  assert.match(msg('onion.local_port'), /out of range/);
  assert.match(msg('reserved_space'), /not a size/);
  assert.match(msg('expire.mode'), /use one of: age, cutoff-date/);
  assert.match(msg('expire.cutoff_date'), /not a date/);
  for (const p of problems) assert.ok(p.hint.length > 8 && p.line !== undefined, JSON.stringify(p));
});

test('[client] introducer.furl takes a tahoe-ts introducer\'s NURLs (#v=1, a tahoe-ts extension); any other "#" is still refused', () => {
  const hash = 'A'.repeat(43);
  const swiss = 'b'.repeat(32);
  const onion = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
  const one = `pb://${hash}@127.0.0.1:3457/${swiss}#v=1`;
  const two = `${one} pb+tor://${hash}@${onion}:3457/${swiss}#v=1`;
  const furlProblems = (key: string, value: string) => validateCfg(cfgOf(`[client]\n${key} = ${value}\n`), 'client').filter((p) => p.key === key);
  for (const ok of [one, two, two.replace(' ', ','), `pb+i2p://${hash}@${'a'.repeat(52)}.b32.i2p/${swiss}#v=1`, `pb://tubid@tcp:h:1/${swiss}`]) {
    assert.deepEqual(furlProblems('introducer.furl', ok), [], ok);
  }
  for (const bad of [`${one} #comment`, `${one}#comment`, `pb://${hash}@h:1/${swiss} #v=1`, `pb://a@b:1/c #comment`, `${one}#v=1`, `http://x/y#v=1`, `#v=1`, `${one} # ${one}`]) {
    const problems = furlProblems('introducer.furl', bad);
    assert.equal(problems.length, 1, bad);
    assert.match(problems[0].message, /contains "#"/);
    assert.match(problems[0].hint, /"#v=1" that ends each NURL/);
  }
  // Other *.furl keys name Foolscap services, which have no NURL: 1.20's rule stands.
  assert.match(furlProblems('helper.furl', one)[0]?.message ?? '', /contains "#"/);
});

test('value parsers: sizes, durations, dates, ints per configuration.md §2', () => {
  const src = { section: 'storage', key: 'reserved_space' };
  const sizes: Array<[string, number]> = [
    ['', 0], ['0', 0], ['123', 123], ['123B', 123], ['2K', 2000], ['2kb', 2000], ['2KiB', 2048], ['100MB', 1e8], ['100 M', 1e8],
    ['100000kb', 1e8], ['1MiB', 1048576], ['1024KiB', 1048576], ['1024 Ki', 1048576], ['1048576B', 1048576], ['1G', 1e9], ['4GiB', 4 * 2 ** 30],
    ['1T', 1e12], ['1P', 1e15], ['1TiB', 2 ** 40],
  ];
  for (const [text, bytes] of sizes) assert.equal(parseSize(text, src), bytes, text);
  assert.throws(() => parseSize('99999999E', src), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /too large/.test(e.message));
  for (const bad of ['12 cubits', '1.5G', '-1', 'G', '1GG', '1Bi']) {
    assert.throws(() => parseSize(bad, src), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /\[storage\] reserved_space/.test(e.message) && /1G, 100MB, 512MiB/.test(e.hint), bad);
  }
  assert.equal(parseDuration('31 days', src), 31 * 86400);
  assert.equal(parseDuration('2months', src), 62 * 86400);
  assert.equal(parseDuration('1 year', src), 365 * 86400);
  assert.equal(parseDuration('3 mo', src), 93 * 86400);
  assert.throws(() => parseDuration('5', src), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  assert.equal(parseDate('2026-01-31', src).toISOString(), '2026-01-31T00:00:00.000Z');
  assert.throws(() => parseDate('2026-13-01', src), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  assert.equal(parseIntValue(' 42 ', src), 42);
  assert.throws(() => parseIntValue('0x10', src), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
  assert.throws(() => parseIntValue('7', src, 1, 5), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /from 1 to 5/.test(e.hint));
});

test('NodeConfig: 1.20 defaults when everything is unset', () => {
  const c = configOf('[node]\n');
  assert.equal(c.node.nickname, '<unspecified>');
  assert.equal(c.node.webPort, undefined);
  assert.equal(c.node.webStatic, path.join(DIR, 'public_html'));
  assert.equal(c.node.tubPort, undefined);
  assert.deepEqual(c.node.tubLocation, { type: 'items', items: [{ type: 'auto', spelling: 'AUTO' }] });
  assert.equal(c.node.revealIpAddress, true);
  assert.equal(c.node.tempdir, path.join(DIR, 'tmp'));
  assert.equal(c.node.anonymize, undefined);
  assert.equal(c.node.logSensitive, false);
  assert.equal(c.connections.tcp, 'tcp');
  assert.equal(c.tor.enabled, true);
  assert.equal(c.tor.socksPort, undefined);
  assert.equal(c.tor.launch, false);
  assert.equal(c.tor.bootstrapTimeout, 180);
  assert.equal(c.i2p.enabled, true);
  assert.deepEqual(c.i2p.samOptions, {});
  assert.deepEqual(c.client.shares, { needed: 3, happy: 7, total: 10 });
  assert.equal(c.client.mutableFormat, 'sdmf');
  assert.equal(c.client.maxSegmentSize, 1048576);
  assert.equal(c.storage.enabled, true);
  assert.equal(c.storage.reservedSpace, 0);
  assert.equal(c.storage.storageDir, path.join(DIR, 'storage'));
  assert.equal(c.storage.expireMode, 'age');
  assert.equal(c.helper.enabled, false);
  assert.equal(c.listening, true);
  assert.deepEqual(c.problems(), []);
  // Introducers never run storage or a helper.
  assert.equal(configOf('[node]\n', 'introducer').storage.enabled, false);
});

test('NodeConfig: typed values, paths relative to the node directory, endpoints parsed', () => {
  const c = configOf([
    '[node]', 'nickname = Zoë', 'web.port = tcp:3456:interface=127.0.0.1', 'tub.port = tcp:3457:interface=127.0.0.1,listen:i2p',
    'tub.location = tor:aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457', 'tempdir = /var/tmp/t', 'web.static = ~/www',
    'reveal-IP-address = false', 'timeout.keepalive = 60', 'log_sensitive = yes',
    '[connections]', 'tcp = TOR',
    '[tor]', 'socks.port = unix:/run/tor/socks', 'control.port = tcp:127.0.0.1:9051', 'tor.executable = tor', 'launch.extra_torrc = private/extra.torrc', 'bootstrap_timeout = 30',
    '[i2p]', 'dest = true', 'dest.port = 3457', 'dest.private_key_file = private/i2p_dest.privkey', 'sam.options = inbound.length=0 outbound.length=0',
    '[client]', 'shares.needed = 1', 'shares.happy = 1', 'shares.total = 1', 'peers.preferred = v0-a, v0-b', 'mutable.format = mdmf',
    '[storage]', 'reserved_space = 1MiB', 'storage_dir = ../shares', 'expire.enabled = true', 'expire.mode = cutoff-date', 'expire.cutoff_date = 2026-01-01',
  ].join('\n') + '\n');
  assert.deepEqual(c.problems(), []);
  assert.equal(c.node.nickname, 'Zoë');
  assert.deepEqual(c.node.webPort, { type: 'tcp', port: 3456, interface: '127.0.0.1' });
  assert.deepEqual(c.node.tubPort, { type: 'endpoints', endpoints: [{ type: 'tcp', port: 3457, interface: '127.0.0.1' }, { type: 'listen', transport: 'i2p' }] });
  assert.equal(c.node.tubLocation.type, 'items');
  assert.equal(c.node.tempdir, '/var/tmp/t');
  assert.equal(c.node.webStatic, path.join(os.homedir(), 'www'));
  assert.equal(c.node.timeoutKeepalive, 60);
  assert.equal(c.node.logSensitive, true);
  assert.equal(c.connections.tcp, 'tor');
  assert.deepEqual(c.tor.socksPort, { type: 'unix', path: '/run/tor/socks' });
  assert.deepEqual(c.tor.controlPort, { type: 'tcp', host: '127.0.0.1', port: 9051 });
  assert.equal(c.tor.executable, 'tor');
  assert.equal(c.tor.launchExtraTorrc, path.join(DIR, 'private/extra.torrc'));
  assert.equal(c.tor.bootstrapTimeout, 30);
  assert.equal(c.i2p.destPrivateKeyFile, path.join(DIR, 'private/i2p_dest.privkey'));
  assert.deepEqual(c.i2p.samOptions, { 'inbound.length': '0', 'outbound.length': '0' });
  assert.deepEqual(c.client.shares, { needed: 1, happy: 1, total: 1 });
  assert.deepEqual(c.client.peersPreferred, ['v0-a', 'v0-b']);
  assert.equal(c.client.mutableFormat, 'mdmf');
  assert.equal(c.storage.reservedSpace, 1048576);
  assert.equal(c.storage.storageDir, path.resolve(DIR, '../shares'));
  assert.equal(c.storage.expireCutoffDate?.toISOString(), '2026-01-01T00:00:00.000Z');
  assert.deepEqual(c.privacySettings(), {
    anonymize: undefined, revealIpAddress: false, connectionsTcp: 'TOR', tubPort: 'tcp:3457:interface=127.0.0.1,listen:i2p',
    tubLocation: 'tor:aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457', webPort: 'tcp:3456:interface=127.0.0.1',
    torEnabled: true, i2pEnabled: true, torSocksPort: 'unix:/run/tor/socks', torControlPort: 'tcp:127.0.0.1:9051', i2pSamPort: undefined,
  });
});

test('NodeConfig: cross-key rules name the key and the fix', () => {
  const cases: Array<[string, RegExp, RegExp]> = [
    ['[client]\nshares.needed = 5\nshares.happy = 4\n', /shares\.happy breaks 1 ≤ shares\.needed \(5\) ≤ shares\.happy \(4\)/, /raise shares\.happy/],
    ['[client]\nshares.happy = 11\n', /shares\.total breaks/, /lower shares\.happy/],
    ['[node]\ntub.port = disabled\ntub.location = disabled\n', /tub\.port is disabled, but a storage server/, /\[storage\] enabled = false/],
    ['[node]\ntub.port = listen:tor\ntub.location = tor:aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457\n', /contains listen:tor, but \[tor\] onion is not true/, /create-node --listen=tor/],
    ['[node]\ntub.port = listen:i2p\ntub.location = disabled\n', /contains listen:i2p/, /\[i2p\] dest = true/],
    ['[tor]\nlaunch = true\ncontrol.port = tcp:127.0.0.1:9051\n', /launch is true together with control\.port/, /not both/],
    ['[tor]\nonion = true\nonion.local_port = 1\n', /onion is true, but onion\.external_port, onion\.private_key_file are missing/, /--listen=tor/],
    ['[i2p]\ndest = true\nenabled = false\ndest.port = 1\ndest.private_key_file = k\n', /dest is true, but \[i2p\] enabled = false/, /enable I2P/],
    ['[i2p]\nsam.options = inbound.length\n', /sam\.options has "inbound\.length", which is not key=value/, /inbound\.length=0/],
    ['[storage]\nexpire.enabled = true\nexpire.mode = cutoff-date\n', /expire\.cutoff_date is required/, /YYYY-MM-DD/],
  ];
  for (const [text, message, hint] of cases) {
    const problems = configOf(text).problems();
    assert.ok(problems.some((p) => message.test(p.message) && hint.test(p.hint) && p.kind === 'ConfigInvalid'), `${text}\n→ ${JSON.stringify(problems, null, 1)}`);
  }
  // anonymize with no tub keys: the node does not listen, so it is a client only (the
  // original design's "UNREACHABLE"): no storage server unless asked, and asking is an error.
  const clientOnly = configOf('[node]\nanonymize = true\n');
  assert.equal(clientOnly.listening, false);
  assert.equal(clientOnly.storage.enabled, false);
  assert.deepEqual(clientOnly.problems().map((p) => `${p.severity} ${p.section ?? ''}.${p.key ?? ''}`), ['warning storage.enabled']);
  assert.ok(configOf('[node]\nanonymize = true\n[storage]\nenabled = true\n').problems().some((p) => p.severity === 'error' && /needs a listener/.test(p.message)));
  assert.deepEqual(configOf('[node]\nanonymize = true\n[storage]\nenabled = false\n').problems(), []);
  // A node that listens keeps storage on by default; tub.port = disabled without a word about storage is still an error.
  assert.equal(configOf('[node]\nanonymize = true\ntub.port = listen:tor\n').storage.enabled, true);
  assert.ok(configOf('[node]\ntub.port = disabled\ntub.location = disabled\n').problems().some((p) => p.severity === 'error' && /needs a listener/.test(p.message)));
  assert.deepEqual(configOf('[node]\nanonymize = true\n').node.tubLocation, { type: 'items', items: [{ type: 'unreachable' }] });
  assert.ok(configOf('[node]\ntub.port = disabled\ntub.location = disabled\n', 'introducer').problems().some((p) => /an introducer needs a listener/.test(p.message)));
});

test('NodeConfig: reading a bad value throws ConfigInvalid with file and line', () => {
  const c = configOf('[node]\nnickname = ok\nreveal-IP-address = perhaps\n');
  assert.throws(() => c.node.revealIpAddress, (e: unknown) => e instanceof TahoeError && e.kind === 'ConfigInvalid' && e.message.startsWith(`${DIR}/tahoe.cfg line 3: [node] reveal-IP-address`));
  assert.throws(() => c.privacySettings(), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
});

test('docs/configuration.md documents every key of the schema table, each with a default, and both privacy spellings', async () => {
  const { readFileSync } = await import('node:fs');
  const original = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const doc = original.toLowerCase();
  for (const k of KEYS) {
    const section = doc.indexOf(`### \`[${k.section}]\``);
    const mentioned = section >= 0 ? doc.indexOf(`\`${k.key}\``, section) >= 0 : doc.includes(`\`${k.key}\``);
    assert.ok(mentioned, `[${k.section}] ${k.key} is not in docs/configuration.md`);
  }
  for (const k of EXTENSION_KEYS) assert.ok(doc.includes(`\`[${k.section}] ${k.key}\``), `extension [${k.section}] ${k.key} not in the extensions table`);

  // Every key of a section with a key table has its own row, and the row says what applies
  // when the key is absent: a real default, or "none" — never an empty cell or a dash.
  const tabled = new Set(SECTIONS.map((s) => s.name).filter((name) => doc.includes(`### \`[${name}]\``)));
  assert.ok(['node', 'connections', 'tor', 'i2p', 'client', 'storage'].every((name) => tabled.has(name)), 'the six key tables are there');
  for (const k of KEYS.filter((spec) => tabled.has(spec.section))) {
    const start = doc.indexOf(`### \`[${k.section}]\``);
    const end = doc.indexOf('\n#', start + 1);
    const table = doc.slice(start, end < 0 ? undefined : end);
    const row = table.split('\n').find((line) => line.startsWith(`| \`${k.key}\` |`));
    assert.ok(row !== undefined, `[${k.section}] ${k.key} has no row in its table`);
    const defaultCell = row.split('|')[2].trim();
    assert.ok(defaultCell !== '' && !/^[-—–]+$/.test(defaultCell), `[${k.section}] ${k.key}: default cell is "${defaultCell}"; write the default, or "none (unset)"`);
    if (k.default !== undefined) assert.ok(defaultCell.includes(k.default.toLowerCase()), `[${k.section}] ${k.key}: the schema's default ${k.default} is not in the docs' default cell "${defaultCell}"`);
  }

  // The privacy section names both spellings of the switch, as written in tahoe.cfg.
  const privacyStart = original.indexOf('## Privacy');
  assert.ok(privacyStart >= 0, 'a privacy section');
  const privacyEnd = original.indexOf('\n## ', privacyStart + 1);
  const privacy = original.slice(privacyStart, privacyEnd < 0 ? undefined : privacyEnd);
  assert.ok(privacy.includes('`[node] anonymize = true`'), 'privacy section names [node] anonymize');
  assert.ok(privacy.includes('`[node] reveal-IP-address = false`'), 'privacy section names [node] reveal-IP-address');
});

test('fuzz: random values for every key give typed values or ConfigInvalid problems, never a crash', () => {
  const values = ['', 'true', 'no', '0', '1', '-1', '70000', '3', '1G', '12 cubits', 'sdmf', 'MDMF', 'tcp', 'tor', 'i2p', 'disabled', 'AUTO', 'AUTODETECT', 'UNREACHABLE',
    'tcp:3457', 'tcp:0', 'tcp:3457:interface=127.0.0.1', 'listen:tor', 'listen:i2p', 'unix:/x', 'tcp:127.0.0.1:9050', '9050', 'tor:aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion:3457',
    'onion:80:hiddenServiceDir=/d', 'client.fakelocation:0', 'a,b', 'x=1 y', '31 days', '2026-02-30', 'pb://x#y', '%%', '~/p', 'tcp:example.net:1,AUTO', '\u00e9'];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const bySection = new Map<string, string[]>();
    for (let j = 1 + rand(8); j > 0; j--) {
      const k = KEYS[rand(KEYS.length)];
      const lines = bySection.get(k.section) ?? [];
      lines.push(`${k.key} = ${values[rand(values.length)]}`);
      bySection.set(k.section, lines);
    }
    const text = [...bySection].map(([s, lines]) => `[${s}]\n${lines.join('\n')}\n`).join('');
    for (const type of ['client', 'introducer'] as const) {
      const c = configOf(text, type);
      const problems = [...validateCfg(c.cfg, type), ...c.problems()];
      for (const p of problems) {
        assert.ok(['ConfigInvalid', 'ConfigUnknownKey'].includes(p.kind), `${text}\n${JSON.stringify(p)}`);
        assert.ok(p.hint.length > 5, JSON.stringify(p));
      }
      try {
        c.privacySettings();
      } catch (e) {
        assert.ok(isTahoeError(e, 'ConfigInvalid'), `${text}\n${String(e)}`);
      }
    }
  }
});
