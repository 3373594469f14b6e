/**
 * `tahoe-ts debug chk-cap | encode | decode` through the real CLI (bin/tahoe-ts on the
 * compiled dist/): caps match the upstream vectors, shares decode from any k files,
 * corrupt and missing share files are handled, and failures exit with the data code.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';
import { tempDir } from '../helpers/tmp.js';
import { base32Encode } from '../../src/crypto/base32.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const BIN = path.join(REPO_ROOT, 'bin', 'tahoe-ts');
const BUILT = path.join(REPO_ROOT, 'dist', 'cli', 'commands', 'debug.js');

/** Newest mtime under src/ that the debug command depends on. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.ts')) newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const room of ['cli', 'immutable', 'caps', 'crypto', 'codec']) walk(path.join(REPO_ROOT, 'src', room));
  return newest;
}

before(() => {
  // `npm test` builds first; a lone run of this file builds when dist/ is missing or stale.
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < newestSource()) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.ok(existsSync(BUILT), `build failed: ${r.stdout}${r.stderr}`);
  }
});

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    // never fall back to a real ~/.tahoe-ts or $TAHOE_TS_NODE_DIRECTORY
    const env = { ...process.env, TAHOE_TS_NODE_DIRECTORY: path.join(REPO_ROOT, 'no-such-node-directory'), TAHOE_TS_LOG_SENSITIVE: undefined };
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin ?? '');
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

const SECRET_AAAA = base32Encode(Buffer.from('aaaaaaaaaaaaaaaa')); // the vectors' first convergence secret

test('chk-cap reproduces upstream vector caps (CHK and LIT)', async (t) => {
  const dir = tempDir(t);
  const small = path.join(dir, 'a56');
  writeFileSync(small, Buffer.alloc(56, 'a'));
  const r = await run(['debug', 'chk-cap', small, '--convergence', SECRET_AAAA, '-k', '1', '-N', '1', '--max-segment-size', '131072']);
  assert.equal(r.code, EXIT.OK, r.stderr);
  assert.equal(r.stdout.toString(), 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56\n');
  // 4096 × "c", k=3, N=10 (a case of test_vectors.yaml)
  const c4096 = path.join(dir, 'c4096');
  writeFileSync(c4096, Buffer.alloc(4096, 'c'));
  const r2 = await run(['debug', 'chk-cap', c4096, '--convergence', SECRET_AAAA, '-k', '3', '-N', '10', '--max-segment-size', '131072']);
  assert.equal(r2.code, EXIT.OK, r2.stderr);
  assert.match(r2.stdout.toString(), /^URI:CHK:[a-z2-7]{26}:[a-z2-7]{52}:3:10:4096\n$/);
  const lit = path.join(dir, 'lit');
  writeFileSync(lit, 'hello');
  const r3 = await run(['debug', 'chk-cap', lit]);
  assert.equal(r3.stdout.toString(), 'URI:LIT:nbswy3dp\n');
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '');
  assert.equal((await run(['debug', 'chk-cap', empty])).stdout.toString(), 'URI:LIT:\n');
});

test('chk-cap finds the convergence secret in -d NODEDIR, and explains when there is none', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'f');
  writeFileSync(file, Buffer.alloc(56, 'a'));
  const node = path.join(dir, 'node');
  mkdirSync(path.join(node, 'private'), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(node, 'private', 'convergence'), SECRET_AAAA + '\n', { mode: 0o600 });
  const viaNode = await run(['debug', 'chk-cap', file, '-d', node, '-k', '1', '-N', '1', '--max-segment-size', '131072']);
  assert.equal(viaNode.code, EXIT.OK, viaNode.stderr);
  assert.match(viaNode.stdout.toString(), /^URI:CHK:yzxcoagbetwet65ltjpbqyli3m:/);
  const none = await run(['debug', 'chk-cap', file, '-d', path.join(dir, 'no-such-node')]);
  assert.equal(none.code, EXIT.USAGE);
  assert.match(none.stderr, /kind: UsageError/);
  assert.match(none.stderr, /--convergence/);
  const badSecret = await run(['debug', 'chk-cap', file, '--convergence', 'NOT-BASE32']);
  assert.equal(badSecret.code, EXIT.USAGE);
  assert.match(badSecret.stderr, /kind: BadInput/);
  const badK = await run(['debug', 'chk-cap', file, '--convergence', SECRET_AAAA, '-k', '11', '-N', '10']);
  assert.equal(badK.code, EXIT.USAGE);
  assert.match(badK.stderr, /1 ≤ k ≤ N ≤ 256/);
  const missing = await run(['debug', 'chk-cap', path.join(dir, 'missing')]);
  assert.equal(missing.code, EXIT.USAGE);
  assert.match(missing.stderr, /cannot read/);
});

test('encode writes N share files; decode rebuilds from any k, survives corruption, fails clearly below k', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'input');
  const data = randomBytes(5 * 65536 + 12345);
  writeFileSync(input, data);
  const shares = path.join(dir, 'shares');
  const enc = await run(['debug', 'encode', input, '--out', shares, '--convergence', SECRET_AAAA, '-k', '3', '-N', '7', '--max-segment-size', '65536']);
  assert.equal(enc.code, EXIT.OK, enc.stderr);
  const cap = enc.stdout.toString().trim();
  assert.match(cap, new RegExp(`^URI:CHK:[a-z2-7]{26}:[a-z2-7]{52}:3:7:${data.length}$`));
  // encode and chk-cap agree
  const capOnly = await run(['debug', 'chk-cap', input, '--convergence', SECRET_AAAA, '-k', '3', '-N', '7', '--max-segment-size', '65536']);
  assert.equal(capOnly.stdout.toString().trim(), cap);
  const files = readdirSync(shares).sort();
  assert.deepEqual(files, ['0', '1', '2', '3', '4', '5', '6']);
  const sizes = new Set(files.map((f) => statSync(path.join(shares, f)).size));
  assert.equal(sizes.size, 1);
  assert.match(enc.stderr, new RegExp(`wrote 7 shares of ${[...sizes][0]} bytes`));

  const out = path.join(dir, 'out');
  const full = await run(['debug', 'decode', shares, cap, '--out', out]);
  assert.equal(full.code, EXIT.OK, full.stderr);
  assert.ok(readFileSync(out).equals(data));
  // to stdout
  const toStdout = await run(['debug', 'decode', shares, cap]);
  assert.ok(toStdout.stdout.equals(data));
  // the cap from stdin ("-"): never on the command line, where ps shows it
  const fromStdin = await run(['debug', 'decode', shares, '-'], `${cap}\n`);
  assert.equal(fromStdin.code, EXIT.OK, fromStdin.stderr);
  assert.ok(fromStdin.stdout.equals(data));

  // corrupt share 0 in its data, delete shares 1, 2 and 6: shares 3, 4, 5 remain valid
  const share0 = readFileSync(path.join(shares, '0'));
  share0[0x24 + 777] ^= 0x01;
  writeFileSync(path.join(shares, '0'), share0);
  for (const n of ['1', '2', '6']) rmSync(path.join(shares, n));
  const survived = await run(['debug', 'decode', shares, cap, '--out', out]);
  assert.equal(survived.code, EXIT.OK, survived.stderr);
  assert.ok(readFileSync(out).equals(data));
  assert.match(survived.stderr, /share 0 rejected: ShareCorrupt/);

  // now corrupt share 5's share-hash chain: only two valid shares remain
  const share5 = readFileSync(path.join(shares, '5'));
  const shareHashesOffset = share5.readUInt32BE(0x1c);
  share5[shareHashesOffset + 10] ^= 0x80;
  writeFileSync(path.join(shares, '5'), share5);
  rmSync(out);
  const failed = await run(['debug', 'decode', shares, cap, '--out', out]);
  assert.equal(failed.code, EXIT.DATA);
  assert.match(failed.stderr, /kind: NotEnoughShares/);
  assert.match(failed.stderr, /share 5 rejected: ShareCorrupt/);
  assert.ok(!existsSync(out), 'no output file when the data could not be verified');
  assert.ok(!existsSync(out + '.partial'));

  // a verify cap checks the shares
  const verifyCap = cap.replace(/^URI:CHK:[a-z2-7]{26}/, 'URI:CHK-Verifier:' + base32Encode(Buffer.alloc(16))); // wrong SI does not matter locally
  const verified = await run(['debug', 'decode', shares, verifyCap]);
  assert.equal(verified.code, EXIT.DATA);
  assert.match(verified.stdout.toString(), /2 of 7 shares verified: 3 4/);
});

test('decode: bad caps and LIT caps', async (t) => {
  const dir = tempDir(t);
  const bad = await run(['debug', 'decode', dir, 'URI:CHK:nonsense']);
  assert.equal(bad.code, EXIT.USAGE);
  assert.match(bad.stderr, /kind: CapInvalid/);
  const ssk = await run(['debug', 'decode', dir, `URI:SSK:${base32Encode(randomBytes(16))}:${base32Encode(randomBytes(32))}`]);
  assert.equal(ssk.code, EXIT.USAGE);
  assert.match(ssk.stderr, /not supported/);
  const lit = await run(['debug', 'decode', dir, 'URI:LIT:nbswy3dp']);
  assert.equal(lit.code, EXIT.OK);
  assert.equal(lit.stdout.toString(), 'hello');
  const litStdin = await run(['debug', 'decode', dir, '-'], '  URI:LIT:nbswy3dp  \r\nignored second line\n');
  assert.equal(litStdin.code, EXIT.OK, litStdin.stderr);
  assert.equal(litStdin.stdout.toString(), 'hello');
  const noCap = await run(['debug', 'decode', dir, '-'], '');
  assert.equal(noCap.code, EXIT.USAGE);
  assert.match(noCap.stderr, /no cap on standard input/);
  assert.match(noCap.stderr, /hint: .*</);
  const junk = await run(['debug', 'decode', dir, '-'], 'x'.repeat(100_000));
  assert.equal(junk.code, EXIT.USAGE);
  assert.match(junk.stderr, /longer than/);
  const help = await run(['debug', 'decode', '--help']);
  assert.match(help.stdout.toString(), /"-" reads it from standard input/);
  assert.match(help.stdout.toString(), /\bps\b/);
  const none = await run(['debug', 'decode', path.join(dir, 'nope'), 'URI:CHK:yzxcoagbetwet65ltjpbqyli3m:6b7inuiha2xdtgqzd55i6aeggutnxzr6qfwpv2ep5xlln6pgef7a:1:1:56']);
  assert.equal(none.code, EXIT.USAGE);
  assert.match(none.stderr, /cannot list/);
});
