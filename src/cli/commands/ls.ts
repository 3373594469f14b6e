/**
 * `tahoe-ts ls [-l] [--json] [-u] [--readonly-uri] [-F] [PATH]`: list a directory (or show
 * one file) through the running node (`GET …?t=json`), as Tahoe-LAFS's `tahoe ls`
 * (docs/frontends/CLI.rst; src/allmydata/scripts/tahoe_ls.py). Without PATH: the tahoe:
 * alias. Names are sorted by code point, as Python sorts them.
 *
 *   -l    drwx / dr-x / -rw- / -r-- / ?r--, size ("?" for mutable files, "-" for
 *         directories), link modification time, name
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { DirectoryClient, type NodeData, type NodeJson } from '../../web/directory-client.js';
import { compareCodePoints } from '../../dirnode/directory.js';
import { describeGridPath, resolveGridArgument } from '../aliases.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';

interface LsFlags {
  long?: boolean;
  json?: boolean;
  uri?: boolean;
  readonlyUri?: boolean;
  classify?: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Tahoe's ls -l time: "Nov 26 17:57" within six months, else "Nov 26  2025" (local time). */
export function formatListingTime(seconds: number | undefined, now = Date.now() / 1000): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const d = new Date(seconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = `${MONTHS[d.getMonth()]} ${p(d.getDate())}`;
  return Math.abs(now - seconds) < 183 * 24 * 3600 ? `${day} ${p(d.getHours())}:${p(d.getMinutes())}` : `${day}  ${d.getFullYear()}`;
}

function mode(type: NodeJson[0], data: NodeData): string {
  if (type === 'unknown') return '?r--';
  const writable = data.rw_uri !== undefined ? 'w' : '-';
  return type === 'dirnode' ? `dr${writable}x` : `-r${writable}-`;
}

/** The lines `ls` prints for these entries. */
export function listingLines(entries: Array<[string, NodeJson]>, flags: LsFlags, now = Date.now() / 1000): string[] {
  const rows = entries.map(([name, [type, data]]) => {
    const classify = flags.classify === true && type === 'dirnode' ? '/' : '';
    const cap = flags.readonlyUri === true ? data.ro_uri : flags.uri === true ? data.rw_uri ?? data.ro_uri : undefined;
    const size = type === 'dirnode' ? '-' : type === 'filenode' ? (data.size === undefined ? '?' : String(data.size)) : '?';
    return { mode: mode(type, data), size, time: formatListingTime(data.metadata?.tahoe?.linkmotime, now), name: `${name}${classify}`, cap };
  });
  if (flags.long !== true) return rows.map((r) => (r.cap === undefined ? r.name : `${r.name} ${r.cap}`));
  const sizeWidth = Math.max(0, ...rows.map((r) => r.size.length));
  const timeWidth = Math.max(0, ...rows.map((r) => r.time.length));
  return rows.map((r) => [r.mode, r.size.padStart(sizeWidth), r.time.padEnd(timeWidth), r.name, ...(r.cap === undefined ? [] : [r.cap])].join(' '));
}

export function register(program: Command): void {
  const cmd = new Command('ls')
    .description('List a directory on the grid (default: the tahoe: alias).')
    .argument('[PATH]', 'ALIAS:PATH, PATH (below tahoe:), DIRCAP/PATH or a cap')
    .option('-l, --long', 'long listing: type and access, size, link time, name')
    .option('--json', 'the gateway\'s JSON (Tahoe\'s ["dirnode", {...}] shape)')
    .option('-u, --uri', 'show each child\'s cap (secret!)')
    .option('--readonly-uri', 'show each child\'s read-only cap')
    .option('-F, --classify', 'append "/" to directory names')
    .addHelpText('after', `
Examples: tahoe-ts ls; tahoe-ts ls -l tahoe:photos; tahoe-ts ls --json URI:DIR2-RO:…
Exit codes: 0 listed; 2 no such path, bad path or alias; 69 node not running; 65 the directory cannot be read.`);
  withNodeDirectory(cmd);
  cmd.action(async (pathArg: string | undefined, flags: LsFlags, self: Command) => {
    const dir = nodeDirectoryOf(self);
    const target = await resolveGridArgument(dir, pathArg);
    const client = await DirectoryClient.forNodeDirectory(dir);
    try {
      if (flags.json === true) {
        const text = await client.infoText(target.rootCap, target.path);
        process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
        return;
      }
      const node = await client.info(target.rootCap, target.path);
      const [type, data] = node;
      const entries: Array<[string, NodeJson]> = type === 'dirnode'
        ? Object.entries(data.children ?? {}).sort(([a], [b]) => compareCodePoints(a, b))
        : [[target.path.at(-1) ?? '', node]];
      for (const line of listingLines(entries, flags)) process.stdout.write(`${line}\n`);
    } catch (e) {
      if (e instanceof TahoeError && e.details.httpStatus === 404) {
        throw new TahoeError('NotFound', `${describeGridPath(target)}: no such file or directory`, { hint: 'check the path with `tahoe-ts ls` on its parent; names are case-sensitive', cause: e });
      }
      throw e;
    }
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}
