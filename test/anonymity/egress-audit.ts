/**
 * A static audit of every way the code base could reach the network without passing the
 * egress choke point (src/net/socket.ts `openSocket` + the policy's gate): anonymity
 * checklist AN-2.1 (one dialer), AN-2.2 (no resolver outside src/net/), AN-2.3 (no shared
 * or global HTTP agent for peer traffic), AN-2.4 (dependencies never dial on their own).
 *
 * It parses each file with the TypeScript parser (syntax only, no type checking: fast) and
 * follows import aliases, so `import { connect as c } from 'node:net'; c(…)` is caught as
 * well as `net.connect(…)`. The rules say *how* an API may be used, not only where:
 * `tls.connect` is fine over an existing stream (`socket:` option) and never to a host;
 * `http.request` must bring its own connection (`createConnection`, or an agent that is
 * neither the global one nor `agent: false`, which makes Node dial by itself).
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface Finding {
  file: string;
  line: number;
  rule: string;
  message: string;
}

/** Node modules that can open sockets, resolve names, or start programs that could. */
const WATCHED_MODULES = new Set(['net', 'tls', 'http', 'https', 'http2', 'dgram', 'dns', 'dns/promises', 'child_process', 'undici', 'worker_threads', 'cluster', 'inspector']);

/**
 * Files allowed to import a watched module at all, with the reason. `net`, `tls` and
 * `http` are not listed: they are needed for servers and types everywhere, and their
 * dialling functions are checked call by call below.
 */
export const MODULE_ALLOW: Record<string, Record<string, string>> = {
  dgram: {
    'src/net/i2p/router-process.ts': 'binds 127.0.0.1 to test whether a UDP port is free for a launched i2pd; never sends',
    'src/testnet/exit-dns.ts': 'the private Tor network\'s loopback name server for its exits (test infrastructure, answers on 127.0.0.1 only)',
  },
  child_process: {
    'src/net/tor/process.ts': 'starts tor (launch = true, private test networks)',
    'src/net/i2p/router-process.ts': 'starts i2pd ([i2p] launch = true, offline test router)',
    'src/testnet/tor-network.ts': 'runs tor-gencert and tor --list-fingerprint for a private test network',
  },
  dns: {},
  'dns/promises': {},
  http2: {},
  undici: {},
  worker_threads: {},
  cluster: {},
  inspector: {},
};

/** The one file that may create TCP/unix client sockets. */
const SOCKET_FACTORY_ALLOW = new Set(['src/net/socket.ts']);

/** Files that may use OPEN_GATE (a gate that admits everything): tools and test infrastructure that never run in a node's dial path. */
export const OPEN_GATE_ALLOW: Record<string, string> = {
  'src/net/socket.ts': 'defines it',
  'src/net/i2p/router-process.ts': 'probes the SAM port of an i2pd it launched itself on 127.0.0.1',
  'src/testnet/tor-network.ts': 'waits for the private test network\'s own client tor on 127.0.0.1',
};

const SOCKET_FACTORIES = new Set(['net.connect', 'net.createConnection', 'net.Socket', 'net.Stream', 'tls.TLSSocket']);
const HTTP_REQUESTS = new Set(['http.request', 'http.get', 'https.request', 'https.get']);
const GLOBALS = new Set(['fetch', 'WebSocket', 'EventSource', 'XMLHttpRequest']);

interface Alias {
  module: string;
  /** undefined: the module object itself; otherwise the export it names. */
  member?: string;
}

function normalizeModule(spec: string): string {
  return spec.startsWith('node:') ? spec.slice(5) : spec;
}

/** `(x as T)`, `x satisfies T`, `(x)`, `x!` → x */
function unwrap(node: ts.Expression): ts.Expression {
  while (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node) || ts.isNonNullExpression(node) || ts.isTypeAssertionExpression(node)) node = node.expression;
  return node;
}

function propertyNames(node: ts.ObjectLiteralExpression): Map<string, ts.Expression | undefined> {
  const out = new Map<string, ts.Expression | undefined>();
  for (const p of node.properties) {
    if ((ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p) || ts.isShorthandPropertyAssignment(p)) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) {
      out.set(p.name.text, ts.isPropertyAssignment(p) ? p.initializer : undefined);
    } else if (ts.isSpreadAssignment(p)) {
      out.set('...', p.expression);
    }
  }
  return out;
}

/** Audit one file's text; `file` is its repository-relative path (forward slashes). */
export function auditSource(file: string, text: string): Finding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const aliases = new Map<string, Alias>();
  const add = (node: ts.Node, rule: string, message: string) => {
    findings.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, rule, message });
  };
  const importModule = (node: ts.Node, spec: string) => {
    const mod = normalizeModule(spec);
    const allow = MODULE_ALLOW[mod];
    if (allow !== undefined && allow[file] === undefined) add(node, 'module', `imports ${mod}, which only ${Object.keys(allow).join(', ') || 'no file'} may use`);
    return mod;
  };

  // Pass 1: names declared in the file (a local `fetch` is not the global one), string
  // constants (a `const spec = './x.js'; import(spec)` is as good as a literal), imports.
  const declared = new Set<string>();
  const stringConstants = new Map<string, string>();
  const collect = (node: ts.Node): void => {
    if ((ts.isVariableDeclaration(node) || ts.isFunctionDeclaration(node) || ts.isParameter(node) || ts.isClassDeclaration(node) || ts.isImportSpecifier(node) || ts.isImportClause(node) || ts.isNamespaceImport(node)) && node.name !== undefined && ts.isIdentifier(node.name)) {
      declared.add(node.name.text);
      if (ts.isVariableDeclaration(node) && node.initializer !== undefined && ts.isStringLiteralLike(node.initializer) && (ts.getCombinedNodeFlags(node) & ts.NodeFlags.Const) !== 0) {
        stringConstants.set(node.name.text, node.initializer.text);
      }
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);
  for (const stmt of sf.statements) {
    if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier)) continue;
    const mod = normalizeModule(stmt.moduleSpecifier.text);
    if (!WATCHED_MODULES.has(mod)) continue;
    const clause = stmt.importClause;
    if (clause?.isTypeOnly) continue;
    importModule(stmt, stmt.moduleSpecifier.text);
    if (clause?.name) aliases.set(clause.name.text, { module: mod });
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) aliases.set(bindings.name.text, { module: mod });
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements) {
        if (el.isTypeOnly) continue;
        aliases.set(el.name.text, { module: mod, member: (el.propertyName ?? el.name).text });
      }
    }
  }

  /** `net.connect` for `net.connect`, `c` (imported as connect from net), or `n.connect` (n = net). */
  const apiOf = (expr: ts.Expression): string | undefined => {
    if (ts.isIdentifier(expr)) {
      const a = aliases.get(expr.text);
      if (a?.member !== undefined) return `${a.module}.${a.member}`;
      if (GLOBALS.has(expr.text) && a === undefined && !declared.has(expr.text)) return expr.text;
      return undefined;
    }
    if (ts.isPropertyAccessExpression(expr) && ts.isIdentifier(expr.expression)) {
      const a = aliases.get(expr.expression.text);
      if (a !== undefined && a.member === undefined) return `${a.module}.${expr.name.text}`;
      if ((expr.expression.text === 'globalThis' || expr.expression.text === 'global') && GLOBALS.has(expr.name.text)) return expr.name.text;
    }
    return undefined;
  };

  const checkHttpOptions = (call: ts.CallExpression, api: string) => {
    if (api.startsWith('https.')) {
      add(call, 'http-agent', `${api} dials by itself (TLS without our SPKI pinning, outside openSocket): use net/tls.ts over a transport stream`);
      return;
    }
    const opts = call.arguments.map(unwrap).find((a) => ts.isObjectLiteralExpression(a));
    if (opts === undefined || !ts.isObjectLiteralExpression(opts)) {
      add(call, 'http-agent', `${api} without an options object literal: Node would use the global agent, which dials with net.createConnection`);
      return;
    }
    const props = propertyNames(opts);
    if (props.has('createConnection')) return;
    if (props.has('agent')) {
      const agent = props.get('agent');
      const text = agent?.getText(sf) ?? '';
      if (agent === undefined || /^(false|true|undefined|null)$/.test(text) || /\bglobalAgent\b/.test(text)) {
        add(call, 'http-agent', `${api} with agent: ${text || '(shorthand)'}: Node would dial by itself; pass createConnection or an agent whose createConnection dials through a transport`);
      }
      return;
    }
    add(call, 'http-agent', `${api} without createConnection or agent: Node would use the global agent, which dials with net.createConnection`);
  };

  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      // require('net') and import('net'): aliases we cannot follow.
      if ((ts.isIdentifier(node.expression) && node.expression.text === 'require') || node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = node.arguments[0];
        const spec = arg === undefined ? undefined : ts.isStringLiteralLike(arg) ? arg.text : ts.isIdentifier(arg) ? stringConstants.get(arg.text) : undefined;
        if (spec === undefined) add(node, 'dynamic-import', 'require()/import() with a computed module name: the audit cannot follow it');
        else if (WATCHED_MODULES.has(normalizeModule(spec))) add(node, 'dynamic-import', `require()/import() of ${normalizeModule(spec)}: import it statically so the audit can follow its uses`);
      }
      const api = apiOf(node.expression);
      if (api !== undefined) {
        if (SOCKET_FACTORIES.has(api) && !SOCKET_FACTORY_ALLOW.has(file)) add(node, 'socket', `${api}() outside src/net/socket.ts: open sockets with openSocket() so the policy's gate checks them`);
        if (api === 'tls.connect') {
          const opts = node.arguments.map(unwrap).find((a) => ts.isObjectLiteralExpression(a));
          const props = opts !== undefined && ts.isObjectLiteralExpression(opts) ? propertyNames(opts) : undefined;
          if (props === undefined || !props.has('socket') || props.has('host') || props.has('port') || props.has('path')) {
            add(node, 'tls', 'tls.connect() must wrap an existing stream (socket: …) from a transport, never dial a host itself');
          }
        }
        if (HTTP_REQUESTS.has(api)) checkHttpOptions(node, api);
        if (api.startsWith('dns.') || api.startsWith('dns/promises.')) add(node, 'dns', `${api}(): no name resolution outside src/net/`);
        if (api === 'http2.connect') add(node, 'socket', 'http2.connect() dials by itself');
        if (GLOBALS.has(api)) add(node, 'global', `${api}() dials by itself (no gate, global dispatcher)`);
        if (api === 'dgram.createSocket' && MODULE_ALLOW.dgram[file] === undefined) add(node, 'module', 'dgram socket outside the allow-list');
      }
    } else if (ts.isNewExpression(node)) {
      const api = apiOf(node.expression);
      if (api !== undefined) {
        if (SOCKET_FACTORIES.has(api) && !SOCKET_FACTORY_ALLOW.has(file)) add(node, 'socket', `new ${api}() outside src/net/socket.ts`);
        if (api === 'http.Agent' || api === 'https.Agent') add(node, 'http-agent', `new ${api}(): a plain agent dials with net.createConnection; subclass it and override createConnection to dial through a transport`);
        if (GLOBALS.has(api)) add(node, 'global', `new ${api}() dials by itself`);
      }
    } else if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
      for (const clause of node.heritageClauses ?? []) {
        for (const type of clause.types) {
          const api = apiOf(type.expression);
          if (api !== 'http.Agent' && api !== 'https.Agent') continue;
          const overrides = node.members.some((m) => ts.isMethodDeclaration(m) && m.name !== undefined && ts.isIdentifier(m.name) && m.name.text === 'createConnection');
          if (!overrides) add(node, 'http-agent', `a subclass of ${api} that does not override createConnection dials by itself`);
        }
      }
    } else if (ts.isPropertyAccessExpression(node)) {
      const api = apiOf(node);
      if (api === 'http.globalAgent' || api === 'https.globalAgent') add(node, 'http-agent', `${api}: a shared global agent for peer traffic (AN-2.3)`);
    } else if (ts.isIdentifier(node)) {
      if (node.text === 'OPEN_GATE' && OPEN_GATE_ALLOW[file] === undefined && !ts.isImportSpecifier(node.parent)) add(node, 'gate', 'OPEN_GATE (admits every endpoint) used in node code: pass the policy\'s gate');
      if ((node.text === 'internalBinding' || (node.text === 'binding' && ts.isPropertyAccessExpression(node.parent) && node.parent.expression.getText(sf) === 'process'))) add(node, 'binding', 'process.binding/internalBinding bypasses the net module');
    } else if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'allowNameResolution' && node.initializer.kind === ts.SyntaxKind.TrueKeyword && file !== 'src/net/socket.ts') {
      add(node, 'gate', 'a home-made gate that allows name resolution: use the policy\'s gate');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Audit every source file under `root/src`. */
export function auditRepository(root: string): { files: number; findings: Finding[] } {
  const files = walk(path.join(root, 'src'));
  const findings = files.flatMap((f) => auditSource(path.relative(root, f).split(path.sep).join('/'), readFileSync(f, 'utf8')));
  return { files: files.length, findings };
}

// ------------------------------------------------------------------------------------
// Dependencies (AN-2.4)

export interface DependencyFinding {
  file: string;
  what: string;
}

/** Every package the runtime dependencies pull in (nested node_modules included). */
export function runtimeDependencyDirs(root: string): string[] {
  const dirs: string[] = [];
  const seen = new Set<string>();
  const visit = (fromDir: string, name: string) => {
    // Node's resolution: the nearest node_modules up from the requiring package.
    let dir = fromDir;
    let found: string | undefined;
    while (true) {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) {
        found = candidate;
        break;
      }
      const parent = path.dirname(dir);
      if (parent === dir || !parent.startsWith(root)) break;
      dir = parent;
    }
    if (found === undefined) throw new Error(`dependency ${name} (required from ${fromDir}) is not installed`);
    if (seen.has(found)) return;
    seen.add(found);
    dirs.push(found);
    const pj = JSON.parse(readFileSync(path.join(found, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pj.dependencies ?? {})) visit(found, dep);
  };
  const pj = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const dep of Object.keys(pj.dependencies ?? {})) visit(root, dep);
  return dirs;
}

const DEP_PATTERNS: Array<[RegExp, string]> = [
  [/\brequire\(\s*['"](?:node:)?(net|tls|http|https|http2|dgram|dns|dns\/promises|child_process|undici|worker_threads|cluster)['"]\s*\)/g, 'require'],
  [/\bfrom\s*['"](?:node:)?(net|tls|http|https|http2|dgram|dns|dns\/promises|child_process|undici|worker_threads|cluster)['"]/g, 'import'],
  [/\bimport\(\s*['"](?:node:)?(net|tls|http|https|http2|dgram|dns|dns\/promises|child_process|undici|worker_threads|cluster)['"]\s*\)/g, 'import()'],
  [/\b(fetch|XMLHttpRequest|WebSocket|EventSource)\s*\(/g, 'global'],
  [/\bnew\s+(XMLHttpRequest|WebSocket|EventSource)\b/g, 'global'],
  [/\bprocess\.binding\s*\(/g, 'binding'],
];

/** Scan the JavaScript of every runtime dependency for network, resolver and process APIs. */
export function auditDependencies(root: string): { packages: string[]; files: number; findings: DependencyFinding[] } {
  const dirs = runtimeDependencyDirs(root);
  const findings: DependencyFinding[] = [];
  let files = 0;
  for (const dir of dirs) {
    for (const file of walk(dir)) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      // A nested package is audited as a package of its own.
      if (dirs.some((d) => d !== dir && file.startsWith(d + path.sep))) continue;
      files++;
      const text = readFileSync(file, 'utf8');
      for (const [re, kind] of DEP_PATTERNS) {
        for (const m of text.matchAll(re)) findings.push({ file: rel, what: `${kind} ${m[1]}` });
      }
    }
  }
  return { packages: dirs.map((d) => path.relative(root, d).split(path.sep).join('/')), files, findings };
}
