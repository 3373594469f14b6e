/**
 * One more exit relay for a private Tor network (src/testnet/tor-network.ts), with an exit
 * policy of our choosing. The network's own exits reach 127.0.0.0/8 only; the torsocks test
 * needs an exit that reaches the test namespace's veth address, because torsocks never
 * sends a loopback destination through Tor.
 *
 * The relay joins with the network's shared options (tor.md §6.2/§6.3), is voted into the
 * next consensus (10 s voting interval), and is ready when the network's client tor lists it
 * with the Exit and Running flags and holds its descriptor.
 */
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { OPEN_GATE } from '../../src/net/socket.js';
import { connectTorControl } from '../../src/net/tor/control.js';
import { spawnTor, stopTor, type TorChild } from '../../src/net/tor/process.js';
import type { TorNetwork } from '../../src/testnet/tor-network.js';
import { freePort } from '../helpers/ports.js';

export interface ExitRelay {
  nickname: string;
  stop(): Promise<void>;
  logTail(): string;
}

/** `exitPolicy`: the accept rules, e.g. `accept 10.1.2.3/32:*` (everything else is rejected). */
export async function startExitRelay(network: TorNetwork, options: { dir: string; exitPolicy: string; timeoutMs?: number; onProgress?: (m: string) => void }): Promise<ExitRelay> {
  const nickname = `anonexit${process.pid % 100000}`;
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const torrc = path.join(options.dir, 'torrc');
  const orPort = await freePort();
  writeFileSync(torrc, [
    `%include ${network.networkTorrc}`,
    `DataDirectory ${options.dir}`,
    `Log notice file ${path.join(options.dir, 'notice.log')}`,
    `Log info file ${path.join(options.dir, 'info.log')}`,
    `__OwningControllerProcess ${process.pid}`,
    `Nickname ${nickname}`,
    'Address 127.0.0.1',
    `ORPort 127.0.0.1:${orPort}`,
    'SocksPort 0',
    'AssumeReachable 1',
    'ExitRelay 1',
    'ExitPolicyRejectPrivate 0',
    'ExitPolicyRejectLocalInterfaces 0',
    // The policy summary clients read from the consensus ignores accepts narrower than a
    // /8, so a bare "accept ADDR/32, reject *" is summarised as "reject everything" and never
    // chosen. As the network's own exits do (tor-network.ts), every IPv4 address is covered
    // by the rules before the final accept, which therefore matches nothing (IPv6Exit 0).
    `ExitPolicy ${options.exitPolicy},reject 0.0.0.0/1:*,reject 128.0.0.0/1:*,accept *:*`,
    'IPv6Exit 0',
    'RefuseUnknownExits 0',
    'DirCache 0',
    // the relay never looks anything up: only numeric destinations are allowed by its policy
    'ServerDNSResolvConfFile /dev/null',
    'ServerDNSDetectHijacking 0',
    'ServerDNSTestAddresses',
    '',
  ].join('\n'), { mode: 0o600 });
  const child: TorChild = await spawnTor(['-f', torrc, '--hush'], { marker: torrc, detached: true, unref: true });
  const logTail = () => {
    try {
      return readFileSync(path.join(options.dir, 'notice.log'), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return child.output().slice(-2000);
    }
  };
  const stop = () => stopTor(child);
  try {
    const control = await connectTorControl(network.controlEndpoint, { gate: OPEN_GATE, cookiePath: network.cookiePath, timeoutMs: 10_000 });
    try {
      const deadline = Date.now() + (options.timeoutMs ?? 120_000);
      let last = '';
      while (true) {
        if (child.hasExited()) throw new Error(`the extra exit relay exited:\n${logTail()}`);
        const info = await control.getInfo([`ns/name/${nickname}`]).catch(() => ({}) as Record<string, string>);
        const status = Object.values(info)[0] ?? '';
        const flags = /^s (.*)$/m.exec(status)?.[1] ?? '';
        const desc = flags.includes('Exit') && flags.includes('Running') ? await control.getInfo([`desc/name/${nickname}`]).catch(() => ({}) as Record<string, string>) : {};
        const state = `flags: ${flags || '(not in the consensus yet)'}${Object.keys(desc).length > 0 ? ', descriptor known' : ''}`;
        if (state !== last) options.onProgress?.(`exit relay ${state}`);
        last = state;
        if (Object.keys(desc).length > 0) break;
        if (Date.now() > deadline) throw new Error(`the extra exit relay did not reach the client's consensus in time (${state}):\n${logTail()}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      await control.close();
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { nickname, stop, logTail };
}
