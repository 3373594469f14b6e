/**
 * A one-line progress display for long transfers on a terminal:
 *
 *   uploading  [########              ]  412 MB / 1.07 GB  38%  96.3 MB/s  ETA 0:07
 *
 * Drawn on stderr only when it is a TTY (never in pipes, logs or tests), only once a
 * transfer has run for a moment (small files finish without a flash of output), at most
 * a few times a second, redrawn in place with `\r` and cleared when done.
 */

export interface ProgressOptions {
  /** Where to draw (default process.stderr). */
  stream?: NodeJS.WriteStream;
  /** Draw even when `stream` is not a TTY (tests). */
  force?: boolean;
  /** Wait this long before the first draw (default 500 ms). */
  delayMs?: number;
  /** Least time between draws (default 200 ms). */
  intervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export class ProgressLine {
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private readonly delayMs: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private started: number;
  private lastDraw = 0;
  private drawn = false;
  private label: string;
  private total: number | undefined;
  private done = 0;
  /** Recent (time, bytes) samples for the rate: a 5-second window reacts to slowdowns. */
  private samples: Array<[number, number]> = [];

  constructor(label: string, total: number | undefined, options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = options.force === true || this.stream.isTTY === true;
    this.delayMs = options.delayMs ?? 500;
    this.intervalMs = options.intervalMs ?? 200;
    this.now = options.now ?? (() => Date.now());
    this.started = this.now();
    this.label = label;
    this.total = total;
  }

  /** Switch to the next phase ("pushing to the grid"), with its own total. */
  phase(label: string, total: number | undefined): void {
    this.label = label;
    this.total = total;
    this.done = 0;
    this.samples = [];
    this.started = this.now();
    this.draw(true);
  }

  update(bytesDone: number): void {
    this.done = bytesDone;
    const t = this.now();
    this.samples.push([t, bytesDone]);
    while (this.samples.length > 2 && t - this.samples[0][0] > 5_000) this.samples.shift();
    this.draw(false);
  }

  /** Erase the line (call before printing anything else, and at the end). */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  /**
   * The text of the line (exported for tests and for one-shot summaries). A terminal that
   * reports 0 columns (a pseudo-terminal nobody sized) is taken as 80 wide, not as no room.
   */
  render(width = this.stream.columns > 0 ? this.stream.columns : 80): string {
    const rate = this.rate();
    const parts = [this.label.padEnd(10)];
    const amount = this.total === undefined ? formatBytes(this.done) : `${formatBytes(this.done)} / ${formatBytes(this.total)}`;
    const pct = this.total === undefined || this.total === 0 ? undefined : Math.min(100, Math.floor((100 * this.done) / this.total));
    const tail = [amount];
    if (pct !== undefined) tail.push(`${pct}%`);
    if (rate !== undefined) tail.push(`${formatBytes(rate)}/s`);
    if (rate !== undefined && rate > 0 && this.total !== undefined && this.done < this.total) tail.push(`ETA ${formatEta((this.total - this.done) / rate)}`);
    const text = tail.join('  ');
    const barWidth = Math.min(30, width - parts[0].length - text.length - 6);
    if (pct !== undefined && barWidth >= 8) {
      const filled = Math.round((barWidth * pct) / 100);
      parts.push(`[${'#'.repeat(filled)}${' '.repeat(barWidth - filled)}]`);
    }
    parts.push(text);
    const line = parts.join(' ');
    return line.length > width - 1 ? line.slice(0, Math.max(0, width - 1)) : line;
  }

  private rate(): number | undefined {
    if (this.samples.length < 2) return undefined;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : undefined;
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const t = this.now();
    if (t - this.started < this.delayMs && !this.drawn) return;
    if (!force && t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.stream.write(`\r\x1b[2K${this.render()}`);
    this.drawn = true;
  }
}

/** Decimal units as people read transfer sizes ("412 MB", "96.3 MB/s"). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** "0:07", "12:03", "1:02:03". */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
