/**
 * Secret positional arguments (caps) that can stay off the command line: a command line
 * is readable by every user of the machine (`ps`, /proc/PID/cmdline), so `-` in place of
 * the secret reads it from the first line of standard input instead.
 */
import { TahoeError } from '../errors.js';

/** Longer than any cap (a directory write cap is under 200 characters; LIT caps hold at most 55 bytes). */
const MAX_SECRET_LINE = 64 * 1024;

/** The help sentence for such an argument. */
export const SECRET_ARGUMENT_HELP = '"-" reads it from standard input: a cap on the command line is visible to other users of this machine (ps)';

/**
 * `text` itself, or — when it is `-` — the first line of `input`, trimmed. `what` names
 * the argument and `example` shows the command in the error hint.
 */
export async function secretArgument(text: string, what: string, example: string, input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (text !== '-') return text;
  let line = '';
  for await (const chunk of input) {
    line += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const end = line.search(/\r?\n/);
    if (end >= 0) {
      line = line.slice(0, end);
      break;
    }
    if (line.length > MAX_SECRET_LINE) break;
  }
  if (line.length > MAX_SECRET_LINE) {
    throw new TahoeError('UsageError', `the first line of standard input is longer than ${MAX_SECRET_LINE} characters: not a ${what}`, {
      hint: `give the ${what} alone on the first line: ${example}`,
    });
  }
  const value = line.trim();
  if (value === '') {
    throw new TahoeError('UsageError', `"-" was given for the ${what}, but there is no ${what} on standard input`, {
      hint: `put the ${what} on the first line of standard input: ${example}`,
    });
  }
  return value;
}
