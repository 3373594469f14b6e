// Lint rules: the type checker does the heavy lifting; these catch what it cannot.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/codec/wasm/*.generated.ts', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', WebAssembly: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly', performance: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // Anonymity: only src/net/ may open sockets or resolve names. See docs/anonymity.md.
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'node:dns', message: 'No name resolution outside src/net/ (anonymize mode must never resolve locally).' },
          { name: 'dns', message: 'No name resolution outside src/net/.' },
        ],
      }],
    },
  },
  {
    files: ['src/net/**/*.ts', 'test/**/*.ts', 'scripts/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
