/**
 * Access to ../shared (upstream test vectors, specs). CI always has it. When it is
 * missing, a test that needs it fails under CI=true and is skipped loudly otherwise.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DIR = process.env.TAHOE_TS_SHARED ?? path.resolve(REPO_ROOT, '..', 'shared');
export const VECTORS_DIR = path.join(SHARED_DIR, 'tahoe-vectors');

/**
 * Returns the path of a vectors file, or undefined after skipping the test (outside CI)
 * when the shared folder is absent. Under CI=true a missing folder throws.
 */
export function vectorFile(t: TestContext, name: string): string | undefined {
  const p = path.join(VECTORS_DIR, name);
  if (existsSync(p)) return p;
  const msg = `!!! test vectors not found at ${p}: clone tahoe-ts beside ../shared or set TAHOE_TS_SHARED`;
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(`\n${msg} — SKIPPING\n\n`);
  t.skip(msg);
  return undefined;
}
