/**
 * A network namespace with one way out, for the leak proof (anonymity-checklist AN-10.2,
 * G-7): a veth pair whose inner end (in the namespace) has a non-loopback IPv4 address and
 * the default route, and whose outer end (here) is the only thing it can reach. The
 * namespace's resolv.conf names the outer address, so any local DNS lookup made in the
 * namespace sends a packet across the veth — where `dumpcap` captures everything.
 *
 * IPv6 is switched off on both ends: otherwise the kernel's own router solicitations and
 * MLD reports (sent by the kernel, not by any program) would fill the capture. With it off,
 * a program's IPv6 attempt fails with ENETUNREACH, which is not a leak.
 *
 * Names are unique per run (pid + random); `remove()` deletes the namespace (and with it the
 * veth pair) and /etc/netns/<name>, and is safe to call twice.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetNamespace {
  name: string;
  /** The veth end outside the namespace (capture here). */
  outerInterface: string;
  innerInterface: string;
  /** Address of the outer end: the namespace's gateway and its only neighbour. */
  outerAddress: string;
  /** Address of the inner end: the node under test. */
  innerAddress: string;
  /** Spawn `ip netns exec <name> cmd args…` (the child's PID is the command's own). */
  spawn(cmd: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Run a command in the namespace to completion. */
  exec(cmd: string, args: string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

/** Can this process create namespaces and capture packets? (root, iproute2, dumpcap) */
export function netnsSupport(): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'needs root (network namespaces, veth, packet capture)' };
  for (const tool of ['/usr/sbin/ip', '/usr/bin/dumpcap', '/usr/bin/tshark']) if (!existsSync(tool)) return { ok: false, why: `${tool} is not installed (apt-get install iproute2 tshark)` };
  return { ok: true };
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args, { timeout: 10_000 })).stdout;
}

/** A /30 in 10.200.0.0/13 not used by any interface on this host. */
async function freeSubnet(): Promise<[string, string]> {
  const used = await ip('-4', '-o', 'addr', 'show');
  for (let attempt = 0; attempt < 50; attempt++) {
    const b = 200 + (randomBytes(1)[0] & 7);
    const c = randomBytes(1)[0];
    const d = randomBytes(1)[0] & 0xfc;
    const prefix = `10.${b}.${c}.`;
    if (used.includes(` ${prefix}`)) continue;
    return [`${prefix}${d + 1}`, `${prefix}${d + 2}`];
  }
  throw new Error('no free 10.200.0.0/13 subnet for the test namespace');
}

export async function createNetNamespace(): Promise<NetNamespace> {
  const tag = `${(process.pid % 10000).toString(36)}${randomBytes(2).toString('hex')}`;
  const name = `tahoe-anon-${tag}`;
  const outerInterface = `tao${tag}`; // ≤ 15 characters
  const innerInterface = `tai${tag}`;
  const [outerAddress, innerAddress] = await freeSubnet();
  const etcDir = path.join('/etc/netns', name);
  let removed: Promise<void> | undefined;
  const remove = (): Promise<void> => (removed ??= (async () => {
    await ip('netns', 'del', name).catch(() => undefined);
    await ip('link', 'del', outerInterface).catch(() => undefined);
    rmSync(etcDir, { recursive: true, force: true });
  })());
  try {
    await ip('netns', 'add', name);
    // ip netns exec bind-mounts /etc/netns/<name>/resolv.conf over /etc/resolv.conf.
    mkdirSync(etcDir, { recursive: true });
    writeFileSync(path.join(etcDir, 'resolv.conf'), `# tahoe-ts leak test: any lookup here crosses the veth\nnameserver ${outerAddress}\noptions timeout:1 attempts:1\n`);
    await ip('link', 'add', outerInterface, 'type', 'veth', 'peer', 'name', innerInterface);
    writeFileSync(`/proc/sys/net/ipv6/conf/${outerInterface}/disable_ipv6`, '1');
    await ip('link', 'set', innerInterface, 'netns', name);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    await run('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', `net.ipv6.conf.${innerInterface}.disable_ipv6=1`, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await ip('addr', 'add', `${outerAddress}/30`, 'dev', outerInterface);
    await ip('-n', name, 'addr', 'add', `${innerAddress}/30`, 'dev', innerInterface);
    await ip('link', 'set', outerInterface, 'up');
    await ip('-n', name, 'link', 'set', innerInterface, 'up');
    await ip('-n', name, 'route', 'add', 'default', 'via', outerAddress);
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    name,
    outerInterface,
    innerInterface,
    outerAddress,
    innerAddress,
    spawn: (cmd, args, options = {}) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options }),
    exec: async (cmd, args, options = {}) => {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', name, cmd, ...args], { timeout: options.timeoutMs ?? 60_000, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
      return { stdout, stderr };
    },
    remove,
  };
}

// ------------------------------------------------------------------------------------
// Packet capture

export interface Capture {
  file: string;
  /** Stop capturing; resolves when dumpcap has written the file. */
  stop(): Promise<void>;
}

/** Capture every frame on `iface` into `file` (pcapng). Resolves once dumpcap captures. */
export async function startCapture(iface: string, file: string): Promise<Capture> {
  const child = spawn('dumpcap', ['-i', iface, '-q', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start capturing on ${iface}: ${stderr}`)), 15_000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (/Capturing on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dumpcap exited (${code}) before capturing: ${stderr}`));
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    file,
    stop: () => (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    })()),
  };
}

export interface Frame {
  number: number;
  ethType: string;
  src?: string;
  dst?: string;
  protocol?: 'tcp' | 'udp' | 'icmp' | 'other';
  srcPort?: number;
  dstPort?: number;
  syn: boolean;
  summary: string;
}

/** Every frame of a capture, decoded by tshark. */
export async function readCapture(file: string): Promise<Frame[]> {
  const fields = ['frame.number', 'eth.type', 'ip.src', 'ip.dst', 'ip.proto', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'tcp.flags.syn', 'tcp.flags.ack', 'ipv6.src', 'ipv6.dst', '_ws.col.Protocol', '_ws.col.Info'];
  const { stdout } = await run('tshark', ['-r', file, '-n', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  const frames: Frame[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [num, ethType, ipSrc, ipDst, proto, tcpSrc, tcpDst, udpSrc, udpDst, syn, ack, v6Src, v6Dst, colProto, info] = line.split('\t');
    const protocol = proto === '6' ? 'tcp' : proto === '17' ? 'udp' : proto === '1' ? 'icmp' : proto === '' || proto === undefined ? undefined : 'other';
    const srcPort = Number(tcpSrc || udpSrc) || undefined;
    const dstPort = Number(tcpDst || udpDst) || undefined;
    const src = ipSrc || v6Src || undefined;
    const dst = ipDst || v6Dst || undefined;
    frames.push({
      number: Number(num),
      ethType,
      src,
      dst,
      protocol,
      srcPort,
      dstPort,
      syn: (syn === '1' || syn === 'True') && !(ack === '1' || ack === 'True'),
      summary: `#${num} ${colProto} ${src ?? ''}${srcPort ? `:${srcPort}` : ''} → ${dst ?? ''}${dstPort ? `:${dstPort}` : ''} ${info ?? ''}`.trim(),
    });
  }
  return frames;
}

export interface CaptureVerdict {
  frames: number;
  /** ARP between the two veth ends (layer 2, no payload). */
  arp: number;
  /** TCP frames between the node and an allowed daemon port on the outer end. */
  allowed: number;
  /** Connections (SYNs) the node opened to allowed ports. */
  allowedConnections: number;
  /** Anything else: every one is a leak. */
  leaks: Frame[];
  /** Frames to or from port 53 (a subset of leaks). */
  dns: Frame[];
  /** Connections (SYNs) the node opened to other destinations (a subset of leaks). */
  directConnections: Frame[];
}

/**
 * Sort each frame: ARP between the veth ends, TCP between the node and the outer end's
 * allowed ports (the forwarded Tor SOCKS / I2P SAM ports), or a leak.
 */
export function judgeCapture(frames: readonly Frame[], ns: Pick<NetNamespace, 'innerAddress' | 'outerAddress'>, allowedPorts: ReadonlySet<number>): CaptureVerdict {
  const verdict: CaptureVerdict = { frames: frames.length, arp: 0, allowed: 0, allowedConnections: 0, leaks: [], dns: [], directConnections: [] };
  for (const f of frames) {
    if (f.ethType === '0x0806' || f.ethType === '0x00000806') {
      verdict.arp++;
      continue;
    }
    const outbound = f.src === ns.innerAddress && f.dst === ns.outerAddress && f.dstPort !== undefined && allowedPorts.has(f.dstPort);
    const inbound = f.src === ns.outerAddress && f.dst === ns.innerAddress && f.srcPort !== undefined && allowedPorts.has(f.srcPort);
    if (f.protocol === 'tcp' && (outbound || inbound)) {
      verdict.allowed++;
      if (outbound && f.syn) verdict.allowedConnections++;
      continue;
    }
    verdict.leaks.push(f);
    if (f.srcPort === 53 || f.dstPort === 53) verdict.dns.push(f);
    if (f.protocol === 'tcp' && f.syn && f.src === ns.innerAddress) verdict.directConnections.push(f);
  }
  return verdict;
}

// ------------------------------------------------------------------------------------
// Forwarding the daemons' loopback ports to the namespace

export interface Forward {
  /** Port on the outer veth address that relays to `target`. */
  outerPort: number;
  target: { host: string; port: number };
  close(): Promise<void>;
}

/** Relay `outerAddress:port` (a free port) to a loopback daemon port in this namespace. */
export async function forwardFromOuter(outerAddress: string, target: { host: string; port: number }): Promise<Forward> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((incoming) => {
    const outgoing = net.connect({ host: target.host, port: target.port });
    for (const s of [incoming, outgoing]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => {
        incoming.destroy();
        outgoing.destroy();
      });
    }
    incoming.pipe(outgoing).pipe(incoming);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, outerAddress, () => resolve());
  });
  const outerPort = (server.address() as net.AddressInfo).port;
  return {
    outerPort,
    target,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
