/**
 * Server selection for immutable uploads (spec: tahoe-lafs
 * `docs/specifications/servers-of-happiness.rst` and the "Upload Strategy of Happiness";
 * summary in shared/specs/tahoe-formats.md §7).
 *
 * Happiness of a share map is the size of a maximum matching in the bipartite graph
 * servers ↔ share numbers. An upload is good only if happiness ≥ shares.happy, because
 * then any `happy` servers together hold enough distinct shares.
 *
 * Placement, in the order the strategy prescribes: first a maximum matching over shares
 * that read-only servers already hold (they cannot take new ones), then over shares that
 * writable servers already hold, then new shares onto the remaining writable servers in
 * permuted order; shares left over (more shares than servers) are spread over the
 * writable servers that hold the fewest. Pure: no I/O.
 */

export interface PlacementServer {
  /** Server id (stable key; e.g. `v0-…`). */
  readonly id: string;
  /** False when the server is full, read-only, or failed an allocation. */
  readonly writable: boolean;
  /** Share numbers the server already holds for this storage index. */
  readonly existingShares: ReadonlySet<number>;
}

export interface Placement {
  /** New shares to upload: share number → server id. */
  readonly uploads: ReadonlyMap<number, string>;
  /** Shares already on some server that the matching relies on (renew their leases). */
  readonly reused: ReadonlyMap<number, string>;
  /** Happiness of the resulting distribution (existing + planned). */
  readonly happiness: number;
}

/** Maximum bipartite matching (Kuhn's augmenting paths; graphs here have ≤ 512 nodes). */
export function maximumMatching(
  edges: ReadonlyMap<string, ReadonlySet<number>>,
  preMatched: ReadonlyMap<number, string> = new Map(),
): Map<number, string> {
  const shareOwner = new Map<number, string>(preMatched);
  const serverMatched = new Set<string>(preMatched.values());
  const tryAugment = (server: string, visited: Set<number>): boolean => {
    for (const share of edges.get(server) ?? []) {
      if (visited.has(share)) continue;
      visited.add(share);
      const owner = shareOwner.get(share);
      // Pre-matched pairs are fixed: they may not be re-routed.
      if (owner !== undefined && preMatched.get(share) === owner) continue;
      if (owner === undefined || tryAugment(owner, visited)) {
        shareOwner.set(share, server);
        return true;
      }
    }
    return false;
  };
  for (const server of edges.keys()) {
    if (serverMatched.has(server)) continue;
    if (tryAugment(server, new Set())) serverMatched.add(server);
  }
  return shareOwner;
}

/** Happiness of a distribution: server id → shares it holds. */
export function happinessOf(map: ReadonlyMap<string, ReadonlySet<number>>): number {
  return maximumMatching(map).size;
}

/**
 * Decide where each of the `totalShares` shares goes. `servers` must be in permuted
 * order for this storage index (earlier servers are preferred).
 */
export function placeShares(servers: readonly PlacementServer[], totalShares: number): Placement {
  const readOnlyEdges = new Map<string, Set<number>>();
  const writableEdges = new Map<string, Set<number>>();
  for (const s of servers) {
    const shares = new Set([...s.existingShares].filter((n) => n >= 0 && n < totalShares));
    if (shares.size === 0) continue;
    (s.writable ? writableEdges : readOnlyEdges).set(s.id, shares);
  }
  // 1. read-only servers' existing shares
  const fromReadOnly = maximumMatching(readOnlyEdges);
  // 2. writable servers' existing shares, keeping step 1's pairs
  const usedServers = new Set(fromReadOnly.values());
  const writableRemaining = new Map([...writableEdges].filter(([id]) => !usedServers.has(id)));
  const matched = maximumMatching(writableRemaining, fromReadOnly);
  const reused = new Map(matched);

  // 3. new shares onto writable servers not used yet, in permuted order
  const uploads = new Map<number, string>();
  const serverUsed = new Set(matched.values());
  const homeless = [...Array(totalShares).keys()].filter((n) => !matched.has(n));
  const freeWritable = servers.filter((s) => s.writable && !serverUsed.has(s.id));
  for (const server of freeWritable) {
    const share = homeless.shift();
    if (share === undefined) break;
    uploads.set(share, server.id);
    serverUsed.add(server.id);
  }

  // 4. leftovers: shares nobody holds yet go to the writable servers with the fewest shares
  const writable = servers.filter((s) => s.writable);
  if (homeless.length > 0 && writable.length > 0) {
    const load = new Map<string, number>(writable.map((s) => [s.id, 0]));
    for (const id of [...reused.values(), ...uploads.values()]) if (load.has(id)) load.set(id, (load.get(id) ?? 0) + 1);
    for (const share of homeless) {
      // Stable: among equally loaded servers the earliest in permuted order wins.
      let best = writable[0].id;
      for (const s of writable) if ((load.get(s.id) ?? 0) < (load.get(best) ?? 0)) best = s.id;
      uploads.set(share, best);
      load.set(best, (load.get(best) ?? 0) + 1);
    }
  }

  const finalMap = new Map<string, Set<number>>();
  for (const s of servers) finalMap.set(s.id, new Set([...s.existingShares].filter((n) => n >= 0 && n < totalShares)));
  for (const [share, id] of uploads) finalMap.get(id)?.add(share);
  return { uploads, reused, happiness: happinessOf(finalMap) };
}
