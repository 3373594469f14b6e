/**
 * `tahoe-ts put` / `get` through a real running node: the introducer and storage
 * servers run in this process (real create-* directories, real node runtime, TLS on
 * 127.0.0.1); the client node is a separate `tahoe-ts run` process, and put/get are
 * separate CLI processes that find it through node.url — the way people use them.
 * Also: the node-not-running errors, exit codes, and the progress line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { runCliRaw, type RawCliResult } from './cli-helper.js';
import { startClientNode } from '../helpers/client-node.js';
import { startDemoGrid, TCP_DEMO_NETWORK } from '../../src/cli/commands/demo.js';
import { ProgressLine, formatBytes, formatEta } from '../../src/cli/progress.js';
import { errorFromReply } from '../../src/web/client.js';
import { tahoeTsArgv } from '../web/cli-process.js';

/** The CLI from source, with optional stdin; stdout as bytes. */
function cli(args: string[], stdin?: Buffer): Promise<RawCliResult> {
  return runCliRaw(args, stdin === undefined ? {} : { stdin });
}

test('put and get through a running client node (tahoe-ts run)', async (t) => {
  const root = tempDir(t, 'tahoe-ts-putget-');
  const grid = await startDemoGrid({ network: TCP_DEMO_NETWORK, servers: 4, root: path.join(root, 'grid'), startClient: false });
  t.after(() => grid.close());
  const clientDir = grid.clientDirectory;

  // bin/tahoe-ts when dist/ is fresh (npm test builds it), else the sources through tsx.
  const runArgv = await tahoeTsArgv(t, 'any');
  const node = await startClientNode({ argv: runArgv, directory: clientDir, servers: 4 });
  t.after(() => node.stop());
  const nodeLog = node.log;
  const urlFile = path.join(clientDir, 'node.url');

  const work = tempDir(t, 'tahoe-ts-putget-files-');
  const data = randomBytes(700_000);
  const file = path.join(work, 'data.bin');
  writeFileSync(file, data);
  let cap = '';

  await t.test('put FILE prints the cap and nothing else; get CAP OUT writes the file', async () => {
    const put = await cli(['put', '-d', clientDir, file]);
    assert.equal(put.code, 0, put.stderr + nodeLog());
    cap = put.stdout.toString('utf8').trim();
    assert.match(cap, /^URI:CHK:[a-z2-7]+:[a-z2-7]+:3:4:700000$/);
    assert.equal(put.stdout.toString('utf8'), `${cap}\n`);
    assert.equal(put.stderr, '', 'no progress line when stderr is not a terminal');
    const out = path.join(work, 'back.bin');
    const get = await cli(['get', '-d', clientDir, cap, out]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok(readFileSync(out).equals(data));
    assert.deepEqual(readdirSync(work).sort(), ['back.bin', 'data.bin'], 'no temporary file left');
  });

  await t.test('put - reads stdin (same bytes, same cap); get CAP - writes stdout', async () => {
    const put = await cli(['put', '-d', clientDir, '-'], data);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout.toString('utf8').trim(), cap, 'convergent encryption: same cap');
    const get = await cli(['get', '-d', clientDir, cap]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok(get.stdout.equals(data));
    const small = await cli(['put', '-d', clientDir], Buffer.from('tiny'));
    assert.match(small.stdout.toString('utf8'), /^URI:LIT:/);
    const tiny = await cli(['get', '-d', clientDir, small.stdout.toString('utf8').trim(), '-']);
    assert.equal(tiny.stdout.toString('utf8'), 'tiny');
    // get - : the cap from stdin, off the command line (ps)
    const capFromStdin = await cli(['get', '-d', clientDir, '-'], Buffer.from(`${cap}\n`));
    assert.equal(capFromStdin.code, 0, capFromStdin.stderr);
    assert.ok(capFromStdin.stdout.equals(data));
  });

  await t.test('errors: bad cap (2), missing file (2), lost file (65, OUT untouched), --mutable, an unknown alias (2)', async () => {
    const bad = await cli(['get', '-d', clientDir, 'not-a-cap']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /kind: CapInvalid/);
    const broken = await cli(['get', '-d', clientDir, cap.replace(/:3:4:/, ':3:4:1')]);
    assert.equal(broken.code, 2, broken.stderr);
    const missing = await cli(['put', '-d', clientDir, path.join(work, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /hint: check the file name/);
    // A well-formed cap of a file nobody stored: not enough shares (the gateway's 410).
    const unknown = `URI:CHK:${'q'.repeat(26)}:${'q'.repeat(52)}:3:4:700000`;
    const keep = path.join(work, 'keep.bin');
    writeFileSync(keep, 'precious');
    const lost = await cli(['get', '-d', clientDir, unknown, keep]);
    assert.equal(lost.code, 65, lost.stderr);
    assert.match(lost.stderr, /kind: NotEnoughShares/);
    assert.match(lost.stderr, /hint: .+/);
    assert.equal(readFileSync(keep, 'utf8'), 'precious', 'a failed get leaves OUT as it was');
    assert.ok(!readdirSync(work).some((f) => f.endsWith('.part')));
    const mutable = await cli(['put', '-d', clientDir, '--mutable', file]);
    assert.equal(mutable.code, 0, mutable.stderr);
    assert.match(mutable.stdout.toString('utf8'), /^URI:SSK:[a-z2-7]+:[a-z2-7]+\n$/, '--mutable prints the write cap');
    const into = await cli(['put', '-d', clientDir, file, 'tahoe:dir/x']);
    assert.equal(into.code, 2, 'no tahoe: alias in this node directory');
    assert.match(into.stderr, /Unknown alias "tahoe"/);
  });

  await t.test('node not running: no node.url, then a stopped node (connection refused) → 69 with a hint', async () => {
    const empty = tempDir(t, 'tahoe-ts-nonode-');
    const none = await cli(['put', '-d', empty, file]);
    assert.equal(none.code, 69);
    assert.match(none.stderr, /kind: NodeNotRunning/);
    assert.match(none.stderr, /hint: start the node with `tahoe-ts run -d /);
    await node.stop();
    assert.ok(existsSync(urlFile), 'node.url stays behind, as with Tahoe');
    const refused = await cli(['get', '-d', clientDir, cap]);
    assert.equal(refused.code, 69);
    assert.match(refused.stderr, /not answering \(ECONNREFUSED\)/);
    assert.match(refused.stderr, /kind: NodeNotRunning/);
    const remote = tempDir(t, 'tahoe-ts-remote-url-');
    writeFileSync(path.join(remote, 'node.url'), 'http://192.0.2.1:3456/\n');
    const far = await cli(['put', '-d', remote, file]);
    assert.equal(far.code, 78);
    assert.match(far.stderr, /kind: PrivacyViolation/);
  });
});

test('progress line: bytes, percent, rate, ETA; silent when not a terminal', () => {
  let now = 0;
  const written: string[] = [];
  const stream = { isTTY: true, columns: 100, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const bar = new ProgressLine('uploading', 100_000_000, { stream, now: () => now, delayMs: 500, intervalMs: 200 });
  bar.update(1_000_000);
  assert.deepEqual(written, [], 'nothing drawn during the first half second');
  now = 1000;
  bar.update(11_000_000);
  const line = bar.render(100);
  assert.match(line, /^uploading {2}\[#+ +\] 11.0 MB \/ 100 MB {2}11% {2}10.0 MB\/s {2}ETA 0:09$/);
  assert.equal(written.length, 1);
  assert.ok(String(written[0]).startsWith('\r\x1b[2K'));
  now = 1100;
  bar.update(12_000_000);
  assert.equal(written.length, 1, 'at most one draw per interval');
  bar.clear();
  assert.equal(written.at(-1), '\r\x1b[2K');
  assert.ok(bar.render(30).length <= 29, 'fits a narrow terminal');
  const quiet: string[] = [];
  const pipe = { isTTY: false, write: (s: string) => quiet.push(s) } as unknown as NodeJS.WriteStream;
  const off = new ProgressLine('x', 10, { stream: pipe, now: () => now });
  now += 10_000;
  off.update(5);
  off.clear();
  assert.deepEqual(quiet, []);
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1_073_741_824), '1.07 GB');
  assert.equal(formatEta(3725), '1:02:05');
});

test('gateway error bodies become the same TahoeError in the CLI', () => {
  const e = errorFromReply(410, 'NotEnoughSharesError: none of the 4 servers holds a share\nkind: NotEnoughShares\nhint: retry later\n', 'download');
  assert.equal(e.kind, 'NotEnoughShares');
  assert.equal(e.hint, 'retry later');
  assert.equal(e.details.httpStatus, 410);
  assert.equal(errorFromReply(500, '<html>oops</html>', 'x').kind, 'ProtocolError');
  assert.equal(errorFromReply(410, '', 'download').kind, 'NotEnoughShares');
  assert.equal(errorFromReply(400, 'bad\nkind: Bogus\n', 'x').kind, 'BadInput');
});
