/**
 * Typed access to a node's tahoe.cfg: every key of `[node] [client] [storage]
 * [connections] [tor] [i2p]` plus the tahoe-ts extensions, with Tahoe-LAFS 1.20 defaults,
 * parsed values, paths resolved against the node directory, and the cross-key rules.
 *
 * Spec: shared/specs/configuration.md §2 (keys, defaults, value syntax, tub.port /
 * tub.location pairing, `[connections] tcp`, `[tor]`, `[i2p]`), §3 and §3a (the settings
 * the privacy policy needs). Every bad value is a `ConfigInvalid` naming `[section] key`
 * (with file and line) and the fix. Getters parse on use, so one bad key does not hide the
 * others: `NodeConfig.problems()` reads everything and lists every failure.
 */
import os from 'node:os';
import path from 'node:path';
import type { ClientEndpoint, ServerEndpoint, TubLocation, TubPort } from '../net/hints.js';
import { tubDefaults, type PrivacySettings } from '../net/policy.js';
import type { TahoeCfg } from './cfg.js';
import { parseClientEndpointValue, parseServerEndpointValue, parseTubLocationValue, parseTubPortValue } from './endpoints.js';
import type { NodeType } from './schema.js';
import { problemFromError, type ConfigProblem } from './validate.js';
import { invalidValue, parseDate, parseDuration, parseIntValue, parseList, parseSize, type ValueSource } from './values.js';

export type { PrivacySettings };

/** Typed reads of one tahoe.cfg with messages that name the key. */
class Reader {
  constructor(readonly cfg: TahoeCfg, readonly nodeDirectory: string) {}

  src(section: string, key: string): ValueSource {
    return { section, key: this.cfg.spellingOf(section, key) ?? key, file: this.cfg.file, line: this.cfg.lineOf(section, key) };
  }

  string(section: string, key: string): string | undefined {
    return this.cfg.get(section, key);
  }

  /** A value where an empty string means "not set" (Tahoe's `if value:` idiom). */
  nonEmpty(section: string, key: string): string | undefined {
    const v = this.cfg.get(section, key);
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  bool(section: string, key: string, fallback: boolean): boolean {
    return this.cfg.getBoolean(section, key) ?? fallback;
  }

  optionalBool(section: string, key: string): boolean | undefined {
    return this.cfg.getBoolean(section, key);
  }

  int(section: string, key: string, fallback: number, min?: number, max?: number): number {
    const v = this.nonEmpty(section, key);
    return v === undefined ? fallback : parseIntValue(v, this.src(section, key), min, max);
  }

  optionalInt(section: string, key: string, min?: number, max?: number): number | undefined {
    const v = this.nonEmpty(section, key);
    return v === undefined ? undefined : parseIntValue(v, this.src(section, key), min, max);
  }

  /** A path relative to the node directory (`~` expanded, as Tahoe's abspath_expanduser does). */
  path(section: string, key: string, fallback?: string): string | undefined {
    const v = this.nonEmpty(section, key) ?? fallback;
    return v === undefined ? undefined : resolveNodePath(this.nodeDirectory, v);
  }

  enumValue<T extends string>(section: string, key: string, values: readonly T[], fallback: T): T {
    const v = this.nonEmpty(section, key);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    const hit = values.find((x) => x === lower);
    if (hit === undefined) throw invalidValue(this.src(section, key), `is ${JSON.stringify(v)}`, `use one of: ${values.join(', ')}`);
    return hit;
  }

  clientEndpoint(section: string, key: string): ClientEndpoint | undefined {
    const v = this.nonEmpty(section, key);
    return v === undefined ? undefined : parseClientEndpointValue(v, this.src(section, key));
  }
}

/** Resolve a tahoe.cfg path: absolute stays, `~` is the home directory, else relative to the node directory. */
export function resolveNodePath(nodeDirectory: string, value: string): string {
  if (value === '~') return os.homedir();
  if (value.startsWith('~/')) return path.join(os.homedir(), value.slice(2));
  return path.resolve(nodeDirectory, value);
}

export class NodeSettings {
  constructor(private readonly r: Reader) {}
  /** Display name; Tahoe shows `<unspecified>` when unset. */
  get nickname(): string {
    return this.r.string('node', 'nickname') ?? '<unspecified>';
  }
  /** Web gateway listener; undefined = no web gateway (unset or empty). */
  get webPort(): ServerEndpoint | undefined {
    const v = this.r.nonEmpty('node', 'web.port');
    return v === undefined ? undefined : parseServerEndpointValue(v, this.r.src('node', 'web.port'));
  }
  get webStatic(): string {
    return this.r.path('node', 'web.static', 'public_html') as string;
  }
  /** undefined = unset: 1.20 listens on a kernel-chosen port remembered in `client.port`. */
  get tubPort(): TubPort | undefined {
    const v = this.r.string('node', 'tub.port');
    return v === undefined ? undefined : parseTubPortValue(v, this.r.src('node', 'tub.port'));
  }
  /** Unset means AUTO (1.20), or UNREACHABLE under `anonymize = true` (the original design). */
  get tubLocation(): TubLocation {
    const v = this.r.string('node', 'tub.location');
    if (v !== undefined) return parseTubLocationValue(v, this.r.src('node', 'tub.location'));
    return this.anonymize === true ? { type: 'items', items: [{ type: 'unreachable' }] } : { type: 'items', items: [{ type: 'auto', spelling: 'AUTO' }] };
  }
  get tubLocationIsDefault(): boolean {
    return this.r.string('node', 'tub.location') === undefined;
  }
  get revealIpAddress(): boolean {
    return this.r.bool('node', 'reveal-ip-address', true);
  }
  /** Seconds; undefined = Foolscap's default. */
  get timeoutKeepalive(): number | undefined {
    return this.r.optionalInt('node', 'timeout.keepalive', 1);
  }
  get timeoutDisconnect(): number | undefined {
    return this.r.optionalInt('node', 'timeout.disconnect', 1);
  }
  get tempdir(): string {
    return this.r.path('node', 'tempdir', 'tmp') as string;
  }
  get logGathererFurl(): string | undefined {
    return this.r.nonEmpty('node', 'log_gatherer.furl');
  }
  /** tahoe-ts extension (the original design's switch); undefined when not written. */
  get anonymize(): boolean | undefined {
    return this.r.optionalBool('node', 'anonymize');
  }
  /** tahoe-ts extension: log addresses unredacted. */
  get logSensitive(): boolean {
    return this.r.bool('node', 'log_sensitive', false);
  }
}

export class ConnectionsSettings {
  constructor(private readonly r: Reader) {}
  /** How `tcp:` hints are reached. */
  get tcp(): 'tcp' | 'tor' | 'disabled' {
    return this.r.enumValue('connections', 'tcp', ['tcp', 'tor', 'disabled'] as const, 'tcp');
  }
}

export class TorSettings {
  constructor(private readonly r: Reader) {}
  get enabled(): boolean {
    return this.r.bool('tor', 'enabled', true);
  }
  /** undefined = try tcp:127.0.0.1:9050, then tcp:127.0.0.1:9150. */
  get socksPort(): ClientEndpoint | undefined {
    return this.r.clientEndpoint('tor', 'socks.port');
  }
  get controlPort(): ClientEndpoint | undefined {
    return this.r.clientEndpoint('tor', 'control.port');
  }
  get launch(): boolean {
    return this.r.bool('tor', 'launch', false);
  }
  get executable(): string | undefined {
    // A bare name is looked up on $PATH by the launcher, not resolved against the node directory.
    const v = this.r.nonEmpty('tor', 'tor.executable');
    return v === undefined || !v.includes('/') ? v : resolveNodePath(this.r.nodeDirectory, v);
  }
  get onion(): boolean {
    return this.r.bool('tor', 'onion', false);
  }
  get onionLocalPort(): number | undefined {
    return this.r.optionalInt('tor', 'onion.local_port', 1, 65535);
  }
  get onionExternalPort(): number | undefined {
    return this.r.optionalInt('tor', 'onion.external_port', 1, 65535);
  }
  get onionPrivateKeyFile(): string | undefined {
    return this.r.path('tor', 'onion.private_key_file');
  }
  /** tahoe-ts extension: torrc fragment for a launched tor (`--defaults-torrc`). */
  get launchExtraTorrc(): string | undefined {
    return this.r.path('tor', 'launch.extra_torrc');
  }
  /** tahoe-ts extension: seconds to wait for a launched tor to bootstrap. */
  get bootstrapTimeout(): number {
    return this.r.int('tor', 'bootstrap_timeout', 180, 1);
  }
}

export class I2pSettings {
  constructor(private readonly r: Reader) {}
  get enabled(): boolean {
    return this.r.bool('i2p', 'enabled', true);
  }
  /** undefined = tcp:127.0.0.1:7656. */
  get samPort(): ClientEndpoint | undefined {
    return this.r.clientEndpoint('i2p', 'sam.port');
  }
  get launch(): boolean {
    return this.r.bool('i2p', 'launch', false);
  }
  get configdir(): string | undefined {
    return this.r.path('i2p', 'i2p.configdir');
  }
  get executable(): string | undefined {
    const v = this.r.nonEmpty('i2p', 'i2p.executable');
    return v === undefined || !v.includes('/') ? v : resolveNodePath(this.r.nodeDirectory, v);
  }
  get dest(): boolean {
    return this.r.bool('i2p', 'dest', false);
  }
  get destPort(): number | undefined {
    return this.r.optionalInt('i2p', 'dest.port', 1, 65535);
  }
  get destPrivateKeyFile(): string | undefined {
    return this.r.path('i2p', 'dest.private_key_file');
  }
  /**
   * tahoe-ts extension: the SAM SESSION CREATE options, parsed from `key=value key=value`.
   * Non-empty, they replace the production session options (nothing is merged).
   */
  get samOptions(): Record<string, string> {
    const v = this.r.nonEmpty('i2p', 'sam.options');
    const out: Record<string, string> = {};
    if (v === undefined) return out;
    for (const item of v.split(/\s+/)) {
      const eq = item.indexOf('=');
      if (eq <= 0 || eq === item.length - 1) {
        throw invalidValue(this.r.src('i2p', 'sam.options'), `has "${item}", which is not key=value`, 'write space-separated options such as inbound.length=0 outbound.length=0');
      }
      out[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return out;
  }
}

export class ClientSettings {
  constructor(private readonly r: Reader) {}
  /** Deprecated single introducer; private/introducers.yaml is the 1.20 way. */
  get introducerFurl(): string | undefined {
    return this.r.nonEmpty('client', 'introducer.furl');
  }
  get helperFurl(): string | undefined {
    return this.r.nonEmpty('client', 'helper.furl');
  }
  get keyGeneratorFurl(): string | undefined {
    return this.r.nonEmpty('client', 'key_generator.furl');
  }
  get mutableFormat(): 'sdmf' | 'mdmf' {
    return this.r.enumValue('client', 'mutable.format', ['sdmf', 'mdmf'] as const, 'sdmf');
  }
  get peersPreferred(): string[] {
    return parseList(this.r.string('client', 'peers.preferred') ?? '');
  }
  get sharesNeeded(): number {
    return this.r.int('client', 'shares.needed', 3, 1, 256);
  }
  get sharesHappy(): number {
    return this.r.int('client', 'shares.happy', 7, 1, 256);
  }
  get sharesTotal(): number {
    return this.r.int('client', 'shares.total', 10, 1, 256);
  }
  /** k, happy, N checked together: 1 ≤ k ≤ happy ≤ N ≤ 256. */
  get shares(): { needed: number; happy: number; total: number } {
    const needed = this.sharesNeeded;
    const happy = this.sharesHappy;
    const total = this.sharesTotal;
    if (needed > happy || happy > total) {
      const key = needed > happy ? 'shares.happy' : 'shares.total';
      throw invalidValue(this.r.src('client', key), `breaks 1 ≤ shares.needed (${needed}) ≤ shares.happy (${happy}) ≤ shares.total (${total})`,
        needed > total ? 'shares.needed cannot exceed shares.total: lower needed or raise total' : needed > happy ? 'raise shares.happy to at least shares.needed' : 'lower shares.happy to at most shares.total, or raise shares.total');
    }
    return { needed, happy, total };
  }
  get maxSegmentSize(): number {
    return this.r.int('client', 'shares._max_immutable_segment_size_for_testing', 1048576, 1);
  }
  get storagePlugins(): string[] {
    return parseList(this.r.string('client', 'storage.plugins') ?? '');
  }
  get forceFoolscap(): boolean {
    return this.r.bool('client', 'force_foolscap', false);
  }
}

export class StorageSettings {
  constructor(private readonly r: Reader, private readonly nodeType: NodeType, private readonly clientOnlyByDefault: () => boolean) {}
  /**
   * Introducers never run storage; clients do unless `enabled = false`, or unless the
   * original design's client-only form says otherwise: `anonymize = true` with neither
   * tub.port nor tub.location (the node does not listen, so a storage server could not be
   * reached). An explicit `enabled = true` there is an error (NodeConfig.checkTub).
   */
  get enabled(): boolean {
    return this.nodeType === 'client' && this.r.bool('storage', 'enabled', !this.clientOnlyByDefault());
  }
  /** Whether `[storage] enabled` is written in tahoe.cfg. */
  get enabledIsSet(): boolean {
    return this.r.string('storage', 'enabled') !== undefined;
  }
  get anonymous(): boolean {
    return this.r.bool('storage', 'anonymous', true);
  }
  get readonly(): boolean {
    return this.r.bool('storage', 'readonly', false);
  }
  /** Bytes to keep free. */
  get reservedSpace(): number {
    return parseSize(this.r.string('storage', 'reserved_space') ?? '0', this.r.src('storage', 'reserved_space'));
  }
  get storageDir(): string {
    return this.r.path('storage', 'storage_dir', 'storage') as string;
  }
  get debugDiscard(): boolean {
    return this.r.bool('storage', 'debug_discard', false);
  }
  get expireEnabled(): boolean {
    return this.r.bool('storage', 'expire.enabled', false);
  }
  get expireMode(): 'age' | 'cutoff-date' {
    return this.r.enumValue('storage', 'expire.mode', ['age', 'cutoff-date'] as const, 'age');
  }
  /** Seconds, for `expire.mode = age`. */
  get expireOverrideLeaseDuration(): number | undefined {
    const v = this.r.nonEmpty('storage', 'expire.override_lease_duration');
    return v === undefined ? undefined : parseDuration(v, this.r.src('storage', 'expire.override_lease_duration'));
  }
  get expireCutoffDate(): Date | undefined {
    const v = this.r.nonEmpty('storage', 'expire.cutoff_date');
    if (v === undefined) {
      if (this.expireEnabled && this.expireMode === 'cutoff-date') {
        throw invalidValue(this.r.src('storage', 'expire.cutoff_date'), 'is required when expire.mode = cutoff-date', 'add expire.cutoff_date = YYYY-MM-DD to [storage]');
      }
      return undefined;
    }
    return parseDate(v, this.r.src('storage', 'expire.cutoff_date'));
  }
  get expireImmutable(): boolean {
    return this.r.bool('storage', 'expire.immutable', true);
  }
  get expireMutable(): boolean {
    return this.r.bool('storage', 'expire.mutable', true);
  }
  get plugins(): string[] {
    return parseList(this.r.string('storage', 'plugins') ?? '');
  }
  get gridManagement(): boolean {
    return this.r.bool('storage', 'grid_management', false);
  }
  get forceFoolscap(): boolean {
    return this.r.bool('storage', 'force_foolscap', false);
  }
}

export class HelperSettings {
  constructor(private readonly r: Reader, private readonly nodeType: NodeType) {}
  get enabled(): boolean {
    return this.nodeType === 'client' && this.r.bool('helper', 'enabled', false);
  }
}

/** A node's configuration: the parsed tahoe.cfg, typed. */
export class NodeConfig {
  readonly node: NodeSettings;
  readonly connections: ConnectionsSettings;
  readonly tor: TorSettings;
  readonly i2p: I2pSettings;
  readonly client: ClientSettings;
  readonly storage: StorageSettings;
  readonly helper: HelperSettings;
  private readonly r: Reader;

  constructor(readonly cfg: TahoeCfg, readonly nodeDirectory: string, readonly nodeType: NodeType) {
    this.r = new Reader(cfg, nodeDirectory);
    this.node = new NodeSettings(this.r);
    this.connections = new ConnectionsSettings(this.r);
    this.tor = new TorSettings(this.r);
    this.i2p = new I2pSettings(this.r);
    this.client = new ClientSettings(this.r);
    this.storage = new StorageSettings(this.r, nodeType, () => this.node.tubPort === undefined && !this.listening);
    this.helper = new HelperSettings(this.r, nodeType);
  }

  /**
   * Whether the node runs a Foolscap/HTTPS listener: not with `tub.port = disabled`, nor
   * with `anonymize = true` and neither tub key set (the policy's `tubDefaults`).
   */
  get listening(): boolean {
    const port = this.node.tubPort;
    if (port !== undefined) return port.type !== 'disabled';
    return tubDefaults(this.privacySettings()).portInterface !== null;
  }

  /** What the privacy policy needs, as written in tahoe.cfg (interpolated). */
  privacySettings(): PrivacySettings {
    const raw = (s: string, k: string): string | undefined => this.r.string(s, k);
    return {
      anonymize: this.r.optionalBool('node', 'anonymize'),
      revealIpAddress: this.r.optionalBool('node', 'reveal-ip-address'),
      connectionsTcp: raw('connections', 'tcp'),
      tubPort: raw('node', 'tub.port'),
      tubLocation: raw('node', 'tub.location'),
      // Empty means "no web gateway" (create-introducer and --webport=none write it so).
      webPort: this.r.nonEmpty('node', 'web.port'),
      torEnabled: this.tor.enabled,
      i2pEnabled: this.i2p.enabled,
      torSocksPort: raw('tor', 'socks.port'),
      torControlPort: raw('tor', 'control.port'),
      i2pSamPort: raw('i2p', 'sam.port'),
    };
  }

  /**
   * Every value and cross-key problem (not syntax, unknown keys or privacy rules: see
   * validate.ts and the policy). Reads every setting, so one bad key hides nothing.
   */
  problems(): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const seen = new Set<string>();
    const attempt = (read: () => unknown): void => {
      try {
        read();
      } catch (e) {
        const p = problemFromError(e);
        // A key read by several getters (shares.* alone and together) is reported once.
        const id = `${p.section ?? ''}\u0000${p.key ?? ''}\u0000${p.message}`;
        if (!seen.has(id)) problems.push(p);
        seen.add(id);
      }
    };
    const groups: Array<[object, boolean]> = [
      [this.node, true], [this.connections, true], [this.tor, true], [this.i2p, true],
      [this.client, this.nodeType === 'client'], [this.storage, this.nodeType === 'client'], [this.helper, this.nodeType === 'client'],
    ];
    for (const [group, applies] of groups) {
      if (!applies) continue;
      for (const [, d] of Object.entries(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(group) as object))) {
        if (d.get !== undefined) attempt(() => d.get?.call(group));
      }
    }
    attempt(() => this.checkTub());
    const clientOnlyByDefault = (): boolean => this.nodeType === 'client' && !this.storage.enabledIsSet && this.node.tubPort === undefined && !this.listening;
    let clientOnly = false;
    attempt(() => (clientOnly = clientOnlyByDefault()));
    if (clientOnly) {
      problems.push({
        severity: 'warning',
        kind: 'ConfigInvalid',
        section: 'storage',
        key: 'enabled',
        message: 'no storage server: with anonymize = true and neither tub.port nor tub.location the node does not listen, so it runs as a client only',
        hint: 'write [storage] enabled = false to say so (and to silence this), or give tub.port and an onion or I2P tub.location to offer storage',
      });
    }
    attempt(() => this.checkTor());
    attempt(() => this.checkI2p());
    return problems;
  }

  /**
   * Services that need a listener, and `listen:` endpoints that need their section.
   * (The disabled/disabled pairing is a policy rule: net/policy.ts.)
   */
  private checkTub(): void {
    const port = this.node.tubPort;
    if (!this.listening) {
      const need = this.nodeType === 'introducer' ? 'an introducer' : this.storage.enabled ? 'a storage server ([storage] enabled = true)' : this.helper.enabled ? 'a helper ([helper] enabled = true)' : undefined;
      if (need !== undefined) {
        const why = port?.type === 'disabled' ? 'is disabled' : 'is unset and, with anonymize = true and no tub.location, the node does not listen';
        throw invalidValue(this.r.src('node', 'tub.port'), `${why}, but ${need} needs a listener`,
          this.nodeType === 'introducer' ? 'give tub.port a listener and tub.location the matching hint' : 'set [storage] enabled = false (and [helper] enabled = false) for a client-only node, or configure tub.port and tub.location');
      }
    }
    if (port?.type === 'endpoints') {
      for (const ep of port.endpoints) {
        if (ep.type === 'listen' && ep.transport === 'tor' && !this.tor.onion) {
          throw invalidValue(this.r.src('node', 'tub.port'), 'contains listen:tor, but [tor] onion is not true', 'set [tor] onion = true with onion.local_port, onion.external_port and onion.private_key_file (tahoe-ts create-node --listen=tor writes them)');
        }
        if (ep.type === 'listen' && ep.transport === 'i2p' && !this.i2p.dest) {
          throw invalidValue(this.r.src('node', 'tub.port'), 'contains listen:i2p, but [i2p] dest is not true', 'set [i2p] dest = true with dest.port and dest.private_key_file (tahoe-ts create-node --listen=i2p writes them)');
        }
      }
    }
  }

  private checkTor(): void {
    if (this.tor.launch && this.tor.controlPort !== undefined) {
      throw invalidValue(this.r.src('tor', 'launch'), 'is true together with control.port', 'either launch a private tor (launch = true) or use a running one (control.port), not both');
    }
    if (this.tor.onion) {
      const missing = (['onion.local_port', 'onion.external_port', 'onion.private_key_file'] as const).filter((k) => this.r.nonEmpty('tor', k) === undefined);
      if (missing.length > 0) {
        throw invalidValue(this.r.src('tor', 'onion'), `is true, but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`, 'add the missing keys to [tor]; `tahoe-ts create-node --listen=tor` writes all of them');
      }
      if (!this.tor.enabled) throw invalidValue(this.r.src('tor', 'onion'), 'is true, but [tor] enabled = false', 'enable Tor, or set onion = false');
    }
  }

  private checkI2p(): void {
    if (this.i2p.dest) {
      const missing = (['dest.port', 'dest.private_key_file'] as const).filter((k) => this.r.nonEmpty('i2p', k) === undefined);
      if (missing.length > 0) {
        throw invalidValue(this.r.src('i2p', 'dest'), `is true, but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`, 'add the missing keys to [i2p]; `tahoe-ts create-node --listen=i2p` writes all of them');
      }
      if (!this.i2p.enabled) throw invalidValue(this.r.src('i2p', 'dest'), 'is true, but [i2p] enabled = false', 'enable I2P, or set dest = false');
    }
    if (this.i2p.launch && this.i2p.samPort !== undefined) {
      throw invalidValue(this.r.src('i2p', 'launch'), 'is true together with sam.port', 'either launch a router (launch = true) or use a running one (sam.port), not both');
    }
  }
}
