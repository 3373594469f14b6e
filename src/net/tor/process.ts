/**
 * Starting and stopping tor processes we own (a launched tor, the nodes of a private test
 * network). Only processes started here are ever signalled, by PID, after checking that
 * the PID still runs the command line we started (tor.md §6.7), with SIGTERM first (SIGINT
 * makes relays wait 30 s) and SIGKILL after a grace period (net/owned-process.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TahoeError } from '../../errors.js';
import { stopOwnedProcess } from '../owned-process.js';

export { processMatches } from '../owned-process.js';

export interface TorChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** A string that appears in the process's command line (a torrc path or data directory). */
  readonly marker: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The last output tor wrote to stdout/stderr (at most 64 KiB). */
  output(): string;
}

export interface SpawnTorOptions {
  executable?: string;
  /** Must occur in `args`; checked in /proc/<pid>/cmdline before signalling. */
  marker: string;
  /**
   * Own process group: a Ctrl-C in the terminal does not reach tor (it would make relays
   * linger 30 s); tor still exits with us through __OwningControllerProcess.
   */
  detached?: boolean;
  /** Do not let this child keep the Node process alive. */
  unref?: boolean;
  /** Called with each chunk of output (e.g. to watch for "Bootstrapped 100%"). */
  onOutput?: (text: string) => void;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Spawn tor; resolves once the process is running, or rejects with a hint when it cannot start. */
export async function spawnTor(args: string[], options: SpawnTorOptions): Promise<TorChild> {
  const executable = options.executable ?? 'tor';
  if (!args.some((a) => a.includes(options.marker))) throw new TahoeError('Internal', 'the process marker must appear in the arguments');
  const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_LIMIT);
    options.onOutput?.(text);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err: NodeJS.ErrnoException) => {
      exitedFlag = true;
      reject(
        new TahoeError('TorUnavailable', `cannot start ${executable}: ${err.code ?? err.message}`, {
          cause: err,
          hint:
            err.code === 'ENOENT'
              ? `${executable} is not installed or not on PATH: install tor (Debian: apt install tor) or set [tor] tor.executable`
              : `check that ${executable} is an executable tor binary`,
          details: { executable, code: err.code },
        }),
      );
    });
  });
  if (options.unref) {
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  return {
    child,
    pid: child.pid as number,
    marker: options.marker,
    exited,
    hasExited: () => exitedFlag || child.exitCode !== null || child.signalCode !== null,
    output: () => output,
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; never signals a PID that no longer runs our tor. */
export async function stopTor(tor: TorChild, graceMs = 5000): Promise<void> {
  if (tor.hasExited()) return;
  await stopOwnedProcess(tor, { graceMs });
}
