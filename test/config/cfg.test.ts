/** tahoe.cfg reader/writer/editor: each rule of configuration.md §1, messages, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeCfgBytes, editCfgText, parseCfg, parseCfgLenient, serializeCfg, serializeCfgValues } from '../../src/config/cfg.js';
import { TahoeError, isTahoeError } from '../../src/errors.js';
import { HAND_WRITTEN, mutate, pick, randomCfg, rng } from './cfg-corpus.js';

const read = (text: string) => parseCfg(decodeCfgBytes(Buffer.from(text, 'utf8')), '/n/tahoe.cfg');

test('sections are case-sensitive, keys are not, repeated sections merge, last key wins', () => {
  const cfg = read('[node]\nNickName = a\n[Node]\nnickname = b\n[node]\nweb.port = tcp:1\nnickname = c\n');
  assert.deepEqual(cfg.sections(), ['node', 'Node']);
  assert.equal(cfg.get('node', 'nickname'), 'c');
  assert.equal(cfg.get('node', 'NICKNAME'), 'c');
  assert.equal(cfg.get('Node', 'nickname'), 'b');
  assert.equal(cfg.get('node', 'web.port'), 'tcp:1');
  assert.equal(cfg.lineOf('node', 'nickname'), 7);
  assert.equal(cfg.spellingOf('node', 'nickname'), 'nickname');
});

test('= and : separate, whitespace is stripped, empty values are empty strings', () => {
  const cfg = read('[node]\na: b = c\nd =   e f  \ng =\nh:\n');
  assert.equal(cfg.get('node', 'a'), 'b = c');
  assert.equal(cfg.get('node', 'd'), 'e f');
  assert.equal(cfg.get('node', 'g'), '');
  assert.equal(cfg.get('node', 'h'), '');
});

test('comments are whole lines only', () => {
  const cfg = read('# a\n[node]\n  ; b\nnickname = x # y\n');
  assert.equal(cfg.get('node', 'nickname'), 'x # y');
  assert.deepEqual(cfg.keys('node'), ['nickname']);
});

test('continuation lines join with \\n; an indented line after a header starts a key', () => {
  const cfg = read('[node]\ntub.location = tcp:a:1,\n  tcp:b:2\n\n    tcp:c:3\n\nx = 1\n[connections]\n tcp = tor\n');
  assert.equal(cfg.get('node', 'tub.location'), 'tcp:a:1,\ntcp:b:2\n\ntcp:c:3');
  assert.equal(cfg.get('connections', 'tcp'), 'tor');
});

test('BOM, CRLF and lone CR are accepted like Python does', () => {
  const cfg = read('\ufeff[node]\r\nnickname = a\rweb.port = tcp:1\r\n');
  assert.equal(cfg.get('node', 'nickname'), 'a');
  assert.equal(cfg.get('node', 'web.port'), 'tcp:1');
});

test('[DEFAULT] keys appear in every section and feed interpolation', () => {
  const cfg = read('[DEFAULT]\nroot = /r\n[node]\np = %(root)s/x\n[client]\nroot = /c\np = %(ROOT)s/y\n');
  assert.deepEqual(cfg.keys('node'), ['p', 'root']);
  assert.equal(cfg.get('node', 'p'), '/r/x');
  assert.equal(cfg.get('client', 'p'), '/c/y');
  assert.equal(cfg.get('missing', 'root'), undefined);
});

test('interpolation errors name the file, line, key and the %% fix', () => {
  const cfg = read('[node]\nnickname = 100% sure\nx = %(nope)s\ny = %(y)s\nz = 50%%\n');
  assert.equal(cfg.get('node', 'z'), '50%');
  assert.equal(cfg.getRaw('node', 'nickname'), '100% sure');
  for (const [key, line, hintPart] of [['nickname', 2, '%%'], ['x', 3, 'define nope'], ['y', 4, 'circular']] as const) {
    assert.throws(() => cfg.get('node', key), (e: unknown) => {
      assert.ok(isTahoeError(e, 'ConfigInvalid'));
      assert.match(e.message, new RegExp(`/n/tahoe.cfg line ${line}: \\[node\\] ${key} `));
      assert.ok(e.hint.includes(hintPart), e.hint);
      assert.equal(e.details.line, line);
      return true;
    });
  }
});

test('booleans: 1 yes true on / 0 no false off, case-insensitive, anything else an error', () => {
  const cfg = read('[s]\na = YES\nb = off\nc = 1\nd = nope\n');
  assert.equal(cfg.getBoolean('s', 'a'), true);
  assert.equal(cfg.getBoolean('s', 'b'), false);
  assert.equal(cfg.getBoolean('s', 'c'), true);
  assert.equal(cfg.getBoolean('s', 'missing'), undefined);
  assert.throws(() => cfg.getBoolean('s', 'd'), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /line 5: \[s\] d /.test(e.message) && e.hint.includes('true/false'));
});

test('syntax errors carry the line and a hint; all of them are listed', () => {
  assert.throws(() => read('nickname = x\n[node]\n'), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && /line 1:/.test(e.message) && e.hint.includes('[node]'));
  const { problems } = parseCfgLenient('[node]\nbogus line\nok = 1\nalso bogus\n= v\n');
  assert.deepEqual(problems.map((p) => p.line), [2, 4, 5]);
  assert.throws(() => read('[node]\nbogus line\n'), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && e.hint.includes('key = value'));
  assert.throws(() => decodeCfgBytes(Buffer.from([0x5b, 0xff, 0x5d])), (e: unknown) => isTahoeError(e, 'ConfigInvalid') && e.hint.includes('UTF-8'));
});

test('writer: key = value lines, % doubled, blank line between sections, refuses what cannot round-trip', () => {
  const text = serializeCfg([
    { name: 'node', lines: [{ key: 'nickname', value: '100% me' }, { comment: 'web' }, { key: 'web.port', value: '' }] },
    { name: 'client', lines: [{ key: 'shares.needed', value: '3' }] },
  ], ['header']);
  assert.equal(text, '# header\n\n[node]\nnickname = 100%% me\n# web\nweb.port =\n\n[client]\nshares.needed = 3\n');
  assert.equal(read(text).get('node', 'nickname'), '100% me');
  assert.equal(serializeCfgValues({ a: { b: 'c' } }), '[a]\nb = c\n');
  for (const bad of [
    () => serializeCfgValues({ node: { nickname: 'two\nlines' } }),
    () => serializeCfgValues({ node: { nickname: ' padded' } }),
    () => serializeCfgValues({ node: { 'a=b': 'x' } }),
    () => serializeCfgValues({ node: { '#k': 'x' } }),
    () => serializeCfgValues({ node: { '[k]': 'x' } }),
    () => serializeCfgValues({ 'a]': { k: 'x' } }),
    () => serializeCfgValues({ '': { k: 'x' } }),
  ]) assert.throws(bad, (e: unknown) => isTahoeError(e, 'BadInput') && e.hint.length > 10);
});

test('editor: replaces in place, keeps comments/order/spelling/CRLF/BOM, appends new keys and sections', () => {
  const input = '\ufeff# top comment\r\n[node]\r\n# the name\r\nNickName = old\r\n  continued\r\nweb.port = tcp:1\r\n\r\n# client stuff\r\n[client]\r\nshares.needed = 3\r\n';
  const out = editCfgText(input, [
    { section: 'node', key: 'nickname', value: 'new 5%' },
    { section: 'node', key: 'tub.port', value: 'disabled' },
    { section: 'client', key: 'shares.needed', value: null },
    { section: 'tor', key: 'enabled', value: 'false' },
  ]);
  assert.equal(out, '\ufeff# top comment\r\n[node]\r\n# the name\r\nNickName = new 5%%\r\nweb.port = tcp:1\r\ntub.port = disabled\r\n\r\n# client stuff\r\n[client]\r\n\r\n[tor]\r\nenabled = false\r\n');
});

test('editor: a new key never swallows or becomes a continuation line', () => {
  // The next significant line is an indented header: an unindented new key would take it as a continuation.
  const input = '[node]\n  a = 1\n  [other]\nb = 2\n';
  const out = editCfgText(input, [{ section: 'node', key: 'c', value: '3' }]);
  const cfg = read(out);
  assert.deepEqual(cfg.toRawObject(), { node: { a: '1', c: '3' }, other: { b: '2' } });
  // Replacing the last of a repeated key in a repeated section.
  const out2 = editCfgText('[node]\nk = 1\n[x]\n[node]\nk = 2\n', [{ section: 'node', key: 'K', value: '3' }]);
  assert.equal(out2, '[node]\nk = 1\n[x]\n[node]\nk = 3\n');
});

test('editor refuses a file with syntax errors rather than guess', () => {
  assert.throws(() => editCfgText('[node]\nbogus\n', [{ section: 'node', key: 'a', value: 'b' }]), (e: unknown) => isTahoeError(e, 'ConfigInvalid'));
});

test('fuzz: random bytes, random and mutated files only ever give values or TahoeErrors', () => {
  const r = rng(99);
  const inputs: Buffer[] = [];
  for (let i = 0; i < 600; i++) inputs.push(randomBytes(Math.floor(r() * 200)));
  for (let i = 0; i < 1500; i++) inputs.push(Buffer.from(i % 2 ? randomCfg(r) : mutate(r, pick(r, Object.values(HAND_WRITTEN))), 'utf8'));
  for (const bytes of inputs) {
    try {
      const { cfg } = parseCfgLenient(decodeCfgBytes(bytes));
      for (const s of cfg.sections()) {
        for (const k of cfg.keys(s)) {
          for (const read of [() => cfg.get(s, k), () => cfg.getBoolean(s, k)]) {
            try {
              read();
            } catch (e) {
              assert.ok(e instanceof TahoeError && e.kind === 'ConfigInvalid' && e.hint.length > 0, String(e));
            }
          }
        }
      }
      const edited = editCfgTextOrError(cfg.sections().length > 0 ? bytes : Buffer.from('[node]\n'));
      if (edited !== null) assert.equal(parseCfgLenient(edited).cfg.get('node', 'fuzzed'), 'yes');
    } catch (e) {
      assert.ok(e instanceof TahoeError && e.kind === 'ConfigInvalid' && e.hint.length > 0, String(e));
    }
  }
});

function editCfgTextOrError(bytes: Buffer): string | null {
  const text = decodeCfgBytes(bytes);
  if (parseCfgLenient(text).problems.length > 0) return null;
  return editCfgText(text, [{ section: 'node', key: 'fuzzed', value: 'yes' }]);
}
