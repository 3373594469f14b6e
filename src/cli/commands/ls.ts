/**
 * `tahoe-ts ls [-l] [--json] [-u] [--readonly-uri] [-F] [PATH]`: list a directory (or show
 * one file) through the running node (`GET …?t=json`), with the marks and columns of
 * Tahoe-LAFS's `tahoe ls` (docs/frontends/CLI.rst; src/allmydata/scripts/tahoe_ls.py).
 * Without PATH: the tahoe: alias. Names are sorted by code point, as Python sorts them.
 *
 *   -l    mode: d / - / ? (directory, file, unknown cap), then r and w for the caps the
 *         entry carries, x for directories (drwx, dr-x, -rw-, -r--, ?r--, ?rw-, …); size
 *         ("-" for directories, "?" when unknown); the link's creation time ("-" if none);
 *   -F    "/" after directories, "*" after mutable files with a write cap, "?" after
 *         unknown caps;
 *   -u, --readonly-uri   the cap (write cap if any) / the read-only cap ("-" if none),
 *         each in its own column.
 * Columns are as wide as their widest cell, right-aligned except those holding caps (and
 * a listing of names only); trailing blanks are cut.
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

/** Files older than this (by their link's creation time) show the year instead of the time of day, as GNU ls (Tahoe: six 30-day months). */
const OLD_AFTER_SECONDS = 6 * 30 * 24 * 3600;

/** Tahoe's ls -l time: "Nov 26 17:57", or "Nov 26  2025" when older than six months (local time); "-" when unknown. */
export function formatListingTime(seconds: number | undefined, now = Date.now() / 1000): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds === 0) return '-';
  const d = new Date(seconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = `${MONTHS[d.getMonth()]} ${p(d.getDate())}`;
  return now - seconds > OLD_AFTER_SECONDS ? `${day}  ${d.getFullYear()}` : `${day} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The link's creation time (Tahoe's linkcrtime), else the older `ctime` metadata key. */
function linkTime(data: NodeData): number | undefined {
  const crtime = data.metadata?.tahoe?.linkcrtime;
  if (typeof crtime === 'number' && crtime !== 0) return crtime;
  const ctime = data.metadata?.ctime;
  return typeof ctime === 'number' ? ctime : undefined;
}

function mode(type: NodeJson[0], data: NodeData): string {
  const kind = type === 'dirnode' ? 'd' : type === 'filenode' ? '-' : '?';
  return `${kind}${data.ro_uri ? 'r' : '-'}${data.rw_uri ? 'w' : '-'}${type === 'dirnode' ? 'x' : '-'}`;
}

/** -F: what the entry is, after its name. */
function classifyMark(type: NodeJson[0], data: NodeData): string {
  if (type === 'dirnode') return '/';
  if (type === 'unknown') return '?';
  return data.rw_uri ? '*' : '';
}

/** Width as Python's len() counts it (code points), which Tahoe's columns use. */
function width(text: string): number {
  return [...text].length;
}

/** The lines `ls` prints for these entries. */
export function listingLines(entries: Array<[string, NodeJson]>, flags: LsFlags, now = Date.now() / 1000): string[] {
  const rows = entries.map(([name, [type, data]]) => [
    ...(flags.long === true ? [mode(type, data), type === 'dirnode' ? '-' : data.size === undefined ? '?' : String(data.size), formatListingTime(linkTime(data), now)] : []),
    `${name}${flags.classify === true ? classifyMark(type, data) : ''}`,
    ...(flags.uri === true ? [data.rw_uri ?? data.ro_uri ?? '-'] : []),
    ...(flags.readonlyUri === true ? [data.ro_uri ?? '-'] : []),
  ]);
  const columns = rows[0]?.length ?? 0;
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((row) => width(row[i]))));
  // Caps read better left-aligned; so does a listing of names alone.
  const leftAligned = Array.from({ length: columns }, (_, i) => columns === 1 || rows.some((row) => row[i].startsWith('URI')));
  return rows.map((row) => row
    .map((cell, i) => {
      const pad = ' '.repeat(widths[i] - width(cell));
      return leftAligned[i] ? cell + pad : pad + cell;
    })
    .join(' ')
    .trimEnd());
}

export function register(program: Command): void {
  const cmd = new Command('ls')
    .description('List a directory on the grid (default: the tahoe: alias).')
    .argument('[PATH]', 'ALIAS:PATH, PATH (below tahoe:), DIRCAP/PATH or a cap')
    .option('-l, --long', 'long listing: type and access, size, link creation time, name')
    .option('--json', 'the gateway\'s JSON (Tahoe\'s ["dirnode", {...}] shape)')
    .option('-u, --uri', 'show each child\'s cap (secret!)')
    .option('--readonly-uri', 'show each child\'s read-only cap')
    .option('-F, --classify', 'append "/" to directories, "*" to mutable files you can write, "?" to unknown caps')
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
      if (entries.some(([, [type]]) => type === 'unknown')) {
        process.stderr.write('\nThis listing includes caps of a kind tahoe-ts does not know (marked "?"); a newer Tahoe-LAFS may be able to read them.\n');
      }
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
