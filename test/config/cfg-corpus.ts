/**
 * Tricky tahoe.cfg files (hand-written) and a seeded generator of random ones, shared by
 * the parser tests, the Python comparison and the fuzzer.
 */

/** A small deterministic PRNG (mulberry32) so a failing random case can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

export const HAND_WRITTEN: Record<string, string> = {
  basic: '[node]\nnickname = alice\ntub.port = tcp:3456\n',
  colon: '[node]\nnickname: bob\nweb.port : tcp:3456:interface=127.0.0.1\n',
  bom: '\ufeff[node]\nnickname = bom\n',
  crlf: '[node]\r\nnickname = crlf\r\ntub.location = tcp:a:1,\r\n  tcp:b:2\r\n',
  lone_cr: '[node]\rnickname = cr\r  more\r',
  case_keys: '[node]\nReveal-IP-Address = false\nNICKNAME = x\n',
  case_sections: '[Node]\nnickname = upper\n[node]\nnickname = lower\n',
  repeated_sections: '[node]\nnickname = one\n[client]\nshares.needed = 2\n[node]\nweb.port = tcp:1\nnickname = two\n',
  duplicate_keys: '[node]\nnickname = first\nnickname = second\n',
  comments: '# top\n; top\n[node]\n# c\n  ; indented comment\nnickname = a # not a comment\nx = b ; nor this\n',
  continuation: '[node]\ntub.location = tcp:a:1,\n    tcp:b:2\n  tcp:c:3\nnext = 1\n',
  continuation_blank: '[node]\na = 1\n\n   b\n\n\nc = 2\n',
  indented_after_header: '[connections]\n tcp = tor\n  more = x\n',
  indented_after_header2: '[connections]\n    tcp = tor\n  other = y\n      cont\n',
  empty_value: '[node]\nnickname =\nweb.port:\n',
  value_with_delims: '[node]\ntub.port = tcp:3456:interface=127.0.0.1\nfurl = pb://a@b:1/c\n',
  spaces_in_key: '[node]\nmy key = v\n  spaced   =   value with   spaces   \n',
  interpolation: '[node]\nbase = /srv\npath = %(base)s/tahoe\npct = 100%%\nmiss = %(nope)s\nlone = 5%\nbad = %(x\n',
  default_section: '[DEFAULT]\nroot = /r\n[node]\npath = %(root)s/n\n[client]\nroot = /c\npath = %(root)s/c\n',
  deep_interpolation: '[s]\na = %(b)s\nb = %(c)s\nc = %(a)s\n',
  interp_chain: '[s]\na = x%(b)s\nb = y%(c)s\nc = z%%\n',
  booleans: '[s]\na = yes\nb = No\nc = TRUE\nd = off\ne = 1\nf = 0\ng = maybe\nh =\n',
  header_junk: '[node] trailing\nnickname = j\n[a]b]\nk = v\n[[x]]\nk = w\n',
  header_indented: '[node]\na = 1\n  [other]\nb = 2\n',
  missing_header: 'nickname = x\n[node]\n',
  comment_then_missing: '# c\n\n  nickname = y\n',
  bad_line: '[node]\nthis is not an option\nnickname = ok\n',
  bad_then_indent: '[node]\na = 1\nbogus\n  more\n',
  empty_key: '[node]\n= value\n  cont\n',
  empty_brackets: '[node]\n[]\n',
  unicode: '[node]\nnickname = Zoë 🐢\n[ünï]\nkëy = välue\n',
  py_whitespace: '[node]\nnickname = \u0085x\u0085\n\u00a0k = v\u00a0\n',
  feff_inside: '[node]\nnickname = \ufeffx\n',
  double_bom: '\ufeff\ufeff[node]\nnickname = y\n',
  tabs: '[node]\n\ttub.port = tcp:1\n\t\tcont\nx = 1\n',
  no_trailing_newline: '[node]\nnickname = end',
  only_comments: '# nothing\n; here\n',
  empty: '',
  equals_in_value: '[node]\na==b\nc=:d\ne:=f\n',
  default_keys_everywhere: '[DEFAULT]\nnickname = d\n[node]\n[client]\nshares.needed = 1\n',
  whitespace_line_in_value: '[s]\na = 1\n   \n  b\n',
};

const KEYS = ['nickname', 'NickName', 'tub.port', 'tub.location', 'a', 'B', 'k', 'web.port', 'reveal-IP-address', 'x y', 'ü'];
const SECTIONS = ['node', 'Node', 'client', 'DEFAULT', 'tor', 'a b', 'ü', 's'];
const WS = [' ', '  ', '\t', '', '', '', '\u00a0', '\u0085', '\x1c', '\x0c', '\ufeff'];
const VALUE_PARTS = ['x', 'tcp:127.0.0.1:3456', '%', '%%', '%(a)s', '%(nickname)s', '%(b)s', '%(', ')s', '#', ';', '=', ':', ' ', 'true', 'off', '[', ']', 'é', '🐢', '1', '\u2028'];
const EOLS = ['\n', '\n', '\n', '\r\n', '\r'];

function ws(r: () => number): string {
  return pick(r, WS);
}

function value(r: () => number): string {
  let v = '';
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) v += pick(r, VALUE_PARTS);
  return v;
}

/** A random file biased toward the rules that differ between INI dialects. */
export function randomCfg(r: () => number): string {
  const lines: string[] = [];
  if (r() < 0.1) lines.push('\ufeff');
  const n = 1 + Math.floor(r() * 14);
  let haveHeader = false;
  for (let i = 0; i < n; i++) {
    const x = r();
    if (!haveHeader && r() < 0.9) {
      lines.push(`${r() < 0.2 ? ws(r) : ''}[${pick(r, SECTIONS)}]${r() < 0.1 ? ' junk' : ''}`);
      haveHeader = true;
    } else if (x < 0.15) {
      lines.push(`${r() < 0.2 ? ws(r) : ''}[${pick(r, SECTIONS)}]`);
    } else if (x < 0.25) {
      lines.push(`${ws(r)}${pick(r, ['#', ';'])} comment ${value(r)}`);
    } else if (x < 0.35) {
      lines.push(ws(r));
    } else if (x < 0.5) {
      lines.push(`${ws(r)}${ws(r)}${value(r)}`);
    } else if (x < 0.53) {
      lines.push(value(r));
    } else {
      lines.push(`${r() < 0.3 ? ws(r) : ''}${pick(r, KEYS)}${ws(r)}${pick(r, ['=', ':', '=', ' = '])}${ws(r)}${value(r)}${ws(r)}`);
    }
  }
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    if (i === 0 && lines[0] === '\ufeff') {
      out += '\ufeff';
      continue;
    }
    out += lines[i] + (i === lines.length - 1 && r() < 0.2 ? '' : pick(r, EOLS));
  }
  return out;
}

/** Flip, insert or delete a few characters of a file. */
export function mutate(r: () => number, text: string): string {
  const alphabet = ['[', ']', '=', ':', '%', '(', ')', 's', '#', ';', ' ', '\t', '\n', '\r', 'a', '\ufeff', '\u0085', 'é'];
  let s = text;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.4) s = s.slice(0, at) + pick(r, alphabet) + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1);
    else s = s.slice(0, at) + pick(r, alphabet) + s.slice(at + 1);
  }
  return s;
}
