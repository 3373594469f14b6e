#!/usr/bin/env node
// Runs the test suite with Node's own test runner (through tsx, so tests are TypeScript).
// Usage: node scripts/run-tests.mjs [substring ...]   (only test files whose path contains one)
// Node 20's `--test` does not expand globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = walk(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched', filters);
  process.exit(1);
}
// The codec's WebAssembly kernel is generated code; rebuild it if its source changed (no-op otherwise).
if (spawnSync(process.execPath, [join(root, 'scripts/build-wasm.mjs')], { stdio: 'inherit' }).status !== 0) process.exit(1);
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, '--test-timeout=900000', ...files];
console.error(`running ${files.length} test files (concurrency ${concurrency})`);
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
