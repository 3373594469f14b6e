import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseServersYaml, formatServersYaml } from '../../src/grid/servers-yaml.js';
import { isTahoeError } from '../../src/errors.js';
import { sampleAnnouncement } from './samples.js';

const PYTHON = '/usr/bin/python3';

function pyyaml(script: string, input: string): string | undefined {
  const r = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return r.stdout;
}

const havePyYaml = pyyaml('import yaml; print("ok")', '') !== undefined;

test('the format Tahoe documents, with YAML 1.1 traps in unquoted scalars', () => {
  const { serverId, ann } = sampleAnnouncement();
  const text = `# written by hand, as docs/configuration.rst shows
storage:
  ${serverId}:
    ann:
      nickname: yes
      anonymous-storage-FURL: ${String(ann['anonymous-storage-FURL'])}
      anonymous-storage-NURLs:
        - ${(ann['anonymous-storage-NURLs'] as string[])[0]}
      permutation-seed-base32: ${String(ann['permutation-seed-base32'])}
    connections:
      tcp: tor
  v0-other:
    ann:
      nickname: '012'
      anonymous-storage-FURL: "${String(ann['anonymous-storage-FURL'])}"
      anonymous-storage-NURLs: !!set {"${(ann['anonymous-storage-NURLs'] as string[])[1]}": null}
  plain-id:
    ann:
      nickname: 012
      anonymous-storage-FURL: ${String(ann['anonymous-storage-FURL'])}
`;
  const { servers } = parseServersYaml(text);
  assert.equal(servers.length, 3);
  const [a, b, c] = servers;
  assert.equal(a.serverId, serverId);
  assert.equal(a.announcement.nickname, 'yes', 'YAML 1.1 would read true; a nickname stays text');
  assert.equal(a.tcpHandler, 'tor');
  assert.deepEqual(a.announcement['anonymous-storage-NURLs'], [(ann['anonymous-storage-NURLs'] as string[])[0]]);
  assert.equal(b.announcement.nickname, '012');
  assert.ok(b.announcement['anonymous-storage-NURLs'] instanceof Set);
  assert.equal(c.announcement.nickname, '012', 'an unquoted 012 (octal in YAML 1.1) keeps its text');
  assert.equal(c.tcpHandler, undefined);
});

test('empty and comment-only files mean no servers', () => {
  for (const text of ['', '# nothing\n', 'storage:\n', 'storage: {}\n', '---\n']) assert.deepEqual(parseServersYaml(text).servers, []);
});

test('structural problems are ConfigInvalid naming the server and the fix', () => {
  const { serverId, ann } = sampleAnnouncement();
  const furl = String(ann['anonymous-storage-FURL']);
  const cases: Array<[string, RegExp]> = [
    ['storage: [1, 2]\n', /not a mapping of server ids/],
    ['- a\n- b\n', /does not hold a mapping/],
    [`storage:\n  ${serverId}: 5\n`, /is not a mapping/],
    [`storage:\n  ${serverId}:\n    connections: {tcp: tor}\n`, /no "ann:" mapping/],
    [`storage:\n  ${serverId}:\n    ann:\n      nickname: x\n`, /anonymous-storage-FURL/],
    [`storage:\n  ${serverId}:\n    ann:\n      anonymous-storage-FURL: ${furl}\n    connections: {tcp: i2p}\n`, /not tcp, tor or disabled/],
    [`storage:\n  ${serverId}:\n    ann: {anonymous-storage-FURL: "${furl}"}\n  ${serverId}:\n    ann: {anonymous-storage-FURL: "${furl}"}\n`, /not valid YAML/],
    ['storage:\n  a: [unclosed\n', /not valid YAML/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseServersYaml(text, '/n/private/servers.yaml'), (e: unknown) => {
      assert.ok(isTahoeError(e, 'ConfigInvalid'), String(e));
      assert.match(e.message, pattern);
      assert.match(e.message, /^\/n\/private\/servers.yaml: /);
      assert.ok(e.hint.length > 10);
      return true;
    }, text);
  }
});

test('formatServersYaml round-trips, and quotes what YAML 1.1 would misread', () => {
  const servers = ['yes', 'no', 'on', 'off', '012', '1e3', 'null', '~', 'a: b', '#hash', 'ünï', ''].map((nickname, i) => {
    const { serverId, ann } = sampleAnnouncement({ nickname, seqnum: i });
    return { serverId, announcement: ann, ...(i % 2 === 0 ? { tcpHandler: 'tor' as const } : {}) };
  });
  const text = formatServersYaml(servers);
  const back = parseServersYaml(text).servers;
  assert.equal(back.length, servers.length);
  back.forEach((s, i) => {
    assert.equal(s.serverId, servers[i].serverId);
    assert.equal(s.announcement.nickname, servers[i].announcement.nickname);
    assert.deepEqual(s.announcement['anonymous-storage-NURLs'], servers[i].announcement['anonymous-storage-NURLs']);
    assert.equal(s.tcpHandler, servers[i].tcpHandler);
  });
});

test('PyYAML (what Tahoe uses) reads our file as we meant it', { skip: !havePyYaml && 'PyYAML not found at /usr/bin/python3' }, () => {
  const servers = ['yes', 'No', '0o17', '012', 'true', '3.5', 'x'].map((nickname) => {
    const { serverId, ann } = sampleAnnouncement({ nickname });
    return { serverId, announcement: ann };
  });
  const out = pyyaml('import sys, yaml, json; d = yaml.safe_load(sys.stdin); print(json.dumps(d))', formatServersYaml(servers));
  assert.ok(out !== undefined);
  const parsed = JSON.parse(out) as { storage: Record<string, { ann: Record<string, unknown> }> };
  for (const s of servers) {
    assert.deepEqual(parsed.storage[s.serverId].ann.nickname, s.announcement.nickname);
    assert.deepEqual(parsed.storage[s.serverId].ann['anonymous-storage-NURLs'], s.announcement['anonymous-storage-NURLs']);
  }
});

test('we read what PyYAML writes (yaml.safe_dump, as Tahoe would)', { skip: !havePyYaml && 'PyYAML not found at /usr/bin/python3' }, () => {
  const samples = ['yes', 'off', '012', '1_000', 'plain', '~'].map((nickname) => sampleAnnouncement({ nickname }));
  const doc = { storage: Object.fromEntries(samples.map((s) => [s.serverId, { ann: s.ann }])) };
  const text = pyyaml('import sys, yaml, json; print(yaml.safe_dump(json.load(sys.stdin)))', JSON.stringify(doc));
  assert.ok(text !== undefined);
  const { servers } = parseServersYaml(text);
  assert.equal(servers.length, samples.length);
  for (const sample of samples) {
    // safe_dump sorts keys: look servers up by id.
    const s = servers.find((x) => x.serverId === sample.serverId);
    assert.ok(s !== undefined);
    assert.equal(s.announcement.nickname, sample.ann.nickname);
    assert.equal(s.announcement['anonymous-storage-FURL'], sample.ann['anonymous-storage-FURL']);
    assert.deepEqual(s.announcement['anonymous-storage-NURLs'], sample.ann['anonymous-storage-NURLs']);
  }
});

test('fuzz: random and mutated files parse or fail with ConfigInvalid only', () => {
  const { serverId, ann } = sampleAnnouncement();
  const base = formatServersYaml([{ serverId, announcement: ann, tcpHandler: 'tor' }]);
  const alphabet = ' \n\t:-#{}[],"\'!&*|>?%@`abcxyz0189.~\\';
  let parsed = 0;
  for (let i = 0; i < 2500; i++) {
    let text: string;
    if (i % 4 === 0) {
      text = Array.from({ length: 1 + (i % 200) }, (_, j) => alphabet[(i * 31 + j * 7 + ((i * j) % 13)) % alphabet.length]).join('');
    } else {
      const chars = [...base];
      for (let j = 0; j < 1 + (i % 5); j++) {
        const at = (i * 977 + j * 131) % chars.length;
        if ((i + j) % 3 === 0) chars.splice(at, 1);
        else chars[at] = alphabet[(i + j * 11) % alphabet.length];
      }
      text = chars.join('');
    }
    try {
      parseServersYaml(text);
      parsed++;
    } catch (e) {
      assert.ok(isTahoeError(e, 'ConfigInvalid'), `unexpected ${String(e)} for ${JSON.stringify(text)}`);
    }
  }
  assert.ok(parsed > 0);
});
