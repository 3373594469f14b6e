/**
 * Run the tahoe-ts CLI as a child process, from source through tsx (test/cli/run-cli.ts),
 * so CLI tests exercise argument parsing, output and exit codes without a build step.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/shared.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/cli/run-cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TAHOE_TS_NODE_DIRECTORY: undefined, TAHOE_TS_LOG_SENSITIVE: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
