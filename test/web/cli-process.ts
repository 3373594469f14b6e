/**
 * How tests start `tahoe-ts` as a separate process.
 *
 * `compiled`: the JavaScript users run (`bin/tahoe-ts` → dist/). When dist/ is older than
 * the sources (a test run without `npm run build`), the sources are compiled into a
 * private temporary tree instead (dist/ is shared and left alone). Memory figures must
 * come from compiled code: the tsx loader alone adds ~40 MB of resident memory.
 *
 * `any`: compiled when dist/ is fresh, else the sources through tsx (test/cli/run-cli.ts),
 * which starts faster than a private build.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestSource(p) : name.endsWith('.ts') ? st.mtimeMs : 0);
  }
  return newest;
}

/** True when dist/ was built after the last change to src/. */
export function distIsFresh(): boolean {
  const main = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
  return existsSync(main) && statSync(main).mtimeMs >= newestSource(path.join(REPO_ROOT, 'src'));
}

/** Compile src/ into a private tree (with node_modules and package.json beside it); returns a runner script. */
async function privateBuild(t: Pick<TestContext, 'after'>): Promise<string> {
  const root = tempDir(t, 'tahoe-ts-build-');
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await new Promise<void>((resolve) => {
    // Type errors elsewhere in the tree still emit JavaScript; what matters is the output.
    execFile(process.execPath, [tsc, '-p', path.join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist')], { cwd: REPO_ROOT }, () => resolve());
  });
  const main = path.join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error('the private build of tahoe-ts produced no dist/cli/main.js');
  const runner = path.join(root, 'tahoe-ts.mjs');
  writeFileSync(runner, `const m = await import(${JSON.stringify(main)});\nawait m.main(['node', 'tahoe-ts', ...process.argv.slice(2)]);\n`);
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  return runner;
}

/**
 * The Node flags on bin/tahoe-ts's `#!/usr/bin/env -S node …` line: what a user gets from
 * `./bin/tahoe-ts` or an installed `tahoe-ts`, so also what `node bin/tahoe-ts` needs.
 */
export function binNodeFlags(): string[] {
  const first = readFileSync(path.join(REPO_ROOT, 'bin', 'tahoe-ts'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(first);
  if (m === null) throw new Error(`bin/tahoe-ts: unexpected first line ${JSON.stringify(first)}`);
  return m[1].split(' ').filter((f) => f !== '');
}

/** The argv (after `node`) that starts `tahoe-ts`. */
export async function tahoeTsArgv(t: Pick<TestContext, 'after'>, mode: 'compiled' | 'any'): Promise<string[]> {
  if (distIsFresh()) return [...binNodeFlags(), path.join(REPO_ROOT, 'bin', 'tahoe-ts')];
  if (mode === 'any') return [...binNodeFlags(), '--import', 'tsx', path.join(REPO_ROOT, 'test', 'cli', 'run-cli.ts')];
  process.stderr.write('dist/ is older than src/: compiling a private copy of tahoe-ts for this test (run `npm run build` to skip this)\n');
  return [...binNodeFlags(), await privateBuild(t)];
}
