/**
 * `private/aliases`: the CLI's starting directories, in Tahoe-LAFS's format (spec:
 * Tahoe-LAFS 1.20 docs/frontends/CLI.rst "Starting Directories"; src/allmydata/scripts/
 * common.py `get_aliases`, tahoe_add_alias.py). One alias per line, UTF-8:
 *
 *   tahoe: URI:DIR2:ovjy4yhylqlfoqg2vcze36dhde:4d4f47qko2xm5g7osgo2yyidi5m4muyo2vjjy53q4vjju2u55mfa
 *   # comments and blank lines are ignored
 *
 * The name is everything before the first ":", the cap everything after it (both trimmed).
 * A later line for the same name wins, as in Tahoe. `tahoe:` is the default alias; when
 * it is missing, Tahoe 1.0's `private/root_dir.cap` stands in for it.
 *
 * New aliases are appended with O_APPEND (mode 0600 in the 0700 private/ directory), so
 * two `create-alias` runs at the same time both keep their line.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../errors.js';
import { ensurePrivateDirectory, readNodeFile } from './keys.js';

export const ALIASES_FILE = 'private/aliases';
export const ROOT_DIR_CAP_FILE = 'private/root_dir.cap';
export const DEFAULT_ALIAS = 'tahoe';

export interface AliasEntry {
  readonly name: string;
  /** The cap as written (not checked here: a bad cap is reported when the alias is used). */
  readonly cap: string;
  /** 1-based line in private/aliases (0 for root_dir.cap). */
  readonly line: number;
}

/** Parse the text of `private/aliases`. Lines without ":" are `NodeDirInvalid`. */
export function parseAliases(text: string, file = ALIASES_FILE): Map<string, AliasEntry> {
  const aliases = new Map<string, AliasEntry>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) {
      throw new TahoeError('NodeDirInvalid', `${file} line ${index + 1}: "${line.slice(0, 40)}" is not "NAME: CAP"`, {
        hint: `fix or delete that line of ${file} (each line is an alias name, a colon, and a directory cap)`,
        details: { file, line: index + 1 },
      });
    }
    const name = line.slice(0, colon).trim().normalize('NFC');
    const cap = line.slice(colon + 1).trim();
    aliases.set(name, { name, cap, line: index + 1 });
  });
  return aliases;
}

/** The aliases of a node directory (empty when private/aliases does not exist). */
export async function readAliases(nodeDirectory: string): Promise<Map<string, AliasEntry>> {
  const text = await readNodeFile(nodeDirectory, ALIASES_FILE);
  const aliases = text === undefined ? new Map<string, AliasEntry>() : parseAliases(text, path.join(nodeDirectory, ALIASES_FILE));
  if (!aliases.has(DEFAULT_ALIAS)) {
    const legacy = (await readNodeFile(nodeDirectory, ROOT_DIR_CAP_FILE))?.trim();
    if (legacy !== undefined && legacy !== '') aliases.set(DEFAULT_ALIAS, { name: DEFAULT_ALIAS, cap: legacy, line: 0 });
  }
  return aliases;
}

/** Tahoe's rules for alias names: not empty, no colon, no whitespace. */
export function checkAliasName(name: string): string {
  const clean = name.endsWith(':') ? name.slice(0, -1) : name;
  if (clean === '') throw new TahoeError('UsageError', 'the alias name is empty', { hint: 'give a name such as "tahoe" or "work"' });
  if (clean.includes(':')) throw new TahoeError('UsageError', `alias names cannot contain colons ("${clean.slice(0, 40)}")`, { hint: 'a trailing colon is allowed and dropped ("work:" is "work")' });
  if (/\s/.test(clean)) throw new TahoeError('UsageError', `alias names cannot contain spaces ("${clean.slice(0, 40)}")`, { hint: 'choose a single word' });
  return clean.normalize('NFC');
}

/**
 * Append `name: cap` to private/aliases. Refuses a name that exists already (Tahoe's
 * "Alias … already exists!"). The cap must already be checked by the caller.
 */
export async function addAlias(nodeDirectory: string, name: string, cap: string): Promise<void> {
  const clean = checkAliasName(name);
  if (/[\r\n]/.test(cap)) throw new TahoeError('CapInvalid', 'the cap contains a line break', { hint: 'give the cap on one line' });
  const existing = await readAliases(nodeDirectory);
  if (existing.has(clean) && existing.get(clean)?.line !== 0) {
    throw new TahoeError('UsageError', `Alias "${clean}" already exists!`, {
      hint: `choose another name, or edit ${ALIASES_FILE} in the node directory to change it`,
      details: { reason: 'exists', alias: clean },
    });
  }
  await ensurePrivateDirectory(nodeDirectory);
  const file = path.join(nodeDirectory, ALIASES_FILE);
  const before = (await readNodeFile(nodeDirectory, ALIASES_FILE)) ?? '';
  const line = `${before !== '' && !before.endsWith('\n') ? '\n' : ''}${clean}: ${cap}\n`;
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'a', 0o600);
    await handle.write(line);
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TahoeError(code === 'EACCES' || code === 'EPERM' ? 'NodeDirInvalid' : 'DiskError', `cannot write ${file}: ${code ?? String(e)}`, {
      cause: e,
      hint: code === 'EACCES' || code === 'EPERM' ? 'run tahoe-ts as the owner of the node directory' : 'check free space and permissions of the node directory',
      details: { file, code },
    });
  } finally {
    await handle?.close();
  }
}
