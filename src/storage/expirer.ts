/**
 * The lease-expiry crawler: periodically walks the share store and deletes shares whose
 * leases have all expired — Tahoe's `[storage] expire.*` garbage collection
 * (tahoe-lafs `docs/garbage-collection.rst`, `storage/expirer.py`; semantics summarised
 * in docs/storage-server.md).
 *
 * Modes: `age` (a lease expires at its own expiry time, or `override_lease_duration`
 * after it was granted) and `cutoff-date` (leases granted before the date are expired).
 * `expire.immutable` / `expire.mutable` choose which shares are collected. Tahoe's crawler
 * spreads one pass over a long time; this one runs a pass every `intervalMs`, yielding to
 * the event loop between storage indexes and holding each storage index's lock only
 * while it looks at that index.
 */
import { silentLogger } from '../log.js';
import type { Logger } from '../log.js';
import type { ShareKind } from './containers.js';
import type { ExpiryPolicy, ExpiryReport, ShareStore } from './share-store.js';

export interface LeaseExpirerOptions {
  policy: ExpiryPolicy;
  /** Time between passes. Default one hour. */
  intervalMs?: number;
  logger?: Logger;
}

/** `[storage] expire.*` settings as the config loader reports them. */
export interface ExpirySettings {
  expireEnabled: boolean;
  expireMode: 'age' | 'cutoff-date';
  /** Seconds. */
  expireOverrideLeaseDuration: number | undefined;
  expireCutoffDate: Date | undefined;
  expireImmutable: boolean;
  expireMutable: boolean;
}

/** The crawler's policy for a node's settings; undefined when expiry is disabled. */
export function expiryPolicyFromSettings(s: ExpirySettings): ExpiryPolicy | undefined {
  if (!s.expireEnabled) return undefined;
  const shareTypes = new Set<ShareKind>();
  if (s.expireImmutable) shareTypes.add('immutable');
  if (s.expireMutable) shareTypes.add('mutable');
  return {
    mode: s.expireMode,
    overrideLeaseDurationSeconds: s.expireOverrideLeaseDuration,
    cutoffDate: s.expireCutoffDate === undefined ? undefined : Math.floor(s.expireCutoffDate.getTime() / 1000),
    shareTypes,
  };
}

export class LeaseExpirer {
  private readonly store: ShareStore;
  private readonly policy: ExpiryPolicy;
  private readonly intervalMs: number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ExpiryReport> | undefined;
  private controller = new AbortController();
  /** The outcome of the last complete pass. */
  lastReport: (ExpiryReport & { finishedAt: Date }) | undefined;

  constructor(store: ShareStore, options: LeaseExpirerOptions) {
    this.store = store;
    this.policy = options.policy;
    this.intervalMs = options.intervalMs ?? 60 * 60 * 1000;
    this.log = options.logger ?? silentLogger;
  }

  /** Start periodic passes (the first one after `intervalMs`). */
  start(): void {
    if (this.timer) return;
    this.controller = new AbortController();
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.runOnce()
          .catch((e: unknown) => this.log.warn('lease expiry pass failed:', e instanceof Error ? e : String(e)))
          .finally(() => {
            if (this.timer) tick();
          });
      }, this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stop passes; a pass in progress stops at the next storage index. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller.abort();
    await this.running?.catch(() => undefined);
  }

  /** One full pass now (a second call while one runs joins it). */
  runOnce(): Promise<ExpiryReport> {
    this.running ??= this.store
      .expireLeases(this.policy, this.controller.signal)
      .then((report) => {
        this.lastReport = { ...report, finishedAt: new Date() };
        if (report.deletedShares > 0) {
          this.log.info(`lease expiry: deleted ${report.deletedShares} of ${report.examinedShares} shares (${report.deletedBytes} bytes)`);
        }
        return report;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
