/**
 * Key-by-key validation of a parsed tahoe.cfg against the schema table: unknown sections
 * and keys (Tahoe-LAFS 1.20's `UnknownConfigError`, here with a "did you mean" hint),
 * tahoe-ts extension keys (a warning: real Tahoe would refuse the file), values that do
 * not parse, and `*.furl` values containing `#` (1.20's `UnescapedHashError`; for
 * `[client] introducer.furl` tahoe-ts lets through the `#v=1` that ends each NURL).
 *
 * Spec: shared/specs/configuration.md §1 (validation, `[DEFAULT]` keys show through in
 * every section), §2 (value syntaxes). Cross-key rules (shares, tub.port/tub.location
 * pairing, privacy) are in node-config.ts.
 */
import type { ErrorKind } from '../errors.js';
import { isTahoeError } from '../errors.js';
import { DEFAULT_SECTION, type TahoeCfg } from './cfg.js';
import { KEYS, SECTIONS, keySpec, keysOf, sectionSpec, type KeySpec, type NodeType } from './schema.js';
import { invalidValue, parseDate, parseDuration, parseIntValue, parseSize, type ValueSource } from './values.js';
import { checkEndpointValue } from './endpoints.js';

export type Severity = 'error' | 'warning';

/** One finding of check-config or of node startup. */
export interface ConfigProblem {
  severity: Severity;
  kind: ErrorKind;
  message: string;
  hint: string;
  file?: string;
  line?: number;
  section?: string;
  key?: string;
  /** For privacy findings: the rule id from net/policy.ts. */
  rule?: string;
}

export function problemFromError(e: unknown, severity: Severity = 'error'): ConfigProblem {
  if (isTahoeError(e)) {
    const d = e.details;
    return {
      severity,
      kind: e.kind,
      message: e.message,
      hint: e.hint,
      file: typeof d.file === 'string' ? d.file : undefined,
      line: typeof d.line === 'number' ? d.line : undefined,
      section: typeof d.section === 'string' ? d.section : undefined,
      key: typeof d.key === 'string' ? d.key : undefined,
    };
  }
  return { severity, kind: 'Internal', message: e instanceof Error ? e.message : String(e), hint: 'this is a bug in tahoe-ts; please report it' };
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate within a distance that still looks like a typo, if any. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function unknownKeyProblem(cfg: TahoeCfg, section: string, key: string, nodeType: NodeType, fromDefault: boolean): ConfigProblem {
  const line = cfg.lineOf(section, key);
  const spelled = cfg.spellingOf(section, key) ?? key;
  const where = line === undefined ? cfg.file : `${cfg.file} line ${line}`;
  const validHere = keysOf(section).map((k) => k.key);
  const guess = nearest(key, validHere);
  // A key valid in another section is a likelier mistake than a typo.
  const elsewhere = KEYS.filter((k) => k.key === key && k.section !== section && sectionSpec(k.section)?.nodeTypes.includes(nodeType));
  let hint: string;
  if (guess !== undefined) hint = `did you mean ${guess}? (remove or rename "${spelled}")`;
  else if (elsewhere.length > 0) hint = `"${key}" belongs in ${elsewhere.map((k) => `[${k.section}]`).join(' or ')}; move it there`;
  else hint = `[${section}] accepts: ${validHere.join(', ')}; see docs/configuration.md`;
  const message = fromDefault
    ? `${where}: [DEFAULT] ${spelled} appears in every section, and [${section}] has no key "${key}"`
    : `${where}: [${section}] ${spelled} is not a known key`;
  return {
    severity: 'error',
    kind: 'ConfigUnknownKey',
    message,
    hint: fromDefault ? `move ${spelled} out of [DEFAULT] into the section it belongs to; ${hint}` : hint,
    file: cfg.file,
    line,
    section: fromDefault ? DEFAULT_SECTION : section,
    key,
  };
}

function unknownSectionProblem(cfg: TahoeCfg, section: string, nodeType: NodeType): ConfigProblem {
  const spec = sectionSpec(section);
  const valid = SECTIONS.filter((s) => s.nodeTypes.includes(nodeType) && !s.prefix).map((s) => s.name);
  const firstKey = cfg.ownKeys(section)[0];
  const line = firstKey === undefined ? undefined : cfg.lineOf(section, firstKey);
  let hint: string;
  if (spec !== undefined) {
    hint = `an ${nodeType} node has no [${section}] section (it belongs to ${spec.nodeTypes.join('/')} nodes); remove it`;
  } else {
    const guess = nearest(section, valid);
    hint = guess !== undefined ? `did you mean [${guess}]? (section names are case-sensitive)` : `valid sections: ${valid.map((s) => `[${s}]`).join(' ')}`;
  }
  return {
    severity: 'error',
    kind: 'ConfigUnknownKey',
    message: `${cfg.file}: unknown section [${section}]${spec !== undefined ? ` for an ${nodeType} node` : ''}`,
    hint,
    file: cfg.file,
    line,
    section,
  };
}

/** Check one value against its key's type; throws ConfigInvalid. */
export function checkValue(spec: KeySpec, value: string, src: ValueSource): void {
  const v = spec.value;
  switch (v.type) {
    case 'bool':
      if (!['1', 'yes', 'true', 'on', '0', 'no', 'false', 'off'].includes(value.toLowerCase())) {
        throw invalidValue(src, `is ${JSON.stringify(value)}, which is not a boolean`, 'use one of true/false (also accepted: yes/no, on/off, 1/0)');
      }
      return;
    case 'int':
      // An empty value means "unset" for Tahoe's optional integers.
      if (value !== '') parseIntValue(value, src, v.min, v.max);
      return;
    case 'size':
      parseSize(value, src);
      return;
    case 'duration':
      if (value !== '') parseDuration(value, src);
      return;
    case 'date':
      if (value !== '') parseDate(value, src);
      return;
    case 'enum': {
      const have = v.caseInsensitive ? value.toLowerCase() : value;
      if (!v.values.includes(have)) {
        const i2pNote = spec.section === 'connections' && have === 'i2p' ? ' (tcp = i2p is not supported: I2P has no exits to the Internet)' : '';
        throw invalidValue(src, `is ${JSON.stringify(value)}`, `use one of: ${v.values.join(', ')}${i2pNote}`);
      }
      return;
    }
    case 'furl':
      if (value.includes('#') && !(v.nurls === true && onlyNurlFragments(value))) {
        const nurlNote = v.nurls === true ? ' (the only "#" allowed is the "#v=1" that ends each NURL)' : '';
        throw invalidValue(src, 'contains "#"', `tahoe.cfg has no inline comments, so the "#" is part of the fURL: remove the comment, or move the fURL to private/introducers.yaml${nurlNote}`);
      }
      return;
    case 'server-endpoints':
    case 'hints':
    case 'server-endpoint':
    case 'client-endpoint':
      checkEndpointValue(v.type, value, src);
      return;
    case 'string':
    case 'path':
    case 'list':
      return;
  }
}

/** A NURL word: `pb://`, `pb+tor://` or `pb+i2p://`, no other `#`, ending in the `#v=1` fragment. */
const NURL_WORD = /^pb(?:\+tor|\+i2p)?:\/\/[^#]+#v=1$/;

/**
 * Whether every `#` in a value is the `#v=1` ending one of its NURLs (separated by spaces or
 * commas, as introducer addresses are). A `#` anywhere else is still taken for the comment
 * 1.20 refuses: tahoe.cfg has none, so it would silently become part of the URL.
 */
function onlyNurlFragments(value: string): boolean {
  return value.split(/[\s,]+/).every((word) => !word.includes('#') || NURL_WORD.test(word));
}

/**
 * Every per-key problem of a parsed tahoe.cfg for a node of the given type. Does not
 * throw; syntax problems come from `parseCfgLenient`, cross-key rules from NodeConfig.
 */
export function validateCfg(cfg: TahoeCfg, nodeType: NodeType): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const defaultKeys = new Set(cfg.defaultKeys());
  // [DEFAULT] keys show through in every section: report each once, naming the sections.
  const unknownDefaults = new Map<string, string[]>();
  for (const section of cfg.sections()) {
    const spec = sectionSpec(section);
    if (spec === undefined || !spec.nodeTypes.includes(nodeType)) {
      problems.push(unknownSectionProblem(cfg, section, nodeType));
      continue;
    }
    const own = new Set(cfg.ownKeys(section));
    for (const key of cfg.keys(section)) {
      const ks = keySpec(section, key);
      if (ks === undefined && spec.anyKey !== true) {
        const fromDefault = !own.has(key) && defaultKeys.has(key);
        if (fromDefault) {
          const sections = unknownDefaults.get(key) ?? [];
          sections.push(section);
          unknownDefaults.set(key, sections);
        } else problems.push(unknownKeyProblem(cfg, section, key, nodeType, false));
        continue;
      }
      const src: ValueSource = { section, key: cfg.spellingOf(section, key) ?? key, file: cfg.file, line: cfg.lineOf(section, key) };
      let value: string | undefined;
      try {
        value = cfg.get(section, key);
      } catch (e) {
        problems.push(problemFromError(e));
        continue;
      }
      if (ks === undefined || value === undefined) continue;
      if (ks.origin === 'tahoe-ts') {
        problems.push({
          severity: 'warning',
          kind: 'ConfigUnknownKey',
          message: `${src.file} line ${src.line}: [${section}] ${key} is a tahoe-ts extension`,
          hint: `real Tahoe-LAFS 1.20 refuses to start with this key in tahoe.cfg (UnknownConfigError); remove it before running this node directory with Tahoe-LAFS${extensionEquivalent(section, key)}`,
          file: cfg.file,
          line: src.line,
          section,
          key,
        });
      }
      try {
        checkValue(ks, value, src);
      } catch (e) {
        problems.push(problemFromError(e));
      }
    }
  }
  for (const [key, sections] of unknownDefaults) {
    const p = unknownKeyProblem(cfg, sections[0], key, nodeType, true);
    if (sections.length > 1) p.message = p.message.replace(`[${sections[0]}] has no key`, `${sections.map((s) => `[${s}]`).join(', ')} have no key`);
    problems.push(p);
  }
  return problems;
}

function extensionEquivalent(section: string, key: string): string {
  if (section === 'node' && key === 'anonymize') return '; the 1.20 spelling is reveal-IP-address = false plus [connections] tcp = tor';
  return '';
}
