/**
 * `pyJsonDumps(value, { indent })` against Python itself (/usr/bin/python3): the web
 * gateway writes `?t=json` as Tahoe does, `json.dumps(data, indent=1)`. Random nested
 * values (objects in insertion order, arrays, empty containers, ints, floats incl. 1.0 and
 * exponents, non-ASCII and control characters) must give the same text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PyFloat, pyJsonDumps, type PyJsonValue } from '../../src/dirnode/pyjson.js';

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

function randomValue(depth: number): PyJsonValue {
  const r = Math.random();
  if (depth > 3 || r < 0.35) {
    return pick<() => PyJsonValue>([
      () => null, () => true, () => false, () => Math.floor(Math.random() * 1e6) - 5000,
      () => new PyFloat(Math.random() * 1e10), () => new PyFloat(1700000000), () => new PyFloat(1e-7 * Math.random()), () => new PyFloat(1e20),
      () => pick(['', 'a', 'caf\u00e9', '\u2603 snow', 'tab\tnew\nline', 'quote"back\\slash', '\u0000\u001f\u007f', '\ud83d\ude00']),
    ])();
  }
  if (r < 0.6) return Array.from({ length: Math.floor(Math.random() * 4) }, () => randomValue(depth + 1));
  const map = new Map<string, PyJsonValue>();
  for (let i = 0; i < Math.floor(Math.random() * 4); i++) map.set(pick(['tahoe', 'linkcrtime', '1', 'z', 'a', '\u00e9', `k${i}`]), randomValue(depth + 1));
  return map;
}

test('pyJsonDumps with indent=1 writes what Python\'s json.dumps(indent=1) writes', () => {
  const values = Array.from({ length: 300 }, () => randomValue(0));
  values.push(['dirnode', new Map<string, PyJsonValue>([['children', new Map()], ['mutable', true], ['list', []]])]);
  const compact = values.map((v) => pyJsonDumps(v));
  const python = execFileSync('/usr/bin/python3', ['-c', 'import json,sys\nfor line in sys.stdin.read().split("\\n\\x1e\\n"):\n    sys.stdout.write(json.dumps(json.loads(line), indent=1) + "\\x1e")'], { input: compact.join('\n\x1e\n') }).toString('utf8').split('\x1e').slice(0, -1);
  assert.equal(python.length, values.length);
  values.forEach((v, i) => assert.equal(pyJsonDumps(v, { indent: 1 }), python[i], `value ${i}: ${compact[i]}`));
  assert.equal(pyJsonDumps(new Map([['a', [1, new Map()]]]), { indent: 2 }), '{\n  "a": [\n    1,\n    {}\n  ]\n}');
});
