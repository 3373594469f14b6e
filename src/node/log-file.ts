/**
 * Where a running node's log goes: stderr and `logs/tahoe-ts.log` in the node directory
 * (configuration.md §6 `logs/`). Lines arrive already redacted by `Logger` (log.ts): secrets
 * always, addresses unless `[node] log_sensitive`. The file is mode 0600 all the same, and
 * appended to, so restarts keep the history.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../errors.js';
import type { LogSink } from '../log.js';

export const LOG_FILE = 'logs/tahoe-ts.log';

export interface FileSink extends LogSink {
  readonly file: string;
  close(): Promise<void>;
}

/** Append log lines to `<directory>/logs/tahoe-ts.log` (created 0700 / 0600). */
export function openLogFile(directory: string): FileSink {
  const file = path.join(directory, LOG_FILE);
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TahoeError('NodeDirInvalid', `cannot create the log directory ${path.dirname(file)}: ${code ?? String(e)}`, {
      cause: e,
      hint: code === 'EEXIST' || code === 'ENOTDIR' ? `${path.dirname(file)} must be a directory: move the file of that name away` : 'check that the node directory belongs to you and is writable',
      details: { code },
    });
  }
  const stream: WriteStream = createWriteStream(file, { flags: 'a', mode: 0o600 });
  let broken = false;
  // A full disk must not take the node down: the log is best effort.
  stream.on('error', () => {
    broken = true;
  });
  let closed = false;
  return {
    file,
    write(line: string): void {
      if (!closed && !broken) stream.write(line + '\n');
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        stream.end(() => resolve());
      }),
  };
}

/** A sink that writes to every given sink. */
export function teeSink(...sinks: LogSink[]): LogSink {
  return { write: (line) => sinks.forEach((s) => s.write(line)) };
}

export const stderrSink: LogSink = { write: (line) => process.stderr.write(line + '\n') };
