/**
 * Run the tahoe-ts CLI as a child process, from source through tsx (test/cli/run-cli.ts),
 * so CLI tests exercise argument parsing, output and exit codes without a build step.
 * Never falls back to a real ~/.tahoe-ts or $TAHOE_TS_NODE_DIRECTORY, never reveals addresses.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RawCliResult {
  code: number | null;
  /** stdout as bytes (a downloaded file). */
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Fed to the command's stdin (none: stdin is closed). */
  stdin?: Buffer;
}

export function runCliRaw(args: string[], options: CliOptions = {}): Promise<RawCliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/cli/run-cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TAHOE_TS_NODE_DIRECTORY: undefined, TAHOE_TS_LOG_SENSITIVE: undefined, ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  });
}

export async function runCli(args: string[], env: Record<string, string | undefined> = {}, stdin?: Buffer): Promise<CliResult> {
  const r = await runCliRaw(args, { env, ...(stdin === undefined ? {} : { stdin }) });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}
