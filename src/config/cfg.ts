/**
 * `tahoe.cfg` reader, writer and in-place editor.
 *
 * Spec: shared/specs/configuration.md §1 — the file is whatever Python 3.11's
 * `configparser.ConfigParser(strict=False)` makes of it after Tahoe-LAFS 1.20 opened it
 * with `encoding="utf-8-sig"` in universal-newline mode. Every rule below is there so
 * that tahoe-ts and real Tahoe read the same values from the same bytes; the test
 * suite checks this against the real Python parser on hand-written and random files.
 *
 * Reading: sections are case-sensitive and repeated sections merge; keys are
 * lower-cased; the last duplicate key wins; `#`/`;` start comments only as the first
 * non-blank character of a line; a line indented deeper than the line that started the
 * current key continues its value; `[DEFAULT]` keys show through in every section;
 * `%(name)s` interpolation happens when a value is read (so a stray `%` only fails for
 * the key that holds it, as in Python).
 *
 * Writing: `key = value`, one per line, `%` doubled, no continuation lines (1.20 does
 * not strip the newline when it splits comma lists).
 */
import { readFileSync } from 'node:fs';
import { TahoeError } from '../errors.js';

/** configparser's name for the section whose keys appear in every other section. */
export const DEFAULT_SECTION = 'DEFAULT';

/** Python's `str.isspace()` set (identical to `\s` in Python's `re` for str patterns). */
const PY_WHITESPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

export function isPyWhitespace(ch: string): boolean {
  return PY_WHITESPACE.has(ch.charCodeAt(0));
}

/** Python's `str.strip()`: JS `trim()` disagrees on U+001C-U+001F, U+0085 and U+FEFF. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_WHITESPACE.has(s.charCodeAt(start))) start++;
  while (end > start && PY_WHITESPACE.has(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

function pyRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && PY_WHITESPACE.has(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

function indentOf(line: string): number {
  let i = 0;
  while (i < line.length && PY_WHITESPACE.has(line.charCodeAt(i))) i++;
  return i;
}

/** configparser's `BOOLEAN_STATES`. */
const BOOLEANS: Record<string, boolean> = { '1': true, yes: true, true: true, on: true, '0': false, no: false, false: false, off: false };

/** Python gives up on interpolation chains deeper than this (`MAX_INTERPOLATION_DEPTH`). */
const MAX_INTERPOLATION_DEPTH = 10;

/** A syntax problem found while reading the file; line numbers are 1-based. */
export interface CfgSyntaxProblem {
  line: number;
  message: string;
  hint: string;
}

/** One stored value: the joined raw text (before interpolation) and where it was set. */
export interface CfgValue {
  /** Value with continuation lines joined by `\n`, not yet interpolated. */
  raw: string;
  /** 1-based line of the `key = value` line that set it (the last one, when repeated). */
  line: number;
  /** The key as written in the file (keys are compared lower-cased). */
  rawKey: string;
}

/** What one physical line of the file is, as configparser sees it. */
export type CfgLineInfo =
  | { type: 'blank' }
  | { type: 'comment' }
  | { type: 'header'; section: string; indent: number }
  | { type: 'option'; section: string; key: string; rawKey: string; indent: number }
  /** A line appended to the value of the option that started at `optionLine` (0-based). */
  | { type: 'continuation'; optionLine: number }
  | { type: 'error'; message: string };

interface ScanResult {
  lines: string[];
  info: CfgLineInfo[];
  /** Section name → key → parts (first part from the key line, then continuation lines). */
  sections: Map<string, Map<string, { parts: string[]; line: number; rawKey: string }>>;
  defaults: Map<string, { parts: string[]; line: number; rawKey: string }>;
  problems: CfgSyntaxProblem[];
}

/**
 * Decode file bytes the way Tahoe opens tahoe.cfg: UTF-8 (strict), one optional BOM
 * dropped, `\r\n` and lone `\r` turned into `\n`.
 */
export function decodeCfgBytes(bytes: Uint8Array, file = 'tahoe.cfg'): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (cause) {
    throw new TahoeError('ConfigInvalid', `${file} is not valid UTF-8`, {
      hint: `save ${file} as UTF-8 (tahoe.cfg must be UTF-8, with or without a byte order mark)`,
      cause,
      details: { file },
    });
  }
  return text;
}

/** Split text into lines as Python's universal-newline reader does (no terminators kept). */
export function splitCfgLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  // A trailing newline ends the last line rather than starting an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function scan(text: string): ScanResult {
  const lines = splitCfgLines(text);
  const info: CfgLineInfo[] = [];
  const sections: ScanResult['sections'] = new Map();
  const defaults: ScanResult['defaults'] = new Map();
  const problems: CfgSyntaxProblem[] = [];

  let current: Map<string, { parts: string[]; line: number; rawKey: string }> | null = null;
  let currentName: string | null = null;
  let optionName: string | null = null;
  let optionLine = -1;
  let indentLevel = 0;
  let reportedMissingHeader = false;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const stripped = pyStrip(line);
    if (stripped.startsWith('#') || stripped.startsWith(';')) {
      info.push({ type: 'comment' });
      continue;
    }
    if (stripped === '') {
      // Blank lines belong to the value being read (trailing ones are stripped at the end).
      if (current !== null && optionName) current.get(optionName)?.parts.push('');
      info.push({ type: 'blank' });
      continue;
    }
    const indent = indentOf(line);
    if (current !== null && optionName && indent > indentLevel) {
      current.get(optionName)?.parts.push(stripped);
      info.push({ type: 'continuation', optionLine });
      continue;
    }
    indentLevel = indent;
    const header = matchSectionHeader(stripped);
    if (header !== null) {
      currentName = header;
      if (header === DEFAULT_SECTION) current = defaults;
      else {
        current = sections.get(header) ?? new Map();
        sections.set(header, current);
      }
      optionName = null;
      info.push({ type: 'header', section: header, indent });
      continue;
    }
    if (current === null || currentName === null) {
      // Python stops at the first such line; later ones would repeat the same advice.
      if (!reportedMissingHeader) {
        problems.push({
          line: i + 1,
          message: `line ${i + 1} comes before any [section] header`,
          hint: 'put settings under a section header such as [node]; only comments may come before the first section',
        });
        reportedMissingHeader = true;
      }
      info.push({ type: 'error', message: 'before any section header' });
      continue;
    }
    const option = matchOption(stripped);
    if (option === null) {
      problems.push({
        line: i + 1,
        message: `line ${i + 1} is neither "key = value" nor a [section] header: ${JSON.stringify(truncate(stripped))}`,
        hint: 'write settings as "key = value"; to continue a value on the next line indent that line more than the key',
      });
      info.push({ type: 'error', message: 'no "=" or ":"' });
      continue;
    }
    if (option.key === '') {
      problems.push({
        line: i + 1,
        message: `line ${i + 1} has a value but no key: ${JSON.stringify(truncate(stripped))}`,
        hint: 'write settings as "key = value"',
      });
    }
    const key = option.key.toLowerCase();
    current.set(key, { parts: [option.value], line: i + 1, rawKey: option.key });
    optionName = key;
    optionLine = i;
    info.push({ type: 'option', section: currentName, key, rawKey: option.key, indent });
  }
  return { lines, info, sections, defaults, problems };
}

function truncate(s: string, max = 60): string {
  return s.length > max ? s.slice(0, max) + '…' : s;
}

/** configparser's `SECTCRE` (`\[(?P<header>.+)\]` with `match`): greedy up to the last `]`. */
function matchSectionHeader(stripped: string): string | null {
  if (!stripped.startsWith('[')) return null;
  const close = stripped.lastIndexOf(']');
  if (close < 2) return null;
  return stripped.slice(1, close);
}

/** configparser's `OPTCRE`: the key ends at the first `=` or `:`; both sides stripped. */
function matchOption(stripped: string): { key: string; value: string } | null {
  let at = -1;
  for (let i = 0; i < stripped.length; i++) {
    const c = stripped[i];
    if (c === '=' || c === ':') {
      at = i;
      break;
    }
  }
  if (at < 0) return null;
  return { key: pyRstrip(stripped.slice(0, at)), value: pyStrip(stripped.slice(at + 1)) };
}

function joinParts(parts: string[]): string {
  return pyRstrip(parts.join('\n'));
}

function toValues(m: Map<string, { parts: string[]; line: number; rawKey: string }>): Map<string, CfgValue> {
  const out = new Map<string, CfgValue>();
  for (const [k, v] of m) out.set(k, { raw: joinParts(v.parts), line: v.line, rawKey: v.rawKey });
  return out;
}

/** A parsed tahoe.cfg. Values are interpolated when read, as Python does. */
export class TahoeCfg {
  constructor(
    /** Path (or a label) used in messages. */
    readonly file: string,
    private readonly sectionMap: Map<string, Map<string, CfgValue>>,
    private readonly defaultMap: Map<string, CfgValue>,
  ) {}

  /** Section names in order of first appearance, without `[DEFAULT]`. */
  sections(): string[] {
    return [...this.sectionMap.keys()];
  }

  hasSection(section: string): boolean {
    return this.sectionMap.has(section);
  }

  /** Keys of a section as Python's `options()` lists them: its own, then `[DEFAULT]`'s. */
  keys(section: string): string[] {
    const own = this.sectionMap.get(section);
    if (own === undefined) return [];
    const out = [...own.keys()];
    for (const k of this.defaultMap.keys()) if (!own.has(k)) out.push(k);
    return out;
  }

  /** Keys written in the section itself (not inherited from `[DEFAULT]`). */
  ownKeys(section: string): string[] {
    return [...(this.sectionMap.get(section)?.keys() ?? [])];
  }

  defaultKeys(): string[] {
    return [...this.defaultMap.keys()];
  }

  private lookup(section: string, key: string): CfgValue | undefined {
    const k = key.toLowerCase();
    if (section === DEFAULT_SECTION) return this.defaultMap.get(k);
    const own = this.sectionMap.get(section);
    if (own === undefined) return undefined;
    return own.get(k) ?? this.defaultMap.get(k);
  }

  has(section: string, key: string): boolean {
    return this.lookup(section, key) !== undefined;
  }

  /** The text a section itself sets (not inherited from `[DEFAULT]`), before interpolation. */
  getOwnRaw(section: string, key: string): string | undefined {
    const k = key.toLowerCase();
    return section === DEFAULT_SECTION ? this.defaultMap.get(k)?.raw : this.sectionMap.get(section)?.get(k)?.raw;
  }

  /** The stored text, before interpolation. */
  getRaw(section: string, key: string): string | undefined {
    return this.lookup(section, key)?.raw;
  }

  /** 1-based line where the effective value was set. */
  lineOf(section: string, key: string): number | undefined {
    return this.lookup(section, key)?.line;
  }

  /** The key as spelled in the file, e.g. `reveal-IP-address`. */
  spellingOf(section: string, key: string): string | undefined {
    return this.lookup(section, key)?.rawKey;
  }

  /** The value after `%(name)s` interpolation; undefined when unset. */
  get(section: string, key: string): string | undefined {
    const v = this.lookup(section, key);
    if (v === undefined) return undefined;
    if (!v.raw.includes('%')) return v.raw;
    const out: string[] = [];
    this.interpolate(section, key.toLowerCase(), v, v.raw, out, 1);
    return out.join('');
  }

  /** A boolean in configparser's spelling (`1 yes true on` / `0 no false off`). */
  getBoolean(section: string, key: string): boolean | undefined {
    const s = this.get(section, key);
    if (s === undefined) return undefined;
    const b = BOOLEANS[s.toLowerCase()];
    if (b === undefined) {
      throw this.error(section, key, `is ${JSON.stringify(s)}, which is not a boolean`, 'use one of true/false (also accepted: yes/no, on/off, 1/0)');
    }
    return b;
  }

  /** Every section's effective values (raw, with `[DEFAULT]` merged), for comparisons and dumps. */
  toRawObject(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const s of this.sections()) {
      const entries: Record<string, string> = {};
      for (const k of this.keys(s)) entries[k] = this.getRaw(s, k) ?? '';
      out[s] = entries;
    }
    return out;
  }

  /** A `ConfigInvalid` error naming the file, line, `[section] key` and a fix. */
  error(section: string, key: string, problem: string, hint: string): TahoeError {
    const line = this.lineOf(section, key);
    const where = line === undefined ? this.file : `${this.file} line ${line}`;
    const spelled = this.spellingOf(section, key) ?? key;
    return new TahoeError('ConfigInvalid', `${where}: [${section}] ${spelled} ${problem}`, {
      hint,
      details: { file: this.file, line, section, key },
    });
  }

  private interpolate(section: string, key: string, top: CfgValue, rest: string, out: string[], depth: number): void {
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw this.error(section, key, `has %(...)s references nested more than ${MAX_INTERPOLATION_DEPTH} deep (is a value referring to itself?)`,
        'remove the circular %(name)s reference, or write a literal % as %%');
    }
    while (rest.length > 0) {
      const p = rest.indexOf('%');
      if (p < 0) {
        out.push(rest);
        return;
      }
      if (p > 0) {
        out.push(rest.slice(0, p));
        rest = rest.slice(p);
      }
      const next = rest.charAt(1);
      if (next === '%') {
        out.push('%');
        rest = rest.slice(2);
      } else if (next === '(') {
        const m = /^%\(([^)]+)\)s/.exec(rest);
        if (m === null) {
          throw this.error(section, key, `has a malformed %(...)s reference in ${JSON.stringify(truncate(rest))}`,
            'write a reference as %(other_key)s, or a literal % as %%');
        }
        const name = m[1].toLowerCase();
        rest = rest.slice(m[0].length);
        const ref = this.lookup(section, name);
        if (ref === undefined) {
          throw this.error(section, key, `refers to %(${m[1]})s, but [${section}] has no key "${name}"`,
            `define ${name} in [${section}] or [DEFAULT], or write a literal % as %%`);
        }
        if (ref.raw.includes('%')) this.interpolate(section, key, top, ref.raw, out, depth + 1);
        else out.push(ref.raw);
      } else {
        throw this.error(section, key, `contains a "%" that is not followed by "%" or "(": ${JSON.stringify(truncate(rest))}`,
          'tahoe.cfg uses Python interpolation: write a literal % as %%');
      }
    }
  }
}

export interface ParsedCfg {
  cfg: TahoeCfg;
  /** Empty when the file is valid; Tahoe-LAFS refuses to start on any of these. */
  problems: CfgSyntaxProblem[];
}

/**
 * Parse decoded text (see `decodeCfgBytes`, which drops the one BOM Tahoe ignores)
 * without throwing: every syntax problem is listed, the good lines are kept.
 */
export function parseCfgLenient(text: string, file = 'tahoe.cfg'): ParsedCfg {
  const r = scan(text);
  const sections = new Map<string, Map<string, CfgValue>>();
  for (const [name, m] of r.sections) sections.set(name, toValues(m));
  return { cfg: new TahoeCfg(file, sections, toValues(r.defaults)), problems: r.problems };
}

/** Parse, throwing `ConfigInvalid` (naming the file and line) on the first syntax problem. */
export function parseCfg(text: string, file = 'tahoe.cfg'): TahoeCfg {
  const { cfg, problems } = parseCfgLenient(text, file);
  if (problems.length > 0) throw syntaxError(file, problems);
  return cfg;
}

export function syntaxError(file: string, problems: CfgSyntaxProblem[]): TahoeError {
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more syntax problem${problems.length > 2 ? 's' : ''})` : '';
  return new TahoeError('ConfigInvalid', `${file} line ${first.line}: ${first.message}${more}`, {
    hint: first.hint,
    details: { file, line: first.line },
  });
}

/** Read and parse a tahoe.cfg file (UTF-8, optional BOM). */
export function readCfgFile(file: string): TahoeCfg {
  return parseCfg(readCfgText(file), file);
}

/** Read a tahoe.cfg file's text; a missing or unreadable file is a `NodeDirInvalid`. */
export function readCfgText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TahoeError('NodeDirInvalid', `cannot read ${file}${code ? ` (${code})` : ''}`, {
      hint: code === 'ENOENT'
        ? 'is this a node directory? create one with `tahoe-ts create-node DIR`, or pass -d DIR'
        : `check that you own ${file} and can read it`,
      cause,
      details: { file },
    });
  }
  return decodeCfgBytes(bytes, file);
}

// ---------------------------------------------------------------------------------
// Writing

/** One line of a section written by `serializeCfg`. */
export type CfgLine = { key: string; value: string } | { comment: string } | { blank: true };

export interface CfgSectionSpec {
  name: string;
  lines: CfgLine[];
}

/** `%` must be doubled, or Python reads it as the start of an interpolation. */
export function escapeCfgValue(value: string): string {
  return value.replace(/%/g, '%%');
}

function checkWritableSection(name: string): void {
  if (name === '' || /[\r\n\]]/.test(name) || pyStrip(name) !== name) {
    throw new TahoeError('BadInput', `cannot write section name ${JSON.stringify(name)} to tahoe.cfg`, {
      hint: 'section names must be non-empty, without "]", line breaks or surrounding spaces',
    });
  }
}

function checkWritableKey(key: string): void {
  const first = key.charAt(0);
  if (key === '' || /[=:\r\n]/.test(key) || pyStrip(key) !== key || first === '[' || first === '#' || first === ';') {
    throw new TahoeError('BadInput', `cannot write key ${JSON.stringify(key)} to tahoe.cfg`, {
      hint: 'keys must be non-empty, without "=", ":" or line breaks, and must not start with "[", "#" or ";"',
    });
  }
}

function checkWritableValue(key: string, value: string): void {
  if (/[\r\n]/.test(value) || pyStrip(value) !== value) {
    throw new TahoeError('BadInput', `cannot write the value of ${key} to tahoe.cfg: it has line breaks or surrounding whitespace`, {
      hint: 'tahoe.cfg values are single lines; leading and trailing spaces would be lost when the file is read',
    });
  }
}

function formatLine(key: string, value: string): string {
  checkWritableKey(key);
  checkWritableValue(key, value);
  return value === '' ? `${key} =` : `${key} = ${escapeCfgValue(value)}`;
}

/**
 * Write a tahoe.cfg: optional leading comment lines, then each section with its lines,
 * sections separated by one blank line. Values are literal (a `%` is written `%%`).
 */
export function serializeCfg(sections: CfgSectionSpec[], leadingComments: string[] = []): string {
  const out: string[] = [];
  for (const c of leadingComments) out.push(commentLine(c));
  if (leadingComments.length > 0) out.push('');
  sections.forEach((s, i) => {
    checkWritableSection(s.name);
    if (i > 0) out.push('');
    out.push(`[${s.name}]`);
    for (const l of s.lines) {
      if ('key' in l) out.push(formatLine(l.key, l.value));
      else if ('comment' in l) out.push(commentLine(l.comment));
      else out.push('');
    }
  });
  return out.join('\n') + '\n';
}

function commentLine(c: string): string {
  if (/[\r\n]/.test(c)) throw new TahoeError('BadInput', 'a tahoe.cfg comment cannot contain line breaks');
  return c === '' ? '#' : `# ${c}`;
}

/** Shorthand: write plain key/value maps (no comments). */
export function serializeCfgValues(values: Record<string, Record<string, string>>): string {
  return serializeCfg(Object.entries(values).map(([name, kv]) => ({
    name,
    lines: Object.entries(kv).map(([key, value]) => ({ key, value })),
  })));
}

// ---------------------------------------------------------------------------------
// Editing in place

/** Set (`value` a string) or remove (`value` null) one key. */
export interface CfgEdit {
  section: string;
  key: string;
  value: string | null;
}

/**
 * Apply edits to the text of a tahoe.cfg while keeping everything else — comments,
 * order, spelling of other keys, line endings, a BOM — as it was.
 *
 * Setting a key replaces the line (and continuation lines) that gives it its effective
 * value, keeping the key's spelling and indentation; a new key goes after the last
 * setting of the section's last block; a new section goes at the end. Removing a key
 * removes every occurrence in that section. The result is re-read and checked, so an
 * edit never silently changes another value.
 */
export function editCfgText(text: string, edits: CfgEdit[], file = 'tahoe.cfg'): string {
  const bom = text.startsWith('\ufeff') ? '\ufeff' : '';
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  let body = bom ? text.slice(1) : text;
  const before = parseCfgLenient(body, file);
  if (before.problems.length > 0) throw syntaxError(file, before.problems);
  for (const edit of edits) body = applyEdit(body, edit);
  const after = parseCfg(body, file);
  verifyEdits(before.cfg, after, edits, file);
  return bom + splitCfgLines(body).map((l) => l + eol).join('');
}

function applyEdit(body: string, edit: CfgEdit): string {
  checkWritableSection(edit.section);
  const key = edit.key.toLowerCase();
  const { lines, info } = scan(body);
  // Line ranges [start, end] (0-based, inclusive) of every setting of this key in this section.
  const ranges: Array<{ start: number; end: number; indent: number; rawKey: string }> = [];
  const blocks: Array<{ header: number; lastSignificant: number }> = [];
  let inSection = false;
  for (let i = 0; i < info.length; i++) {
    const li = info[i];
    if (li.type === 'header') {
      inSection = li.section === edit.section;
      if (inSection) blocks.push({ header: i, lastSignificant: i });
    } else if (inSection && (li.type === 'option' || li.type === 'continuation')) {
      blocks[blocks.length - 1].lastSignificant = i;
      if (li.type === 'option' && li.key === key) ranges.push({ start: i, end: i, indent: li.indent, rawKey: li.rawKey });
      if (li.type === 'continuation' && ranges.length > 0 && ranges[ranges.length - 1].start === li.optionLine) {
        ranges[ranges.length - 1].end = i;
      }
    }
  }
  const out = [...lines];
  const dropContinuations = (r: { start: number; end: number }): void => {
    // Keep comments and blank lines inside the old value; drop only its text lines.
    for (let i = r.end; i > r.start; i--) if (info[i].type === 'continuation') out.splice(i, 1);
  };
  if (edit.value === null) {
    for (let j = ranges.length - 1; j >= 0; j--) {
      dropContinuations(ranges[j]);
      out.splice(ranges[j].start, 1);
    }
    return out.join('\n') + '\n';
  }
  if (ranges.length > 0) {
    const r = ranges[ranges.length - 1];
    dropContinuations(r);
    out[r.start] = lines[r.start].slice(0, r.indent) + formatLine(r.rawKey, edit.value);
    return out.join('\n') + '\n';
  }
  const newLine = formatLine(edit.key, edit.value);
  if (blocks.length === 0) {
    while (out.length > 0 && pyStrip(out[out.length - 1]) === '') out.pop();
    if (out.length > 0) out.push('');
    out.push(`[${edit.section}]`, newLine);
    return out.join('\n') + '\n';
  }
  const at = blocks[blocks.length - 1].lastSignificant + 1;
  // The new line must not swallow the next line as a continuation: indent it like that line.
  let nextIndent = 0;
  for (let i = at; i < info.length; i++) {
    const t = info[i].type;
    if (t !== 'blank' && t !== 'comment') {
      nextIndent = indentOf(lines[i]);
      break;
    }
  }
  out.splice(at, 0, ' '.repeat(nextIndent) + newLine);
  return out.join('\n') + '\n';
}

function verifyEdits(before: TahoeCfg, after: TahoeCfg, edits: CfgEdit[], file: string): void {
  const own = new Map<string, Map<string, string>>();
  for (const s of [DEFAULT_SECTION, ...before.sections()]) {
    const keys = s === DEFAULT_SECTION ? before.defaultKeys() : before.ownKeys(s);
    own.set(s, new Map(keys.map((k) => [k, rawOwn(before, s, k)])));
  }
  for (const e of edits) {
    let sec = own.get(e.section);
    if (sec === undefined) {
      if (e.value === null) continue;
      sec = new Map();
      own.set(e.section, sec);
    }
    if (e.value === null) sec.delete(e.key.toLowerCase());
    else sec.set(e.key.toLowerCase(), escapeCfgValue(e.value));
  }
  const problems: string[] = [];
  const defaults = own.get(DEFAULT_SECTION) ?? new Map<string, string>();
  for (const [k, v] of defaults) if (after.getRaw(DEFAULT_SECTION, k) !== v) problems.push(`[DEFAULT] ${k}`);
  for (const k of after.defaultKeys()) if (!defaults.has(k)) problems.push(`[DEFAULT] ${k}`);
  const sectionNames = new Set([...own.keys(), ...after.sections()]);
  sectionNames.delete(DEFAULT_SECTION);
  for (const s of sectionNames) {
    const mine = own.get(s);
    if (mine === undefined || !after.hasSection(s)) {
      problems.push(`[${s}]`);
      continue;
    }
    const keys = new Set([...mine.keys(), ...defaults.keys(), ...after.keys(s)]);
    for (const k of keys) {
      const want = mine.get(k) ?? defaults.get(k);
      if (after.getRaw(s, k) !== want) problems.push(`[${s}] ${k}`);
    }
  }
  if (problems.length > 0) {
    throw new TahoeError('Internal', `editing ${file} would have changed ${problems.join(', ')} unexpectedly; the file was not changed`, {
      hint: 'edit tahoe.cfg by hand; please report the file layout that caused this',
    });
  }
}

/** The raw value a section itself sets for a key (ignoring [DEFAULT]). */
function rawOwn(cfg: TahoeCfg, section: string, key: string): string {
  return cfg.getOwnRaw(section, key) ?? '';
}
