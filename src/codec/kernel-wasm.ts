/** Placeholder until the WebAssembly kernel lands: no WASM kernel available. */
import type { MultiplyKernel } from './kernel.js';
export const wasmKernel: MultiplyKernel | undefined = undefined;
