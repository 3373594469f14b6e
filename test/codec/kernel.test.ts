/**
 * The WebAssembly SIMD kernel must give exactly the TypeScript kernel's bytes, on random
 * coefficient matrices and lengths around the vector width and the column-chunk size; and
 * without the generated module the codec must fall back to TypeScript, loudly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { typescriptKernel } from '../../src/codec/kernel.js';
import { wasmKernel, wasmVariant } from '../../src/codec/kernel-wasm.js';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';

test('WebAssembly kernel is built and agrees with the TypeScript kernel', (t) => {
  if (wasmKernel === undefined) {
    const msg = '!!! WebAssembly codec kernel unavailable: run `node scripts/build-wasm.mjs` (part of `npm run build`)';
    if (process.env.CI === 'true') throw new Error(msg);
    process.stderr.write(`\n${msg} — SKIPPING\n\n`);
    t.skip(msg);
    return;
  }
  const lengths = [1, 15, 16, 17, 63, 64, 65, 127, 128, 1000, 8191, 8192, 8193, 16384 + 77, 50_000];
  for (let trial = 0; trial < 60; trial++) {
    const length = lengths[trial % lengths.length];
    // Keep the (slow) TypeScript reference under ~10 M multiply-adds per trial.
    const budget = Math.max(1, Math.floor(10_000_000 / length));
    const k = 1 + Math.floor(Math.random() * Math.min(trial < 50 ? 40 : 256, budget));
    const rows = 1 + Math.floor(Math.random() * Math.min(trial < 50 ? 40 : 255, Math.max(1, Math.floor(budget / k))));
    const coefficients = new Uint8Array(randomBytes(rows * k));
    // Include the special coefficients 0 and 1 that the TypeScript kernel short-cuts.
    coefficients[0] = 0;
    if (coefficients.length > 1) coefficients[1] = 1;
    const inputs = Array.from({ length: k }, () => new Uint8Array(randomBytes(length)));
    const expected = typescriptKernel.combine(coefficients, inputs, rows, length);
    const actual = wasmKernel.combine(coefficients, inputs, rows, length);
    assert.equal(actual.length, rows);
    for (let r = 0; r < rows; r++) assert.ok(Buffer.from(actual[r]).equals(expected[r]), `row ${r} of ${rows}×${k}, length ${length}`);
  }
  // Inputs that are views into a larger buffer at odd offsets.
  const backing = new Uint8Array(randomBytes(10_000));
  const views = [backing.subarray(3, 3003), backing.subarray(3003, 6003), backing.subarray(6001, 9001)];
  const coefficients = new Uint8Array(randomBytes(6));
  assert.deepEqual(wasmKernel.combine(coefficients, views, 2, 3000), typescriptKernel.combine(coefficients, views, 2, 3000));
});

test('the relaxed-SIMD build agrees too (run where the runtime accepts it)', (t) => {
  if (wasmKernel === undefined) {
    t.skip('no WebAssembly kernel (see the test above)');
    return;
  }
  // Node 20 accepts relaxed SIMD only behind a flag; Node ≥ 22 picks that build by itself.
  const dir = tempDir(t);
  const probe = path.join(dir, 'probe.mts');
  writeFileSync(probe, `
import { randomBytes } from 'node:crypto';
import { typescriptKernel } from ${JSON.stringify(path.join(REPO_ROOT, 'src/codec/kernel.ts'))};
import { wasmKernel, wasmVariant } from ${JSON.stringify(path.join(REPO_ROOT, 'src/codec/kernel-wasm.ts'))};
let mismatches = 0;
for (const [rows, k, length] of [[7, 3, 20000], [1, 1, 5], [3, 3, 48], [75, 25, 9000], [5, 256, 700], [255, 1, 333]]) {
  const coefficients = new Uint8Array(randomBytes(rows * k));
  const inputs = Array.from({ length: k }, () => new Uint8Array(randomBytes(length)));
  const a = wasmKernel.combine(coefficients, inputs, rows, length);
  const b = typescriptKernel.combine(coefficients, inputs, rows, length);
  for (let r = 0; r < rows; r++) if (!Buffer.from(a[r]).equals(b[r])) mismatches++;
}
console.log(JSON.stringify({ variant: wasmVariant, mismatches }));
`);
  const child = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', probe], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { variant: 'relaxed-simd', mismatches: 0 });
  assert.ok(wasmVariant === 'simd' || wasmVariant === 'relaxed-simd');
});

test('without the generated module the codec falls back to TypeScript with a warning', (t) => {
  // A copy of the codec room without kernel.generated.ts, run in its own process.
  const dir = tempDir(t);
  cpSync(path.join(REPO_ROOT, 'src/codec'), path.join(dir, 'src/codec'), { recursive: true, filter: (p) => !p.endsWith('.generated.ts') });
  cpSync(path.join(REPO_ROOT, 'src/errors.ts'), path.join(dir, 'src/errors.ts'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  mkdirSync(path.join(dir, 'run'));
  writeFileSync(path.join(dir, 'run/probe.ts'), `
import { availableKernels, createCodec } from '../src/codec/index.js';
const codec = createCodec(3, 10);
const blocks = codec.encode([new Uint8Array([1, 2]), new Uint8Array([3, 4]), new Uint8Array([5, 6])]);
const back = codec.decode(new Map([[7, blocks[7]], [8, blocks[8]], [9, blocks[9]]]));
console.log(JSON.stringify({ kernels: availableKernels(), kernel: codec.kernel, back: back.map((b) => [...b]) }));
`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, 'run/probe.ts')], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { kernels: ['typescript'], kernel: 'typescript', back: [[1, 2], [3, 4], [5, 6]] });
  assert.match(child.stderr, /TAHOE_CODEC_NO_WASM.*WebAssembly kernel is not built.*npm run build/s);
});
