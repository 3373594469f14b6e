/** Build node directories by hand for tests (a tahoe.cfg, the .tac marker, a 0700 private/). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from '../helpers/tmp.js';

export function makeNodeDir(t: Pick<TestContext, 'after'>, cfgText: string, nodeType: 'client' | 'introducer' = 'client'): string {
  const dir = path.join(tempDir(t, 'tahoe-ts-nodedir-'), 'node');
  mkdirSync(dir);
  writeFileSync(path.join(dir, `tahoe-${nodeType}.tac`), '# test\n');
  mkdirSync(path.join(dir, 'private'), { mode: 0o700 });
  writeFileSync(path.join(dir, 'tahoe.cfg'), cfgText);
  return dir;
}
