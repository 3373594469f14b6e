/**
 * `tahoe-ts demo --network i2p-local`: an I2P-only grid over one local offline i2pd
 * (src/testnet/i2pd.ts; shared/specs/i2p.md §5). The introducer and every storage server are
 * I2P destinations only (`create-introducer` / `create-node --listen=i2p --hide-ip`,
 * attached to the local router through `[i2p] sam.port`); the client hides its IP
 * (`create-client --hide-ip`) and, as there is no Tor in this demo, uses `[connections] tcp
 * = disabled` and `[tor] enabled = false`: it reaches the grid through I2P alone. Every
 * node gets the offline session options in `[i2p] sam.options` (zero-hop tunnels, LeaseSet
 * type 1). The router uses a private network id and loopback only: nothing leaves the
 * machine, and it is stopped at the end (its directory lives in the demo's directory).
 *
 * Waiting: i2pd 2.45 builds every SESSION CREATE on a fixed 20 s timer, so the grid comes
 * up in session waves — the introducer's destination (20 s), then all servers at once
 * (their destinations and client sessions together, 20 s), then the client's session
 * (20 s). The status line counts the sessions being built and the seconds of the wave.
 * Spec: src/cli/commands/demo.ts (`DemoNetwork`).
 */
import path from 'node:path';
import type { DemoNetwork, DemoRole, DemoStatus, PreparedDemoNetwork } from '../cli/commands/demo.js';
import type { CfgEdit } from '../config/cfg.js';
import type { NodeProgress, TahoeNodeOptions } from '../node/node.js';
import { startI2pRouter } from './i2pd.js';

function roleLabel(role: DemoRole, index: number): string {
  return role === 'server' ? `server ${index}` : role;
}

/** Shows how many I2P sessions are being built, and for how long, while nodes start. */
class SessionWaves {
  private readonly building = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly status: DemoStatus) {}

  started(label: string): void {
    this.building.set(label, Date.now());
    // Every 5 s: a log that is not a terminal gets a few lines per wave, not one a second.
    this.timer ??= setInterval(() => this.show(), 5_000);
    this.show();
  }

  finished(label: string): void {
    this.building.delete(label);
    if (this.building.size === 0) this.stop();
  }

  private show(): void {
    if (this.building.size === 0) return;
    const oldest = Math.min(...this.building.values());
    const names = [...this.building.keys()];
    const who = names.length <= 3 ? names.join(', ') : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`;
    const seconds = Math.round((Date.now() - oldest) / 1000);
    this.status(`building I2P tunnels for ${who} (a local i2pd 2.45 takes about 20 s)${seconds >= 1 ? `: ${seconds} s` : ''}`);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export const I2P_LOCAL_DEMO_NETWORK: DemoNetwork = {
  name: 'i2p-local',
  description: 'I2P destinations only, over one local offline i2pd (about a minute to start: 20 s per I2P session wave)',
  async prepare({ root, signal, status }): Promise<PreparedDemoNetwork> {
    status('local i2pd: starting');
    const router = await startI2pRouter({ dir: path.join(root, 'i2pd'), signal, onProgress: (message) => status(`local i2pd: ${message}`) });
    status(`local i2pd up (pid ${router.pid}, SAM on 127.0.0.1:${router.samPort})`);
    const samPort = `tcp:127.0.0.1:${router.samPort}`;
    const samOptions = Object.entries(router.sessionOptions)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const waves = new SessionWaves(status);
    return {
      async createOptions(role) {
        if (role === 'client') return { hideIp: true };
        return { listen: ['i2p'], hideIp: true, i2pSamPort: samPort };
      },
      cfgEdits(role): CfgEdit[] {
        const edits: CfgEdit[] = [
          // No Tor here: an anonymized node reaches I2P destinations only (tcp = tor would need Tor).
          { section: 'connections', key: 'tcp', value: 'disabled' },
          { section: 'tor', key: 'enabled', value: 'false' },
          { section: 'i2p', key: 'sam.options', value: samOptions },
        ];
        if (role === 'client') edits.push({ section: 'i2p', key: 'sam.port', value: samPort });
        else edits.push({ section: 'storage', key: 'reserved_space', value: '0' });
        return role === 'introducer' ? edits.filter((e) => e.section !== 'storage') : edits;
      },
      nodeOptions(role, index): Partial<TahoeNodeOptions> {
        const label = roleLabel(role, index);
        return {
          onProgress: (p: NodeProgress) => {
            if (p.phase === 'i2p' && p.message.includes('session')) waves.started(label);
            else if (p.phase === 'listen' || p.phase === 'ready') waves.finished(label);
          },
        };
      },
      // Servers start together: their 20 s sessions are waiting, not work.
      startConcurrency: 10,
      // The client builds its own session (20 s) before its first connection.
      connectTimeoutMs: 180_000,
      async teardown() {
        waves.stop();
        // Interrupted: nodes may still hold SAM sessions, with which i2pd takes > 10 s to
        // obey SIGTERM; its directory is removed anyway, so it gets little time.
        await router.stop(signal.aborted ? 500 : undefined);
      },
    };
  },
};
