/**
 * Creating node directories: what `tahoe-ts create-node`, `create-client` and
 * `create-introducer` do.
 *
 * Spec: shared/specs/configuration.md §4 (the options and what each writes, in the
 * tahoe.cfg layout Tahoe-LAFS 1.20 writes), §6 (the files), tor.md §3 (the onion key is
 * generated locally: the node knows its .onion address before Tor runs), i2p.md §3 (the
 * destination is generated locally too), anonymity-checklist.md AN-5.1 / G-8 (`private/`
 * 0700, every file in it 0600, written atomically).
 *
 * The generated tahoe.cfg is validated (keys, values, cross-key and privacy rules) before
 * anything is written, and a failure half-way removes what was created: create either
 * yields a node directory that `loadNodeDirectory` accepts, or leaves nothing behind.
 */
import net from 'node:net';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../errors.js';
import { createNodeCertificate, tubIdOf } from '../crypto/certificate.js';
import { NodeKey, permutationSeedOf } from '../crypto/node-key.js';
import { generateDestination } from '../net/i2p/destination.js';
import { parseServerEndpoint, parseClientEndpoint, formatClientEndpoint } from '../net/hints.js';
import { generateOnionKey } from '../net/tor/onion-key.js';
import { parseCfg, serializeCfg, type CfgLine, type CfgSectionSpec } from './cfg.js';
import { FILES, checkIntroducerUrl, createFileAtomic, ensurePrivateDirectory, formatIntroducersYaml, newSecretText, writeFileAtomic } from './keys.js';
import { NodeConfig } from './node-config.js';
import { CFG_FILE, TAC_FILES, privacyProblems } from './node-dir.js';
import type { NodeType } from './schema.js';
import { validateCfg } from './validate.js';

export type ListenerName = 'tcp' | 'tor' | 'i2p' | 'none';
export const LISTENERS: readonly ListenerName[] = ['tcp', 'tor', 'i2p', 'none'];

/** The virtual port create-node gives onion services and I2P hints, as 1.20 does. */
export const ONION_EXTERNAL_PORT = 3457;
export const I2P_DEST_PORT = 3457;
export const DEFAULT_WEB_PORT = 'tcp:3456:interface=127.0.0.1';
export const DEFAULT_I2P_SAM_PORT = 'tcp:127.0.0.1:7656';

export interface CreateNodeOptions {
  directory: string;
  /** create-node (client + server), create-client (client only), create-introducer. */
  command: 'create-node' | 'create-client' | 'create-introducer';
  nickname?: string;
  /** Introducer fURL, written to private/introducers.yaml as petname "default". */
  introducer?: string;
  listen?: ListenerName[];
  hostname?: string;
  port?: string;
  location?: string;
  hideIp?: boolean;
  sharesNeeded?: number;
  sharesHappy?: number;
  sharesTotal?: number;
  /** Web gateway endpoint; `none` (or empty) for no web gateway. */
  webport?: string;
  torLaunch?: boolean;
  torControlPort?: string;
  torExecutable?: string;
  i2pLaunch?: boolean;
  i2pSamPort?: string;
  i2pExecutable?: string;
  storageDir?: string;
  noStorage?: boolean;
  helper?: boolean;
  /** For tests: choose the ports instead of asking the kernel for free ones. */
  allocatePort?: (host: string) => Promise<number>;
}

export interface CreatedNode {
  directory: string;
  nodeType: NodeType;
  /** `v0-…` (Ed25519 public key): how introducers and clients name this node. */
  serverId: string;
  /** base32(SHA1(certificate)), the Foolscap TubID. */
  tubId: string;
  tubPort: string;
  tubLocation: string;
  /** The `.onion` address when `--listen` included tor. */
  onionAddress?: string;
  /** The `.b32.i2p` address when `--listen` included i2p. */
  i2pAddress?: string;
  /** Things the user should do next. */
  notes: string[];
}

function usage(message: string, hint: string): TahoeError {
  return new TahoeError('UsageError', message, { hint });
}

/**
 * A free TCP port, found by binding port 0 and closing again (Tahoe's allocate_tcp_port).
 * This is a local bind probe, not a connection: nothing leaves the machine.
 */
export function allocateTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (cause) => reject(new TahoeError('DiskError', `cannot find a free TCP port on ${host}: ${(cause as Error).message}`, { cause, hint: 'pass --port and --location explicitly' })));
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new TahoeError('Internal', 'listener has no port'));
        else resolve(address.port);
      });
    });
  });
}

/** Check the option combinations Tahoe's create-node checks, with a fix for each. */
export function checkCreateOptions(o: CreateNodeOptions): { listen: ListenerName[]; nodeType: NodeType } {
  const nodeType: NodeType = o.command === 'create-introducer' ? 'introducer' : 'client';
  const listen = o.command === 'create-client' ? (['none'] as ListenerName[]) : (o.listen ?? ['tcp']);
  if (o.command === 'create-client' && o.listen !== undefined && !(o.listen.length === 1 && o.listen[0] === 'none')) {
    throw usage('create-client makes a node that does not listen', 'use create-node for a node that listens (--listen=tcp/tor/i2p)');
  }
  for (const l of listen) {
    if (!LISTENERS.includes(l)) throw usage(`--listen=${listen.join(',')}: "${l}" is not a listener type`, 'use a comma list of tcp, tor, i2p, or none');
  }
  if (new Set(listen).size !== listen.length) throw usage(`--listen=${listen.join(',')} names a listener twice`, 'name each listener once');
  if (listen.includes('none') && listen.length > 1) throw usage('--listen=none cannot be combined with other listeners', 'use --listen=none alone for a node that does not listen');
  const hasPortPair = o.port !== undefined || o.location !== undefined;
  if (listen.includes('none') && o.hostname !== undefined) throw usage('--hostname cannot be used with --listen=none', 'drop --hostname, or choose --listen=tcp');
  if (listen.includes('none') && hasPortPair && o.command !== 'create-client') throw usage('--port/--location cannot be used with --listen=none', 'drop them, or drop --listen=none');
  if (o.location !== undefined && o.port === undefined) throw usage('--location must be used with --port', 'give both --port (where to listen) and --location (what to announce)');
  if (o.port !== undefined && o.location === undefined) throw usage('--port must be used with --location', 'give both --port (where to listen) and --location (what to announce)');
  if (hasPortPair && o.hostname !== undefined) throw usage('--hostname cannot be used with --port/--location', 'either let create-node choose a port for --hostname, or give --port and --location yourself');
  if (!hasPortPair) {
    if (listen.includes('tcp') && o.hostname === undefined) throw usage('--listen=tcp requires --hostname', 'pass --hostname=NAME (the name or address other nodes reach this one at), or choose --listen=tor / --listen=i2p / --listen=none');
    if (!listen.includes('tcp') && o.hostname !== undefined) throw usage('--hostname only works with --listen=tcp', 'drop --hostname, or add tcp to --listen');
  }
  if (o.hideIp && listen.includes('tcp') && !hasPortPair) {
    throw usage('--hide-ip cannot be used with --listen=tcp: announcing a TCP address reveals the IP address', 'use --listen=tor (and/or i2p) for a server that hides its IP, or --listen=none for a client');
  }
  const useTor = listen.includes('tor');
  if (!useTor && o.torLaunch) throw usage('--tor-launch requires --listen=tor', 'add tor to --listen, or drop --tor-launch');
  if (!useTor && o.torControlPort !== undefined) throw usage('--tor-control-port requires --listen=tor', 'add tor to --listen, or drop --tor-control-port');
  if (!useTor && o.torExecutable !== undefined) throw usage('--tor-executable requires --listen=tor --tor-launch', 'add tor to --listen and --tor-launch, or drop --tor-executable');
  if (o.torLaunch && o.torControlPort !== undefined) throw usage('use either --tor-launch or --tor-control-port, not both', 'launch a private tor, or connect to a running one');
  if (o.torExecutable !== undefined && !o.torLaunch) throw usage('--tor-executable only matters with --tor-launch', 'add --tor-launch, or drop --tor-executable');
  const useI2p = listen.includes('i2p');
  if (!useI2p && o.i2pLaunch) throw usage('--i2p-launch requires --listen=i2p', 'add i2p to --listen, or drop --i2p-launch');
  if (!useI2p && o.i2pSamPort !== undefined) throw usage('--i2p-sam-port requires --listen=i2p', 'add i2p to --listen, or drop --i2p-sam-port');
  if (o.i2pLaunch && o.i2pSamPort !== undefined) throw usage('use either --i2p-launch or --i2p-sam-port, not both', 'launch a router, or connect to a running one');
  if (o.i2pExecutable !== undefined && !o.i2pLaunch) throw usage('--i2p-executable only matters with --i2p-launch', 'add --i2p-launch, or drop --i2p-executable');
  if (o.torControlPort !== undefined) checkEndpointOption('--tor-control-port', () => parseClientEndpoint(o.torControlPort as string, '--tor-control-port'));
  if (o.i2pSamPort !== undefined) checkEndpointOption('--i2p-sam-port', () => parseClientEndpoint(o.i2pSamPort as string, '--i2p-sam-port'));
  if (o.webport !== undefined && o.webport !== '' && o.webport.toLowerCase() !== 'none') checkEndpointOption('--webport', () => parseServerEndpoint(o.webport as string, '--webport'));
  if (nodeType === 'client') {
    const k = o.sharesNeeded ?? 3;
    const h = o.sharesHappy ?? 7;
    const n = o.sharesTotal ?? 10;
    for (const [name, v] of [['--shares-needed', k], ['--shares-happy', h], ['--shares-total', n]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 256) throw usage(`${name} must be a whole number from 1 to 256, not ${v}`, 'the defaults are 3 needed, 7 happy, 10 total');
    }
    if (!(k <= h && h <= n)) throw usage(`shares must satisfy needed (${k}) ≤ happy (${h}) ≤ total (${n})`, 'e.g. --shares-needed=3 --shares-happy=7 --shares-total=10');
  }
  if (o.introducer !== undefined) {
    if (nodeType === 'introducer') throw usage('an introducer does not connect to an introducer', 'drop --introducer');
    // The fURL-form line or the NURLs of one introducer, as private/introducers.yaml takes them.
    checkEndpointOption('--introducer', () => checkIntroducerUrl(o.introducer as string));
  }
  if (o.nickname !== undefined && /[\r\n]/.test(o.nickname)) throw usage('--nickname cannot contain line breaks', 'use a one-line nickname');
  return { listen, nodeType };
}

function checkEndpointOption(name: string, parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    if (e instanceof TahoeError) throw new TahoeError('UsageError', `${name}: ${e.message}`, { hint: e.hint, cause: e });
    throw e;
  }
}

/** Refuse an existing non-empty directory; returns whether we must create it. */
async function checkTargetDirectory(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'ENOTDIR') throw new TahoeError('NodeDirInvalid', `${dir} exists and is not a directory`, { hint: 'choose another path for the node directory' });
    throw new TahoeError('NodeDirInvalid', `cannot read ${dir}: ${code ?? String(e)}`, { hint: 'choose a directory you can write to', cause: e });
  }
  if (entries.length > 0) {
    throw new TahoeError('NodeDirInvalid', `${dir} is not empty; refusing to create a node there`, {
      hint: 'use a new directory (create-node creates it) or empty this one; nothing was changed',
    });
  }
  return false;
}

interface Plan {
  sections: CfgSectionSpec[];
  tubPort: string;
  tubLocation: string;
  onion?: { blob: string; address: string };
  i2p?: { privateKeyBase64: string; b32: string };
  notes: string[];
}

/** Build the tahoe.cfg sections (the 1.20 layout) and the keys the listeners need. */
async function plan(o: CreateNodeOptions, listen: ListenerName[], nodeType: NodeType): Promise<Plan> {
  const allocate = o.allocatePort ?? allocateTcpPort;
  const notes: string[] = [];
  const tubPorts: string[] = [];
  const tubLocations: string[] = [];
  const torLines: CfgLine[] = [];
  const i2pLines: CfgLine[] = [];
  let onion: Plan['onion'];
  let i2p: Plan['i2p'];

  if (o.port !== undefined && o.location !== undefined) {
    tubPorts.push(o.port);
    tubLocations.push(o.location);
  } else if (!listen.includes('none')) {
    for (const l of listen) {
      if (l === 'tcp') {
        const p = await allocate('0.0.0.0');
        tubPorts.push(`tcp:${p}`);
        tubLocations.push(`tcp:${o.hostname as string}:${p}`);
      } else if (l === 'tor') {
        onion = generateOnionKey();
        const local = await allocate('127.0.0.1');
        tubPorts.push(`tcp:${local}:interface=127.0.0.1`);
        tubLocations.push(`tor:${onion.address}:${ONION_EXTERNAL_PORT}`);
        if (o.torLaunch) {
          torLines.push({ key: 'launch', value: 'true' });
          if (o.torExecutable !== undefined) torLines.push({ key: 'tor.executable', value: o.torExecutable });
        } else if (o.torControlPort !== undefined) {
          torLines.push({ key: 'control.port', value: formatClientEndpoint(parseClientEndpoint(o.torControlPort, '--tor-control-port')) });
        } else {
          notes.push('no --tor-control-port or --tor-launch was given: at startup the node looks for tor\'s control port at unix:/var/run/tor/control, tcp:127.0.0.1:9051 and tcp:127.0.0.1:9151 (set [tor] control.port or launch = true to choose)');
        }
        torLines.push(
          { key: 'onion', value: 'true' },
          { key: 'onion.local_port', value: String(local) },
          { key: 'onion.external_port', value: String(ONION_EXTERNAL_PORT) },
          { key: 'onion.private_key_file', value: FILES.torOnionPrivkey },
        );
      } else if (l === 'i2p') {
        const dest = generateDestination();
        i2p = { privateKeyBase64: dest.privateKeyBase64, b32: dest.b32 };
        tubPorts.push('listen:i2p');
        tubLocations.push(`i2p:${dest.b32}:${I2P_DEST_PORT}`);
        if (o.i2pLaunch) {
          i2pLines.push({ key: 'launch', value: 'true' });
          if (o.i2pExecutable !== undefined) i2pLines.push({ key: 'i2p.executable', value: o.i2pExecutable });
        } else {
          i2pLines.push({ key: 'sam.port', value: o.i2pSamPort !== undefined ? formatClientEndpoint(parseClientEndpoint(o.i2pSamPort, '--i2p-sam-port')) : DEFAULT_I2P_SAM_PORT });
        }
        i2pLines.push(
          { key: 'dest', value: 'true' },
          { key: 'dest.port', value: String(I2P_DEST_PORT) },
          { key: 'dest.private_key_file', value: FILES.i2pDestPrivkey },
        );
      }
    }
  }
  const tubPort = tubPorts.length > 0 ? tubPorts.join(',') : 'disabled';
  const tubLocation = tubLocations.length > 0 ? tubLocations.join(',') : 'disabled';
  const listening = tubPort !== 'disabled';

  const sections: CfgSectionSpec[] = [];
  if (o.hideIp) sections.push({ name: 'connections', lines: [{ key: 'tcp', value: 'tor' }] });
  const webport = o.webport === undefined ? (nodeType === 'introducer' ? '' : DEFAULT_WEB_PORT) : o.webport.toLowerCase() === 'none' ? '' : o.webport;
  sections.push({
    name: 'node',
    lines: [
      { key: 'nickname', value: o.nickname ?? '' },
      { key: 'reveal-IP-address', value: o.hideIp ? 'false' : 'true' },
      { key: 'web.port', value: webport },
      { key: 'web.static', value: 'public_html' },
      { key: 'tub.port', value: tubPort },
      { key: 'tub.location', value: tubLocation },
      { blank: true },
      { comment: 'Foolscap settings (tahoe-ts speaks HTTPS storage and ignores them):' },
      { comment: 'log_gatherer.furl =' },
      { comment: 'timeout.keepalive =' },
      { comment: 'timeout.disconnect =' },
    ],
  });
  if (torLines.length > 0) sections.push({ name: 'tor', lines: torLines });
  if (i2pLines.length > 0) sections.push({ name: 'i2p', lines: i2pLines });

  if (nodeType === 'client') {
    // A storage server needs a listener; a node that does not listen is a client only.
    const storageEnabled = !(o.noStorage ?? false) && o.command !== 'create-client' && listening;
    if (!(o.noStorage ?? false) && o.command === 'create-node' && !listening) {
      notes.push('storage is disabled because the node does not listen (--listen=none); use --listen=tcp, tor or i2p to run a storage server');
    }
    sections.push({
      name: 'client',
      lines: [
        { key: 'helper.furl', value: '' },
        { blank: true },
        { comment: 'Encoding of new uploads: shares needed to read a file, servers that must' },
        { comment: 'hold shares, shares written. Existing files keep their own encoding.' },
        { key: 'shares.needed', value: String(o.sharesNeeded ?? 3) },
        { key: 'shares.happy', value: String(o.sharesHappy ?? 7) },
        { key: 'shares.total', value: String(o.sharesTotal ?? 10) },
      ],
    });
    sections.push({
      name: 'storage',
      lines: [
        { comment: 'Offer storage to other nodes of the grid?' },
        { key: 'enabled', value: storageEnabled ? 'true' : 'false' },
        { comment: 'readonly =' },
        { key: 'reserved_space', value: '1G' },
        o.storageDir !== undefined ? { key: 'storage_dir', value: o.storageDir } : { comment: 'storage_dir =' },
        { comment: 'expire.enabled =' },
        { comment: 'expire.mode =' },
      ],
    });
    sections.push({
      name: 'helper',
      lines: [
        { comment: 'Run an upload helper for other clients? (tahoe-ts has none yet)' },
        { key: 'enabled', value: o.helper ? 'true' : 'false' },
      ],
    });
  }
  if (o.introducer === undefined && nodeType === 'client') notes.push(`add an introducer to ${FILES.introducers} (or use --introducer): the node cannot find a grid without one`);
  if (o.nickname === undefined && nodeType === 'client') notes.push('set [node] nickname in tahoe.cfg so that others can tell your node apart');
  return { sections, tubPort, tubLocation, onion, i2p, notes };
}

const CFG_HEADER = [
  '-*- mode: conf; coding: utf-8 -*-',
  '',
  'Configuration of the Tahoe-LAFS node in this directory, read when the node starts.',
  'Every key is described in docs/configuration.md (tahoe-ts) and docs/configuration.rst',
  '(Tahoe-LAFS). Check it with: tahoe-ts check-config -d THIS_DIRECTORY',
];

const PRIVATE_README = [
  'This directory holds the node\'s secrets: its signing key, TLS key, convergence and',
  'lease secrets, onion/I2P keys and introducer fURLs. Anyone who can read them can',
  'impersonate the node or read its files. Keep the directory mode 0700 and the files',
  'mode 0600 (tahoe-ts refuses to start otherwise), and back them up somewhere safe.',
  '',
].join('\n');

const TAC_STUB = [
  '# This file marks the node type of this directory for Tahoe-LAFS and tahoe-ts.',
  '# Start the node with `tahoe-ts run` (or `tahoe run`), not with twistd.',
  'import sys',
  'sys.exit("run this node with `tahoe-ts run` or `tahoe run`")',
  '',
].join('\n');

/** Create a node directory. Throws UsageError / NodeDirInvalid / ConfigInvalid / PrivacyViolation. */
export async function createNode(options: CreateNodeOptions): Promise<CreatedNode> {
  const dir = path.resolve(options.directory);
  const { listen, nodeType } = checkCreateOptions(options);
  const mustCreate = await checkTargetDirectory(dir);
  const p = await plan(options, listen, nodeType);
  const cfgText = serializeCfg(p.sections, CFG_HEADER);

  // Validate what we are about to write as a node would read it.
  const cfg = parseCfg(cfgText, path.join(dir, CFG_FILE));
  const config = new NodeConfig(cfg, dir, nodeType);
  const errors = [...validateCfg(cfg, nodeType), ...config.problems()].filter((x) => x.severity === 'error');
  const privacy = privacyProblems(config);
  if (privacy.length > 0) {
    throw new TahoeError('PrivacyViolation', `these options would make a node that could reveal its IP address: ${privacy[0].message}`, { hint: privacy[0].hint, details: { rule: privacy[0].rule } });
  }
  if (errors.length > 0) {
    throw new TahoeError('UsageError', `these options give an invalid tahoe.cfg: ${errors[0].message}`, { hint: errors[0].hint });
  }

  const key = NodeKey.generate();
  const cert = await createNodeCertificate();
  const createdEntries: string[] = [];
  try {
    if (mustCreate) {
      await fs.mkdir(dir, { recursive: true, mode: 0o755 });
      createdEntries.push(dir);
    }
    const track = async (rel: string, write: () => Promise<unknown>): Promise<void> => {
      createdEntries.push(path.join(dir, rel));
      await write();
    };
    await track(TAC_FILES[nodeType], () => writeFileAtomic(path.join(dir, TAC_FILES[nodeType]), TAC_STUB, 0o644));
    await track('private', () => ensurePrivateDirectory(dir));
    await track(CFG_FILE, () => writeFileAtomic(path.join(dir, CFG_FILE), cfgText, 0o644));
    const secret = (rel: string, data: string): Promise<boolean> => createFileAtomic(path.join(dir, rel), data, 0o600);
    await secret(FILES.readme, PRIVATE_README);
    await secret(FILES.nodePrivkey, key.privateKeyString() + '\n');
    await track(FILES.nodePubkey, () => writeFileAtomic(path.join(dir, FILES.nodePubkey), key.publicKeyString() + '\n', 0o644));
    await secret(FILES.nodePem, cert.nodePem);
    await secret(FILES.convergence, newSecretText());
    await secret(FILES.secret, newSecretText());
    if (options.introducer !== undefined) await secret(FILES.introducers, formatIntroducersYaml({ default: options.introducer }));
    if (p.onion !== undefined) await secret(FILES.torOnionPrivkey, p.onion.blob);
    if (p.i2p !== undefined) await secret(FILES.i2pDestPrivkey, p.i2p.privateKeyBase64);
    if (config.storage.enabled) {
      await track(FILES.permutationSeed, () => writeFileAtomic(path.join(dir, FILES.permutationSeed), permutationSeedOf(key.publicKey) + '\n', 0o644));
    }
  } catch (e) {
    // Leave nothing half-made: remove what this call created, newest first.
    for (const entry of createdEntries.reverse()) await fs.rm(entry, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  return {
    directory: dir,
    nodeType,
    serverId: key.serverId(),
    tubId: tubIdOf(cert.certificate),
    tubPort: p.tubPort,
    tubLocation: p.tubLocation,
    onionAddress: p.onion?.address,
    i2pAddress: p.i2p === undefined ? undefined : `${p.i2p.b32}`,
    notes: p.notes,
  };
}
