/**
 * `tahoe-ts check-config [-d DIR]`: print every problem of a node directory (syntax,
 * unknown keys, bad values, privacy rules, permissions) and exit 0 when the node could
 * start, 1 when it could not. Warnings (e.g. tahoe-ts extension keys that real
 * Tahoe-LAFS 1.20 refuses) do not change the exit code. The checks are config/node-dir.ts
 * `checkNodeDirectory`, the same ones a starting node runs.
 */
import { Command } from 'commander';
import { checkNodeDirectory } from '../../config/node-dir.js';
import type { ConfigProblem } from '../../config/validate.js';
import { redact } from '../../log.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { EXIT } from '../exit-codes.js';

function format(p: ConfigProblem, reveal: boolean): string {
  const tag = p.severity === 'error' ? 'error' : 'warning';
  const rule = p.rule !== undefined ? ` (rule ${p.rule})` : '';
  return `${tag} [${p.kind}]${rule}: ${redact(p.message, reveal)}\n  hint: ${redact(p.hint, reveal).replace(/\n/g, '\n        ')}\n`;
}

export function register(program: Command): void {
  const cmd = new Command('check-config')
    .description('Check a node directory: tahoe.cfg syntax, unknown keys, values, privacy rules, file permissions.')
    .option('--json', 'print the problems as JSON (for scripts)')
    .option('-q, --quiet', 'print nothing; only set the exit code')
    .addHelpText('after', `
Exit codes: 0 the node directory is valid (warnings allowed), 1 problems were found.
Addresses in messages are redacted unless TAHOE_TS_LOG_SENSITIVE=1; secrets always are.
See docs/configuration.md for every key.`);
  withNodeDirectory(cmd);
  cmd.action(async (flags: { json?: boolean; quiet?: boolean }, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const report = await checkNodeDirectory(dir);
    const errors = report.problems.filter((p) => p.severity === 'error').length;
    const warnings = report.problems.length - errors;
    const reveal = process.env.TAHOE_TS_LOG_SENSITIVE === '1';
    if (flags.json) {
      const problems = report.problems.map((p) => ({ ...p, message: redact(p.message, reveal), hint: redact(p.hint, reveal) }));
      process.stdout.write(JSON.stringify({ directory: report.directory, nodeType: report.nodeType, valid: errors === 0, errors, warnings, problems }, null, 2) + '\n');
    } else if (!flags.quiet) {
      for (const p of report.problems) process.stdout.write(format(p, reveal));
      const summary = errors === 0
        ? `OK: ${report.directory} is a valid ${report.nodeType} node directory${warnings > 0 ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}\n`
        : `${errors} error${errors > 1 ? 's' : ''}${warnings > 0 ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''} in ${report.directory}\n`;
      process.stdout.write(summary);
    }
    process.exitCode = errors === 0 ? EXIT.OK : EXIT.FAILURE;
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
