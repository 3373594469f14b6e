/**
 * The progress line of `tahoe-ts put` / `get` as a user sees it: real CLI processes on a
 * pseudo-terminal (util-linux `script`), talking to a real running node (`tahoe-ts run`)
 * on a real grid of 4 storage servers on 127.0.0.1 — set up as test/cli/put-get.test.ts
 * does. On a terminal the line is redrawn in place (`\r` + erase line) and cleared at the
 * end; with plain pipes, or with --no-progress, nothing but the result is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { startClientNode } from '../helpers/client-node.js';
import { startDemoGrid, TCP_DEMO_NETWORK } from '../../src/cli/commands/demo.js';
import { tahoeTsArgv } from '../web/cli-process.js';

const REDRAW = '\r\x1b[2K';
const SIZE = 6 * 1024 * 1024;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A transfer must last longer than the progress line's half-second delay (small files
 * finish without a flash of output), and loopback is faster than that for a few MiB.
 * So the data goes through a pipe that moves 256 KiB every 50 ms (about 1.2 s for 6 MiB),
 * as when a user pipes from a slow producer or into a slow consumer: `… | tahoe-ts put -`
 * and `tahoe-ts get CAP | …`. The progress line is on stderr, which stays the terminal.
 */
const TRICKLE = 'import sys, time\nwhile True:\n    b = sys.stdin.buffer.read(262144)\n    if not b: break\n    sys.stdout.buffer.write(b); sys.stdout.buffer.flush(); time.sleep(0.05)\n';

const shell = (argv: string[]): string => argv.map(quote).join(' ');
const trickle = (): string => shell(['/usr/bin/python3', '-c', TRICKLE]);

/** A shell command line on a pseudo-terminal of that many columns (0: a terminal that reports no size). */
function onTerminal(commandLine: string, columns: number): Promise<Run> {
  return spawnCollect('script', ['-qfec', columns > 0 ? `stty cols ${columns} rows 40; ${commandLine}` : commandLine, '/dev/null']);
}

/** A command with plain pipes: no terminal anywhere. */
function withPipes(argv: string[]): Promise<Run> {
  return spawnCollect(argv[0], argv.slice(1));
}

function spawnCollect(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: REPO_ROOT, env: { ...process.env, TAHOE_TS_NODE_DIRECTORY: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('latin1').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The lines drawn on the terminal: the text after each redraw sequence. */
function drawnLines(terminal: string): string[] {
  return terminal.split(REDRAW).slice(1).map((s) => s.replace(/\r?\n[\s\S]*$/, ''));
}

test('put and get of 6 MiB on a terminal draw a progress line, redrawn in place; pipes and --no-progress get none', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) {
    t.skip('util-linux script is not installed: no pseudo-terminal to run put/get on');
    return;
  }
  const root = tempDir(t, 'tahoe-ts-progress-');
  const grid = await startDemoGrid({ network: TCP_DEMO_NETWORK, servers: 4, root: path.join(root, 'grid'), startClient: false });
  t.after(() => grid.close());
  const clientDir = grid.clientDirectory;
  const cliArgv = [process.execPath, ...(await tahoeTsArgv(t, 'any'))];
  const node = await startClientNode({ argv: cliArgv.slice(1), directory: clientDir, servers: 4 });
  t.after(() => node.stop());
  const nodeLog = node.log;

  const data = randomBytes(SIZE);
  const file = path.join(root, 'data.bin');
  writeFileSync(file, data);
  const cli = (...args: string[]): string[] => [...cliArgv, ...args];
  let cap = '';

  await t.test('put - on a terminal: the line is redrawn with \\r + erase as the bytes go out, and erased before the cap', async () => {
    const put = await onTerminal(`${trickle()} < ${quote(file)} | ${shell(cli('put', '-d', clientDir, '-'))}`, 100);
    assert.equal(put.code, 0, put.out + nodeLog());
    const m = /(URI:CHK:[a-z2-7]+:[a-z2-7]+:3:4:(\d+))\r?\n/.exec(put.out);
    assert.ok(m !== null, `a cap on the terminal: ${JSON.stringify(put.out.slice(-300))}`);
    cap = m[1];
    assert.equal(Number(m[2]), SIZE);
    const drawn = drawnLines(put.out.slice(0, m.index)).filter((l) => l !== '');
    assert.ok(drawn.length >= 2, `at least two redraws of the progress line: ${JSON.stringify(put.out.slice(0, 600))}`);
    const amounts: number[] = [];
    for (const line of drawn) {
      // stdin has no size: amount and rate, no percentage
      const p = /^sending {4}([\d.]+) (B|kB|MB)( {2}[\d.]+ (B|kB|MB)\/s)?$/.exec(line);
      assert.ok(p !== null, `a progress line: ${JSON.stringify(line)}`);
      assert.ok(line.length <= 99, `fits 100 columns: ${JSON.stringify(line)}`);
      amounts.push(Number(p[1]) * { B: 1, kB: 1e3, MB: 1e6 }[p[2] as 'B' | 'kB' | 'MB']);
    }
    assert.ok(amounts.every((a, i) => i === 0 || a >= amounts[i - 1]) && amounts.at(-1) !== amounts[0], `the amount grows: ${amounts.join(', ')}`);
    assert.ok(put.out.slice(0, m.index).endsWith(REDRAW), `the line is erased right before the cap: ${JSON.stringify(put.out.slice(Math.max(0, m.index - 80), m.index + 10))}`);
  });

  await t.test('get CAP | slow reader on a terminal: "receiving" with the size and percentage, redrawn in place, then erased; bytes intact', async () => {
    const out = path.join(root, 'back.bin');
    const get = await onTerminal(`${shell(cli('get', '-d', clientDir, cap))} | ${trickle()} > ${quote(out)}`, 100);
    assert.equal(get.code, 0, get.out + nodeLog());
    assert.ok(readFileSync(out).equals(data));
    const drawn = drawnLines(get.out).filter((l) => l !== '');
    assert.ok(drawn.length >= 2, `at least two redraws of the progress line: ${JSON.stringify(get.out.slice(0, 600))}`);
    const percents = drawn.map((line) => {
      const p = /^receiving +(\[[# ]+\] )?[\d.]+ (B|kB|MB) \/ 6\.29 MB {2}(\d+)%/.exec(line);
      assert.ok(p !== null, `a progress line: ${JSON.stringify(line)}`);
      assert.ok(line.length <= 99, `fits 100 columns: ${JSON.stringify(line)}`);
      return Number(p[3]);
    });
    assert.ok(percents.every((v, i) => i === 0 || v >= percents[i - 1]) && percents.at(-1) !== percents[0], `the percentage grows: ${percents.join(', ')}`);
    assert.ok(get.out.endsWith(REDRAW), `the line is erased at the end: ${JSON.stringify(get.out.slice(-80))}`);
  });

  await t.test('a terminal that reports no width (0 columns) still gets a readable progress line', async () => {
    const out = path.join(root, 'back0.bin');
    const get = await onTerminal(`${shell(cli('get', '-d', clientDir, cap))} | ${trickle()} > ${quote(out)}`, 0);
    assert.equal(get.code, 0, get.out);
    const drawn = drawnLines(get.out).filter((l) => l !== '');
    assert.ok(drawn.length >= 1, `progress drawn: ${JSON.stringify(get.out.slice(0, 300))}`);
    for (const line of drawn) assert.match(line, /^receiving .*\d+%/, JSON.stringify(line));
  });

  await t.test('plain pipes: no progress line at all, same cap and bytes; --no-progress on a terminal: none either', async () => {
    // The same slow transfers as on the terminal (long enough for a line to be drawn), without one.
    const put = await withPipes(['sh', '-c', `${trickle()} < ${quote(file)} | ${shell(cli('put', '-d', clientDir, '-'))}`]);
    assert.equal(put.code, 0, put.err);
    assert.equal(put.out, `${cap}\n`);
    assert.equal(put.err, '', 'nothing on stderr without a terminal');
    const piped = path.join(root, 'piped.bin');
    const get = await withPipes(['sh', '-c', `${shell(cli('get', '-d', clientDir, cap))} | ${trickle()} > ${quote(piped)}`]);
    assert.equal(get.code, 0, get.err);
    assert.equal(get.out, '');
    assert.equal(get.err, '', 'nothing on stderr without a terminal');
    assert.ok(readFileSync(piped).equals(data));
    const quietPut = await onTerminal(`${trickle()} < ${quote(file)} | ${shell(cli('put', '--no-progress', '-d', clientDir, '-'))}`, 100);
    assert.equal(quietPut.code, 0, quietPut.out);
    assert.equal(quietPut.out, `${cap}\r\n`, 'only the cap on the terminal');
    const quietGet = await onTerminal(`${shell(cli('get', '--no-progress', '-d', clientDir, cap))} | ${trickle()} > ${quote(path.join(root, 'quiet.bin'))}`, 100);
    assert.equal(quietGet.code, 0, quietGet.out);
    assert.equal(quietGet.out, '', 'nothing on the terminal');
    assert.ok(readFileSync(path.join(root, 'quiet.bin')).equals(data));
  });
});
