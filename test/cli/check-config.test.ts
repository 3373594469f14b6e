/**
 * `tahoe-ts check-config`: the brief's table, each row exactly as written a tahoe.cfg in a
 * temp node directory, judged by the real CLI's exit code and by `checkNodeDirectory`
 * (what the CLI calls) — and a few more through the CLI for output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkNodeDirectory } from '../../src/config/node-dir.js';
import { makeNodeDir } from '../config/node-dir-helper.js';
import { runCli } from './cli-helper.js';

const ONION = 'aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion';
const HS = 'onion:80:hiddenServiceDir=/var/lib/tor/my_service';

// The other tests here are about output, not storage: their directories run none.
const BASE = '[storage]\nenabled = false\n';

interface Row {
  name: string;
  cfg: string;
  valid: boolean;
  /** For errors: the rule or kind that must be among the problems. */
  expect?: { rule?: string; kind?: string; hint?: RegExp };
}

const TABLE: Row[] = [
  { name: 'anonymize + AUTODETECT,onion', cfg: `[node]\nanonymize = true\ntub.location = AUTODETECT,${HS}\n`, valid: false, expect: { rule: 'auto-location-when-hidden' } },
  { name: 'no anonymize + AUTODETECT,onion (server use case 2)', cfg: `[node]\nanonymize = false\ntub.location = AUTODETECT,${HS}\n`, valid: true },
  { name: 'anonymize + onion only (server use case 3)', cfg: `[node]\nanonymize = true\ntub.location = ${HS}\n`, valid: true },
  { name: 'anonymize, no tub.location (client only / UNREACHABLE)', cfg: '[node]\nanonymize = true\n', valid: true },
  { name: 'anonymize + tcp hint', cfg: '[node]\nanonymize = true\ntub.location = tcp:example.net:3456\n', valid: false, expect: { rule: 'tcp-hint-when-hidden' } },
  { name: 'torsocks legacy', cfg: '[node]\ntub.port = tcp:interface=127.0.0.1:8098\ntub.location = client.fakelocation:0\n', valid: true },
  { name: 'reveal-IP-address = false + tcp = tcp', cfg: '[node]\nreveal-IP-address = false\ntub.location = disabled\ntub.port = disabled\n[connections]\ntcp = tcp\n', valid: false, expect: { rule: 'direct-tcp-when-hidden' } },
  { name: 'reveal-IP-address = false + tcp = tor + onion location', cfg: `[node]\nreveal-IP-address = false\ntub.location = tor:${ONION}:3457\n[connections]\ntcp = tor\n`, valid: true },
  { name: 'reveal-IP-address = false + AUTO', cfg: '[node]\nreveal-IP-address = false\ntub.location = AUTO\n[connections]\ntcp = tor\n', valid: false, expect: { rule: 'auto-location-when-hidden' } },
  { name: 'anonymize = true + reveal-IP-address = true', cfg: '[node]\nanonymize = true\nreveal-IP-address = true\n', valid: false, expect: { rule: 'anonymize-contradicts-reveal-ip' } },
  { name: 'unknown key anonymise', cfg: '[node]\nanonymise = true\n', valid: false, expect: { kind: 'ConfigUnknownKey', hint: /did you mean anonymize\?/ } },
];

for (const row of TABLE) {
  test(`check-config table: ${row.name} → ${row.valid ? 'valid' : 'error'}`, async (t) => {
    // The row exactly as written (storage at its default), judged by the CLI's exit code too.
    const dir = makeNodeDir(t, row.cfg);
    const cli = await runCli(['check-config', '-d', dir]);
    assert.equal(cli.code, row.valid ? 0 : 1, cli.stdout + cli.stderr);
    const report = await checkNodeDirectory(dir);
    const errors = report.problems.filter((p) => p.severity === 'error');
    if (row.valid) {
      assert.deepEqual(errors, [], `expected no errors for:\n${row.cfg}`);
    } else {
      assert.ok(errors.length > 0, `expected an error for:\n${row.cfg}`);
      const e = row.expect ?? {};
      const hit = errors.find((p) => (e.rule === undefined || p.rule === e.rule) && (e.kind === undefined || p.kind === e.kind) && (e.hint === undefined || e.hint.test(p.hint)));
      assert.ok(hit, `no error matching ${JSON.stringify(e)} in ${JSON.stringify(errors, null, 2)}`);
      assert.ok(hit.hint.length > 10, 'every problem carries a hint');
    }
    // "Client only": no listener, so no storage server, said as a warning.
    if (row.cfg === '[node]\nanonymize = true\n') {
      assert.ok(report.problems.some((p) => p.severity === 'warning' && p.section === 'storage' && /client only/.test(p.message)), 'client-only warning');
    }
    // The extension key is reported as a warning (Tahoe-LAFS 1.20 would refuse the file).
    if (/^anonymize = /m.test(row.cfg)) {
      assert.ok(report.problems.some((p) => p.severity === 'warning' && p.key === 'anonymize' && /1\.20/.test(p.hint)), 'extension warning');
    }
  });
}

test('check-config CLI: exit 0 and "OK" for a valid directory, warnings shown', async (t) => {
  const dir = makeNodeDir(t, `[node]\nanonymize = true\ntub.location = ${HS}\n` + BASE);
  const r = await runCli(['check-config', '-d', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /warning \[ConfigUnknownKey\]: .*\[node\] anonymize is a tahoe-ts extension/);
  assert.match(r.stdout, /OK: .* is a valid client node directory \(1 warning\)/);
});

test('check-config CLI: exit 1 and every problem with its hint; -d before the command works too', async (t) => {
  const dir = makeNodeDir(t, '[node]\nanonymise = true\nreveal-IP-address = false\ntub.location = AUTO\n[client]\nshares.needed = 0\n[nodes]\nx = 1\n' + BASE);
  chmodSync(path.join(dir, 'private'), 0o755);
  writeFileSync(path.join(dir, 'private', 'node.privkey'), 'priv-v0-x\n', { mode: 0o644 });
  const r = await runCli(['-d', dir, 'check-config']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /error \[ConfigUnknownKey\]: .*tahoe\.cfg line 2: \[node\] anonymise is not a known key\n {2}hint: did you mean anonymize\?/);
  assert.match(r.stdout, /error \[ConfigUnknownKey\]: .*unknown section \[nodes\]\n {2}hint: did you mean \[node\]\?/);
  assert.match(r.stdout, /error \[ConfigInvalid\]: .*line 6: \[client\] shares\.needed is 0, out of range/);
  assert.match(r.stdout, /error \[PrivacyViolation\] \(rule auto-location-when-hidden\)/);
  assert.match(r.stdout, /error \[PrivacyViolation\] \(rule direct-tcp-when-hidden\)/);
  assert.match(r.stdout, /hint: chmod 700 .*private/);
  assert.match(r.stdout, /hint: chmod 600 .*node\.privkey/);
  assert.match(r.stdout, /\d+ errors in /);
});

test('check-config CLI: --json lists the problems; a missing directory is an error, not a crash', async (t) => {
  const dir = makeNodeDir(t, '[node]\nnickname = ok\n' + BASE);
  const ok = await runCli(['check-config', '--json', '-d', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  const parsed = JSON.parse(ok.stdout) as { valid: boolean; nodeType: string; problems: unknown[] };
  assert.equal(parsed.valid, true);
  assert.equal(parsed.nodeType, 'client');
  const missing = await runCli(['check-config', '-d', path.join(dir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /NodeDirInvalid.*is not a node directory[\s\S]*hint: create one with `tahoe-ts create-node DIR`/);
  const help = await runCli(['check-config', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes: 0/);
});
