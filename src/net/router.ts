/**
 * The connection router: given the privacy policy, `[connections] tcp` and the transports
 * that are available, decide how each hint or NURL of a server is reached, in which order,
 * and dial through the policy.
 *
 * Rules (shared/specs/configuration.md §2 `[connections]`, §3a client use cases,
 * anonymity-checklist AN-3, storage-protocol.md §8):
 *   - `tor:` hints, `pb+tor` NURLs and any `.onion` name ⇒ the tor transport, always (client
 *     use case 2: onion-only servers "just work" once tor answers, without anonymize);
 *   - `i2p:` hints, `pb+i2p` NURLs and `.i2p` names ⇒ the i2p transport;
 *   - `tcp:` hints and `pb` NURLs ⇒ `[connections] tcp`: `tcp` dials directly, `tor` dials
 *     through Tor with the host name unresolved (as a `tor` target), `disabled` skips them;
 *     when the policy hides the IP address they never go direct, whatever a per-server
 *     override says;
 *   - a hint whose transport is missing (or cannot dial it) is skipped, and when nothing
 *     is left the error names the fix ("start tor or set [tor] socks.port").
 * Order: when not hiding, direct TCP first (fastest), then onion services, I2P, and
 * clear-net through Tor; when hiding, onion services first (no exit node involved), then
 * I2P, then clear-net through Tor. Ties keep the server's own order.
 */
import type { Duplex } from 'node:stream';
import { TahoeError, abortReasonOf, isTahoeError, throwIfAborted, type ErrorKind } from '../errors.js';
import type { DialOptions, DialTarget, Transport, TransportName } from './transport.js';
import type { Policy, TcpHandler } from './policy.js';
import { isOnionName } from './tor/onion-address.js';
import type { ConnectionHint } from './hints/client.js';
import type { Nurl } from './hints/furl.js';
import { hintToDialTarget, nurlToDialTarget } from './hints/dial-target.js';

export interface RouterOptions {
  policy: Policy;
  /** The transports that are running. Tor and I2P are absent when disabled or unreachable. */
  transports: ReadonlyMap<TransportName, Transport>;
  /**
   * A per-server override of `[connections] tcp` (servers.yaml `connections: {tcp: …}`).
   * Ignored in the unsafe direction: when the policy hides the IP address, `tcp` here
   * does not make connections direct.
   */
  tcpHandler?: TcpHandler;
  /**
   * Why a transport is absent, when the configuration switched it off (e.g. `[tor] enabled =
   * false`): the fix named for a skipped hint then points at that setting.
   */
  disabled?: Partial<Record<'tor' | 'i2p', string>>;
}

export interface Route<T> {
  /** The hint, NURL or target this route came from. */
  item: T;
  /** What is dialled: a `tcp` hint reached through Tor becomes a `tor` target with the same host name. */
  target: DialTarget;
  via: TransportName;
  transport: Transport;
}

export interface SkippedRoute<T> {
  item: T;
  reason: string;
  fix: string;
  /** The transport that would have been needed, when that is why it was skipped. */
  needs?: TransportName;
}

export interface RoutePlan<T> {
  routes: Route<T>[];
  skipped: SkippedRoute<T>[];
}

const FIX_TOR = 'start tor, or set [tor] socks.port (e.g. tcp:127.0.0.1:9050) or [tor] control.port, or [tor] launch = true';
const FIX_I2P = 'start an I2P router with its SAM bridge enabled, or set [i2p] sam.port (e.g. tcp:127.0.0.1:7656)';

function rank(target: DialTarget, via: TransportName, hiding: boolean): number {
  const onion = target.kind === 'tor' && isOnionName(target.host);
  if (hiding) return onion ? 0 : via === 'i2p' ? 1 : 2;
  if (via === 'tcp') return 0;
  return onion ? 1 : via === 'i2p' ? 2 : 3;
}

export class ConnectionRouter {
  private readonly policy: Policy;
  private readonly transports: ReadonlyMap<TransportName, Transport>;
  private readonly tcpHandler: TcpHandler;
  private readonly disabled: Partial<Record<'tor' | 'i2p', string>>;

  constructor(options: RouterOptions) {
    this.policy = options.policy;
    this.transports = options.transports;
    this.disabled = options.disabled ?? {};
    const requested = options.tcpHandler ?? options.policy.tcpHandler;
    this.tcpHandler = options.policy.hideIp && requested === 'tcp' ? options.policy.tcpHandler : requested;
  }

  /** Decide how one target is reached, or why it cannot be. */
  private decide(target: DialTarget): { target: DialTarget; via: TransportName } | { reason: string; fix: string; needs?: TransportName } {
    let dialled = target;
    let via: TransportName;
    if (target.kind === 'tor') via = 'tor';
    else if (target.kind === 'i2p') via = 'i2p';
    else if (this.tcpHandler === 'disabled') {
      return { reason: 'tcp hints are not used ([connections] tcp = disabled)', fix: 'set [connections] tcp = tor to reach this server\'s tcp hints through Tor' };
    } else if (this.tcpHandler === 'tor') {
      via = 'tor';
      dialled = { kind: 'tor', host: target.host, port: target.port };
    } else via = 'tcp';

    const transport = this.transports.get(via);
    if (!transport) {
      if (via === 'tor' || via === 'i2p') return this.missing(via, target);
      return { reason: 'direct TCP is not available', fix: 'this is a bug in tahoe-ts: the tcp transport should always exist', needs: 'tcp' };
    }
    if (!transport.canDial(dialled)) {
      return { reason: `the ${via} transport cannot dial this kind of address`, fix: via === 'tor' ? FIX_TOR : via === 'i2p' ? FIX_I2P : 'use another hint', needs: via };
    }
    try {
      this.policy.checkDial(dialled, via);
    } catch (e) {
      if (!isTahoeError(e)) throw e;
      return { reason: e.message, fix: e.hint };
    }
    return { target: dialled, via };
  }

  /** Why a Tor/I2P route is impossible, naming the setting that switched it off if one did. */
  private missing(via: 'tor' | 'i2p', target: DialTarget): { reason: string; fix: string; needs: TransportName } {
    const name = via === 'tor' ? 'Tor' : 'I2P';
    const setting = this.disabled[via];
    const state = setting ? `switched off (${setting})` : 'not available';
    const reason = via === 'tor' && target.kind === 'tcp' ? `tcp hints go through Tor ([connections] tcp = tor), but Tor is ${state}` : `this hint needs ${name}, which is ${state}`;
    const fix = via === 'tor' ? FIX_TOR : FIX_I2P;
    return { reason, fix: setting ? `remove "${setting}" from tahoe.cfg, then: ${fix}` : fix, needs: via };
  }

  /**
   * Every way to reach a server, best first, and the items that cannot be used (with why).
   * Never throws for bad items: an invalid hint is skipped with its parse error.
   */
  plan<T>(items: readonly T[], toTarget: (item: T) => DialTarget): RoutePlan<T> {
    const hiding = this.policy.hideIp;
    const ranked: Array<{ route: Route<T>; rank: number; index: number }> = [];
    const skipped: SkippedRoute<T>[] = [];
    items.forEach((item, index) => {
      let target: DialTarget;
      try {
        target = toTarget(item);
      } catch (e) {
        if (!isTahoeError(e)) throw e;
        skipped.push({ item, reason: e.message, fix: e.hint });
        return;
      }
      const decision = this.decide(target);
      if ('reason' in decision) {
        skipped.push({ item, ...decision });
        return;
      }
      const transport = this.transports.get(decision.via) as Transport;
      ranked.push({ route: { item, target: decision.target, via: decision.via, transport }, rank: rank(decision.target, decision.via, hiding), index });
    });
    ranked.sort((a, b) => a.rank - b.rank || a.index - b.index);
    return { routes: ranked.map((r) => r.route), skipped };
  }

  /** Like plan(), but throws a TahoeError naming the fix when no route is left. */
  routes<T>(items: readonly T[], toTarget: (item: T) => DialTarget): Route<T>[] {
    const { routes, skipped } = this.plan(items, toTarget);
    if (routes.length > 0) return routes;
    throw noRouteError(items.length, skipped);
  }

  routeHints(hints: readonly ConnectionHint[]): Route<ConnectionHint>[] {
    return this.routes(hints, hintToDialTarget);
  }

  routeNurls(nurls: readonly Nurl[]): Route<Nurl>[] {
    return this.routes(nurls, nurlToDialTarget);
  }

  /** Dial one route; the policy checks it again right before the transport does anything. */
  async dial<T>(route: Route<T>, options: DialOptions = {}): Promise<Duplex> {
    throwIfAborted(options.signal);
    this.policy.checkDial(route.target, route.via);
    return route.transport.dial(route.target, options);
  }

  /**
   * Race the routes, best first: each next route starts when the one before fails or has
   * not connected within `staggerMs` (the earlier ones keep trying), and the first stream
   * wins; the others are aborted, or closed if they connect late. A route that hangs (an
   * onion service whose descriptor tor keeps waiting for, a filtered TCP port) thus costs
   * seconds, not the whole connect timeout. Aborts and privacy refusals end the race at once.
   */
  async dialFirst<T>(routes: readonly Route<T>[], options: DialFirstOptions = {}): Promise<{ stream: Duplex; route: Route<T> }> {
    throwIfAborted(options.signal);
    if (routes.length === 0) throw noRouteError(0, []);
    const { staggerMs: staggerOption, ...dialOptions } = options;
    const staggerMs = staggerOption ?? ROUTE_STAGGER_MS;
    return new Promise((resolve, reject) => {
      const attempts: AbortController[] = [];
      let started = 0;
      let pending = 0;
      let settled = false;
      let stagger: NodeJS.Timeout | undefined;
      // The winner's own signal stays untouched: a transport may watch it for the stream's life.
      const finish = (outcome: () => void, winner?: AbortController): void => {
        settled = true;
        clearTimeout(stagger);
        options.signal?.removeEventListener('abort', onAbort);
        for (const a of attempts) if (a !== winner) a.abort(new TahoeError('Aborted', 'another route to the server connected first', { hint: 'nothing to do: the route that won is used' }));
        outcome();
      };
      const onAbort = (): void => finish(() => reject(abortReasonOf(options.signal as AbortSignal)));
      const startNext = (): void => {
        clearTimeout(stagger);
        if (settled || started >= routes.length) return;
        const route = routes[started++];
        const attempt = new AbortController();
        attempts.push(attempt);
        pending++;
        const signal = options.signal === undefined ? attempt.signal : AbortSignal.any([options.signal, attempt.signal]);
        if (started < routes.length) stagger = setTimeout(startNext, staggerMs);
        this.dial(route, { ...dialOptions, signal }).then(
          (stream) => {
            pending--;
            if (settled) {
              stream.destroy();
              return;
            }
            finish(() => resolve({ stream, route }), attempt);
          },
          (e: unknown) => {
            pending--;
            if (settled) return;
            if (!isTahoeError(e) || e.kind === 'PrivacyViolation' || (e.kind === 'Aborted' && options.signal?.aborted === true)) {
              finish(() => reject(e));
              return;
            }
            if (started < routes.length) startNext();
            else if (pending === 0) finish(() => reject(raceLost(routes.length, e)));
          },
        );
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      startNext();
    });
  }
}

/** How long a route may try alone before the next one starts beside it (dialFirst). */
export const ROUTE_STAGGER_MS = 5_000;

export interface DialFirstOptions extends DialOptions {
  /** Start the next route after this long without a connection (default ROUTE_STAGGER_MS). */
  staggerMs?: number;
}

function raceLost(count: number, last: TahoeError): TahoeError {
  if (count === 1) return last;
  return new TahoeError('ServerUnreachable', `none of the ${count} ways to reach the server worked; last: ${last.message}`, {
    cause: last,
    hint: last.hint,
    details: { attempts: count },
  });
}

function noRouteError<T>(count: number, skipped: readonly SkippedRoute<T>[]): TahoeError {
  if (count === 0) {
    return new TahoeError('ServerUnreachable', 'the server announces no connection hints', {
      hint: 'the server does not listen (tub.location = disabled or UNREACHABLE); ask its operator for a reachable address',
    });
  }
  const needs = new Set(skipped.map((s) => s.needs));
  let kind: ErrorKind = 'ServerUnreachable';
  let hint: string;
  const fixes = [...new Set(skipped.map((s) => s.fix))];
  if (needs.size === 1 && needs.has('tor')) {
    kind = 'TorUnavailable';
    hint = `this server is reachable only over Tor: ${fixes.length === 1 ? fixes[0] : FIX_TOR}`;
  } else if (needs.size === 1 && needs.has('i2p')) {
    kind = 'I2pUnavailable';
    hint = `this server is reachable only over I2P: ${fixes.length === 1 ? fixes[0] : FIX_I2P}`;
  } else if (needs.size === 2 && needs.has('tor') && needs.has('i2p')) {
    hint = `this server is reachable only over Tor or I2P: ${FIX_TOR}; or ${FIX_I2P}`;
  } else {
    hint = fixes.join('; or ');
  }
  const reasons = [...new Set(skipped.map((s) => s.reason))].join('; ');
  return new TahoeError(kind, `no usable way to reach the server (${count} hint${count === 1 ? '' : 's'}): ${reasons}`, {
    hint,
    details: { hints: count },
  });
}
