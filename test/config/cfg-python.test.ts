/**
 * The tahoe.cfg parser reads exactly what Python's configparser (as Tahoe-LAFS 1.20 uses
 * it) reads: same sections, keys, raw values, interpolated values, booleans and the same
 * lines blamed for syntax errors — on hand-written tricky files, on random files, on
 * mutated files, and on files our writer and editor produce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCfgBytes, editCfgText, parseCfgLenient, serializeCfg, type CfgEdit, type CfgSectionSpec } from '../../src/config/cfg.js';
import { isTahoeError } from '../../src/errors.js';
import { HAND_WRITTEN, mutate, pick, randomCfg, rng } from './cfg-corpus.js';
import { pythonOrSkip, pythonRead, type PyResult } from './python-oracle.js';

function compare(label: string, bytes: Uint8Array, py: PyResult): void {
  const ctx = `${label}: ${JSON.stringify(Buffer.from(bytes).toString('utf8'))}`;
  let text: string;
  try {
    text = decodeCfgBytes(bytes);
  } catch (e) {
    assert.ok(isTahoeError(e, 'ConfigInvalid'), ctx);
    assert.equal(py.error, 'UnicodeDecodeError', ctx);
    return;
  }
  assert.notEqual(py.error, 'UnicodeDecodeError', ctx);
  const { cfg, problems } = parseCfgLenient(text);
  if (py.error === 'MissingSectionHeaderError') {
    assert.ok(problems.length > 0, `${ctx}: Python found no section header, we accepted the file`);
    assert.equal(problems[0].line, py.errorLines[0], ctx);
    return;
  }
  assert.deepEqual(problems.map((p) => p.line), py.errorLines, `${ctx}: lines blamed for syntax errors`);
  assert.deepEqual(cfg.sections(), py.sections, `${ctx}: sections`);
  const defaults: Record<string, string> = {};
  for (const k of cfg.defaultKeys()) defaults[k] = cfg.getRaw('DEFAULT', k) ?? '';
  assert.deepEqual(defaults, py.defaults, `${ctx}: [DEFAULT]`);
  assert.deepEqual(cfg.toRawObject(), py.raw, `${ctx}: raw values`);
  for (const s of py.sections) {
    for (const [k, want] of Object.entries(py.interpolated[s])) {
      let got: { value: string } | { error: string };
      try {
        got = { value: cfg.get(s, k) ?? '<unset>' };
      } catch (e) {
        assert.ok(isTahoeError(e, 'ConfigInvalid'), `${ctx}: [${s}] ${k}: ${String(e)}`);
        got = { error: 'error' };
      }
      if ('value' in want) assert.deepEqual(got, want, `${ctx}: [${s}] ${k} interpolated`);
      else assert.ok('error' in got, `${ctx}: [${s}] ${k}: Python raised ${want.error}, we read ${JSON.stringify(got)}`);
      const wantBool = py.booleans[s][k];
      let gotBool: boolean | 'error';
      try {
        gotBool = cfg.getBoolean(s, k) ?? false;
      } catch (e) {
        assert.ok(isTahoeError(e, 'ConfigInvalid'), `${ctx}: [${s}] ${k}: ${String(e)}`);
        gotBool = 'error';
      }
      if ('value' in wantBool) assert.equal(gotBool, wantBool.value, `${ctx}: [${s}] ${k} boolean`);
      else assert.equal(gotBool, 'error', `${ctx}: [${s}] ${k} boolean`);
    }
  }
}

test('hand-written tricky files read the same as Python configparser', (t) => {
  if (!pythonOrSkip(t)) return;
  const names = Object.keys(HAND_WRITTEN);
  const bytes = names.map((n) => Buffer.from(HAND_WRITTEN[n], 'utf8'));
  // Invalid UTF-8 and a Latin-1 file, which Tahoe refuses to read.
  names.push('invalid-utf8', 'latin1');
  bytes.push(Buffer.from([0x5b, 0x6e, 0x5d, 0x0a, 0x61, 0x3d, 0xff, 0x0a]), Buffer.from('[node]\nnickname = Zo\xeb\n', 'latin1'));
  const py = pythonRead(bytes);
  names.forEach((n, i) => compare(n, bytes[i], py[i]));
});

test('random and mutated files read the same as Python configparser', (t) => {
  if (!pythonOrSkip(t)) return;
  const seed = Number(process.env.CFG_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (replay with CFG_SEED=${seed})`);
  const r = rng(seed);
  const files: Uint8Array[] = [];
  const handWritten = Object.values(HAND_WRITTEN);
  for (let i = 0; i < 1500; i++) {
    const text = i % 3 === 0 ? mutate(r, pick(r, handWritten)) : randomCfg(r);
    files.push(Buffer.from(text, 'utf8'));
  }
  const py = pythonRead(files);
  let parsedOk = 0;
  files.forEach((f, i) => {
    compare(`seed ${seed} case ${i}`, f, py[i]);
    if (py[i].error === null) parsedOk++;
  });
  // The generator must exercise both valid and invalid files to mean anything.
  assert.ok(parsedOk > 300 && parsedOk < 1400, `only ${parsedOk} of ${files.length} random files were valid`);
});

test('what the writer emits, Python reads back value for value (including % and unicode)', (t) => {
  if (!pythonOrSkip(t)) return;
  const r = rng(4242);
  const specs: CfgSectionSpec[][] = [];
  const alphabet = ['a', 'Z', '%', '%%', '%(a)s', ' ', '=', ':', '#', ';', '[', ']', 'é', '🐢', '\t', ',', 'tcp:1'];
  for (let n = 0; n < 200; n++) {
    const sections: CfgSectionSpec[] = [];
    const used = new Set<string>();
    const count = 1 + Math.floor(r() * 3);
    for (let s = 0; s < count; s++) {
      let name = pick(r, ['node', 'client', 'storage', 'tor', 'i2p', 'Ünï', 'x.y']);
      if (used.has(name)) name += String(s);
      used.add(name);
      const lines: CfgSectionSpec['lines'] = [];
      const keys = new Set<string>();
      for (let k = 0; k < 4; k++) {
        const key = pick(r, ['nickname', 'tub.port', 'web.port', 'k' + k, 'reveal-IP-address']);
        if (keys.has(key.toLowerCase())) continue;
        keys.add(key.toLowerCase());
        let value = '';
        for (let j = Math.floor(r() * 6); j > 0; j--) value += pick(r, alphabet);
        value = value.trim();
        lines.push({ key, value });
        if (r() < 0.3) lines.push({ comment: `about ${key}: 100% ${value}` });
      }
      sections.push({ name, lines });
    }
    specs.push(sections);
  }
  const texts = specs.map((s) => serializeCfg(s, ['-*- mode: conf; coding: utf-8 -*-', '100% generated']));
  const py = pythonRead(texts.map((x) => Buffer.from(x, 'utf8')));
  specs.forEach((sections, i) => {
    assert.equal(py[i].error, null, texts[i]);
    for (const s of sections) {
      for (const l of s.lines) {
        if (!('key' in l)) continue;
        assert.deepEqual(py[i].interpolated[s.name][l.key.toLowerCase()], { value: l.value }, texts[i]);
      }
    }
  });
});

test('the editor changes only the edited keys, as Python sees it', (t) => {
  if (!pythonOrSkip(t)) return;
  const r = rng(777);
  const inputs: string[] = [];
  const outputs: string[] = [];
  const editsList: CfgEdit[][] = [];
  const validStarts = Object.entries(HAND_WRITTEN)
    .filter(([, text]) => parseCfgLenient(text).problems.length === 0)
    .map(([, text]) => text);
  for (let i = 0; i < 300; i++) {
    const input = i < validStarts.length ? validStarts[i] : pick(r, validStarts);
    const edits: CfgEdit[] = [];
    for (let j = 1 + Math.floor(r() * 3); j > 0; j--) {
      edits.push({
        section: pick(r, ['node', 'client', 'connections', 'tor', 'new.section', 'DEFAULT', 's']),
        key: pick(r, ['nickname', 'tub.port', 'tcp', 'a', 'b', 'Fresh-Key', 'reveal-IP-address']),
        value: r() < 0.2 ? null : pick(r, ['v', '50%', '', 'tcp:127.0.0.1:9050', 'Zoë']),
      });
    }
    try {
      outputs.push(editCfgText(input, edits));
    } catch (e) {
      assert.fail(`edit ${JSON.stringify(edits)} of ${JSON.stringify(input)} failed: ${String(e)}`);
    }
    inputs.push(input);
    editsList.push(edits);
  }
  const before = pythonRead(inputs.map((x) => Buffer.from(x, 'utf8')));
  const after = pythonRead(outputs.map((x) => Buffer.from(x, 'utf8')));
  for (let i = 0; i < inputs.length; i++) {
    const ctx = `${JSON.stringify(inputs[i])} + ${JSON.stringify(editsList[i])} → ${JSON.stringify(outputs[i])}`;
    assert.equal(after[i].error, null, ctx);
    // Expected: the old own values with the edits applied, DEFAULT showing through.
    const own: Record<string, Record<string, string>> = {};
    const defaults: Record<string, string> = { ...before[i].defaults };
    for (const s of before[i].sections) {
      own[s] = {};
      for (const [k, v] of Object.entries(before[i].raw[s])) if (ownKeyIn(inputs[i], s, k)) own[s][k] = v;
    }
    for (const e of editsList[i]) {
      const k = e.key.toLowerCase();
      const v = e.value === null ? null : e.value.replace(/%/g, '%%');
      if (e.section === 'DEFAULT') {
        if (v === null) delete defaults[k];
        else defaults[k] = v;
      } else {
        if (v === null) {
          if (own[e.section]) delete own[e.section][k];
        } else (own[e.section] ??= {})[k] = v;
      }
    }
    assert.deepEqual(after[i].defaults, defaults, ctx);
    assert.deepEqual(after[i].sections, Object.keys(own), ctx);
    for (const s of Object.keys(own)) assert.deepEqual(after[i].raw[s], { ...own[s], ...Object.fromEntries(Object.entries(defaults).filter(([k]) => !(k in own[s]))) }, ctx);
    // The comments survive.
    const comments = (x: string) => x.split(/\r\n|\r|\n/).filter((l) => /^\s*[#;]/.test(l));
    assert.deepEqual(comments(outputs[i]), comments(inputs[i]), ctx);
  }
});

/** Whether a section sets a key itself (so a DEFAULT with the same value does not hide it). */
function ownKeyIn(text: string, section: string, key: string): boolean {
  const { cfg } = parseCfgLenient(text);
  return cfg.getOwnRaw(section, key) !== undefined;
}
