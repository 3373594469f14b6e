/**
 * The house rules of docs/architecture.md, checked: which room may import which, and
 * that the pure rooms never reach for I/O. A new dependency between rooms fails here on
 * purpose: if it is intended, add it to ALLOWED and to the picture in docs/architecture.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';

const SRC = path.join(REPO_ROOT, 'src');

/** Rooms that take bytes and return bytes: no files, sockets, processes or timers of their own. */
const PURE = ['crypto', 'codec', 'caps', 'immutable', 'mutable', 'dirnode'];
const PURE_NODE_MODULES = new Set(['node:crypto', 'node:util']);

/** room → rooms it may import (errors and log are open to everyone). */
const ALLOWED: Record<string, string[]> = {
  crypto: [],
  codec: [],
  caps: ['crypto'],
  immutable: ['caps', 'codec', 'crypto'],
  mutable: ['caps', 'codec', 'crypto', 'immutable'],
  dirnode: ['caps', 'crypto', 'mutable'],
  net: ['crypto'],
  config: ['crypto', 'net'],
  storage: ['config', 'crypto', 'net'],
  introducer: ['crypto', 'net', 'storage'],
  grid: ['caps', 'crypto', 'dirnode', 'immutable', 'mutable', 'net', 'storage'],
  web: ['caps', 'config', 'crypto', 'dirnode', 'grid', 'immutable', 'mutable', 'net', 'node'],
  node: ['config', 'crypto', 'grid', 'introducer', 'net', 'storage'],
  testnet: ['cli', 'config', 'net', 'node'],
  cli: ['caps', 'config', 'crypto', 'dirnode', 'grid', 'immutable', 'mutable', 'net', 'node', 'storage', 'testnet', 'web'],
};
const OPEN = new Set(['errors', 'log']);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.endsWith('.generated.ts') ? [p] : [];
  });
}

function roomOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0].replace(/\.(ts|js)$/, '') : rel[0];
}

interface Import { file: string; spec: string; typeOnly: boolean }

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) {
    out.push({ file, spec: m[3], typeOnly: m[2] !== undefined });
  }
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push({ file, spec: m[1], typeOnly: false });
  return out;
}

const files = walk(SRC);

test('rooms import only the rooms below them', () => {
  const violations: string[] = [];
  for (const file of files) {
    const from = roomOf(file);
    for (const imp of importsOf(file)) {
      if (!imp.spec.startsWith('.')) continue;
      const to = roomOf(path.resolve(path.dirname(file), imp.spec));
      if (to === from || OPEN.has(to)) continue;
      if (!(ALLOWED[from] ?? []).includes(to)) violations.push(`${path.relative(REPO_ROOT, file)}: ${from} → ${to} (${imp.spec})`);
    }
  }
  assert.deepEqual(violations, [], 'new room dependency: update ALLOWED and docs/architecture.md if intended');
});

test('pure rooms use no node: modules for I/O', () => {
  const violations: string[] = [];
  for (const file of files) {
    if (!PURE.includes(roomOf(file))) continue;
    for (const imp of importsOf(file)) {
      if (imp.spec.startsWith('node:') && !PURE_NODE_MODULES.has(imp.spec)) violations.push(`${path.relative(REPO_ROOT, file)} imports ${imp.spec}`);
      if (/^(fs|net|tls|http|https|dgram|child_process|dns)$/.test(imp.spec)) violations.push(`${path.relative(REPO_ROOT, file)} imports ${imp.spec}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the check sees every room and knows each one', () => {
  const rooms = new Set(files.map(roomOf));
  for (const r of rooms) assert.ok(OPEN.has(r) || r in ALLOWED, `room ${r} is missing from ALLOWED`);
  assert.ok(rooms.has('net') && rooms.has('crypto') && rooms.size >= 15);
});
