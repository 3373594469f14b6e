/**
 * Publishing a version of a mutable file to the grid (spec: shared/specs/tahoe-formats.md
 * §4, §6, §7; storage-protocol.md §5 "Mutable read-test-write"; upstream
 * `docs/specifications/mutable.rst`, `mutable/publish.py`).
 *
 * Placement follows Tahoe's publisher: every share the servermap found (any version, and
 * bad shares too) is replaced where it lies; share numbers that have no home go to the
 * servers holding the fewest shares, earlier servers of the permuted list first. Each
 * server gets one read-test-write request carrying all of its shares, with the write
 * enabler and lease secrets derived from its TubID (the write also adds or renews our
 * lease). Every share's test vector is what the servermap saw there (the checkstring, or
 * "no share"), and the read vector returns the checkstrings of every share the server
 * holds, so a writer that got there first is always noticed: a failed test, or a share
 * of another version we did not know about, is `WriteConflict`.
 *
 * Concurrent writers: Tahoe sends to all servers at once, so two writers racing can each
 * win on some servers and leave a mix of versions. Here an update first writes to one
 * *lead* server alone — the holder of the lowest-numbered existing share, earliest in
 * permuted order, which every writer with the same view of the grid picks — and only
 * when that write succeeded to the others. The loser of a race fails its test at the
 * lead and stops before writing anything, so it leaves no trace and the winner's version
 * is the only new one.
 *
 * Servers that fail or refuse (a 401 means a foreign write enabler) are dropped and their
 * shares placed elsewhere (for in-place MDMF updates, which send only parts of shares,
 * they are not). The publish succeeds when at least k distinct shares were written, like
 * Tahoe's; `problems` lists what went wrong on the way.
 */
import { TahoeError, asTahoeError, throwIfAborted } from '../../errors.js';
import { leaseSecretsFor, writeEnablerFor } from '../../crypto/lease-secrets.js';
import type { MutableWriteCap } from '../../mutable/caps.js';
import { checkstringReadVector, interpretWriteResponse, writeConflictError, type ShareWritePlan } from '../../mutable/update.js';
import type { ReadTestWriteRequest, ShareTestWrite } from '../../storage/messages.js';
import { isNetworkFailure, type StorageServer } from '../broker.js';
import { isWriteEnablerMismatch, mutableApiOf, writeEnablerError } from './storage.js';
import type { MutableGridContext, Servermap } from './servermap.js';

export interface PublishJob {
  readonly cap: MutableWriteCap;
  readonly k: number;
  readonly n: number;
  /** The checkstring of the version being written. */
  readonly newCheckstring: Buffer;
  /** The plan for one share on one server, given what the servermap saw there (undefined: no share). */
  planFor(shareNumber: number, seen: Buffer | undefined): ShareWritePlan;
  /** False for in-place updates: their plans patch existing shares and cannot create new ones. */
  readonly canPlaceNew: boolean;
  /** What the servers hold (undefined for a brand-new file: nothing to replace, no race possible). */
  readonly map?: Servermap;
  readonly signal?: AbortSignal;
}

export interface PublishProblem {
  /** The server's label (nickname and short id). */
  readonly server: string;
  readonly error: TahoeError;
}

export interface PublishResult {
  /** Distinct share numbers written. */
  readonly sharesPlaced: number;
  /** Distinct servers written to. */
  readonly servers: number;
  readonly placements: ReadonlyArray<{ readonly server: string; readonly shareNumber: number }>;
  /** Servers that failed or refused; the version was published without them. */
  readonly problems: readonly PublishProblem[];
}

type SendOutcome = 'ok' | 'conflict' | 'failed';

const MAX_ROUNDS = 4;

export async function publishShares(ctx: MutableGridContext, job: PublishJob): Promise<PublishResult> {
  const si = job.cap.storageIndex;
  const log = ctx.logger.child('publish');
  const map = job.map;
  const excluded = new Set<StorageServer>(map?.failedServers.keys() ?? []);
  const candidates = ctx.broker.permuted(si).filter((s) => !excluded.has(s));
  const order = new Map<StorageServer, number>();
  for (const s of [...(map?.queried ?? []), ...candidates]) if (!order.has(s)) order.set(s, order.size);

  // goal: server → (share number → what was seen there); insertion order = permuted order.
  const goal = new Map<StorageServer, Map<number, Buffer | undefined>>();
  const leftAlone = new Map<StorageServer, Map<number, Buffer>>();
  const addGoal = (server: StorageServer, shareNumber: number, seen: Buffer | undefined): void => {
    let shares = goal.get(server);
    if (shares === undefined) goal.set(server, (shares = new Map()));
    shares.set(shareNumber, seen);
  };
  for (const r of [...(map?.records ?? [])].sort((a, b) => (order.get(a.server) ?? 0) - (order.get(b.server) ?? 0) || a.shareNumber - b.shareNumber)) {
    if (r.seen !== undefined && r.shareNumber < job.n) {
      addGoal(r.server, r.shareNumber, r.seen);
    } else {
      // A share we cannot replace (nothing readable, or beyond this version's N): leave
      // it, and do not mistake it for another writer's when the server shows it to us.
      let alone = leftAlone.get(r.server);
      if (alone === undefined) leftAlone.set(r.server, (alone = new Map()));
      alone.set(r.shareNumber, r.seen ?? Buffer.alloc(0));
    }
  }

  const bad = new Set<StorageServer>();
  const placed = new Map<StorageServer, Set<number>>();
  const problems: PublishProblem[] = [];
  const conflicts: TahoeError[] = [];

  const placeHomeless = (): void => {
    for (const server of bad) goal.delete(server);
    if (!job.canPlaceNew) return;
    const housed = new Set<number>();
    for (const shares of goal.values()) for (const n of shares.keys()) housed.add(n);
    const homeless = [...Array(job.n).keys()].filter((n) => !housed.has(n));
    if (homeless.length === 0) return;
    const list = candidates
      .filter((s) => !bad.has(s))
      .map((server, index) => ({ server, index, load: goal.get(server)?.size ?? 0 }))
      .sort((a, b) => a.load - b.load || a.index - b.index);
    if (list.length === 0) return;
    homeless.forEach((shareNumber, i) => {
      const server = list[i % list.length].server;
      // Replacing something unreadable that sits there: test for exactly those bytes.
      const there = leftAlone.get(server)?.get(shareNumber);
      leftAlone.get(server)?.delete(shareNumber);
      addGoal(server, shareNumber, there !== undefined && there.length > 0 ? there : undefined);
    });
  };

  const send = async (server: StorageServer, shares: ReadonlyMap<number, Buffer | undefined>): Promise<SendOutcome> => {
    throwIfAborted(job.signal);
    const plans = [...shares].map(([shareNumber, seen]) => job.planFor(shareNumber, seen));
    const request: ReadTestWriteRequest = {
      testWriteVectors: new Map(plans.map((p): [number, ShareTestWrite] => [p.shareNumber, { test: [...p.test], write: [...p.write], newLength: p.newLength }])),
      readVector: [checkstringReadVector(job.cap.format)],
    };
    const lease = leaseSecretsFor(ctx.leaseSecret, si, server.tubId);
    const secrets = { writeEnabler: writeEnablerFor(job.cap.writekey, server.tubId), renewSecret: lease.renew, cancelSecret: lease.cancel };
    const timeoutMs = ctx.timing.writeTimeoutMs;
    const limit = AbortSignal.timeout(timeoutMs);
    const signal = job.signal === undefined ? limit : AbortSignal.any([limit, job.signal]);
    try {
      const response = await mutableApiOf(server).readTestWrite(si, secrets, request, { signal, timeoutMs });
      const outcome = interpretWriteResponse(plans, response, job.newCheckstring, leftAlone.get(server));
      if (outcome.written) {
        let done = placed.get(server);
        if (done === undefined) placed.set(server, (done = new Set()));
        for (const p of plans) done.add(p.shareNumber);
      }
      if (outcome.conflict) {
        log.info(`conflict at ${server.label}: ${outcome.reason ?? ''}`);
        conflicts.push(writeConflictError(outcome, server.label));
        return 'conflict';
      }
      return 'ok';
    } catch (e) {
      if (job.signal?.aborted === true) throw asTahoeError(job.signal.reason ?? e, 'Aborted');
      const error = isWriteEnablerMismatch(e)
        ? writeEnablerError(server, e)
        : limit.aborted
          ? new TahoeError('Timeout', `${server.label} did not answer a mutable write within ${timeoutMs} ms`, { hint: 'the server is stalling; its shares are placed on other servers', cause: e })
          : asTahoeError(e, 'ServerUnreachable');
      if (isNetworkFailure(error)) ctx.broker.reportFailure(server, error);
      log.warn(`write to ${server.label} failed: ${error.kind}: ${error.message}`);
      problems.push({ server: server.label, error });
      bad.add(server);
      return 'failed';
    }
  };

  const unsent = (server: StorageServer): Map<number, Buffer | undefined> => {
    const done = placed.get(server);
    return new Map([...(goal.get(server) ?? new Map<number, Buffer | undefined>())].filter(([n]) => done?.has(n) !== true));
  };

  placeHomeless();

  // Phase 1: the lead server alone, when there is a version to race for.
  const heldValid = new Map<StorageServer, number>();
  for (const r of map?.records ?? []) {
    if (r.share === undefined || !goal.has(r.server)) continue;
    heldValid.set(r.server, Math.min(heldValid.get(r.server) ?? Infinity, r.shareNumber));
  }
  const leads = [...heldValid].sort((a, b) => a[1] - b[1] || (order.get(a[0]) ?? 0) - (order.get(b[0]) ?? 0)).map(([s]) => s);
  for (const lead of leads) {
    const outcome = await send(lead, unsent(lead));
    if (outcome === 'conflict') throw conflictError(conflicts, placed.size > 0);
    if (outcome === 'ok') break;
    placeHomeless();
  }

  // Phase 2: everyone else at once; shares of servers that fail move on to others.
  for (let round = 0; round < MAX_ROUNDS && conflicts.length === 0; round++) {
    placeHomeless();
    const work = [...goal.keys()].filter((s) => !bad.has(s)).map((s) => [s, unsent(s)] as const).filter(([, shares]) => shares.size > 0);
    if (work.length === 0) break;
    await Promise.all(work.map(([server, shares]) => send(server, shares)));
  }
  if (conflicts.length > 0) throw conflictError(conflicts, placed.size > 0);

  const placements = [...placed].flatMap(([server, shares]) => [...shares].sort((a, b) => a - b).map((shareNumber) => ({ server: server.label, shareNumber })));
  const distinct = new Set(placements.map((p) => p.shareNumber)).size;
  if (distinct < job.k) {
    const refused = problems.find((p) => p.error.details.writeEnabler === 'mismatch');
    // A foreign write enabler is the one refusal that retrying will not cure: say so.
    const first = refused ?? problems[0];
    throw new TahoeError(refused !== undefined ? 'ServerRejected' : 'UploadUnhappy', `only ${distinct} of the ${job.k} shares needed could be written${first !== undefined ? `: ${first.error.message}` : ''}`, {
      hint: refused !== undefined ? refused.error.hint : `${candidates.length - bad.size} storage server${candidates.length - bad.size === 1 ? '' : 's'} accepted writes; connect to more servers (see the welcome page) and write again`,
      details: { placed: distinct, needed: job.k, failedServers: problems.length, ...(refused !== undefined ? { status: 401, writeEnabler: 'mismatch' } : {}) },
      cause: first?.error,
    });
  }
  if (distinct < job.n) log.warn(`published ${distinct} of ${job.n} shares; the file needs repair`);
  return { sharesPlaced: distinct, servers: placed.size, placements, problems };
}

function conflictError(conflicts: readonly TahoeError[], partlyWritten: boolean): TahoeError {
  const first = conflicts[0];
  return new TahoeError('WriteConflict', first.message, {
    hint: partlyWritten
      ? 'another client wrote this mutable file at the same time and this write was only partly applied; read the file again, check its contents and write again'
      : 'another client changed this mutable file since it was read; nothing was written. Read it again and retry',
    details: { ...first.details, partlyWritten, servers: conflicts.length },
    cause: first,
  });
}
