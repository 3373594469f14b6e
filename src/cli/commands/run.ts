/**
 * `tahoe-ts run [-d DIR]`: start the node in the foreground (node/node.ts `TahoeNode`).
 *
 * Logs go to stderr and `logs/tahoe-ts.log`; once the node is up, where the web gateway
 * and the storage server are reachable is printed on stdout (addresses redacted unless
 * `[node] log_sensitive = true`; NURLs never, they hold the swissnum). SIGTERM and SIGINT
 * stop the node cleanly (listeners closed, onion services removed, a launched tor
 * stopped) and exit 0, also while it is still starting (e.g. waiting for Tor); a second
 * signal exits at once. A start that fails prints the error kind and a hint and exits
 * with the code for its kind (docs/cli.md): 78 configuration or privacy, 69 Tor/I2P or a
 * port unavailable, …
 *
 * Unlike Tahoe-LAFS 1.19+, tahoe-ts does not stop when stdin closes; `--allow-stdin-close`
 * is accepted for scripts written for Tahoe.
 */
import { Command } from 'commander';
import { TahoeError } from '../../errors.js';
import { redact } from '../../log.js';
import { TahoeNode, type NodeProgress, type NodeTiming } from '../../node/node.js';
import { createWebGateway } from '../../web/gateway.js';
import { nodeDirectoryOf, withNodeDirectory } from '../context.js';
import { EXIT } from '../exit-codes.js';

/**
 * Test knob: `TAHOE_TS_TEST_TIMING` = JSON `{"introducer": {...}, "introducerClient": {...},
 * "grid": {...}}` (millisecond fields of node.ts `NodeTiming`) shortens refresh, expiry,
 * polling and backoff so tests can watch servers come and go in seconds. Not for production.
 */
export function timingFromEnvironment(text: string | undefined): NodeTiming | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const bad = (why: string): TahoeError => new TahoeError('UsageError', `TAHOE_TS_TEST_TIMING ${why}`, { hint: 'unset it, or give JSON like {"introducer":{"refreshIntervalMs":1000,"expiryMs":3000}}' });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('is not a JSON object');
  const out: Record<string, Record<string, number>> = {};
  for (const [group, values] of Object.entries(doc as Record<string, unknown>)) {
    if (!['introducer', 'introducerClient', 'grid'].includes(group)) throw bad(`has an unknown group "${group.slice(0, 30)}"`);
    if (values === null || typeof values !== 'object' || Array.isArray(values)) throw bad(`group "${group}" is not an object`);
    out[group] = {};
    for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`${group}.${k.slice(0, 30)} is not a non-negative number`);
      out[group][k] = v;
    }
  }
  return out as NodeTiming;
}

export function register(program: Command): void {
  const cmd = new Command('run')
    .description('Run the node in the foreground until SIGTERM or SIGINT (Ctrl-C).')
    .option('--allow-stdin-close', 'accepted for compatibility with Tahoe-LAFS (tahoe-ts never stops when stdin closes)')
    .addHelpText('after', `
Starts what tahoe.cfg enables: storage server, grid client, introducer service, web gateway.
Writes node.url (the web gateway) and private/api_auth_token; logs to stderr and logs/tahoe-ts.log.
Exit codes: 0 stopped by a signal; 78 bad configuration or privacy rule; 69 Tor, I2P or a port unavailable.`);
  withNodeDirectory(cmd);
  cmd.action(async (_flags: { allowStdinClose?: boolean }, self: Command) => {
    const directory = nodeDirectoryOf(self);
    const timing = timingFromEnvironment(process.env.TAHOE_TS_TEST_TIMING);
    const abort = new AbortController();
    let stopRequested: (() => void) | undefined;
    const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`${signal} again: exiting without waiting for a clean stop\n`);
        process.exit(EXIT.FAILURE);
      }
      process.stderr.write(`${signal}: stopping the node\n`);
      abort.abort(new TahoeError('Aborted', `stopped by ${signal} while starting`, { hint: 'the node was asked to stop' }));
      stopRequested?.();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Keep the process alive while the node waits (a client-only node may have no socket open).
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      let node: TahoeNode;
      const progress = startupProgress(process.stderr);
      try {
        node = await TahoeNode.start({
          directory,
          webGateway: createWebGateway,
          signal: abort.signal,
          ...(timing === undefined ? {} : { timing }),
          onProgress: progress.onProgress,
        });
      } catch (e) {
        progress.finish();
        if (abort.signal.aborted) {
          process.exitCode = EXIT.OK;
          return;
        }
        throw e;
      }
      progress.finish();
      const reveal = node.logger.revealsAddresses;
      const lines: string[] = [`tahoe-ts ${node.nodeType} node running in ${directory} (server id ${node.serverId})`];
      if (node.webUrl !== undefined) lines.push(`web gateway: ${node.webUrl}`);
      for (const l of node.listenerInfo()) lines.push(`${node.nodeType === 'introducer' ? 'introducer' : 'storage'} reachable via ${redact(l.description, reveal)}`);
      if (node.nodeType === 'introducer') {
        const count = node.introducerNurls.length;
        const what = count === 0 ? 'introducer address (fURL form: no location hint can be a NURL)' : `introducer NURL${count === 1 ? '' : 's'} (${count}, one per line; give clients the whole content)`;
        lines.push(`${what}: ${directory}/private/introducer.furl`);
      }
      if (node.storageNurls.length > 0) lines.push(`storage announced with ${node.storageNurls.length} NURL${node.storageNurls.length === 1 ? '' : 's'}`);
      process.stdout.write(lines.join('\n') + '\n');
      await stopped;
      await node.stop();
      process.exitCode = EXIT.OK;
    } finally {
      clearInterval(keepAlive);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  });
  cmd.copyInheritedSettings(program);
  program.addCommand(cmd);
}

/**
 * The slow start-up steps (tor bootstrapping, an I2P router building tunnels) on stderr, so
 * that a user sees what the node waits for: redrawn in place on a terminal, one line per
 * change otherwise (a log file or a service manager). The log file has them too. `finish`
 * ends a line drawn in place, so that what follows (an error, the ready message) starts
 * on a line of its own.
 */
export function startupProgress(out: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>): { onProgress: (p: NodeProgress) => void; finish: () => void } {
  let last = '';
  let drawn = false;
  return {
    onProgress: (p: NodeProgress): void => {
      if (p.phase !== 'tor' && p.phase !== 'i2p') return;
      // Addresses are redacted: the node's log_sensitive setting is not known to this caller yet.
      const line = redact(p.message, false);
      if (line === last) return;
      last = line;
      if (out.isTTY) {
        out.write(`\r\x1b[2K${line}`);
        drawn = true;
      } else {
        out.write(`${line}\n`);
      }
    },
    finish: (): void => {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}
