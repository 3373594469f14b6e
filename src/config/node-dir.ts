/**
 * Node directories: what kind of node lives in one, whether its files are private
 * enough, and `loadNodeDirectory`, which reads and validates everything a node needs
 * before it starts (the same checks `tahoe-ts check-config` prints).
 *
 * Spec: shared/specs/configuration.md §6 (layout: `tahoe-client.tac` /
 * `tahoe-introducer.tac` mark the node type, `private/` is 0700), §1 (tahoe.cfg),
 * §3/§3a (privacy rules, judged by net/policy.ts), anonymity-checklist.md AN-5.1 and G-8:
 * tahoe-ts refuses to start when `private/` or a file in it is group/world-accessible or
 * not owned by the running user.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { TahoeError, isTahoeError } from '../errors.js';
import { RULES, checkPrivacy } from '../net/policy.js';
import { decodeCfgBytes, parseCfgLenient } from './cfg.js';
import { FILES, PRIVATE_DIR, readIntroducers } from './keys.js';
import { NodeConfig } from './node-config.js';
import type { NodeType } from './schema.js';
import { problemFromError, validateCfg, type ConfigProblem } from './validate.js';

export const CFG_FILE = 'tahoe.cfg';
export const TAC_FILES: Record<NodeType, string> = { client: 'tahoe-client.tac', introducer: 'tahoe-introducer.tac' };

function shellQuote(p: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** The node type marked by a `.tac` file (Tahoe looks for "client"/"introducer" in its name). */
export async function detectNodeType(nodeDirectory: string): Promise<NodeType | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(nodeDirectory);
  } catch {
    return undefined;
  }
  const tac = names.filter((n) => n.endsWith('.tac')).sort()[0];
  if (tac === undefined) return undefined;
  if (tac.includes('client')) return 'client';
  if (tac.includes('introducer')) return 'introducer';
  return undefined;
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A file system failure (EACCES, ELOOP, EIO…) while inspecting `p`, as a problem. */
function inspectionProblem(p: string, e: unknown): ConfigProblem {
  const code = (e as NodeJS.ErrnoException).code;
  return nodeDirProblem(`cannot inspect ${p}: ${code ?? (e instanceof Error ? e.message : String(e))}`,
    `check that ${shellQuote(p)} is a plain file or directory you own (ls -la ${shellQuote(path.dirname(p))})`);
}

/**
 * Permission problems: `private/` not 0700, a file in it (or a configured key file
 * elsewhere) group/world-accessible, or anything there not owned by the running user.
 */
export async function checkPrivatePermissions(nodeDirectory: string, extraKeyFiles: string[] = []): Promise<ConfigProblem[]> {
  if (process.platform === 'win32') return [];
  const uid = process.getuid?.();
  const problems: ConfigProblem[] = [];
  const privateDir = path.join(nodeDirectory, PRIVATE_DIR);
  const notOwned: string[] = [];
  const looseFiles: string[] = [];
  let dirStat: Stats | undefined;
  try {
    dirStat = await statOrUndefined(privateDir);
  } catch (e) {
    return [inspectionProblem(privateDir, e)];
  }
  const files: string[] = [];
  if (dirStat !== undefined) {
    if (!dirStat.isDirectory()) {
      problems.push(nodeDirProblem(`${privateDir} is not a directory`, `move ${shellQuote(privateDir)} out of the way; tahoe-ts keeps keys in the private/ directory`));
      return problems;
    }
    if (uid !== undefined && dirStat.uid !== uid) notOwned.push(privateDir);
    if ((dirStat.mode & 0o077) !== 0) {
      problems.push(nodeDirProblem(`${privateDir} is accessible by other users (mode ${(dirStat.mode & 0o777).toString(8)})`,
        `chmod 700 ${shellQuote(privateDir)} — private/ holds the node's keys`));
    }
    try {
      for (const name of await fs.readdir(privateDir)) files.push(path.join(privateDir, name));
    } catch (e) {
      problems.push(inspectionProblem(privateDir, e));
    }
  }
  for (const f of extraKeyFiles) if (!files.includes(f)) files.push(f);
  for (const file of files) {
    let st: Stats | undefined;
    try {
      st = await statOrUndefined(file);
    } catch (e) {
      problems.push(inspectionProblem(file, e));
      continue;
    }
    if (st === undefined || !st.isFile()) continue;
    if (uid !== undefined && st.uid !== uid) notOwned.push(file);
    if ((st.mode & 0o077) !== 0) looseFiles.push(file);
  }
  if (looseFiles.length > 0) {
    problems.push(nodeDirProblem(
      `${looseFiles.length === 1 ? `${looseFiles[0]} is` : `${looseFiles.length} key files are`} readable or writable by other users${looseFiles.length > 1 ? `: ${looseFiles.map((f) => path.relative(nodeDirectory, f)).join(', ')}` : ''}`,
      `chmod 600 ${looseFiles.map(shellQuote).join(' ')} — keys must be private to you (Tahoe-LAFS 1.20 leaves them at the umask; tahoe-ts insists)`,
    ));
  }
  if (notOwned.length > 0) {
    problems.push(nodeDirProblem(`${notOwned.map((f) => path.relative(nodeDirectory, f) || f).join(', ')} ${notOwned.length === 1 ? 'is' : 'are'} not owned by the user running tahoe-ts (uid ${uid})`,
      `run tahoe-ts as the owner of the node directory, or take ownership: chown -R $(id -u) ${shellQuote(privateDir)}`));
  }
  return problems;
}

/** The validator and the typed reads can both trip over one bad value: report it once. */
function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.severity}\u0000${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function nodeDirProblem(message: string, hint: string): ConfigProblem {
  return { severity: 'error', kind: 'NodeDirInvalid', message, hint };
}

export interface NodeDirectoryReport {
  directory: string;
  nodeType: NodeType;
  /** The typed configuration, when tahoe.cfg could be read at all. */
  config?: NodeConfig;
  /** Errors first, then warnings. */
  problems: ConfigProblem[];
}

/**
 * Every problem of a node directory: syntax, unknown keys, bad values, cross-key rules,
 * privacy rules, introducers.yaml, permissions. Never throws for a bad directory.
 */
export async function checkNodeDirectory(directory: string): Promise<NodeDirectoryReport> {
  const dir = path.resolve(directory);
  const problems: ConfigProblem[] = [];
  const report = (nodeType: NodeType, config?: NodeConfig): NodeDirectoryReport => ({
    directory: dir,
    nodeType,
    config,
    problems: dedupe([...problems.filter((p) => p.severity === 'error'), ...problems.filter((p) => p.severity !== 'error')]),
  });

  const dirStat = await statOrUndefined(dir).catch(() => undefined);
  if (dirStat === undefined || !dirStat.isDirectory()) {
    problems.push(nodeDirProblem(`${dir} is not a node directory (${dirStat === undefined ? 'it does not exist' : 'not a directory'})`,
      'create one with `tahoe-ts create-node DIR` (or create-client / create-introducer), or pass -d DIR'));
    return report('client');
  }
  let nodeType = await detectNodeType(dir);
  if (nodeType === undefined) {
    problems.push({ severity: 'warning', kind: 'NodeDirInvalid', message: `${dir} has no tahoe-client.tac or tahoe-introducer.tac; assuming a client node`, hint: 'create-node writes the .tac file; add an empty tahoe-client.tac (or tahoe-introducer.tac) to say which kind of node this is' });
    nodeType = 'client';
  }
  const cfgFile = path.join(dir, CFG_FILE);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(cfgFile);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    problems.push(nodeDirProblem(`cannot read ${cfgFile}${code ? ` (${code})` : ''}`, code === 'ENOENT' ? 'every node directory needs a tahoe.cfg; create the node with `tahoe-ts create-node DIR`' : `check that you own ${cfgFile}`));
    problems.push(...(await checkPrivatePermissions(dir)));
    return report(nodeType);
  }
  let text: string;
  try {
    text = decodeCfgBytes(bytes, cfgFile);
  } catch (e) {
    problems.push(problemFromError(e));
    problems.push(...(await checkPrivatePermissions(dir)));
    return report(nodeType);
  }
  const { cfg, problems: syntax } = parseCfgLenient(text, cfgFile);
  for (const s of syntax) problems.push({ severity: 'error', kind: 'ConfigInvalid', message: `${cfgFile} line ${s.line}: ${s.message}`, hint: s.hint, file: cfgFile, line: s.line });
  problems.push(...validateCfg(cfg, nodeType));
  const config = new NodeConfig(cfg, dir, nodeType);
  problems.push(...config.problems());

  problems.push(...privacyProblems(config));

  try {
    const introducers = await readIntroducers(dir);
    if (nodeType === 'client' && 'default' in introducers && config.client.introducerFurl !== undefined) {
      problems.push({
        severity: 'error',
        kind: 'ConfigInvalid',
        message: `${cfgFile}: [client] introducer.furl is set and private/introducers.yaml also has an introducer named "default"`,
        hint: 'keep one: remove introducer.furl from tahoe.cfg (introducers.yaml is the current way), or rename the petname in introducers.yaml',
        file: cfgFile,
        section: 'client',
        key: 'introducer.furl',
      });
    }
  } catch (e) {
    // ConfigInvalid (bad YAML), NodeDirInvalid or DiskError (unreadable file): all are problems to list.
    if (!isTahoeError(e)) throw e;
    problems.push(problemFromError(e));
  }

  const keyFiles: string[] = [];
  for (const read of [() => config.tor.onion ? config.tor.onionPrivateKeyFile : undefined, () => config.i2p.dest ? config.i2p.destPrivateKeyFile : undefined]) {
    try {
      const f = read();
      if (f !== undefined) keyFiles.push(f);
    } catch {
      // already reported
    }
  }
  problems.push(...(await checkPrivatePermissions(dir, keyFiles)));
  return report(nodeType, config);
}

/**
 * The privacy rules (net/policy.ts) applied to a configuration, as problems with file and
 * line. Unparseable values are left out: the validator reports those key by key.
 */
export function privacyProblems(config: NodeConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  let settings;
  try {
    settings = config.privacySettings();
  } catch (e) {
    // Unreadable privacy settings were already reported as value problems.
    if (isTahoeError(e, 'ConfigInvalid')) return out;
    throw e;
  }
  const cfgFile = config.cfg.file;
  for (const p of checkPrivacy(settings)) {
    if (p.rule === RULES.invalidValue || p.rule === RULES.tcpHandlerInvalid) continue;
    out.push({
      severity: 'error',
      kind: 'PrivacyViolation',
      message: `${cfgFile}${lineSuffix(config, p.key)}: ${p.message}`,
      hint: p.hint,
      file: cfgFile,
      line: lineOfKey(config, p.key),
      rule: p.rule,
      key: p.key,
    });
  }
  return out;
}

/** `[section] key` names the policy reports, e.g. "[node] tub.location" or "tub.location". */
function splitPolicyKey(key: string): { section: string; key: string } {
  const m = /^\[([^\]]+)\]\s*(.+)$/.exec(key);
  if (m !== null) return { section: m[1], key: m[2] };
  const known: Record<string, string> = { tcp: 'connections', 'socks.port': 'tor', 'control.port': 'tor', 'sam.port': 'i2p' };
  return { section: known[key] ?? 'node', key };
}

function lineOfKey(config: NodeConfig, policyKey: string): number | undefined {
  const { section, key } = splitPolicyKey(policyKey);
  return config.cfg.lineOf(section, key);
}

function lineSuffix(config: NodeConfig, policyKey: string): string {
  const line = lineOfKey(config, policyKey);
  return line === undefined ? '' : ` line ${line}`;
}

export interface LoadedNodeDirectory {
  directory: string;
  nodeType: NodeType;
  config: NodeConfig;
  /** Things that do not stop the node (e.g. extension keys Tahoe-LAFS would refuse). */
  warnings: ConfigProblem[];
}

/**
 * Read and validate a node directory for starting a node. Throws the first error as a
 * `TahoeError` (its kind: ConfigInvalid, ConfigUnknownKey, PrivacyViolation,
 * NodeDirInvalid); the message says how many more `tahoe-ts check-config` would list.
 */
export async function loadNodeDirectory(directory: string): Promise<LoadedNodeDirectory> {
  const report = await checkNodeDirectory(directory);
  const errors = report.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0 || report.config === undefined) {
    const first = errors[0] ?? nodeDirProblem(`${report.directory} cannot be read`, 'run `tahoe-ts check-config`');
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''}: run \`tahoe-ts check-config -d ${shellQuote(report.directory)}\`)` : '';
    throw new TahoeError(first.kind, first.message + more, {
      hint: first.hint,
      details: { file: first.file, line: first.line, section: first.section, key: first.key, rule: first.rule, problems: errors.length },
    });
  }
  return { directory: report.directory, nodeType: report.nodeType, config: report.config, warnings: report.problems };
}

/** Relative paths a node directory may contain, for documentation and tests. */
export const NODE_DIRECTORY_FILES = FILES;
