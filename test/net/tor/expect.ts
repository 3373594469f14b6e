/** assert.rejects/throws validators that show the actual error when they do not match. */
import assert from 'node:assert/strict';
import { isTahoeError, type ErrorKind, type TahoeError } from '../../../src/errors.js';

export function tahoeError(kind: ErrorKind, check: (e: TahoeError) => boolean = () => true): (e: unknown) => boolean {
  return (e: unknown) => {
    if (isTahoeError(e, kind) && check(e)) return true;
    const shown = isTahoeError(e) ? JSON.stringify(e.toJSON()) : String(e instanceof Error ? e.stack : e);
    assert.fail(`expected a TahoeError ${kind} matching ${check.toString()}\n  got: ${shown}`);
  };
}
