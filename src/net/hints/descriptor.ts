/**
 * Twisted "strports" endpoint descriptor syntax, as used by `tub.port`, `web.port`,
 * `[tor] control.port`, `[i2p] sam.port` and the `i2p:` listener string of Tahoe 1.20.
 *
 * Spec: Twisted `twisted.internet.endpoints` documentation (serverFromString /
 * clientFromString): a descriptor is `TYPE:arg:arg:key=value:…`; `:` separates fields, the
 * first `=` of a field separates a key from its value (later `=` are part of the value),
 * and a backslash makes the next character literal (`\:` `\=` `\\`). Positional and
 * keyword fields may be mixed in any order (`tcp:interface=127.0.0.1:8098` is valid).
 *
 * This module only splits and joins; the meaning of each endpoint type lives in
 * server-endpoint.ts and client-endpoint.ts.
 */
import { TahoeError } from '../../errors.js';

export interface Descriptor {
  /** The endpoint type: the first positional field (`tcp`, `unix`, `onion`, …). */
  type: string;
  /** Positional fields after the type, unescaped. */
  args: string[];
  /** Keyword fields, unescaped. A key given twice is an error (Twisted keeps the last). */
  kwargs: Map<string, string>;
}

const SYNTAX_HINT = 'endpoint descriptors look like tcp:3457:interface=127.0.0.1; write a literal ":" as "\\:" and "\\" as "\\\\"';

/** Reject characters that no endpoint, hint or URL may contain (and that break logs and files). */
export function rejectControlCharacters(s: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s)) {
    throw new TahoeError('EndpointInvalid', `${what} contains a control character`, {
      hint: 'remove line breaks, tabs and other invisible characters from the value',
    });
  }
}

/** Split a descriptor into type, positional and keyword fields. */
export function parseDescriptor(text: string, what = 'endpoint'): Descriptor {
  rejectControlCharacters(text, what);
  // One group per ':'-separated field; a group holds one string (positional) or two (key, value).
  const groups: string[][] = [];
  let group: string[] = [];
  let current = '';
  let afterEquals = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (i + 1 >= text.length) {
        throw new TahoeError('EndpointInvalid', `${what} "${text}" ends with a lone backslash`, { hint: SYNTAX_HINT });
      }
      current += text[++i];
    } else if (c === ':') {
      group.push(current);
      groups.push(group);
      group = [];
      current = '';
      afterEquals = false;
    } else if (c === '=' && !afterEquals) {
      group.push(current);
      current = '';
      afterEquals = true;
    } else {
      current += c;
    }
  }
  group.push(current);
  groups.push(group);

  const [first, ...rest] = groups;
  if (first.length !== 1 || first[0] === '') {
    throw new TahoeError('EndpointInvalid', `${what} "${text}" does not start with an endpoint type`, { hint: SYNTAX_HINT });
  }
  const args: string[] = [];
  const kwargs = new Map<string, string>();
  for (const g of rest) {
    if (g.length === 1) {
      args.push(g[0]);
    } else {
      const [key, value] = g;
      if (key === '') throw new TahoeError('EndpointInvalid', `${what} "${text}" has a "=value" field without a key`, { hint: SYNTAX_HINT });
      if (kwargs.has(key)) {
        throw new TahoeError('EndpointInvalid', `${what} "${text}" sets ${key}= twice`, { hint: `give ${key}= only once` });
      }
      kwargs.set(key, value);
    }
  }
  return { type: first[0], args, kwargs };
}

/** Escape a positional field or a key: `\`, `:` and `=` become literal. */
export function escapeField(s: string): string {
  return s.replace(/[\\:=]/g, (c) => `\\${c}`);
}

/** Escape a keyword value: `=` needs no escape after the key's `=`. */
export function escapeValue(s: string): string {
  return s.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** Join a descriptor; keyword fields come after positional ones, in the given order. */
export function formatDescriptor(type: string, args: readonly string[], kwargs: ReadonlyArray<readonly [string, string]> = []): string {
  const parts = [escapeField(type), ...args.map(escapeField), ...kwargs.map(([k, v]) => `${escapeField(k)}=${escapeValue(v)}`)];
  return parts.join(':');
}

/**
 * Fetch a field that may be given positionally (at `index`) or as `key=`, as Twisted's
 * parsers do (`tcp:3457` ≡ `tcp:port=3457`). Giving both is an error.
 */
export function takeField(d: Descriptor, key: string, index: number, what: string): string | undefined {
  const positional = d.args[index];
  const keyword = d.kwargs.get(key);
  if (positional !== undefined && keyword !== undefined) {
    throw new TahoeError('EndpointInvalid', `${what} gives ${key} twice (as field ${index + 1} and as ${key}=)`, {
      hint: `give ${key} once`,
    });
  }
  return positional ?? keyword;
}

/** Throw when the descriptor has keyword fields outside `allowed` or more than `maxArgs` positional ones. */
export function checkFields(d: Descriptor, allowed: readonly string[], maxArgs: number, what: string, example: string): void {
  for (const key of d.kwargs.keys()) {
    if (!allowed.includes(key)) {
      throw new TahoeError('EndpointInvalid', `${what}: unknown option "${key}=" for a ${d.type}: endpoint`, {
        hint: allowed.length > 0 ? `${d.type}: endpoints accept ${allowed.map((k) => `${k}=`).join(', ')}; e.g. ${example}` : `e.g. ${example}`,
      });
    }
  }
  if (d.args.length > maxArgs) {
    throw new TahoeError('EndpointInvalid', `${what}: too many ":"-separated fields for a ${d.type}: endpoint`, {
      hint: `e.g. ${example}; a literal ":" inside a value is written "\\:"`,
    });
  }
}
