/**
 * Tahoe-LAFS's path syntax for CLI arguments (spec: Tahoe-LAFS 1.20 docs/frontends/CLI.rst
 * "Starting Directories" and "Command Syntax Summary"; src/allmydata/scripts/common.py
 * `get_alias`):
 *
 *   [SUBDIRS/]NAME           below the default alias, tahoe:
 *   ALIAS:[SUBDIRS/]NAME     below another alias (private/aliases)
 *   DIRCAP/[SUBDIRS/]NAME    below a directory cap (also the old DIRCAP:./PATH form)
 *   CAP                      a cap by itself (URI:…)
 *
 * For `cp`, an argument with no alias is a local path ("./x", "/tmp/x", "x"): pass
 * `defaultAlias: null`. A colon after a "/" (dir/a:b) is part of a name, not an alias.
 */
import { TahoeError } from '../errors.js';
import { DEFAULT_ALIAS, readAliases, type AliasEntry } from '../config/aliases.js';
import { formatDirectoryCap, parseDirectoryCap } from '../dirnode/caps.js';
import { normalizeName } from '../dirnode/directory.js';

export interface GridPath {
  readonly kind: 'grid';
  /** The cap the path starts from: an alias's directory cap, or the cap given. */
  readonly rootCap: string;
  /** Names below it (NFC, no empty ones). */
  readonly path: readonly string[];
  /** The argument ended with "/" (it names a directory). */
  readonly trailingSlash: boolean;
  /** The alias used, if any (for messages). */
  readonly alias?: string;
  /** The argument as given. */
  readonly text: string;
}

export interface LocalPath {
  readonly kind: 'local';
  readonly path: string;
}

export interface ResolveOptions {
  /** The alias for arguments without one; null: such arguments are local paths (cp). */
  defaultAlias?: string | null;
}

function splitNames(text: string): { path: string[]; trailingSlash: boolean } {
  return { path: text.split('/').filter((p) => p !== '').map(normalizeName), trailingSlash: text.endsWith('/') };
}

function aliasCap(entry: AliasEntry): string {
  try {
    return formatDirectoryCap(parseDirectoryCap(entry.cap));
  } catch (e) {
    throw new TahoeError('CapInvalid', `alias "${entry.name}" (private/aliases${entry.line > 0 ? ` line ${entry.line}` : ''}) is not a directory cap`, {
      cause: e,
      hint: 'fix that line of private/aliases in the node directory, or add the alias again with `tahoe-ts add-alias NAME DIRCAP`',
    });
  }
}

/** Resolve one argument against the node's aliases (Tahoe's get_alias). */
export function resolvePath(argument: string, aliases: ReadonlyMap<string, AliasEntry>, options: ResolveOptions = {}): GridPath | LocalPath {
  const defaultAlias = options.defaultAlias === undefined ? DEFAULT_ALIAS : options.defaultAlias;
  const text = argument.replace(/^ +| +$/g, '');
  if (text.startsWith('URI:')) {
    const old = text.indexOf(':./');
    const slash = text.indexOf('/');
    const sep = old >= 0 ? old : slash;
    const cap = sep >= 0 ? text.slice(0, sep) : text;
    const rest = sep < 0 ? '' : text.slice(sep + (old >= 0 ? 3 : 1));
    return { kind: 'grid', rootCap: cap, ...splitNames(rest), text: argument };
  }
  const colon = text.indexOf(':');
  const alias = colon < 0 ? undefined : text.slice(0, colon).normalize('NFC');
  if (alias === undefined || alias.includes('/')) {
    if (defaultAlias === null) return { kind: 'local', path: argument };
    const entry = aliases.get(defaultAlias);
    if (entry === undefined) {
      throw new TahoeError('UsageError', `No alias specified, and the default "${defaultAlias}" alias doesn't exist`, {
        hint: `create it with \`tahoe-ts create-alias ${defaultAlias}\` (or give ALIAS:PATH or a cap)`,
        details: { reason: 'no-default-alias', alias: defaultAlias },
      });
    }
    return { kind: 'grid', rootCap: aliasCap(entry), ...splitNames(text), alias: defaultAlias, text: argument };
  }
  const entry = aliases.get(alias);
  if (entry === undefined) {
    throw new TahoeError('UsageError', `Unknown alias "${alias}"`, {
      hint: `create it with \`tahoe-ts create-alias ${alias}\` or \`tahoe-ts add-alias ${alias} DIRCAP\`; \`tahoe-ts list-aliases\` shows the aliases (a local path with a colon needs ./ in front)`,
      details: { reason: 'unknown-alias', alias },
    });
  }
  return { kind: 'grid', rootCap: aliasCap(entry), ...splitNames(text.slice(colon + 1)), alias, text: argument };
}

/** Resolve against the aliases of `nodeDirectory`. */
export async function resolveArgument(nodeDirectory: string, argument: string, options: ResolveOptions = {}): Promise<GridPath | LocalPath> {
  return resolvePath(argument, await readAliases(nodeDirectory), options);
}

/** Resolve, refusing local paths (for commands that only work on the grid). */
export async function resolveGridArgument(nodeDirectory: string, argument: string | undefined): Promise<GridPath> {
  const resolved = await resolveArgument(nodeDirectory, argument ?? `${DEFAULT_ALIAS}:`);
  if (resolved.kind !== 'grid') throw new TahoeError('Internal', 'a grid path resolved to a local path');
  return resolved;
}

/** For messages: the path as the user wrote it (never the cap: caps are secrets). */
export function describeGridPath(p: GridPath): string {
  const names = p.path.join('/');
  if (p.alias !== undefined) return `${p.alias}:${names}`;
  return names === '' ? '(the cap given)' : `(cap)/${names}`;
}
