import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_KINDS, TahoeError, areaOf, asTahoeError, isTahoeError, throwIfAborted } from '../src/errors.js';

test('every kind has an area and a non-empty default hint', () => {
  for (const kind of ERROR_KINDS) {
    const e = new TahoeError(kind, 'x');
    assert.equal(e.area, areaOf(kind));
    assert.ok(e.hint.length > 10, kind);
  }
});

test('specific hints override the default and survive JSON', () => {
  const e = new TahoeError('TorUnavailable', 'no tor', { hint: 'set [tor] control.port', details: { port: 9050 } });
  assert.deepEqual(JSON.parse(JSON.stringify(e)), {
    kind: 'TorUnavailable', area: 'local', message: 'no tor', hint: 'set [tor] control.port', details: { port: 9050 },
  });
  assert.ok(e.describe().includes('hint: set [tor] control.port'));
});

test('asTahoeError keeps TahoeErrors and wraps others', () => {
  const e = new TahoeError('ShareCorrupt', 'bad');
  assert.equal(asTahoeError(e), e);
  const w = asTahoeError(new Error('boom'), 'ProtocolError');
  assert.equal(w.kind, 'ProtocolError');
  assert.ok(isTahoeError(w, 'ProtocolError'));
  assert.ok(!isTahoeError(w, 'Internal'));
});

test('throwIfAborted throws Aborted once the signal fired', () => {
  const ac = new AbortController();
  throwIfAborted(ac.signal);
  ac.abort();
  assert.throws(() => throwIfAborted(ac.signal), (e: unknown) => isTahoeError(e, 'Aborted'));
});
