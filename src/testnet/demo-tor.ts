/**
 * `tahoe-ts demo --network tor-testnet`: an onion-only grid on a private Tor network on
 * 127.0.0.1 (tor-network.ts). The introducer and every storage server are onion services
 * only (`create-introducer` / `create-node --listen=tor --hide-ip`, attached to the
 * network's client tor through `[tor] control.port`); the client hides its IP
 * (`create-client --hide-ip`: `reveal-IP-address = false`, `[connections] tcp = tor`) and
 * finds the same tor where a node looks for a system tor (the discovery list, pointed at
 * the network instead of 9050/9051). Nothing leaves the machine, nothing touches a tor
 * that runs on it already, and the network is stopped at the end.
 *
 * Progress while it comes up: the network's own steps (authority keys, relays running,
 * consensus, client bootstrap %), then each node's tor steps and onion publication
 * (descriptor uploads). Spec: src/cli/commands/demo.ts (`DemoNetwork`), shared/specs/tor.md §6.
 */
import path from 'node:path';
import type { DemoNetwork, DemoRole, PreparedDemoNetwork } from '../cli/commands/demo.js';
import type { NodeProgress, TahoeNodeOptions } from '../node/node.js';
import { startTorNetwork } from './tor-network.js';

function roleLabel(role: DemoRole, index: number): string {
  return role === 'server' ? `server ${index}` : role;
}

export const TOR_TESTNET_DEMO_NETWORK: DemoNetwork = {
  name: 'tor-testnet',
  description: 'onion services only, on a private Tor network on 127.0.0.1 (about 15 s to start)',
  async prepare({ root, signal, status }): Promise<PreparedDemoNetwork> {
    status('private Tor network: starting');
    const network = await startTorNetwork({
      dir: path.join(root, 'tor-network'),
      signal,
      onProgress: (message) => status(`private Tor network ${message}`),
    });
    const controlPort = `tcp:127.0.0.1:${network.controlPort}`;
    status(`private Tor network up in ${(network.timings.totalMs / 1000).toFixed(1)} s`);
    return {
      async createOptions(role) {
        if (role === 'client') return { hideIp: true };
        return { listen: ['tor'], hideIp: true, torControlPort: controlPort };
      },
      nodeOptions(role, index): Partial<TahoeNodeOptions> {
        const label = roleLabel(role, index);
        let published = false;
        return {
          tor: {
            discovery: { control: [network.controlEndpoint], socks: [network.socksEndpoint] },
            publishTimeoutMs: 120_000,
          },
          onProgress: (p: NodeProgress) => {
            if (p.phase === 'tor') status(`${label}: ${p.message}`);
            if (p.phase !== 'onion') return;
            const upload = /(\d+) descriptor uploads? done, (\d+) started/.exec(p.message);
            if (upload === null) {
              status(`${label}: publishing its onion service`);
              return;
            }
            // "N/M" lines are redrawn in place on a terminal (and left out of a log).
            status(`${label}: onion service descriptor uploads: ${upload[1]}/${upload[2]}`);
            if (!published && Number(upload[1]) > 0) {
              published = true;
              status(`${label}: onion service published`);
            }
          },
        };
      },
      // Every server is reached through a new onion circuit.
      connectTimeoutMs: 180_000,
      teardown: () => network.stop(),
    };
  },
};
