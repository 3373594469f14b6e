/**
 * A trap for local name resolution (anonymity-checklist AN-2.2): replaces every resolver
 * entry point Node offers — `dns.lookup`, `dns.lookupService`, every `dns.resolve*`,
 * `dns.reverse`, the same on `dns.promises` and on both `Resolver` classes — with
 * functions that record the call and fail. `net`, `tls`, `http` and `dgram` look
 * `dns.lookup` up on the module object at call time (Node 20 lib/net.js
 * `options.lookup || dns.lookup`), so this covers their implicit lookups too; named ESM
 * imports are re-synchronised with `syncBuiltinESMExports()`.
 *
 * IP literals pass through: `net.Server#listen({ host: '127.0.0.1' })` and `dgram` bind call
 * `dns.lookup` even for a numeric address, and Node answers an IP literal itself without
 * asking the system resolver (lib/dns.js returns it on the next tick when `isIP()` matches).
 * Every other call — a name — is recorded and fails.
 */
import dns from 'node:dns';
import { isIP } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

export interface ResolverCall {
  api: string;
  args: string;
  stack: string;
}

export interface ResolverTrap {
  readonly calls: readonly ResolverCall[];
  restore(): void;
}

type AnyFunction = (...args: unknown[]) => unknown;
type Patchable = Record<string, unknown>;

const CALLBACK_APIS = ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa', 'resolveCname', 'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt', 'reverse'];

function describeArgs(args: unknown[]): string {
  return args.filter((a) => typeof a !== 'function').map((a) => (typeof a === 'string' ? JSON.stringify(a) : typeof a === 'object' ? JSON.stringify(a) : String(a))).join(', ');
}

/** Install the trap; `restore()` puts the real functions back (call it in t.after). */
export function installResolverTrap(): ResolverTrap {
  const calls: ResolverCall[] = [];
  const saved: Array<[Patchable, string, unknown]> = [];
  const record = (api: string, args: unknown[]): Error => {
    const stack = new Error(`local name resolution attempted: ${api}(${describeArgs(args)})`).stack ?? '';
    calls.push({ api, args: describeArgs(args), stack });
    const err = new Error(`resolver trap: ${api}(${describeArgs(args)}) must not be called in anonymize mode`) as NodeJS.ErrnoException;
    err.code = 'EAI_FAIL';
    return err;
  };
  const patch = (target: Patchable, name: string, make: (api: string, original: unknown) => AnyFunction, api: string) => {
    if (typeof target[name] !== 'function') return;
    saved.push([target, name, target[name]]);
    target[name] = make(api, target[name]);
  };
  const passThrough = (args: unknown[]): boolean => typeof args[0] === 'string' && isIP(args[0]) !== 0;
  const callbackStyle = (api: string, original: unknown): AnyFunction => function (this: unknown, ...args: unknown[]) {
    if (api.endsWith('lookup') && passThrough(args)) return (original as AnyFunction).apply(this, args);
    const err = record(api, args);
    const cb = args.findLast((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
    if (cb) process.nextTick(() => cb(err));
    else throw err;
  };
  const promiseStyle = (api: string, original: unknown): AnyFunction => function (this: unknown, ...args: unknown[]) {
    if (api.endsWith('lookup') && passThrough(args)) return (original as AnyFunction).apply(this, args);
    return Promise.reject(record(api, args));
  };

  const dnsModule = dns as unknown as Patchable;
  const promises = dns.promises as unknown as Patchable;
  for (const api of CALLBACK_APIS) {
    patch(dnsModule, api, callbackStyle, `dns.${api}`);
    patch(promises, api, promiseStyle, `dns.promises.${api}`);
    patch(dns.Resolver.prototype as unknown as Patchable, api, callbackStyle, `dns.Resolver#${api}`);
    patch(dns.promises.Resolver.prototype as unknown as Patchable, api, promiseStyle, `dns.promises.Resolver#${api}`);
  }
  syncBuiltinESMExports();
  return {
    calls,
    restore() {
      for (const [target, name, original] of saved.reverse()) target[name] = original;
      saved.length = 0;
      syncBuiltinESMExports();
    },
  };
}
