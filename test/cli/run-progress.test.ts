/** `tahoe-ts run`'s start-up progress (src/cli/commands/run.ts startupProgress) on a terminal and into a pipe. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startupProgress } from '../../src/cli/commands/run.js';

function sink(isTTY: boolean): { out: { isTTY: boolean; write: (s: string) => boolean }; text: () => string } {
  let text = '';
  return { out: { isTTY, write: (s: string) => ((text += s), true) }, text: () => text };
}

test('on a terminal: tor and I2P steps redrawn in place, addresses redacted, finish ends the line', () => {
  const s = sink(true);
  const p = startupProgress(s.out);
  p.onProgress({ phase: 'config', message: 'reading tahoe.cfg' });
  p.onProgress({ phase: 'tor', message: 'tor bootstrapped 5%: Connecting to a relay', percent: 5 });
  p.onProgress({ phase: 'tor', message: 'tor bootstrapped 5%: Connecting to a relay', percent: 5 });
  p.onProgress({ phase: 'i2p', message: 'SAM at 192.0.2.7:7656 answered' });
  p.finish();
  p.finish();
  const clear = '\r\u001b[2K';
  const [first, second, ...rest] = s.text().split(clear).slice(1);
  assert.equal(first, 'tor bootstrapped 5%: Connecting to a relay');
  assert.match(second, /^SAM at \S+ answered\n$/);
  assert.deepEqual(rest, []);
  assert.ok(s.text().startsWith(clear));
  assert.doesNotMatch(s.text(), /192\.0\.2\.7/, 'the address is redacted');
  assert.doesNotMatch(s.text(), /tahoe\.cfg/, 'only the slow steps are shown');
});

test('into a pipe: one line per step, no terminal control codes, nothing for finish', () => {
  const s = sink(false);
  const p = startupProgress(s.out);
  p.onProgress({ phase: 'tor', message: 'tor bootstrapped 0%: Starting', percent: 0 });
  p.onProgress({ phase: 'tor', message: 'tor bootstrapped 10%: Finishing handshake', percent: 10 });
  p.onProgress({ phase: 'web', message: 'web gateway at http://127.0.0.1:3456/' });
  p.finish();
  assert.equal(s.text(), 'tor bootstrapped 0%: Starting\ntor bootstrapped 10%: Finishing handshake\n');
});
