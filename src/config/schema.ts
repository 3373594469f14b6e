/**
 * Every valid tahoe.cfg section and key, in one table.
 *
 * Spec: shared/specs/configuration.md §1 (the Tahoe-LAFS 1.20 list: `node.py`
 * `_common_valid_config` for every node, plus `client.py` `_client_config` for client
 * nodes) and §2 (defaults and meanings), §3a (the original `anonymize` language). Keys
 * marked `tahoe-ts` are our extensions: real Tahoe-LAFS 1.20 refuses to start on a node
 * directory whose tahoe.cfg contains any of them (`UnknownConfigError`), which
 * check-config reports as a warning.
 *
 * To add a key: add one line to `KEYS` with `tahoe(...)` (a key real Tahoe knows) or
 * `ext(...)` (a tahoe-ts extension), then read it through `NodeConfig`.
 */

/** Which node types accept a section: all nodes, or client nodes (create-node/create-client). */
export type NodeType = 'client' | 'introducer';

/**
 * How a value is checked by the validator (cross-key rules live in node-config.ts):
 * - `string`: anything; `path`: relative to the node directory unless absolute
 * - `bool`: configparser booleans; `int`: decimal integer within `min`..`max`
 * - `size`: `reserved_space` sizes (`1G`, `100MB`, `1MiB`); `duration`: `31 days`, `2 months`
 * - `enum`: one of `values` (case-insensitive when `caseInsensitive`)
 * - `furl`: a Foolscap URL, must not contain `#` (1.20's rule: tahoe.cfg has no inline
 *   comments); with `nurls`, HTTPS NURLs are accepted too, whose `#v=1` fragments are the
 *   only `#` allowed (a tahoe-ts extension, for an introducer's NURLs); `list`: comma-separated items
 * - `server-endpoints`: `tub.port`; `hints`: `tub.location`; `server-endpoint`: `web.port`;
 *   `client-endpoint`: tor/i2p daemon ports — parsed by net/hints.ts
 */
export type ValueType =
  | { type: 'string' }
  | { type: 'path' }
  | { type: 'bool' }
  | { type: 'int'; min?: number; max?: number }
  | { type: 'size' }
  | { type: 'duration' }
  | { type: 'date' }
  | { type: 'enum'; values: readonly string[]; caseInsensitive?: boolean }
  | { type: 'furl'; nurls?: true }
  | { type: 'list' }
  | { type: 'server-endpoints' }
  | { type: 'hints' }
  | { type: 'server-endpoint' }
  | { type: 'client-endpoint' };

export interface KeySpec {
  section: string;
  /** Lower-case, as configparser stores it. */
  key: string;
  value: ValueType;
  /** The default as a user would write it, or undefined for "unset / none". */
  default?: string;
  /** `tahoe-1.20`: real Tahoe knows the key; `tahoe-ts`: our extension (Tahoe refuses it). */
  origin: 'tahoe-1.20' | 'tahoe-ts';
  /** What the key does, and for extensions why it exists. */
  note: string;
}

export interface SectionSpec {
  name: string;
  nodeTypes: readonly NodeType[];
  /** Sections whose keys are free-form (plugin configuration, grid manager lists). */
  anyKey?: boolean;
  /** A section name pattern, e.g. `storageserver.plugins.` for `[storageserver.plugins.NAME]`. */
  prefix?: boolean;
  note: string;
}

const BOTH: readonly NodeType[] = ['client', 'introducer'];
const CLIENT: readonly NodeType[] = ['client'];

export const SECTIONS: readonly SectionSpec[] = [
  { name: 'node', nodeTypes: BOTH, note: 'identity, listeners, web gateway, privacy' },
  { name: 'connections', nodeTypes: BOTH, note: 'how tcp: hints are reached' },
  { name: 'tor', nodeTypes: BOTH, note: 'Tor daemon and onion service' },
  { name: 'i2p', nodeTypes: BOTH, note: 'I2P router and destination' },
  { name: 'client', nodeTypes: CLIENT, note: 'grid client: introducers, encoding' },
  { name: 'storage', nodeTypes: CLIENT, note: 'storage server' },
  { name: 'sftpd', nodeTypes: CLIENT, note: 'SFTP frontend (not implemented by tahoe-ts)' },
  { name: 'helper', nodeTypes: CLIENT, note: 'upload helper (not implemented by tahoe-ts)' },
  { name: 'grid_managers', nodeTypes: CLIENT, anyKey: true, note: 'trusted grid manager public keys' },
  { name: 'grid_manager_certificates', nodeTypes: CLIENT, anyKey: true, note: 'grid manager certificate files' },
  { name: 'storageserver.plugins.', nodeTypes: CLIENT, anyKey: true, prefix: true, note: 'storage server plugin settings' },
  { name: 'storageclient.plugins.', nodeTypes: CLIENT, anyKey: true, prefix: true, note: 'storage client plugin settings' },
];

const STRING = { type: 'string' } as const;
const PATH = { type: 'path' } as const;
const BOOL = { type: 'bool' } as const;
const FURL = { type: 'furl' } as const;
const LIST = { type: 'list' } as const;
const CLIENT_EP = { type: 'client-endpoint' } as const;
const PORT = { type: 'int', min: 1, max: 65535 } as const;

function tahoe(section: string, key: string, value: ValueType, def: string | undefined, note: string): KeySpec {
  return { section, key, value, default: def, origin: 'tahoe-1.20', note };
}

function ext(section: string, key: string, value: ValueType, def: string | undefined, note: string): KeySpec {
  return { section, key, value, default: def, origin: 'tahoe-ts', note };
}

export const KEYS: readonly KeySpec[] = [
  // [node]
  tahoe('node', 'nickname', STRING, undefined, 'UTF-8 display name shown to other nodes (default "<unspecified>")'),
  tahoe('node', 'web.port', { type: 'server-endpoint' }, undefined, 'web gateway listener; empty or unset = no web gateway'),
  tahoe('node', 'web.static', PATH, 'public_html', 'static files served under /static'),
  tahoe('node', 'tub.port', { type: 'server-endpoints' }, undefined, 'comma list of listener endpoints, or "disabled"; unset = a port remembered in client.port'),
  tahoe('node', 'tub.location', { type: 'hints' }, 'AUTO', 'comma list of connection hints announced to peers, or "disabled"'),
  tahoe('node', 'reveal-ip-address', BOOL, 'true', 'false = private mode: refuse any setting that could reveal the IP address'),
  tahoe('node', 'timeout.keepalive', { type: 'int', min: 1 }, '240', 'seconds between keepalives (Foolscap only)'),
  tahoe('node', 'timeout.disconnect', { type: 'int', min: 1 }, undefined, 'seconds of silence before dropping a connection (Foolscap only)'),
  tahoe('node', 'tempdir', PATH, 'tmp', 'temporary files'),
  tahoe('node', 'log_gatherer.furl', FURL, undefined, 'Foolscap log gatherer (ignored by tahoe-ts)'),
  ext('node', 'anonymize', BOOL, 'false', 'the original native-Tor design\'s switch: like reveal-IP-address = false plus [connections] tcp = tor (configuration.md §3a)'),
  ext('node', 'log_sensitive', BOOL, 'false', 'log onion/I2P/IP addresses instead of redacting them (secrets stay redacted)'),
  // [connections]
  tahoe('connections', 'tcp', { type: 'enum', values: ['tcp', 'tor', 'disabled'], caseInsensitive: true }, 'tcp', 'how tcp: hints are reached: directly, through Tor, or not at all'),
  // [tor]
  tahoe('tor', 'enabled', BOOL, 'true', 'false = no Tor at all'),
  tahoe('tor', 'socks.port', CLIENT_EP, undefined, 'Tor SOCKS endpoint; unset = try tcp:127.0.0.1:9050 then tcp:127.0.0.1:9150'),
  tahoe('tor', 'control.port', CLIENT_EP, undefined, 'Tor control endpoint (unix:/var/run/tor/control, tcp:127.0.0.1:9051)'),
  tahoe('tor', 'launch', BOOL, 'false', 'start a private tor (state in private/tor-statedir)'),
  tahoe('tor', 'tor.executable', PATH, undefined, 'tor binary for launch (default: tor on $PATH)'),
  tahoe('tor', 'onion', BOOL, 'false', 'run an onion service at startup'),
  tahoe('tor', 'onion.local_port', PORT, undefined, 'loopback port the onion service forwards to'),
  tahoe('tor', 'onion.external_port', PORT, undefined, 'virtual port of the onion service (create-node uses 3457)'),
  tahoe('tor', 'onion.private_key_file', PATH, undefined, 'ED25519-V3 key blob file (private/tor_onion.privkey)'),
  ext('tor', 'launch.extra_torrc', PATH, undefined, 'torrc fragment passed to a launched tor with --defaults-torrc (private test networks)'),
  ext('tor', 'bootstrap_timeout', { type: 'int', min: 1 }, '180', 'seconds to wait for a launched tor to bootstrap'),
  // [i2p]
  tahoe('i2p', 'enabled', BOOL, 'true', 'false = no I2P at all'),
  tahoe('i2p', 'sam.port', CLIENT_EP, undefined, 'SAM bridge endpoint; unset = tcp:127.0.0.1:7656'),
  tahoe('i2p', 'launch', BOOL, 'false', 'start an I2P router'),
  tahoe('i2p', 'i2p.configdir', PATH, undefined, 'I2P configuration directory to read the SAM port from'),
  tahoe('i2p', 'i2p.executable', PATH, undefined, 'router binary for launch'),
  tahoe('i2p', 'dest', BOOL, 'false', 'publish an I2P destination at startup'),
  tahoe('i2p', 'dest.port', PORT, undefined, 'port in the i2p: hint (create-node uses 3457)'),
  tahoe('i2p', 'dest.private_key_file', PATH, undefined, 'private destination file (private/i2p_dest.privkey)'),
  ext('i2p', 'sam.options', STRING, undefined, 'space-separated key=value options for SAM SESSION CREATE; when set they replace the production session options (3-hop tunnels, leaseset type 4,0) entirely, so list every option you want (e.g. zero-hop tunnels on a test router)'),
  // [client]
  tahoe('client', 'introducer.furl', { type: 'furl', nurls: true }, undefined, 'deprecated: use private/introducers.yaml; tahoe-ts also takes the NURLs of a tahoe-ts introducer (#v=1)'),
  tahoe('client', 'helper.furl', FURL, undefined, 'upload helper (Foolscap)'),
  tahoe('client', 'key_generator.furl', FURL, undefined, 'obsolete RSA key generator'),
  tahoe('client', 'mutable.format', { type: 'enum', values: ['sdmf', 'mdmf'], caseInsensitive: true }, 'sdmf', 'format of new mutable files'),
  tahoe('client', 'peers.preferred', LIST, undefined, 'comma list of server IDs to prefer when placing shares'),
  tahoe('client', 'shares.needed', { type: 'int', min: 1, max: 256 }, '3', 'k: shares needed to read a file'),
  tahoe('client', 'shares.happy', { type: 'int', min: 1, max: 256 }, '7', 'servers that must hold shares for an upload to succeed'),
  tahoe('client', 'shares.total', { type: 'int', min: 1, max: 256 }, '10', 'N: shares written per file'),
  tahoe('client', 'shares._max_immutable_segment_size_for_testing', { type: 'int', min: 1 }, '1048576', 'maximum segment size (test vectors use 131072)'),
  tahoe('client', 'storage.plugins', LIST, undefined, 'comma list of storage client plugins'),
  tahoe('client', 'force_foolscap', BOOL, 'false', 'false = use HTTPS storage whenever a server announces NURLs'),
  // [storage]
  tahoe('storage', 'enabled', BOOL, 'true', 'run a storage server'),
  tahoe('storage', 'anonymous', BOOL, 'true', 'announce the storage service (fURL/NURLs)'),
  tahoe('storage', 'readonly', BOOL, 'false', 'refuse new immutable shares'),
  tahoe('storage', 'reserved_space', { type: 'size' }, '0', 'free space to keep on the disk (create-node writes 1G)'),
  tahoe('storage', 'storage_dir', PATH, 'storage', 'where shares are stored'),
  tahoe('storage', 'debug_discard', BOOL, 'false', 'testing only: accept shares and throw them away'),
  tahoe('storage', 'expire.enabled', BOOL, 'false', 'lease-expiry garbage collection'),
  tahoe('storage', 'expire.mode', { type: 'enum', values: ['age', 'cutoff-date'] }, 'age', 'how leases expire'),
  tahoe('storage', 'expire.override_lease_duration', { type: 'duration' }, undefined, 'age mode: lease duration instead of the lease\'s own'),
  tahoe('storage', 'expire.cutoff_date', { type: 'date' }, undefined, 'cutoff-date mode: YYYY-MM-DD'),
  tahoe('storage', 'expire.immutable', BOOL, 'true', 'expire leases on immutable shares'),
  tahoe('storage', 'expire.mutable', BOOL, 'true', 'expire leases on mutable shares'),
  tahoe('storage', 'plugins', LIST, undefined, 'comma list of storage server plugins'),
  tahoe('storage', 'grid_management', BOOL, 'false', 'announce grid manager certificates'),
  tahoe('storage', 'force_foolscap', BOOL, 'false', 'false = serve HTTPS storage as well as Foolscap'),
  // [sftpd]
  tahoe('sftpd', 'enabled', BOOL, 'false', 'SFTP frontend'),
  tahoe('sftpd', 'port', { type: 'server-endpoint' }, undefined, 'SFTP listener'),
  tahoe('sftpd', 'host_privkey_file', PATH, undefined, 'SSH host private key'),
  tahoe('sftpd', 'host_pubkey_file', PATH, undefined, 'SSH host public key'),
  tahoe('sftpd', 'accounts.file', PATH, undefined, 'SFTP accounts'),
  // [helper]
  tahoe('helper', 'enabled', BOOL, 'false', 'run an upload helper'),
];

const KEY_INDEX = new Map<string, KeySpec>(KEYS.map((k) => [`${k.section}\u0000${k.key}`, k]));

/** The section spec a section name falls under, if any. */
export function sectionSpec(name: string): SectionSpec | undefined {
  return SECTIONS.find((s) => (s.prefix ? name.startsWith(s.name) && name.length > s.name.length : s.name === name));
}

export function keySpec(section: string, key: string): KeySpec | undefined {
  return KEY_INDEX.get(`${section}\u0000${key.toLowerCase()}`);
}

/** Keys defined for a section (empty for free-form sections). */
export function keysOf(section: string): KeySpec[] {
  return KEYS.filter((k) => k.section === section);
}

export function isSectionValidFor(name: string, nodeType: NodeType): boolean {
  return sectionSpec(name)?.nodeTypes.includes(nodeType) ?? false;
}

export function isKeyValid(section: string, key: string, nodeType: NodeType): boolean {
  const s = sectionSpec(section);
  if (s === undefined || !s.nodeTypes.includes(nodeType)) return false;
  return s.anyKey === true || keySpec(section, key) !== undefined;
}

/** The default of a key as written in the table (undefined = unset). */
export function defaultOf(section: string, key: string): string | undefined {
  return keySpec(section, key)?.default;
}

/** Extension keys real Tahoe-LAFS 1.20 would refuse. */
export const EXTENSION_KEYS: readonly KeySpec[] = KEYS.filter((k) => k.origin === 'tahoe-ts');
