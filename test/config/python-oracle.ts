/**
 * Python's own configparser as a test oracle: each file is opened exactly as Tahoe-LAFS
 * 1.20 opens tahoe.cfg (`encoding="utf-8-sig"`, universal newlines) and read with
 * `ConfigParser(strict=False)`. The caller compares what we read with what Python read.
 *
 * Missing /usr/bin/python3 fails under CI=true and skips loudly otherwise.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

export const PYTHON = process.env.TAHOE_TS_PYTHON ?? '/usr/bin/python3';

export function pythonOrSkip(t: TestContext): boolean {
  if (existsSync(PYTHON)) return true;
  const msg = `!!! ${PYTHON} not found: cannot compare the tahoe.cfg parser with Python's configparser`;
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(`\n${msg} — SKIPPING\n\n`);
  t.skip(msg);
  return false;
}

export type PyValue = { value: string } | { error: string };

export interface PyResult {
  /** null when the file parsed; otherwise the exception class. */
  error: null | 'MissingSectionHeaderError' | 'ParsingError' | 'UnicodeDecodeError' | string;
  /** Line numbers Python blames (ParsingError: every bad line; MissingSectionHeaderError: one). */
  errorLines: number[];
  sections: string[];
  defaults: Record<string, string>;
  /** section → key → raw value, keys as `options()` lists them. */
  raw: Record<string, Record<string, string>>;
  /** section → key → interpolated value or the error class name. */
  interpolated: Record<string, Record<string, PyValue>>;
  /** section → key → boolean or error. */
  booleans: Record<string, Record<string, { value: boolean } | { error: string }>>;
}

const SCRIPT = String.raw`
import base64, configparser, io, json, sys
out = []
for b64 in json.load(sys.stdin):
    data = base64.b64decode(b64)
    res = {"error": None, "errorLines": [], "sections": [], "defaults": {}, "raw": {}, "interpolated": {}, "booleans": {}}
    try:
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig").read()
    except UnicodeDecodeError:
        res["error"] = "UnicodeDecodeError"
        out.append(res)
        continue
    cp = configparser.ConfigParser(strict=False)
    try:
        cp.read_string(text)
    except configparser.MissingSectionHeaderError as e:
        res["error"] = "MissingSectionHeaderError"
        res["errorLines"] = [e.lineno]
        out.append(res)
        continue
    except configparser.ParsingError as e:
        res["error"] = "ParsingError"
        res["errorLines"] = [n for (n, _line) in e.errors]
    res["sections"] = cp.sections()
    res["defaults"] = dict(cp.defaults())
    for s in cp.sections():
        res["raw"][s] = {}
        res["interpolated"][s] = {}
        res["booleans"][s] = {}
        for k in cp.options(s):
            res["raw"][s][k] = cp.get(s, k, raw=True)
            try:
                res["interpolated"][s][k] = {"value": cp.get(s, k)}
            except configparser.Error as e:
                res["interpolated"][s][k] = {"error": type(e).__name__}
            try:
                res["booleans"][s][k] = {"value": cp.getboolean(s, k)}
            except (configparser.Error, ValueError) as e:
                res["booleans"][s][k] = {"error": type(e).__name__}
    out.append(res)
json.dump(out, sys.stdout)
`;

/** Run Python's configparser over many files in one process. */
export function pythonRead(files: Uint8Array[]): PyResult[] {
  const input = JSON.stringify(files.map((f) => Buffer.from(f).toString('base64')));
  const stdout = execFileSync(PYTHON, ['-c', SCRIPT], { input, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PYTHONIOENCODING: 'utf-8' } });
  return JSON.parse(stdout.toString('utf8')) as PyResult[];
}
