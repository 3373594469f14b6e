/**
 * `--help` on every command and subcommand of the real program (walked from buildProgram,
 * so a new command is covered without editing this file), each run through the real CLI:
 * exit 0, a `Usage: tahoe-ts <command>` line, and `-d, --node-directory` wherever the
 * command reads a node directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { runCli, type CliResult } from './cli-helper.js';

/**
 * The commands that never read a node directory: the two groups (they only dispatch) and
 * the two commands that work on files or a throwaway grid. Every other command resolves
 * its node directory through nodeDirectoryOf(), so its help must offer -d.
 */
const WITHOUT_NODE_DIRECTORY = new Set(['admin', 'debug', 'debug decode', 'demo']);

interface Walked {
  path: string[];
  command: Command;
}

function walk(command: Command, prefix: string[] = []): Walked[] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return [{ path, command: sub }, ...walk(sub, path)];
  });
}

async function inPool<T, R>(items: readonly T[], width: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]);
    }
  }));
  return results;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('--help on every command and subcommand: exit 0, a Usage line, -d wherever a node directory is read', async () => {
  const commands = walk(buildProgram());
  const names = commands.map((c) => c.path.join(' '));
  for (const expected of ['create-node', 'create-client', 'create-introducer', 'check-config', 'run', 'put', 'get', 'ls', 'cp', 'mv', 'ln', 'rm', 'unlink', 'mkdir',
    'create-alias', 'add-alias', 'list-aliases', 'webopen', 'demo', 'admin', 'admin storage-announcement', 'debug', 'debug chk-cap', 'debug encode', 'debug decode']) {
    assert.ok(names.includes(expected), `the walk found ${expected} (found: ${names.join(', ')})`);
  }
  for (const exempt of WITHOUT_NODE_DIRECTORY) assert.ok(names.includes(exempt), `${exempt} in the exemption list still exists`);

  const results = await inPool(commands, 2, (c) => runCli([...c.path, '--help']));
  const failures: string[] = [];
  commands.forEach((c, i) => {
    const name = c.path.join(' ');
    const r: CliResult = results[i];
    if (r.code !== 0) failures.push(`${name} --help: exit ${String(r.code)}: ${r.stderr}`);
    if (!new RegExp(`^Usage: tahoe-ts ${escape(name)}( |$)`, 'm').test(r.stdout)) failures.push(`${name} --help: no "Usage: tahoe-ts ${name}" line in:\n${r.stdout}`);
    const listsD = /^ {2}-d, --node-directory <DIR> /m.test(r.stdout);
    const declaresD = c.command.options.some((o) => o.long === '--node-directory');
    if (listsD !== declaresD) failures.push(`${name} --help: lists -d: ${String(listsD)}, but the command declares it: ${String(declaresD)}`);
    if (WITHOUT_NODE_DIRECTORY.has(name)) {
      if (listsD) failures.push(`${name} reads no node directory but its help offers -d`);
    } else if (!listsD) {
      failures.push(`${name} reads a node directory but its help does not list -d, --node-directory`);
    }
    // A group's help names each of its subcommands.
    for (const sub of c.command.commands) {
      if (!new RegExp(`^ {2}${escape(sub.name())}\\b`, 'm').test(r.stdout)) failures.push(`${name} --help does not list its subcommand ${sub.name()}`);
    }
  });
  assert.deepEqual(failures, []);

  const top = await runCli(['--help']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^Usage: tahoe-ts /m);
  assert.match(top.stdout, /^ {2}-d, --node-directory <DIR> /m);
  for (const c of commands.filter((w) => w.path.length === 1)) assert.match(top.stdout, new RegExp(`^ {2}${escape(c.path[0])}\\b`, 'm'), `top-level --help lists ${c.path[0]}`);
});
