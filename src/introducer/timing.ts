/**
 * Timings of the HTTPS introducer protocol (docs/introducer-protocol.md), server side and
 * client side. Production defaults suit Tor and I2P (slow circuits, costly polling); tests
 * shorten them to seconds.
 */

export interface IntroducerServerTiming {
  /** Publishers are told to re-publish this often (default 5 min). */
  refreshIntervalMs: number;
  /** An announcement not refreshed for this long is dropped (default 15 min: three missed refreshes). */
  expiryMs: number;
  /**
   * After a (re)start the introducer knows only the announcements republished since; for
   * this long its snapshots are marked incomplete so that subscribers do not drop servers
   * that simply have not republished yet (default: one refresh interval + 1 min).
   */
  warmupMs: number;
  /** Longest a subscriber's long-poll is held open (default 60 s). */
  maxPollWaitMs: number;
  /** How often expired announcements are swept (default 1/4 of the expiry, at most 30 s). */
  sweepIntervalMs: number;
}

export const DEFAULT_SERVER_TIMING: IntroducerServerTiming = {
  refreshIntervalMs: 5 * 60_000,
  expiryMs: 15 * 60_000,
  warmupMs: 6 * 60_000,
  maxPollWaitMs: 60_000,
  sweepIntervalMs: 30_000,
};

/** Fill in a partial server timing; derived values follow the given ones. */
export function serverTiming(partial: Partial<IntroducerServerTiming> = {}): IntroducerServerTiming {
  const refreshIntervalMs = partial.refreshIntervalMs ?? DEFAULT_SERVER_TIMING.refreshIntervalMs;
  const expiryMs = partial.expiryMs ?? Math.max(DEFAULT_SERVER_TIMING.expiryMs, 3 * refreshIntervalMs);
  return {
    refreshIntervalMs,
    expiryMs,
    warmupMs: partial.warmupMs ?? refreshIntervalMs + Math.min(60_000, refreshIntervalMs),
    maxPollWaitMs: partial.maxPollWaitMs ?? DEFAULT_SERVER_TIMING.maxPollWaitMs,
    sweepIntervalMs: partial.sweepIntervalMs ?? Math.max(50, Math.min(30_000, Math.floor(expiryMs / 4))),
  };
}

export interface IntroducerClientTiming {
  /** How long the client asks the introducer to hold a long-poll (default 50 s; the introducer may cap it). */
  pollWaitMs: number;
  /** Connect + TLS limit (default 60 s: Tor and I2P circuits are slow to build). */
  connectTimeoutMs: number;
  /** Limit of a request besides the poll wait (default 60 s). */
  requestTimeoutMs: number;
  /** First retry delay after a failure (default 1 s); doubles up to `maxBackoffMs`, with jitter. */
  minBackoffMs: number;
  /** Longest delay between retries (default 5 min). */
  maxBackoffMs: number;
  /** Re-publish interval used until the introducer says otherwise (default 5 min). */
  refreshIntervalMs: number;
}

export const DEFAULT_CLIENT_TIMING: IntroducerClientTiming = {
  pollWaitMs: 50_000,
  connectTimeoutMs: 60_000,
  requestTimeoutMs: 60_000,
  minBackoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  refreshIntervalMs: 5 * 60_000,
};
