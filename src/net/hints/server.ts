/**
 * Server endpoint descriptors: what a node listens on (`tub.port`, `web.port`, and the
 * `onion:` items of the original design's `tub.location`).
 *
 * Specs: Twisted `serverFromString` (`tcp:PORT[:interface=I][:backlog=N]`, `tcp6:…`,
 * `unix:PATH[:mode=OCTAL][:lockfile=0|1]`), txtorcon's `onion:` server endpoint
 * (`onion:PORT[:localPort=P][:hiddenServiceDir=DIR]`, PORT = the onion's virtual port),
 * txi2p's listener as Tahoe 1.20 builds it (`i2p:KEYFILE:PORT:api=SAM:apiEndpoint=…`,
 * util/i2p_provider.py `get_listener`), Tahoe's `listen:tor`/`listen:i2p` placeholders and
 * bare-integer ports (node.py `_convert_tub_port`); shared/specs/configuration.md §2, §3a.
 */
import { TahoeError } from '../../errors.js';
import { checkFields, formatDescriptor, parseDescriptor, rejectControlCharacters, takeField, type Descriptor } from './descriptor.js';
import { checkHost, parsePort } from './host.js';
import { formatClientEndpoint, parseClientEndpoint, type ClientEndpoint } from './client.js';

export type ServerEndpoint =
  /** `tcp:PORT[:interface=ADDR][:backlog=N]`; no interface = every IPv4 interface. Port 0 = kernel-chosen. */
  | { type: 'tcp'; port: number; interface?: string; backlog?: number }
  /** `tcp6:…`; no interface = every IPv6 (and, on Linux, IPv4) interface. */
  | { type: 'tcp6'; port: number; interface?: string; backlog?: number }
  /** `unix:PATH[:mode=OCTAL][:lockfile=0|1]` */
  | { type: 'unix'; path: string; mode?: number; lockfile?: boolean }
  /** `listen:tor` / `listen:i2p`: the listener described by the [tor] / [i2p] section. */
  | { type: 'listen'; transport: 'tor' | 'i2p' }
  /** `onion:PORT[:localPort=P][:hiddenServiceDir=DIR|:privateKeyFile=FILE]` (the original design). */
  | OnionServerEndpoint
  /** `i2p:KEYFILE[:PORT][:api=SAM][:apiEndpoint=ENDPOINT]` (Tahoe 1.20's I2P listener string). */
  | { type: 'i2p'; keyFile: string; port?: number; api?: 'SAM'; apiEndpoint?: ClientEndpoint }
  /** `disabled`: no listener. */
  | { type: 'disabled' };

export interface OnionServerEndpoint {
  type: 'onion';
  /** The port clients connect to at the .onion address. */
  virtualPort: number;
  /** The loopback port tor forwards to; kernel-chosen when absent. */
  localPort?: number;
  /** A directory in tor's HiddenServiceDir layout holding the key. */
  hiddenServiceDir?: string;
  /** A Tahoe `ED25519-V3:` key file (as `private/tor_onion.privkey`). */
  privateKeyFile?: string;
}

const SERVER_FORMS = 'tcp:3457:interface=127.0.0.1, tcp6:3457, unix:PATH, listen:tor, listen:i2p, onion:3457:hiddenServiceDir=DIR or a bare port number';

function optionalPositiveInt(value: string | undefined, what: string, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new TahoeError('EndpointInvalid', `${what}: ${key}=${value} is not a positive number`, { hint: `e.g. ${key}=50` });
  return Number(value);
}

function parseTcpServer(d: Descriptor, what: string): ServerEndpoint {
  const type = d.type as 'tcp' | 'tcp6';
  checkFields(d, ['port', 'interface', 'backlog'], 1, what, `${type}:3457:interface=127.0.0.1`);
  const port = parsePort(takeField(d, 'port', 0, what), what, true);
  const iface = d.kwargs.get('interface');
  const backlog = optionalPositiveInt(d.kwargs.get('backlog'), what, 'backlog');
  const ep: { type: 'tcp' | 'tcp6'; port: number; interface?: string; backlog?: number } = { type, port };
  if (iface !== undefined) {
    if (checkHost(iface, `${what} interface`) === 'name') {
      throw new TahoeError('EndpointInvalid', `${what}: interface=${iface} is not an IP address`, {
        hint: 'interface= takes the numeric address to bind, e.g. 127.0.0.1 or ::1',
      });
    }
    ep.interface = iface;
  }
  if (backlog !== undefined) ep.backlog = backlog;
  return ep;
}

function parseUnixServer(d: Descriptor, what: string): ServerEndpoint {
  checkFields(d, ['address', 'mode', 'lockfile'], 1, what, 'unix:/run/tahoe/web.sock:mode=600');
  const path = takeField(d, 'address', 0, what);
  if (path === undefined || path === '') throw new TahoeError('EndpointInvalid', `${what}: the unix socket path is empty`, { hint: 'write unix:/path/to/socket' });
  const ep: ServerEndpoint = { type: 'unix', path };
  const mode = d.kwargs.get('mode');
  if (mode !== undefined) {
    if (!/^0?[0-7]{1,4}$/.test(mode)) throw new TahoeError('EndpointInvalid', `${what}: mode=${mode} is not an octal file mode`, { hint: 'e.g. mode=600' });
    ep.mode = parseInt(mode, 8);
  }
  const lockfile = d.kwargs.get('lockfile');
  if (lockfile !== undefined) {
    if (lockfile !== '0' && lockfile !== '1') throw new TahoeError('EndpointInvalid', `${what}: lockfile= must be 0 or 1`, { hint: 'e.g. lockfile=1' });
    ep.lockfile = lockfile === '1';
  }
  return ep;
}

function parseOnionServer(d: Descriptor, what: string): OnionServerEndpoint {
  if (d.kwargs.has('controlPort')) {
    throw new TahoeError('EndpointInvalid', `${what}: controlPort= is not supported here`, {
      hint: 'tahoe-ts reaches tor through [tor] control.port (or launches its own with [tor] launch = true); remove controlPort=',
    });
  }
  checkFields(d, ['port', 'externalPort', 'localPort', 'hiddenServiceDir', 'privateKeyFile'], 1, what, 'onion:80:hiddenServiceDir=/var/lib/tor/my_service');
  const positional = takeField(d, 'port', 0, what);
  const external = d.kwargs.get('externalPort');
  if (positional !== undefined && external !== undefined && positional !== external) {
    throw new TahoeError('EndpointInvalid', `${what}: the onion port is given twice with different values (${positional} and externalPort=${external})`, {
      hint: 'give the onion service\'s virtual port once, e.g. onion:80',
    });
  }
  const virtualPort = parsePort(positional ?? external, `${what} (onion virtual port)`);
  const ep: OnionServerEndpoint = { type: 'onion', virtualPort };
  const local = d.kwargs.get('localPort');
  if (local !== undefined) ep.localPort = parsePort(local, `${what} localPort`);
  const dir = d.kwargs.get('hiddenServiceDir');
  const keyFile = d.kwargs.get('privateKeyFile');
  if (dir !== undefined && keyFile !== undefined) {
    throw new TahoeError('EndpointInvalid', `${what}: give either hiddenServiceDir= or privateKeyFile=, not both`, {
      hint: 'both name where the onion key is kept; keep the one that holds your existing key',
    });
  }
  if (dir !== undefined) {
    if (dir === '') throw new TahoeError('EndpointInvalid', `${what}: hiddenServiceDir= is empty`, { hint: 'e.g. hiddenServiceDir=/var/lib/tor/my_service' });
    ep.hiddenServiceDir = dir;
  }
  if (keyFile !== undefined) {
    if (keyFile === '') throw new TahoeError('EndpointInvalid', `${what}: privateKeyFile= is empty`, { hint: 'e.g. privateKeyFile=private/tor_onion.privkey' });
    ep.privateKeyFile = keyFile;
  }
  return ep;
}

function parseI2pServer(d: Descriptor, what: string): ServerEndpoint {
  checkFields(d, ['keyfile', 'port', 'api', 'apiEndpoint'], 2, what, 'i2p:private/i2p_dest.privkey:3457:api=SAM:apiEndpoint=tcp\\:127.0.0.1\\:7656');
  const keyFile = takeField(d, 'keyfile', 0, what);
  if (keyFile === undefined || keyFile === '') {
    throw new TahoeError('EndpointInvalid', `${what}: the I2P key file is missing`, { hint: 'write i2p:private/i2p_dest.privkey:3457, or use listen:i2p with the [i2p] section' });
  }
  const ep: ServerEndpoint = { type: 'i2p', keyFile };
  const port = takeField(d, 'port', 1, what);
  if (port !== undefined) ep.port = parsePort(port, what);
  const api = d.kwargs.get('api');
  if (api !== undefined) {
    if (api !== 'SAM') throw new TahoeError('EndpointInvalid', `${what}: api=${api} is not supported`, { hint: 'tahoe-ts speaks only SAM: write api=SAM or leave it out' });
    ep.api = 'SAM';
  }
  const apiEndpoint = d.kwargs.get('apiEndpoint');
  if (apiEndpoint !== undefined) ep.apiEndpoint = parseClientEndpoint(apiEndpoint, `${what} apiEndpoint`);
  return ep;
}

/** Parse one server endpoint descriptor. A bare integer N means `tcp:N`. */
export function parseServerEndpoint(text: string, what = 'server endpoint'): ServerEndpoint {
  rejectControlCharacters(text, what);
  if (text === '') throw new TahoeError('EndpointInvalid', `${what} is empty`, { hint: `write e.g. ${SERVER_FORMS}` });
  if (text === 'disabled') return { type: 'disabled' };
  if (/^[0-9]+$/.test(text)) return { type: 'tcp', port: parsePort(text, what, true) };
  const d = parseDescriptor(text, what);
  switch (d.type) {
    case 'tcp':
    case 'tcp6':
      return parseTcpServer(d, what);
    case 'unix':
      return parseUnixServer(d, what);
    case 'onion':
      return parseOnionServer(d, what);
    case 'i2p':
      return parseI2pServer(d, what);
    case 'listen': {
      checkFields(d, [], 1, what, 'listen:tor');
      const transport = d.args[0];
      if (transport !== 'tor' && transport !== 'i2p') {
        throw new TahoeError('EndpointInvalid', `${what}: "listen:${transport ?? ''}" is not a listener`, { hint: 'write listen:tor or listen:i2p' });
      }
      return { type: 'listen', transport };
    }
    default:
      throw new TahoeError('EndpointInvalid', `${what} "${text}" has an unknown endpoint type "${d.type}"`, { hint: `write e.g. ${SERVER_FORMS}` });
  }
}

export function formatServerEndpoint(ep: ServerEndpoint): string {
  switch (ep.type) {
    case 'tcp':
    case 'tcp6': {
      const kw: Array<[string, string]> = [];
      if (ep.interface !== undefined) kw.push(['interface', ep.interface]);
      if (ep.backlog !== undefined) kw.push(['backlog', String(ep.backlog)]);
      return formatDescriptor(ep.type, [String(ep.port)], kw);
    }
    case 'unix': {
      const kw: Array<[string, string]> = [];
      if (ep.mode !== undefined) kw.push(['mode', ep.mode.toString(8).padStart(3, '0')]);
      if (ep.lockfile !== undefined) kw.push(['lockfile', ep.lockfile ? '1' : '0']);
      return formatDescriptor('unix', [ep.path], kw);
    }
    case 'listen':
      return `listen:${ep.transport}`;
    case 'onion': {
      const kw: Array<[string, string]> = [];
      if (ep.localPort !== undefined) kw.push(['localPort', String(ep.localPort)]);
      if (ep.hiddenServiceDir !== undefined) kw.push(['hiddenServiceDir', ep.hiddenServiceDir]);
      if (ep.privateKeyFile !== undefined) kw.push(['privateKeyFile', ep.privateKeyFile]);
      return formatDescriptor('onion', [String(ep.virtualPort)], kw);
    }
    case 'i2p': {
      const args = ep.port === undefined ? [ep.keyFile] : [ep.keyFile, String(ep.port)];
      const kw: Array<[string, string]> = [];
      if (ep.api !== undefined) kw.push(['api', ep.api]);
      if (ep.apiEndpoint !== undefined) kw.push(['apiEndpoint', formatClientEndpoint(ep.apiEndpoint)]);
      return formatDescriptor('i2p', args, kw);
    }
    case 'disabled':
      return 'disabled';
  }
}
